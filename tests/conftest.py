"""Shared fixtures: isolated kiseki homes, a throwaway PostgreSQL database, a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

PG_ADMIN_URL = os.environ.get("KISEKI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ENV_VARS = ("KISEKI_BASE_URL", "KISEKI_API_KEY", "KISEKI_DATABASE_URL", "KISEKI_MODE",
            "KISEKI_PROJECT", "KISEKI_RUN_DIR")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own kiseki home and no inherited server settings."""
    home = tmp_path / "home"
    home.mkdir()
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KISEKI_ROOT_DIR", str(home))
    monkeypatch.setenv("KISEKI_CAPTURE_PACKAGES", "false")  # speed; covered in its own test
    monkeypatch.setenv("KISEKI_FINISH_TIMEOUT", "30")
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("postgresql://", "postgresql://", 1),
                             connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 but CI needs it")
        pytest.skip("PostgreSQL not reachable")
    import psycopg

    name = f"kiseki_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + \
        f"/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _clean_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL for each backend; the PostgreSQL one starts empty."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("pg_url")
    _clean_pg(url)
    return url


class ServerProcess:
    """A real `kiseki server` process."""

    def __init__(self, data_dir: Path, database_url: str | None = None,
                 extra: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.database_url = database_url
        self.extra = extra or []
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"server-{self.port}.log"

    def start(self, wait: bool = True) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "kiseki", "server", "--port", str(self.port),
               "--dir", str(self.data_dir), *self.extra]
        if self.database_url:
            cmd += ["--database", self.database_url]
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A `kiseki server` on SQLite in a temporary folder."""
    srv = ServerProcess(tmp_path / "server").start()
    yield srv
    srv.stop()


@pytest.fixture
def any_server(tmp_path: Path, store_url: str) -> Iterator[ServerProcess]:
    """A `kiseki server` on each store backend (SQLite and PostgreSQL)."""
    srv = ServerProcess(tmp_path / "server", database_url=store_url).start()
    yield srv
    srv.stop()


def run_script(code: str, tmp_path: Path, env: dict[str, str] | None = None,
               timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a training script as a user would: `python script.py` in its own process."""
    script = tmp_path / f"script_{uuid.uuid4().hex[:6]}.py"
    script.write_text(textwrap.dedent(code))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"script failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


class MotoS3:
    """moto's S3-compatible server in its own process, over real HTTP."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "moto.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env={**os.environ, **S3_ENV})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url, timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"moto server did not start: {self.log.read_text()[-2000:]}")

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


S3_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
          "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    server = MotoS3(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def s3_server(tmp_path: Path, moto_s3: MotoS3, store_url: str,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    """A `kiseki server` keeping blobs in a fresh bucket of the S3-compatible server, on each
    store backend (SQLite and PostgreSQL)."""
    bucket = f"kiseki-{uuid.uuid4().hex[:12]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    srv = ServerProcess(tmp_path / "server", database_url=store_url,
                        extra=["--blob-url", f"s3://{bucket}/blobs",
                               "--s3-endpoint", moto_s3.url], env=S3_ENV)
    srv.bucket = bucket  # type: ignore[attr-defined]
    srv.start()
    yield srv
    srv.stop()
