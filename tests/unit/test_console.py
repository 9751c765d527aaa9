"""Console capture: the terminal sees every byte, the run sees finished lines."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kiseki.sdk.console import TRUNCATION_MARKER, ConsoleCapture


class FakeTerminal(io.TextIOWrapper):
    """A text stream over bytes that claims to be a terminal on fd 99."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", newline="", write_through=True)

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 99

    def raw_bytes(self) -> bytes:
        buffer = self.buffer
        assert isinstance(buffer, io.BytesIO)
        return buffer.getvalue()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float, list[str]]] = []
        self.lock = threading.Lock()

    def __call__(self, stream: str, ts: float, lines: list[str]) -> None:
        with self.lock:
            self.calls.append((stream, ts, lines))

    def lines(self, stream: str = "stdout") -> list[str]:
        return [line for name, _, lines in self.calls if name == stream for line in lines]


@contextmanager
def fake_terminals() -> Iterator[tuple[FakeTerminal, FakeTerminal]]:
    """Swap in fake terminals inside the test body (pytest resets sys.stdout between phases)."""
    saved = sys.stdout, sys.stderr
    out, err = FakeTerminal(), FakeTerminal()
    sys.stdout, sys.stderr = out, err
    try:
        yield out, err
    finally:
        sys.stdout, sys.stderr = saved


@contextmanager
def captured(
    emit: Callable[[str, float, list[str]], None], max_line: int = 100_000
) -> Iterator[tuple[ConsoleCapture, FakeTerminal]]:
    with fake_terminals() as (out, _):
        console = ConsoleCapture(emit, max_line=max_line)
        console.install()
        try:
            yield console, out
        finally:
            console.uninstall()


def test_print_lines_are_emitted_per_stream() -> None:
    recorder = Recorder()
    with captured(recorder):
        print("epoch 1 loss 0.5")
        print("warning: lr high", file=sys.stderr)
        print("a\nb\n\nc")

    assert recorder.lines("stdout") == ["epoch 1 loss 0.5", "a", "b", "", "c"]
    assert recorder.lines("stderr") == ["warning: lr high"]
    assert all(ts > 1_600_000_000 for _, ts, _ in recorder.calls)


def test_carriage_return_redraws_keep_only_final_state() -> None:
    recorder = Recorder()
    with captured(recorder):
        for done in range(0, 101, 10):
            sys.stderr.write(f"\r{done:3d}%|{'#' * (done // 10):<10}|")
        sys.stderr.write("\n")
        sys.stderr.write("done\r\n")

    assert recorder.lines("stderr") == ["100%|##########|", "done"]


def test_crlf_split_across_writes_keeps_the_line() -> None:
    recorder = Recorder()
    with captured(recorder):
        sys.stdout.write("loss 0.1\r")
        sys.stdout.write("\n")
        sys.stdout.write("old\r")
        sys.stdout.write("new\n")

    assert recorder.lines() == ["loss 0.1", "new"]


def test_text_after_a_redraw_can_arrive_in_pieces() -> None:
    recorder = Recorder()
    with captured(recorder):
        sys.stdout.write("\r 10%")
        sys.stdout.write(" eta 5s")
        sys.stdout.write("\r 20%")
        sys.stdout.write(" eta 4s\n")

    assert recorder.lines() == [" 20% eta 4s"]


def test_partial_line_is_emitted_at_uninstall() -> None:
    recorder = Recorder()
    with fake_terminals() as (out, err):
        console = ConsoleCapture(recorder)
        console.install()
        sys.stdout.write("no newline yet")
        before = recorder.lines()
        console.uninstall()
        restored = sys.stdout is out and sys.stderr is err

    assert before == []
    assert recorder.lines() == ["no newline yet"]
    assert restored


def test_original_stream_receives_exact_bytes() -> None:
    text = "h\u00e9llo\r 10%\r 20%\rfinal\n\tpartial"
    with captured(Recorder()) as (_, out):
        sys.stdout.write(text)
        sys.stdout.writelines(["x\n", "y"])

    assert out.raw_bytes() == (text + "x\ny").encode("utf-8")


def test_other_attributes_are_forwarded() -> None:
    with captured(Recorder()) as (_, out):
        tee = sys.stdout
        sys.stdout.flush()

    assert tee is not out
    assert tee.isatty() is True
    assert tee.fileno() == 99
    assert tee.encoding == "utf-8"
    assert tee.buffer is out.buffer


def test_long_lines_are_cut_with_marker() -> None:
    recorder = Recorder()
    with captured(recorder, max_line=10):
        for _ in range(50):
            sys.stdout.write("abcdefgh")  # 400 characters without a newline
        sys.stdout.write("\nshort\n")

    assert recorder.lines() == ["abcdefghab" + TRUNCATION_MARKER, "short"]


def test_failing_emit_is_counted_and_print_still_works() -> None:
    def broken(stream: str, ts: float, lines: list[str]) -> None:
        raise RuntimeError("sender gone")

    with captured(broken) as (console, out):
        print("one")
        print("two")

    assert console.errors == 2
    assert out.raw_bytes() == b"one\ntwo\n"


def test_emit_that_prints_does_not_recurse() -> None:
    seen: list[str] = []

    def chatty(stream: str, ts: float, lines: list[str]) -> None:
        seen.extend(lines)
        print(f"[emit got {len(lines)}]")

    with captured(chatty) as (console, out):
        print("hello")

    assert seen == ["hello"]
    assert out.raw_bytes() == b"hello\n[emit got 1]\n"
    assert console.errors == 0


def test_uninstall_leaves_a_later_replacement_in_place() -> None:
    recorder = Recorder()
    later = io.StringIO()
    with fake_terminals() as (out, _):
        console = ConsoleCapture(recorder)
        console.install()
        ours = sys.stdout
        sys.stdout = later
        console.uninstall()
        kept = sys.stdout is later
        ours.write("after uninstall\n")  # still writes through, no longer captured

    assert kept
    assert recorder.lines() == []
    assert out.raw_bytes() == b"after uninstall\n"


def test_concurrent_writers_keep_lines_whole() -> None:
    recorder = Recorder()

    def writer(worker: int) -> None:
        for i in range(200):
            sys.stdout.write(f"worker {worker} line {i}\n")

    with captured(recorder):
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    expected = {f"worker {w} line {i}" for w in range(4) for i in range(200)}
    assert sorted(recorder.lines()) == sorted(expected)
