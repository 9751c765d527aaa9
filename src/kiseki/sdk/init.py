"""``kiseki.init``: build a Run, its log, its capture threads and its exit hooks."""

from __future__ import annotations

import atexit
import os
import re
import secrets
import signal
import sys
import threading
import time
import unicodedata
import uuid
from typing import Any

from kiseki import __version__
from kiseki.core import records as rec
from kiseki.core.errors import KisekiError, UsageError, ValidationError
from kiseki.core.names import check_project, check_run_id
from kiseki.core.values import SanitizeReport, sanitize
from kiseki.sdk import sender as sender_mod
from kiseki.sdk.run import DisabledRun, Run, say, warn
from kiseki.sdk.runlog import RunLogReader, RunLogWriter
from kiseki.sdk.settings import Settings, load_settings

RUNS_FOLDER = "kiseki-runs"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_RESUME = ("allow", "must", "never", "auto")

_current: Run | None = None
_state_lock = threading.RLock()


def current_run() -> Run | None:
    return _current


def _new_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


def init(project: str | None = None, name: str | None = None, id: str | None = None,
         config: dict[str, Any] | str | None = None, tags: list[str] | None = None,
         group: str | None = None, job_type: str | None = None, notes: str | None = None,
         dir: str | None = None, mode: str | None = None, resume: str | bool | None = None,
         resume_from: str | None = None, settings: Settings | dict[str, Any] | None = None,
         entity: str | None = None, reinit: Any = None, save_code: bool | None = None,
         config_exclude_keys: list[str] | None = None,
         config_include_keys: list[str] | None = None, **unused: Any) -> Run:
    """Start a run and return it (also usable as a context manager).

    Example:
        >>> import kiseki
        >>> run = kiseki.init(project="demo", config={"lr": 0.01})
        >>> run.log({"loss": 0.3})
        >>> run.finish()
    """
    global _current
    with _state_lock:
        if _current is not None and not _current._finished:
            _current.finish()
        resolved = load_settings(settings, mode=mode)
        if save_code is False:
            resolved.capture_code = False
        if unused:
            warn(f"init(): ignoring unsupported argument(s) {sorted(unused)}")
        project = check_project(project or os.environ.get("KISEKI_PROJECT") or "uncategorized")
        cfg = _initial_config(config, config_include_keys, config_exclude_keys)
        if resolved.mode == "disabled":
            run: Run = DisabledRun(settings=resolved, project=project, run_id=id or _new_id(),
                                   name=name or "disabled", dir=dir or os.getcwd(), writer=None)
            run.config.update(cfg)
            run._on_finish.append(lambda *_: _forget(run))
            _current = run
            return run
        run = _Starter(resolved, project, name, id, cfg, tags, group, job_type, notes, dir,
                       resume, resume_from).start()
        run.entity = entity
        _current = run
        return run


def _initial_config(config: Any, include: list[str] | None,
                    exclude: list[str] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, str):
        config = _load_yaml_or_json(config)
    if not isinstance(config, dict):
        config = getattr(config, "__dict__", None) or {}
    if include:
        config = {k: v for k, v in config.items() if k in include}
    if exclude:
        config = {k: v for k, v in config.items() if k not in exclude}
    return dict(config)


def _load_yaml_or_json(path: str) -> dict[str, Any]:
    import json

    try:
        with open(path) as fh:
            text = fh.read()
    except OSError as exc:
        raise UsageError(f"config file {path!r} cannot be read: {exc}") from exc
    try:
        import yaml  # type: ignore[import-untyped]  # optional

        data = yaml.safe_load(text)
    except ImportError:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValidationError(f"config file {path!r} must hold a mapping of names to values")
    return data


