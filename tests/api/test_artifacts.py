"""Artifacts, lineage and the registry end to end: scripts using the real SDK against the real
server (SQLite and PostgreSQL) or the embedded store; reads through the public API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import kiseki
from kiseki.core.errors import ForbiddenError, NotFoundError, ValidationError
from tests.conftest import MotoS3, ServerProcess, run_script

PIPELINE = r"""
import json, os, kiseki
os.makedirs("data/images", exist_ok=True)
for i in range(5):
    with open(f"data/images/{i}.txt", "w") as f:
        f.write(f"image {i}")
with open("data/labels.csv", "w") as f:
    f.write("id,label\n0,cat\n")

with kiseki.init(project="lineage", name="prepare", job_type="data") as run:
    data = kiseki.Artifact("shapes", type="dataset", metadata={"images": 5})
    data.add_dir("data")
    run.log_artifact(data, aliases=["raw"])
    data.wait()
    print("DATA", data.version, run.id)

with kiseki.init(project="lineage", name="train", job_type="train") as run:
    ds = run.use_artifact("shapes:latest", type="dataset")
    root = ds.download()
    assert sorted(os.listdir(os.path.join(root, "images"))) == [f"{i}.txt" for i in range(5)]
    for epoch in range(2):
        with open("model.bin", "wb") as f:
            f.write(bytes([epoch]) * 4096)
        model = run.log_model("model.bin", name="segmenter", aliases=["best"] if epoch else [])
        model.wait()
    run.link_artifact(model, "registry/segmenter", aliases=["staging"])
    print("TRAIN", run.id)

with kiseki.init(project="lineage", name="evaluate", job_type="eval") as run:
    path = run.use_model("segmenter:best")
    assert open(os.path.join(path, "model.bin"), "rb").read() == bytes([1]) * 4096
    table = kiseki.Table(columns=["id", "score"], data=[[0, 0.5], [1, 0.75]])
    preds = kiseki.Artifact("predictions", type="predictions")
    preds.add(table, "val")
    run.log_artifact(preds)
    preds.wait()
    print("EVAL", run.id)

# the same content again: no new version
with kiseki.init(project="lineage", name="prepare-again", job_type="data") as run:
    again = kiseki.Artifact("shapes", type="dataset", metadata={"images": 5})
    again.add_dir("data")
    run.log_artifact(again)
    again.wait()
    print("AGAIN", again.version)
