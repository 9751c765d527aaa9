"""Console capture: tee ``sys.stdout``/``sys.stderr`` into the run's log, line by line.

The terminal still receives every write unchanged (progress bars keep animating); the
run receives finished lines only, with carriage-return redraws collapsed to the last
state, so a progress bar is stored as its final line rather than a thousand redraws.

Not captured: writes to ``sys.stdout.buffer`` or straight to file descriptors 1 and 2
(child processes, C extensions), which never pass through the Python stream objects.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

__all__ = ["ConsoleCapture"]

TRUNCATION_MARKER = " [kiseki: line truncated]"

_STREAMS = ("stdout", "stderr")


class _LineAssembler:
    """Turns a stream of writes into finished lines; the caller holds the lock.

    A ``\\r`` inside a line drops what came before it, since a terminal would draw over it.
    A trailing ``\\r`` is remembered rather than applied, so ``\\r\\n`` line ends work when
    split across writes. Memory per stream stays below ``max_line`` characters however long
    a line without ``\\n`` grows.
    """

    def __init__(self, max_line: int) -> None:
        self._max_line = max_line
        self._parts: list[str] = []
        self._size = 0
        self._pending_cr = False

    def feed(self, text: str) -> list[str]:
        *finished, rest = text.split("\n")
        lines = []
        for piece in finished:
            self._add(piece)
            lines.append(self._take())
        self._add(rest)
        return lines

    def flush(self) -> list[str]:
        return [self._take()] if self._parts else []

    def _add(self, piece: str) -> None:
        body = piece.rstrip("\r")
        ends_with_cr = len(body) < len(piece)
        if body:
            cut = body.rfind("\r")
            if cut >= 0 or self._pending_cr:
                self._parts.clear()
                self._size = 0
                body = body[cut + 1 :]
            room = self._max_line + 1 - self._size  # one extra character tells "too long"
            if room > 0:
                self._parts.append(body[:room])
                self._size += min(room, len(body))
            self._pending_cr = False
        if ends_with_cr:
            self._pending_cr = True

    def _take(self) -> str:
        line = "".join(self._parts)
        self._parts.clear()
        self._size = 0
        self._pending_cr = False
        if len(line) > self._max_line:
            line = line[: self._max_line] + TRUNCATION_MARKER
        return line


class _TeeStream:
    """Stands in for ``sys.stdout``/``sys.stderr``: writes through, then hands text on.

    Everything but ``write``/``writelines`` is the original stream's own attribute
    (``isatty``, ``fileno``, ``encoding``, ``buffer``, ``flush`` ...), so libraries that
    inspect the stream see the real terminal.
    """

    def __init__(self, original: TextIO, name: str, capture: ConsoleCapture) -> None:
        self._kiseki_original = original
        self._kiseki_name = name
        self._kiseki_capture: ConsoleCapture | None = capture

    def write(self, text: str) -> int:
        written = self._kiseki_original.write(text)
        capture = self._kiseki_capture
        if capture is not None:
            capture._feed(self._kiseki_name, text)
        return written

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_kiseki_"):  # not set yet (copy, pickle): avoid endless recursion
            raise AttributeError(name)
        return getattr(self._kiseki_original, name)

    def __repr__(self) -> str:
        return f"<kiseki tee of {self._kiseki_original!r}>"


class ConsoleCapture:
    """Captures what the process prints to ``sys.stdout`` and ``sys.stderr``.

    Lifecycle: ``install()`` once when the run starts, ``uninstall()`` once when it ends
    (which emits any unfinished last line). ``emit`` is called on the writing thread,
    under the capture's lock so lines keep their order; it must be quick (a queue put).
    Errors from ``emit`` are swallowed and counted in ``errors``; anything ``emit`` itself
    prints reaches the terminal but is not captured again.

    Args:
        emit: Called as ``emit(stream, ts, lines)`` with ``"stdout"`` or ``"stderr"``,
            the Unix time of the write and the lines it finished (without ``\\n``).
        max_line: Longer lines are cut to this many characters and marked.

    Example:
        >>> capture = ConsoleCapture(lambda stream, ts, lines: None)
        >>> capture.install()
        >>> print("epoch 1 loss 0.25")
        epoch 1 loss 0.25
        >>> capture.uninstall()
    """

    def __init__(
        self, emit: Callable[[str, float, list[str]], None], max_line: int = 100_000
    ) -> None:
        self._emit = emit
        self._max_line = max_line
        # reentrant: the SIGTERM handler uninstalls on the main thread, which may have been
        # interrupted inside a print() holding this lock (R23)
        self._lock = threading.RLock()
        self._emitting = threading.local()
        self._tees: dict[str, _TeeStream] = {}
        self._assemblers: dict[str, _LineAssembler] = {}
        self.errors = 0

    @property
    def installed(self) -> bool:
        """Whether ``install`` has run without a matching ``uninstall``."""
        return bool(self._tees)

    def install(self) -> None:
        """Replace ``sys.stdout`` and ``sys.stderr`` with tees; a second call does nothing."""
        if self._tees:
            return
        for name in _STREAMS:
            original = getattr(sys, name)
            if original is None:  # pythonw and some embedders run without a console
                continue
            self._assemblers[name] = _LineAssembler(self._max_line)
            self._tees[name] = _TeeStream(original, name, self)
            setattr(sys, name, self._tees[name])

    def uninstall(self) -> None:
        """Emit unfinished lines and put the original streams back.

        A stream that someone replaced after ``install`` is left in place (restoring ours
        would undo their change); our tee in their chain then just writes through.
        """
        for name, tee in self._tees.items():
            tee._kiseki_capture = None
            with self._lock:
                assembler = self._assemblers.pop(name)
                self._deliver(name, time.time(), assembler.flush())
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._kiseki_original)
        self._tees.clear()
        self._assemblers.clear()

    def _feed(self, name: str, text: str) -> None:
        if getattr(self._emitting, "active", False) or not isinstance(text, str):
            return  # output of emit itself: capturing it would recurse
        ts = time.time()
        try:
            with self._lock:
                assembler = self._assemblers.get(name)
                if assembler is not None:
                    self._deliver(name, ts, assembler.feed(text))
        except Exception:  # noqa: BLE001 - a capture bug must never break print() in user code
            self.errors += 1

    def _deliver(self, name: str, ts: float, lines: list[str]) -> None:
        if not lines:
            return
        self._emitting.active = True
        try:
            self._emit(name, ts, lines)
        except Exception:  # noqa: BLE001 - the sink failing must not break print() either
            self.errors += 1
        finally:
            self._emitting.active = False
