"""A snapshot of where a run executes: git state, command, Python, packages, host, GPUs, code.

Called once when a run starts, inside the user's training process. Every section is
captured on its own and guarded: a section that fails records ``{"error": "..."}`` and the
others still appear, so a missing ``git`` binary or a broken NVIDIA driver never stops a run.
"""

from __future__ import annotations

import getpass
import hashlib
import importlib.metadata
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["CaptureOptions", "capture_environment"]

_GIT_TIMEOUT_S = 5.0
_MAX_UNTRACKED = 1000
_TRUNCATION_MARKER = "\n[kiseki: diff truncated at {limit} bytes]\n"
_GIB = 1024**3

_packages_cache: dict[str, str] | None = None


@dataclass(frozen=True)
class CaptureOptions:
    """Which parts of the environment to capture, and how much of the large ones.

    Attributes:
        git: Capture the git remote, branch, commit, uncommitted diff and untracked files.
        code: Capture the source of the main script.
        packages: Capture the versions of all installed distributions.
        hardware: Capture the host (CPU, memory) and the NVIDIA GPUs.
        max_diff_bytes: Longer diffs are cut and marked, with ``diff_truncated`` set.
        max_code_bytes: Larger scripts are hashed but their content is not kept.
    """

    git: bool = True
    code: bool = True
    packages: bool = True
    hardware: bool = True
    max_diff_bytes: int = 5_000_000
    max_code_bytes: int = 1_000_000


def capture_environment(
    opts: CaptureOptions, *, program: str | None, argv: list[str], cwd: str
) -> dict[str, Any]:
    """Capture the run's environment as JSON-able metadata; never raises.

    Args:
        opts: Which sections to capture.
        program: Path of the main script, or None in an interactive session.
        argv: The command line arguments (usually ``sys.argv``).
        cwd: The working directory; git commands run here and relative paths resolve here.

    Returns:
        A dict with the sections ``command``, ``python`` and, as enabled by ``opts``,
        ``git``, ``packages``, ``host``, ``gpus`` and ``code``, plus
        ``capture_started_at`` (Unix seconds) and ``capture_duration_s``.

    Example:
        >>> env = capture_environment(CaptureOptions(packages=False),
        ...                           program=sys.argv[0], argv=sys.argv, cwd=os.getcwd())
        >>> env["python"]["implementation"]
        'CPython'
    """
    started_at = time.time()
    started = time.perf_counter()
    sections: dict[str, Callable[[], Any]] = {
        "command": lambda: _command(program, argv, cwd),
        "python": _python,
    }
    if opts.git:
        sections["git"] = lambda: _git(cwd, opts.max_diff_bytes)
    if opts.packages:
        sections["packages"] = _packages
    if opts.hardware:
        sections["host"] = _host
        sections["gpus"] = _gpus
    if opts.code:
        sections["code"] = lambda: _code(program, cwd, opts.max_code_bytes)
    env: dict[str, Any] = {"capture_started_at": started_at}
    for name, capture in sections.items():
        env[name] = _guarded(capture)
    env["capture_duration_s"] = round(time.perf_counter() - started, 6)
    return env


def _guarded(capture: Callable[[], Any]) -> Any:
    try:
        return capture()
    # One broken section must not cost the others, nor raise into the user's program.
    except Exception as exc:  # noqa: BLE001
        return {"error": _describe(exc)}


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --- git ------------------------------------------------------------------------------


class _GitUnavailableError(Exception):
    """Git cannot answer here: no executable, or not a repository."""


def _git(cwd: str, max_diff_bytes: int) -> dict[str, Any]:
    if not os.path.isdir(cwd):
        return {"error": f"working directory {cwd!r} does not exist"}
    try:
        if _run_git(cwd, "rev-parse", "--is-inside-work-tree").strip() != "true":
            raise _GitUnavailableError("not a git repository (bare or .git directory)")
    except _GitUnavailableError as exc:
        return {"error": str(exc)}
    commit = _git_or_none(cwd, "rev-parse", "--verify", "-q", "HEAD")
    info: dict[str, Any] = {
        "remote": _remote_url(cwd),
        "branch": _git_or_none(cwd, "symbolic-ref", "--short", "-q", "HEAD"),
        "commit": commit,
    }
    info.update(_diff(cwd, has_head=commit is not None, max_bytes=max_diff_bytes))
    info.update(_untracked(cwd))
    return info