"""


def _ids(stdout: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in stdout.splitlines()
            if line.split() and line.split()[0] in ("DATA", "TRAIN", "EVAL", "AGAIN")}


def _check_pipeline(api: kiseki.Api, ids: dict[str, list[str]], tmp_path: Path) -> None:
    assert ids["DATA"][0] == "v0" and ids["AGAIN"] == ["v0"]
    train_id, eval_id = ids["TRAIN"][0], ids["EVAL"][0]
    model = api.artifact("lineage/segmenter:best")
    assert model.version == "v1" and set(model.aliases) == {"best", "latest"}
    assert model.logged_by().id == train_id
    assert [r.id for r in model.used_by()] == [eval_id]
    dataset = api.artifact("lineage/shapes:raw")
    assert dataset.metadata == {"images": 5} and dataset.type == "dataset"
    assert [e.path for e in dataset.files()] == [
        "images/0.txt", "images/1.txt", "images/2.txt", "images/3.txt", "images/4.txt",
        "labels.csv"]
    users = {r.job_type for r in dataset.used_by()}
    assert users == {"train"}
    assert {r.name for r in dataset.used_by()} == {"train"}
    assert api.artifact("lineage/segmenter:v0").version == "v0"  # every version stays readable
    train = api.run(f"lineage/{train_id}")
    assert [a.name for a in train.used_artifacts()] == ["shapes"]
    assert [(a.name, a.version) for a in train.logged_artifacts()] == [
        ("segmenter", "v0"), ("segmenter", "v1")]
    # lineage graph: dataset -> train -> model -> eval -> predictions, from the model out
    graph = api.lineage("lineage", artifact="segmenter:best", depth=4)
    edges = {(e["from"], e["to"]) for e in graph["edges"]}
    assert (f"artifact:lineage/shapes:v0", f"run:lineage/{train_id}") in edges
    assert (f"run:lineage/{train_id}", "artifact:lineage/segmenter:v1") in edges
    assert ("artifact:lineage/segmenter:v1", f"run:lineage/{eval_id}") in edges
    assert (f"run:lineage/{eval_id}", "artifact:lineage/predictions:v0") in edges
    # predictions table kept as JSON with its rows
    preds = api.artifact("lineage/predictions:latest")
    root = preds.download(str(tmp_path / "preds"))
    import json

    with open(os.path.join(root, "val.table.json")) as fh:
        assert json.load(fh)["data"] == [[0, 0.5], [1, 0.75]]
    preds.verify(root)
    Path(root, "val.table.json").write_text("tampered")
    with pytest.raises(ValidationError, match="val.table.json \\(changed\\)"):
        preds.verify(root)
    # registry: linked by the training run with the staging alias
    reg = api.registry("registry/segmenter")
    assert reg.aliases == {"latest": "v0", "staging": "v0"}
    assert reg.versions[0].name == "segmenter" and reg.versions[0].version == "v1"
    reg.move_alias("production", "v0")
    assert reg.aliases["production"] == "v0"
    assert [(h["action"], h["alias"], h["to_version"]) for h in reg.history] == [
        ("link", None, "v0"), ("alias", "staging", "v0"), ("alias", "production", "v0")]
    assert reg.history[1]["actor"] == f"run {train_id}"


def test_lineage_pipeline_through_server(tmp_path: Path, any_server: ServerProcess) -> None:
    proc = run_script(PIPELINE, tmp_path, env={"KISEKI_BASE_URL": any_server.url})
    api = kiseki.Api(settings={"base_url": any_server.url})
    try:
        _check_pipeline(api, _ids(proc.stdout), tmp_path)
    finally:
        api.close()
    files = httpx.get(f"{any_server.url}/api/v1/projects/lineage/artifacts/segmenter/v1/files")
    (entry,) = files.json()["files"]
    data = httpx.get(f"{any_server.url}/api/v1/projects/lineage/artifacts/segmenter/v1/file",
                     params={"path": "model.bin"}, headers={"Range": "bytes=0-9"})
    assert data.status_code == 206 and data.content == bytes([1]) * 10
    assert data.headers["content-type"] == "application/octet-stream"
    assert entry["size"] == 4096
    listing = httpx.get(f"{any_server.url}/api/v1/projects/lineage/artifacts").json()
    assert {(c["name"], c["type"], c["versions"]) for c in listing} == {
        ("shapes", "dataset", 1), ("segmenter", "model", 2), ("predictions", "predictions", 1)}


def test_lineage_pipeline_embedded(tmp_path: Path) -> None:
    proc = run_script(PIPELINE, tmp_path)
    with kiseki.Api() as api:
        _check_pipeline(api, _ids(proc.stdout), tmp_path)


REGISTRY_LINEAGE = r"""
import kiseki
with kiseki.init(project="reglin", name="train", job_type="train") as run:
    for epoch in range(2):
        with open("model.bin", "wb") as f:
            f.write(bytes([epoch]) * 64)
        model = run.log_model("model.bin", name="segmenter")
        model.wait()
        if epoch == 0:
            first = model
    run.link_artifact(model, "registry/shapes-segmenter", aliases=["staging"])
    run.link_artifact(first, "registry/shapes-segmenter")
    print("TRAIN", run.id)
with kiseki.init(project="reglin", name="evaluate", job_type="eval") as run:
    run.use_model("segmenter:v1")
    print("EVAL", run.id)
"""
REG, SEG0, SEG1 = ("registry:shapes-segmenter", "artifact:reglin/segmenter:v0",
                   "artifact:reglin/segmenter:v1")


def _registry_part(graph: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The registry node and, per linked artifact node, the aliases on its link."""
    (node,) = [n for n in graph["nodes"] if n["kind"] == "registry"]
    linked = {e["from"]: e["aliases"] for e in graph["edges"] if e["kind"] == "linked"}
    assert all(e["to"] == node["id"] for e in graph["edges"] if e["kind"] == "linked")
    return node, linked


