"""Benchmark of the packed store (a script, not a test): build throughput, size, random access.

    python tests/benchmarks/bench_store.py            # N = 2,000 clips of about 100 frames
    python tests/benchmarks/bench_store.py --n 20000

Builds a store of random clips in a temporary folder, then times, from one process:
build (clips/s), size on disk, random `store.frames(i)` (view only, and view + copy to RAM),
`store.clip(i)` and `MotionDataset[i]` (clips/s). The issue's target: >= 5,000 clips/s random
access from one process. Reads after a build hit the page cache: this is warm-cache speed.
Read rates are the best of 3 passes, to be robust to a shared machine.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from tenderlib.data.dataset import MotionDataset, collate
from tenderlib.data.motion import NUM_KEYPOINTS, Motion
from tenderlib.data.store import build_store
from tenderlib.data.selection import Selection

SOURCES = ("syn-ucf101", "syn-k400", "syn-k700", "syn-ubody", "syn-internvid", "syn-haa500",
           "syn-idea400", "syn-sthv2", "syn-dfew", "syn-caer")


def random_clips(n: int, frames: int, seed: int):
    rng = np.random.default_rng(seed)
    for i in range(n):
        T = int(rng.integers(frames // 2, frames * 3 // 2 + 1))
        kp = (rng.random((T, NUM_KEYPOINTS, 2), dtype=np.float32) * 1000).astype(np.float32)
        conf = rng.random((T, NUM_KEYPOINTS), dtype=np.float32)
        k3 = rng.standard_normal((T, NUM_KEYPOINTS, 3), dtype=np.float32) if i % 4 == 0 else None
        yield Motion(keypoints=kp, confidence=conf, texts=[f"a person does action {i % 97}", "another caption"],
                     source=SOURCES[i % len(SOURCES)], fps=30.0, image_size=(1280, 720),
                     clip_id=f"bench-{i:08d}", keypoints_3d=k3, labels={"action": str(i % 97)})


def rate(fn, order, repeats: int = 3) -> float:
    """Calls per second, best of `repeats` passes (the machine may be shared)."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for i in order:
            fn(int(i))
        best = min(best, time.perf_counter() - t)
    return len(order) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="number of clips")
    ap.add_argument("--frames", type=int, default=100, help="mean clip length")
    ap.add_argument("--reads", type=int, default=20000, help="random reads per measurement")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    clips = list(random_clips(args.n, args.frames, args.seed))  # generated up front: not timed
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        store = build_store(iter(clips), Path(tmp) / "store")
        build_s = time.perf_counter() - t
        del clips
        size = sum(f.stat().st_size for f in store.path.iterdir())
        frames = store.manifest["num_frames"]
        rows += [("build", f"{args.n / build_s:,.0f} clips/s", f"{frames / build_s:,.0f} frames/s"),
                 ("size on disk", f"{size / 2**20:,.1f} MiB", f"{size / frames:,.0f} B/frame (2D + 1/4 with 3D)")]

        order = np.random.default_rng(1).integers(0, len(store), args.reads)
        rows.append(("frames(i) view", f"{rate(store.frames, order):,.0f} clips/s", "memmap slice, no read"))
        rows.append(("frames(i) + copy", f"{rate(lambda i: np.array(store.frames(i)), order):,.0f} clips/s", "reads the bytes"))
        rows.append(("clip(i) -> Motion", f"{rate(store.clip, order[:5000]):,.0f} clips/s", "copies + texts + labels"))
        ds = MotionDataset(store, max_frames=196)
        rows.append(("MotionDataset[i]", f"{rate(ds.__getitem__, order[:5000]):,.0f} clips/s", "normalise + crop + caption"))
        batches = [order[a:a + 32] for a in range(0, 5000, 32)]
        per_batch = rate(lambda b: collate([ds[int(k)] for k in batches[b]]), range(len(batches)))
        rows.append(("... + collate (B=32)", f"{per_batch * 5000 / len(batches):,.0f} clips/s", "padded torch Batch"))
        t = time.perf_counter()
        for _ in range(20):
            store.select(Selection(split="train", data_frac=0.5, high_quality_only=True))
        rows.append(("select(train, 50%, HQ)", f"{(time.perf_counter() - t) / 20 * 1e3:,.2f} ms", f"{len(store):,} clips"))

    print(f"store benchmark: N={args.n:,} clips, {frames:,} frames, {NUM_KEYPOINTS} keypoints")
    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}} | {'value':>18} | note")
    print(f"{'-' * w}-|-{'-' * 18}-|-----")
    for name, value, note in rows:
        print(f"{name:<{w}} | {value:>18} | {note}")


if __name__ == "__main__":
    main()
