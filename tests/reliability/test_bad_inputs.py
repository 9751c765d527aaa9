"""Bad inputs (reliability.md "Bad inputs": I01-I07, I11, I13, I16, I20, I21).

Every test drives the real ``kiseki server`` process and its real database (SQLite, and
PostgreSQL where storage matters, through ``any_server``): training scripts run as user
processes, raw requests go over real sockets. Nothing is mocked.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import gzip
import json
import math
import select
import socket
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import msgspec
import pytest

import kiseki
from kiseki.core import records as rec
from kiseki.core.errors import ValidationError
from kiseki.core.keys import validate_key
from kiseki.core.values import (
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_STRING,
    TRUNCATED,
    from_json_safe,
    sanitize,
    to_json_safe,
)
from kiseki.sdk.runlog import RunLogReader
from tests.conftest import ServerProcess, run_script

API = "/api/v1"
FAST_CAPTURE = {  # what these tests do not look at: keep each script short
    "KISEKI_CAPTURE_GIT": "false", "KISEKI_CAPTURE_CODE": "false",
    "KISEKI_CAPTURE_HARDWARE": "false", "KISEKI_CAPTURE_CONSOLE": "false",
    "KISEKI_CAPTURE_SYSTEM_METRICS": "false", "KISEKI_CAPTURE_PACKAGES": "false",
}


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def sdk_script(server: ServerProcess, tmp_path: Path, code: str, env: dict[str, str] | None = None,
               check: bool = True) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Run a user script against ``server``; it reports with one line ``RESULT <json>``."""
    proc = run_script(code, tmp_path, env={"KISEKI_BASE_URL": server.url, **FAST_CAPTURE,
                                           **(env or {})}, check=check)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"script printed no RESULT line:\n{proc.stdout}\n{proc.stderr}"
    return from_json_safe(json.loads(lines[-1][len("RESULT "):])), proc


def warnings_of(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if "warning" in ln]


def read_api(server: ServerProcess) -> kiseki.Api:
    return kiseki.Api(settings={"base_url": server.url})


def same(a: Any, b: Any) -> bool:
    """Exact float identity: NaN equals NaN, -0.0 differs from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return type(a) is type(b) and a == b


def post_records(server: ServerProcess, project: str, run_id: str, records: list[Any],
                 headers: dict[str, str] | None = None, stream: str | None = None
                 ) -> httpx.Response:
    """POST one raw ingest batch (records numbered from 1) as the SDK's sender would."""
    entries = [msgspec.Raw(rec.encode_entry(i + 1, r)) for i, r in enumerate(records)]
    batch = rec.IngestBatch(project, run_id, stream or uuid.uuid4().hex, entries)
    return httpx.post(f"{server.url}{API}/ingest", content=rec.encode(batch), timeout=30,
                      headers={"Content-Type": "application/x-msgpack", **(headers or {})})


def assert_rejected(answer: dict[str, Any], expected: list[tuple[int, str]]) -> None:
    """The batch answer quarantined exactly these records: (seq, the rule's message)."""
    rejected = answer["rejected"]
    assert len(rejected) == len(expected), rejected
    for got, (seq, message) in zip(rejected, expected):
        assert got in (message, f"seq {seq}: {message}"), (got, seq, message)


def start(project: str, run_id: str, **config: Any) -> rec.RunStart:
    return rec.RunStart(project=project, run_id=run_id, name=run_id, created_at=time.time(),
                        config=config)


def assert_server_works(server: ServerProcess, project: str = "alive") -> None:
    """The server still answers reads and applies a fresh, valid batch."""
    assert httpx.get(f"{server.url}{API}/health", timeout=5).status_code == 200
    run_id = f"ok-{uuid.uuid4().hex[:8]}"
    resp = post_records(server, project, run_id,
                        [start(project, run_id), rec.Metrics(0, time.time(), {"x": 1.0})])
    assert resp.status_code == 200, resp.text
    assert resp.json()["rejected"] == []
    assert read_api(server).run(f"{project}/{run_id}").summary == {"x": 1.0}


@functools.cache
def gzip_bomb() -> bytes:
    """~0.3 MB of gzip that inflates to 300 MiB, above the server's 256 MiB limit."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    return b"".join([comp.compress(zeros) for _ in range(300)] + [comp.flush()])


def post_raw(server: ServerProcess, body: bytes, gzipped: bool = False) -> httpx.Response:
    headers = {"Content-Type": "application/x-msgpack"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return httpx.post(f"{server.url}{API}/ingest", content=body, headers=headers, timeout=60)


# ----------------------------------------------------------------------------------------------
# I01 NaN, ±Inf, -0.0
# ----------------------------------------------------------------------------------------------

I01_SCRIPT = """
import json, math, kiseki
from kiseki.core.values import to_json_safe
special = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "negzero": -0.0}
run = kiseki.init(project="i01", config={**special, "nested": {"nan": math.nan,
                                                                "list": [math.inf, -0.0]}})
run.config.update({"later_nan": math.nan, "later_negzero": -0.0})
run.define_metric("best_min", summary="min")
run.define_metric("best_max", summary="max")
run.define_metric("avg", summary="mean")
xs = [1.0, math.nan, math.inf, -math.inf, -0.0, 2.0]
ys = [math.nan, 3.0, math.nan, 1.0, 2.0, math.nan]
for x, y in zip(xs, ys):
    run.log({"x": x, "y": y, "best_min": y, "best_max": y, "avg": y})
for name, value in special.items():
    run.summary["s_" + name] = value
