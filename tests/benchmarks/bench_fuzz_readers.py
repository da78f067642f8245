"""Reader fuzzing (a script, not a test; tests/readers/test_readers_fuzz.py runs a small one): mutated
pickles, JSON and BVH files imported under a memory limit.

    python tests/benchmarks/bench_fuzz_readers.py                 # 300 inputs per format, 1 GiB limit
    python tests/benchmarks/bench_fuzz_readers.py --n 100 --seed 3 --mem-mb 768 --json

Builds, from a few valid files of every layout the readers accept (release pkl as array / dict /
per-frame instances under pickle protocols 2-5, mmpose inferencer JSON, a humanoid BVH), `--n`
mutants per format: random byte flips, truncations, inserted and repeated chunks, and format-aware
edits (pickle opcodes swapped for memo, container and array opcodes with forged arguments; JSON
numbers replaced by 1e308, -1, 10**30, NaN and deep nesting; BVH frame counts and frame times
changed). Each format is imported into a store in a child process whose address space is limited
to `--mem-mb` (RLIMIT_AS). Per format the table prints: inputs, stored, rejected, whether the
report adds up (inputs == files), whether the import finished (no crash, no exception escaping
the reader), the child's exit status, peak resident memory and seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
K = 133


# ---------------------------------------------------------------------------------------------
# Valid seeds


def _pose(rng, T):
    return rng.normal(300, 40, (T, K, 2)), rng.uniform(0.2, 1.0, (T, K))


def seed_pickles(rng) -> list[bytes]:
    kp, sc = _pose(rng, 12)
    objs = [np.concatenate([kp, sc[..., None]], -1).astype(np.float32),
            {"keypoints": kp, "keypoint_scores": sc, "fps": 25.0, "width": 640, "height": 360},
            [{"frame_id": t, "instances": [{"keypoints": kp[t].tolist(), "keypoint_scores": sc[t].tolist(),
                                            "bbox": [[0, 0, 640, 360]]}]} for t in range(4)],
            {"keypoints": kp[:, None], "keypoint_scores": sc[:, None], "track_ids": np.zeros((12, 1), np.int64)}]
    return [pickle.dumps(o, protocol=p) for o in objs for p in (2, 4, 5)]


def seed_json(rng) -> list[bytes]:
    kp, sc = _pose(rng, 6)
    frames = [{"frame_id": t, "instances": [{"keypoints": np.round(kp[t], 2).tolist(),
                                             "keypoint_scores": np.round(sc[t], 3).tolist(),
                                             "bbox": [[1.0, 2.0, 600.0, 350.0]], "bbox_score": 0.9}]} for t in range(6)]
    return [json.dumps(frames).encode(), json.dumps({"meta_info": {}, "instance_info": frames}).encode()]


def seed_bvh() -> list[bytes]:
    sys.path.insert(0, str(HERE.parent / "readers"))
    from test_readers_bvh import humanoid_bvh  # the test humanoid: a skeleton the COCO mapping knows

    return [humanoid_bvh(frames=8).encode(), humanoid_bvh(frames=5, yaw_deg=30).encode()]


# ---------------------------------------------------------------------------------------------
# Mutations


_PICKLE_EDITS = [  # (opcode bytes forging a cost or a type) spliced into a pickle stream
    b"r\xff\xff\xff\x03", b"h\xff", b"j\xff\xff\xff\x03", b"J\xff\xff\xff\x7f", b"\x8a\x08" + b"\xff" * 8,
    b"cbuiltins\nbytearray\nJ\x00\x00\x00@\x85R", b"cnumpy\ndtype\nX\x02\x00\x00\x00O8\x89\x88\x87R",
    b"]" + b"(" * 50, b"\x94" * 64, b"cos\nsystem\n", b"B\xff\xff\xff\x7f",
]


def mutate(data: bytes, kind: str, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    how = rng.integers(6)
    if how == 0:  # byte flips
        for _ in range(int(rng.integers(1, 9))):
            b[int(rng.integers(len(b)))] = int(rng.integers(256))
    elif how == 1:  # truncation
        b = b[:int(rng.integers(len(b)))]
    elif how == 2:  # inserted random bytes
        at = int(rng.integers(len(b)))
        b[at:at] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    elif how == 3:  # a chunk repeated
        a = int(rng.integers(len(b)))
        chunk = b[a:a + int(rng.integers(1, 200))]
        b[a:a] = chunk * int(rng.integers(2, 50))
    elif kind == "pkl":  # forged opcodes
        at = int(rng.integers(2, len(b)))
        b[at:at] = _PICKLE_EDITS[int(rng.integers(len(_PICKLE_EDITS)))]
    elif kind == "json":
        text = b.decode("utf-8", "replace")
        swap = ["1e308", "-1", str(10**30), "NaN", "[" * 5000 + "]" * 5000, '"x"', "null", "{}", "1e-320"]
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        if digits:
            i = digits[int(rng.integers(len(digits)))]
            j = i
            while j < len(text) and (text[j].isdigit() or text[j] in ".e-"):
                j += 1
            text = text[:i] + swap[int(rng.integers(len(swap)))] + text[j:]
        b = bytearray(text.encode())
    else:  # bvh
        text = b.decode("latin-1")
        edits = [("Frames: 8", "Frames: 99999999"), ("Frames: 5", "Frames: 0"), ("0.0333333", "1e-300"),
                 ("0.0333333", "1e300"), ("0.0333333", "nan"), ("OFFSET", "OFFSET 1e308"), ("JOINT", "ROOT"),
                 ("}", "{"), ("CHANNELS 3", "CHANNELS 300")]
        a, c = edits[int(rng.integers(len(edits)))]
        b = bytearray(text.replace(a, c, 1).encode("latin-1"))
    return bytes(b)


def make_corpus(folder: Path, n: int, seed: int) -> dict[str, Path]:
    """folder/<fmt>/... with n mutants per format (plus the seeds) -> {format: root}."""
    rng = np.random.default_rng(seed)
    roots = {"pkl": folder / "release", "json": folder / "mmpose", "bvh": folder / "bvh"}
    seeds = {"pkl": seed_pickles(rng), "json": seed_json(rng), "bvh": seed_bvh()}
    places = {"pkl": (roots["pkl"] / "kpfiles" / "K400", roots["pkl"] / "texts" / "K400", ".pkl"),
              "json": (roots["json"], roots["json"], ".json"), "bvh": (roots["bvh"], roots["bvh"], ".bvh")}
    for fmt, (data_dir, text_dir, suffix) in places.items():
        data_dir.mkdir(parents=True, exist_ok=True)
        text_dir.mkdir(parents=True, exist_ok=True)
        items = [s for s in seeds[fmt]] + [mutate(seeds[fmt][int(rng.integers(len(seeds[fmt])))], fmt, rng)
                                           for _ in range(n)]
        for i, data in enumerate(items):
            (data_dir / f"f{i:04d}{suffix}").write_bytes(data)
            (text_dir / f"f{i:04d}.txt").write_text("a person waves the right hand\n")
    return roots


# ---------------------------------------------------------------------------------------------
# Import in a child under a memory limit


CHILD = r"""
import json, resource, sys, time
mem, fmt, root, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
from tenderlib import readers
reader = {"pkl": lambda: readers.read_holistic(root), "json": lambda: readers.read_mmpose(root),
          "bvh": lambda: readers.read_bvh_folder(root, readers.MocapConfig(views=1))}[fmt]
