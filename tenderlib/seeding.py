"""Seeds: what fixes a model's initial weights and a training step's randomness.

    seed_everything(seed)     before building a model
    mix_seed(*ints)           a 63-bit seed from a tuple (seed, rank, step)
    make_deterministic()      torch's deterministic kernels, without NaN-filling new tensors
"""
from __future__ import annotations

import hashlib
import struct

import torch

def mix_seed(*values: int) -> int:
    """A 63-bit seed fixed by a tuple of ints (e.g. seed, rank, step): cheap, process-independent."""
    digest = hashlib.blake2b(struct.pack(f"<{len(values)}q", *values), digest_size=8,
                             person=b"tender-train").digest()
    return int.from_bytes(digest, "little") >> 1


def make_deterministic() -> None:
    """Deterministic torch kernels (what the notebooks run under), without torch's NaN-filling of
    every new tensor that comes with them (`fill_uninitialized_memory`: 7% of a PA-VAE step on
    CPU); the results do not change, since no kernel used here reads memory it has not written."""
    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = False


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) before building a model, so its initial weights are reproducible."""
    torch.manual_seed(seed)