local = {k: run.summary[k] for k in ("best_min", "best_max", "avg", "y")}
run.finish()
print("RESULT " + json.dumps(to_json_safe({"id": run.id, "local_summary": local})))
"""


def test_i01_nan_inf_negzero_round_trip(any_server: ServerProcess, tmp_path: Path) -> None:
    result, _ = sdk_script(any_server, tmp_path, I01_SCRIPT)
    xs = [1.0, math.nan, math.inf, -math.inf, -0.0, 2.0]
    ys = [math.nan, 3.0, math.nan, 1.0, 2.0, math.nan]
    run = read_api(any_server).run(f"i01/{result['id']}")
    assert run.state == "finished"

    # config: every special value back exactly, nested too
    config = run.config
    for key, want in [("nan", math.nan), ("inf", math.inf), ("ninf", -math.inf),
                      ("negzero", -0.0), ("later_nan", math.nan), ("later_negzero", -0.0)]:
        assert same(config[key], want), (key, config[key])
    assert math.isnan(config["nested"]["nan"])
    assert same(config["nested"]["list"][0], math.inf)
    assert same(config["nested"]["list"][1], -0.0)

    # summary written by the user, and computed with define_metric (NaN ignored)
    summary = run.summary
    for name, want in [("nan", math.nan), ("inf", math.inf), ("ninf", -math.inf),
                       ("negzero", -0.0)]:
        assert same(summary["s_" + name], want), (name, summary["s_" + name])
    assert summary["best_min"] == 1.0 and summary["best_max"] == 3.0
    assert summary["avg"] == 2.0  # mean over finite values only
    assert math.isnan(summary["y"])  # default summary is the last value, NaN included
    assert same(summary["x"], 2.0)
    local = result["local_summary"]
    assert (local["best_min"], local["best_max"], local["avg"]) == (1.0, 3.0, 2.0)

    # history: every point, bit-exact
    rows = list(run.scan_history(keys=["x", "y"], page_size=4))
    assert [r["_step"] for r in rows] == list(range(6))
    for row, x, y in zip(rows, xs, ys):
        assert same(row["x"], x) and same(row["y"], y), row

    # charts skip NaN: a bucket holding NaN and numbers has finite min/max/mean
    series = run.series("y", buckets=1)
    assert series["count"] == [6]
    assert (series["min"], series["max"], series["mean"]) == ([1.0], [3.0], [2.0])
    series_x = run.series("x", buckets=1)
    assert (series_x["min"], series_x["max"]) == ([-math.inf], [math.inf])

    # the wire format is strict JSON: non-finite floats travel tagged, never as NaN literals
    body = httpx.get(f"{any_server.url}{API}/projects/i01/runs/{result['id']}").text

    def no_constants(name: str) -> Any:
        raise AssertionError(f"JSON carries the non-standard literal {name}")

    raw = json.loads(body, parse_constant=no_constants)
    assert raw["config"]["nan"] == {"$float": "nan"}
    assert raw["config"]["ninf"] == {"$float": "-inf"}
    assert same(raw["config"]["negzero"], -0.0)


# ----------------------------------------------------------------------------------------------
# I02 numpy/torch-like scalars, bool, Decimal, str, None
# ----------------------------------------------------------------------------------------------

I02_SCRIPT = """
import decimal, json, math, kiseki
import numpy as np

class FakeTensor:
    # the parts of torch.Tensor that matter: size() is a shape, numel() a count
    def __init__(self, value, shape=()):
        self.value, self.shape = value, tuple(shape)
    def item(self):
        if math.prod(self.shape) != 1:
            raise RuntimeError("a Tensor with several elements cannot be converted to Scalar")
        return self.value
    def numel(self):
        return math.prod(self.shape)
    def size(self):
        return self.shape

class FakeJaxArray:
    size = 1
    def item(self):
        return 6.5

run = kiseki.init(project="i02")
for step in range(3):
    run.log({
        "f32": np.float32(0.5), "f64": np.float64(0.25), "i64": np.int64(7),
        "bool_": np.bool_(True), "a0": np.array(2.5), "a1": np.array([3.5]),
        "a11": np.array([[4.5]]), "py_true": True, "py_false": False,
        "dec": decimal.Decimal("1.25"), "t0": FakeTensor(4.0), "t1": FakeTensor(5.0, (1,)),
        "jax": FakeJaxArray(),
        # not numbers: never kept in history, one warning per key
        "text": "hello", "none": None, "lst": [1, 2], "vec": np.zeros(3),
        "t2": FakeTensor(1.0, (2,)),
    })
run.log({"after": float(step)})
run.finish()
print("RESULT " + json.dumps({"id": run.id}))
"""

I02_NUMBERS = {"f32": 0.5, "f64": 0.25, "i64": 7.0, "bool_": 1.0, "a0": 2.5, "a1": 3.5,
               "a11": 4.5, "py_true": 1.0, "py_false": 0.0, "dec": 1.25, "t0": 4.0, "t1": 5.0,
               "jax": 6.5}
I02_REJECTED = {"text": "str", "none": "NoneType", "lst": "list", "vec": "ndarray",
                "t2": "FakeTensor"}


def test_i02_numeric_scalars_coerced_others_warned_once(server: ServerProcess,
                                                        tmp_path: Path) -> None:
    result, proc = sdk_script(server, tmp_path, I02_SCRIPT)
    run = read_api(server).run(f"i02/{result['id']}")
    assert run.state == "finished"
    assert sorted(run.keys) == sorted([*I02_NUMBERS, "after"])
    rows = list(run.scan_history(keys=list(I02_NUMBERS)))
    assert [r["_step"] for r in rows] == [0, 1, 2]
    for row in rows:
        assert {k: row[k] for k in I02_NUMBERS} == I02_NUMBERS
    assert run.summary["after"] == 2.0  # the loop went on after the bad values

    warnings = warnings_of(proc.stderr)
    assert len(warnings) == len(I02_REJECTED), proc.stderr
    for key, type_name in I02_REJECTED.items():
        hits = [w for w in warnings if f"'{key}' is a {type_name}, not a number" in w]
        assert len(hits) == 1, (key, proc.stderr)


# ----------------------------------------------------------------------------------------------
# I03 huge strings, huge keys, oversize bodies
# ----------------------------------------------------------------------------------------------

I03_SCRIPT = """
import json, kiseki
run = kiseki.init(project="i03", config={"big": "x" * 10_000_000, "small": 1})
run.config.update({"big2": "y" * 10_000_000})
for step in range(3):
    run.log({"k" * 1_000_000: 1.0, "ok": float(step)})
run.finish()
print("RESULT " + json.dumps({"id": run.id, "big": len(run.config["big"])}))
"""


def test_i03_huge_config_value_key_and_bodies(server: ServerProcess, tmp_path: Path) -> None:
    result, proc = sdk_script(server, tmp_path, I03_SCRIPT)
    cut = MAX_STRING + len(TRUNCATED)
    assert result["big"] == cut
    run = read_api(server).run(f"i03/{result['id']}")
    assert run.state == "finished"
    assert run.config["small"] == 1
    for key, char in (("big", "x"), ("big2", "y")):
        assert run.config[key] == char * MAX_STRING + TRUNCATED
    assert run.keys == ["ok"]
    assert [r["ok"] for r in run.scan_history(keys=["ok"])] == [0.0, 1.0, 2.0]
    warnings = warnings_of(proc.stderr)
    assert sum(f"string(s) over {MAX_STRING} characters cut" in w for w in warnings) == 2
    key_warnings = [w for w in warnings if "key of 1000000 characters is longer than 256" in w]
    assert len(key_warnings) == 1 and len(key_warnings[0]) < 400, warnings

    # the server enforces its own limits, whoever sends
    big = post_raw(server, bytes(33 * 1024 * 1024))
    assert big.status_code == 413, big.text
    assert "limit" in big.json()["detail"]
    bomb = post_raw(server, gzip_bomb(), gzipped=True)
    assert bomb.status_code == 413, bomb.text
    assert "decompressed body is over" in bomb.json()["detail"]
    assert_server_works(server)


# ----------------------------------------------------------------------------------------------
# I04 deep, cyclic and huge configs
# ----------------------------------------------------------------------------------------------

I04_SCRIPT = """
import json, kiseki
from kiseki.core.values import to_json_safe

