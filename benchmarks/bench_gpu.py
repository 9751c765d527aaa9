"""A real CUDA training loop under kiseki: what NVML system metrics record, and what logging
costs the training thread while the GPU is busy.

Three phases of the same loop (a small convolutional network on random 128x128 batches,
forward, backward, AdamW step, ``loss.item()`` each step, as a training loop waits on its GPU):
no kiseki at all (the throughput baseline), a run logging two scalars per step, and a run
logging the issue #4 image every step (512x512, two int64 mask layers, 20 boxes, the same
input as bench_media.py). Then the runs are read back through ``kiseki.Api``: the
environment's GPU section (name, memory, driver) and the ``system/gpu.0.*`` metrics, which are
checked against what PyTorch itself reports (NVML's used memory covers PyTorch's reserved
memory; utilization rises while training).

    python benchmarks/bench_gpu.py [--seconds 20] [--json]

Needs an NVIDIA GPU with its driver and PyTorch built with CUDA; exits 2 without one.
"""

from __future__ import annotations

from common import fresh_home, report

import argparse
import os
import statistics
import sys
import time
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--device", default="cuda",
                        help="'cpu' runs the same loop without a GPU (a dry run of the script)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        raise SystemExit("bench_gpu needs PyTorch") from None
    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_gpu: no CUDA device", file=sys.stderr)
        raise SystemExit(2)
    report(bench(args.seconds, args.device), args.json)


def _model(torch: Any, device: str) -> Any:
    nn = torch.nn
    layers: list[Any] = []
    width = 3
    for out in (64, 128, 256, 256):
        layers += [nn.Conv2d(width, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(),
                   nn.MaxPool2d(2)]
        width = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10)]
    return nn.Sequential(*layers).to(device)


def bench(seconds: float, device: str = "cuda") -> dict[str, Any]:
    import torch

    import kiseki
    from bench_media import _inputs

    home = fresh_home()
    torch.manual_seed(0)
    model = _model(torch, device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = 128 if device == "cuda" else 4  # the CPU dry run only checks the plumbing
    x = torch.randn(batch, 3, 128, 128, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    rgb, gt, pred, boxes = _inputs()
    labels = {0: "background", 1: "bicycle", 2: "person"}
    clock = time.perf_counter_ns

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return float(loss.item())  # waits for the GPU, as a real loop does

    def phase(mode: str) -> tuple[float, list[int], str | None]:
        run = None
        if mode != "none":
            run = kiseki.init(project="bench-gpu", dir=home, name=f"gpu-{mode}",
                              settings={"capture_console": False, "finish_timeout": 600,
                                        "system_metrics_interval": 1.0})
        lat: list[int] = []
        steps = 0
        end = time.perf_counter() + seconds
        t_start = time.perf_counter()
        while time.perf_counter() < end:
            loss = step()
            steps += 1
            if run is not None:
                t0 = clock()
                data: dict[str, Any] = {"loss": loss, "lr": 1e-3}
                if mode == "image":
                    data["pred"] = kiseki.Image(rgb, masks={
                        "ground_truth": {"mask_data": gt, "class_labels": labels},
                        "predictions": {"mask_data": pred, "class_labels": labels}},
                        boxes={"predictions": {"box_data": boxes, "class_labels": labels}})
                run.log(data)
                lat.append(clock() - t0)
        rate = steps / (time.perf_counter() - t_start)
        path = None
        if run is not None:
            path = run.path
            run.finish()
        return rate, sorted(lat), path

    for _ in range(20 if device == "cuda" else 2):  # warm-up: cuDNN autotuning, allocator
        step()
    on_gpu = device == "cuda"
    if on_gpu:
        torch.cuda.synchronize()
    reserved_gb = torch.cuda.memory_reserved() / 1e9 if on_gpu else 0.0
    base_rate, _, _ = phase("none")
    scalar_rate, scalar_lat, scalar_path = phase("scalars")
    image_rate, image_lat, image_path = phase("image")

    api = kiseki.Api()
    public = api.run(str(scalar_path))
    gpus = public.metadata.get("gpus") or []
    rows = public.system_metrics()
    util = [r["system/gpu.0.utilization"] for r in rows
            if r.get("system/gpu.0.utilization") is not None]
    used = [r["system/gpu.0.memory_used_gb"] for r in rows
            if r.get("system/gpu.0.memory_used_gb") is not None]
    power = [r["system/gpu.0.power_watts"] for r in rows
            if r.get("system/gpu.0.power_watts") is not None]
    temp = [r["system/gpu.0.temperature"] for r in rows
            if r.get("system/gpu.0.temperature") is not None]
    image_run = api.run(str(image_path))
    logged_images = sum(1 for r in image_run.scan_history(keys=["pred"]) if r.get("pred"))

    def med(lat: list[int]) -> float:
        return lat[len(lat) // 2] / 1000 if lat else float("nan")

    def p99(lat: list[int]) -> float:
        return lat[int(len(lat) * 0.99)] / 1000 if lat else float("nan")

    from kiseki.sdk.encoder import default_threads
    from kiseki.sdk.settings import load_settings

    result: dict[str, Any] = {
        "cpu_cores": float(os.cpu_count() or 1),
        "media_encoder_threads": float(load_settings().media_encoder_threads or default_threads()),
        "gpu_name": gpus[0].get("name") if gpus else "none recorded",
        "gpu_memory_total_gb": gpus[0].get("memory_total_gb") if gpus else float("nan"),
        "gpu_driver": gpus[0].get("driver") if gpus else "none recorded",
        "system_metric_samples": float(len(rows)),
        "gpu_utilization_max": max(util, default=float("nan")),
        "gpu_utilization_median": statistics.median(util) if util else float("nan"),
        "gpu_memory_used_gb_max": max(used, default=float("nan")),
        "torch_memory_reserved_gb": reserved_gb,
        "gpu_power_watts_max": max(power, default=float("nan")),
        "gpu_temperature_max": max(temp, default=float("nan")),
        "steps_per_s_without_kiseki": base_rate,
        "steps_per_s_logging_scalars": scalar_rate,
        "steps_per_s_logging_image": image_rate,
        "log_scalars_median_us": med(scalar_lat),
        "log_scalars_p99_us": p99(scalar_lat),
        "log_image_median_us": med(image_lat),
        "log_image_p99_us": p99(image_lat),
        "images_logged": float(len(image_lat)),
        "images_read_back": float(logged_images),
    }
    checks = {"every logged image read back": logged_images == len(image_lat)}
    if on_gpu:
        checks.update({
            "environment names the GPU": bool(gpus) and bool(gpus[0].get("name")),
            "system/gpu.0.* metrics sampled": len(util) >= seconds / 2,
            "utilization rose while training": max(util, default=0) >= 50,
            "NVML memory covers PyTorch's reserved memory": max(used, default=0) >= reserved_gb,
        })
    result["checks_failed"] = ", ".join(k for k, ok in checks.items() if not ok) or "none"
    return result


if __name__ == "__main__":
    main()
