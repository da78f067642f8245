"""Benchmark: generating the synthetic Holistic-Motion2D (issue target: 10,000 clips of ~100 frames < 60 s, 2 cores).

    python tests/benchmarks/bench_synthetic.py [--n 10000] [--workers 2] [--length-scales 1.0,0.85] [--stages 200]

Prints the end-to-end throughput of `synthetic.generate` (keep_3d on, as the notebooks use it) for
each length scale: 1.0 is the natural mix of the ten sources (117 frames a clip on average, like
the paper's 116); 0.85 gives clips of about 100 frames, the length the target names. Then, on one
core, where the time of one clip goes (program, animation, kinematics, grounding, camera, detector,
captions).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from tenderlib import synthetic
from tenderlib.synthetic import actions, camera, captions, detector, figure


def stages(n: int) -> list[tuple[str, float]]:
    cfg = synthetic.SyntheticConfig(num_clips=n)
    acc: dict[str, float] = {}

    def tick(name, t0):
        acc[name] = acc.get(name, 0.0) + time.perf_counter() - t0
        return time.perf_counter()

    for i in range(n):
        rng = np.random.default_rng([cfg.seed, i, 1])
        t = time.perf_counter()
        spec = synthetic.SOURCES[synthetic.pick_source(cfg, rng)]
        prog = synthetic.sample_program(spec, rng)
        t = tick("program", t)
        anim = actions.animate(prog, spec.fps, rng)
        t = tick("animate", t)
        kin = figure.forward_kinematics(anim.pose, figure.BodyShape.sample(rng), anim.face_weights, anim.hand_angles)
        t = tick("kinematics", t)
        world = kin.points + figure.ground(kin.points, anim.airborne)[:, None]
        t = tick("ground", t)
        cam = camera.sample_camera(world, rng, camera.CameraConfig(), framing="full", num_frames=len(world))
        uv, _ = camera.project(world, cam)
        pc = camera.to_camera(world, cam)
        t = tick("camera", t)
        detector.detect(pc, uv, cam.image_size, rng, detector.DetectorConfig(),
                        facing_cam=camera.directions_to_camera(kin.facing, cam))
        t = tick("detector", t)
        captions.captions(prog, rng, 3)
        tick("captions", t)
    return [(k, v / n * 1e3) for k, v in acc.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="clips to generate end to end")
    ap.add_argument("--workers", type=int, default=2, help="processes")
    ap.add_argument("--length-scales", default="1.0,0.85", help="SyntheticConfig.length_scale values, comma-separated")
    ap.add_argument("--stages", type=int, default=200, help="clips for the per-stage breakdown (0: skip)")
    args = ap.parse_args()

    print("| clips | length scale | workers | seconds | clips/s | frames | mean frames/clip | frames/s | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for scale in (float(x) for x in args.length_scales.split(",")):
        cfg = synthetic.SyntheticConfig(num_clips=args.n, length_scale=scale)
        t0 = time.perf_counter()
        frames = 0
        for m in synthetic.generate(cfg, workers=args.workers):
            frames += m.num_frames
        dt = time.perf_counter() - t0
        mean = frames / args.n
        verdict = "n/a" if args.n < 10_000 or not 90 <= mean <= 110 else ("met" if dt < 60 else "missed")
        print(f"| {args.n} | {scale:g} | {args.workers} | {dt:.1f} | {args.n / dt:.0f} | {frames} | {mean:.1f} | "
              f"{frames / dt:,.0f} | < 60 s for 10,000 clips of ~100 frames: {verdict} |", flush=True)
    if args.stages:
        print()
        print("| stage (one core) | ms per clip |")
        print("|---|---|")
        rows = stages(args.stages)
        for name, ms in rows:
            print(f"| {name} | {ms:.2f} |")
        print(f"| total | {sum(ms for _, ms in rows):.2f} |")


if __name__ == "__main__":
    main()
