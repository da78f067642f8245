"""Benchmark of the PA-VAE (a script, not a test): training steps/s and peak memory, PA-VAE vs naive VAE.

    python tests/benchmarks/bench_vae.py                        # default and paper sizes, fp32 + bf16, CPU
    python tests/benchmarks/bench_vae.py --sizes default --precisions fp32 --steps 5
    python tests/benchmarks/bench_vae.py --device cuda          # on a GPU (peak = max_memory_allocated)
    python tests/benchmarks/bench_vae.py --sizes '' --repeats 3 # the encode-throughput table alone

Each (size, model, precision) runs in its own subprocess, so that its peak memory is its own:
on CPU the peak resident set during the timed steps minus the resident set before the first
step (weights, optimizer state and the batch included, the Python + torch baseline excluded);
on CUDA torch.cuda.max_memory_allocated. One training step = forward, the configured loss,
backward, AdamW step, on a random batch of full-length clips (no padding).

Rows: VAE (naive, num_parts=1), PA-VAE-2-4 with keypoint tokens (the default; 'blocked' and
'masked' computation of the part attention, same weights and results), PA-VAE-2-4 with part
tokens. Columns: steps/s and ms/step (wall clock, best of --repeats passes of --steps steps), CPU
ms/step (process CPU time: with --threads 1, the default, it does not count time lost to other
processes on a shared machine), the encoder alone (encode() forward + backward, CPU ms), and the
ratios of CPU times to the naive VAE of the same size and precision (the issue's target:
PA-VAE step <= 2x naive). `--threads 0` uses torch's default thread count (wall clock then).
bf16 = torch.autocast(bfloat16) around forward and loss; on a CPU without AVX-512 BF16 / AMX
it is emulated and slow.

A second table: encode throughput (clips/s; eval mode, no grad, fp32, --encode-batch clips of the
profile's max_frames frames, best of --repeats) of the naive VAE and PA-VAE-2-4 with the VAEConfig
of the default profile (params/default/02_vae.yaml). `--encode-models ''` skips it.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

SIZES = {  # name -> (VAEConfig changes, batch, frames)
    "default": ({}, 32, 64),
    "paper": ({"paper": True}, 32, 196),
}
MODELS = {  # name -> (VAEConfig changes, spatial impl)
    "VAE (naive)": ({"num_parts": 1}, "blocked"),
    "PA-VAE-2-4 (blocked)": ({}, "blocked"),
    "PA-VAE-2-4 (masked)": ({}, "masked"),
    "PA-VAE-2-4 C=32 (blocked)": ({"spatial_dim": 32}, "blocked"),
    "PA-VAE-2-4-part": ({"spatial_tokens": "part"}, "blocked"),
}
PROFILE = Path(__file__).resolve().parents[2] / "params" / "default" / "02_vae.yaml"
ENCODE_MODELS = {"VAE (naive)": {"num_parts": 1}, "PA-VAE-2-4": {}}  # changes to the profile's VAEConfig


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def run_one(size: str, model: str, precision: str, device: str, steps: int, repeats: int, threads: int) -> dict:
    """Time one configuration in this process; returns a JSON-able row."""
    import torch

    from tenderlib.models.vae import PAVAE, VAEConfig, frame_mask

    if threads:
        torch.set_num_threads(threads)
    size_changes, batch, frames = SIZES[size]
    model_changes, impl = MODELS[model]
    cfg = VAEConfig.paper(**model_changes) if size_changes.get("paper") else VAEConfig(**model_changes)
    torch.manual_seed(0)
    dev = torch.device(device)
    net = PAVAE(cfg, spatial_impl=impl).to(dev).train()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-4, weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, frames, 133, 3, generator=g)
    x[..., 2] = torch.rand(batch, frames, 133, generator=g)
    x, mask = x.to(dev), frame_mask([frames] * batch).to(dev)
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def step():
        with amp:
            out = net(x, mask)
            loss = net.loss(out, x, mask).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def encode():
        with amp:
            mu, logvar = net.encode(x, mask)
        (mu.float().sum() + logvar.float().sum()).backward()

    base = _rss_mib()
    step()  # warm-up, allocates optimizer state
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    best = cpu = enc = enc_cpu = float("inf")
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        sync()
        best = min(best, (time.perf_counter() - t) / steps)
        cpu = min(cpu, (time.process_time() - c) / steps)
    for _ in range(repeats):
        opt.zero_grad(set_to_none=True)
        t, c = time.perf_counter(), time.process_time()
        encode()
        sync()
        enc, enc_cpu = min(enc, time.perf_counter() - t), min(enc_cpu, time.process_time() - c)
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base  # ru_maxrss in KiB on Linux
    params = sum(p.numel() for p in net.parameters())
    return dict(size=size, model=model, precision=precision, batch=batch, frames=frames, params_m=params / 1e6,
                steps_per_s=1 / best, step_ms=best * 1000, cpu_ms=cpu * 1000, encoder_ms=enc * 1000,
                encoder_cpu_ms=enc_cpu * 1000, peak_mib=peak,
                threads=torch.get_num_threads(), device=str(dev))


def profile_config(**changes):
    """The default profile's VAEConfig (its YAML's VAEConfig fields), with `changes`."""
    import dataclasses

    from tenderlib import params
    from tenderlib.models.vae import VAEConfig

    names = {f.name for f in dataclasses.fields(VAEConfig)}
    values = {k: v for k, v in params.load_param_file(PROFILE).items() if k in names}
    return params.from_dict(VAEConfig, {**values, **changes})


def run_encode(model: str, device: str, batch: int, repeats: int, threads: int) -> dict:
    """Encode throughput of one model in this process; returns a JSON-able row."""
    import torch

    from tenderlib.models.vae import PAVAE, frame_mask

    if threads:
        torch.set_num_threads(threads)
    cfg = profile_config(**ENCODE_MODELS[model])
    torch.manual_seed(0)
    dev = torch.device(device)
    net = PAVAE(cfg).to(dev).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cfg.max_frames, 133, 3, generator=g)
    x[..., 2] = torch.rand(batch, cfg.max_frames, 133, generator=g)
    x, mask = x.to(dev), frame_mask([cfg.max_frames] * batch).to(dev)
    best = cpu = float("inf")
    with torch.no_grad():
        net.encode(x, mask)  # warm-up
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            net.encode(x, mask)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
    return dict(model=model, name=cfg.name, batch=batch, frames=cfg.max_frames, ms=best * 1000, cpu_ms=cpu * 1000,
                clips_per_s=batch / best, cpu_clips_per_s=batch / cpu, threads=torch.get_num_threads())


def _child(arguments: list[str], label: str) -> dict | None:
    """Run this script again in a fresh process (clean peak memory) and read its JSON row; None if it failed."""
    done = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True)
    if done.returncode:
        print(f"{label}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="default,paper", help="comma-separated: " + ", ".join(SIZES))
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated model names")
    ap.add_argument("--precisions", default="fp32,bf16", help="fp32, bf16 or both")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=2, help="timed steps per pass")
    ap.add_argument("--repeats", type=int, default=2, help="passes; the best is kept")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (0 = torch's default); with 1 the CPU-time columns resist a shared machine")
    ap.add_argument("--encode-models", default=",".join(ENCODE_MODELS),
                    help="comma-separated models of the encode table ('' = skip it): " + ", ".join(ENCODE_MODELS))
    ap.add_argument("--encode-batch", type=int, default=64, help="clips per encode() call")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one configuration, print JSON
    ap.add_argument("--one-encode", help=argparse.SUPPRESS)  # internal: time one model's encode, print JSON
    args = ap.parse_args(argv)
    if args.one:
        size, model, precision = json.loads(args.one)
        print(json.dumps(run_one(size, model, precision, args.device, args.steps, args.repeats, args.threads)))
        return 0
    if args.one_encode:
        print(json.dumps(run_encode(args.one_encode, args.device, args.encode_batch, args.repeats, args.threads)))
        return 0
    common = ["--device", args.device, "--repeats", str(args.repeats), "--threads", str(args.threads)]
    rows = []
    for size in [s for s in args.sizes.split(",") if s]:
        for precision in args.precisions.split(","):
            for model in args.models.split(","):
                row = _child(["--one", json.dumps([size, model, precision]), "--steps", str(args.steps), *common],
                             f"{size} {model} {precision}")
                if row is None:
                    continue
                rows.append(row)
                print(f"  done: {size} {precision} {model} {rows[-1]['step_ms']:.0f} ms/step", file=sys.stderr)
    if rows:
        naive = {(r["size"], r["precision"]): r for r in rows if r["model"] == "VAE (naive)"}
        print(f"\nPA-VAE training benchmark on {args.device} ({rows[0]['threads']} threads); "
              "ratios are against the naive VAE of the same size and precision\n")
        head = ("size", "B x T", "model", "prec", "params M", "steps/s", "ms/step", "CPU ms/step", "x naive (CPU)",
                "enc CPU ms", "enc x naive", "peak MiB")
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for r in rows:
            ref = naive.get((r["size"], r["precision"]))
            ratio = f"{r['cpu_ms'] / ref['cpu_ms']:.2f}" if ref else "-"
            enc_ratio = f"{r['encoder_cpu_ms'] / ref['encoder_cpu_ms']:.2f}" if ref else "-"
            cells = (r["size"], f"{r['batch']} x {r['frames']}", r["model"], r["precision"], f"{r['params_m']:.2f}",
                     f"{r['steps_per_s']:.3f}", f"{r['step_ms']:.0f}", f"{r['cpu_ms']:.0f}", ratio,
                     f"{r['encoder_cpu_ms']:.0f}", enc_ratio, f"{r['peak_mib']:.0f}")
            print("| " + " | ".join(cells) + " |")
    encode_rows = []
    for model in [m for m in args.encode_models.split(",") if m]:
        row = _child(["--one-encode", model, "--encode-batch", str(args.encode_batch), *common], f"encode {model}")
        if row is None:
            continue
        encode_rows.append(row)
        print(f"  done: encode {model} {encode_rows[-1]['clips_per_s']:.1f} clips/s", file=sys.stderr)
    if encode_rows:
        r0 = encode_rows[0]
        print(f"\nEncode throughput, default profile VAEConfig (params/default/02_vae.yaml), eval, no grad, fp32, "
              f"{r0['batch']} clips x {r0['frames']} frames, {args.device}, {r0['threads']} threads\n")
        naive_cpu = next((r["cpu_ms"] for r in encode_rows if r["model"] == "VAE (naive)"), None)
        head = ("model", "clips/s", "ms/batch", "CPU clips/s", "CPU ms/batch", "x naive (CPU)")
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for r in encode_rows:
            ratio = f"{r['cpu_ms'] / naive_cpu:.2f}" if naive_cpu else "-"
            cells = (r["name"], f"{r['clips_per_s']:.1f}", f"{r['ms']:.0f}", f"{r['cpu_clips_per_s']:.1f}",
                     f"{r['cpu_ms']:.0f}", ratio)
            print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
