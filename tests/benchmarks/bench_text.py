"""Benchmark of caption encoding with the frozen MiniLM (a script, not a test), by batch size.

    python tests/benchmarks/bench_text.py                  # 400 captions, one thread
    python tests/benchmarks/bench_text.py --n 1000 --threads 2 --batch-sizes 1,32

Prints the CPU model, then for each batch size the captions/s of a fresh encoder (cold cache:
empty memory LRU, no disk cache), the forward passes it ran, and whether every caption's token
features and pooled vector are bit-identical (torch.equal) to those of the first batch size
listed; last, the former default for comparison: each caption alone in its pass, with no copies
topping the pass up to a multiple of 4 token rows. Captions are written by tenderlib.synthetic.captions for
random synthetic programs (body, face and hand captions of varied wording and length). Rates are
the best of 3 passes, to be robust to a shared machine (the load average is printed).
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from tenderlib import synthetic
from tenderlib.synthetic import captions
from tenderlib.models.text import TextEncoderConfig, load_text_encoder


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def varied_captions(n: int, seed: int = 0) -> list[str]:
    """n distinct captions, in the order they were written."""
    cfg = synthetic.SyntheticConfig()
    texts: dict[str, None] = {}
    for i in range(100 * n):
        rng = np.random.default_rng([seed, i])
        program = synthetic.sample_program(synthetic.SOURCES[synthetic.pick_source(cfg, rng)], rng)
        writer = (captions.captions, captions.face_captions, captions.hand_captions)[i % 3]
        texts.update(dict.fromkeys(writer(program, rng, 2)))
        if len(texts) >= n:
            break
    return list(texts)[:n]


def encode(texts: list[str], batch_size: int) -> tuple[float, int, list[tuple[torch.Tensor, torch.Tensor]]]:
    """Seconds, forward passes and per-caption (tokens (L_i, C), pooled (C,)) of a cold encoder."""
    enc = load_text_encoder(TextEncoderConfig(batch_size=batch_size))
    passes: list[int] = []
    enc.model.register_forward_hook(lambda *_: passes.append(1))
    t0 = time.perf_counter()
    f = enc.encode(texts)
    seconds = time.perf_counter() - t0
    return seconds, len(passes), [(f.tokens[b][f.mask[b]], f.pooled[b]) for b in range(len(texts))]


def encode_alone(texts: list[str]) -> tuple[float, int, list[tuple[torch.Tensor, torch.Tensor]]]:
    """As `encode`, the former default: one caption a pass, as many token rows as it has tokens."""
    enc = load_text_encoder(TextEncoderConfig(batch_size=1))
    t0 = time.perf_counter()
    with torch.no_grad():
        feats = [enc._forward([t])[0] for t in texts]
    return time.perf_counter() - t0, len(texts), feats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400, help="distinct captions")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--batch-sizes", default="1,8,32,64", help="TextEncoderConfig.batch_size values, comma-separated")
    ap.add_argument("--repeats", type=int, default=3, help="passes per batch size (best is reported)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    texts = varied_captions(args.n)
    enc = load_text_encoder(TextEncoderConfig())
    lengths = enc._token_lengths(texts)
    enc.encode(["a warm-up caption"])  # first-call overheads (allocator, kernels) stay out of the timings
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.1f} "
          f"({torch.get_num_threads()} torch thread(s); torch {torch.__version__}, "
          f"MKL {torch.backends.mkl.is_available()})")
    print(f"{len(texts)} captions, {min(lengths)}-{max(lengths)} tokens (mean {np.mean(lengths):.1f}), "
          f"{len(set(lengths))} distinct token lengths\n")
    sizes = [int(x) for x in args.batch_sizes.split(",")]
    print("| batch size | captions/s | ms per caption | forward passes | speed-up | "
          f"bit-identical to batch size {sizes[0]} |")
    print("|---|---|---|---|---|---|")
    cases = [(str(bs), lambda bs=bs: encode(texts, bs)) for bs in sizes]
    cases.append(("1, alone without copies (former default)", lambda: encode_alone(texts)))
    reference = first_rate = None
    for name, run in cases:
        runs = [run() for _ in range(args.repeats)]
        seconds, passes, feats = min(runs, key=lambda r: r[0])
        rate = len(texts) / seconds
        if reference is None:
            reference, first_rate = feats, rate
        same = all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for r in runs for a, b in zip(r[2], reference))
        print(f"| {name} | {rate:.0f} | {1e3 / rate:.2f} | {passes} | {rate / first_rate:.2f}x | {same} |", flush=True)


if __name__ == "__main__":
    main()
