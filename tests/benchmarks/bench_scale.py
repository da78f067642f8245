"""Benchmark of the store at scale (a script, not a test): build, memory, disk, reads; 10k to 300k clips.

    python tests/benchmarks/bench_scale.py                                  # 10k, 100k, 300k clips
    python tests/benchmarks/bench_scale.py --sizes 10000,100000 --max-frames 0
    python tests/benchmarks/bench_scale.py --sizes 300000 --max-frames 48   # ~22 GB instead of ~56 GB
    python tests/benchmarks/bench_scale.py --sizes 300000 --sources syn-sthv2,syn-caer,syn-haa500  # short clips

For each size it builds `store.build_store(synthetic.generate(cfg, workers=2), path)` in a child
process (as a user would), without the 3D ground truth (`keep_3d=False`: the 3D doubles the store
and real 2D data has none), and measures:

- build throughput (clips/s, frames/s, wall clock) and the CPU it used: user + system seconds of
  the whole process tree per clip, and the mean number of cores busy (CPU s / wall s: 2 = both);
- peak memory of the whole process tree (builder + pool workers), sampled every 0.2 s from /proc:
  the sum of RSS (counts pages shared after fork once per process, so an overestimate) and the sum
  of PSS (shared pages split between their users: the real footprint); plus ru_maxrss;
- size on disk (allocated blocks) and bytes per frame;
- random-access reads from one process: `store.frames(i)` copied to RAM, and `MotionDataset[i]`
  (normalise + crop to 196 frames + caption), clips/s, best of 3 passes of `--reads` random
  clips with a warm page cache, and one pass after evicting the store's files from the page cache
  (posix_fadvise DONTNEED, no root needed), which is what a store larger than RAM sees; plus the
  warm rate per CPU second of the reading process, which a loaded machine does not change;

then deletes the store, and at the end extrapolates to the paper's 1M clips / 116M frames.

`--import-clips N` also measures the path a user of the real release takes: N synthetic clips are
written in the release's layout (kpfiles/<source>/<clip>.pkl as mmpose-style dicts of float32
keypoints and keypoint_scores, texts/<source>/<clip>.txt), then packed by `readers.build(
readers.read_holistic(root, HolisticConfig(workers=W)), out)` (what `tender data import holistic`
runs, with W = 1) for W = 1 and 2, with the same throughput and process-tree memory measurements.
`--max-frames` crops every clip to at most that many frames before packing (0 = no crop), and
`--sources` restricts the mix (the label-only sources have 20-50 frames a clip and cost half the
generation time of a clip): at the default length (117 frames a clip, like the paper's 116) 300k
clips take ~56 GB, which does not fit the ~30 GB a benchmark may use here. Disk, build time and
reads per frame are measured either way; the extrapolation uses the uncropped, all-source sizes
when there are any. On a shared machine the wall-clock
rates depend on the load; the CPU seconds per clip do not, and give the time on two free cores.
Linux only (/proc).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

PAPER_CLIPS, PAPER_FRAMES = 1_000_000, 116_000_000


# ---------------------------------------------------------------------------------------------
# child: build one store


def _cropped(motions, max_frames: int):
    for m in motions:
        if max_frames and m.num_frames > max_frames:
            m.keypoints, m.confidence = m.keypoints[:max_frames], m.confidence[:max_frames]
            if m.keypoints_3d is not None:
                m.keypoints_3d = m.keypoints_3d[:max_frames]
        yield m


def child_build(args) -> None:
    from tenderlib import synthetic
    from tenderlib.data import store

    sources = tuple(s for s in args.sources.split(",") if s)
    cfg = synthetic.SyntheticConfig(num_clips=args.n, seed=args.seed, keep_3d=args.keep_3d,
                                    length_scale=args.length_scale, sources=sources)
    t = time.perf_counter()
    s = store.build_store(_cropped(synthetic.generate(cfg, workers=args.workers), args.max_frames), args.path)
    wall = time.perf_counter() - t
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"clips": len(s), "frames": s.manifest["num_frames"], "wall_s": wall,
                      "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                      "cpu_writer_s": me.ru_utime + me.ru_stime,
                      "maxrss_self_mb": me.ru_maxrss / 1024, "maxrss_child_mb": kids.ru_maxrss / 1024}))


def child_import(args) -> None:
    from tenderlib import readers

    t = time.perf_counter()
    s, _ = readers.build(readers.read_holistic(args.path, readers.HolisticConfig(workers=args.workers)),
                         Path(args.path) / "store")
    wall = time.perf_counter() - t
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"clips": len(s), "frames": s.manifest["num_frames"], "wall_s": wall,
                      "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                      "cpu_writer_s": me.ru_utime + me.ru_stime}))


def write_release(n: int, root: Path, seed: int) -> int:
    """n synthetic clips in the release's layout under root; returns the bytes written."""
    import pickle

    from tenderlib import synthetic

    cfg = synthetic.SyntheticConfig(num_clips=n, seed=seed, keep_3d=False)
    for i, m in enumerate(synthetic.generate(cfg, workers=2)):
        name = f"{i:07d}"
        for sub, data in (("kpfiles", None), ("texts", None)):
            (root / sub / m.source).mkdir(parents=True, exist_ok=True)
        obj = {"keypoints": m.keypoints[:, None], "keypoint_scores": m.confidence[:, None], "fps": m.fps,
               "width": m.image_size[0], "height": m.image_size[1]}  # (T, 1, K, 2), (T, 1, K): one person
        (root / "kpfiles" / m.source / f"{name}.pkl").write_bytes(pickle.dumps(obj, protocol=4))
        (root / "texts" / m.source / f"{name}.txt").write_text("\n".join(m.texts) + "\n", encoding="utf-8")
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def measure_import(n: int, args, base: Path) -> list[dict]:
    root = base / "release"
    size = write_release(n, root, args.seed)
    rows = []
    for workers in (1, 2):
        out, mem = _run_child(["--child", "import", "--path", str(root), "--workers", str(workers)], monitor=True)
        shutil.rmtree(root / "store")
        rows.append({**out, "workers": workers, "input_bytes": size, "peak_rss_mb": mem.peak_rss,
                     "peak_pss_mb": mem.peak_pss})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    shutil.rmtree(root)
    return rows


