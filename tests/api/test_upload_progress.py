"""Upload progress of a live run: the sender tells the training process how many bytes of
files it has uploaded, part by part for big files, and ``finish()`` draws it while it waits."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from kiseki.sdk.sender import UploadBar
from tests.conftest import ServerProcess, run_script


def test_finish_hears_upload_progress_part_by_part(tmp_path: Path,
                                                    server: ServerProcess) -> None:
    size = 40 * 1024 * 1024
    (tmp_path / "model.bin").write_bytes(bytes(range(256)) * (size // 256))
    proc = run_script("""
        import json, kiseki
        import kiseki.sdk.sender as sender

        seen = []
        show = sender.UploadBar.show
        def spy(self, done, total):
            seen.append((done, total))
            show(self, done, total)
        sender.UploadBar.show = spy

        run = kiseki.init(project="progress")
        art = kiseki.Artifact("model", type="model")
        art.add_file("model.bin")
        run.log_artifact(art)
        run.finish()
        print("SEEN", json.dumps(seen))
    """, tmp_path, env={"KISEKI_BASE_URL": server.url,
                        "KISEKI_UPLOAD_PART_BYTES": str(1024 * 1024)})
    seen = json.loads(proc.stdout.split("SEEN ", 1)[1])
    totals = {total for _, total in seen if total}
    assert totals and max(totals) >= size  # the file (and the run's small files)
    assert seen[-1][0] == seen[-1][1] == max(totals)  # all of it, at the end
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:]))  # never backwards


def test_progress_is_reported_part_by_part(tmp_path: Path, server: ServerProcess,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipper behind both the live sender and `kiseki sync` reports each stored part of
    a big file, and each file once in the total."""
    from kiseki.cli.sync import sync_log
    from kiseki.sdk.settings import load_settings
    from kiseki.sdk.sinks import make_sink

    size = 6 * 1024 * 1024 + 123
    (tmp_path / "model.bin").write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    run_script("""
        import kiseki
        with kiseki.init(project="progress", mode="offline") as run:
            art = kiseki.Artifact("model", type="model")
            art.add_file("model.bin")
            run.log_artifact(art)
    """, tmp_path)
    [log] = tmp_path.glob("kiseki-runs/run-*/run.kiseki")
    monkeypatch.setenv("KISEKI_UPLOAD_PART_BYTES", str(1024 * 1024))
    calls: list[tuple[int, int]] = []
    sink = make_sink(load_settings({"base_url": server.url}))
    try:
        result = sync_log(str(log), sink, 60, lambda done, added: calls.append((done, added)))
    finally:
        sink.close()
    assert result["status"] == "synced"
    total = sum(added for _, added in calls)
    assert total >= size and sum(done for done, _ in calls) == total
    parts = [done for done, added in calls if added == 0 and done == 1024 * 1024]
    assert len(parts) >= 6  # every full part as it was stored, before the file was done


def test_upload_bar_lines() -> None:
    class Stream(io.StringIO):
        def __init__(self, tty: bool) -> None:
            super().__init__()
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    for tty in (False, True):
        bar = UploadBar()
        bar.stream = stream = Stream(tty)
        bar.tty = tty
        bar.started -= 2  # waiting for more than a second
        for done in (0, 500_000_000, 1_500_000_000, 2_000_000_000):
            bar.show(done, 2_000_000_000)
        bar.close()
        text = stream.getvalue()
        if tty:  # redrawn in place, then a newline
            assert text.count("\r") == 4 and text.endswith("100%\x1b[K\n")
            assert "kiseki: uploading files 1.5 GB / 2.0 GB 75%" in text
        else:  # a line when it starts and one when it ends
            assert text.splitlines() == ["kiseki: uploading files 0 B / 2.0 GB 0%",
                                         "kiseki: uploading files 2.0 GB / 2.0 GB 100%"]

    quick = UploadBar()
    quick.stream = stream = Stream(False)
    quick.show(10, 100)  # within the first second: nothing
    quick.show(100, 100)
    assert stream.getvalue() == ""
