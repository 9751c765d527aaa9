"""System metrics: plausible samples, fail-soft GPU sampling, a thread that never dies."""

from __future__ import annotations

import os
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiseki.sdk.sysmetrics import SystemMetricsSampler, SystemMetricsThread


@pytest.fixture
def sampler(tmp_path: Path) -> Iterator[SystemMetricsSampler]:
    metrics = SystemMetricsSampler(str(tmp_path), gpus=False)
    yield metrics
    metrics.close()


def test_sample_has_plausible_values(sampler: SystemMetricsSampler) -> None:
    sum(i * i for i in range(200_000))  # some CPU time between baseline and sample
    values = sampler.sample()

    cores = os.cpu_count() or 1
    assert all(isinstance(v, float) for v in values.values())
    assert 0.0 <= values["cpu.percent"] <= 100.0 * cores
    assert 0.0 <= values["cpu.percent.0"] <= 100.0
    assert f"cpu.percent.{min(cores, 64)}" not in values
    assert values["memory.used_gb"] > 0
    assert values["memory.available_gb"] > 0
    assert 0.0 < values["memory.percent"] <= 100.0
    assert 0.0 < values["disk.percent"] <= 100.0
    assert values["proc.memory.rss_mb"] > 1
    assert values["proc.threads"] >= 1
    assert values["proc.cpu.percent"] >= 0
    assert not any(key.startswith("gpu.") for key in values)


def test_io_counters_are_cumulative_since_start(
    sampler: SystemMetricsSampler, tmp_path: Path
) -> None:
    first = sampler.sample()
    (tmp_path / "blob").write_bytes(os.urandom(1 << 20))
    second = sampler.sample()

    for key in ("disk.read_mb", "disk.write_mb", "network.sent_mb", "network.recv_mb"):
        if key in first:  # containers may expose no block-device or network counters
            assert 0.0 <= first[key] <= second[key]


class FakeNvmlError(Exception):
    pass


class NotSupportedError(FakeNvmlError):
    pass


class NoPermissionError(FakeNvmlError):
    pass


def fake_pynvml(**overrides: Any) -> types.ModuleType:
    """A pynvml stand-in with one 80 GiB GPU at 50% load, 300 W of a 700 W limit."""
    nvml = types.ModuleType("pynvml")
    gib = 1024**3
    members: dict[str, Any] = {
        "NVMLError": FakeNvmlError,
        "NVMLError_NotSupported": NotSupportedError,
        "NVMLError_NoPermission": NoPermissionError,
        "NVML_TEMPERATURE_GPU": 0,
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: 1,
        "nvmlDeviceGetHandleByIndex": lambda i: f"h{i}",
        "nvmlDeviceGetEnforcedPowerLimit": lambda h: 700_000,
        "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(gpu=50, memory=20),
        "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(total=80 * gib, used=20 * gib),
        "nvmlDeviceGetTemperature": lambda h, sensor: 61,
        "nvmlDeviceGetPowerUsage": lambda h: 300_000,
    }
    members.update(overrides)
    for name, value in members.items():
        setattr(nvml, name, value)
    return nvml


def gpu_sample(monkeypatch: pytest.MonkeyPatch, nvml: types.ModuleType) -> dict[str, float]:
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    metrics = SystemMetricsSampler()
    try:
        return {k: v for k, v in metrics.sample().items() if k.startswith("gpu.")}
    finally:
        metrics.close()


def test_gpu_metrics_through_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gpu_sample(monkeypatch, fake_pynvml()) == {
        "gpu.0.utilization": 50.0,
        "gpu.0.memory_percent": 25.0,
        "gpu.0.memory_used_gb": 20.0,
        "gpu.0.temperature": 61.0,
        "gpu.0.power_watts": 300.0,
        "gpu.0.power_percent": pytest.approx(300 / 7),
    }


def test_unsupported_gpu_metric_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def unsupported(*args: Any) -> None:
        raise NotSupportedError

    values = gpu_sample(
        monkeypatch,
        fake_pynvml(
            nvmlDeviceGetPowerUsage=unsupported, nvmlDeviceGetEnforcedPowerLimit=unsupported
        ),
    )

    assert "gpu.0.power_watts" not in values and "gpu.0.power_percent" not in values
    assert values["gpu.0.utilization"] == 50.0


def test_no_driver_means_no_gpu_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_driver() -> None:
        raise FakeNvmlError("NVML Shared Library Not Found")

    assert gpu_sample(monkeypatch, fake_pynvml(nvmlInit=no_driver)) == {}


def test_gpu_failure_turns_gpu_sampling_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    def lost(*args: Any) -> None:
        nonlocal calls
        calls += 1
        raise FakeNvmlError("GPU is lost")

    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(nvmlDeviceGetTemperature=lost))
    metrics = SystemMetricsSampler()
    first, second = metrics.sample(), metrics.sample()
    metrics.close()

    assert calls == 1
    assert "memory.percent" in first and "memory.percent" in second
    assert not any(key.startswith("gpu.") for key in second)


class Collector:
    def __init__(self, wanted: int, fail_first: int = 0) -> None:
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.wanted = wanted
        self.fail_first = fail_first
        self.done = threading.Event()

    def __call__(self, ts: float, values: dict[str, float]) -> None:
        self.samples.append((ts, values))
        if len(self.samples) >= self.wanted:
            self.done.set()
        if len(self.samples) <= self.fail_first:
            raise RuntimeError("queue closed")


def test_thread_emits_repeatedly_and_stops_promptly(sampler: SystemMetricsSampler) -> None:
    collector = Collector(wanted=2)
    thread = SystemMetricsThread(sampler, collector, interval=0.05)
    thread.start()

    assert collector.done.wait(5)
    started = time.monotonic()
    thread.stop()

    assert time.monotonic() - started < 1.0
    assert not thread.is_alive()
    assert thread.name == "kiseki-sysmetrics" and thread.daemon
    assert thread.errors == 0
    assert collector.samples[0][0] <= collector.samples[1][0]
    assert "cpu.percent" in collector.samples[0][1]


def test_thread_samples_at_once_and_stop_interrupts_a_long_interval(
    sampler: SystemMetricsSampler,
) -> None:
    collector = Collector(wanted=1)
    thread = SystemMetricsThread(sampler, collector, interval=60.0)
    thread.start()
    assert collector.done.wait(5)

    started = time.monotonic()
    thread.stop()

    assert time.monotonic() - started < 1.0
    assert len(collector.samples) == 1


def test_failing_emit_is_counted_and_thread_keeps_going(sampler: SystemMetricsSampler) -> None:
    collector = Collector(wanted=3, fail_first=2)
    thread = SystemMetricsThread(sampler, collector, interval=0.01)
    thread.start()

    assert collector.done.wait(5)
    thread.stop()

    assert thread.errors == 2
    assert isinstance(thread.last_error, RuntimeError)


def test_failing_sampler_is_counted_and_thread_keeps_going() -> None:
    class FlakySampler:
        calls = 0

        def sample(self) -> dict[str, float]:
            self.calls += 1
            if self.calls == 1:
                raise OSError("proc vanished")
            return {"cpu.percent": 1.0}

    collector = Collector(wanted=1)
    thread = SystemMetricsThread(FlakySampler(), collector, interval=0.01)
    thread.start()

    assert collector.done.wait(5)
    thread.stop()

    assert thread.errors == 1
    assert collector.samples[0][1] == {"cpu.percent": 1.0}
