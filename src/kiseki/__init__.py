"""kiseki: self-hosted experiment tracking shaped like wandb.

Example:
    >>> import kiseki
    >>> with kiseki.init(project="demo", config={"lr": 0.01}) as run:
    ...     for step in range(100):
    ...         run.log({"loss": 1 / (step + 1)})

``import kiseki as wandb`` works for everyday scripts. Importing this module stays light: the
store, the server and the HTTP client load only when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kiseki.core.errors import (
    KisekiError, NotFoundError, StepOrderError, UsageError, ValidationError,
)

if TYPE_CHECKING:
    from kiseki.sdk.api import Api
    from kiseki.sdk.artifacts import Artifact
    from kiseki.sdk.init import init
    from kiseki.sdk.media import Histogram, Image, Table
    from kiseki.sdk.run import Run
    from kiseki.sdk.settings import Settings

__version__ = "0.1.0"

# Loaded on first use, so that processes importing only a part of kiseki (the sender, the
# server) do not pay for the whole SDK.
_LAZY = {"Api": "kiseki.sdk.api", "init": "kiseki.sdk.init", "Run": "kiseki.sdk.run",
         "Settings": "kiseki.sdk.settings", "Image": "kiseki.sdk.media",
         "Table": "kiseki.sdk.media", "Histogram": "kiseki.sdk.media",
         "Artifact": "kiseki.sdk.artifacts"}


def current_run() -> Run | None:
    from kiseki.sdk.init import current_run as _current

    return _current()

Error = KisekiError  # wandb.Error: the base of every error kiseki raises

__all__ = [
    "Api", "Artifact", "Error", "Histogram", "Image", "KisekiError", "NotFoundError", "Run", "Table", "Settings", "StepOrderError", "UsageError",
    "ValidationError", "__version__", "alert", "config", "define_metric", "finish", "init",
    "link_model", "log", "log_artifact", "log_model", "login", "run", "summary", "use_artifact",
    "use_model",
]


def _require_run(what: str) -> Run:
    run = current_run()
    if run is None:
        raise UsageError(f"Call kiseki.init() before kiseki.{what}()")
    return run


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """Log to the current run; see :meth:`kiseki.Run.log`."""
    _require_run("log").log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run; see :meth:`kiseki.Run.finish`."""
    run = current_run()
    if run is not None:
        run.finish(exit_code=exit_code)


def define_metric(name: str, step_metric: str | None = None, summary: str | None = None,
                  hidden: bool = False, step_sync: bool | None = None) -> None:
    """Define how a metric is summarised; see :meth:`kiseki.Run.define_metric`."""
    _require_run("define_metric").define_metric(name, step_metric, summary, hidden)


def alert(title: str, text: str, level: str = "INFO", wait_duration: float = 0) -> None:
    """Record an alert on the current run."""
    _require_run("alert").alert(title, text, level)


def login(key: str | None = None, host: str | None = None, relogin: bool | None = None,
          verify: bool = True, **_: Any) -> bool:
    """Save the server (``host``) and API key this machine's runs go to, as ``kiseki login``
    does (wandb's ``login``); without ``host``, the server already configured is checked with
    the new key. Raises when the server cannot be reached or refuses the key."""
    from kiseki.sdk.login import save_login
    from kiseki.sdk.settings import load_settings

    url = host or load_settings().base_url
    if not url:
        raise UsageError("kiseki.login() needs host='http(s)://your-kiseki-server' (no server "
                         "is configured; without one, runs are stored locally)")
    save_login(url, key, verify)
    return True


def log_artifact(artifact_or_path: Any, name: str | None = None, type: str | None = None,
                 aliases: list[str] | None = None) -> Any:
    """Log an artifact from the current run; see :meth:`kiseki.Run.log_artifact`."""
    return _require_run("log_artifact").log_artifact(artifact_or_path, name=name, type=type,
                                                     aliases=aliases)


def use_artifact(artifact_or_name: Any, type: str | None = None,
                 aliases: list[str] | None = None) -> Any:
    """Record an artifact as an input of the current run; see :meth:`kiseki.Run.use_artifact`."""
    return _require_run("use_artifact").use_artifact(artifact_or_name, type=type, aliases=aliases)


def log_model(path: str, name: str | None = None, aliases: list[str] | None = None) -> Any:
    """Log a model file or folder from the current run; see :meth:`kiseki.Run.log_model`."""
    return _require_run("log_model").log_model(path, name=name, aliases=aliases)


def use_model(name: str) -> str:
    """Download a model for the current run; see :meth:`kiseki.Run.use_model`."""
    return _require_run("use_model").use_model(name)


def link_model(path: str, registered_model_name: str, name: str | None = None,
               aliases: list[str] | None = None) -> None:
    """Log a model and link it into the registry; see :meth:`kiseki.Run.link_model`."""
    _require_run("link_model").link_model(path, registered_model_name, name=name, aliases=aliases)


class _BeforeInit:
    """What ``kiseki.config``/``kiseki.summary`` are before ``init``: any use says so."""

    _name: str

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise UsageError(f"Call kiseki.init() before using kiseki.{self._name}")

    __getattr__ = __getitem__ = __setitem__ = __setattr__ = __contains__ = __iter__ = _fail
    update = keys = items = get = _fail

    def __repr__(self) -> str:
        return f"<kiseki.{self._name}: no run yet; call kiseki.init()>"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    # `kiseki.run`, `kiseki.config` and `kiseki.summary` follow the current run.
    if name == "run":
        return current_run()
    if name in ("config", "summary"):
        run = current_run()
        return _BeforeInit(name) if run is None else getattr(run, name)
    raise AttributeError(f"module 'kiseki' has no attribute {name!r}")
