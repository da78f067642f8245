"""T2M-GPT (Zhang et al. 2023), a baseline of Table 2: a GPT over VQ-VAE codes, conditioned on text.

    gpt = T2MGPT(T2MGPTConfig(...))                 # builds (or takes) the frozen text encoder
    logits = gpt(codes_in, text_vectors, mask)     # (B, L), (B, C_text), (B, L) -> (B, 1 + L, codes + 1)
    gpt.training_loss(batch)                       # codes of clips (tenderlib.experiments.generation.LatentDataset)
    pipe = T2MGPTPipeline(vqvae, gpt, lengths, fps)  # text -> motion (tenderlib.models.pipeline)

The tokenizer is tenderlib.models.vqvae (one code per 4 frames). The GPT (T2M-GPT; the project's
reference notes): a causal transformer whose first token is the projected sentence vector of the
caption, followed by the code tokens; it predicts at every position the next code or END. The
vocabulary is the codebook's codes, END and PAD (PAD is input only). Training: the target
sequence is the clip's codes then END; every input code is replaced by a random code with
probability `corrupt_prob` (T2M-GPT's corrupted-sequence training; the targets stay clean);
cross-entropy up to and including END.

Sampling: codes drawn one at a time from softmax(logits / temperature), restricted to the `top_k`
most likely (0: all). With a length given (a multiple of 4 frames, as every table asks for the
test clips' lengths), END is not drawn before that many codes and the motion stops there; without
one (`sample_codes(..., num_codes=None)`) the motion ends where END is drawn, as T2M-GPT's own.
There is no classifier-free guidance in T2M-GPT (guidance_scale is not used).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tenderlib import checkpoints, params, seeding
from tenderlib.checks import MAX_HEADS, MAX_LAYERS, MAX_WIDTH, int_in, need
from tenderlib.models.layers import PositionalEmbedding, SkipTransformer
from tenderlib.models.pipeline import LengthSampler, MotionPipeline
from tenderlib.models.text import (KINDS as TEXT_KINDS, TextEncoder, TextEncoderConfig, attach_text_encoder,
                                   generator_text_config, unit_rms)
from tenderlib.models.vqvae import VQVAE


@dataclass(frozen=True)
class T2MGPTConfig:
    """The GPT's size, training corruption and sampling. Defaults: a small CPU model; `paper()` T2M-GPT's."""

    codebook_size: int = 256  # codes of the tokenizer (VQVAEConfig.codebook_size)
    max_codes: int = 24  # longest code sequence (max_frames / 4)
    dim: int = 128  # transformer width (T2M-GPT: 1024)
    num_layers: int = 4  # (T2M-GPT: 9)
    num_heads: int = 4  # (T2M-GPT: 16)
    ff_dim: int = 512  # (T2M-GPT: 4096)
    dropout: float = 0.1
    corrupt_prob: float = 0.5  # training: input codes replaced by random codes
    temperature: float = 1.0  # sampling
    top_k: int = 0  # sampling: keep the k most likely tokens (0: all)
    text_kind: str = "minilm"
    text_model: str | None = None
    text_rms: bool = params.added_field(False)  # the sentence vector scaled to unit RMS (tenderlib.models.text.unit_rms)

    def __post_init__(self):
        for name, cap in dict(codebook_size=1 << 16, max_codes=100_000, dim=MAX_WIDTH, num_layers=MAX_LAYERS,
                              num_heads=MAX_HEADS, ff_dim=MAX_WIDTH).items():
            need(self, int_in(getattr(self, name), 1, cap), name, f"an int in [1, {cap}]")
        need(self, self.dim % self.num_heads == 0, "dim", f"divisible by num_heads={self.num_heads}")
        need(self, 0 <= self.dropout < 1, "dropout", "in [0, 1)")
        need(self, 0 <= self.corrupt_prob < 1, "corrupt_prob", "in [0, 1)")
        need(self, math.isfinite(self.temperature) and self.temperature > 0, "temperature", "> 0 and finite")
        need(self, int_in(self.top_k, 0, self.codebook_size + 1), "top_k", f"an int in [0, {self.codebook_size + 1}]")
        need(self, self.text_kind in TEXT_KINDS, "text_kind", f"one of {TEXT_KINDS}")

    @classmethod
    def paper(cls, **changes) -> "T2MGPTConfig":
        """T2M-GPT's transformer: 9 layers of width 1024, 16 heads, FFN 4096; CLIP text; 196 frames."""
        return cls(**{**dict(codebook_size=512, max_codes=49, dim=1024, num_layers=9, num_heads=16, ff_dim=4096,
                             text_kind="clip"), **changes})

    @property
    def end(self) -> int:
        return self.codebook_size  # END token

    @property
    def pad(self) -> int:
        return self.codebook_size + 1  # PAD token (input only)

    def text_encoder_config(self) -> TextEncoderConfig:
        return generator_text_config(self.text_kind, self.text_model)


