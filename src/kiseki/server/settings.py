"""Server settings: the one place that reads ``KISEKI_*`` variables on the server side."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from pathlib import Path


@dataclasses.dataclass
class ServerSettings:
    """Settings of one server process.

    Attributes:
        database_url: SQLAlchemy URL; default SQLite in ``data_dir``.
        data_dir: home of the default SQLite file and blobs.
        host / port: where to listen.
        insecure: allow listening on a non-loopback address without API keys.
        heartbeat_timeout: seconds without a heartbeat before a running run shows ``crashed``.
        startup_grace: seconds after start during which no run is marked crashed (R17).
        max_body_bytes / max_decompressed_bytes: ingest body limits (I11).
        max_blob_bytes: largest single file upload (media, artifact files), streamed to disk.
        blob_url: ``s3://bucket/prefix`` to keep blobs in S3-compatible object storage
            (credentials from the usual AWS variables or files); default ``data_dir/blobs``.
        s3_endpoint: endpoint of a non-AWS S3 service (MinIO, Ceph, ...).
    """

    database_url: str | None = None
    data_dir: str = ""
    host: str = "127.0.0.1"
    port: int = 8765
    insecure: bool = False
    heartbeat_timeout: float = 300.0
    startup_grace: float | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    max_decompressed_bytes: int = 256 * 1024 * 1024
    max_blob_bytes: int = 16 * 1024**3
    blob_url: str | None = None
    s3_endpoint: str | None = None

    def __post_init__(self) -> None:
        if not self.data_dir:
            self.data_dir = str(Path.home() / ".kiseki")
        if self.startup_grace is None:
            self.startup_grace = self.heartbeat_timeout

    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'kiseki.db'}"

    @property
    def loopback(self) -> bool:
        if self.host in ("localhost",):
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def auth_required(self) -> bool:
        return not self.loopback and not self.insecure


def from_env(**explicit: object) -> ServerSettings:
    """Settings from ``KISEKI_*`` variables, overridden by explicit non-None values."""
    env = os.environ
    values: dict[str, object] = {}
    if env.get("KISEKI_DATABASE_URL"):
        values["database_url"] = env["KISEKI_DATABASE_URL"]
    if env.get("KISEKI_ROOT_DIR"):
        values["data_dir"] = env["KISEKI_ROOT_DIR"]
    if env.get("KISEKI_HEARTBEAT_TIMEOUT"):
        values["heartbeat_timeout"] = float(env["KISEKI_HEARTBEAT_TIMEOUT"])
    if env.get("KISEKI_BLOB_URL"):
        values["blob_url"] = env["KISEKI_BLOB_URL"]
    if env.get("KISEKI_S3_ENDPOINT"):
        values["s3_endpoint"] = env["KISEKI_S3_ENDPOINT"]
    if env.get("KISEKI_STARTUP_GRACE"):
        values["startup_grace"] = float(env["KISEKI_STARTUP_GRACE"])
    values.update({k: v for k, v in explicit.items() if v is not None})
    return ServerSettings(**values)  # type: ignore[arg-type]
