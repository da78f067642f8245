"""Stand-ins shared by the tests (imported as `from fakes import WordEncoder`; pytest puts tests/ on
sys.path): a text encoder without model files, and a tiny regression task for the training loop."""
from __future__ import annotations

import zlib

import numpy as np
import torch
import torch.nn.functional as F

from tenderlib.models.text import TextEncoder, TextEncoderConfig


class WordEncoder(TextEncoder):
    """A stand-in frozen encoder: one fixed random vector per word (fast, no model files); the
    empty caption (classifier-free guidance's null text) is the word '<empty>'."""

    def __init__(self, dim: int = 16, context: int = 32):
        super().__init__(TextEncoderConfig())
        self.name, self.dim, self.token_dim, self.context_length = "words", dim, dim, context
        self.fingerprint = "words"

    def _forward(self, texts):
        out = []
        for t in texts:
            words = t.lower().split()[: self.context_length] or ["<empty>"]
            tok = torch.stack([torch.from_numpy(np.random.default_rng(zlib.crc32(w.encode())).standard_normal(
                self.dim).astype(np.float32)) for w in words])  # (L, C)
            out.append((tok, F.normalize(tok.mean(0), dim=0)))
        return out


class Pairs(torch.utils.data.Dataset):
    """(x, y) pairs of a noisy linear map: a training task without dropout or sampling of its own."""

    def __init__(self, n: int = 96, dim_in: int = 6, dim_out: int = 3, seed: int = 7):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, dim_in, generator=g)  # (N, dim_in)
        self.y = self.x @ torch.randn(dim_in, dim_out, generator=g) + 0.1 * torch.randn(n, dim_out, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def stack_pairs(items):
    """collate_fn of Pairs: (x (B, dim_in), y (B, dim_out))."""
    return torch.stack([x for x, _ in items]), torch.stack([y for _, y in items])


def mse(model, batch):
    """loss_fn of Pairs."""
    x, y = batch
    return F.mse_loss(model(x), y)
