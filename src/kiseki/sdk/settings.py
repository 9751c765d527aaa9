"""SDK settings: the one place that reads ``KISEKI_*`` environment variables on the client.

Precedence: explicit arguments > environment > the login file written by ``kiseki login``
(``<root>/login.json``) > defaults.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from kiseki.core.errors import UsageError

MODES = ("online", "offline", "disabled")


@dataclasses.dataclass
class Settings:
    """Client settings. Pass as ``kiseki.init(settings=Settings(...))`` or a dict.

    Attributes:
        base_url: server to send to; None means the embedded store under ``root_dir``.
        api_key: key sent as ``Authorization: Bearer`` to the server.
        root_dir: home of the embedded store and the login file (default ``~/.kiseki``).
        database_url: SQLAlchemy URL of the embedded store (default SQLite in ``root_dir``).
        mode: "online" (send while running), "offline" (log only) or "disabled".
        finish_timeout: seconds ``finish()`` waits for sending before leaving it to sync.
        init_timeout: seconds ``init()`` may spend reaching the server before going on.
        heartbeat_interval: seconds between liveness signals of an open run.
        heartbeat_timeout: seconds without a signal after which the read API shows a
            running run as crashed (embedded store; the server has its own setting).
        system_metrics_interval: seconds between system metric samples.
        media_encoder_threads: threads encoding logged images off the training thread; 0
            picks one per spare CPU core, up to 4 (image encoding releases the GIL).
        capture_git / capture_code / capture_packages / capture_hardware / capture_console /
        capture_system_metrics: opt-outs of automatic capture.
    """

    base_url: str | None = None
    api_key: str | None = None
    root_dir: str = ""
    database_url: str | None = None
    mode: str = "online"
    finish_timeout: float = 60.0
    init_timeout: float = 10.0
    heartbeat_interval: float = 15.0
    heartbeat_timeout: float = 300.0
    system_metrics_interval: float = 10.0
    media_encoder_threads: int = 0
    capture_git: bool = True
    capture_code: bool = True
    capture_packages: bool = True
    capture_hardware: bool = True
    capture_console: bool = True
    capture_system_metrics: bool = True

    def __post_init__(self) -> None:
        try:
            self.media_encoder_threads = int(self.media_encoder_threads)
        except (TypeError, ValueError):
            raise UsageError(f"media_encoder_threads must be a whole number (0 = automatic), "
                             f"got {self.media_encoder_threads!r}") from None
        if not 0 <= self.media_encoder_threads <= 32:
            raise UsageError(f"media_encoder_threads must be between 0 (automatic) and 32, got "
                             f"{self.media_encoder_threads}")
        if self.mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.root_dir:
            self.root_dir = str(Path.home() / ".kiseki")

    @property
    def embedded(self) -> bool:
        return not self.base_url

    def store_url(self) -> str:
        """SQLAlchemy URL of the embedded store."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.root_dir) / 'kiseki.db'}"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        return cls(**json.loads(text))


_BOOL_FIELDS = {f.name for f in dataclasses.fields(Settings) if f.type in ("bool", bool)}
# numeric fields parsed from the environment: the type and what the error calls it
_NUMBER_FIELDS: dict[str, tuple[type, str]] = {
    **{f.name: (float, "a number of seconds") for f in dataclasses.fields(Settings)
       if f.type in ("float", float)},
    **{f.name: (int, "a whole number") for f in dataclasses.fields(Settings)
       if f.type in ("int", int)},
}


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(Settings):
        raw = environ.get(f"KISEKI_{field.name.upper()}")
        if raw is None or raw == "":
            continue
        if field.name in _BOOL_FIELDS:
            out[field.name] = raw.strip().lower() not in ("0", "false", "no", "off")
        elif field.name in _NUMBER_FIELDS:
            kind, what = _NUMBER_FIELDS[field.name]
            try:
                out[field.name] = kind(raw)
            except ValueError:
                raise UsageError(
                    f"KISEKI_{field.name.upper()} must be {what}, got {raw!r}") from None
        else:
            out[field.name] = raw
    return out


def run_page_url(base_url: str | None, project: str, run_id: str) -> str:
    """The run's page in the web app (at ``kiseki server``'s default address when no server
    is set: the embedded store is what ``kiseki server`` serves there)."""
    from urllib.parse import quote

    base = (base_url or "http://127.0.0.1:8765").rstrip("/")
    return f"{base}/p/{quote(project, safe='')}/r/{quote(run_id, safe='')}"


def login_file(root_dir: str) -> Path:
    return Path(root_dir) / "login.json"


def load_settings(overrides: Settings | dict[str, Any] | None = None, **explicit: Any) -> Settings:
    """Resolve settings from explicit values, the environment and the login file."""
    env = _env_overrides(dict(os.environ))
    values: dict[str, Any] = {}
    root = env.get("root_dir") or str(Path.home() / ".kiseki")
    if isinstance(overrides, Settings):
        given = {k: v for k, v in dataclasses.asdict(overrides).items()
                 if v != getattr(_DEFAULTS, k)}
    else:
        given = dict(overrides or {})
    unknown = set(given) - {f.name for f in dataclasses.fields(Settings)}
    if unknown:
        raise UsageError(f"unknown setting(s) {sorted(unknown)}; see kiseki.Settings for names")
    root = given.get("root_dir") or root
    try:
        saved = json.loads(login_file(root).read_text())
    except (OSError, ValueError):
        saved = {}
    for key in ("base_url", "api_key"):
        if saved.get(key):
            values[key] = saved[key]
    values.update(env)
    values.update(given)
    values.update({k: v for k, v in explicit.items() if v is not None})
    return Settings(**values)


_DEFAULTS = Settings(root_dir="-")