def nested_dict(depth):
    root = cur = {}
    for _ in range(depth):
        cur["a"] = {}
        cur = cur["a"]
    return root

def nested_list(depth):
    root = []
    for _ in range(depth):
        root = [root]
    return root

deep = nested_dict(10_000)
cyclic = {"x": 1, "list": [1, 2]}
cyclic["self"] = cyclic
cyclic["list"].append(cyclic["list"])
wide = {f"k{i}": i for i in range(200_000)}
errors = []
try:
    run = kiseki.init(project="i04", config={"deep": deep, "deep_list": nested_list(10_000),
                                             "cyclic": cyclic})
    run.config.update({"wide": wide})
    run.config["deep2"] = deep
    run.summary["deep"] = deep
    run.summary["cyclic"] = cyclic
    run.log({"x": 1.0})
except RecursionError as exc:
    errors.append(repr(exc))
local = {"config": run.config.as_dict(), "summary": dict(run.summary)}
run.finish()
print("RESULT " + json.dumps(to_json_safe({"id": run.id, "errors": errors, "local": local})))
"""

DEPTH_MARKER = f"<nested deeper than {MAX_DEPTH}>"


def _depth_to_marker(value: Any, step: str | int) -> int:
    depth = 0
    while value != DEPTH_MARKER:
        value = value[step]
        depth += 1
    return depth


def test_i04_deep_cyclic_and_wide_config(any_server: ServerProcess, tmp_path: Path) -> None:
    result, proc = sdk_script(any_server, tmp_path, I04_SCRIPT)
    assert result["errors"] == []
    run = read_api(any_server).run(f"i04/{result['id']}")
    assert run.state == "finished"
    config, summary = run.config, run.summary

    # the server holds exactly what the SDK kept
    assert config == result["local"]["config"]
    assert {k: summary[k] for k in ("deep", "cyclic", "x")} == result["local"]["summary"]

    # depth: cut at MAX_DEPTH levels below the config (init) or below the value (update)
    assert _depth_to_marker(config["deep"], "a") == MAX_DEPTH - 1
    assert _depth_to_marker(config["deep_list"], 0) == MAX_DEPTH - 1
    assert _depth_to_marker(config["deep2"], "a") == MAX_DEPTH
    assert _depth_to_marker(summary["deep"], "a") == MAX_DEPTH
    # cycles: replaced by a marker, the rest kept
    assert config["cyclic"] == {"x": 1, "list": [1, 2, "<cycle>"], "self": "<cycle>"}
    assert summary["cyclic"] == config["cyclic"]
    # size: the first MAX_ITEMS items kept, in order
    assert len(config["wide"]) == MAX_ITEMS
    assert list(config["wide"])[:3] == ["k0", "k1", "k2"]
    assert config["wide"][f"k{MAX_ITEMS - 1}"] == MAX_ITEMS - 1

    warnings = warnings_of(proc.stderr)
    assert any(f"nested deeper than {MAX_DEPTH} replaced" in w and "reference cycle" in w
               for w in warnings), proc.stderr
    assert any(f"beyond {MAX_ITEMS} dropped" in w for w in warnings), proc.stderr


# ----------------------------------------------------------------------------------------------
# I05 non-JSON objects
# ----------------------------------------------------------------------------------------------

I05_SCRIPT = """
import dataclasses, datetime as dt, enum, json, os, kiseki
from pathlib import PurePosixPath
import numpy as np
from kiseki.core.values import to_json_safe

class Color(enum.Enum):
    RED = "red"

class Level(enum.IntEnum):
    HIGH = 3

@dataclasses.dataclass
class Opt:
    name: str
    lr: float
    tags: set

class BadRepr:
    def __repr__(self):
        raise RuntimeError("repr exploded")

class Hostile:
    # a proxy that raises on every attribute, on iteration and on repr
    def __getattr__(self, name):
        raise RuntimeError(f"no {name} for you")
    def __iter__(self):
        raise RuntimeError("no iteration")
    def __len__(self):
        return 3
    def __repr__(self):
        raise RuntimeError("no repr")

def values():
    return {
        "set": {"b", "c", "a"}, "mixed_set": {2.5, "a", 1}, "frozen": frozenset({3, 1, 2}),
        "when": dt.datetime(2024, 1, 2, 3, 4, 5), "day": dt.date(2024, 1, 2),
        "path": PurePosixPath("/data/train"), "opt": Opt("adam", 0.1, {"x"}),
        "raw_path": PurePosixPath(os.fsdecode(b"/data/\\xff")),  # undecodable file name
        "color": Color.RED, "level": Level.HIGH, "arr": np.arange(3), "mat": np.eye(2),
        "f64": np.float64(0.5), "i32": np.int32(4), "npstr": np.str_("s"),
        "bytes": b"ab\\xff", "tuple": (1, "a"), "complex": 1 + 2j,
        "lam": lambda x: x, "bad": BadRepr(), "hostile": Hostile(),
    }

errors = []
try:
    run = kiseki.init(project="i05", config=values())
    run.config.update({"upd_" + k: v for k, v in values().items()})
    for key, value in values().items():
        run.summary["s_" + key] = value
    run.log({"hostile": Hostile(), "bad": BadRepr(), "lam": lambda: 1, "ok": 1.0})
except Exception as exc:
    errors.append(repr(exc))
