"""PA-VAE: the part-aware variational auto-encoder with confidence-aware modelling (paper 4.2-4.3).

    features (B, T, K, C_in) --spatial--> (B, T, d) --temporal skip transformer with 2n
    distribution tokens--> linear heads--> mu, logvar (B, n, d) --z--> decoder: T queries + positions,
    cross-attention to z, same skip scheme --> (B, T, K, C_out)

The posterior's log-variance starts at `logvar_init`. While the encoder's means are still small,
posterior noise of sigma 0.14 (-4) drowns the differences between clips and the decoder learns the
mean motion first; at -9 (sigma 0.01) the PA-VAE kept 0.53x of the truth's within-clip spread after
1,000 steps against 0.21x (default profile sizes, zero queries), and the KL term lets sigma grow
where z does not need precision.

The decoder's queries are zeros (MLD: every frame starts from its position alone and must learn to
pull its pose out of z through attention; `decoder_queries="zeros"`) or the latent tokens spread
over the clip in time (`"latent"`: token j sits at the centre of the j-th of n segments of the clip,
frames between two centres get their linear interpolation), so that frames start from different
inputs and the decoded motion can vary in time from the first step; cross-attention to z is kept.
Measured at the default profile's sizes after 1,000 steps (logvar_init -4): the reconstructions kept
0.76 / 0.80 / 0.69x of the truth's spread (body / face / hands) and 0.58 / 0.58 / 0.46x of its
half-second displacement with latent queries, against 0.21 / 0.24 / 0.16x and 0.18 / 0.18 / 0.12x
with zero queries, which learn the clip's mean pose first and its movement late. With 8 latent
tokens (the paper's n) instead of 4, each covering 12 of the 96 frames, and logvar_init -9, the same
1,000 steps kept 0.89 / 0.91 / 0.88x of the spread and 0.86 / 0.82 / 0.78x of the displacement
(body error 0.136 against 0.149 for the clip's mean pose held); an L1 loss with a velocity term
(weight 1) did worse than the default smooth L1 (0.66 / 0.77 / 0.57x and 0.48 / 0.54 / 0.38x), and
so did the naive VAE's linear map of the raw frame added to the part-aware encoder's output (zero
queries, lr 1e-3, 1,000 steps: body spread 0.18x against 0.29x without it).

C_in = C_out = 3 (x, y, confidence) with confidence-aware modelling (CAG, `cag=True`): the
confidence is an input channel and a reconstruction target, and decoded motions carry it;
C_in = C_out = 2 without. Padded frames are masked everywhere (attention keys and losses).

Spatial encoder, one of three (`num_parts`, `spatial_tokens`):
- num_parts = 1, the naive VAE (MLD): a per-frame linear embedding of the flattened K x C_in input.
- keypoint tokens (default, the literal reading of eq. 3): each keypoint is a token; a part's
  keypoints share that part's linear input and Q/K/V maps; attention over the K tokens of a
  frame with the additive part mask (tenderlib.data.skeleton.part_mask: 0 within a part, -inf
  across), so a keypoint attends to its own part only; FFN; `spatial_layers` such layers; then
  the K x spatial_dim tokens are flattened and projected to d.
- part tokens: each part's keypoints flattened (P_I x C_in -> spatial_dim), one token per part
  per frame, per-part Q/K/V maps; with one token per part the part mask would leave each token
  attending to itself only, so the part tokens attend to each other (the parts interact).

Reconstruction scores, ablations by name and runs by config: tenderlib.experiments.vae_runs.

The block-diagonal attention is computed either per part ("blocked": attention within each part's
slice of tokens, no mask) or as one masked K x K attention ("masked", eq. 3 as written); the
two give the same result (tests/models/test_vae.py proves it); `SPATIAL_IMPL` holds the faster on CPU.
The blocked encoder runs SPATIAL_CHUNK frames at a time: at the default size its 133 tokens x 16
channels per frame make activations of ~50 MB per batch of 64 x 96 frames, whose many cheap
per-token steps (norms, GELU, small maps) are then bound by memory traffic and by the page faults
of freshly allocated buffers; a chunk's activations stay in cache and its buffers are reused.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from tenderlib import checkpoints
from tenderlib.checks import MAX_FRAMES, MAX_HEADS, MAX_LAYERS, MAX_TOKENS, MAX_WIDTH, int_in, need
from tenderlib.models.layers import POSITIONAL_KINDS, FeedForward, PositionalEmbedding, SkipTransformer, attention
from tenderlib.models.losses import LOSS_KINDS, confidence_loss, kl_divergence, reconstruction_loss, velocity_loss
from tenderlib.data.skeleton import NUM_KEYPOINTS, PART_GROUPINGS, part_indices, part_mask

log = logging.getLogger(__name__)

SPATIAL_TOKENS = ("keypoint", "part")
SPATIAL_IMPLS = ("blocked", "masked")
DECODER_QUERIES = ("zeros", "latent")
LOGVAR_INIT = -9.0  # initial logvar of the posterior (sigma ~0.01, VAEConfig.logvar_init): z's noise stays far
# below the spread of the clips' means while the encoder's outputs are still small (module docstring)
SPATIAL_IMPL = "blocked"  # faster on CPU: 1.84x vs 2.35x the naive step, fp32, 1 thread (tests/benchmarks/bench_vae.py)
SPATIAL_CHUNK = 256  # frames the blocked spatial encoder runs at once: their activations stay in cache


@dataclass(frozen=True)
class VAEConfig:
    """Architecture and training objective of a (PA-)VAE. Defaults: a small CPU model; `paper()` the paper's."""

    # spatial (part-aware) encoder
    num_parts: int = 4  # 4 body/foot/face/hand, 3, 2 (tenderlib.data.skeleton.PART_GROUPINGS); 1 = naive VAE
    spatial_layers: int = 2  # s, part-aware attention layers (forced to 0 for the naive VAE)
    spatial_tokens: Literal["keypoint", "part"] = "keypoint"  # one token per keypoint, or per part
    spatial_dim: int = 16  # width of a spatial token (16 keeps a PA-VAE step under 2x the naive one on CPU)
    spatial_heads: int = 1  # heads of the part-aware attention (eq. 3 has one)
    # temporal transformers and latent
    latent_tokens: int = 4  # n, latent tokens
    latent_dim: int = 128  # d, width of a latent token and of the temporal transformers
    num_layers: int = 5  # l, layers of the encoder and of the decoder each
    num_heads: int = 4  # attention heads of the temporal transformers
    ff_dim: int = 512  # hidden width of their feed-forward blocks
    dropout: float = 0.1  # dropout of the temporal transformers
    skip: bool = True  # long skip connections (Table 12 "w/ skip")
    decoder_queries: Literal["zeros", "latent"] = "latent"  # the decoder's frame queries before cross-attention:
    #   zeros + positions (MLD), or the latent tokens spread over the clip in time + positions (module docstring)
    positional: Literal["sinusoidal", "learned"] = "sinusoidal"  # frame position embedding
    max_frames: int = 196  # longest clip the positional tables hold
    # confidence-aware modelling and objective (Table 7)
    cag: bool = True  # confidence as input channel and reconstruction target
    recon_loss: Literal["smooth_l1", "l2", "l1"] = "smooth_l1"  # per-element loss (MLD: SmoothL1)
    conf_weight: float = 1.0  # weight of the confidence reconstruction term (CAG only)
    conf_supervise_unannotated: bool = False  # CAG: also teach confidence 0 where the source has none
    conf_weighted: bool = False  # weight each keypoint's coordinate loss by its confidence ("weighted")
    velocity_weight: float = 0.0  # weight of the velocity loss ("velocity"); 0 = off
    kl_weight: float = 1e-4  # weight of the KL term (MLD: 1e-4)
    logvar_init: float = LOGVAR_INIT  # initial log-variance of the posterior (module docstring)

    def __post_init__(self):
        need(self, self.num_parts in PART_GROUPINGS and not isinstance(self.num_parts, bool), "num_parts",
             f"one of {tuple(sorted(PART_GROUPINGS))}")
        need(self, self.spatial_tokens in SPATIAL_TOKENS, "spatial_tokens", f"one of {SPATIAL_TOKENS}")
        need(self, self.positional in POSITIONAL_KINDS, "positional", f"one of {POSITIONAL_KINDS}")
        need(self, self.recon_loss in LOSS_KINDS, "recon_loss", f"one of {LOSS_KINDS}")
        need(self, self.decoder_queries in DECODER_QUERIES, "decoder_queries", f"one of {DECODER_QUERIES}")
        caps = dict(spatial_dim=MAX_WIDTH, spatial_heads=MAX_HEADS, latent_tokens=MAX_TOKENS, latent_dim=MAX_WIDTH,
                    num_layers=MAX_LAYERS, num_heads=MAX_HEADS, ff_dim=MAX_WIDTH, max_frames=MAX_FRAMES)
        for name, cap in caps.items():
            need(self, int_in(getattr(self, name), 1, cap), name, f"an int in [1, {cap}]")
        need(self, self.spatial_dim % self.spatial_heads == 0, "spatial_dim",
             f"divisible by spatial_heads={self.spatial_heads}")
        need(self, self.latent_dim % self.num_heads == 0, "latent_dim", f"divisible by num_heads={self.num_heads}")
        need(self, self.positional != "sinusoidal" or self.latent_dim % 2 == 0, "latent_dim", "even for sinusoidal positions")
        need(self, 0 <= self.dropout < 1, "dropout", "in [0, 1)")
        for name in ("conf_weight", "velocity_weight", "kl_weight"):
            need(self, getattr(self, name) >= 0, name, ">= 0")
        if self.num_parts == 1:
            object.__setattr__(self, "spatial_layers", 0)  # the naive VAE has no spatial attention
        else:
            need(self, int_in(self.spatial_layers, 1, MAX_LAYERS), "spatial_layers",
                 f"an int in [1, {MAX_LAYERS}] when num_parts > 1 (num_parts=1 is the naive VAE)")

    @classmethod
    def paper(cls, **changes) -> "VAEConfig":
        """Paper appendix B.1 / Tables 5, 7, 12: 9 layers, 4 heads, latent 8 x 256, PA-VAE-2-4, CAG."""
        sizes = dict(num_parts=4, spatial_layers=2, latent_tokens=8, latent_dim=256, num_layers=9,
                     num_heads=4, ff_dim=1024, dropout=0.1, skip=True, max_frames=196, cag=True)
        return cls(**{**sizes, **changes})

    @property
    def naive(self) -> bool:
        return self.num_parts == 1

    @property
    def channels(self) -> int:
        """Channels per keypoint in and out: x, y [, confidence]."""
        return 3 if self.cag else 2

    @property
    def name(self) -> str:
        """Paper-style name: 'VAE' or 'PA-VAE-<s>-<p>' (+ '-part' for part tokens)."""
        if self.naive:
            return "VAE"
        return f"PA-VAE-{self.spatial_layers}-{self.num_parts}" + ("-part" if self.spatial_tokens == "part" else "")