def report_import(rows: list[dict]) -> None:
    print()
    print("import of the release layout (readers.build(read_holistic(...)), as `tender data import holistic`):")
    head = ("workers", "clips", "frames", "input MB", "s", "clips/s", "frames/s", "CPU ms/clip (writer)", "cores busy",
            "peak RSS MB", "peak PSS MB")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print(f"| {r['workers']} | {r['clips']:,} | {r['frames']:,} | {r['input_bytes'] / 1e6:,.0f} | "
              f"{r['wall_s']:,.1f} | {r['clips'] / r['wall_s']:,.0f} | {r['frames'] / r['wall_s']:,.0f} | "
              f"{1e3 * r['cpu_s'] / r['clips']:.2f} ({1e3 * r['cpu_writer_s'] / r['clips']:.2f}) | "
              f"{r['cpu_s'] / r['wall_s']:.2f} | {r['peak_rss_mb']:,.0f} | {r['peak_pss_mb']:,.0f} |")
    best = min(rows, key=lambda r: r["cpu_s"] / r["frames"])
    print(f"- per million clips of 116 frames: {best['cpu_s'] / best['frames'] * PAPER_FRAMES / 3600:,.1f} CPU h; "
          f"input {best['input_bytes'] / best['frames'] * PAPER_FRAMES / 1e9:,.0f} GB of pkl + txt in this layout")


# ---------------------------------------------------------------------------------------------
# child: random reads


