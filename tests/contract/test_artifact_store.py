"""The artifact store on SQLite and PostgreSQL: commits are idempotent (R11), a version needs
every file in the blob store, tags, aliases move atomically."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kiseki.core import records as rec
from kiseki.core.errors import NotFoundError
from kiseki.store.sqlstore import SQLStore


def _logged(store: SQLStore, client_id: str, content: bytes, tags: list[str],
            aliases: list[str] | None = None) -> rec.ArtifactLogged:
    sha = store.blob_store().put_bytes(content)
    return rec.ArtifactLogged(client_id=client_id, name="weights", type="model", ts=time.time(),
                              files=[["w.bin", sha, len(content)]], blobs=[sha],
                              aliases=aliases or [], tags=tags)


def test_retried_commit_is_applied_once_and_tags_merge(store_url: str, tmp_path: Path) -> None:
    store = SQLStore.open(store_url, blob_dir=str(tmp_path))
    try:
        start = rec.RunStart("p", "r1", "r1", time.time())
        first = _logged(store, "c1", b"one", ["fp16"], aliases=["best"])
        store.ingest("p", "r1", "s1", [(1, start), (2, first)])
        # the same record again under another stream (a retry after the server died between
        # commit and answer): still one version
        store.ingest("p", "r1", "s2", [(1, first)])
        assert [v["version"] for v in store.artifact_versions("p", "weights")] == ["v0"]
        # same content again with a new tag: no new version, the tag is added
        store.ingest("p", "r1", "s1", [(3, _logged(store, "c2", b"one", ["pruned"]))])
        info = store.artifact_version("p", "weights", "latest")
        assert (info["version"], info["tags"]) == ("v0", ["fp16", "pruned"])
        assert store.artifact_by_client_id("c2")["version"] == "v0"
        # new content: v1; "best" stays where it was, latest moves
        store.ingest("p", "r1", "s1", [(4, _logged(store, "c3", b"two", []))])
        assert store.artifact_version("p", "weights", "best")["version"] == "v0"
        assert store.artifact_version("p", "weights", "latest")["version"] == "v1"
        assert [v["version"] for v in store.artifact_versions("p", "weights", tag="fp16")] == [
            "v0"]
        # a file that never reached the blob store: refused, nothing visible
        missing = rec.ArtifactLogged(client_id="c4", name="weights", type="model",
                                     ts=time.time(), files=[["w.bin", "a" * 64, 3]])
        result = store.ingest("p", "r1", "s1", [(5, missing)])
        assert "never reached the blob store" in result.rejected[0]
        assert store.artifact_by_client_id("c4") is None
        with pytest.raises(NotFoundError):
            store.artifact_version("p", "weights", "v2")
    finally:
        store.close()


def test_refused_records_leave_nothing_behind(store_url: str, tmp_path: Path) -> None:
    """A link whose alias move is refused (protected alias, not a maintainer) is undone whole;
    a value too long for a column is a rejected record, not a failed batch."""
    store = SQLStore.open(store_url, blob_dir=str(tmp_path))
    try:
        start = rec.RunStart("p", "r1", "r1", time.time())
        store.ingest("p", "r1", "s1", [(1, start), (2, _logged(store, "c1", b"one", []))])
        store.registry_link("clf", "p", "weights", "v0", ["production"])
        store.registry_protect("clf", "production")
        store.ingest("p", "r1", "s1", [(3, _logged(store, "c2", b"two", []))])
        result = store.ingest("p", "r1", "s1", [(4, rec.ArtifactLinked(
            "clf", time.time(), client_id="c2", aliases=["production"]))])
        assert "protected" in result.rejected[0]
        registry = store.registry_get("clf")
        assert [v["version"] for v in registry["versions"]] == ["v0"]  # no half-made link
        assert [h["action"] for h in registry["history"]] == ["link", "alias", "protect"]
        long_type = rec.ArtifactLogged(client_id="c3", name="odd", type="t" * 100,
                                       ts=time.time(), files=[])
        result = store.ingest("p", "r1", "s1", [(5, long_type), (6, rec.Metrics(0, 1.0,
                                                                                 {"x": 2.0}))])
        assert "artifact type" in result.rejected[0] and result.applied == 2
        assert store.history_page("p", "r1")["rows"][0]["x"] == 2.0  # the rest still applies
        # a reference with a scheme the SDK never sends (a raw client): refused (I18)
        for seq, uri in enumerate(("javascript:alert(1)", "gopher://10.0.0.1/",
                                   "http://x/\nInjected: 1"), start=7):
            odd_ref = rec.ArtifactLogged(client_id=f"c{seq}", name="refs", type="data",
                                         ts=time.time(), files=[], references=[["r", uri, None, 0]])
            result = store.ingest("p", "r1", "s1", [(seq, odd_ref)])
            assert "use one of file, http, https, s3" in result.rejected[0]
        with pytest.raises(NotFoundError):
            store.artifact_version("p", "refs", "latest")
    finally:
        store.close()


def test_a_table_descriptor_cannot_read_another_projects_blob(store_url: str,
                                                              tmp_path: Path) -> None:
    import msgspec

    store = SQLStore.open(store_url, blob_dir=str(tmp_path))
    try:
        payload = msgspec.msgpack.encode({"columns": ["secret"], "types": {}, "data": [["x"]]})
        sha = store.blob_store().put_bytes(payload)
        now = time.time()
        for project in ("owner", "thief"):
            store.ingest(project, "r", "s", [
                (1, rec.RunStart(project, "r", "r", now)),
                (2, rec.Media(0, now, "t", "m1", "table")),
                # the owner lists the blob it uploaded; the thief names it without listing it
                (3, rec.MediaStored("m1", {"_type": "table", "sha256": sha, "nrows": 1},
                                    [sha] if project == "owner" else []))])
        assert store.table_page("owner", "r", "t")["rows"][0]["cells"] == ["x"]
        with pytest.raises(NotFoundError):
            store.table_page("thief", "r", "t")
    finally:
        store.close()
