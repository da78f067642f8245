"""Benchmark of the HumanML3D metrics (a script, not a test): embeddings given, how long does
scoring take?

    python tests/benchmarks/bench_metrics.py                     # N = 10,000, R = 20, D = 512
    python tests/benchmarks/bench_metrics.py --dim 256 --blas-threads 1
    python tests/benchmarks/bench_metrics.py --scipy-fid          # also time one scipy-sqrtm FID

Generates, untimed, R replications of N text and generated-motion embeddings (float32, each
replication its own generation, as in the literature), N real-motion embeddings and
R x 100 texts x 30 generations for MultiModality, then times `tenderlib.evaluation.metrics.evaluate` once and
prints seconds per metric. The issue's target: under 10 s for N = 10,000 and R = 20 on the
project's 2-core machine. The FID (one D x D covariance per replication) dominates; on a machine
shared with other jobs, multi-threaded BLAS can be much slower than one thread: try
--blas-threads 1. The load average is printed with the result.
"""
from __future__ import annotations

import argparse
import os
import sys
import time


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="generated samples per replication")
    ap.add_argument("--reps", type=int, default=20, help="replications R")
    ap.add_argument("--dim", type=int, default=512, help="embedding size D (HumanML3D's evaluator: 512)")
    ap.add_argument("--mm-texts", type=int, default=100, help="MultiModality texts")
    ap.add_argument("--mm-gens", type=int, default=30, help="MultiModality generations per text")
    ap.add_argument("--blas-threads", type=int, default=None, help="BLAS threads (default: the library's)")
    ap.add_argument("--scipy-fid", action="store_true", help="also time one FID the reference way (scipy sqrtm)")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


def main() -> None:
    args = parse()
    if args.blas_threads is not None:  # must be set before numpy loads its BLAS
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.blas_threads)
    import numpy as np

    from tenderlib.evaluation.metrics import MetricsConfig, evaluate, fid

    rng = np.random.default_rng(args.seed)
    R, N, D = args.reps, args.n, args.dim
    t = time.perf_counter()
    # embeddings near an 8-D latent (as learned embeddings are), motion = its text's latent plus
    # noise: R@1 about 0.5 like real evaluators, not a saturated 1.0
    k = 8
    proj = rng.standard_normal((k, D), dtype=np.float32) / np.float32(np.sqrt(k))  # (k, D)

    def embed(latent):  # (..., k) -> (..., D), plus small isotropic noise
        out = latent @ proj
        out += np.float32(0.1) * rng.standard_normal(out.shape, dtype=np.float32)
        return out

    z = rng.standard_normal((R, N, k), dtype=np.float32)
    text = embed(z)  # (R, N, D)
    motion = embed(z + np.float32(0.9) * rng.standard_normal((R, N, k), dtype=np.float32))  # (R, N, D)
    real = embed(rng.standard_normal((N, k), dtype=np.float32))  # (N, D)
    mm = embed(rng.standard_normal((R, args.mm_texts, args.mm_gens, k), dtype=np.float32))
    gen_s = time.perf_counter() - t

    t = time.perf_counter()
    res = evaluate(text, motion, real, mm, MetricsConfig())
    total = time.perf_counter() - t

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    threads = args.blas_threads if args.blas_threads is not None else "default"
    print(f"tenderlib.evaluation.metrics.evaluate: N = {N:,} samples, R = {R} replications, D = {D}, "
          f"MultiModality {args.mm_texts} x {args.mm_gens}; {os.cpu_count()} CPUs, BLAS threads {threads}, "
          f"load average {load:.1f}; inputs generated in {gen_s:.1f} s (untimed)")
    rows = [(name, sec) for name, sec in res.seconds.items()]
    width = max(len(name) for name, _ in rows) + 2
    print(f"\n{'metric'.ljust(width)}{'seconds':>9}{'per replication':>18}")
    for name, sec in rows:
        print(f"{name.ljust(width)}{sec:9.2f}{sec / R * 1000:15.1f} ms")
    print(f"{'total'.ljust(width)}{total:9.2f}{total / R * 1000:15.1f} ms")
    verdict = "met" if total < 10 else "NOT met"
    print(f"\ntarget: under 10 s for N = 10,000, R = 20 -> {verdict} ({total:.2f} s)")
    print("results:", ", ".join(f"{k} {v}" for k, v in res.row().items()))

    if args.scipy_fid:
        import scipy.linalg

        t = time.perf_counter()
        s1, s2 = np.cov(real, rowvar=False), np.cov(motion[0], rowvar=False)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
        diff = real.mean(0, dtype=np.float64) - motion[0].mean(0, dtype=np.float64)
        ref = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
        ref_s = time.perf_counter() - t
        t = time.perf_counter()
        ours = fid(real, motion[0])
        ours_s = time.perf_counter() - t
        print(f"\none FID, reference (np.cov + scipy sqrtm): {ref_s:.2f} s = {ref:.6f}; "
              f"tenderlib (no reuse of the real motions' root): {ours_s:.2f} s = {ours:.6f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