def test_lineage_shows_registry_links(tmp_path: Path, any_server: ServerProcess) -> None:
    """A model version's lineage shows the registered model it is linked into, with the
    aliases on each link (registry version numbers), and follows an alias move."""
    proc = run_script(REGISTRY_LINEAGE, tmp_path, env={"KISEKI_BASE_URL": any_server.url})
    ids = _ids(proc.stdout)
    train, evaluate = f"run:reglin/{ids['TRAIN'][0]}", f"run:reglin/{ids['EVAL'][0]}"
    api = kiseki.Api(settings={"base_url": any_server.url})
    try:
        graph = api.lineage("reglin", artifact="segmenter:v1", depth=2)
        # registry v0 is segmenter:v1 (linked first, as staging), v1 is segmenter:v0
        node, linked = _registry_part(graph)
        assert node == {"id": REG, "kind": "registry", "name": "shapes-segmenter",
                        "type": "model", "protected": [],
                        "aliases": [{"alias": "staging", "version": 0, "artifact": SEG1}]}
        assert linked == {SEG1: ["staging"], SEG0: []}
        assert {(e["from"], e["to"], e["kind"]) for e in graph["edges"]} == {
            (train, SEG0, "produced"), (train, SEG1, "produced"), (SEG1, evaluate, "used"),
            (SEG1, REG, "linked"), (SEG0, REG, "linked")}
        assert {e["version"] for e in graph["edges"] if e["from"] == SEG0 and e["to"] == REG} \
            == {1}
        # staging moves to the other link and is protected: the graph follows
        api.registry("registry/shapes-segmenter").move_alias("staging", "v1").protect("staging")
        moved = httpx.get(f"{any_server.url}/api/v1/projects/reglin/lineage",
                          params={"artifact": "segmenter:v1", "depth": 2})
        assert moved.status_code == 200
        node, linked = _registry_part(moved.json())
        assert node["aliases"] == [{"alias": "staging", "version": 1, "artifact": SEG0}]
        assert node["protected"] == ["staging"]
        assert linked == {SEG1: [], SEG0: ["staging"]}
        # around the run: both versions, one registry node; around the consumer at depth 1
        # only segmenter:v1 is in the graph, so only its link (and no alias) shows
        assert _registry_part(api.lineage("reglin", run=ids["TRAIN"][0], depth=1))[1] == {
            SEG1: [], SEG0: ["staging"]}
        node, linked = _registry_part(api.lineage("reglin", run=ids["EVAL"][0], depth=1))
        assert node["aliases"] == [] and linked == {SEG1: []}
    finally:
        api.close()