t0 = time.perf_counter()
reading = reader()
store, (report,) = readers.build(reading, out)
print(json.dumps({"inputs": report.num_inputs, "stored": report.num_accepted, "rejected": report.num_rejected,
                  "kinds": dict(report.reasons()), "clips": len(store), "seconds": time.perf_counter() - t0,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def import_under_limit(fmt: str, root: Path, out: Path, mem_mb: int, timeout: float = 600) -> dict:
    expected = sum(1 for p in root.rglob("*") if p.suffix == {"pkl": ".pkl", "json": ".json", "bvh": ".bvh"}[fmt])
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1]) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(mem_mb << 20), fmt, str(root), str(out)],
                          capture_output=True, text=True, timeout=timeout, env=env)
    row = {"format": fmt, "files": expected, "exit": proc.returncode, "wall_s": time.perf_counter() - t0}
    if proc.returncode == 0:
        row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    else:
        row["error"] = (proc.stderr.strip().splitlines() or ["(no output)"])[-1][:300]
    row["finished"] = proc.returncode == 0
    row["adds_up"] = proc.returncode == 0 and row["inputs"] == expected == row["stored"] + row["rejected"]
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="mutants per format")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mem-mb", type=int, default=1024, help="address-space limit of the importing process")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON (for the test)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        roots = make_corpus(Path(tmp), args.n, args.seed)
        rows = [import_under_limit(fmt, root, Path(tmp) / f"store-{fmt}", args.mem_mb) for fmt, root in roots.items()]
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"readers fuzzed: {args.n} mutants per format (seed {args.seed}), RLIMIT_AS {args.mem_mb} MiB")
    print(f"{'format':7s} {'files':>6s} {'stored':>7s} {'rejected':>9s} {'adds up':>8s} {'finished':>9s} "
          f"{'exit':>5s} {'peak MB':>8s} {'seconds':>8s}")
    for r in rows:
        print(f"{r['format']:7s} {r['files']:6d} {r.get('stored', 0):7d} {r.get('rejected', 0):9d} "
              f"{str(r['adds_up']):>8s} {str(r['finished']):>9s} {r['exit']:5d} {r.get('peak_mb', float('nan')):8.0f} "
              f"{r['wall_s']:8.1f}")
        if not r["finished"]:
            print(f"        {r['error']}")
    for r in rows:
        if r.get("kinds"):
            print(f"{r['format']}: rejected by kind {r['kinds']}")
    return 0 if all(r["finished"] and r["adds_up"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
