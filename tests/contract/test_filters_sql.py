"""Filters compiled to SQL return exactly the right runs on SQLite and PostgreSQL (I13, I20)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from kiseki.core.errors import ValidationError
from kiseki.core.filters import MAX_IN_VALUES, Node, from_mongo, parse_filter, parse_order
from kiseki.store.filters import compile_filter, compile_order
from kiseki.store.tables import metadata, projects, runs

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NAN = {"$float": "nan"}
DROP = "'; DROP TABLE runs; --"
OR_TRUE = "' OR 1=1 --"

# run_id: (name, state, group, job_type, notes, config, summary, tags)
RUNS: dict[str, tuple[Any, ...]] = {
    "r1": ("baseline", "finished", "g1", "train", "first try",
           {"lr": 0.1, "opt": {"name": "adam", "beta": 0.9}, "layers": 4, "use_bn": True,
            "mode": "fast"},
           {"loss": 0.5, "val/loss": 0.6}, ["best", "v1"]),
    "r2": ("lr-sweep-a", "finished", "g1", "train", None,
           {"lr": 0.01, "opt": {"name": "sgd"}, "layers": 8, "use_bn": False, "mode": "slow"},
           {"loss": 0.3, "val/loss": 0.25, "train.acc": 0.9}, ["sweep"]),
    "r3": ("lr-sweep-b", "crashed", "g2", None, "Diverged 100%",
           {"lr": 0.001, "opt": {"name": "SGD"}, "layers": "8"}, {"loss": NAN}, ["sweep", "best"]),
    "r4": ("Test run", "running", None, None, "has_underscore",
           {"lr": 1e-4, "note": None}, {}, []),
    "r5": ("test-2", "failed", "g2", "eval", "", {"lr": "0.5", "batch": 32, "mode": "auto"},
           {"loss": 1.5, "train": {"acc": 0.7}}, ["v1"]),
    "r6": ("prod", "finished", None, "train", "ship it", {"lr": 0.05, "layers": 16},
           {"loss": 0.2}, ["best"]),
    "r7": ("it's quoted", "killed", "g3", None, None, {"a": {"b": 1}}, {"a.b": 2}, ["x"]),
    "r8": (DROP, "finished", None, None, None, {}, {"loss": -1}, [OR_TRUE]),
}
ALL = set(RUNS)


def _rows() -> list[dict[str, Any]]:
    rows = []
    for index, (run_id, values) in enumerate(RUNS.items()):
        name, state, group, job_type, notes, config, summary, tags = values
        rows.append({
            "project_id": 1, "run_id": run_id, "name": name, "state": state, "run_group": group,
            "job_type": job_type, "notes": notes, "config": config, "summary": summary,
            "summary_user": {}, "tags": tags, "env": {}, "metric_defs": {},
            "created_at": 1000.0 + index, "updated_at": 2000.0 - index, "heartbeat_at": 2000.0,
        })
    return rows


def _fill(engine: sa.Engine) -> sa.Engine:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(projects.insert().values(id=1, name="p", created_at=0.0, updated_at=0.0))
        conn.execute(runs.insert(), _rows())
    return engine


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    path: Path = tmp_path_factory.mktemp("filters") / "kiseki.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    yield _fill(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_engine() -> Iterator[sa.Engine]:
    database = f"kiseki_filters_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f"CREATE DATABASE {database}")
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
    engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}")
    try:
        yield _fill(engine)
    finally:
        engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> sa.Engine:
    fixture = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    result: sa.Engine = request.getfixturevalue(fixture)
    return result


def matching(engine: sa.Engine, node: Node) -> set[str]:
    query = sa.select(runs.c.run_id).where(compile_filter(node, runs, engine.dialect.name))
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def ordered(engine: sa.Engine, spec: str) -> list[str]:
    order = compile_order(parse_order(spec), runs, engine.dialect.name)
    query = sa.select(runs.c.run_id).order_by(*order, runs.c.run_id)
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def run_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one())


CASES: list[tuple[str, set[str]]] = [
    # numeric comparisons on JSON numbers only (r5's lr is the string "0.5", r3's loss is NaN)
    ("config.lr > 0.01", {"r1", "r6"}),
    ("config.lr >= 0.01", {"r1", "r2", "r6"}),
    ("config.lr < 0.01", {"r3", "r4"}),
    ("config.lr <= 1e-4", {"r4"}),
    ("config.lr = 0.1", {"r1"}),
    ('config.lr = "0.5"', {"r5"}),
    ("summary.loss < 0.4", {"r2", "r6", "r8"}),
    ("summary.loss >= -1", {"r1", "r2", "r5", "r6", "r8"}),
    ("summary.`val/loss` < 0.3", {"r2"}),
    # nested paths, and the flat "a.b" key the SDK writes for flattened metrics
    ('config.opt.name = "sgd"', {"r2"}),
    ("config.opt.beta > 0.5", {"r1"}),
    ("config.a.b = 1", {"r7"}),
    ("summary.a.b = 2", {"r7"}),
    ("summary.train.acc > 0.5", {"r2", "r5"}),
    ("summary.`train.acc` > 0.5", {"r2"}),
    # JSON types are not mixed up
    ("config.layers = 8", {"r2"}),
    ('config.layers = "8"', {"r3"}),
    ("config.layers in [8, 16]", {"r2", "r6"}),
    ('config.layers in ["8", 4]', {"r1", "r3"}),
    ("config.use_bn = true", {"r1"}),
    ("config.use_bn = false", {"r2"}),
    ("config.use_bn != true", ALL - {"r1"}),
    ("config.use_bn in [true, 1]", {"r1"}),
    ('config.mode > "b"', {"r1", "r2"}),
    ('config.mode <= "auto"', {"r5"}),
    # exists and null: "= null" is missing or JSON null
    ("config.note exists", {"r4"}),
    ("config.note = null", ALL),
    ("config.lr = null", {"r7", "r8"}),
    ("config.lr != null", ALL - {"r7", "r8"}),
    ("config.lr in [null, 0.1]", {"r1", "r7", "r8"}),
    ("not config.lr exists", {"r7", "r8"}),
    ("summary.loss exists", ALL - {"r4", "r7"}),
    # two-valued logic: NOT is the exact complement, missing values included
    ("not config.lr > 0.01", ALL - {"r1", "r6"}),
    ("config.lr != 0.1", ALL - {"r1"}),
    ("config.lr not in [0.1, 0.01]", ALL - {"r1", "r2"}),
    # tags
    ('tags contains "best"', {"r1", "r3", "r6"}),
    ('tags in ["sweep", "v1"]', {"r1", "r2", "r3", "r5"}),
    ('tags not in ["best"]', ALL - {"r1", "r3", "r6"}),
    ('not tags contains "best"', ALL - {"r1", "r3", "r6"}),
    ("tags in []", set()),
    ('tags contains "BEST"', set()),
    # text columns, ~ is a case-insensitive substring with % and _ taken literally
    ('name ~ "test"', {"r4", "r5"}),
    ('name ~ "SWEEP"', {"r2", "r3"}),
    ('notes ~ "100%"', {"r3"}),
    ('notes ~ "%"', {"r3"}),
    ('notes ~ "_"', {"r4"}),
    ('config.opt.name ~ "Sg"', {"r2", "r3"}),
    ('state in ["finished", "crashed"]', {"r1", "r2", "r3", "r6", "r8"}),
    ('state != "finished"', {"r3", "r4", "r5", "r7"}),
    ('group = "g1"', {"r1", "r2"}),
    ("group = null", {"r4", "r6", "r8"}),
    ('group != "g1"', ALL - {"r1", "r2"}),
    ('group in ["g2", null]', {"r3", "r4", "r5", "r6", "r8"}),
    ("job_type exists", {"r1", "r2", "r5", "r6"}),
    ('notes = ""', {"r5"}),
    ('notes != "ship it"', ALL - {"r6"}),
    ('not notes ~ "i"', ALL - {"r1", "r3", "r6"}),
    ('id = "r3"', {"r3"}),
    ('run_id in ["r1", "r9"]', {"r1"}),
    ("name = \"it's quoted\"", {"r7"}),
    # times
    ("created_at >= 1006", {"r7", "r8"}),
    ("updated_at > 1998.5", {"r1", "r2"}),
    ('created_at < "1970-01-01T00:16:42Z"', {"r1", "r2"}),
    # combinations
    ('config.lr > 0.01 and (state = "finished" or tags contains "best") and not name ~ "test"',
     {"r1", "r6"}),
    ('state = "finished" && (summary.loss < 0.4 || group = "g1")', {"r1", "r2", "r6", "r8"}),
    ('!(state = "finished") AND tags contains "sweep"', {"r3"}),
    ("", ALL),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] or "<blank>" for c in CASES])
def test_filter_returns_exactly_the_matching_runs(engine: sa.Engine, text: str,
                                                   expected: set[str]) -> None:
    assert matching(engine, parse_filter(text)) == expected


MONGO_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"config.lr": {"$gt": 0.01}}, {"r1", "r6"}),
    ({"$or": [{"state": "crashed"}, {"tags": "v1"}]}, {"r1", "r3", "r5"}),
    ({"display_name": {"$regex": "sweep"}}, {"r2", "r3"}),
    ({"tags": {"$in": ["sweep"]}}, {"r2", "r3"}),
    ({"config.lr": {"$exists": False}}, {"r7", "r8"}),
    ({"createdAt": {"$gte": 1003, "$lt": 1005}}, {"r4", "r5"}),
    ({"$and": [{"state": "finished"}, {"$not": {"group": "g1"}}]}, {"r6", "r8"}),
    ({"summary_metrics.loss": {"$lte": 0.3}, "state": {"$ne": "killed"}}, {"r2", "r6", "r8"}),
    ({"config.layers": {"$nin": [4, 8]}}, ALL - {"r1", "r2"}),
    ({"tags": {"$all": ["sweep", "best"]}}, {"r3"}),
]


@pytest.mark.parametrize(("query", "expected"), MONGO_CASES, ids=[str(c[0]) for c in MONGO_CASES])
def test_mongo_filter_returns_exactly_the_matching_runs(engine: sa.Engine, query: dict[str, Any],
                                                         expected: set[str]) -> None:
    assert matching(engine, from_mongo(query)) == expected


@pytest.mark.parametrize(("spec", "expected"), [
    # numbers numerically, then the NaN object, then runs lacking the key, in both directions
    ("-summary.loss", ["r5", "r1", "r2", "r6", "r8", "r3", "r4", "r7"]),
    ("summary.loss", ["r8", "r6", "r2", "r1", "r5", "r3", "r4", "r7"]),
    ("+config.layers", ["r1", "r2", "r6", "r3", "r4", "r5", "r7", "r8"]),
    ("group,-created_at", ["r2", "r1", "r5", "r3", "r7", "r8", "r6", "r4"]),
    ("-group,created_at", ["r7", "r3", "r5", "r1", "r2", "r4", "r6", "r8"]),
    ("-created_at", ["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1"]),
])
def test_order(engine: sa.Engine, spec: str, expected: list[str]) -> None:
    assert ordered(engine, spec) == expected


# --- I13: injection -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    (f'name = "{DROP}"', {"r8"}),
    (f'name = "{OR_TRUE}"', set()),
    (f'name ~ "{OR_TRUE}"', set()),
    (f'tags contains "{OR_TRUE}"', {"r8"}),
    (f'state in ["x", "{OR_TRUE}", "{DROP}"]', set()),
    ('name = "x\\" OR 1=1 --"', set()),
    ("config.`lr') OR 1=1 --` > 0", set()),
    ("config.`lr'; DROP TABLE runs; --` = 1", set()),
    ("summary.`]` = 1", set()),
])
def test_i13_injection_payloads_are_plain_values(engine: sa.Engine, text: str,
                                                  expected: set[str]) -> None:
    node = parse_filter(text)
    clause = compile_filter(node, runs, engine.dialect.name)
    sql = str(sa.select(runs.c.run_id).where(clause).compile(dialect=engine.dialect))
    assert "DROP" not in sql and "1=1" not in sql
    assert matching(engine, node) == expected
    assert run_count(engine) == len(RUNS)


@pytest.mark.parametrize("text", [
    DROP, OR_TRUE, f"name = '' {OR_TRUE}", f"name = ''{DROP}", 'name = "x" OR 1=1 --',
    'config."lr" > 0', "config.[lr] > 0", 'config.`lr") OR 1=1 --` > 0', "runs.name = 'x'",
    'name = "x"; DROP TABLE runs', "name = x", "state = finished",
])
def test_i13_injection_syntax_is_refused(engine: sa.Engine, text: str) -> None:
    with pytest.raises(ValidationError):
        parse_filter(text)
    assert run_count(engine) == len(RUNS)


def test_i13_mongo_keys_and_values_are_not_sql(engine: sa.Engine) -> None:
    assert matching(engine, from_mongo({f"config.lr{DROP}": 1})) == set()
    assert matching(engine, from_mongo({"name": {"$in": [OR_TRUE, DROP]}})) == {"r8"}
    with pytest.raises(ValidationError):
        from_mongo({f"name{DROP}": 1})
    assert run_count(engine) == len(RUNS)


def test_i13_in_lists_up_to_the_cap_work_and_beyond_it_are_refused(engine: sa.Engine) -> None:
    names = [f"n{i}" for i in range(MAX_IN_VALUES - 1)] + ["prod"]
    assert matching(engine, from_mongo({"name": {"$in": names}})) == {"r6"}
    numbers = ", ".join(str(i / 100) for i in range(MAX_IN_VALUES))
    assert matching(engine, parse_filter(f"config.lr in [{numbers}]")) == {"r1", "r2", "r6"}
    with pytest.raises(ValidationError, match=f"at most {MAX_IN_VALUES}"):
        parse_filter(f"config.lr in [{numbers}, 7]")
    with pytest.raises(ValidationError, match=f"at most {MAX_IN_VALUES}"):
        from_mongo({"tags": {"$in": names + ["one too many"]}})


def test_i20_maximal_filters_still_run(engine: sa.Engine) -> None:
    wide = " or ".join(f"config.layers = {i}" for i in range(199))
    assert matching(engine, parse_filter(wide)) == {"r1", "r2", "r6"}
    deep = "not " * 30 + "config.lr > 0.01"
    assert matching(engine, parse_filter(deep)) == {"r1", "r6"}


_FIELDS = st.sampled_from(["config.lr", "config.opt.name", "config.layers", "config.use_bn",
                           "summary.loss", "summary.train.acc", "config.note", "notes", "group"])
_VALUES = st.sampled_from(["0.05", "-1", "8", '"8"', '"sgd"', "'%_'", "true", "null", '"g1"'])
_PREDICATES = st.one_of(
    st.tuples(_FIELDS, st.sampled_from(["=", "!=", "<", ">=", "~"]), _VALUES).map(" ".join),
    st.tuples(_FIELDS, st.sampled_from(["in", "not in"]),
              st.lists(_VALUES, max_size=3).map(lambda vs: "[" + ", ".join(vs) + "]")).map(" ".join),
    _FIELDS.map(lambda f: f + " exists"),
    st.sampled_from(['tags contains "best"', 'tags in ["v1", "x"]']),
)
_FILTERS = st.recursive(_PREDICATES, lambda inner: st.one_of(
    inner.map(lambda f: f"not ({f})"),
    st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
), max_leaves=6)


@settings(max_examples=60, deadline=None, database=None)
@given(_FILTERS)
def test_every_filter_that_parses_runs_and_its_negation_is_the_exact_complement(
        engine: sa.Engine, text: str) -> None:
    try:
        node = parse_filter(text)
    except ValidationError:
        return  # e.g. "~" with a number: refused before any SQL exists
    hits, misses = matching(engine, node), matching(engine, parse_filter(f"not ({text})"))
    assert hits | misses == ALL
    assert not hits & misses