def test_registry_nodes_respect_the_node_cap(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Registry nodes only fill room the walk left under MAX_GRAPH_NODES."""
    from kiseki.store import artifacts

    run_script(REGISTRY_LINEAGE, tmp_path)
    with kiseki.Api() as api:
        # depth 1 around segmenter:v1: the version, its producer and its consumer
        monkeypatch.setattr(artifacts, "MAX_GRAPH_NODES", 3)
        graph = api.lineage("reglin", artifact="segmenter:v1", depth=1)
        assert sorted(n["kind"] for n in graph["nodes"]) == ["artifact", "run", "run"]
        assert all(e["kind"] != "linked" for e in graph["edges"])
        monkeypatch.setattr(artifacts, "MAX_GRAPH_NODES", 4)
        graph = api.lineage("reglin", artifact="segmenter:v1", depth=1)
        assert [n["id"] for n in graph["nodes"] if n["kind"] == "registry"] == [REG]


def test_cached_download_verifies_without_the_server(tmp_path: Path, server: ServerProcess) -> None:
    run_script("""
import kiseki
with kiseki.init(project="cache") as run:
    art = kiseki.Artifact("weights", type="model")
    with art.new_file("w.bin", mode="wb") as f:
        f.write(b"x" * 100000)
    run.log_artifact(art)
    art.wait()
""", tmp_path, env={"KISEKI_BASE_URL": server.url})
    api = kiseki.Api(settings={"base_url": server.url})
    art = api.artifact("cache/weights:latest")
    art.files()  # manifest read while the server is up
    first = art.download(str(tmp_path / "one"))
    server.stop()
    second = art.download(str(tmp_path / "two"))  # from the local cache, verified by sha256
    assert Path(second, "w.bin").read_bytes() == Path(first, "w.bin").read_bytes()
    art.verify(second)
    api.close()


def test_protected_alias_needs_a_maintainer(tmp_path: Path) -> None:
    data = tmp_path / "server"
    env = {**os.environ}
    keys: dict[str, str] = {}
    for name, role in (("alice", "member"), ("bob", "maintainer")):
        out = subprocess.run([sys.executable, "-m", "kiseki", "keys", "create", name, "--role",
                              role, "--dir", str(data)], capture_output=True, text=True,
                             env=env, check=True)
        keys[name] = out.stdout.strip().splitlines()[-1]
    srv = ServerProcess(data, extra=["--host", "0.0.0.0"]).start()  # keys required off loopback
    try:
        run_script("""
import kiseki
with kiseki.init(project="gov") as run:
    art = kiseki.Artifact("clf", type="model")
    with art.new_file("m.txt") as f:
        f.write("one")
    run.log_artifact(art)
    art.wait()
    run.link_artifact(art, "registry/clf", aliases=["production"])
""", tmp_path, env={"KISEKI_BASE_URL": srv.url, "KISEKI_API_KEY": keys["bob"]})
        bob = kiseki.Api(settings={"base_url": srv.url, "api_key": keys["bob"]})
        alice = kiseki.Api(settings={"base_url": srv.url, "api_key": keys["alice"]})
        bob.registry("clf").protect("production")
        with pytest.raises(ForbiddenError, match="protected: only maintainers"):
            alice.registry("clf").move_alias("production", "v0")
        with pytest.raises(ForbiddenError):
            alice.registry("clf").protect("production", False)
        alice.registry("clf").move_alias("candidate", "v0")  # unprotected: anyone
        reg = bob.registry("clf").move_alias("production", "v0").remove_alias("production")
        actions = [(h["action"], h["alias"], h["actor"]) for h in reg.history]
        assert ("protect", "production", "bob") in actions
        assert ("alias", "candidate", "alice") in actions
        assert actions[-1] == ("unalias", "production", "bob")
        assert reg.protected_aliases == []
        bob.close()
        alice.close()
    finally:
        srv.stop()


def test_bad_artifact_input_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "inside").mkdir()
    (tmp_path / "inside" / "ok.txt").write_text("ok")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", tmp_path / "inside" / "escape.txt")
    os.symlink(tmp_path / "inside" / "ok.txt", tmp_path / "inside" / "alias.txt")
    os.mkfifo(tmp_path / "inside" / "pipe")
    for bad in ("x:v3", "a/b", "", "..", "-lead"):
        with pytest.raises(ValidationError, match="is not valid"):
            kiseki.Artifact(bad, type="dataset")
    art = kiseki.Artifact("files", type="dataset")
    for path in ("../etc/passwd", "/abs", "a\\b", "a/./b", "%2e%2e/x", "ｘ/．．/y", "nul\x00"):
        with pytest.raises(ValidationError, match="artifact path"):
            art.add_file(str(tmp_path / "secret.txt"), name=path)
    assert art.add_dir(str(tmp_path / "inside")) == 2  # ok.txt and the link inside the folder
    assert sorted(e.path for e in art.files()) == ["alias.txt", "ok.txt"]
    with pytest.raises(ValidationError, match="scheme 'ftp'"):
        art.add_reference("ftp://example.com/x")
    with pytest.raises(ValidationError, match="reserved"):
        kiseki.init(project="bad", dir=str(tmp_path)).log_artifact(art, aliases=["v2"])
    kiseki.finish()
    with kiseki.init(project="bad", dir=str(tmp_path)) as run:
        with pytest.raises(NotFoundError, match="not found"):
            run.use_artifact("nothing:latest")
        empty = kiseki.Artifact("empty", type="dataset")
        with pytest.raises(ValidationError, match="has no files"):
            run.log_artifact(empty)


def test_version_is_not_committed_when_a_file_never_arrives(tmp_path: Path,
                                                            server: ServerProcess) -> None:
    proc = run_script("""
import kiseki, os, shutil
run = kiseki.init(project="partial", mode="offline")
art = kiseki.Artifact("half", type="dataset")
with art.new_file("a.txt") as f:
    f.write("a")
run.log_artifact(art)
run.finish()
shutil.rmtree(os.path.join(run.dir, "artifacts"))  # the staged file is gone before sync
print("DIR", run.dir)
""", tmp_path)
    run_dir = next(x.split()[1] for x in proc.stdout.splitlines() if x.startswith("DIR"))
    sync = subprocess.run([sys.executable, "-m", "kiseki", "sync", run_dir], capture_output=True,
                          text=True, env={**os.environ, "KISEKI_BASE_URL": server.url},
                          timeout=120)
    assert sync.returncode == 0, sync.stderr
    resp = httpx.get(f"{server.url}/api/v1/projects/partial/artifacts/half/latest")
    assert resp.status_code == 404  # nothing half-committed is visible


def test_delete_version_then_gc_reclaims_only_unreferenced_files(tmp_path: Path,
                                                                  server: ServerProcess) -> None:
    run_script("""
import kiseki, numpy as np
with kiseki.init(project="gc") as run:
    run.log({"img": kiseki.Image(np.full((4, 4, 3), 9, dtype=np.uint8))})
    for version, payload in enumerate(["shared\\n", "shared\\n"]):
        art = kiseki.Artifact("ckpt", type="model")
        with art.new_file("common.txt") as f:
            f.write(payload)
        with art.new_file("own.txt") as f:
            f.write(f"only in v{version}")
        run.log_artifact(art)
        art.wait()
    run.link_artifact(art, "registry/ckpt", aliases=["production"])
""", tmp_path, env={"KISEKI_BASE_URL": server.url})
    api = kiseki.Api(settings={"base_url": server.url})
    try:
        with pytest.raises(kiseki.KisekiError, match="alias\\(es\\) production; move or remove"):
            api.artifact("gc/ckpt:v1").delete()
        v0 = api.artifact("gc/ckpt:v0")
        own_v0 = v0.get_entry("own.txt").sha256
        common = v0.get_entry("common.txt").sha256
        v0.delete()
        with pytest.raises(NotFoundError):
            api.artifact("gc/ckpt:v0")  # gone from listings at once
        assert [a.version for a in api.artifact_versions("gc", "ckpt")] == ["v1"]
        assert api.artifact("gc/ckpt:latest").version == "v1"
    finally:
        api.close()
    blobs = server.data_dir / "blobs"

    def present(sha: str) -> bool:
        return (blobs / sha[:2] / sha[2:4] / sha).is_file()

    assert present(own_v0) and present(common)
    env = {**os.environ}
    dry = subprocess.run([sys.executable, "-m", "kiseki", "gc", "--dir", str(server.data_dir),
                          "--min-age", "0", "--dry-run", "--json"], capture_output=True,
                         text=True, env=env, check=True)
    assert '"blobs_removed": 1' in dry.stdout and present(own_v0)
    subprocess.run([sys.executable, "-m", "kiseki", "gc", "--dir", str(server.data_dir),
                    "--min-age", "0"], capture_output=True, text=True, env=env, check=True)
    assert not present(own_v0)  # only v0 needed it
    assert present(common)  # v1 still lists the shared file
    runs = httpx.get(f"{server.url}/api/v1/projects/gc/runs").json()["items"]
    image = httpx.get(f"{server.url}/api/v1/projects/gc/runs/{runs[0]['id']}/media",
                      params={"key": "img"}).json()["items"][0]["data"]
    assert present(image["sha256"])  # media values keep their blobs
    api = kiseki.Api(settings={"base_url": server.url})
    try:
        root = api.artifact("gc/ckpt:v1").download(
            str(tmp_path / "after-gc"))
        assert Path(root, "common.txt").read_text() == "shared\n"
    finally:
        api.close()


def test_lineage_pipeline_with_s3_blob_store(tmp_path: Path, s3_server: ServerProcess,
                                             moto_s3: MotoS3) -> None:
    """The same pipeline with blobs in an S3-compatible bucket (moto over real HTTP): uploads
    go straight to the bucket through presigned URLs, downloads come back through redirects to
    presigned URLs, media is streamed through the server."""
    proc = run_script(PIPELINE, tmp_path, env={"KISEKI_BASE_URL": s3_server.url})
    api = kiseki.Api(settings={"base_url": s3_server.url})
    try:
        _check_pipeline(api, _ids(proc.stdout), tmp_path)
    finally:
        api.close()
    bucket = s3_server.bucket  # type: ignore[attr-defined]
    keys = [o["Key"] for o in moto_s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
    model_sha = httpx.get(f"{s3_server.url}/api/v1/projects/lineage/artifacts/segmenter/v1/files"
                          ).json()["files"][0]["sha256"]
    assert f"blobs/{model_sha}" in keys
    assert not (s3_server.data_dir / "blobs").exists()  # nothing on the server's disk
    redirect = httpx.get(f"{s3_server.url}/api/v1/projects/lineage/artifacts/segmenter/v1/file",
                         params={"path": "model.bin", "redirect": "true"})
    assert redirect.status_code == 307 and redirect.headers["location"].startswith(moto_s3.url)
    streamed = httpx.get(f"{s3_server.url}/api/v1/projects/lineage/artifacts/segmenter/v1/file",
                         params={"path": "model.bin"})
    assert streamed.content == bytes([1]) * 4096
    # a presigned upload with the wrong bytes never counts as that blob: S3 refuses it (the
    # checksum header is signed); a service that stores it anyway gets it verified and deleted
    fake = "1" * 64
    target = httpx.post(f"{s3_server.url}/api/v1/blobs/{fake}/upload-url").json()
    assert target["url"].startswith(moto_s3.url)
    httpx.put(target["url"], content=b"not those bytes", headers=target["headers"])
    again = httpx.post(f"{s3_server.url}/api/v1/blobs/{fake}/upload-url").json()
    assert again["exists"] is False
    keys = [o["Key"] for o in moto_s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert f"blobs/{fake}" not in keys
    # garbage collection in the bucket: delete v0 of the model, collect, v0's file is gone
    v0_sha = httpx.get(f"{s3_server.url}/api/v1/projects/lineage/artifacts/segmenter/v0/files"
                       ).json()["files"][0]["sha256"]
    assert httpx.delete(f"{s3_server.url}/api/v1/projects/lineage/artifacts/segmenter/v0"
                        ).status_code == 200
    gc = subprocess.run([sys.executable, "-m", "kiseki", "gc", "--dir", str(s3_server.data_dir),
                         "--blob-url", f"s3://{bucket}/blobs", "--s3-endpoint", moto_s3.url,
                         "--min-age", "0", "--json", *(["--database", s3_server.database_url]
                                                       if s3_server.database_url else [])],
                        capture_output=True, text=True, env={**os.environ}, check=True)
    assert '"blobs_removed": 1' in gc.stdout, gc.stdout
    keys = [o["Key"] for o in moto_s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert f"blobs/{v0_sha}" not in keys and f"blobs/{model_sha}" in keys
    # media through the S3 store: images round trip
    run_script("""
import numpy as np, kiseki
with kiseki.init(project="s3media") as run:
    run.log({"img": kiseki.Image(np.full((6, 5, 3), 77, dtype=np.uint8),
             masks={"gt": {"mask_data": np.eye(6, 5, dtype=np.uint8), "class_labels": {1: "a"}}})})
""", tmp_path, env={"KISEKI_BASE_URL": s3_server.url})
    api = kiseki.Api(settings={"base_url": s3_server.url})
    try:
        run = next(iter(api.runs("s3media")))
        image = next(run.scan_history(keys=["img"]))["img"]
        assert (image.to_numpy() == 77).all()
        assert (image.masks["gt"]["mask_data"] == np.eye(6, 5)).all()
    finally:
        api.close()


def test_references_are_recorded_by_checksum_not_copied(tmp_path: Path,
                                                        server: ServerProcess) -> None:
    big = tmp_path / "outside.bin"
    big.write_bytes(b"r" * 5000)
    proc = run_script(f"""
import kiseki
with kiseki.init(project="refs") as run:
    art = kiseki.Artifact("external", type="dataset")
    art.add_reference("file://{big}", name="data/outside.bin")
    art.add_reference("{server.url}/api/v1/health", name="health.json")
    run.log_artifact(art)
    art.wait()
    print("ENTRIES", [(e.path, e.size, bool(e.ref_digest)) for e in art.files()])
""", tmp_path, env={"KISEKI_BASE_URL": server.url})
    assert "('data/outside.bin', 5000, True)" in proc.stdout
    files = httpx.get(f"{server.url}/api/v1/projects/refs/artifacts/external/latest/files").json()
    by_path = {f["path"]: f for f in files["files"]}
    assert by_path["data/outside.bin"]["sha256"] is None  # recorded, not stored
    assert by_path["data/outside.bin"]["ref"] == f"file://{big}"
    blobs = server.data_dir / "blobs"
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))
    api = kiseki.Api(settings={"base_url": server.url})
    try:
        art = api.artifact("refs/external:latest")
        root = art.download(str(tmp_path / "dl"))
        assert Path(root, "data", "outside.bin").read_bytes() == b"r" * 5000
        assert Path(root, "health.json").read_text().startswith('{"status"')
        big.write_bytes(b"changed")
        with pytest.raises(ValidationError, match="changed since it was logged"):
            art.download(str(tmp_path / "dl2"))
    finally:
        api.close()


def test_large_upload_resumes_after_the_server_dies_mid_upload(tmp_path: Path) -> None:
    """R10: parts already received survive a server kill; the next upload sends the rest."""
    import hashlib

    payload = os.urandom(300_000)
    sha = hashlib.sha256(payload).hexdigest()
    big = tmp_path / "weights.bin"
    big.write_bytes(payload)
    data = tmp_path / "server"
    srv = ServerProcess(data).start()
    first = httpx.put(f"{srv.url}/api/v1/blobs/{sha}", content=payload[:100_000],
                      headers={"Content-Range": f"bytes 0-99999/{len(payload)}"})
    assert first.status_code == 202 and first.json() == {"received": 100_000}
    wrong = httpx.put(f"{srv.url}/api/v1/blobs/{sha}", content=payload[150_000:160_000],
                      headers={"Content-Range": f"bytes 150000-159999/{len(payload)}"})
    assert wrong.status_code == 409 and wrong.json()["received"] == 100_000
    srv.stop(kill=True)  # the server dies mid-upload
    srv = ServerProcess(data).start()
    try:
        state = httpx.get(f"{srv.url}/api/v1/blobs/{sha}/upload").json()
        assert state == {"exists": False, "received": 100_000}
        run_script(f"""
import kiseki
with kiseki.init(project="resume") as run:
    art = kiseki.Artifact("weights", type="model")
    art.add_file("{big}")
    run.log_artifact(art)
    art.wait()
""", tmp_path, env={"KISEKI_BASE_URL": srv.url, "KISEKI_UPLOAD_PART_BYTES": "65536"})
        assert httpx.get(f"{srv.url}/api/v1/blobs/{sha}/upload").json()["exists"] is True
        api = kiseki.Api(settings={"base_url": srv.url})
        try:
            root = api.artifact("resume/weights:latest").download(str(tmp_path / "dl"))
            assert Path(root, "weights.bin").read_bytes() == payload
        finally:
            api.close()
    finally:
        srv.stop()


def test_many_small_files_go_up_and_down_in_batches(tmp_path: Path, server: ServerProcess) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(300):
        (folder / f"{i:03d}.txt").write_text(f"file {i}")
    run_script(f"""
import kiseki
with kiseki.init(project="many") as run:
    art = kiseki.Artifact("files", type="dataset")
    art.add_dir("{folder}")
    run.log_artifact(art)
    art.wait()
""", tmp_path, env={"KISEKI_BASE_URL": server.url})
    api = kiseki.Api(settings={"base_url": server.url})
    try:
        root = api.artifact("many/files:latest").download(str(tmp_path / "dl"))
        assert sorted(os.listdir(root)) == [f"{i:03d}.txt" for i in range(300)]
        assert Path(root, "123.txt").read_text() == "file 123"
    finally:
        api.close()
    # the batch routes themselves: a wrong digest in a batch is refused, nothing stored
    import hashlib

    import msgspec

    good = b"ok"
    body = msgspec.msgpack.encode([(hashlib.sha256(good).hexdigest(), good), ("0" * 64, b"bad")])
    bad = httpx.post(f"{server.url}/api/v1/blobs/batch", content=body,
                     headers={"Content-Type": "application/x-msgpack"})
    assert bad.status_code == 400 and "nothing of this batch was stored" in bad.json()["detail"]
    state = httpx.get(f"{server.url}/api/v1/blobs/{hashlib.sha256(good).hexdigest()}/upload")
    assert state.json()["exists"] is False
    other = httpx.post(f"{server.url}/api/v1/projects/other/blobs/batch",
                       json={"sha256": ["0" * 64]})
    assert other.status_code == 404


def test_s3_reference_recorded_by_etag(tmp_path: Path, server: ServerProcess,
                                       moto_s3: MotoS3) -> None:
    """``add_reference("s3://...")`` records the object's ETag and size (boto3 against the
    S3-compatible server over HTTP); the bytes stay in the bucket and download from there."""
    from tests.conftest import S3_ENV

    client = moto_s3.client()
    client.create_bucket(Bucket="refs-bucket")
    client.put_object(Bucket="refs-bucket", Key="data/train.csv", Body=b"a,b\n1,2\n")
    env = {**S3_ENV, "AWS_ENDPOINT_URL": moto_s3.url, "KISEKI_BASE_URL": server.url}
    proc = run_script("""