def _evict(folder: Path) -> None:
    for f in folder.iterdir():
        fd = os.open(f, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _rate(fn, order) -> tuple[float, float]:
    """(calls per wall second, calls per CPU second of this process)."""
    t, c = time.perf_counter(), time.process_time()
    for i in order:
        fn(int(i))
    return len(order) / (time.perf_counter() - t), len(order) / max(time.process_time() - c, 1e-9)


def child_read(args) -> None:
    from tenderlib.data.dataset import MotionDataset
    from tenderlib.data.store import Store

    s = Store(args.path)
    ds = MotionDataset(s, max_frames=196)
    rng = np.random.default_rng(1)
    copy = lambda i: np.array(s.frames(i))  # noqa: E731  reads the bytes
    out = {}
    for name, fn in (("frames", copy), ("dataset", ds.__getitem__)):
        _evict(s.path)
        out[f"{name}_cold"] = _rate(fn, rng.integers(0, len(s), args.reads))[0]
        warm = [_rate(fn, rng.integers(0, len(s), args.reads)) for _ in range(3)]
        out[f"{name}_warm"] = max(w for w, _ in warm)
        out[f"{name}_warm_cpu"] = max(c for _, c in warm)
    print(json.dumps(out))


# ---------------------------------------------------------------------------------------------
# parent: process-tree memory


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def _kib(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


class TreeMemory(threading.Thread):
    """Samples the summed RSS and PSS (MiB) of a process and its descendants; keeps the peaks."""

    def __init__(self, pid: int, every_s: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.peak_rss = self.peak_pss = 0.0
        self.peak_procs = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            pids = _tree(self.pid)
            rss = sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in pids) / 1024
            pss = sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids) / 1024
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.peak_procs = max(self.peak_procs, len(pids))
            self._halt.wait(self.every_s)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _run_child(argv: list[str], monitor: bool) -> tuple[dict, TreeMemory | None]:
    proc = subprocess.Popen([sys.executable, __file__, *argv], stdout=subprocess.PIPE, text=True)
    mem = TreeMemory(proc.pid) if monitor else None
    if mem:
        mem.start()
    out, _ = proc.communicate()
    if mem:
        mem.stop()
    if proc.returncode != 0:
        raise SystemExit(f"child {argv[0]} failed with exit code {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1]), mem


def _disk_bytes(folder: Path) -> int:
    return sum(f.stat().st_blocks * 512 for f in folder.iterdir())


def measure(n: int, args, root: Path) -> dict:
    path = root / f"scale-{n}"
    common = ["--seed", str(args.seed), "--workers", str(args.workers), "--length-scale", str(args.length_scale),
              "--max-frames", str(args.max_frames), "--sources", args.sources] + (["--keep-3d"] if args.keep_3d else [])
    build, mem = _run_child(["--child", "build", "--n", str(n), "--path", str(path)] + common, monitor=True)
    disk = _disk_bytes(path)
    reads, _ = _run_child(["--child", "read", "--path", str(path), "--reads", str(args.reads)], monitor=False)
    shutil.rmtree(path)
    row = {"clips": build["clips"], "frames": build["frames"], "build_s": build["wall_s"], "cpu_s": build["cpu_s"],
           "cpu_writer_s": build["cpu_writer_s"], "load": os.getloadavg()[0],
           "peak_rss_mb": mem.peak_rss, "peak_pss_mb": mem.peak_pss, "procs": mem.peak_procs,
           "maxrss_self_mb": build["maxrss_self_mb"], "maxrss_child_mb": build["maxrss_child_mb"],
           "disk_bytes": disk, "max_frames": args.max_frames, "sources": args.sources, **reads}
    print(json.dumps(row), file=sys.stderr, flush=True)  # progress, one line per size
    return row


def report(rows: list[dict], args) -> None:
    print(f"store at scale: synthetic clips, keep_3d={args.keep_3d}, workers={args.workers}, "
          f"length_scale={args.length_scale}, max_frames={args.max_frames or 'none'}, "
          f"sources={args.sources or 'all'}, {os.cpu_count()} CPUs, "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    head = ("clips", "frames", "frames/clip", "build s", "clips/s", "frames/s", "CPU ms/clip (writer)", "cores busy",
            "peak RSS MB", "peak PSS MB", "disk GB", "B/frame", "frames() warm/cold [per CPU s]",
            "dataset[i] warm/cold [per CPU s]", "load")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = (f"{r['clips']:,}", f"{r['frames']:,}", f"{r['frames'] / r['clips']:.1f}", f"{r['build_s']:,.0f}",
                 f"{r['clips'] / r['build_s']:,.0f}", f"{r['frames'] / r['build_s']:,.0f}",
                 f"{1e3 * r['cpu_s'] / r['clips']:.1f} ({1e3 * r['cpu_writer_s'] / r['clips']:.1f})",
                 f"{r['cpu_s'] / r['build_s']:.2f}",
                 f"{r['peak_rss_mb']:,.0f}", f"{r['peak_pss_mb']:,.0f}", f"{r['disk_bytes'] / 1e9:.2f}",
                 f"{r['disk_bytes'] / r['frames']:,.0f}",
                 f"{r['frames_warm']:,.0f} / {r['frames_cold']:,.0f} [{r['frames_warm_cpu']:,.0f}]",
                 f"{r['dataset_warm']:,.0f} / {r['dataset_cold']:,.0f} [{r['dataset_warm_cpu']:,.0f}]",
                 f"{r['load']:.1f}")
        print("| " + " | ".join(cells) + " |")
    full = [r for r in rows if not r["max_frames"] and not r["sources"]] or rows
    per_frame_cpu = sum(r["cpu_s"] for r in full) / sum(r["frames"] for r in full)
    per_frame_wall = sum(r["build_s"] for r in full) / sum(r["frames"] for r in full)
    per_frame_writer = sum(r["cpu_writer_s"] for r in full) / sum(r["frames"] for r in full)
    per_frame_disk = sum(r["disk_bytes"] for r in full) / sum(r["frames"] for r in full)
    print()
    print(f"extrapolation to the paper's {PAPER_CLIPS:,} clips / {PAPER_FRAMES:,} frames (from the "
          f"{'uncropped, all-source' if full is not rows else 'measured'} sizes):")
    print(f"- disk: {per_frame_disk * PAPER_FRAMES / 1e9:,.0f} GB (2D + confidence, float32; "
          f"3D ground truth would add {PAPER_FRAMES * 133 * 3 * 4 / 1e9:,.0f} GB)")
    print(f"- build on two free cores: {per_frame_cpu * PAPER_FRAMES / 2 / 3600:,.1f} h "
          f"(CPU {per_frame_cpu * 1e6:,.0f} us/frame); at the wall-clock rate measured here: "
          f"{per_frame_wall * PAPER_FRAMES / 3600:,.1f} h")
    print(f"- of which the store writer (validation, packing, statistics, receiving the clips): "
          f"{per_frame_writer * PAPER_FRAMES / 3600:,.1f} CPU h (the rest is the synthetic generator; a real "
          f"import replaces it by the reader's parsing)")
    pss, rss = max(r["peak_pss_mb"] for r in rows), max(r["peak_rss_mb"] for r in rows)
    print(f"- peak memory: flat in the number of clips (largest measured: {pss:,.0f} MB PSS, {rss:,.0f} MB summed RSS)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,300000", help="comma-separated numbers of clips")
    ap.add_argument("--workers", type=int, default=2, help="generator processes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--length-scale", type=float, default=1.0, help="SyntheticConfig.length_scale")
    ap.add_argument("--max-frames", type=int, default=0, help="crop clips to this many frames (0: no crop)")
    ap.add_argument("--keep-3d", action="store_true", help="keep the 3D ground truth (doubles the disk)")
    ap.add_argument("--sources", default="", help="comma-separated synthetic sources (default: all ten, weighted)")
    ap.add_argument("--reads", type=int, default=20_000, help="random clips per read measurement")
    ap.add_argument("--dir", default=None, help="where the stores go (default: a temporary folder)")
    ap.add_argument("--max-disk-gb", type=float, default=30.0, help="refuse sizes whose estimate exceeds this")
    ap.add_argument("--import-clips", type=int, default=0,
                    help="also time `tender data import holistic` on this many clips in the release layout")
    ap.add_argument("--child", choices=("build", "read", "import"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "build":
        return child_build(args)
    if args.child == "read":
        return child_read(args)
    if args.child == "import":
        return child_import(args)

    sizes = [int(s) for s in args.sizes.split(",") if s]
    from tenderlib import synthetic

    names = [n for n in args.sources.split(",") if n] or list(synthetic.SOURCES)
    weights = np.array([synthetic.SOURCES[n].weight for n in names])
    mean = float(np.dot(weights, [synthetic.SOURCES[n].mean_frames for n in names]) / weights.sum())
    frames_per_clip = 1.2 * mean * args.length_scale  # the generator's spread around the sources' means
    frames_per_clip = min(args.max_frames, frames_per_clip) if args.max_frames else frames_per_clip
    bytes_per_frame = 133 * 3 * 4 * (2 if args.keep_3d else 1)
    for n in sizes:
        gb = n * frames_per_clip * bytes_per_frame / 1e9
        if gb > args.max_disk_gb:
            raise SystemExit(f"--sizes: {n:,} clips need about {gb:,.0f} GB > --max-disk-gb {args.max_disk_gb}; "
                             f"use --max-frames or fewer clips")
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="tender-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        rows = [measure(n, args, base) for n in sizes]
        imports = measure_import(args.import_clips, args, base) if args.import_clips else []
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    if rows:
        report(rows, args)
    if imports:
        report_import(imports)


if __name__ == "__main__":
    main()
