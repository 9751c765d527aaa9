"""``run.config`` and ``run.summary``: dict-like objects that write records when changed."""

from __future__ import annotations

import fnmatch
import math
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kiseki.core.errors import UsageError
from kiseki.core.keys import validate_key
from kiseki.core.values import SanitizeReport, sanitize


class Config:
    """Hyperparameters of a run; attribute and item access, ``update``.

    Example:
        >>> run.config.lr = 0.01
        >>> run.config.update({"batch_size": 64})
        >>> run.config["lr"]
        0.01
    """

    def __init__(self, on_change: Callable[[dict[str, Any]], None] | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_warn", warn)
        object.__setattr__(self, "_locked", False)

    def _set_many(self, values: Mapping[str, Any], allow_val_change: bool = True) -> None:
        items: dict[str, Any] = self._items
        report = SanitizeReport()
        clean: dict[str, Any] = {}
        for key, value in values.items():
            # config keys are free-form (wandb allows "a.b", "", "."); they are data, not
            # metric names, so they are only made plain text, NFC like every key (I06)
            name = unicodedata.normalize("NFC", sanitize(str(key), report))
            new = sanitize(value, report)
            if not allow_val_change and name in items and items[name] != new:
                raise UsageError(
                    f"config key {name!r} already set to {items[name]!r}; pass "
                    "allow_val_change=True to change it"
                )
            clean[name] = new
        items.update(clean)
        if report.problems() and self._warn:
            self._warn("config: " + "; ".join(report.problems()))
        if clean and self._on_change:
            self._on_change(clean)

    def update(self, values: Mapping[str, Any] | Any, allow_val_change: bool = True) -> None:
        """Merge a dict (or an argparse Namespace / object with ``__dict__``) into the config."""
        if not isinstance(values, Mapping):
            values = getattr(values, "__dict__", None) or {}
        self._set_many(values, allow_val_change)

    def setdefaults(self, values: Mapping[str, Any]) -> None:
        self._set_many({k: v for k, v in values.items() if k not in self._items})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._items)

    def keys(self) -> Any:
        return self._items.keys()

    def items(self) -> Any:
        return self._items.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._set_many({key: value})

    def __getattr__(self, name: str) -> Any:
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError(f"config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._set_many({name: value})

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Config({self._items!r})"


SUMMARY_MODES = ("min", "max", "mean", "first", "last", "none")


class Summary:
    """The run's summary: the last value of each metric unless defined otherwise, writable.

    Values written by the user (``run.summary["best"] = 0.9``) win over computed ones.
    """

    def __init__(self, on_change: Callable[[dict[str, Any], list[str]], None]) -> None:
        self._on_change = on_change
        self._user: dict[str, Any] = {}
        self._last: dict[str, float] = {}
        self._stats: dict[str, list[float]] = {}  # key -> [min, max, sum, count, first]
        self._rules: list[tuple[str, str]] = []  # define_metric (name or glob, mode), in order
        self._modes: dict[str, str | None] = {}  # key -> its resolved mode (None: "last")

    # -- fed by Run.log -----------------------------------------------------------------------
    def observe(self, values: dict[str, float]) -> None:
        self._last.update(values)
        if self._rules:
            modes = self._modes
            for key, value in values.items():
                mode = modes[key] if key in modes else self._resolve(key)
                if mode is not None:
                    self._track(key, value)

    def add_rule(self, pattern: str, mode: str) -> None:
        """``define_metric(pattern, summary=mode)``; the latest matching rule wins, as on the
        server. Keys already logged follow it from now on."""
        self._rules.append((pattern, mode))
        for key in list(self._modes) + list(self._last):
            self._modes.pop(key, None)
            self._resolve(key)

    def _resolve(self, key: str) -> str | None:
        mode = next((m for p, m in reversed(self._rules) if fnmatch.fnmatchcase(key, p)), None)
        self._modes[key] = None if mode in (None, "last") else mode
        return self._modes[key]

    def _track(self, key: str, value: float) -> None:
        stats = self._stats.get(key)
        if stats is None:
            finite = not math.isnan(value)  # a NaN counts for neither sum nor count (mean)
            self._stats[key] = [value, value, value if finite else 0.0, float(finite), value]
            return
        if not math.isnan(value):
            stats[0] = value if math.isnan(stats[0]) or value < stats[0] else stats[0]
            stats[1] = value if math.isnan(stats[1]) or value > stats[1] else stats[1]
            stats[2] += value
            stats[3] += 1

    def computed(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self._last.items():
            mode = self._modes.get(key) or "last"
            stats = self._stats.get(key)
            if mode == "none":
                continue
            if mode == "last" or stats is None:
                out[key] = value
            elif mode == "min":
                out[key] = stats[0]
            elif mode == "max":
                out[key] = stats[1]
            elif mode == "mean":
                out[key] = stats[2] / stats[3] if stats[3] else math.nan
            elif mode == "first":
                out[key] = stats[4]
        return out

    def as_dict(self) -> dict[str, Any]:
        out = self.computed()
        out.update(self._user)
        return out

    # -- mapping protocol ---------------------------------------------------------------------
    def update(self, values: Mapping[str, Any]) -> None:
        """Write values into the summary (they override computed ones)."""
        clean = {validate_key(str(k)): sanitize(v) for k, v in values.items()}
        self._user.update(clean)
        self._on_change(clean, [])

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def __delitem__(self, key: str) -> None:
        self._user.pop(key, None)
        self._last.pop(key, None)
        self._on_change({}, [key])

    def get(self, key: str, default: Any = None) -> Any:
        return self.as_dict().get(key, default)

    def keys(self) -> Any:
        return self.as_dict().keys()

    def items(self) -> Any:
        return self.as_dict().items()

    def __contains__(self, key: object) -> bool:
        return key in self.as_dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())

    def __repr__(self) -> str:
        return f"Summary({self.as_dict()!r})"