import kiseki
with kiseki.init(project="s3refs") as run:
    art = kiseki.Artifact("lake", type="dataset")
    entry = art.add_reference("s3://refs-bucket/data/train.csv")
    print("REF", entry.path, entry.size, entry.ref_digest)
    run.log_artifact(art)
    art.wait()
    root = run.use_artifact("lake:latest").download("dl")
    print("GOT", open(root + "/train.csv").read().replace("\\n", "|"))
""", tmp_path, env=env)
    etag = client.head_object(Bucket="refs-bucket", Key="data/train.csv")["ETag"].strip('"')
    assert f"REF train.csv 8 {etag}" in proc.stdout
    assert "GOT a,b|1,2|" in proc.stdout


def test_file_rewritten_after_logging_keeps_the_logged_content(tmp_path: Path,
                                                                server: ServerProcess) -> None:
    """torch.save() rewrites a checkpoint in place: what was logged must stay what was logged."""
    proc = run_script("""
import kiseki
run = kiseki.init(project="inplace", mode="offline")
with open("ckpt.pt", "wb") as f:
    f.write(b"epoch 1")
run.log_artifact("ckpt.pt", type="model")
with open("ckpt.pt", "r+b") as f:  # rewritten in place, same inode
    f.write(b"EPOCH 2")