@dataclass
class VAEOutput:
    """What a forward pass returns."""

    features: torch.Tensor  # (B, T, K, C_out) decoded x, y [, confidence], zeros in padded frames
    mu: torch.Tensor  # (B, n, d)
    logvar: torch.Tensor  # (B, n, d)
    z: torch.Tensor  # (B, n, d) the latent that was decoded

    @property
    def confidence(self) -> torch.Tensor | None:
        """(B, T, K) decoded confidence (CAG), else None."""
        return self.features[..., 2] if self.features.shape[-1] > 2 else None


@dataclass
class VAELosses:
    """The objective and its terms (scalars); `loss` is what the training loop minimises."""

    loss: torch.Tensor
    recon: torch.Tensor  # coordinates (confidence-weighted when conf_weighted)
    confidence: torch.Tensor  # CAG confidence reconstruction (0 without CAG)
    velocity: torch.Tensor  # 0 when velocity_weight is 0
    kl: torch.Tensor


# --------------------------------------------------------------------------------------------
# Spatial encoders: (B, T, K, C_in) -> (B, T, d)


def part_major_sizes(bounds: list[tuple[int, int]], frames: int) -> list[int]:
    """Rows of each part's block in the part-major layout of `frames` frames (PartAttention.forward_blocked)."""
    return [frames * (e - s) for s, e in bounds]


