#!/usr/bin/env python3
"""PyTorch at its best on the GPU: the baseline that ncl-lab's compiled WebGPU step is compared with (scripts/gpu).

The model and step are the CPU baseline's (scripts/bench_torch.py): CIFAR ResNet-32 with option-A shortcuts, 100
classes, batch 128 of 32x32x3 random images; one step = zero_grad, forward, softmax cross-entropy, backward, SGD
(momentum 0.9, weight decay 2e-4). The NCL++ step is the paper's setting: K = 2 ResNet-32 experts, T = 4 copies of
a batch of 64 images (256 rows per expert), the NCL++ loss of scripts/torch/ncl_loss.py ('official' semantics,
lambda 0.6, C_hard = 30 of 100 classes, class counts long-tailed at IF 100), SGD over both experts.

Modes (--modes, comma list; default all):
  eager-fp32                strict fp32 (no TF32), cudnn.benchmark off, NCHW: PyTorch as a script runs it with TF32 off
  eager-tf32                TF32 convolutions and matmuls, cudnn.benchmark off, NCHW
  eager-tf32-bench-cl       TF32 + cudnn.benchmark + channels_last
  eager-bf16-bench-cl       the same with bf16 autocast (forward and loss)
  compile-default           torch.compile of the whole step (TF32 + benchmark + channels_last), mode "default"
  compile-max-autotune      ... mode "max-autotune"
  compile-reduce-overhead   ... mode "reduce-overhead" (CUDA graphs by inductor)
  graph-fp32                the step (forward, loss, backward, SGD; gradients set to None before capture, so the
                            captured backward writes them anew each replay: zero_grad is part of the graph)
                            captured once as a CUDA graph by hand and replayed; strict fp32
  graph-tf32                the same with TF32
  graph-bf16-cl             the same with bf16 autocast + channels_last (+ cudnn.benchmark)
  nclpp-eager               the NCL++ paper step, eager, TF32 (PyTorch's default for convolutions)
  nclpp-graph               the same, captured as a CUDA graph
Modes that need CUDA (TF32, cudnn.benchmark, bf16, CUDA graphs) or torch.compile (PyTorch >= 2.0) print one
{"kind": "torch-mode", "skipped": why} line where they cannot run, so the script can be tried on a CPU.

Timing, per mode: compile or capture time apart (the first call / the capture); then --warmup steps (>= 20); then
--pipelined steps issued back to back with one synchronize (CUDA events around them: ms per step, img/s); then
--synced steps each timed alone (CUDA events, synchronized before and after: median, p10, p90 ms); then --profile
steps under torch.profiler (Kineto / CUPTI): CUDA kernels and GPU-busy ms per step (the sum of kernel and memcpy
durations: one stream, so no overlap). On the CPU the clock is time.perf_counter and nothing is profiled. img/s
counts images: 128 per ResNet-32 step, 64 per NCL++ step (not its 256 rows).

    python3 scripts/gpu/bench_torch_gpu.py --round 1                  # every mode, one JSON line each
    python3 scripts/gpu/bench_torch_gpu.py --modes eager-tf32,graph-tf32 --budget 60
    python3 scripts/gpu/bench_torch_gpu.py --device cpu --model resnet8 --batch 8 --warmup 2 --pipelined 3 --synced 3
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

# The model is the CPU baseline's (scripts/bench_torch.py), the loss the project's PyTorch reference.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "torch"))
from bench_torch import BLOCKS, ResNetCifar  # noqa: E402
from ncl_loss import loss as ncl_loss  # noqa: E402

# name: (task, precision, cudnn.benchmark, channels_last, compile mode or None, CUDA graph)
MODES = {
    "eager-fp32": ("ce", "fp32", False, False, None, False),
    "eager-tf32": ("ce", "tf32", False, False, None, False),
    "eager-tf32-bench-cl": ("ce", "tf32", True, True, None, False),
    "eager-bf16-bench-cl": ("ce", "bf16", True, True, None, False),
    "compile-default": ("ce", "tf32", True, True, "default", False),
    "compile-max-autotune": ("ce", "tf32", True, True, "max-autotune", False),
    "compile-reduce-overhead": ("ce", "tf32", True, True, "reduce-overhead", False),
    "graph-fp32": ("ce", "fp32", False, False, None, True),
    "graph-tf32": ("ce", "tf32", False, False, None, True),
    "graph-bf16-cl": ("ce", "bf16", True, True, None, True),
    "nclpp-eager": ("nclpp", "tf32", False, False, None, False),
    "nclpp-graph": ("nclpp", "tf32", False, False, None, True),
}


def why_not(mode, dev):
    """Why `mode` cannot run here, or None."""
    task, prec, bench, cl, comp, graph = MODES[mode]
    # On a CPU only the strict-fp32 eager step and the eager NCL++ step (TF32 has no meaning there) can run.
    if dev.type != "cuda" and (graph or bench or prec == "bf16" or (task == "ce" and prec == "tf32")):
        return "needs CUDA (TF32, cudnn.benchmark, bf16 autocast or CUDA graphs)"
    if comp and not hasattr(torch, "compile"):
        return f"torch.compile needs PyTorch >= 2.0 (this is {torch.__version__})"
    return None


class Clock:
    """CUDA events on a GPU (ms of GPU time between two points of the stream), perf_counter on the CPU."""

    def __init__(self, dev):
        self.cuda = dev.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def mark(self):
        if self.cuda:
            e = torch.cuda.Event(enable_timing=True)
            e.record()
            return e
        return time.perf_counter()

    def ms(self, a, b):
        if self.cuda:
            b.synchronize()
            return a.elapsed_time(b)
        return (b - a) * 1000


def build(mode, a, dev):
    """The step of `mode` as a function that runs one step and returns the loss tensor (no host sync)."""
    task, prec, bench, cl, comp, graph = MODES[mode]
    cuda = dev.type == "cuda"
    if cuda:
        tf32 = prec != "fp32"
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = bench
    torch.manual_seed(0)
    nclpp = task == "nclpp"
    K, T, batch = (2, 4, 64) if nclpp else (a.experts, 1, a.batch)
    fmt = torch.channels_last if cl else torch.contiguous_format
    experts = [ResNetCifar(BLOCKS[a.model], a.classes, 3, a.width).to(dev).to(memory_format=fmt).train() for _ in range(K)]
    params = [p for m in experts for p in m.parameters()]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=2e-4)
    x = torch.randn(batch * T, 3, 32, 32, device=dev).contiguous(memory_format=fmt)
    y = torch.randint(0, a.classes, (batch,), device=dev).repeat(T)  # copy-major: the T copies share a label
    counts = torch.tensor([round(500 * 0.01 ** (i / (a.classes - 1))) for i in range(a.classes)], device=dev)
    num_hard = max(2, round(0.3 * a.classes))
    amp = prec == "bf16"

    def objective():
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=amp, cache_enabled=not graph):
            logits = [m(x) for m in experts]
            if nclpp:
                return ncl_loss([z.float() for z in logits], y, counts, T, num_hard, 0.6, "official", "nclpp")["total"]
            return sum(F.cross_entropy(z, y) for z in logits)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = objective()
        loss.backward()
        opt.step()
        return loss

    info = {"task": task, "precision": prec if cuda else "fp32", "cudnnBenchmark": bench, "channelsLast": cl, "experts": K,
            "copies": T, "batch": batch, "rows": batch * T}
    t0 = time.perf_counter()
    if comp:
        fn = torch.compile(step, mode=comp)
        fn()  # compiles
        Clock(dev).sync()
        info["compileSeconds"] = round(time.perf_counter() - t0, 2)
        return fn, info
    if graph:
        # Warm-up on a side stream (cuDNN algorithm choice, the momentum buffers), then capture one whole step.
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(s)
        g = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(g):
            static_loss = objective()
            static_loss.backward()
            opt.step()
        torch.cuda.synchronize()
        info["captureSeconds"] = round(time.perf_counter() - t0, 2)

        def replay():
            g.replay()
            return static_loss

        return replay, info
    return step, info


def profile(fn, steps, dev):
    """CUDA kernels (and memcpy / memset) per step and their summed duration, from torch.profiler (CUPTI)."""
    if dev.type != "cuda" or steps <= 0:
        return {}
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    try:
        torch.cuda.synchronize()
        with tprofile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(steps):
                fn()
            torch.cuda.synchronize()
        dev_events = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        busy_us = sum(e.time_range.elapsed_us() for e in dev_events)
        return {
            "kernelsPerStep": round(len(dev_events) / steps, 1),
            "gpuBusyMsPerStep": round(busy_us / 1000 / steps, 3),
            "profiler": "torch.profiler (Kineto / CUPTI): CUDA kernel + memcpy/memset events, durations summed",
        }
    except Exception as e:  # CUPTI missing or refused: say so, keep the timings
        return {"profiler": f"unavailable: {type(e).__name__}: {str(e).splitlines()[0][:200]}"}


def pct(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def run_mode(mode, a, dev):
    clock = Clock(dev)
    fn, info = build(mode, a, dev)
    for _ in range(a.warmup):
        loss = fn()
    clock.sync()
    w0 = time.perf_counter()
    start = clock.mark()
    for _ in range(a.pipelined):
        loss = fn()
    end = clock.mark()
    pipe_ms = clock.ms(start, end) / a.pipelined
    clock.sync()
    wall_ms = (time.perf_counter() - w0) * 1000 / a.pipelined
    synced = []
    for _ in range(a.synced):
        clock.sync()
        s = clock.mark()
        fn()
        e = clock.mark()
        synced.append(clock.ms(s, e))
    out = {
        **info,
        "pipelined": {"steps": a.pipelined, "msPerStep": round(pipe_ms, 3), "imgPerSec": round(info["batch"] * 1000 / pipe_ms, 1),
                      "wallMsPerStep": round(wall_ms, 3)},
        "synced": {"steps": a.synced, "medianMs": round(statistics.median(synced), 3), "p10Ms": round(pct(synced, 0.1), 3),
                   "p90Ms": round(pct(synced, 0.9), 3), "imgPerSec": round(info["batch"] * 1000 / statistics.median(synced), 1)},
        "warmupSteps": a.warmup,
        "clock": "CUDA events" if dev.type == "cuda" else "time.perf_counter",
        "loss": float(loss.detach().float().cpu()),
    }
    out.update(profile(fn, a.profile, dev))
    return out


def emit(r):
    print(json.dumps(r))
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modes", default=",".join(MODES), help="comma list of modes (default: all)")
    ap.add_argument("--model", default="resnet32", choices=sorted(BLOCKS))
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128, help="images per step of the CE modes (NCL++: 64, T = 4)")
    ap.add_argument("--experts", type=int, default=1, help="experts of the CE modes")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--pipelined", type=int, default=200, help="steps issued back to back, one sync at the end")
    ap.add_argument("--synced", type=int, default=50, help="steps timed one at a time")
    ap.add_argument("--profile", type=int, default=5, help="steps under torch.profiler (0: none)")
    ap.add_argument("--budget", type=float, default=0, help="seconds: start no mode after this (0: no limit)")
    ap.add_argument("--round", type=int, default=1, help="round number, recorded with each result")
    a = ap.parse_args()
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_torch_gpu: CUDA is not available to PyTorch here (--device cpu tries the CPU paths)")
    modes = [m for m in a.modes.split(",") if m]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        sys.exit(f"bench_torch_gpu: unknown mode(s) {', '.join(unknown)}; known: {', '.join(MODES)}")
    emit({
        "kind": "torch-env", "round": a.round, "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if dev.type == "cuda" else None,
        "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu", "model": a.model,
        "classes": a.classes, "threads": torch.get_num_threads(),
    })
    t0 = time.perf_counter()
    for mode in modes:
        base = {"kind": "torch-mode", "round": a.round, "mode": mode, "model": a.model}
        why = why_not(mode, dev)
        if why is None and a.budget and time.perf_counter() - t0 > a.budget:
            why = f"out of the time budget ({a.budget:.0f} s)"
        if why:
            emit({**base, "skipped": why})
            print(f"[torch] {mode}: skipped, {why}", file=sys.stderr)
            continue
        m0 = time.perf_counter()
        try:
            r = run_mode(mode, a, dev)
        except Exception as e:  # one mode failing (a capture, a compiler) leaves the others their turn
            emit({**base, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"})
            print(f"[torch] {mode}: failed: {e}", file=sys.stderr)
            continue
        emit({**base, **r, "seconds": round(time.perf_counter() - m0, 1)})
        p = r["pipelined"]
        print(f"[torch] {mode}: {p['imgPerSec']} img/s pipelined ({p['msPerStep']} ms/step), synced median "
              f"{r['synced']['medianMs']} ms; {r.get('kernelsPerStep', '-')} kernels, "
              f"{r.get('gpuBusyMsPerStep', '-')} GPU-busy ms/step", file=sys.stderr)
        if dev.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
