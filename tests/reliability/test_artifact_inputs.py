"""Hostile artifact content (reliability I10, I18, I19): archives, pickles and references are
stored and served as opaque bytes, never opened, unpickled or fetched by the server."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import httpx
import pytest

import kiseki
from kiseki.core.errors import ValidationError
from tests.conftest import ServerProcess, run_script


class _Boom:
    """Unpickling this writes a marker file (what a malicious checkpoint would do)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (Path(self.marker), "unpickled!"))


def test_i10_i18_i19_archives_pickles_and_references_stay_opaque(
        tmp_path: Path, server: ServerProcess) -> None:
    marker = tmp_path / "server-unpickled-me"
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(_Boom(str(marker))))
    bomb = io.BytesIO()  # a zip bomb: 200 MB of zeros in a few hundred kB, and a tar-slip name
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * 200_000_000)
        archive.writestr("../../escape.txt", "slip")
    (tmp_path / "data.zip").write_bytes(bomb.getvalue())
    run_script("""
        import kiseki
        with kiseki.init(project="hostile") as run:
            art = kiseki.Artifact("bundle", type="model")
            art.add_file("model.pkl")
            art.add_file("data.zip")
            # a reference the server must never fetch (cloud metadata service)
            art.add_reference("http://169.254.169.254/latest/meta-data/", name="meta",
                              checksum=False)
            run.log_artifact(art)
            art.wait(timeout=60)
    """, tmp_path, env={"KISEKI_BASE_URL": server.url})

    base = f"{server.url}/api/v1/projects/hostile/artifacts/bundle/v0"
    files = {f["path"]: f for f in httpx.get(f"{base}/files").json()["files"]}
    assert files["data.zip"]["size"] == len(bomb.getvalue())  # stored as sent, not expanded
    assert files["meta"]["ref"] == "http://169.254.169.254/latest/meta-data/"
    for path, body in (("model.pkl", (tmp_path / "model.pkl").read_bytes()),
                       ("data.zip", bomb.getvalue())):
        resp = httpx.get(f"{base}/file", params={"path": path})
        assert resp.status_code == 200 and resp.content == body
        assert resp.headers["content-type"] == "application/octet-stream"
        assert resp.headers["content-disposition"].startswith("attachment")
        assert resp.headers["x-content-type-options"] == "nosniff"
    # a reference is the client's to fetch: the server neither proxies nor redirects to it
    ref = httpx.get(f"{base}/file", params={"path": "meta", "redirect": "true"})
    assert ref.status_code == 404 and "location" not in ref.headers
    assert not marker.exists()
    assert not list(server.data_dir.rglob("escape.txt"))

    # I17: another project cannot reach these bytes, by name or by content id, and learns
    # nothing from the answer
    sha = files["model.pkl"]["sha256"]
    assert httpx.get(f"{server.url}/api/v1/projects/hostile/blobs/{sha}").status_code == 200
    run_script("""
        import kiseki
        with kiseki.init(project="other") as run:
            run.log({"x": 1.0})
    """, tmp_path, env={"KISEKI_BASE_URL": server.url})
    other = f"{server.url}/api/v1/projects/other"
    unknown = "0" * 64
    for url in (f"{other}/blobs/{sha}", f"{other}/blobs/{unknown}",
                f"{other}/artifacts/bundle/v0/files"):
        resp = httpx.get(url)
        assert resp.status_code == 404, url
    stored = httpx.get(f"{other}/blobs/{sha}").json()["detail"]
    assert stored.replace(sha, unknown) == httpx.get(f"{other}/blobs/{unknown}").json()["detail"]

    # the SDK does not fetch a link-local reference either (nor one spelled as an IPv6-mapped
    # address), and says why
    with kiseki.Api(settings={"base_url": server.url}) as api:
        art = api.artifact("hostile/bundle:v0")
        with pytest.raises(ValidationError, match="resolves to 169.254.169.254, a link-local"):
            art.download(root=str(tmp_path / "down"))
        assert not marker.exists()

    from kiseki.sdk.artifacts import _check_reference_host

    for spelled in ("http://[::ffff:169.254.169.254]/", "http://0.0.0.0:8080/x"):
        with pytest.raises(ValidationError, match="link-local or unspecified"):
            _check_reference_host(spelled)
    _check_reference_host("http://127.0.0.1:9/")  # a data server on this machine is fine