local = {"config": run.config.as_dict(), "summary": dict(run.summary)}
run.finish()
print("RESULT " + json.dumps(to_json_safe({"id": run.id, "errors": errors, "local": local})))
"""

I05_EXPECTED = {
    "set": ["a", "b", "c"], "mixed_set": ["a", 1, 2.5], "frozen": [1, 2, 3],
    "when": "2024-01-02T03:04:05", "day": "2024-01-02", "path": "/data/train",
    "raw_path": "/data/?",
    "opt": {"name": "adam", "lr": 0.1, "tags": ["x"]}, "color": "red", "level": 3,
    "arr": [0, 1, 2], "mat": [[1.0, 0.0], [0.0, 1.0]], "f64": 0.5, "i32": 4, "npstr": "s",
    "bytes": "ab\ufffd", "tuple": [1, "a"], "complex": "(1+2j)",
    "bad": "<unrepresentable BadRepr>", "hostile": "<unrepresentable Hostile>",
}


def test_i05_non_json_objects_fall_back_deterministically(any_server: ServerProcess,
                                                          tmp_path: Path) -> None:
    result, proc = sdk_script(any_server, tmp_path, I05_SCRIPT)
    assert result["errors"] == []
    run = read_api(any_server).run(f"i05/{result['id']}")
    assert run.state == "finished"
    config, summary = run.config, run.summary
    assert config == result["local"]["config"]
    for key, want in I05_EXPECTED.items():
        for got in (config[key], config["upd_" + key], summary["s_" + key]):
            assert got == want and type(got) is type(want), (key, got)
    for got in (config["lam"], config["upd_lam"], summary["s_lam"]):
        assert got.startswith("<function values.<locals>.<lambda> at 0x"), got
    # log(): none of these is a number; one warning each, the number next to them is kept
    assert run.keys == ["ok"]
    for key, type_name in (("hostile", "Hostile"), ("bad", "BadRepr"), ("lam", "function")):
        assert sum(f"'{key}' is a {type_name}, not a number" in w
                   for w in warnings_of(proc.stderr)) == 1, proc.stderr


# hypothesis strategies: plain data, odd-but-common objects, and hostile objects ----------------

class _Color(enum.Enum):
    RED = "red"
    ONE = 1


class _Level(enum.IntEnum):
    LOW = 1


@dataclasses.dataclass
class _Point:
    x: Any
    y: Any = None


class _RaisingRepr:
    def __repr__(self) -> str:
        raise ValueError("repr fails")


class _RaisingEverything:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(name)

    def __iter__(self) -> Any:
        raise RuntimeError("iter")

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        raise RuntimeError("repr")


class _WeirdRepr:
    def __repr__(self) -> str:
        return "nul\x00 surrogate\ud800 " + "x" * 2000


class _BadItem:
    size = 1

    def item(self) -> Any:
        raise TypeError("item fails")

    def tolist(self) -> Any:
        raise TypeError("tolist fails")


class _SelfListing:
    """``tolist`` returns itself: an endless chain of containers."""

    def tolist(self) -> Any:
        return [self]


class _BadMapping(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        raise RuntimeError("items fails")


def _self_containing(items: list[Any]) -> list[Any]:
    items.append(items)
    return items


def _strategies() -> Any:
    import numpy as np
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=True, allow_infinity=True), any_text, st.binary(max_size=20),
        st.decimals(allow_nan=True, allow_infinity=True), st.datetimes(), st.dates(),
        st.times(), st.complex_numbers(allow_nan=True), st.uuids(), st.fractions(),
        st.builds(PurePosixPath, any_text), st.sampled_from(list(_Color) + list(_Level)),
        st.builds(_Point, st.integers(), st.floats()),
        st.sampled_from([np.float32(1.5), np.float64("nan"), np.int64(-3), np.bool_(False),
                         np.str_("s"), np.datetime64("2024-01-01"), np.array(2.0),
                         np.array([1.0, math.nan])]),
        hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(max_dims=2, max_side=3)),
        st.builds(_RaisingRepr), st.builds(_RaisingEverything), st.builds(_BadItem),
        st.builds(_WeirdRepr),
        st.builds(_SelfListing), st.just(lambda: None), st.just(int), st.just(print),
    )
    keys = st.one_of(any_text, st.integers(), st.none(), st.builds(_RaisingRepr),
                     st.builds(_WeirdRepr), st.builds(PurePosixPath, any_text),
                     st.tuples(st.integers(), any_text))

    def extend(children: Any) -> Any:
        return st.one_of(
            st.lists(children, max_size=4), st.tuples(children, children),
            st.dictionaries(keys, children, max_size=4),
            st.frozensets(st.one_of(st.integers(), any_text, st.floats()), max_size=4),
            st.builds(_BadMapping, st.dictionaries(any_text, children, max_size=2)),
            st.builds(_self_containing, st.lists(children, max_size=2)),
            st.builds(_Point, children, children),
        )

    return st.recursive(leaves, extend, max_leaves=25)


def _assert_plain(value: Any, depth: int = 0) -> None:
    """Only JSON types, str keys, int64 ints, valid UTF-8 without NUL, bounded depth."""
    assert depth <= MAX_DEPTH + 1
    kind = type(value)
    if value is None or kind in (bool, float):
        return
    if kind is int:
        assert -(2**63) <= value < 2**63
    elif kind is str:
        value.encode("utf-8")
        assert "\x00" not in value
    elif kind is list:
        for item in value:
            _assert_plain(item, depth + 1)
    elif kind is dict:
        for key, item in value.items():
            assert type(key) is str
            _assert_plain(key, depth + 1)
            _assert_plain(item, depth + 1)
    else:
        raise AssertionError(f"sanitize returned a {kind.__name__}: {value!r:.80}")


def test_i05_sanitize_property_never_raises() -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_strategies())
    def check(value: Any) -> None:
        first = sanitize(value)
        _assert_plain(first)
        encoded = msgspec.json.encode(to_json_safe(first))
        msgspec.msgpack.encode(first)  # the run-log format takes it too
        assert msgspec.json.encode(to_json_safe(sanitize(value))) == encoded  # deterministic
        assert msgspec.json.decode(encoded) == json.loads(encoded)

    check()


# ----------------------------------------------------------------------------------------------
# I06 unicode keys, NUL, lone surrogates, invalid UTF-8
# ----------------------------------------------------------------------------------------------

UNICODE_KEYS = {
    "損失/🚀": "損失/🚀",
    "bidi\u202eevil\u202c": "bidi\u202eevil\u202c",
    "zero\u200bwidth\u200d": "zero\u200bwidth\u200d",
    "cafe\u0301": "caf\u00e9",  # NFD in, NFC stored
    "family👩\u200d👩\u200d👧": "family👩\u200d👩\u200d👧",
}

I06_SCRIPT = """
import json, kiseki
keys = json.loads(%r)
run = kiseki.init(project="i06", name="nul\\x00name", tags=["t\\x00ag"], notes="n\\x00")
run.config.update({k: i for i, k in enumerate(keys)})
for step in range(3):
    values = {k: float(step * 10 + i) for i, k in enumerate(keys)}
    values["a\\x00b"] = 1.0
    values["lone\\ud800"] = 2.0
    run.log(values)
