"""Benchmark of Tender's sampling (a script, not a test): motions per second for 50 DDIM steps with
classifier-free guidance, against 1000-step ancestral sampling of a motion-space denoiser.

    python tests/benchmarks/bench_sampling.py                    # CPU, 1 thread, default and paper sizes
    python tests/benchmarks/bench_sampling.py --device cuda --threads 0

Tender: the latent denoiser (tenderlib.models.denoiser, conditioning "concat") samples n x d latents with
50 DDIM steps, the conditional and unconditional passes as one batch of 2B, then the PA-VAE
decodes `--frames` frames (tenderlib.pipeline.Tender.sample_latents + PAVAE.decode). Text features
are given (a stand-in encoder): the frozen text encoder runs once per caption in both regimes.

Motion-space baseline (the regime of MDM, 25 s a sentence on a GPU): a transformer of the same
depth and width (tenderlib.models.layers.SkipTransformer) over the `--frames` frames of 133 x 3 features
plus a condition token, predicting x0, sampled with 1000 ancestral DDPM steps
(NoiseScheduler.step_ddpm) and guidance (2B per step). Each of its steps costs the same, so it is
timed over `--mdm-steps` steps and scaled to 1000 (the table says so).

Sizes: "default" = DenoiserConfig() with VAEConfig() (width 128, 5 layers, latent 4 x 128);
"paper" = DenoiserConfig.paper() with VAEConfig.paper() (width 256, 9 layers, latent 8 x 256).
Prints a Markdown table; the issue's target is a speed-up of at least 50x per motion.
"""
from __future__ import annotations

import argparse
import os
import time


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16, help="motions per batch B")
    ap.add_argument("--frames", type=int, default=120, help="frames per motion")
    ap.add_argument("--steps", type=int, default=50, help="DDIM steps of Tender")
    ap.add_argument("--mdm-steps", type=int, default=20, help="ancestral steps timed (scaled to 1000)")
    ap.add_argument("--sizes", nargs="+", default=["default", "paper"], choices=["default", "paper"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs of Tender (the best is kept)")
    return ap.parse_args()


def main() -> None:
    args = parse()
    import torch
    from torch import nn

    from tenderlib.models import denoiser as dn
    from tenderlib.models.pipeline import LengthSampler, Tender
    from tenderlib.models.layers import SkipTransformer, count_parameters
    from tenderlib.models.scheduler import NoiseScheduler
    from tenderlib.data.skeleton import NUM_KEYPOINTS
    from tenderlib.models.text import TextEncoder, TextEncoderConfig
    from tenderlib.models.vae import PAVAE, VAEConfig, frame_mask

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    class FixedEncoder(TextEncoder):
        """Stand-in frozen encoder: a fixed vector per caption (the real one runs once per caption anyway)."""

        def __init__(self, dim: int):
            super().__init__(TextEncoderConfig(memory_cache_size=0))
            self.name = self.fingerprint = "fixed"
            self.dim = self.token_dim = dim
            self.context_length = 32

        def _forward(self, texts):
            g = torch.Generator().manual_seed(0)
            return [(torch.randn(8, self.dim, generator=g), torch.randn(self.dim, generator=g)) for _ in texts]

    class MotionDenoiser(nn.Module):
        """MDM-like: frames of 133 x 3 features + one condition token, same depth and width."""

        def __init__(self, dim: int, depth: int, heads: int, ff: int, text_dim: int):
            super().__init__()
            self.inp, self.out = nn.Linear(NUM_KEYPOINTS * 3, dim), nn.Linear(dim, NUM_KEYPOINTS * 3)
            self.cond = nn.Linear(text_dim, dim)
            self.time = nn.Embedding(1000, dim)
            self.tf = SkipTransformer(dim, depth, heads, ff, 0.0, skip=False)

        def forward(self, x, t, text):  # x (B, T, K * 3), t (B,), text (B, C)
            tok = (self.cond(text) + self.time(t))[:, None]  # (B, 1, D)
            h = self.tf(torch.cat([tok, self.inp(x)], dim=1))  # (B, 1 + T, D)
            return self.out(h[:, 1:])  # (B, T, K * 3)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    rows = []
    B, T = args.batch, args.frames
    captions = [f"caption {i}" for i in range(B)]
    for size in args.sizes:
        if size == "paper":
            vcfg, dcfg, text_dim = VAEConfig.paper(max_frames=max(196, T)), None, 768
            dcfg = dn.DenoiserConfig.paper(text_kind="minilm")
        else:
            vcfg, dcfg, text_dim = VAEConfig(max_frames=max(196, T)), dn.DenoiserConfig(), 384
        enc = FixedEncoder(text_dim)
        model = dn.Denoiser(dcfg, enc).to(device).eval()
        vae = PAVAE(vcfg).to(device).eval()
        pipe = Tender(vae, model, LengthSampler.fit([T], T), fps=30.0)
        mask = frame_mask(torch.full((B,), T), T).to(device)
        best = float("inf")
        with torch.no_grad():
            pipe.sample_latents(captions, torch.Generator().manual_seed(0), steps=2)  # warm-up
            for r in range(args.repeats):
                sync()
                t0 = time.perf_counter()
                z = pipe.sample_latents(captions, torch.Generator().manual_seed(r), steps=args.steps)
                vae.decode(z.to(device), mask)
                sync()
                best = min(best, time.perf_counter() - t0)
        tender_mps = B / best
        # motion-space denoiser, ancestral sampling with guidance
        mdm = MotionDenoiser(dcfg.dim, dcfg.num_layers, dcfg.num_heads, dcfg.ff_dim, text_dim).to(device).eval()
        sched = NoiseScheduler()
        text = torch.randn(2 * B, text_dim, device=device)
        x = torch.randn(B, T, NUM_KEYPOINTS * 3, device=device)
        with torch.no_grad():
            mdm(torch.cat([x, x]), torch.zeros(2 * B, dtype=torch.long, device=device), text)  # warm-up
            sync()
            t0 = time.perf_counter()
            for t in range(999, 999 - args.mdm_steps, -1):
                tt = torch.full((2 * B,), t, device=device)
                out = mdm(torch.cat([x, x]), tt, text)
                x0 = 7.5 * out[:B] - 6.5 * out[B:]
                x = sched.step_ddpm(x0, t, x).prev_sample
            sync()
            mdm_s = (time.perf_counter() - t0) * 1000 / args.mdm_steps
        mdm_mps = B / mdm_s
        rows.append((size, dcfg.num_layers, dcfg.dim, f"{dcfg.latent_tokens} x {dcfg.latent_dim}",
                     count_parameters(model), tender_mps, best / B, count_parameters(mdm), mdm_mps, mdm_s / B,
                     tender_mps / mdm_mps))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} thread(s)"
    print(f"Sampling speed on {where}; B = {B} motions per batch, {T} frames; Tender: {args.steps} DDIM steps with "
          f"guidance + VAE decode (best of {args.repeats}); motion-space: 1000 ancestral steps with guidance "
          f"(timed over {args.mdm_steps}, scaled); load average {load:.1f}\n")
    print("| size | layers | width | latent | Tender params | Tender motions/s | Tender s/motion "
          "| motion-space params | motion-space motions/s | motion-space s/motion | speed-up |")
    print("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:,} | {r[5]:.2f} | {r[6]:.3f} | {r[7]:,} | {r[8]:.4f} "
              f"| {r[9]:.2f} | {r[10]:.0f}x |")


if __name__ == "__main__":
    main()
