"""Transformer building blocks shared by the models: attention, blocks, the long-skip transformer.

The PA-VAE (tenderlib.models.vae), the latent denoiser and MoLIP are built from these pieces.

    PositionalEmbedding(max_len, dim, kind)   adds a fixed (sinusoidal) or learned position
                                              vector; a sequence longer than the table raises
    attention(q, k, v, mask)                  torch's scaled_dot_product_attention, in fp32 under
                                              CPU autocast (tenderlib.precision)
    Attention(dim, heads, dropout)            multi-head self- or cross-attention with a key
                                              padding mask
    TransformerBlock(..., cross=False)        pre-norm block: self-attention [+ cross-attention] + FFN
    SkipTransformer(dim, depth, ..., skip)    `depth` blocks with U-Net-like long skip connections
                                              (Bao et al., U-ViT; MLD's SkipTransformerEncoder)

The long skip scheme (MLD): depth // 2 input blocks, one middle block when depth is odd,
depth // 2 output blocks; output block i first concatenates the output of the mirrored input
block and projects 2 * dim -> dim. With skip=False the same blocks run as a plain stack. A final
LayerNorm closes the stack either way (blocks are pre-norm, so the residual stream needs it).

Masks follow one convention everywhere: bool, True = a real token, False = padding.
"""
from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

log = logging.getLogger(__name__)

POSITIONAL_KINDS = ("sinusoidal", "learned")


def sinusoidal_table(max_len: int, dim: int) -> torch.Tensor:
    """(max_len, dim) float32 table of Vaswani et al.: sin on even channels, cos on odd ones."""
    if dim % 2:
        raise ValueError(f"dim must be even for a sinusoidal table, got {dim}")
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]  # (L, 1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))  # (D/2,)
    table = torch.zeros(max_len, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)
    return table.float()


class PositionalEmbedding(nn.Module):
    """x + table[offset : offset + S] for x (B, S, D); the table holds `max_len` positions."""

    def __init__(self, max_len: int, dim: int, kind: str = "sinusoidal"):
        super().__init__()
        if kind not in POSITIONAL_KINDS:
            raise ValueError(f"positional kind must be one of {POSITIONAL_KINDS}, got {kind!r}")
        if not (isinstance(max_len, int) and max_len >= 1):
            raise ValueError(f"max_len must be an int >= 1, got {max_len!r}")
        self.max_len, self.kind = max_len, kind
        if kind == "learned":
            self.table = nn.Parameter(torch.randn(max_len, dim) * 0.02)  # (L, D)
        else:
            self.register_buffer("table", sinusoidal_table(max_len, dim), persistent=False)  # (L, D)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        S = x.shape[1]
        if offset + S > self.max_len:
            raise ValueError(f"sequence of {S} tokens (from position {offset}) is longer than the "
                             f"positional table (max_len={self.max_len})")
        return x + self.table[offset:offset + S].to(x.dtype)  # (B, S, D)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
              dropout_p: float = 0.0) -> torch.Tensor:
    """scaled_dot_product_attention of q (..., S, c), k and v (..., M, c); mask bool (True = attend),
    broadcastable to (..., S, M). Under CPU autocast it runs in fp32 (tenderlib.precision) and
    returns the autocast dtype: torch's bf16 CPU attention backward is far slower than fp32's."""
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        dtype = torch.get_autocast_dtype("cpu")
        with torch.autocast("cpu", enabled=False):
            y = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask, dropout_p=dropout_p)
        return y.to(dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)


class Attention(nn.Module):
    """Multi-head attention. Self-attention when `context` is None, else cross-attention to it."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, context_dim: int | None = None):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads, self.dropout = heads, dropout
        self.to_q = nn.Linear(dim, dim)
        self.to_kv = nn.Linear(context_dim or dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, S, D); context (B, M, Dc) or None; key_mask bool, True = attend: (B, M) per key, or
        (B, S, M) per query and key (e.g. causal and padding, tenderlib.models.t2m_gpt)."""
        context = x if context is None else context
        q = rearrange(self.to_q(x), "b s (h c) -> b h s c", h=self.heads)
        k, v = rearrange(self.to_kv(context), "b m (two h c) -> two b h m c", two=2, h=self.heads)
        if key_mask is None:
            mask = None
        else:
            mask = key_mask[:, None, None, :] if key_mask.ndim == 2 else key_mask[:, None]  # (B, 1, 1 | S, M)
        y = attention(q, k, v, mask, self.dropout if self.training else 0.0)  # (B, h, S, c)
        return self.out(rearrange(y, "b h s c -> b s (h c)"))  # (B, S, D)


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))


class TransformerBlock(nn.Module):
    """Pre-norm block: x + SelfAttn(LN x) [+ CrossAttn(LN x, context)] + FFN(LN x)."""

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float = 0.1, cross: bool = False):
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = Attention(dim, heads, dropout)
        self.cross = cross
        if cross:
            self.norm_cross = nn.LayerNorm(dim)
            self.cross_attn = Attention(dim, heads, dropout)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, ff_dim, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, S, D), mask (B, S); context (B, M, D), context_mask (B, M) -> (B, S, D)."""
        x = x + self.drop(self.self_attn(self.norm_self(x), key_mask=mask))
        if self.cross:
            if context is None:
                raise ValueError("a cross-attention block needs a context")
            x = x + self.drop(self.cross_attn(self.norm_cross(x), context, key_mask=context_mask))
        return x + self.drop(self.ff(self.norm_ff(x)))


class SkipTransformer(nn.Module):
    """`depth` TransformerBlocks with long skip connections (module docstring) and a final LayerNorm.

    dim: token width; heads: attention heads; ff_dim: hidden width of the FFN;
    skip: long skip connections on (True) or a plain stack (False);
    cross: blocks also cross-attend to a context (a decoder).
    """

    def __init__(self, dim: int, depth: int, heads: int, ff_dim: int, dropout: float = 0.1,
                 skip: bool = True, cross: bool = False):
        super().__init__()
        if not (isinstance(depth, int) and depth >= 1):
            raise ValueError(f"depth must be an int >= 1, got {depth!r}")
        self.depth, self.skip = depth, skip
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, ff_dim, dropout, cross) for _ in range(depth))
        n_skip = depth // 2 if skip else 0
        self.skip_proj = nn.ModuleList(nn.Linear(2 * dim, dim) for _ in range(n_skip))  # output blocks' 2D -> D
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, S, D), mask (B, S) True = real; context (B, M, D) for cross blocks -> (B, S, D)."""
        kw = dict(mask=mask, context=context, context_mask=context_mask)
        if not self.skip:
            for block in self.blocks:
                x = block(x, **kw)
            return self.norm(x)
        half = self.depth // 2
        saved = []
        for block in self.blocks[:half]:  # input blocks
            x = block(x, **kw)
            saved.append(x)
        for block in self.blocks[half:self.depth - half]:  # the middle block (odd depth only)
            x = block(x, **kw)
        for block, proj in zip(self.blocks[self.depth - half:], self.skip_proj):  # output blocks
            x = proj(torch.cat([x, saved.pop()], dim=-1))  # (B, S, 2D) -> (B, S, D)
            x = block(x, **kw)
        return self.norm(x)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