run.log({"after": 1.0})
run.alert("al\\x00ert", "te\\x00xt")
run.finish()
print("RESULT " + json.dumps({"id": run.id}))
"""


def test_i06_unicode_keys_round_trip_nul_and_bad_utf8_refused(any_server: ServerProcess,
                                                              tmp_path: Path) -> None:
    code = I06_SCRIPT % json.dumps(list(UNICODE_KEYS))
    result, proc = sdk_script(any_server, tmp_path, code)
    run = read_api(any_server).run(f"i06/{result['id']}")
    assert run.state == "finished"
    stored = list(UNICODE_KEYS.values())
    assert sorted(run.keys) == sorted([*stored, "after"])
    rows = list(run.scan_history(keys=stored))
    for step, row in enumerate(rows):
        assert {k: row[k] for k in stored} == {k: float(step * 10 + i)
                                                 for i, k in enumerate(stored)}
    assert run.config == {k: i for i, k in enumerate(stored)}
    series = run.series("bidi\u202eevil\u202c", buckets=10)  # the key travels in a URL
    assert series["last"] == [1.0, 11.0, 21.0]
    # NUL and lone surrogates: one clear warning each, the value dropped, the loop goes on
    warnings = warnings_of(proc.stderr)
    assert len(warnings) == 2, proc.stderr
    assert "'a\\x00b' contains a control character (e.g. NUL); remove it; value dropped" \
        in warnings[0] + warnings[1]
    assert "contains a lone surrogate; use valid Unicode text; value dropped" \
        in warnings[0] + warnings[1]
    # NUL in other text the SDK sends (name, tags, notes, alerts) never breaks the store
    assert run.name == "nul\ufffdname" and run.tags == ["t\ufffdag"]
    assert run.notes == "n\ufffd"
    assert [(a["title"], a["text"]) for a in run.alerts] == [("al\ufffdert", "te\ufffdxt")]

    # the server applies the same key rule to raw batches, and keeps NUL out of every column
    now = time.time()
    resp = post_records(any_server, "raw06", "r1", [
        start("raw06", "r1"),
        rec.Metrics(0, now, {"ok": 1.0}),
        rec.Metrics(1, now, {"a\x00b": 2.0}),
        rec.Metrics(2, now, {"good": 3.0, "bad\x00": 4.0}),  # as the SDK: the bad key only
        rec.Metrics(3, now, {"caf\u0065\u0301": 5.0}),
        rec.ConfigUpdate({"k\x00": "v\x00", "deep": {"x\x00": ["y\x00"]}}),
        rec.SummaryUpdate({"s\x00": 1}),
        rec.RunUpdate(name="n\x00", tags=["t\x00"], notes="x\x00"),
        rec.DefineMetric("m\x00", None, "min"),
        rec.Console("stdout", now, ["line\x00"]),
        rec.SystemMetrics(now, {"cpu\x00": 1.0}),
        rec.Finish("failed", 1, now, "Traceback\x00"),
    ])
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["applied"] == 12
    assert_rejected(answer, [
        (3, "key 'a\\x00b' contains a control character (e.g. NUL); remove it"),
        (4, "key 'bad\\x00' contains a control character (e.g. NUL); remove it"),
    ])
    run = read_api(any_server).run("raw06/r1")
    assert sorted(run.keys) == ["caf\u00e9", "good", "ok"]  # NFC; the NUL keys never stored
    assert [r["_step"] for r in run.scan_history(keys=["good"])] == [2]
    assert run.state == "failed" and run.error == "Traceback\ufffd"
    assert run.config == {"k\ufffd": "v\ufffd", "deep": {"x\ufffd": ["y\ufffd"]}}
    assert run.summary["s\ufffd"] == 1
    assert (run.name, run.tags, run.notes) == ("n\ufffd", ["t\ufffd"], "x\ufffd")
    assert [line["text"] for line in run.console()] == ["line\ufffd"]

    # invalid UTF-8 (a stray byte; a CESU-8 lone surrogate) anywhere in the body: 400
    valid = rec.encode(rec.IngestBatch("raw06", "r2", uuid.uuid4().hex, [
        msgspec.Raw(rec.encode_entry(1, rec.Metrics(0, now, {"KEYKEY": 1.0})))]))
    for bad in (b"KE\xff\xfeEY", b"K\xed\xa0\x80EY"):
        resp = post_raw(any_server, valid.replace(b"KEYKEY", bad))
        assert resp.status_code == 400, resp.text
        assert "malformed" in resp.json()["detail"]
    resp = post_raw(any_server, valid.replace(b"raw06", b"ra\xff06"))
    assert resp.status_code == 400 and "not a valid msgpack" in resp.json()["detail"]
    with pytest.raises(kiseki.NotFoundError):
        read_api(any_server).run("raw06/r2")


# ----------------------------------------------------------------------------------------------
# I07 path-like, empty and long keys: one rule for SDK and server
# ----------------------------------------------------------------------------------------------

BAD_KEYS = [".", "..", "a/../b", "./x", "", "   ", "k" * 10_240, "_step"]


def _rule(key: str) -> str:
    with pytest.raises(ValidationError) as info:
        validate_key(key)
    return str(info.value)


I07_SCRIPT = """
import json, kiseki
bad = json.loads(%r)
run = kiseki.init(project="i07")
for step in range(2):
    run.log({**{k: 1.0 for k in bad}, "ok": float(step)})
