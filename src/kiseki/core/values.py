"""Turning arbitrary user values into JSON-able data, deterministically (reliability I01-I05).

``sanitize`` never raises: sets become sorted lists, datetimes ISO strings, paths strings,
dataclasses dicts, enums their value, arrays lists, and anything else its ``repr`` (or a
placeholder when ``repr`` itself fails). Depth, size and string limits
replace the excess with a marker and report it, so a 10,000-deep or cyclic config cannot crash
the caller. Non-finite floats survive: JSON documents carry them as ``{"$float": "nan"}``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

MAX_DEPTH = 64
MAX_ITEMS = 100_000
MAX_STRING = 1_000_000
TRUNCATED = "…[truncated by kiseki]"


@dataclasses.dataclass
class SanitizeReport:
    """What ``sanitize`` had to change; the SDK turns it into one warning."""

    truncated_strings: int = 0
    too_deep: int = 0
    cycles: int = 0
    dropped_items: int = 0
    fallbacks: int = 0

    def problems(self) -> list[str]:
        parts = []
        if self.truncated_strings:
            parts.append(f"{self.truncated_strings} string(s) over {MAX_STRING} characters cut")
        if self.too_deep:
            parts.append(f"{self.too_deep} value(s) nested deeper than {MAX_DEPTH} replaced")
        if self.cycles:
            parts.append(f"{self.cycles} reference cycle(s) replaced")
        if self.dropped_items:
            parts.append(f"{self.dropped_items} item(s) beyond {MAX_ITEMS} dropped")
        return parts


def sanitize(value: Any, report: SanitizeReport | None = None) -> Any:
    """Return a JSON-able copy of ``value`` (floats may be non-finite); never raises."""
    report = report if report is not None else SanitizeReport()
    budget = [MAX_ITEMS]
    return _clean(value, 0, set(), report, budget)


def _clean(value: Any, depth: int, path: set[int], report: SanitizeReport, budget: list[int]) -> Any:
    try:
        if value is None or isinstance(value, (bool, int, float)):
            return _plain_number(value)
        if isinstance(value, str):
            return _clean_str(value, report)
        scalar = as_number(value)
        if scalar is not None:
            return _plain_number(scalar)
        if depth >= MAX_DEPTH:
            report.too_deep += 1
            return f"<nested deeper than {MAX_DEPTH}>"
        if id(value) in path:
            report.cycles += 1
            return "<cycle>"
        path.add(id(value))
        try:
            return _clean_container(value, depth, path, report, budget)
        finally:
            path.discard(id(value))
    except Exception:  # noqa: BLE001 - a foreign object (__iter__, items, ...) may raise anything
        report.fallbacks += 1
        return _safe_repr(value)


def _clean_container(
    value: Any, depth: int, path: set[int], report: SanitizeReport, budget: list[int]
) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if budget[0] <= 0:
                report.dropped_items += 1
                continue
            budget[0] -= 1
            out[_clean_str(key if isinstance(key, str) else _safe_repr(key), report)] = _clean(
                item, depth + 1, path, report, budget
            )
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
        return _clean_container(fields, depth, path, report, budget)
    if isinstance(value, enum.Enum):
        return _clean(value.value, depth + 1, path, report, budget)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, PurePath):  # os.fsdecode: undecodable bytes are lone surrogates
        return _clean_str(str(value), report)
    if isinstance(value, (bytes, bytearray)):
        return _clean_str(bytes(value).decode("utf-8", "replace"), report)
    if isinstance(value, (set, frozenset)):
        items = [_clean(v, depth + 1, path, report, budget) for v in value]
        return sorted(items, key=repr)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        try:
            return _clean(tolist(), depth + 1, path, report, budget)
        except Exception:  # noqa: BLE001 - a foreign object's method may raise anything
            report.fallbacks += 1
            return _safe_repr(value)
    if isinstance(value, (list, tuple)) or (
        isinstance(value, Iterable) and not callable(value) and hasattr(value, "__len__")
    ):
        out_list = []
        for item in value:
            if budget[0] <= 0:
                report.dropped_items += 1
                continue
            budget[0] -= 1
            out_list.append(_clean(item, depth + 1, path, report, budget))
        return out_list
    report.fallbacks += 1
    return _safe_repr(value)


def _plain_number(value: Any) -> Any:
    kind = type(value)
    if kind is not int and kind is not float and value is not None and kind is not bool:
        # subclasses (numpy.float64, IntEnum, ...): encoders only take the plain types
        value = int(value) if isinstance(value, int) else float(value)
    if type(value) is int and not -(2**63) <= value < 2**63:
        return float(value)
    return value


def _clean_str(text: str, report: SanitizeReport) -> str:
    if type(text) is not str:  # numpy.str_, str subclasses: encoders only take plain str
        text = str.__str__(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if len(text) > MAX_STRING:
        report.truncated_strings += 1
        return text[:MAX_STRING] + TRUNCATED
    return text


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)[:1000]
    except Exception:  # noqa: BLE001 - user __repr__ may raise anything
        text = f"<unrepresentable {type(value).__name__}>"
    return _clean_str(text, SanitizeReport())  # a __repr__ may return NUL or lone surrogates


def as_number(value: Any) -> float | int | bool | None:
    """Coerce a numeric scalar (Python, numpy, torch, jax, Decimal, 1-element array) or None."""
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Decimal):
        return math.nan if value.is_nan() else float(value)  # float(sNaN) raises
    try:
        item = getattr(value, "item", None)  # a proxy's __getattr__ may raise anything
    except Exception:  # noqa: BLE001
        return None
    if item is None or not callable(item):
        return None
    try:
        numel = getattr(value, "numel", None)  # torch: size() is a shape, numel() a count
        if callable(numel):
            size = numel()
        else:
            size = getattr(value, "size", None)
            size = size() if callable(size) else size
            if isinstance(size, tuple):  # a shape
                size = math.prod(size)
        if size is not None and size != 1:
            return None
        result = item()
    except Exception:  # noqa: BLE001 - foreign array libraries raise many kinds
        return None
    return result if isinstance(result, (bool, int, float)) else None


# --- JSON documents with non-finite floats -------------------------------------------------

def to_json_safe(value: Any, negative_zero: bool = False) -> Any:
    """Replace NaN/±Inf floats by ``{"$float": "nan"|"inf"|"-inf"}`` so JSON can carry them.

    With ``negative_zero`` -0.0 becomes ``{"$float": "-0"}`` too: for stores whose JSON keeps
    numbers as decimals (PostgreSQL JSONB turns -0.0 into 0).
    """
    if isinstance(value, float):
        if math.isfinite(value):
            if negative_zero and value == 0 and math.copysign(1.0, value) < 0:
                return {"$float": "-0"}
            return value
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, dict):
        return {k: to_json_safe(v, negative_zero) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v, negative_zero) for v in value]
    return value


_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "-0": -0.0}


def from_json_safe(value: Any) -> Any:
    """Inverse of :func:`to_json_safe`."""
    if isinstance(value, dict):
        if len(value) == 1 and "$float" in value and value["$float"] in _SPECIAL:
            return _SPECIAL[value["$float"]]
        return {k: from_json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json_safe(v) for v in value]
    return value
