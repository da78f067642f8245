"""Stand-ins shared by the model tests (imported as `from fakes import WordEncoder`; pytest puts
tests/ on sys.path)."""
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