run.finish()
print("RESULT " + json.dumps({"id": run.id}))
"""


def test_i07_dot_empty_and_long_keys_one_rule(server: ServerProcess, tmp_path: Path) -> None:
    result, proc = sdk_script(server, tmp_path, I07_SCRIPT % json.dumps(BAD_KEYS))
    run = read_api(server).run(f"i07/{result['id']}")
    assert run.state == "finished"
    assert run.keys == ["ok"]
    assert [r["ok"] for r in run.scan_history()] == [0.0, 1.0]
    warnings = warnings_of(proc.stderr)
    assert warnings == [f"kiseki: warning: log(): {_rule(k)}; value dropped" for k in BAD_KEYS]

    now = time.time()
    resp = post_records(server, "raw07", "r1", [start("raw07", "r1")] + [
        rec.Metrics(i, now, {key: 1.0}) for i, key in enumerate(BAD_KEYS)] + [
        rec.Metrics(len(BAD_KEYS), now, {"ok": 1.0})])
    assert resp.status_code == 200, resp.text
    assert_rejected(resp.json(), [(i + 2, _rule(k)) for i, k in enumerate(BAD_KEYS)])
    assert read_api(server).run("raw07/r1").keys == ["ok"]


# ----------------------------------------------------------------------------------------------
# I11 oversize, compressed, slow and malformed bodies
# ----------------------------------------------------------------------------------------------

def _raw_request(server: ServerProcess, head: str, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(head.encode() + b"\r\n" + body)
    return sock


def _read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def _endless_chunked_status(server: ServerProcess) -> int:
    """Stream 1 MiB chunks without end until the server answers; return its status."""
    sock = _raw_request(server, "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\n"
                        "Content-Type: application/x-msgpack\r\nTransfer-Encoding: chunked\r\n")
    chunk = b"100000\r\n" + bytes(1 << 20) + b"\r\n"
    try:
        for sent in range(128):
            if select.select([sock], [], [], 0)[0]:
                return _read_status(sock)
            try:
                sock.sendall(chunk)
            except OSError:  # the server closed after answering
                break
        assert sent < 127, "the server read 128 MiB without answering"
        return _read_status(sock)
    finally:
        sock.close()


def test_i11_oversize_bomb_slow_and_malformed_bodies(server: ServerProcess) -> None:
    head = ("POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-msgpack\r\n"
            "Content-Length: {n}\r\n")
    # a declared length over the limit: 413 without waiting for (or reading) the body
    sock = _raw_request(server, head.format(n=40 * 1024 * 1024), b"\x80" * 1024)
    try:
        assert _read_status(sock) == 413
    finally:
        sock.close()

    # no declared length (chunked, endless): cut at the limit while streaming
    assert _endless_chunked_status(server) == 413

    bomb = post_raw(server, gzip_bomb(), gzipped=True)
    assert bomb.status_code == 413, bomb.text

    # slow bodies: 20 connections each sending a chunk and then nothing
    slow = []
    try:
        for _ in range(20):
            sock = _raw_request(server, "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\n"
                                "Content-Type: application/x-msgpack\r\n"
                                "Transfer-Encoding: chunked\r\n", b"3\r\n\x84\xa7p\r\n")
            slow.append(sock)
        with httpx.Client(base_url=server.url, timeout=5) as client:  # a blocked server: timeout
            for _ in range(3):
                assert client.get(f"{API}/health").status_code == 200
                assert client.get(f"{API}/projects").status_code == 200
        assert_server_works(server, "during-slow-bodies")
    finally:
        for sock in slow:
            sock.close()

    # malformed bodies: 400 with a message saying what is wrong
    good = rec.encode(rec.IngestBatch("p", "r", "s", [
        msgspec.Raw(rec.encode_entry(1, rec.Metrics(0, 1.0, {"x": 1.0})))]))
    cases = [
        (b"\xc1\xff garbage", False, "not a valid msgpack IngestBatch"),
        (good[:-3], False, "not a valid msgpack IngestBatch"),  # truncated
        (msgspec.msgpack.encode([1, 2, 3]), False, "not a valid msgpack IngestBatch"),
        (msgspec.msgpack.encode({"project": "p", "run_id": "r", "stream": "s",
                                 "entries": [b"\x93\x01"]}), False, "entry of the batch"),
        (b"not gzip at all", True, "not valid gzip"),
        (gzip.compress(b"\xc1"), True, "not a valid msgpack IngestBatch"),
        (b"", False, "not a valid msgpack IngestBatch"),
    ]
    for body, gzipped, message in cases:
        resp = post_raw(server, body, gzipped)
        assert resp.status_code == 400, (body[:20], resp.text)
        assert message in resp.json()["detail"], resp.text
    assert_server_works(server)


# ----------------------------------------------------------------------------------------------
# I13 filter injection through the HTTP API
# ----------------------------------------------------------------------------------------------

INJECTIONS_400 = [
    "'; DROP TABLE runs; --",
    "' OR 1=1 --",
    "name = '' OR 1=1 --'",
    'state = "finished" OR 1=1',
    "config.lr = 0.1; DROP TABLE runs",
    'config."lr" = 0.1',
    "\"runs\".\"state\" = 'finished'",
    "`runs`.`state` = 'finished'",
    "config.lr = 0.1 -- comment",
    "summary.`\") OR 1=1 --` = 1",  # a key holding '"' cannot be filtered on
    "name in [" + ",".join(['"a"'] * 1001) + "]",
    json.dumps({"$where": "1=1"}),
    json.dumps({"name": {"$regex": ".*"}}),
    json.dumps({"name": {"$in": ["a"] * 1001}}),
]
INJECTIONS_EMPTY = [
    'name = "x\'; DROP TABLE runs; --"',
    "name = 'alpha\\' OR 1=1 --'",
    'name = "alpha\\" OR \\"1\\"=\\"1"',
    "config.`lr'); DROP TABLE runs; --` > 0",
    'name ~ "%"',
    'name ~ "_"',
    json.dumps({"config.lr": {"$gt": "0 OR 1=1"}}),
    json.dumps({"name": "alpha' OR '1'='1"}),
]


def test_i13_filter_injection_is_refused_or_inert(any_server: ServerProcess) -> None:
    for run_id, lr in (("alpha", 0.1), ("beta", 0.01)):
        resp = post_records(any_server, "i13", run_id, [start("i13", run_id, lr=lr)])
        assert resp.status_code == 200, resp.text
    url = f"{any_server.url}{API}/projects/i13/runs"
    for expr in INJECTIONS_400:
        resp = httpx.get(url, params={"filter": expr})
        assert resp.status_code == 400, (expr[:60], resp.text)
        assert resp.json()["detail"], expr
    for expr in INJECTIONS_EMPTY:
        resp = httpx.get(url, params={"filter": expr})
        assert resp.status_code == 200, (expr, resp.text)
        assert resp.json()["total"] == 0 and resp.json()["items"] == [], expr
    for order in ("name; DROP TABLE runs", "-config.lr, 1=1", "name --"):
        resp = httpx.get(url, params={"order": order})
        assert resp.status_code == 400, (order, resp.text)

    # the runs and their data are all still there, and real filters still work
    page = httpx.get(url).json()
    assert page["total"] == 2
    assert sorted((r["id"], r["config"]["lr"]) for r in page["items"]) == [
        ("alpha", 0.1), ("beta", 0.01)]
    picked = httpx.get(url, params={"filter": "config.lr > 0.05"}).json()
    assert [r["id"] for r in picked["items"]] == ["alpha"]
    picked = httpx.get(url, params={"filter": 'name = "alpha\' OR 1=1 --" or id = "beta"'})
    assert [r["id"] for r in picked.json()["items"]] == ["beta"]


# ----------------------------------------------------------------------------------------------
# I16 API keys
# ----------------------------------------------------------------------------------------------

def _kiseki_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiseki", *args], check=False,
                          capture_output=True, text=True, timeout=60)


I16_BAD_KEY_SCRIPT = """
import json, kiseki
run = kiseki.init(project="i16")
for step in range(20):
    run.log({"loss": 1.0 / (step + 1)})
