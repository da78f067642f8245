"""Benchmark of a training step (a script, not a test): ms/step and the share of the CPU's matmul peak,
fp32 against bf16 autocast, for every model at the default profile's size.

    python tests/benchmarks/bench_train.py                         # all models, 3 timed steps, 1 thread
    python tests/benchmarks/bench_train.py --models MoLIP,Denoiser --steps 5
    python tests/benchmarks/bench_train.py --models PA-VAE --profile   # + the top ops of torch.profiler

Models and sizes come from the default profile (params/default/):

- VAE, PA-VAE: 02_vae.yaml's VAEConfig, batch_size clips of max_frames frames; VAE is the naive
  one (tenderlib.experiments.vae_runs.ablation_config(cfg, "VAE"): num_parts=1, no spatial layers);
- MoLIP: 04_molip.yaml's MoLIPConfig, batch_size clips of max_frames frames (every frame_stride-th
  frame is a token);
- Denoiser, Denoiser-9L: 03_diffusion.yaml's DenoiserConfig (its conditioning, cross_attention),
  on latents of 02_vae.yaml's shape (its tokens once per VAE window, `windows`), batch_size latents; Denoiser-9L has the largest of its
  scaling_layers (9) instead of num_layers.

Batches are random: motion features (B, T, 133, 3) with x, y ~ N(0, 0.5^2) and confidence in
[0, 1] through tenderlib.data.dataset.collate for the VAEs and MoLIP; standard-normal latents in a
tenderlib.models.denoiser.LatentBatch for the denoiser. Captions cycle through a fixed list of varied
sentences, encoded by the default frozen text encoder (MiniLM, tenderlib.models.text); its cache is warmed
before timing, so the timed steps run no text encoder (as in training, where the features of the
training captions are cached).

One step = what tenderlib.training does: model in train mode, forward + loss under
tenderlib.precision.autocast(mode, "cpu") (mode "off" = fp32, "bf16" = bf16 autocast; attention stays
fp32 inside, tenderlib.models.layers.attention), zero_grad, backward, fused AdamW step. ms/step is the
best of --steps single steps after two warm-up steps (wall clock); CPU ms/step the process CPU time
of that step (with one thread it does not count time lost to other processes on a busy machine).

FLOPs of a step: torch.utils.flop_counter.FlopCounterMode over one forward + loss + backward (the
matmuls: mm, addmm, bmm, ...; elementwise work, the optimiser step and the loss are not counted).
On CPU, torch's fused attention kernel (aten._scaled_dot_product_flash_attention_for_cpu) has no
FLOP formula, so this script adds, for every scaled_dot_product_attention call that FlopCounterMode
did not count, 4 * B * h * S * M * c forward (Q K^T and A V) and twice that for its backward. A call
that takes torch's math path (e.g. attention dropout in training) is decomposed into aten.bmm and
counted by FlopCounterMode already: it is detected (the counter moved during the call) and nothing
is added. The check at the top of the output shows which case holds for which call.

Peak: this CPU's own single-matmul rate, `--peak-size`^3 square torch.mm per precision on the same
threads, best of 5; "% peak" = achieved GFLOP/s over the peak of the row's precision (bf16 rows
against the bf16 peak, although their attention runs in fp32).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

PARAMS = Path(__file__).resolve().parents[2] / "params" / "default"
MODELS = ("VAE", "PA-VAE", "MoLIP", "Denoiser", "Denoiser-9L")
PRECISIONS = (("fp32", "off"), ("bf16", "bf16"))  # (row label, tenderlib.precision mode)
WARMUP_STEPS = 2  # the first step allocates AdamW's state; the second runs with warm allocators

# Varied captions, of the lengths and kinds of the benchmark's (some name a side: MoLIP's
# left/right hard negatives then run, as in training).
CAPTIONS = [
    "a person waves the right hand above the head",
    "someone raises the left arm and waves slowly",
    "a man walks forward, turns around and walks back",
    "the person sits down on a chair and crosses the legs",
    "a woman jumps twice in place with both arms up",
    "he claps his hands three times",
    "a person bends down to pick something up from the floor with the left hand",
    "someone nods and smiles",
    "the person points to the right with the index finger",
    "a dancer spins on one foot and raises both arms",
    "a man scratches his head with the right hand while looking confused",
    "a child runs in a circle",
    "the person stretches both arms above the head and leans to the left",
    "someone shakes their head and frowns",
    "a woman kicks forward with the right leg",
    "a person crouches, then stands up quickly",
    "he throws a ball with his left hand",
    "the person covers the face with both hands",
    "a man steps to the side and waves goodbye",
    "someone taps the left foot to a rhythm",
    "a person does a push up",
    "the woman folds her arms and shakes her head slowly",
    "a person talks while gesturing with both hands",
    "someone holds a phone to the right ear",
]


# --------------------------------------------------------------------------------------------
# Models and batches of the default profile


def _profile(name: str) -> dict:
    from tenderlib import params

    return params.load_param_file(PARAMS / name)


def _config(cls, values: dict, **changes):
    """The dataclass `cls` from the values of a profile YAML that are its fields, with `changes`."""
    from tenderlib import params

    names = {f.name for f in dataclasses.fields(cls)}
    return params.from_dict(cls, {**{k: v for k, v in values.items() if k in names}, **changes})


def _captions(n: int) -> list[str]:
    return [CAPTIONS[i % len(CAPTIONS)] for i in range(n)]


def _motion_batch(n: int, frames: int, seed: int = 0):
    """A tenderlib.data.dataset.Batch of n random full-length clips of `frames` frames."""
    from tenderlib.data.dataset import MotionItem, collate
    from tenderlib.data.normalize import NormStats
    from tenderlib.data.skeleton import NUM_KEYPOINTS

    rng = np.random.default_rng(seed)
    items = []
    for i, caption in enumerate(_captions(n)):
        feats = rng.normal(0.0, 0.5, (frames, NUM_KEYPOINTS, 3)).astype(np.float32)  # (T, K, 3)
        feats[..., 2] = rng.random((frames, NUM_KEYPOINTS), dtype=np.float32)  # confidence in [0, 1)
        items.append(MotionItem(features=feats, length=frames, caption=caption, index=i, start=0,
                                stats=NormStats(center=(0.0, 0.0), scale=1.0)))
    return collate(items)


def build_case(name: str, encoder):
    """(label, batch description, model in train mode, batch, learning rate) of a model of MODELS."""
    from tenderlib.experiments import vae_runs
    from tenderlib.models import denoiser, molip
    from tenderlib.models.vae import VAEConfig

    vae_values = _profile("02_vae.yaml")
    vae_cfg = _config(VAEConfig, vae_values)
    if name in ("VAE", "PA-VAE"):
        cfg = vae_runs.ablation_config(vae_cfg, "VAE") if name == "VAE" else vae_cfg
        B, T = int(vae_values["batch_size"]), cfg.max_frames
        return (cfg.name, f"{B} x {T} frames", vae_runs.build(cfg).train(), _motion_batch(B, T),
                float(vae_values["lr"]))
    if name == "MoLIP":
        values = _profile("04_molip.yaml")
        cfg = _config(molip.MoLIPConfig, values)
        B, T = int(values["batch_size"]), cfg.max_frames
        model = molip.build(cfg, text_encoder=encoder).train()
        shape = f"{B} x {T} frames ({cfg.motion_tokens} tokens)"
        return "MoLIP", shape, model, _motion_batch(B, T), float(values["lr"])
    if name in ("Denoiser", "Denoiser-9L"):
        values = _profile("03_diffusion.yaml")
        changes = {"num_layers": max(values["scaling_layers"])} if name == "Denoiser-9L" else {}
        cfg = _config(denoiser.DenoiserConfig, values, latent_tokens=vae_cfg.latent_tokens * values.get("windows", 1),
                      latent_dim=vae_cfg.latent_dim, **changes)  # the VAE's tokens once per window
        B = int(values["batch_size"])
        g = torch.Generator().manual_seed(0)
        batch = denoiser.LatentBatch(torch.randn(B, cfg.latent_tokens, cfg.latent_dim, generator=g), _captions(B),
                                     torch.full((B,), vae_cfg.max_frames, dtype=torch.int64))
        model = denoiser.build(cfg, text_encoder=encoder).train()
        label = f"Denoiser-{cfg.num_layers}L ({cfg.conditioning})"
        shape = f"{B} x {cfg.latent_tokens}x{cfg.latent_dim} latent"
        return label, shape, model, batch, float(values["lr"])
    raise ValueError(f"unknown model {name!r}; one of {', '.join(MODELS)}")


def _loss(out) -> torch.Tensor:
    """The scalar a training_loss returns, itself or as its field `loss`."""
    return out if isinstance(out, torch.Tensor) else out.loss


# --------------------------------------------------------------------------------------------
# FLOPs: FlopCounterMode + the CPU attention kernel it has no formula for


def attention_flops(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> int:
    """Forward FLOPs of softmax(Q K^T) V for q (..., S, c), k (..., M, c), v (..., M, c_v):
    2 S M c for Q K^T plus 2 S M c_v for A V, times the (broadcast) batch and heads; with c_v = c
    that is 4 * B * h * S * M * c."""
    batch = math.prod(torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]))
    S, M = q.shape[-2], k.shape[-2]
    return 2 * batch * S * M * (q.shape[-1] + v.shape[-1])


def count_flops(fn) -> tuple[int, int, int]:
    """FLOPs of fn() (forward + backward): (total, counted by FlopCounterMode, added here for the
    attention calls it missed). While fn runs, torch.nn.functional.scaled_dot_product_attention is
    wrapped: a call during which the counter did not move (torch's fused CPU kernel) gets its
    forward FLOPs added, and twice that again for its backward when its inputs need gradients; a
    call that moved it (the math path, counted as aten.bmm forward and backward) gets nothing."""
    original = F.scaled_dot_product_attention
    added = 0
    with FlopCounterMode(display=False) as counter:
        def counted_sdpa(q, k, v, *args, **kwargs):
            nonlocal added
            before = counter.get_total_flops()
            out = original(q, k, v, *args, **kwargs)
            if counter.get_total_flops() == before:  # not counted by FlopCounterMode
                forward = attention_flops(q, k, v)
                backward = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v))
                added += forward * (3 if backward else 1)  # forward + 2x forward for the backward
            return out

        F.scaled_dot_product_attention = counted_sdpa  # layers.attention looks it up at each call
        try:
            fn()
        finally:
            F.scaled_dot_product_attention = original
    counted = counter.get_total_flops()
    return counted + added, counted, added


def check_attention_counting() -> list[str]:
    """Lines saying whether FlopCounterMode counts a tiny CPU attention call (forward + backward)
    by itself, and what count_flops makes of it (no double counting)."""
    g = torch.Generator().manual_seed(0)
    B, h, S, M, c = 2, 4, 8, 6, 16
    expected = 3 * 4 * B * h * S * M * c  # forward + 2x forward for the backward
    lines = []
    for what, dropout in (("no dropout (the fused CPU kernel)", 0.0), ("dropout 0.1 (the math path)", 0.1)):
        q, k, v = (torch.randn(B, h, n, c, generator=g, requires_grad=True) for n in (S, M, M))
        mask = torch.ones(B, 1, 1, M, dtype=torch.bool)

        def call():
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout).sum().backward()

        with FlopCounterMode(display=False) as plain:
            call()
        total, counted, added = count_flops(call)
        case = ("counted by FlopCounterMode itself (aten.bmm), nothing added" if plain.get_total_flops() and not added
                else "missed by FlopCounterMode, added by this script" if added and not plain.get_total_flops()
                else "UNEXPECTED")
        lines.append(f"  sdpa {what}: FlopCounterMode alone {plain.get_total_flops():,}, with the addition "
                     f"{total:,} (added {added:,}), 4BhSMc x 3 = {expected:,}: {case}")
    return lines


# --------------------------------------------------------------------------------------------
# Timing


def matmul_peak(dtype: torch.dtype, n: int, repeats: int = 5) -> float:
    """GFLOP/s of the best of `repeats` n x n x n torch.mm in `dtype` (after one warm-up)."""
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=g).to(dtype) for _ in range(2))
    out = torch.empty(n, n, dtype=dtype)
    torch.mm(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def bench(name: str, mode: str, encoder, steps: int, profile: bool) -> dict:
    """One (model, precision): best ms/step and CPU ms/step of `steps` steps, and FLOPs per step."""
    from tenderlib import precision

    label, shape, model, batch, lr = build_case(name, encoder)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, fused=True)

    def forward_backward():
        with precision.autocast(mode, "cpu"):
            loss = _loss(model.training_loss(batch))
        opt.zero_grad(set_to_none=True)
        loss.backward()

    def step(i: int):
        torch.manual_seed(i)  # timesteps, noise, dropout, condition drop: fixed by the step
        forward_backward()
        opt.step()

    for i in range(WARMUP_STEPS):
        step(i)
    encoded = encoder.cache_info().encoded
    wall = cpu = float("inf")
    for i in range(steps):
        t, c = time.perf_counter(), time.process_time()
        step(WARMUP_STEPS + i)
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    if encoder.cache_info().encoded != encoded:
        raise RuntimeError(f"{label}: the text encoder ran during the timed steps (its cache was not warm)")
    torch.manual_seed(WARMUP_STEPS)
    flops, counted, added = count_flops(forward_backward)
    opt.zero_grad(set_to_none=True)
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            step(0)
        print(f"\n{label}, {'fp32' if mode == 'off' else mode}: top ops of one step by self CPU time")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    return dict(label=label, shape=shape, ms=wall * 1e3, cpu_ms=cpu * 1e3, flops=flops, counted=counted,
                added=added, params=sum(p.numel() for p in model.parameters()))


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS))
    ap.add_argument("--steps", type=int, default=3, help="timed steps per (model, precision); the best is kept")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--peak-size", type=int, default=2048, help="n of the n x n x n matmul measuring the peak")
    ap.add_argument("--profile", action="store_true", help="also print torch.profiler's top ops of one step each")
    args = ap.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if args.steps < 1:
        ap.error("--steps must be >= 1")
    return args


def main(argv=None) -> None:
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from tenderlib import precision
    from tenderlib.models import text
    from tenderlib.data.mirror import swap_sides

    print(precision.describe())
    print(f"torch {torch.__version__}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("\nAttention FLOPs (CPU, forward + backward of one tiny call, B h S M c = 2 4 8 6 16):")
    print("\n".join(check_attention_counting()))

    peaks = {"fp32": matmul_peak(torch.float32, args.peak_size), "bf16": matmul_peak(torch.bfloat16, args.peak_size)}
    print(f"\nMatmul peak ({args.peak_size}^3 torch.mm, {torch.get_num_threads()} thread(s), best of 5): "
          + ", ".join(f"{p} {g:.1f} GFLOP/s" for p, g in peaks.items())
          + f" (bf16 / fp32 {peaks['bf16'] / peaks['fp32']:.2f}x)")

    encoder = text.load_text_encoder(text.TextEncoderConfig())
    # warm its cache: the captions, their mirror images (MoLIP encodes both) and the null condition
    encoder.encode(CAPTIONS + [m for m in map(swap_sides, CAPTIONS) if m])
    encoder.null_features(1)

    rows = []
    for name in args.models:
        for prec, mode in PRECISIONS:
            r = bench(name, mode, encoder, args.steps, args.profile)
            rows.append({**r, "precision": prec})
            print(f"  done: {r['label']} {prec} {r['ms']:.0f} ms/step", flush=True)

    fp32_ms = {r["label"]: r["ms"] for r in rows if r["precision"] == "fp32"}
    print(f"\nTraining step (forward + loss + backward + fused AdamW), best of {args.steps} after {WARMUP_STEPS} "
          f"warm-up, {torch.get_num_threads()} thread(s); load average {os.getloadavg()[0]:.1f}\n")
    head = ("model", "batch", "params", "precision", "ms/step", "CPU ms/step", "GFLOP/step", "attn. added",
            "GFLOP/s", "% peak", "bf16 speed-up")
    print("| " + " | ".join(head) + " |")
    print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        rate = r["flops"] / r["ms"] / 1e6  # GFLOP/s
        speed = f"{fp32_ms[r['label']] / r['ms']:.2f}x" if r["precision"] == "bf16" and r["label"] in fp32_ms else ""
        cells = (r["label"], r["shape"], f"{r['params'] / 1e6:.2f} M", r["precision"], f"{r['ms']:.0f}",
                 f"{r['cpu_ms']:.0f}", f"{r['flops'] / 1e9:.2f}", f"{r['added'] / r['flops']:.0%}", f"{rate:.1f}",
                 f"{100 * rate / peaks[r['precision']]:.1f}%", speed)
        print("| " + " | ".join(cells) + " |")
    print("\nGFLOP/step: matmul FLOPs of forward + backward (FlopCounterMode, plus the attention it misses on CPU: "
          "'attn. added' is that share); GFLOP/s and % peak from ms/step (wall clock) against the measured "
          "matmul peak of the row's precision.")


if __name__ == "__main__":
    main()