def _run_git(cwd: str, *args: str) -> str:
    """Run one git command and return its stdout; raises _GitUnavailableError on failure."""
    env = dict(os.environ)
    # Never prompt for credentials, and never take index.lock: the user may run git
    # themselves while the run starts, and an optional lock would make their command fail.
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError as exc:
        raise _GitUnavailableError("git executable not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise _GitUnavailableError(f"git {args[0]} timed out after {_GIT_TIMEOUT_S:g} s") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        if "not a git repository" in message:
            message = "not a git repository"
        raise _GitUnavailableError(message or f"git {args[0]} exited with {done.returncode}")
    return done.stdout.decode("utf-8", "replace")


def _git_or_none(cwd: str, *args: str) -> str | None:
    try:
        return _run_git(cwd, *args).strip() or None
    except _GitUnavailableError:
        return None


def _remote_url(cwd: str) -> str | None:
    remotes = (_git_or_none(cwd, "remote") or "").split()
    if not remotes:
        return None
    name = "origin" if "origin" in remotes else remotes[0]
    url = _git_or_none(cwd, "remote", "get-url", name)
    return strip_url_credentials(url) if url else None


def strip_url_credentials(url: str) -> str:
    """Remove secrets from a remote URL before it is stored with the run.

    For http(s) the whole user part goes, since tokens are often sent as the user name
    (``https://ghp_xxx@github.com/...``). Other schemes keep the user but lose a password.
    scp-like remotes (``git@host:path``) carry no secret and are returned unchanged.

    Args:
        url: A git remote URL.

    Returns:
        The URL without credentials.

    Example:
        >>> strip_url_credentials("https://user:tok@example.com/x.git")
        'https://example.com/x.git'
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # unparseable: drop anything between '//' and '@' to be safe
        return re.sub(r"//[^/]*@", "//", url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if parts.scheme.lower() in ("http", "https"):
        netloc = hostport
    else:
        netloc = f"{userinfo.partition(':')[0]}@{hostport}"
    return urlunsplit(parts._replace(netloc=netloc))


def _diff(cwd: str, *, has_head: bool, max_bytes: int) -> dict[str, Any]:
    flags = ("--no-color", "--no-ext-diff")
    try:
        if has_head:
            text = _run_git(cwd, "diff", "HEAD", *flags)
        else:  # a fresh repository: nothing to compare with but the index
            text = _run_git(cwd, "diff", "--cached", *flags) + _run_git(cwd, "diff", *flags)
    except _GitUnavailableError as exc:
        return {"dirty": None, "diff": None, "diff_truncated": False, "diff_error": str(exc)}
    raw = text.encode("utf-8")
    truncated = len(raw) > max_bytes
    if truncated:
        text = raw[:max_bytes].decode("utf-8", "ignore")
        text += _TRUNCATION_MARKER.format(limit=max_bytes)
    # Dirty means tracked files differ from HEAD; untracked files are listed separately.
    return {"dirty": bool(raw), "diff": text, "diff_truncated": truncated}


def _untracked(cwd: str) -> dict[str, Any]:
    try:
        out = _run_git(cwd, "ls-files", "--others", "--exclude-standard", "-z")
    except _GitUnavailableError as exc:
        return {"untracked": None, "untracked_error": str(exc)}
    names = [name for name in out.split("\0") if name]
    return {
        "untracked": names[:_MAX_UNTRACKED],
        "untracked_truncated": len(names) > _MAX_UNTRACKED,
    }


# --- process and interpreter ----------------------------------------------------------


def _command(program: str | None, argv: list[str], cwd: str) -> dict[str, Any]:
    return {
        "argv": list(argv),
        "program": program,
        "cwd": cwd,
        "executable": sys.executable,
        "pid": os.getpid(),
        "user": _user(),
    }


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # containers often run as a uid with no passwd entry
        return None


def _python() -> dict[str, Any]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


def _packages() -> dict[str, str]:
    global _packages_cache
    if _packages_cache is None:
        found: dict[str, str] = {}
        for dist in importlib.metadata.distributions():
            name = dist.metadata["Name"]
            if name:  # a broken install can leave a dist-info without metadata
                found.setdefault(name, dist.version)
        _packages_cache = dict(sorted(found.items(), key=lambda item: item[0].lower()))
    return dict(_packages_cache)


# --- hardware -------------------------------------------------------------------------


def _host() -> dict[str, Any]:
    import psutil  # imported here so that `import kiseki` stays light

    return {
        "hostname": socket.gethostname(),
        "os": platform.system(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "cpu_model": _cpu_model(),
        "memory_total_gb": round(psutil.virtual_memory().total / _GIB, 3),
    }


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def _gpus() -> list[dict[str, Any]]:
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:  # no driver, no library, or no GPU: a CPU-only machine
        return []
    try:
        driver = _nvml_text(pynvml.nvmlSystemGetDriverVersion)
        return [_gpu(pynvml, index, driver) for index in range(pynvml.nvmlDeviceGetCount())]
    finally:
        pynvml.nvmlShutdown()


def _gpu(pynvml: Any, index: int, driver: str | None) -> dict[str, Any]:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    try:
        memory_total_gb: float | None = round(
            pynvml.nvmlDeviceGetMemoryInfo(handle).total / _GIB, 3
        )
    except pynvml.NVMLError:
        memory_total_gb = None
    return {
        "index": index,
        "name": _nvml_text(pynvml.nvmlDeviceGetName, handle),
        "memory_total_gb": memory_total_gb,
        "driver": driver,
        "uuid": _nvml_text(pynvml.nvmlDeviceGetUUID, handle),
    }


def _nvml_text(query: Callable[..., Any], *args: Any) -> str | None:
    import pynvml

    try:
        value = query(*args)
    except pynvml.NVMLError:
        return None
    # Older nvidia-ml-py releases return bytes, newer ones str.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --- code -----------------------------------------------------------------------------


def _code(program: str | None, cwd: str, max_bytes: int) -> dict[str, Any]:
    if not program:
        return {"skipped": "no main script (interactive session?)"}
    path = Path(cwd, program).resolve()
    if path.suffix != ".py":
        return {"path": str(path), "skipped": "main program is not a .py file"}
    try:
        with path.open("rb") as script:
            data = script.read(max_bytes + 1)
            digest = hashlib.sha256(data)
            too_large = len(data) > max_bytes
            for block in iter(lambda: script.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        return {"path": str(path), "skipped": f"cannot read the script: {_describe(exc)}"}
    result: dict[str, Any] = {"path": str(path), "sha256": digest.hexdigest()}
    if too_large:
        result["skipped"] = f"script is larger than max_code_bytes={max_bytes}"
    else:
        result["content"] = data.decode("utf-8", "replace")
    return result