run.finish()
print("RESULT " + json.dumps({"id": run.id, "log": run.log_path, "trained": run.step}))
"""


def test_i16_api_keys_off_loopback(tmp_path: Path) -> None:
    data = tmp_path / "authsrv"
    # not loopback, no key: refuse to start, saying how to fix it
    refused = ServerProcess(data, extra=["--host", "0.0.0.0"]).start(wait=False)
    assert refused.proc is not None
    assert refused.proc.wait(timeout=30) != 0
    message = refused.log.read_text()
    assert "kiseki keys create" in message and "--insecure" in message, message

    created = [_kiseki_cli("keys", "create", name, "--dir", str(data)) for name in ("ci", "old")]
    assert all(c.returncode == 0 for c in created), [c.stderr for c in created]
    key, old_key = (c.stdout.strip() for c in created)
    assert key.startswith("ksk_") and old_key.startswith("ksk_") and key != old_key
    for stored in data.glob("kiseki.db*"):  # hashed at rest
        assert key.encode() not in stored.read_bytes()

    srv = ServerProcess(data, extra=["--host", "0.0.0.0"]).start()
    try:
        good = {"Authorization": f"Bearer {key}"}
        now = time.time()
        resp = post_records(srv, "i16", "r1", [
            start("i16", "r1"), rec.Metrics(0, now, {"loss": 1.0}),
            rec.Console("stdout", now, ["hello"])], headers=good)
        assert resp.status_code == 200, resp.text
        _check_auth_everywhere(srv, key, old_key)

        # revoking a key takes effect within a few seconds
        revoked = _kiseki_cli("keys", "revoke", old_key[:10], "--dir", str(data))
        assert revoked.returncode == 0, revoked.stderr
        deadline = time.monotonic() + 10
        status = 200
        while time.monotonic() < deadline:
            status = httpx.get(f"{srv.url}{API}/projects",
                               headers={"Authorization": f"Bearer {old_key}"}).status_code
            if status == 401:
                break
            time.sleep(0.2)
        assert status == 401
        _check_refused(srv, {"Authorization": f"Bearer {old_key}"}, {}, old_key)
        assert httpx.get(f"{srv.url}{API}/projects", headers=good).status_code == 200

        # the SDK with a refused key: training unaffected, one warning, the log kept
        result, proc = sdk_script(srv, tmp_path, I16_BAD_KEY_SCRIPT,
                                  env={"KISEKI_API_KEY": old_key, "KISEKI_FINISH_TIMEOUT": "10"})
        assert result["trained"] == 20
        key_warnings = [w for w in proc.stderr.splitlines() if "refused the API key" in w]
        assert len(key_warnings) == 1, proc.stderr
        assert "did not finish within" not in proc.stderr  # refused, not retried until timeout
        assert old_key not in proc.stderr
        logged = [e.record for e in RunLogReader(result["log"]).read_all()
                  if isinstance(e.record, rec.Metrics)]
        assert [m.step for m in logged] == list(range(20))
        listing = httpx.get(f"{srv.url}{API}/projects/i16/runs", headers=good).json()
        assert [r["id"] for r in listing["items"]] == ["r1"]  # nothing sent with the bad key
    finally:
        srv.stop()
    assert key not in srv.log.read_text()  # never logged


def _routes() -> list[tuple[str, str, dict[str, Any]]]:
    ingest = rec.encode(rec.IngestBatch("i16", "r1", uuid.uuid4().hex, [msgspec.Raw(
        rec.encode_entry(1, rec.Metrics(5, time.time(), {"loss": 9.0})))]))
    return [
        ("GET", "/projects", {}),
        ("GET", "/projects/i16/runs", {}),
        ("GET", "/projects/i16/runs/r1", {}),
        ("GET", "/projects/nope/runs/nope", {}),  # no existence oracle
        ("GET", "/projects/i16/runs/r1/series", {"params": {"key": "loss"}}),
        ("GET", "/projects/i16/runs/r1/history", {}),
        ("GET", "/projects/i16/runs/r1/system", {}),
        ("GET", "/projects/i16/runs/r1/console", {}),
        ("GET", "/projects/i16/live", {"params": {"max_seconds": 1}}),
        ("PATCH", "/projects/i16/runs/r1", {"json": {"notes": "x"}}),
        ("POST", "/projects/i16/series", {"json": {"runs": ["r1"], "keys": ["loss"]}}),
        ("POST", "/heartbeat", {"json": {"runs": [{"project": "i16", "run_id": "r1"}]}}),
        ("POST", "/ingest", {"content": ingest}),
    ]


def _check_refused(srv: ServerProcess, headers: dict[str, str], query: dict[str, str],
                   key: str) -> None:
    """Every route answers the same 401, never 404/403/500, and never echoes the key."""
    with httpx.Client(base_url=f"{srv.url}{API}", timeout=10) as client:
        for method, path, kw in _routes():
            params = {**kw.get("params", {}), **query}
            rest = {k: v for k, v in kw.items() if k != "params"}
            resp = client.request(method, path, headers=headers, params=params, **rest)
            assert resp.status_code == 401, (method, path, headers, query, resp.text)
            assert resp.headers.get("www-authenticate") == "Bearer"
            assert resp.json()["detail"] in ("missing API key: send 'Authorization: Bearer <key>'",
                                             "invalid or revoked API key")
            assert key not in resp.text


def _check_auth_everywhere(srv: ServerProcess, key: str, other_key: str) -> None:
    bad_headers: list[dict[str, str]] = [
        {}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Bearer \tx"},
        {"Authorization": f"Basic {key}"}, {"Authorization": f"Token {key}"},
        {"Authorization": key}, {"Authorization": "Bearer ksk_not_a_real_key"},
        {"Authorization": f"Bearer {key}x"}, {"Authorization": f"Bearer {key[:-1]}"},
        {"X-API-Key": key}, {"Cookie": f"api_key={key}"},
    ]
    for headers in bad_headers:
        _check_refused(srv, headers, {}, key)
    for name in ("api_key", "key", "token", "access_token"):  # never from the query string
        _check_refused(srv, {}, {name: key}, key)
    # a valid key opens every route (the live stream starts streaming)
    good = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"{srv.url}{API}", timeout=10) as client:
        for method, path, kw in _routes():
            if path.endswith("/live"):
                with client.stream("GET", path, headers=good, **kw) as stream:
                    assert stream.status_code == 200
                continue
            resp = client.request(method, path, headers=good, **kw)
            want = 404 if "nope" in path else (204 if path == "/heartbeat" else 200)
            assert resp.status_code == want, (method, path, resp.text)
        other = {"Authorization": f"bearer {other_key}"}  # the scheme is case-insensitive
        assert client.get("/projects", headers=other).status_code == 200


# ----------------------------------------------------------------------------------------------
# I20 query caps
# ----------------------------------------------------------------------------------------------

def test_i20_huge_pages_and_deep_filters_refused(server: ServerProcess) -> None:
    now = time.time()
    resp = post_records(server, "i20", "r1", [start("i20", "r1", lr=0.1)] + [
        rec.Metrics(s, now, {"x": float(s)}) for s in range(5)])
    assert resp.status_code == 200
    base = f"{server.url}{API}/projects/i20"
    huge = 10**9
    capped = [
        (f"{base}/runs", {"limit": huge}, "limit", "less than or equal to 1000"),
        (f"{base}/runs", {"offset": 2**64}, "offset", "less than or equal to"),
        (f"{base}/runs/r1/history", {"page_size": huge}, "page_size", "less than or equal to 10000"),
        (f"{base}/runs/r1/series", {"key": "x", "buckets": huge}, "buckets",
         "less than or equal to 10000"),
        (f"{base}/runs/r1/console", {"limit": huge}, "limit", "less than or equal to 10000"),
        (f"{base}/runs/r1/console", {"offset": 2**64}, "offset", "less than or equal to"),
        (f"{base}/runs/r1/system", {"page_size": huge}, "page_size", "less than or equal to"),
    ]
    for url, params, name, message in capped:
        resp = httpx.get(url, params=params)
        assert resp.status_code == 422, (url, params, resp.text)
        detail = resp.json()["detail"][0]
        assert detail["loc"] == ["query", name] and message in detail["msg"], detail
    resp = httpx.post(f"{base}/series", json={"runs": ["r1"], "keys": ["x"], "buckets": huge})
    assert resp.status_code == 400
    assert resp.json()["detail"] == "buckets must be between 1 and 10000, got 1000000000"
    resp = httpx.post(f"{base}/series", json={"runs": [f"r{i}" for i in range(100)],
                                              "keys": [f"k{i}" for i in range(100)]})
    assert resp.status_code == 400 and "at most 2000" in resp.json()["detail"]

    nested_and = "(config.lr = 1 and " * 1000 + "state = \"x\"" + ")" * 1000
    deep_filters = [
        ("not " * 1000 + 'state = "x"', "nested deeper than 32"),
        ("!" * 1000 + 'state = "x"', "nested deeper than 32"),
        ("(config.lr = 1 or " * 300 + 'state = "x"' + ")" * 300, "nested deeper than 32"),
        (" or ".join(f"config.k{i} = {i}" for i in range(300)), "more than 200 terms"),
        ('{"$and": [' * 500 + '{"state": "x"}' + "]}" * 500, "nested"),
        (json.dumps(functools.reduce(lambda acc, _: {"$not": acc}, range(100), {"state": "x"})),
         "nested deeper than 32"),
        (",".join(["config.x"] * 20), "invalid filter"),
    ]
    for expr, message in deep_filters:
        resp = httpx.get(f"{base}/runs", params={"filter": expr})
        assert resp.status_code == 400, (expr[:40], resp.text[:300])
        assert message in resp.json()["detail"], (expr[:40], resp.json())
    resp = httpx.get(f"{base}/runs", params={"filter": nested_and})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["query", "filter"]
    resp = httpx.get(f"{base}/runs", params={"order": ",".join(["name"] * 17)})
    assert resp.status_code == 400 and "at most 16" in resp.json()["detail"]
    # redundant parentheses are harmless: parsed, answered, no 500
    resp = httpx.get(f"{base}/runs", params={"filter": "(" * 1000 + 'state = "x"' + ")" * 1000})
    assert resp.status_code in (200, 400), resp.text[:300]
    assert resp.status_code == 400 or resp.json()["total"] == 0
    # the read API surfaces the refusal as a ValidationError
    deep = functools.reduce(lambda acc, _: {"$and": [acc]}, range(200), {"state": "x"})
    with pytest.raises(ValidationError, match="nested"):
        list(read_api(server).runs("i20", filters=deep))
    assert_server_works(server)


# ----------------------------------------------------------------------------------------------
# I21 steps
# ----------------------------------------------------------------------------------------------

I21_SCRIPT = """
import json, kiseki
import numpy as np
run = kiseki.init(project="i21")
errors = {}
for label, bad in [("neg", -1), ("big", 2**63), ("float", 1.5), ("str", "3"), ("bool", True),
                   ("np_float", np.float64(2.5)), ("list", [1])]:
    try:
        run.log({"x": 1.0}, step=bad)
        errors[label] = None
    except kiseki.ValidationError as exc:
        errors[label] = str(exc)