class _Starter:
    """Everything ``init`` does for a recorded run, in order."""

    def __init__(self, settings: Settings, project: str, name: str | None, run_id: str | None,
                 config: dict[str, Any], tags: list[str] | None, group: str | None,
                 job_type: str | None, notes: str | None, dir: str | None,
                 resume: str | bool | None, resume_from: str | None) -> None:
        self.settings = settings
        self.project = project
        self.name = name
        self.run_id = run_id
        self.config = config
        self.tags = [str(t) for t in (tags or [])]
        self.group, self.job_type, self.notes = group, job_type, notes
        self.base_dir = os.path.abspath(dir or os.environ.get("KISEKI_RUN_DIR") or os.getcwd())
        self.resume = "allow" if resume is True else resume
        self.resume_from = resume_from

    def start(self) -> Run:
        rewind_step = self._parse_resume_from()
        if self.resume is not None and self.resume not in _RESUME:
            raise UsageError(f"resume must be one of {', '.join(_RESUME)}, got {self.resume!r}")
        if self.run_id is None and self.resume == "auto":
            self.run_id = self._last_unfinished_id()
        run_id = check_run_id(self.run_id or _new_id())
        resumed, start_step = self._resume_state(run_id, rewind_step)
        runs_dir = os.path.join(self.base_dir, RUNS_FOLDER)
        run_dir = self._make_run_dir(runs_dir, run_id)
        stream = uuid.uuid4().hex
        header = {"project": self.project, "run_id": run_id, "stream": stream,
                  "created_at": time.time(), "sdk_version": __version__}
        writer = RunLogWriter(os.path.join(run_dir, "run.kiseki"), header)
        _lock_log(writer)
        name = self.name or run_id
        run = Run(settings=self.settings, project=self.project, run_id=run_id, name=name,
                  dir=run_dir, writer=writer, start_step=start_step, url=self._url(run_id),
                  tags=self.tags, group=self.group, job_type=self.job_type, notes=self.notes)
        report = SanitizeReport()
        clean_config = {unicodedata.normalize("NFC", k): v
                        for k, v in sanitize(self.config, report).items()}
        run.config._items.update(clean_config)
        writer.append(rec.RunStart(
            project=self.project, run_id=run_id, name=name, created_at=time.time(),
            config=clean_config, tags=self.tags, group=self.group, job_type=self.job_type,
            notes=self.notes, resumed=resumed, rewind_step=rewind_step,
            sdk_version=__version__))
        if report.problems():
            warn("config: " + "; ".join(report.problems()))
        _write_latest(runs_dir, run_id)
        _Lifecycle(run, writer, self.settings, runs_dir).start()
        return run

    def _parse_resume_from(self) -> int | None:
        if not self.resume_from:
            return None
        match = re.match(r"^([A-Za-z0-9_-]{1,64})\?_step=(\d+)$", self.resume_from)
        if not match:
            raise ValidationError(
                f"resume_from {self.resume_from!r} must look like '<run_id>?_step=<n>'")
        if self.run_id and self.run_id != match.group(1):
            raise UsageError("resume_from names another run than id=; give one of them")
        self.run_id = match.group(1)
        self.resume = "must"
        return int(match.group(2))

    def _resume_state(self, run_id: str, rewind_step: int | None) -> tuple[bool, int]:
        if self.resume is None and self.run_id is None:
            return False, 0
        last_step = _local_last_step(os.path.join(self.base_dir, RUNS_FOLDER), run_id)
        exists = last_step is not None
        remote = self._remote_run(run_id)
        if remote is not None:
            exists = True
            if remote.get("last_step") is not None:
                last_step = max(last_step if last_step is not None else -1, remote["last_step"])
        if self.resume == "must" and not exists:
            raise UsageError(f"resume='must' but run {self.project}/{run_id} does not exist")
        if self.resume == "never" and exists:
            raise UsageError(f"run {self.project}/{run_id} already exists and resume='never'; "
                             "pick another id or pass resume='allow'")
        if rewind_step is not None:
            return True, rewind_step
        if not exists:
            return False, 0
        return True, (last_step + 1) if last_step is not None else 0

    def _remote_run(self, run_id: str) -> dict[str, Any] | None:
        from kiseki.sdk.api import backend_for

        try:
            backend = backend_for(self.settings, timeout=self.settings.init_timeout)
            try:
                return backend.get_run(self.project, run_id)
            finally:
                backend.close()
        except KisekiError as exc:
            if "not found" not in str(exc).lower():
                warn(f"could not reach {self.settings.base_url or 'the store'} at init "
                     f"({exc}); logging continues locally")
            return None

    def _last_unfinished_id(self) -> str | None:
        path = os.path.join(self.base_dir, RUNS_FOLDER, "latest-run")
        try:
            with open(path) as fh:
                run_id = fh.read().strip()
        except OSError:
            return None
        return run_id or None

    @staticmethod
    def _make_run_dir(runs_dir: str, run_id: str) -> str:
        stamp = time.strftime("%Y%m%d_%H%M%S")
        base = os.path.join(runs_dir, f"run-{stamp}-{run_id}")
        path, n = base, 1
        while True:
            try:
                os.makedirs(path)
                return path
            except FileExistsError:
                n += 1
                path = f"{base}-{n}"

    def _url(self, run_id: str) -> str:
        from kiseki.sdk.settings import run_page_url

        return run_page_url(self.settings.base_url, self.project, run_id)