class T2MGPT(nn.Module):
    """The GPT of a T2MGPTConfig (module docstring); the frozen text encoder is held outside the
    parameters and the state dict (rebuilt from the config)."""

    def __init__(self, config: T2MGPTConfig = T2MGPTConfig(), text_encoder: TextEncoder | None = None):
        super().__init__()
        self.config = c = config
        encoder = attach_text_encoder(self, text_encoder, config.text_encoder_config())
        self.token = nn.Embedding(c.codebook_size + 2, c.dim)  # codes, END, PAD
        self.text_in = nn.Linear(encoder.dim, c.dim)
        self.pos = PositionalEmbedding(c.max_codes + 2, c.dim, "learned")
        self.transformer = SkipTransformer(c.dim, c.num_layers, c.num_heads, c.ff_dim, c.dropout, skip=False)
        self.head = nn.Linear(c.dim, c.codebook_size + 1)  # next code or END

    def text_vectors(self, captions: Sequence[str]) -> torch.Tensor:
        pooled = self.text_encoder.encode(captions).pooled.to(self.head.weight.device)  # (B, C_text)
        return unit_rms(pooled) if self.config.text_rms else pooled

    def forward(self, codes: torch.Tensor, text: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """codes (B, L) int64 input tokens, text (B, C_text), mask (B, L) real tokens -> (B, 1 + L, codes + 1)
        logits: position i predicts token i + 1 (position 0, the text, predicts the first code)."""
        B, L = codes.shape
        if L > self.config.max_codes:
            raise ValueError(f"{L} codes: this GPT was built for at most max_codes={self.config.max_codes}")
        h = torch.cat([self.text_in(text)[:, None], self.token(codes)], dim=1)  # (B, 1 + L, D)
        S = L + 1
        causal = torch.ones(S, S, dtype=torch.bool, device=codes.device).tril()  # (S, S) True = attend
        keys = torch.ones(B, S, dtype=torch.bool, device=codes.device)
        if mask is not None:
            keys[:, 1:] = mask
        attend = causal[None] & keys[:, None, :]  # (B, S, S)
        return self.head(self.transformer(self.pos(h), mask=attend))

    def training_loss(self, batch) -> torch.Tensor:
        """Cross-entropy of the next token (codes then END) with corrupted inputs (module docstring), on
        a tenderlib.models.denoiser.LatentBatch of codes (latents (B, L) int64, lengths in codes);
        randomness from the global torch RNG, which tenderlib.training seeds per step."""
        c = self.config
        codes, lengths = batch.latents, batch.lengths  # (B, L), (B,)
        B, L = codes.shape
        positions = torch.arange(L, device=codes.device)
        real = positions[None] < lengths[:, None]  # (B, L)
        noisy = torch.where((torch.rand(B, L, device=codes.device) < c.corrupt_prob) & real,
                            torch.randint(0, c.codebook_size, (B, L), device=codes.device), codes)
        target = torch.full((B, L + 1), -100, dtype=torch.int64, device=codes.device)  # -100: not counted
        target[:, :L] = torch.where(real, codes, torch.full_like(codes, -100))
        target[torch.arange(B, device=codes.device), lengths] = c.end
        logits = self(torch.where(real, noisy, torch.full_like(codes, c.pad)), self.text_vectors(batch.captions), real)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1), ignore_index=-100)

    @torch.no_grad()
    def sample_codes(self, captions: Sequence[str], generator: torch.Generator,
                     num_codes: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(codes (B, L_max) int64, lengths (B,)) drawn autoregressively (module docstring): num_codes
        (B,) forces each length (END masked before it), None stops at END (at most max_codes)."""
        c = self.config
        device = self.head.weight.device
        B = len(captions)
        text = self.text_vectors(captions)  # (B, C_text)
        limit = int(num_codes.max()) if num_codes is not None else c.max_codes
        codes = torch.zeros(B, 0, dtype=torch.int64, device=device)
        lengths = torch.full((B,), -1, dtype=torch.int64)
        for i in range(limit):
            logits = self(codes, text)[:, -1].float().cpu() / c.temperature  # (B, codes + 1)
            if num_codes is not None:
                logits[:, c.end] = float("-inf")  # the length is given: no END before it
            if c.top_k:
                kth = logits.topk(c.top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]  # (B,) on the CPU
            ended = (nxt == c.end) & (lengths < 0)
            lengths[ended] = i
            nxt = nxt.clamp(max=c.codebook_size - 1)  # after END the sequence is padding (any code)
            codes = torch.cat([codes, nxt.to(device)[:, None]], dim=1)
            if num_codes is None and bool((lengths >= 0).all()):
                break
        if num_codes is not None:
            lengths = num_codes.cpu().long()
        lengths[lengths < 0] = codes.shape[1]
        return codes, lengths


def build(config: T2MGPTConfig, seed: int = 0, text_encoder: TextEncoder | None = None) -> T2MGPT:
    seeding.seed_everything(seed)
    return T2MGPT(config, text_encoder)


def load(checkpoint, device: str | torch.device = "cpu", text_encoder: TextEncoder | None = None) -> T2MGPT:
    config = checkpoints.read_config(checkpoint, T2MGPTConfig)
    return checkpoints.load_weights(T2MGPT(config, text_encoder).to(device), checkpoint, config).eval()


class T2MGPTPipeline(MotionPipeline):
    """Text -> motion with a trained tokenizer and GPT; lengths in multiples of the tokenizer's stride."""

    method = "t2m-gpt"

    def __init__(self, vqvae: VQVAE, gpt: T2MGPT, lengths: LengthSampler, fps: float = 30.0,
                 annotated: Sequence[str] | None = None):
        if gpt.config.codebook_size != vqvae.config.codebook_size:
            raise ValueError(f"the GPT models {gpt.config.codebook_size} codes, the VQ-VAE has "
                             f"{vqvae.config.codebook_size}")
        self.length_multiple = vqvae.config.stride
        if lengths.max_length > gpt.config.max_codes * self.length_multiple:
            raise ValueError(f"lengths.max_length={lengths.max_length} exceeds the GPT's {gpt.config.max_codes} codes "
                             f"x {self.length_multiple} frames")
        super().__init__(lengths, fps, annotated)
        self.vqvae, self.gpt = vqvae.eval(), gpt.eval()

    def sample_features(self, captions, lengths, frames, generator, steps, eta, guidance_scale):
        stride = self.length_multiple
        codes, _ = self.gpt.sample_codes(captions, generator, lengths // stride)  # (B, L)
        out = self.vqvae.decode(codes.to(self.vqvae.codebook.device))  # (B, L * stride, K, 3)
        pad = frames - out.shape[1]
        if pad > 0:
            out = F.pad(out, (0, 0, 0, 0, 0, pad))
        return out[:, :frames], codes.cpu().float()

    @classmethod
    def from_saved(cls, body: dict, last, first_stage, device, text_encoder) -> "T2MGPTPipeline":
        from tenderlib.models import vqvae

        return cls(vqvae.load(first_stage, device), load(last, device, text_encoder),
                   LengthSampler.fit(body["lengths"], body["max_length"]), body["fps"], body.get("annotated"))