class PartLinear(nn.Module):
    """One nn.Linear per contiguous token range [start, stop): (..., K, in) -> (..., K, out)."""

    def __init__(self, bounds: list[tuple[int, int]], in_dim: int, out_dim: int):
        super().__init__()
        self.bounds = bounds
        self.linears = nn.ModuleList(nn.Linear(in_dim, out_dim) for _ in bounds)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([lin(x[..., s:e, :]) for lin, (s, e) in zip(self.linears, self.bounds)], dim=-2)


class PartAttention(nn.Module):
    """Attention over the tokens of a frame with per-part Q/K/V maps (eq. 2-3).

    bounds: contiguous token ranges [start, stop), one per part; a part's tokens share its maps.
    mask: (K, K) additive float mask (0 = attend, -inf = not), block-diagonal over `bounds`
        (tenderlib.data.skeleton.part_mask), or None: every token attends to all (part tokens).
    `forward` attends over all K tokens with the mask; `forward_part` over one part's tokens
    alone, which is the same thing for those tokens when the mask is block-diagonal.
    """

    def __init__(self, bounds: list[tuple[int, int]], dim: int, heads: int, mask: torch.Tensor | None = None):
        super().__init__()
        self.bounds, self.heads = bounds, heads
        self.qkv = PartLinear(bounds, dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.restrict = mask is not None
        if self.restrict:
            mask = torch.as_tensor(mask, dtype=torch.float32)
            ids = torch.as_tensor(np.repeat(np.arange(len(bounds)), [e - s for s, e in bounds]))
            if tuple(mask.shape) != (len(ids), len(ids)) or not torch.equal(mask == 0, ids[:, None] == ids[None, :]):
                raise ValueError("mask must be 0 within and -inf across the part ranges `bounds`")
            # a bool mask (True = attend) works in any dtype, bf16 under autocast included
            self.register_buffer("allowed", mask == 0, persistent=False)  # (K, K)

    def _mix(self, qkv: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """qkv (N, k, 3C) -> (N, k, C): the attention's values, before the output map."""
        q, k, v = rearrange(qkv, "n k (three h c) -> three n h k c", three=3, h=self.heads)
        y = attention(q, k, v, mask)  # (N, h, k, c); fp32 under CPU autocast (tenderlib.models.layers.attention)
        return rearrange(y, "n h k c -> n k (h c)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, K, C), N = frames -> (N, K, C): all tokens, masked by parts when restricted."""
        return self.out(self._mix(self.qkv(x), self.allowed if self.restrict else None))

    def forward_blocked(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        """x (N*K, C) in part-major order -> (N*K, C), same order: each part's tokens attend among themselves.

        Part-major: the tokens of part I in all N frames, (N, P_I, C) flattened to (N*P_I, C), follow
        those of part I-1, so a part's tokens are one contiguous block for its own Q/K/V map and
        attention (no mask), and the shared output map runs once over all parts.
        """
        C = x.shape[-1]
        blocks = x.split(part_major_sizes(self.bounds, frames))  # (N*P_I, C) each
        mixed = [self._mix(lin(b).view(frames, e - s, 3 * C), None).reshape(-1, C)  # (N*P_I, C)
                 for lin, (s, e), b in zip(self.qkv.linears, self.bounds, blocks)]
        return self.out(torch.cat(mixed))


class SpatialLayer(nn.Module):
    """Pre-norm: x + PartAttention(LN x); x + FFN(LN x). Norms and FFN act per token."""

    def __init__(self, bounds, dim: int, heads: int, mask: torch.Tensor | None):
        super().__init__()
        self.norm_attn, self.norm_ff = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = PartAttention(bounds, dim, heads, mask)
        self.ff = FeedForward(dim, 2 * dim)

    def forward(self, x: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        """x (N, K, C) all tokens (masked attention), or (N*K, C) the part-major tokens of `frames`
        frames (PartAttention.forward_blocked)."""
        h = self.norm_attn(x)
        x = x + (self.attn(h) if frames is None else self.attn.forward_blocked(h, frames))
        return x + self.ff(self.norm_ff(x))


class SpatialEncoder(nn.Module):
    """Part-aware spatial encoder (keypoint or part tokens): (B, T, K, C_in) -> (B, T, d).

    With keypoint tokens, nothing crosses a part boundary before the final projection (attention
    is masked to the part; norms and FFN act per token), so impl='blocked' runs each part's
    tokens through the layers on their own and sums the parts' shares of the final projection;
    impl='masked' runs all K tokens together with the K x K mask of eq. 3. Same result.
    """

    def __init__(self, cfg: VAEConfig, impl: str = SPATIAL_IMPL):
        super().__init__()
        if impl not in SPATIAL_IMPLS:
            raise ValueError(f"spatial impl must be one of {SPATIAL_IMPLS}, got {impl!r}")
        parts = part_indices(cfg.num_parts)
        order = np.concatenate(parts)  # keypoints in part order
        if not np.array_equal(order, np.arange(NUM_KEYPOINTS)):
            self.register_buffer("order", torch.as_tensor(order), persistent=False)
        else:
            self.order = None
        sizes = [len(p) for p in parts]
        starts = np.cumsum([0] + sizes)
        self.kp_bounds = [(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]
        C, self.tokens, self.impl = cfg.spatial_dim, cfg.spatial_tokens, impl
        if self.tokens == "keypoint":
            self.embed = PartLinear(self.kp_bounds, cfg.channels, C)
            n_tokens, bounds = NUM_KEYPOINTS, self.kp_bounds
            # eq. 3's additive part mask, rows and columns in part order
            mask = torch.from_numpy(part_mask(cfg.num_parts)[np.ix_(order, order)])  # (K, K)
        else:
            self.embed = nn.ModuleList(nn.Linear(n * cfg.channels, C) for n in sizes)
            n_tokens, bounds, mask = len(sizes), [(p, p + 1) for p in range(len(sizes))], None
        self.token_embedding = nn.Parameter(torch.randn(n_tokens, C) * 0.02)  # (tokens, C) identity
        self.layers = nn.ModuleList(SpatialLayer(bounds, C, cfg.spatial_heads, mask)
                                    for _ in range(cfg.spatial_layers))
        self.norm = nn.LayerNorm(C)
        self.proj = nn.Linear(n_tokens * C, cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        if self.order is not None:
            x = x.index_select(2, self.order)
        x = rearrange(x, "b t k c -> (b t) k c")
        if self.tokens == "keypoint" and self.impl == "blocked":
            return rearrange(self._blocked(x), "(b t) d -> b t d", b=B)
        if self.tokens == "keypoint":
            h = self.embed(x)  # (BT, K, C)
        else:
            h = torch.stack([lin(x[:, s:e].flatten(1)) for lin, (s, e) in zip(self.embed, self.kp_bounds)],
                            dim=1)  # (BT, P, C)
        h = h + self.token_embedding
        for layer in self.layers:
            h = layer(h)
        h = rearrange(self.norm(h), "(b t) k c -> b t (k c)", b=B)  # (B, T, tokens * C)
        return self.proj(h)  # (B, T, d)

    def _blocked(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, K, C_in) -> (N, d), SPATIAL_CHUNK frames at a time (frames are independent), tokens
        in part-major order (PartAttention.forward_blocked): per-part maps act on a part's block,
        norms and FFN on all tokens at once, and the final projection sums the parts' shares."""
        C, W = self.token_embedding.shape[1], self.proj.weight  # W (d, K*C), columns in token order
        outs = []
        for chunk in x.split(SPATIAL_CHUNK):  # (n, K, C_in)
            n = chunk.shape[0]
            h = torch.cat([(lin(chunk[:, s:e]) + self.token_embedding[s:e]).reshape(-1, C)  # (n*P_I, C)
                           for lin, (s, e) in zip(self.embed.linears, self.kp_bounds)])  # (n*K, C)
            for layer in self.layers:
                h = layer(h, frames=n)
            h = self.norm(h).split(part_major_sizes(self.kp_bounds, n))  # (n*P_I, C) each
            out = self.proj.bias  # (d,); the projection of the flattened K*C channels, summed part by part
            for b, (s, e) in zip(h, self.kp_bounds):
                out = out + F.linear(b.view(n, (e - s) * C), W[:, s * C:e * C])  # (n, d); fp32 sum under autocast
            outs.append(out)
        return torch.cat(outs)


class NaiveEncoder(nn.Module):
    """The naive VAE's per-frame linear embedding: (B, T, K, C_in) -> (B, T, d)."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.proj = nn.Linear(NUM_KEYPOINTS * cfg.channels, cfg.latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(rearrange(x, "b t k c -> b t (k c)"))


# --------------------------------------------------------------------------------------------
# The VAE


def frame_mask(lengths, num_frames: int | None = None) -> torch.Tensor:
    """(B, T) bool, True for the first lengths[b] frames; T = num_frames or max(lengths)."""
    lengths = torch.as_tensor(lengths, dtype=torch.int64).reshape(-1)
    T = int(lengths.max()) if num_frames is None else int(num_frames)
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


def spread_in_time(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """tokens (B, n, d), mask (B, T) a prefix of real frames -> (B, T, d): the n tokens placed evenly
    over each clip's real frames (token j at the centre of the j-th of n equal segments) and linearly
    interpolated between them (held before the first and after the last centre); 0 in padding."""
    B, n, _ = tokens.shape
    lengths = mask.sum(1).clamp_min(1).to(tokens.dtype)  # (B,)
    t = torch.arange(mask.shape[1], device=mask.device, dtype=tokens.dtype)  # (T,)
    pos = ((t[None, :] + 0.5) / lengths[:, None] * n - 0.5).clamp(0, n - 1)  # (B, T) in token units
    lo = pos.floor().long().clamp(max=n - 1)  # (B, T)
    hi = (lo + 1).clamp(max=n - 1)
    w = (pos - lo.to(tokens.dtype))[..., None]  # (B, T, 1)
    pick = lambda idx: tokens.gather(1, idx[..., None].expand(-1, -1, tokens.shape[-1]))  # (B, T, d)
    return ((1 - w) * pick(lo) + w * pick(hi)) * mask[:, :, None]


class PAVAE(nn.Module):
    """PA-VAE (or the naive VAE with num_parts=1) built from a VAEConfig.

    spatial_impl: how the block-diagonal attention is computed ('blocked' or 'masked'); the
    weights and results are the same, so it is not part of the config.
    """

    def __init__(self, cfg: VAEConfig, spatial_impl: str = SPATIAL_IMPL):
        super().__init__()
        self.cfg = cfg
        d, n = cfg.latent_dim, cfg.latent_tokens
        self.spatial = NaiveEncoder(cfg) if cfg.naive else SpatialEncoder(cfg, spatial_impl)
        self.dist_tokens = nn.Parameter(torch.randn(2 * n, d) * 0.02)  # n mu tokens, then n logvar tokens
        # Linear heads read mu and logvar off the encoder's (layer-normed) distribution tokens. Without
        # them logvar shares the final LayerNorm with mu: sigma starts near 1, as large as mu, and the
        # decoder learns to ignore z (measured: error 0.40 -> 0.30 after 300 steps with the heads).
        self.mu_head = nn.Linear(d, d)
        self.logvar_head = nn.Linear(d, d)
        nn.init.zeros_(self.logvar_head.weight)
        nn.init.constant_(self.logvar_head.bias, cfg.logvar_init)
        self.enc_pos = PositionalEmbedding(cfg.max_frames, d, cfg.positional)
        self.encoder = SkipTransformer(d, cfg.num_layers, cfg.num_heads, cfg.ff_dim, cfg.dropout, cfg.skip)
        self.latent_pos = nn.Parameter(torch.randn(n, d) * 0.02)  # identifies the latent tokens to the decoder
        self.dec_pos = PositionalEmbedding(cfg.max_frames, d, cfg.positional)
        self.decoder = SkipTransformer(d, cfg.num_layers, cfg.num_heads, cfg.ff_dim, cfg.dropout, cfg.skip,
                                       cross=True)
        self.head = nn.Linear(d, NUM_KEYPOINTS * cfg.channels)

    @classmethod
    def load(cls, checkpoint, device: str | torch.device = "cpu", spatial_impl: str = SPATIAL_IMPL) -> "PAVAE":
        """The model saved in a checkpoint folder (tenderlib.training), built from its own config, in eval mode."""

        cfg = checkpoints.read_config(checkpoint, VAEConfig)
        model = cls(cfg, spatial_impl).to(device)
        return checkpoints.load_weights(model, checkpoint, cfg).eval()

    # ---- input checks -----------------------------------------------------------------------

    def check_input(self, features: torch.Tensor, mask: torch.Tensor) -> None:
        """Raise ValueError naming the problem: shapes, clip length, NaN or infinite values."""
        C = self.cfg.channels
        if features.ndim != 4 or features.shape[2] != NUM_KEYPOINTS or features.shape[3] < C:
            raise ValueError(f"features must have shape (B, T, {NUM_KEYPOINTS}, >= {C}), got {tuple(features.shape)}")
        if mask.dtype != torch.bool or tuple(mask.shape) != tuple(features.shape[:2]):
            raise ValueError(f"mask must be bool {tuple(features.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
        if features.shape[1] > self.cfg.max_frames:
            raise ValueError(f"clip of {features.shape[1]} frames is longer than the positional table "
                             f"(VAEConfig.max_frames={self.cfg.max_frames}); crop it (MotionDataset max_frames) "
                             f"or build the model with a larger max_frames")
        bad = ~torch.isfinite(features).flatten(2).all(-1)  # (B, T)
        if bad.any():
            items = torch.nonzero(bad.any(1)).flatten().tolist()
            frame = int(torch.nonzero(bad[items[0]])[0])
            raise ValueError(f"features contain NaN or infinite values in batch item(s) {items[:10]} "
                             f"(first at item {items[0]}, frame {frame})")

    # ---- encode / decode --------------------------------------------------------------------

    def encode(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, T, K, >= C_in), mask (B, T) -> mu, logvar (B, n, d)."""
        self.check_input(features, mask)
        B, n = features.shape[0], self.cfg.latent_tokens
        x = self.spatial(features[..., :self.cfg.channels]).float()  # (B, T, d); fp32 residual stream under autocast
        x = self.enc_pos(x)
        tokens = torch.cat([self.dist_tokens.expand(B, -1, -1).to(x.dtype), x], dim=1)  # (B, 2n + T, d)
        keys = torch.cat([mask.new_ones(B, 2 * n), mask], dim=1)  # (B, 2n + T)
        h = self.encoder(tokens, keys)[:, :2 * n]  # (B, 2n, d)
        return self.mu_head(h[:, :n]), self.logvar_head(h[:, n:])

    def decode(self, z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """z (B, n, d), mask (B, T) -> features (B, T, K, C_out), zeros in padded frames."""
        B, T = mask.shape
        if T > self.cfg.max_frames:
            raise ValueError(f"cannot decode {T} frames: longer than the positional table "
                             f"(VAEConfig.max_frames={self.cfg.max_frames})")
        memory = z + self.latent_pos.to(z.dtype)  # (B, n, d)
        if self.cfg.decoder_queries == "latent":
            queries = self.dec_pos(spread_in_time(memory, mask))  # (B, T, d)
        else:
            queries = self.dec_pos(z.new_zeros(B, T, self.cfg.latent_dim))  # (B, T, d)
        h = self.decoder(queries, mask, context=memory)  # (B, T, d)
        out = rearrange(self.head(h), "b t (k c) -> b t k c", k=NUM_KEYPOINTS)  # (B, T, K, C_out)
        return out * mask[:, :, None, None]

    def forward(self, features: torch.Tensor, mask: torch.Tensor, sample: bool | None = None,
                generator: torch.Generator | None = None) -> VAEOutput:
        """Encode, draw z (sample=None: when training; else z = mu) and decode."""
        mu, logvar = self.encode(features, mask)
        sample = self.training if sample is None else sample
        if sample:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + torch.exp(0.5 * logvar) * eps
        else:
            z = mu
        return VAEOutput(self.decode(z, mask), mu, logvar, z)

    # ---- objective ----------------------------------------------------------------------------

    def loss(self, out: VAEOutput, features: torch.Tensor, mask: torch.Tensor) -> VAELosses:
        """The configured objective (module docstring of tenderlib.models.losses) for `out` against `features`."""
        cfg, pred = self.cfg, out.features
        zero = pred.new_zeros((), dtype=torch.float32)
        recon = reconstruction_loss(pred[..., :2], features, mask, cfg.recon_loss, weighted=cfg.conf_weighted)
        conf = (confidence_loss(pred[..., 2], features, mask, cfg.recon_loss, cfg.conf_supervise_unannotated)
                if cfg.cag else zero)
        vel = velocity_loss(pred[..., :2], features, mask, cfg.recon_loss) if cfg.velocity_weight > 0 else zero
        kl = kl_divergence(out.mu, out.logvar)
        total = recon + cfg.conf_weight * conf + cfg.velocity_weight * vel + cfg.kl_weight * kl
        return VAELosses(total, recon.detach(), conf.detach(), vel.detach(), kl.detach())

    def training_loss(self, batch) -> VAELosses:
        """One training objective on a tenderlib.data.dataset.Batch (the training loop's default loss_fn)."""
        out = self(batch.features, batch.mask)
        return self.loss(out, batch.features, batch.mask)