run.finish()
print("DIR", run.dir)
""", tmp_path)
    run_dir = next(x.split()[1] for x in proc.stdout.splitlines() if x.startswith("DIR"))
    subprocess.run([sys.executable, "-m", "kiseki", "sync", run_dir], check=True,
                   capture_output=True, env={**os.environ, "KISEKI_BASE_URL": server.url})
    too_big = httpx.put(f"{server.url}/api/v1/blobs/{'2' * 64}", content=b"x",
                        headers={"Content-Range": f"bytes 0-{2**30}/{2**31}"})
    assert too_big.status_code == 413 and "part limit" in too_big.json()["detail"]
    api = kiseki.Api(settings={"base_url": server.url})
    try:
        root = api.artifact("inplace/ckpt.pt:latest").download(str(tmp_path / "dl"))
        assert Path(root, "ckpt.pt").read_bytes() == b"epoch 1"
    finally:
        api.close()


MODULE_LEVEL = r"""
import pathlib, kiseki
try:
    kiseki.log_artifact("data.txt")
except kiseki.UsageError as exc:
    print("BEFORE_INIT", exc)
pathlib.Path("data.txt").write_text("rows")
pathlib.Path("model.bin").write_bytes(b"weights")
kiseki.init(project="modlevel", name="train")
dataset = kiseki.Artifact("rows", type="dataset")
dataset.add_file("data.txt")
kiseki.log_artifact(dataset).wait()
kiseki.link_model("model.bin", "segmenter", name="seg", aliases=["staging"])
kiseki.finish()
kiseki.init(project="modlevel", name="eval", job_type="eval")
print("USED", kiseki.use_artifact("rows:latest").name)
print("MODEL", pathlib.Path(kiseki.use_model("seg:latest")).name)
kiseki.finish()
"""


def test_module_level_artifact_calls_as_in_wandb(tmp_path: Path) -> None:
    """``wandb.log_artifact`` / ``use_artifact`` / ``log_model`` / ``use_model`` /
    ``link_model`` port by changing the import: they act on the current run."""
    proc = run_script(MODULE_LEVEL, tmp_path)
    out = proc.stdout
    assert "BEFORE_INIT Call kiseki.init() before kiseki.log_artifact()" in out
    assert "USED rows" in out and "MODEL seg" in out
    with kiseki.Api() as api:
        model = api.registry("segmenter")
        assert model.aliases == {"latest": "v0", "staging": "v0"}
        assert [v.name for v in model.versions] == ["seg"]
        runs = {r.name: r for r in api.runs("modlevel")}
        used = {a.name for a in runs["eval"].used_artifacts()}
        assert used == {"rows", "seg"}
        assert {a.name for a in runs["train"].logged_artifacts()} == {"rows", "seg"}


LOG_CODE = r"""
import os, time, kiseki
for path, text in {"train.py": "print(1)", "pkg/model.py": "W = 1", "conf.yaml": "lr: 1",
                   "__pycache__/train.py": "x", ".hidden/secret.py": "x",
                   "venv2/pyvenv.cfg": "home = /usr", "venv2/lib/site.py": "x",
                   "node_modules/a.py": "x"}.items():
    path = os.path.join("project", path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)
