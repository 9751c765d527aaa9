"""The Run: what ``kiseki.init`` returns. ``log()`` is the hot path of the whole project.

``log()`` turns the call into one :class:`~kiseki.core.records.Metrics` record and appends it
to the run log with one write before returning; nothing else happens on the training thread.
Sending happens in the sender process (``kiseki.sdk.sender``), capture in named threads.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from kiseki.core import records as rec
from kiseki.core.errors import KisekiError, StepOrderError, UsageError, ValidationError
from kiseki.core.keys import flatten, validate_key
from kiseki.core.values import as_number
from kiseki.sdk.config import SUMMARY_MODES, Config, Summary
from kiseki.sdk.media import media_kind
from kiseki.sdk.runlog import RunLogWriter
from kiseki.sdk.settings import Settings

_getpid = os.getpid
_now = time.time
# bumped in every forked child: log() compares it instead of calling getpid() each time
_fork_generation = [0]


def _after_fork_in_child() -> None:
    _fork_generation[0] += 1


os.register_at_fork(after_in_child=_after_fork_in_child)
_MAX_STEP = 2**63 - 1
_NOT_CODE = frozenset({"__pycache__", "node_modules", "site-packages", "kiseki-runs", "wandb",
                       "venv", "env"})


def warn(message: str) -> None:
    """Print a kiseki warning on the real stderr (never through captured console)."""
    say(f"warning: {message}")


def say(message: str) -> None:
    """Print a kiseki message on the real stderr (never through captured console)."""
    stream = getattr(sys, "__stderr__", None) or sys.stderr
    try:
        stream.write(f"kiseki: {message}\n")
        stream.flush()
    except (OSError, ValueError, RuntimeError):  # RuntimeError: reentrant write
        pass


class Run:
    """A run being logged. Use as a context manager or call :meth:`finish`.

    Example:
        >>> with kiseki.init(project="mnist", config={"lr": 0.01}) as run:
        ...     for step in range(100):
        ...         run.log({"loss": 1 / (step + 1)})
    """

    def __init__(self, *, settings: Settings, project: str, run_id: str, name: str, dir: str,
                 writer: RunLogWriter | None, start_step: int = 0, url: str = "",
                 tags: list[str] | None = None, group: str | None = None,
                 job_type: str | None = None, notes: str | None = None) -> None:
        self.settings = settings
        self.project = project
        self.entity: str | None = None  # as passed to init(); kiseki has no entities
        self.id = run_id
        self.start_time = time.time()
        self._name = name
        self.dir = dir
        self.url = url
        self._tags = list(tags or [])
        self.group = group
        self.job_type = job_type
        self._notes = notes
        self._writer = writer
        self._pid = _getpid()
        self._generation = _fork_generation[0]
        self._step = start_step
        self._keymap: dict[Any, str] = {}
        self._warned: set[str] = set()
        self._finished = False
        self._ending = False
        self._exit_code: int | None = None
        self._on_finish: list[Callable[[str, int, str | None], None]] = []
        self._append = writer.append if writer is not None else (lambda r: 0)
        self._encoder: Any = None
        self._backend: Any = None
        self._media_count = 0
        self._media_closed = False
        self._media_prefix = os.urandom(4).hex() + "-"
        self.config = Config(on_change=self._config_changed, warn=self._warn_once)
        self.summary = Summary(on_change=self._summary_changed)
        self._observe = self.summary.observe

    # -- identity -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)
        self._record(rec.RunUpdate(name=self._name))

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._tags)

    @tags.setter
    def tags(self, value: list[str] | tuple[str, ...]) -> None:
        self._tags = [str(t) for t in value]
        self._record(rec.RunUpdate(tags=self._tags))

    @property
    def notes(self) -> str | None:
        return self._notes

    @notes.setter
    def notes(self, value: str) -> None:
        self._notes = str(value)
        self._record(rec.RunUpdate(notes=self._notes))

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` writes to."""
        return self._step

    @property
    def path(self) -> str:
        return f"{self.project}/{self.id}"

    @property
    def log_path(self) -> str | None:
        return self._writer.path if self._writer else None

    # -- logging --------------------------------------------------------------------------------
    def log(self, data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Log a dict of metrics at the current step (wandb semantics).

        Without ``step`` each call is a new step unless ``commit=False``; with ``step`` the
        values go to that step and the step stays open until a later step or ``commit=True``.
        Steps never decrease. Nested dicts are flattened to ``"a.b"`` keys.

        Example:
            >>> run.log({"train/loss": 0.5, "train/acc": 0.8})
        """
        if self._generation != _fork_generation[0]:
            self._forked()
        if self._finished:
            raise UsageError(f"run {self.id} is finished; call kiseki.init() for a new run")
        if type(data) is not dict:
            data = self._as_dict(data)
        keymap = self._keymap
        values: dict[str, float] = {}
        media: list[tuple[str, str, Any]] = []
        for key, value in data.items():
            name = keymap.get(key)
            if name is None or type(value) not in (float, int):
                self._slow_value(key, value, values, media)
                continue
            values[name] = float(value)
        if step is None:
            current = self._step
            advance = commit is None or commit
        else:
            current = self._check_step(step)
            advance = bool(commit)
        if not media:
            if values:
                self._append(rec.Metrics(current, _now(), values))
                self._observe(values)
        else:
            self._log_with_media(values, media, current)
        self._step = current + 1 if advance else current

    def _log_with_media(self, values: dict[str, float], media: list[tuple[str, str, Any]],
                        step: int) -> None:
        """One write for the step's metrics and media references, then the values go to the
        encoder thread (which appends their ``MediaStored`` records once stored)."""
        records: list[Any] = []
        if values:
            records.append(rec.Metrics(step, _now(), values))
            self._observe(values)
        encode = [job for name, kind, value in media
                  if (job := self._media_record(name, kind, value, step, records)) is not None]
        if len(records) == 1:
            self._append(records[0])
        elif records and self._writer is not None:
            self._writer.append_many(records)
        for job in encode:
            self._encoder.submit(*job)

    def _as_dict(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            return dict(data)
        raise UsageError(f"log() takes a dict of values, got {type(data).__name__}")

    def _slow_value(self, key: Any, value: Any, out: dict[str, float],
                    media: list[tuple[str, str, Any]]) -> None:
        if isinstance(value, dict) and "_type" not in value:
            for sub_key, sub_value in flatten(value, str(key)).items():
                self._slow_value(sub_key, sub_value, out, media)
            return
        name = self._keymap.get(key)
        if name is None:
            try:
                name = validate_key(key if isinstance(key, str) else str(key))
            except ValidationError as exc:
                self._warn_once(f"log(): {exc}; value dropped", key=f"key:{key!r:.80}")
                return
            self._keymap[key] = name
        kind = getattr(type(value), "_kiseki_kind", None)  # Image, Table, Histogram
        if kind is not None:
            media.append((name, kind, value))
            return
        number = as_number(value)
        if number is None:
            kind = media_kind(value)
            if kind is not None:
                media.append((name, kind, value))
                return
            self._warn_once(
                f"log(): {name!r} is a {type(value).__name__}, not a number; it is not kept in "
                "history (put text in run.summary or run.config)", key=f"type:{name}")
            return
        out[name] = float(number)

    def _media_record(self, name: str, kind: str, value: Any, step: int,
                      records: list[Any]) -> tuple[str, str, str, Any] | None:
        """Add the media reference to ``records``; return what the encoder thread must store
        (None for a histogram, which the reference carries whole, or a refused value)."""
        problem = getattr(value, "problem", None)
        if kind == "images":
            bad = [v.problem for v in value if v.problem]
            problem = bad[0] if len(bad) == len(value) else None
        if problem:
            self._warn_once(f"log(): {name!r}: {problem}; not logged at step {step}",
                            key=f"media:{name}:{problem[:60]}")
            return None
        self._media_count += 1
        media_id = f"{self._media_prefix}{self._media_count}"
        if kind == "histogram":
            records.append(rec.Media(step, _now(), name, media_id, kind, value.descriptor()))
            return None
        if self._writer is None:
            return None
        if self._encoder is None:
            from kiseki.sdk.encoder import MediaEncoder, media_dir

            self._encoder = MediaEncoder(media_dir(os.path.dirname(self._writer.path)),
                                         self._emit_media, self._warn_once,
                                         self.settings.media_encoder_threads)
        if kind == "table":  # rows snapshot: the caller may keep adding rows after logging
            value = _snapshot_table(value)
        records.append(rec.Media(step, _now(), name, media_id, kind))
        return media_id, name, kind, value

    def _emit_media(self, record: Any) -> None:
        try:
            if self._pid == _getpid() and not self._media_closed:
                self._append(record)
        except Exception:  # noqa: BLE001 - the encoder thread must never die of a log error
            pass

    # -- artifacts ------------------------------------------------------------------------------
    def log_artifact(self, artifact_or_path: Any, name: str | None = None,
                     type: str | None = None, aliases: list[str] | None = None) -> Any:
        """Log an artifact (or a file or folder path) as output of this run.

        A new version (v0, v1, ...) is made only when the content changed; ``latest`` moves to
        it, ``aliases`` too. Files are hashed and staged now, uploaded by the sender; call
        ``artifact.wait()`` to wait for the commit.

        Example:
            >>> art = kiseki.Artifact("model", type="model"); art.add_file("model.pt")
            >>> run.log_artifact(art, aliases=["best"])
        """
        from kiseki.sdk.artifacts import Artifact, make_record

        if self._finished:
            raise UsageError(f"run {self.id} is finished; log artifacts before finish()")
        if isinstance(artifact_or_path, Artifact):
            artifact = artifact_or_path
        else:
            path = os.fspath(artifact_or_path)
            artifact = Artifact(name or os.path.basename(os.path.abspath(path)),
                                type or "unspecified")
            if os.path.isdir(path):
                artifact.add_dir(path)
            else:
                artifact.add_file(path)
        if self._writer is None:  # disabled mode: nothing is recorded
            return artifact
        folder = os.path.join(os.path.dirname(self._writer.path), "artifacts")
        record = make_record(artifact, folder, list(aliases or []))
        self._record(record)
        artifact._client_id = record.client_id
        artifact._project = self.project
        artifact._backend = self._read_backend(required=False)
        return artifact

    def use_artifact(self, artifact_or_name: Any, type: str | None = None,
                     aliases: list[str] | None = None) -> Any:
        """Declare that this run uses an artifact version (``"name:alias"``, ``"name:v3"``,
        ``"project/name:alias"`` or an Artifact); returns it, ready to ``download()``."""
        from kiseki.sdk.artifacts import Artifact, parse_ref

        backend = self._read_backend(required=True)
        if isinstance(artifact_or_name, Artifact):
            art = artifact_or_name.wait() if artifact_or_name._client_id else artifact_or_name
            if art._info is None:
                raise UsageError("use_artifact() takes a logged artifact or a name; log this "
                                 "draft first")
            project, name, tag = str(art._project), art.name, str(art.version)
        else:
            project, name, tag = parse_ref(str(artifact_or_name), self.project)
        info = backend.artifact(project, name, tag)
        if type is not None and info["type"] != type:
            raise ValidationError(f"artifact {project}/{name}:{tag} is a {info['type']}, not "
                                  f"a {type}")
        if self._writer is not None:
            self._record(rec.ArtifactUsed(project, name, int(info["index"]), _now()))
        return Artifact._fetched(info, backend)

    def log_model(self, path: str, name: str | None = None,
                  aliases: list[str] | None = None) -> Any:
        """Log a model file or folder as an artifact of type ``model``."""
        return self.log_artifact(path, name=name, type="model", aliases=aliases)

    def use_model(self, name: str) -> str:
        """Use a model artifact and return the local folder it was downloaded to."""
        return str(self.use_artifact(name, type="model").download())

    def log_code(self, root: str = ".", name: str | None = None,
                 include_fn: Callable[[str], bool] | None = None,
                 exclude_fn: Callable[[str], bool] | None = None) -> Any:
        """Log the source files under ``root`` as a ``code`` artifact (wandb's ``log_code``):
        ``*.py`` unless ``include_fn(path)`` says otherwise, minus ``exclude_fn(path)``;
        hidden folders, virtual environments, ``__pycache__``, ``node_modules`` and run
        folders are skipped. Returns the artifact, or None when no file matched.

        Example:
            >>> run.log_code(".", include_fn=lambda p: p.endswith((".py", ".yaml")))
        """
        from kiseki.sdk.artifacts import Artifact

        root = os.path.abspath(root)
        include = include_fn or (lambda path: path.endswith(".py"))
        artifact = Artifact(name or f"source-{self.project}-{self.id}", type="code")
        found = 0
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_CODE
                             and not os.path.isfile(os.path.join(folder, d, "pyvenv.cfg")))
            for file in sorted(files):
                path = os.path.join(folder, file)
                if os.path.isfile(path) and include(path) and not (exclude_fn and exclude_fn(path)):
                    artifact.add_file(path, name=os.path.relpath(path, root))
                    found += 1
        if not found:
            self._warn_once(f"log_code(): no file under {root} matched; nothing logged",
                            key=f"log_code:{root}")
            return None
        return self.log_artifact(artifact)

    def link_model(self, path: str, registered_model_name: str, name: str | None = None,
                   aliases: list[str] | None = None) -> None:
        """Log a model file or folder and link it into the registered model
        ``registered_model_name`` with ``aliases``, in one call (wandb's ``link_model``)."""
        self.link_artifact(self.log_model(path, name=name), f"registry/{registered_model_name}",
                           aliases=aliases)

    def link_artifact(self, artifact: Any, target_path: str,
                      aliases: list[str] | None = None) -> None:
        """Link a logged artifact version into a registered model: ``"registry/<name>"``."""
        from kiseki.core.names import check_artifact_name
        from kiseki.sdk.artifacts import Artifact

        target = target_path.split("/", 1)[1] if target_path.startswith("registry/") else \
            target_path
        target = check_artifact_name(target, "registered model name")
        if not isinstance(artifact, Artifact):
            raise UsageError("link_artifact() takes an Artifact returned by log_artifact() or "
                             "use_artifact()")
        if artifact._info is None and artifact._client_id is not None:
            record = rec.ArtifactLinked(target, _now(), client_id=artifact._client_id,
                                        aliases=list(aliases or []))
        elif artifact._info is not None:
            record = rec.ArtifactLinked(target, _now(), project=artifact._project,
                                        name=artifact.name, version=int(artifact._info["index"]),
                                        aliases=list(aliases or []))
        else:
            raise UsageError("link_artifact() needs a logged artifact; call log_artifact first")
        if self._writer is not None:
            self._record(record)

    def _read_backend(self, required: bool) -> Any:
        if self._backend is None:
            from kiseki.sdk.api import backend_for

            try:
                self._backend = backend_for(self.settings)
            except KisekiError:
                if required:
                    raise
                return None
        return self._backend

    def _check_step(self, step: Any) -> int:
        if type(step) is not int:
            number = as_number(step)
            if isinstance(number, bool) or number is None or number != int(number):
                raise ValidationError(f"step must be an int >= 0, got {step!r}")
            step = int(number)
        if step < 0 or step > _MAX_STEP:
            raise ValidationError(f"step must be an int between 0 and 2**63-1, got {step}")
        if step < self._step:
            raise StepOrderError(
                f"step {step} is below the run's current step {self._step}; steps never "
                f"decrease. Log without step= to continue, or rewind explicitly with "
                f"kiseki.init(id={self.id!r}, resume_from='{self.id}?_step={step}')"
            )
        return step

    def _forked(self) -> None:
        raise UsageError(
            f"run {self.id} belongs to process {self._pid}; this forked process "
            f"({_getpid()}) cannot log to it. Log from the parent, or call kiseki.init() "
            "in the child for a run of its own"
        )

    def define_metric(self, name: str, step_metric: str | None = None,
                      summary: str | None = None, hidden: bool = False,
                      step_sync: bool | None = None) -> None:
        """Say how a metric (or a glob such as ``"val/*"``) is summarised and plotted.

        Example:
            >>> run.define_metric("val/loss", summary="min")
            >>> run.define_metric("val/*", step_metric="epoch")
        """
        if summary is not None and summary not in SUMMARY_MODES:
            raise ValidationError(
                f"summary must be one of {', '.join(SUMMARY_MODES)}, got {summary!r}")
        if not name or not isinstance(name, str):
            raise ValidationError("define_metric() needs a metric name or glob such as 'val/*'")
        self._record(rec.DefineMetric(name, step_metric, summary, hidden))
        if summary:
            self.summary.add_rule(name, summary)

    def alert(self, title: str, text: str, level: str = "INFO", wait_duration: float = 0) -> None:
        """Record an alert for this run (shown in the run page and the API)."""
        level = str(getattr(level, "value", level)).upper()
        if level not in ("INFO", "WARN", "ERROR"):
            raise ValidationError(f"alert level must be INFO, WARN or ERROR, got {level!r}")
        self._record(rec.Alert(str(title)[:256], str(text)[:100_000], level, _now()))

    # -- record plumbing ------------------------------------------------------------------------
    def _config_changed(self, values: dict[str, Any]) -> None:
        self._record(rec.ConfigUpdate(values))

    def _summary_changed(self, values: dict[str, Any], removed: list[str]) -> None:
        self._record(rec.SummaryUpdate(values, removed))

    def _warn_once(self, message: str, key: str | None = None) -> None:
        marker = key or message
        if marker in self._warned:
            return
        self._warned.add(marker)
        warn(message)

    def _record(self, record: Any) -> None:
        """Append a record the user asked for (config, summary, name, alert...)."""
        if self._writer is not None and self._pid != _getpid():
            self._forked()  # a forked child must not write into the parent's log (R22)
        self._append(record)

    def _emit(self, record: Any) -> None:
        """Append a record from a capture thread; never raises."""
        try:
            if not self._finished and self._pid == _getpid():
                self._append(record)
        except KisekiError:
            pass

    # -- lifecycle ------------------------------------------------------------------------------
    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """End the run: ``finished`` for exit code 0/None, ``failed`` otherwise.

        Waits at most ``settings.finish_timeout`` seconds for sending; what is left stays in
        the run log for ``kiseki sync`` and is reported.
        """
        state = "finished" if not exit_code else "failed"
        self._end(state, int(exit_code or 0), None)

    def _end(self, state: str, exit_code: int, error: str | None) -> None:
        if self._finished or self._ending or self._pid != _getpid():
            return
        # set before the hooks run: a SIGTERM arriving while finish() waits must not start a
        # second end on top of the first (its handler runs on this same thread)
        self._ending = True
        self._exit_code = exit_code
        if self._encoder is not None:
            left = self._encoder.drain(self.settings.finish_timeout)
            if left:
                warn(f"run {self.id}: {left} media value(s) still encoding after "
                     f"{self.settings.finish_timeout:g}s; they are reported as missing")
            self._encoder.close()
            self._media_closed = True
        for hook in list(self._on_finish):
            try:
                hook(state, exit_code, error)
            except Exception as exc:  # noqa: BLE001 - a failing hook must not stop finish
                warn(f"finish step failed: {exc!r}")
        self._finished = True
        if self._backend is not None:
            try:
                self._backend.close()
            except Exception:  # noqa: BLE001 - closing a read connection must not fail finish
                pass

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.finish()
        elif issubclass(exc_type, KeyboardInterrupt):
            self._end("killed", 255, "KeyboardInterrupt")
        else:
            import traceback

            self._end("failed", 1, "".join(traceback.format_exception(exc_type, exc, tb)))

    def __repr__(self) -> str:
        return f"<kiseki.Run {self.project}/{self.id} ({self._name})>"


def _snapshot_table(table: Any) -> Any:
    from kiseki.sdk.media import Table

    copy = Table.__new__(Table)
    copy.columns = list(table.columns)
    copy.data = [list(row) for row in table.data]
    copy.warnings = list(table.warnings)
    copy.problem = table.problem
    return copy


class DisabledRun(Run):
    """What ``init(mode="disabled")`` returns: the same API, nothing recorded."""

    def log(self, data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        if not isinstance(data, dict):
            raise UsageError(f"log() takes a dict of values, got {type(data).__name__}")
        self._step = step if step is not None else self._step + (commit is not False)

