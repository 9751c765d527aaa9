"""System metrics of the machine and the training process, sampled on a background thread.

``SystemMetricsSampler`` reads CPU, memory, disk, network, process and NVIDIA GPU figures;
``SystemMetricsThread`` calls it every few seconds and hands the values to a callback. Both
run inside the user's training process, so neither lets an exception escape: a failing
metric group is left out of the sample, a failing GPU library turns GPU sampling off, and
the thread counts errors and keeps going.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import psutil

__all__ = ["MetricsSampler", "SystemMetricsSampler", "SystemMetricsThread"]

_logger = logging.getLogger(__name__)

_MB = 1024**2
_GB = 1024**3
_MAX_CORES = 64
_SAMPLE_ERRORS = (psutil.Error, OSError)


class MetricsSampler(Protocol):
    """What ``SystemMetricsThread`` samples: called from the thread, once per interval."""

    def sample(self) -> dict[str, float]:
        """Return metric name to value; may raise, the thread counts and carries on."""
        ...


class _CpuTimes(NamedTuple):
    busy: float
    total: float


def _cpu_times(times: Any) -> _CpuTimes:
    # Guest time is already counted in user time on Linux; idle and iowait are not busy.
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    busy = total - times.idle - getattr(times, "iowait", 0.0)
    return _CpuTimes(busy, total)


def _percent(before: _CpuTimes, after: _CpuTimes) -> float:
    elapsed = after.total - before.total
    if elapsed <= 0:
        return 0.0
    return min(100.0, max(0.0, 100.0 * (after.busy - before.busy) / elapsed))


class SystemMetricsSampler:
    """Reads one sample of system and process metrics; never raises from ``sample``.

    CPU percentages cover the time since the previous ``sample`` (or since construction);
    disk and network figures are cumulative since construction. The sampler keeps its own
    CPU-time baselines instead of ``psutil.cpu_percent``'s process-wide state, so user code
    that also calls psutil does not skew the figures.

    Lifecycle: construct once per run, call ``sample`` from one thread (the
    ``SystemMetricsThread``), call ``close`` at the end to release NVML.

    Args:
        path: A path on the filesystem whose usage ``disk.percent`` reports; default cwd.
        gpus: Sample NVIDIA GPUs through NVML when a driver is present.

    Example:
        >>> sampler = SystemMetricsSampler()
        >>> 0.0 <= sampler.sample()["memory.percent"] <= 100.0
        True
    """

    def __init__(self, path: str | None = None, *, gpus: bool = True) -> None:
        self._path = path or os.getcwd()
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call only sets the baseline
        self._cpu_before = self._read_cpu_times()
        self._disk_start = _disk_counters()
        self._net_start = _net_counters()
        self._gpus = _NvmlGpus() if gpus else None

    def sample(self) -> dict[str, float]:
        """Read the current metrics.

        Returns:
            Metric name to value, all floats. Groups that cannot be read on this machine
            (no disk counters in a container, no GPU) are left out.
        """
        out: dict[str, float] = {}
        for group in (self._cpu, self._memory, self._disk, self._network, self._proc):
            try:
                group(out)
            except _SAMPLE_ERRORS:
                _logger.debug(
                    "kiseki: system metric group %s failed", group.__name__, exc_info=True
                )
        if self._gpus is not None:
            self._gpus.sample(out)
        return out

    def close(self) -> None:
        """Release NVML if it was initialised; the sampler then stops sampling GPUs."""
        if self._gpus is not None:
            self._gpus.close()
            self._gpus = None

    @staticmethod
    def _read_cpu_times() -> list[_CpuTimes]:
        return [_cpu_times(times) for times in psutil.cpu_times(percpu=True)]

    def _cpu(self, out: dict[str, float]) -> None:
        now = self._read_cpu_times()
        before, self._cpu_before = self._cpu_before, now
        overall_before = _CpuTimes(sum(t.busy for t in before), sum(t.total for t in before))
        overall_now = _CpuTimes(sum(t.busy for t in now), sum(t.total for t in now))
        out["cpu.percent"] = _percent(overall_before, overall_now)
        for index, (old, new) in enumerate(zip(before[:_MAX_CORES], now[:_MAX_CORES])):
            out[f"cpu.percent.{index}"] = _percent(old, new)

    @staticmethod
    def _memory(out: dict[str, float]) -> None:
        memory = psutil.virtual_memory()
        out["memory.percent"] = float(memory.percent)
        out["memory.used_gb"] = memory.used / _GB
        out["memory.available_gb"] = memory.available / _GB

    def _disk(self, out: dict[str, float]) -> None:
        out["disk.percent"] = float(psutil.disk_usage(self._path).percent)
        now = _disk_counters()
        if now is not None and self._disk_start is not None:
            out["disk.read_mb"] = max(0, now[0] - self._disk_start[0]) / _MB
            out["disk.write_mb"] = max(0, now[1] - self._disk_start[1]) / _MB

    def _network(self, out: dict[str, float]) -> None:
        now = _net_counters()
        if now is not None and self._net_start is not None:
            out["network.sent_mb"] = max(0, now[0] - self._net_start[0]) / _MB
            out["network.recv_mb"] = max(0, now[1] - self._net_start[1]) / _MB

    def _proc(self, out: dict[str, float]) -> None:
        with self._process.oneshot():
            out["proc.memory.rss_mb"] = self._process.memory_info().rss / _MB
            out["proc.cpu.percent"] = float(self._process.cpu_percent(None))
            out["proc.threads"] = float(self._process.num_threads())


def _disk_counters() -> tuple[int, int] | None:
    try:
        counters = psutil.disk_io_counters()
    except _SAMPLE_ERRORS:
        return None
    # None where the kernel exposes no block devices, as in many containers.
    return None if counters is None else (counters.read_bytes, counters.write_bytes)


def _net_counters() -> tuple[int, int] | None:
    try:
        counters = psutil.net_io_counters()
    except _SAMPLE_ERRORS:
        return None
    return None if counters is None else (counters.bytes_sent, counters.bytes_recv)


class _NvmlGpus:
    """NVIDIA GPU sampling through NVML, initialised on first use.

    Any NVML failure other than "not supported" for one metric turns GPU sampling off for
    good: a lost GPU or a broken driver would otherwise fail (and log) every few seconds.
    """

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []
        self._power_limits_w: list[float | None] = []
        self._tried = False

    def sample(self, out: dict[str, float]) -> None:
        if not self._tried:
            self._tried = True
            self._start()
        if self._nvml is None:
            return
        try:
            for index, handle in enumerate(self._handles):
                self._sample_gpu(index, handle, out)
        except Exception:  # NVML errors, or a ctypes failure inside the binding
            _logger.warning("kiseki: GPU metrics failed; GPU sampling is off", exc_info=True)
            self.close()

    def close(self) -> None:
        nvml, self._nvml = self._nvml, None
        self._handles = []
        if nvml is not None:
            try:
                nvml.nvmlShutdown()
            except nvml.NVMLError:
                _logger.debug("kiseki: nvmlShutdown failed", exc_info=True)

    def _start(self) -> None:
        try:
            import pynvml
        except ImportError:
            return
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError:  # no driver or library: a CPU-only machine, not an error
            return
        self._nvml = pynvml
        try:
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            self._power_limits_w = [self._power_limit(h) for h in self._handles]
        except Exception:
            _logger.warning("kiseki: cannot list GPUs; GPU sampling is off", exc_info=True)
            self.close()

    def _power_limit(self, handle: Any) -> float | None:
        limit_mw = self._optional(self._nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
        return limit_mw / 1000.0 if limit_mw else None

    def _optional(self, query: Callable[..., Any], *args: Any) -> Any:
        """Call an NVML query; None where the GPU does not support or allow it."""
        try:
            return query(*args)
        except (self._nvml.NVMLError_NotSupported, self._nvml.NVMLError_NoPermission):
            return None

    def _sample_gpu(self, index: int, handle: Any, out: dict[str, float]) -> None:
        nvml, prefix = self._nvml, f"gpu.{index}."
        rates = self._optional(nvml.nvmlDeviceGetUtilizationRates, handle)
        if rates is not None:
            out[prefix + "utilization"] = float(rates.gpu)
        memory = self._optional(nvml.nvmlDeviceGetMemoryInfo, handle)
        if memory is not None and memory.total:
            out[prefix + "memory_percent"] = 100.0 * memory.used / memory.total
            out[prefix + "memory_used_gb"] = memory.used / _GB
        temperature = self._optional(
            nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU
        )
        if temperature is not None:
            out[prefix + "temperature"] = float(temperature)
        power_mw = self._optional(nvml.nvmlDeviceGetPowerUsage, handle)
        if power_mw is not None:
            out[prefix + "power_watts"] = power_mw / 1000.0
            limit_w = self._power_limits_w[index]
            if limit_w:
                out[prefix + "power_percent"] = 100.0 * (power_mw / 1000.0) / limit_w


class SystemMetricsThread(threading.Thread):
    """A daemon thread named ``kiseki-sysmetrics`` that samples and emits on an interval.

    It samples once at once, then every ``interval`` seconds until ``stop``. An exception
    from ``sample`` or ``emit`` is counted in ``errors`` (the first one is logged) and the
    thread carries on with the next tick.

    Args:
        sampler: What to sample, usually a ``SystemMetricsSampler``.
        emit: Called as ``emit(ts, values)`` with the Unix time of the sample; it should
            hand the values off quickly (a queue put), since sampling waits for it.
        interval: Seconds between samples.

    Example:
        >>> thread = SystemMetricsThread(SystemMetricsSampler(), emit=print, interval=10.0)
        >>> thread.start()
        >>> thread.stop()
    """

    def __init__(
        self,
        sampler: MetricsSampler,
        emit: Callable[[float, dict[str, float]], None],
        interval: float = 10.0,
    ) -> None:
        super().__init__(name="kiseki-sysmetrics", daemon=True)
        self._sampler = sampler
        self._emit = emit
        self._interval = interval
        self._stopping = threading.Event()
        self.errors = 0
        self.last_error: BaseException | None = None

    def run(self) -> None:
        """Sample and emit until ``stop`` is called (runs on the thread)."""
        next_tick = time.monotonic()
        while not self._stopping.is_set():
            self._tick()
            # Schedule from the previous tick so slow samples do not make the series drift.
            next_tick = max(next_tick + self._interval, time.monotonic())
            if self._stopping.wait(next_tick - time.monotonic()):
                return

    def stop(self, timeout: float = 1.0) -> None:
        """Ask the thread to end and wait up to ``timeout`` seconds for it.

        Args:
            timeout: Longest wait for a sample in progress to finish.
        """
        self._stopping.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def _tick(self) -> None:
        try:
            ts = time.time()
            self._emit(ts, self._sampler.sample())
        except Exception as exc:  # a metrics failure must never end the thread or the run
            self.errors += 1
            self.last_error = exc
            if self.errors == 1:
                _logger.warning("kiseki: system metrics failed; will keep trying", exc_info=True)
