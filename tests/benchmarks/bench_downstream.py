"""Speed of notebook 06's work: pose maps and their MP4, guided generation, lifting.

    .venv/bin/python tests/benchmarks/bench_downstream.py [--motions 8] [--threads 1]

- pose maps: frames drawn per second (tenderlib.posemap.pose_maps) and drawn + H.264-encoded per
  second (write_mp4) at 512 x 768 and 576 x 1024, for a synthetic whole-body clip;
- generation at the default profile's size (params/default/02_vae.yaml, 03_diffusion.yaml; freshly
  initialised: time does not depend on the weights), `--motions` motions of 96 frames in one batch,
  DDIM 50: unconstrained, and under keyframes with notebook 06's default guidance
  (params/default/06_downstream.yaml: Adam steps at every DDIM step, then on the sampled latent);
- lifting: frames per second of the default-size lifters (transformer, MLP) on a whole clip.
Prints Markdown tables; name the CPU with them.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench_baselines import CAPTIONS, cpu_name, tender
from tenderlib import params, posemap, synthetic
from tenderlib.experiments import downstream
from tenderlib.models import lifter as lifters
from tenderlib.models.constraints import GuidanceConfig, Keyframes
from tenderlib.models.text import TextEncoderConfig, load_text_encoder


def clip():
    cfg = synthetic.SyntheticConfig(num_clips=200)
    return max((m for m in synthetic.make_clips(cfg, range(40)) if m.source in ("syn-k400", "syn-k700")),
               key=lambda m: len(m.keypoints))


def timed(fn, repeats: int = 1) -> float:
    fn()  # warm-up
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--motions", type=int, default=8, help="motions generated in one batch")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_name()}; torch threads: {args.threads}\n")

    m = clip()
    T = len(m.keypoints)
    print(f"| pose maps ({T} frames) | drawn, frames/s | drawn + H.264, frames/s |\n| --- | --- | --- |")
    for w, h in ((512, 768), (576, 1024)):
        cfg = posemap.PoseMapConfig(width=w, height=h)
        draw = timed(lambda: posemap.pose_maps(m, cfg))
        with tempfile.TemporaryDirectory() as tmp:
            enc = timed(lambda: posemap.write_mp4(posemap.iter_pose_maps(m, cfg), Path(tmp) / "x.mp4", m.fps))
        print(f"| {w} x {h} | {T / draw:.0f} | {T / enc:.0f} |")

    study = downstream.configs(params.notebook_parameters("06_downstream", "default"), params.snapshot({}))
    pipe = tender("default", load_text_encoder(TextEncoderConfig()))
    n, B = pipe.max_length, args.motions
    caps = (CAPTIONS * B)[:B]
    kf = Keyframes(np.repeat(np.arange(B), 6), np.tile([0, 0, n // 2, n // 2, n - 1, n - 1], B),
                   np.tile([9, 10] * 3, B), np.full((6 * B, 2), 256.0))
    guidance = GuidanceConfig(study.study.guidance_iterations, max(study.study.guidance_lrs),
                              study.study.guidance_final_iterations)
    gen = lambda constraints: pipe.generate(caps, [n] * B, generator=torch.Generator().manual_seed(0),  # noqa: E731
                                            constraints=constraints, guidance_config=guidance)
    free, kept = timed(lambda: gen(None)), timed(lambda: gen(kf))
    print(f"\n| generation, default size ({B} x {n} frames, DDIM 50) | s per motion |\n| --- | --- |")
    print(f"| unconstrained | {free / B:.3f} |")
    print(f"| keyframes, {guidance.iterations} Adam steps per DDIM step + {guidance.final_iterations} at the end "
          f"| {kept / B:.3f} ({kept / free:.1f}x) |")

    print(f"\n| lifter (default size, window {study.lifter.window}) | parameters | frames/s |\n| --- | --- | --- |")
    for cfg in (study.lifter, study.mlp):
        model = lifters.build(cfg).eval()
        rate = T / timed(lambda: lifters.lift(model, m.keypoints, m.confidence), repeats=3)
        print(f"| {cfg.kind} | {sum(p.numel() for p in model.parameters()):,} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