run.log({"x": 5.0}, step=np.int64(5))
run.log({"x": 6.0}, step=np.float64(6.0))
run.log({"x": 7.0}, step=2**63 - 1)
run.finish()
print("RESULT " + json.dumps({"id": run.id, "errors": errors, "step": run.step}))
"""


def test_i21_bad_steps_refused_int64_kept(any_server: ServerProcess, tmp_path: Path) -> None:
    result, _ = sdk_script(any_server, tmp_path, I21_SCRIPT)
    assert result["errors"] == {
        "neg": "step must be an int between 0 and 2**63-1, got -1",
        "big": "step must be an int between 0 and 2**63-1, got 9223372036854775808",
        "float": "step must be an int >= 0, got 1.5",
        "str": "step must be an int >= 0, got '3'",
        "bool": "step must be an int >= 0, got True",
        "np_float": "step must be an int >= 0, got np.float64(2.5)",
        "list": "step must be an int >= 0, got [1]",
    }
    run = read_api(any_server).run(f"i21/{result['id']}")
    assert run.state == "finished" and run.last_step == 2**63 - 1
    rows = list(run.scan_history(page_size=2))
    assert [(r["_step"], r["x"]) for r in rows] == [(5, 5.0), (6, 6.0), (2**63 - 1, 7.0)]
    assert [r["_step"] for r in run.scan_history(min_step=7)] == [2**63 - 1]

    now = time.time()
    resp = post_records(any_server, "raw21", "r1", [
        start("raw21", "r1"), rec.Metrics(-1, now, {"neg": 1.0}),
        rec.Metrics(2**63, now, {"huge": 1.0}), rec.Metrics(0, now, {"ok": 1.0})])
    assert resp.status_code == 200, resp.text
    assert_rejected(resp.json(), [
        (2, "step must be an int between 0 and 2**63-1, got -1"),
        (3, "step must be an int between 0 and 2**63-1, got 9223372036854775808")])
    stored = read_api(any_server).run("raw21/r1")
    assert stored.keys == ["ok"] and stored.last_step == 0
    # a float step: refused (400), quarantined or skipped, never stored
    entry = msgspec.msgpack.encode([1, ["m", 1.5, now, {"flt": 1.0}]])
    body = rec.encode(rec.IngestBatch("raw21", "r1", uuid.uuid4().hex, [msgspec.Raw(entry)]))
    resp = post_raw(any_server, body)
    assert resp.status_code in (200, 400), resp.text
    if resp.status_code == 200:
        assert resp.json()["rejected"] or resp.json()["skipped_unknown"] == 1, resp.text
    assert read_api(any_server).run("raw21/r1").keys == ["ok"]