t0 = time.time()
with kiseki.init(project="code", entity="team") as run:
    print("ENTITY", run.entity, "STARTED", t0 - 1 <= run.start_time <= time.time())
    run.log_code("project").wait()
    run.log_code("project", name="with-config", include_fn=lambda p: p.endswith((".py", ".yaml")),
                 exclude_fn=lambda p: p.endswith("model.py")).wait()
    print("NOTHING", run.log_code("project", include_fn=lambda p: p.endswith(".rs")))
    print("RUN", run.id)
"""


def test_log_code_logs_the_sources_as_a_code_artifact(tmp_path: Path) -> None:
    out = run_script(LOG_CODE, tmp_path).stdout
    assert "ENTITY team STARTED True" in out and "NOTHING None" in out
    run_id = out.split("RUN ")[1].split()[0]
    with kiseki.Api() as api:
        code = api.artifact(f"code/source-code-{run_id}:latest")
        assert code.type == "code"
        assert [e.path for e in code.files()] == ["pkg/model.py", "train.py"]
        other = api.artifact("code/with-config:latest")
        assert [e.path for e in other.files()] == ["conf.yaml", "train.py"]
        assert {a.name for a in api.run(f"code/{run_id}").logged_artifacts()} == {
            f"source-code-{run_id}", "with-config"}
