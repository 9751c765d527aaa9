"""Typed records: the run-log format and the ingest wire format, shared by SDK and server.

Every record a run produces is one of the structs below, wrapped in an :class:`Entry` that
carries its sequence number. ``(run, stream, seq)`` is the idempotency key of ingest: a stream
is one writer's log (one process's attempt at a run), ``seq`` counts from 1 within it.

Structs are encoded as msgpack arrays (``array_like``) with the record tag first, so a log of
1M points stays compact and decodes fast; msgpack carries NaN, ±Inf and -0.0 exactly.
Adding a field: append it with a default. Adding a record type: new tag; readers that do not
know a tag skip the entry and count it (reliability R21).
"""

from __future__ import annotations

from typing import Any, Union

import msgspec

LOG_FORMAT_VERSION = 1


class _Record(msgspec.Struct, array_like=True, tag_field="t", forbid_unknown_fields=False):
    pass


class RunStart(_Record, tag="start"):
    """First record of every stream: creates the run, or reopens it on resume."""

    project: str
    run_id: str
    name: str
    created_at: float
    config: dict[str, Any] = {}
    tags: list[str] = []
    group: str | None = None
    job_type: str | None = None
    notes: str | None = None
    resumed: bool = False
    rewind_step: int | None = None
    sdk_version: str = ""


class ConfigUpdate(_Record, tag="config"):
    """Top-level keys merged into the run's config."""

    values: dict[str, Any]


class Metrics(_Record, tag="m"):
    """Values logged at one step by one ``log()`` call."""

    step: int
    ts: float
    values: dict[str, float]


class SummaryUpdate(_Record, tag="summary"):
    """Values the user wrote into ``run.summary`` (they win over computed ones)."""

    values: dict[str, Any]
    remove: list[str] = []


class DefineMetric(_Record, tag="define"):
    """``run.define_metric``: how a metric (or glob of metrics) is summarised and plotted."""

    name: str
    step_metric: str | None = None
    summary: str | None = None
    hidden: bool = False


class Console(_Record, tag="console"):
    """Complete lines written to stdout or stderr."""

    stream: str
    ts: float
    lines: list[str]


class SystemMetrics(_Record, tag="sys"):
    """One sample of system metrics (CPU, memory, disk, network, GPU)."""

    ts: float
    values: dict[str, float]


class Environment(_Record, tag="env"):
    """Captured run conditions: git, command, Python, packages, hardware, code."""

    metadata: dict[str, Any]


class RunUpdate(_Record, tag="update"):
    """Changes to name, tags, notes or group made after init."""

    name: str | None = None
    tags: list[str] | None = None
    notes: str | None = None
    group: str | None = None


class Alert(_Record, tag="alert"):
    """``kiseki.alert(title, text, level)``."""

    title: str
    text: str
    level: str
    ts: float


class Media(_Record, tag="media"):
    """A rich value logged under ``key`` at ``step`` (image, gallery, table, histogram).

    Written by ``log()`` at once; the encoded form follows in a :class:`MediaStored` with the
    same ``media_id`` (encoding runs off the training thread). ``data`` is set when the value
    is complete already (histograms), and then no ``MediaStored`` follows.
    """

    step: int
    ts: float
    key: str
    media_id: str
    kind: str  # "image" | "images" | "table" | "histogram"
    data: dict[str, Any] | None = None


class MediaStored(_Record, tag="media_ok"):
    """The encoded form of a :class:`Media` value: its descriptor and the blobs it needs.

    ``blobs`` are sha256 digests of files in the run folder's ``media/`` directory, uploaded
    before the batch carrying this record. ``error`` names why the value could not be kept.
    """

    media_id: str
    data: dict[str, Any]
    blobs: list[str] = []
    warnings: list[str] = []
    error: str | None = None
    missing: bool = False  # sent by sync: the writer died before encoding this value


class ArtifactLogged(_Record, tag="art_log"):
    """``run.log_artifact``: a version to commit, with its manifest.

    ``files`` rows are ``[path, sha256, size]`` (content in the blob store), ``references``
    rows ``[path, uri, digest, size]`` (recorded, not copied). ``blobs`` are the digests staged
    in the run folder's ``artifacts/`` for the sender to upload first. ``client_id`` makes the
    commit idempotent and lets ``artifact.wait()`` find the version.
    """

    client_id: str
    name: str
    type: str
    ts: float
    files: list[list[Any]] = []
    references: list[list[Any]] = []
    blobs: list[str] = []
    aliases: list[str] = []
    description: str | None = None
    metadata: dict[str, Any] = {}
    tags: list[str] = []


class ArtifactUsed(_Record, tag="art_use"):
    """``run.use_artifact``: an edge from a version (``project/name:vN``) to this run."""

    project: str
    name: str
    version: int
    ts: float


class ArtifactLinked(_Record, tag="art_link"):
    """``run.link_artifact``: link a version (by its log ``client_id`` or ``project/name:vN``)
    into a registered model, optionally moving aliases there."""

    target: str  # registered model name
    ts: float
    client_id: str | None = None
    project: str | None = None
    name: str | None = None
    version: int | None = None
    aliases: list[str] = []


class Finish(_Record, tag="finish"):
    """Last record of a stream: final state and exit code."""

    state: str
    exit_code: int
    ts: float
    error: str | None = None


Record = Union[
    RunStart, ConfigUpdate, Metrics, SummaryUpdate, DefineMetric, Console, SystemMetrics,
    Environment, RunUpdate, Alert, Finish, Media, MediaStored, ArtifactLogged, ArtifactUsed,
    ArtifactLinked,
]


class Entry(msgspec.Struct, array_like=True):
    """A record with its sequence number within its stream."""

    seq: int
    rec: Record


class RawEntry(msgspec.Struct, array_like=True):
    """An entry whose record is kept undecoded, to skip unknown record types (R21)."""

    seq: int
    rec: msgspec.Raw


class IngestBatch(msgspec.Struct):
    """Body of ``POST /api/v1/ingest``: consecutive entries of one stream of one run."""

    project: str
    run_id: str
    stream: str
    entries: list[msgspec.Raw]
    live: bool = True  # False for `kiseki sync` and crash recovery: no heartbeat from these


class IngestResult(msgspec.Struct):
    """Answer to an ingest batch: the stream's high-water mark after applying it."""

    hwm: int
    applied: int
    skipped_unknown: int = 0
    rejected: list[str] = []


RUN_STATES = ("running", "finished", "failed", "killed", "preempted", "crashed")

_entry_decoder = msgspec.msgpack.Decoder(RawEntry)
_record_decoder = msgspec.msgpack.Decoder(Record)
_encoder = msgspec.msgpack.Encoder()


def encode_entry(seq: int, record: _Record) -> bytes:
    """Encode one entry for the run log or the wire (the msgpack array ``[seq, record]``)."""
    return _encoder.encode((seq, record))


def decode_entry(payload: bytes) -> tuple[int, Record | None]:
    """Decode an entry; the record is None when its type is unknown to this version."""
    raw = _entry_decoder.decode(payload)
    try:
        return raw.seq, _record_decoder.decode(raw.rec)
    except msgspec.ValidationError:
        return raw.seq, None


def encode(obj: Any) -> bytes:
    """Encode any record-family struct as msgpack."""
    return _encoder.encode(obj)


def decode_batch(body: bytes) -> IngestBatch:
    """Decode an ingest body; raises msgspec.DecodeError/ValidationError when malformed."""
    return msgspec.msgpack.decode(body, type=IngestBatch)