def _lock_log(writer: RunLogWriter) -> None:
    import fcntl

    try:
        fcntl.flock(writer._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        raise UsageError(f"run log {writer.path} is locked by another process") from exc


def _write_latest(runs_dir: str, run_id: str) -> None:
    try:
        with open(os.path.join(runs_dir, "latest-run"), "w") as fh:
            fh.write(run_id)
    except OSError:
        pass


def _local_last_step(runs_dir: str, run_id: str) -> int | None:
    """Highest step logged to ``run_id`` in local run logs under ``runs_dir``."""
    try:
        names = [n for n in os.listdir(runs_dir) if n.startswith("run-") and f"-{run_id}" in n]
    except OSError:
        return None
    logs: list[tuple[float, str, RunLogReader]] = []
    for name in names:
        path = os.path.join(runs_dir, name, "run.kiseki")
        if not os.path.exists(path):
            continue
        reader = RunLogReader(path)
        header = reader.read_header()
        if not header or header.get("run_id") != run_id:
            continue
        created = header.get("created_at")
        logs.append((created if isinstance(created, (int, float)) else 0.0, name, reader))
    last: int | None = None
    # oldest stream first, so that a later rewind (resume_from) drops the steps it deleted
    for _, _, reader in sorted(logs, key=lambda item: (item[0], item[1])):
        last = -1 if last is None else last
        for entry in reader.read_all():
            record = entry.record
            if isinstance(record, rec.Metrics):
                last = max(last, record.step)
            elif isinstance(record, rec.RunStart) and record.rewind_step is not None:
                last = min(last, record.rewind_step - 1)
    return None if last is None else last


class _Lifecycle:
    """Capture threads, the sender, crash recovery and the exit hooks of one run."""

    def __init__(self, run: Run, writer: RunLogWriter, settings: Settings, runs_dir: str) -> None:
        self.run = run
        self.writer = writer
        self.settings = settings
        self.runs_dir = runs_dir
        self.client: sender_mod.SenderClient | None = None
        self.sysmetrics: Any = None
        self.console: Any = None
        self.env_thread: threading.Thread | None = None
        self.started = time.time()

    def start(self) -> None:
        run = self.run
        if self.settings.mode == "online":
            try:
                self.client = sender_mod.client_for(self.settings)
                self.client.watch(self.writer.path)
                self._recover_left_behind()
            except OSError as exc:
                warn(f"could not start the sender ({exc}); the run is kept for `kiseki sync`")
        self.env_thread = threading.Thread(target=self._capture_env, name="kiseki-environment",
                                           daemon=True)
        self.env_thread.start()
        self._start_sysmetrics()
        self._start_console()
        run._on_finish.append(self.on_finish)
        _ExitHooks.install(run)

    def _capture_env(self) -> None:
        try:
            self.run._emit(rec.Environment(_environment(self.settings)))
        except Exception as exc:  # noqa: BLE001 - capture must never break a run
            self.run._emit(rec.Environment({"error": repr(exc)}))

    def _start_sysmetrics(self) -> None:
        if not self.settings.capture_system_metrics:
            return
        try:
            from kiseki.sdk.sysmetrics import SystemMetricsSampler, SystemMetricsThread

            emit = lambda ts, values: self.run._emit(rec.SystemMetrics(ts, values))  # noqa: E731
            self.sysmetrics = SystemMetricsThread(SystemMetricsSampler(), emit,
                                                  interval=self.settings.system_metrics_interval)
            self.sysmetrics.start()
        except Exception as exc:  # noqa: BLE001
            warn(f"system metrics disabled: {exc!r}")

    def _start_console(self) -> None:
        if not self.settings.capture_console:
            return
        try:
            from kiseki.sdk.console import ConsoleCapture

            emit = lambda stream, ts, lines: self.run._emit(rec.Console(stream, ts, lines))  # noqa: E731
            self.console = ConsoleCapture(emit)
            self.console.install()
        except Exception as exc:  # noqa: BLE001
            warn(f"console capture disabled: {exc!r}")

    def _recover_left_behind(self) -> None:
        """Hand logs of earlier runs in this folder that never finished syncing to the sender."""
        assert self.client is not None
        target = self.settings.base_url or self.settings.store_url()
        if (target, self.runs_dir) in _RECOVERED:
            return  # once per process: later runs of this process are its own sender's job
        _RECOVERED.add((target, self.runs_dir))
        try:
            names = sorted(os.listdir(self.runs_dir))
        except OSError:
            return
        for name in names[-200:]:
            run_dir = os.path.join(self.runs_dir, name)
            log = os.path.join(run_dir, "run.kiseki")
            if log == self.writer.path or not os.path.exists(log):
                continue
            if sender_mod.is_synced(run_dir, target) or sender_mod.writer_alive(log):
                continue
            self.client.recover(log)

    def on_finish(self, state: str, exit_code: int, error: str | None) -> None:
        if self.sysmetrics is not None:
            self.sysmetrics.stop()
        if self.console is not None:
            self.console.uninstall()
        if self.env_thread is not None:
            self.env_thread.join(timeout=5.0)
        seq = self.writer.append(rec.Finish(state, exit_code, time.time(), error))
        self.writer.close()  # releases the lock: the sender sees the writer is done
        _forget(self.run)
        self._report(seq)

    def _report(self, seq: int) -> None:
        run = self.run
        if self.writer.dropped:
            warn(f"{self.writer.dropped} record(s) could not be written to {self.writer.path} "
                 f"({self.writer.last_error}); they are lost")
        if self.settings.mode == "offline" or self.client is None:
            say(f"run {run.path} saved offline in {run.dir}; upload it with "
                f"`kiseki sync {run.dir}`")
            return
        reply = self.client.finish(self.writer.path, seq, self.settings.finish_timeout)
        if reply is None:
            say(f"run {run.path}: sending did not finish within {self.settings.finish_timeout:g}s;"
                f" the rest is kept in {run.dir} - upload it with `kiseki sync {run.dir}`")
        elif reply.get("error"):
            warn(f"run {run.path}: {reply['error']}; the run log is kept in {run.dir} for "
                 f"`kiseki sync`")
        elif reply.get("pending"):
            say(f"run {run.path}: {reply['pending']} record(s) not sent yet; upload them with "
                f"`kiseki sync {run.dir}`")


_ENV_CACHE: dict[tuple[Any, ...], dict[str, Any]] = {}
_RECOVERED: set[tuple[str, str]] = set()


def _environment(settings: Settings) -> dict[str, Any]:
    """Captured run conditions. The process's code, packages and machine do not change while
    it runs, so runs started by one process share one capture (a process that starts hundreds
    of short runs would otherwise spend its time in git)."""
    from kiseki.sdk.environment import CaptureOptions, capture_environment

    opts = CaptureOptions(git=settings.capture_git, code=settings.capture_code,
                          packages=settings.capture_packages, hardware=settings.capture_hardware)
    program = _main_program()
    key = (opts, program, os.getcwd(), tuple(sys.argv))
    with _state_lock:
        cached = _ENV_CACHE.get(key)
    if cached is None:
        cached = sanitize(capture_environment(opts, program=program, argv=list(sys.argv),
                                              cwd=os.getcwd()))
        with _state_lock:
            _ENV_CACHE[key] = cached
    return cached


def _forget(run: Run) -> None:
    """After finish, ``kiseki.run`` is None again (as in wandb)."""
    global _current
    with _state_lock:
        if _current is run:
            _current = None


def _main_program() -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.abspath(path) if path else None


class _ExitHooks:
    """Exit code, uncaught exception and SIGTERM handling; installed once per process."""

    installed = False
    _orig_exit: Any = None
    _orig_excepthook: Any = None
    exit_code: int | None = None
    error: str | None = None
    killed = False

    @classmethod
    def install(cls, run: Run) -> None:
        if cls.installed:
            return
        cls.installed = True
        cls._orig_exit = sys.exit
        cls._orig_excepthook = sys.excepthook
        sys.exit = cls._exit  # type: ignore[assignment]
        sys.excepthook = cls._excepthook
        atexit.register(cls._atexit)
        if threading.current_thread() is threading.main_thread():
            try:
                if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                    signal.signal(signal.SIGTERM, cls._sigterm)
            except (ValueError, OSError):
                pass

    # A forked child (multiprocessing or DataLoader worker) owns no run: SIGTERM goes back to
    # the kernel's default there, so the child dies of it as it would without kiseki. Under
    # the inherited Python-level handler, a SIGTERM sent before the new child first runs
    # reaches it before CPython's after-fork code, which clears the pending handler flag: the
    # signal is lost, the child lives on, and Pool.terminate() waits for it forever (R22).
    # SIGTERM is therefore blocked across fork() and unblocked in the child only after the
    # default action is back; one that arrived meanwhile stays pending and kills it then. The
    # hooks are registered when this module is imported (they act only while kiseki's handler
    # is installed): the child's hooks run in registration order, and a thread started by a
    # hook that runs before kiseki's (a library imported before kiseki) keeps SIGTERM blocked.
    _fork_state = threading.local()

    @classmethod
    def _before_fork(cls) -> None:
        cls._fork_state.blocked = False
        try:
            if signal.getsignal(signal.SIGTERM) == cls._sigterm:
                was = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
                cls._fork_state.blocked = signal.SIGTERM not in was
        except (ValueError, OSError):
            pass

    @classmethod
    def _unblock_after_fork(cls) -> None:
        if getattr(cls._fork_state, "blocked", False):
            cls._fork_state.blocked = False
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    @classmethod
    def _after_fork_in_parent(cls) -> None:
        cls._unblock_after_fork()

    @classmethod
    def _after_fork(cls) -> None:
        try:
            if signal.getsignal(signal.SIGTERM) == cls._sigterm:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
        except (ValueError, OSError):
            pass
        cls._unblock_after_fork()  # a SIGTERM that came meanwhile is delivered now

    @classmethod
    def _exit(cls, code: Any = None) -> None:
        cls.exit_code = code if isinstance(code, int) else (0 if code is None else 1)
        cls._orig_exit(code)

    @classmethod
    def _excepthook(cls, exc_type: Any, exc: Any, tb: Any) -> None:
        import traceback

        if issubclass(exc_type, KeyboardInterrupt):
            cls.killed = True
        cls.error = "".join(traceback.format_exception(exc_type, exc, tb))
        cls._orig_excepthook(exc_type, exc, tb)

    @classmethod
    def _sigterm(cls, signum: int, frame: Any) -> None:
        run = current_run()
        if run is not None and not run._finished:
            run._end("killed", 128 + signum, "terminated by SIGTERM")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    @classmethod
    def _atexit(cls) -> None:
        run = current_run()
        if run is not None and not run._finished and run._pid == os.getpid():
            if cls.killed:
                run._end("killed", 130, cls.error)
            elif cls.error is not None:
                run._end("failed", 1, cls.error)
            else:
                code = cls.exit_code or 0
                run._end("finished" if code == 0 else "failed", code, None)
        sender_mod.close_all()


os.register_at_fork(before=_ExitHooks._before_fork, after_in_parent=_ExitHooks._after_fork_in_parent,
                    after_in_child=_ExitHooks._after_fork)
