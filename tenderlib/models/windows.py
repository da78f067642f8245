"""Motions longer than the VAE's clips: overlapping windows, encoded apart, modelled together, blended.

    w = Windows(count=2, overlap=0.25)
    w.max_length(96)                              # 168: the longest motion over 96-frame VAE windows
    pieces, piece_lengths = w.cut(features, lengths, 96)  # (B, T, K, C) -> (B*W, 96, K, C), (B*W,)
    motion = w.blend(decoded, lengths, T)         # (B*W, 96, K, C) decoded pieces -> (B, T, K, C)

The PA-VAE learns clips of at most `max_frames` (96 at the default size, 3.2 s); the captions
describe clips of up to 12 s, and MoLIP reads 192 frames. A VAE over longer clips keeps less of
the movement (192 frames, 8 or 16 latent tokens: 0.68 of the body's within-clip spread and 0.46 of
its 15-frame displacement, against 0.87 / 0.85 at 96 frames; params/default/02_vae.yaml). So a
long motion is cut into `count` windows of equal length, each at most `max_frames`, each encoded by
the same VAE to its n latent tokens; the denoiser models the count x n tokens of a motion as one
latent (window by window, in time order), so the windows of a generated motion agree.

A motion of L frames gets windows of w = ceil(L / (count - (count - 1) * overlap)) frames at evenly
spaced integer starts from 0 to L - w: they cover every frame, and neighbours share about
`overlap` * w frames. Decoded windows are blended with linear cross-fades over what they share
(weights ramp from 0 to 1 across an overlap and sum to 1 on every frame): decoded apart, two
windows disagree at a hard seam by about their reconstruction error. Measured with the default
PA-VAE on 400 test clips (168-frame centre crops, the median over clips of the largest
frame-to-frame step of body and feet as a multiple of the median step): 9.0 with hard seams
(overlap 0), 3.0 with an overlap of 0.25, the truth's own 3.0.
count = 1 is the plain VAE: one window of the whole motion, decoded as it is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from tenderlib.checks import MAX_TOKENS, int_in


@dataclass(frozen=True)
class Windows:
    """How a motion is cut for the VAE: `count` windows sharing `overlap` of a window with each neighbour."""

    count: int = 1  # windows a motion is cut into (1: the VAE's clip itself)
    overlap: float = 0.25  # share of a window that neighbours cross-fade over, in [0, 1)

    def __post_init__(self):
        if not int_in(self.count, 1, MAX_TOKENS):
            raise ValueError(f"windows must be an int in [1, {MAX_TOKENS}], got {self.count!r}")
        if not (isinstance(self.overlap, (int, float)) and not isinstance(self.overlap, bool)
                and 0 <= self.overlap < 1):
            raise ValueError(f"window_overlap must be a number in [0, 1), got {self.overlap!r}")

    @property
    def span(self) -> float:
        """Length of a motion in windows: count - (count - 1) * overlap."""
        return self.count - (self.count - 1) * self.overlap

    def max_length(self, frames: int) -> int:
        """The longest motion whose windows are at most `frames` long."""
        return frames if self.count == 1 else int(math.floor(frames * self.span + 1e-9))

    def plan(self, lengths) -> tuple[torch.Tensor, torch.Tensor]:
        """lengths (B,) frames -> (window length (B,), starts (B, count)), both int64."""
        lengths = torch.as_tensor(lengths, dtype=torch.int64).reshape(-1)
        if lengths.numel() and int(lengths.min()) < 1:
            raise ValueError(f"lengths must be >= 1 frame, got {lengths.tolist()[:5]}")
        if self.count == 1:
            return lengths.clone(), torch.zeros(lengths.shape[0], 1, dtype=torch.int64)
        size = torch.ceil(lengths.double() / self.span - 1e-9).to(torch.int64).clamp(1)  # (B,)
        size = torch.minimum(size, lengths)
        steps = torch.linspace(0, 1, self.count, dtype=torch.float64)  # (W,)
        starts = torch.round((lengths - size).double()[:, None] * steps[None, :]).to(torch.int64)  # (B, W)
        return size, starts

    def weights(self, lengths, frames: int) -> torch.Tensor:
        """(B, count, frames) float32 blend weights: window k's share of each frame (0 outside it and
        after the motion's length; on every frame of the motion they sum to 1)."""
        size, starts = self.plan(lengths)  # (B,), (B, W)
        t = torch.arange(frames, dtype=torch.float64)  # (T,)
        local = t[None, None, :] - starts[:, :, None].double()  # (B, W, T): frame within window k
        w = size.double()[:, None, None]  # (B, 1, 1)
        inside = (local >= 0) & (local < w)
        ramp = torch.ones_like(local)
        if self.count > 1:  # overlaps with the previous and the next window (0 at the ends of the motion)
            shared = (starts[:, :-1] + size[:, None] - starts[:, 1:]).clamp(min=0)  # (B, W-1): frames k and k+1 share
            none = torch.zeros_like(starts[:, :1])
            before, after = torch.cat([none, shared], 1), torch.cat([shared, none], 1)
            before, after = before.double()[:, :, None], after.double()[:, :, None]  # (B, W, 1)
            up = torch.where(local < before, (local + 0.5) / before.clamp(min=1), 1.0)
            down = torch.where(local >= w - after, (w - local - 0.5) / after.clamp(min=1), 1.0)
            ramp = torch.minimum(up, down)
        ramp = ramp * inside
        total = ramp.sum(1, keepdim=True)  # (B, 1, T)
        return (ramp / total.clamp(min=1e-12)).float()

    def cut(self, features: torch.Tensor, lengths, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """features (B, T, ...) motions of `lengths` -> (pieces (B*count, frames, ...), their lengths (B*count,)),
        window k of motion b at row b * count + k, zero after its length."""
        size, starts = self.plan(lengths)  # (B,), (B, W)
        if int(size.max()) > frames:
            raise ValueError(f"a motion of {int(torch.as_tensor(lengths).max())} frames needs windows of "
                             f"{int(size.max())} frames, longer than the VAE's {frames} (at most "
                             f"{self.max_length(frames)} frames with {self.count} windows)")
        B, T = features.shape[:2]
        size, starts = size.to(features.device), starts.to(features.device)
        u = torch.arange(frames, device=features.device)  # (F,)
        index = (starts[:, :, None] + u[None, None, :]).clamp(max=T - 1)  # (B, W, F): source frame
        flat = features.reshape(B, T, -1)  # (B, T, D)
        gathered = flat.gather(1, index.reshape(B, -1)[..., None].expand(-1, -1, flat.shape[-1]))  # (B, W*F, D)
        keep = (u[None, :] < size[:, None]).to(features.dtype)  # (B, F)
        pieces = gathered.reshape(B, self.count, frames, -1) * keep[:, None, :, None]  # (B, W, F, D)
        return (pieces.reshape(B * self.count, frames, *features.shape[2:]),
                size.repeat_interleave(self.count))

    def blend(self, pieces: torch.Tensor, lengths, frames: int) -> torch.Tensor:
        """pieces (B*count, F, ...) decoded windows (rows as `cut` makes them) -> (B, frames, ...) the
        motions, cross-faded where windows overlap, zero after each length."""
        _, starts = self.plan(lengths)  # (B, W)
        B, W = starts.shape
        F = pieces.shape[1]
        flat = pieces.reshape(B, W, F, -1)  # (B, W, F, D)
        starts = starts.to(pieces.device)
        t = torch.arange(frames, device=pieces.device)  # (T,)
        index = (t[None, None, :] - starts[:, :, None]).clamp(0, F - 1)  # (B, W, T): frame within window k
        gathered = flat.gather(2, index[..., None].expand(-1, -1, -1, flat.shape[-1]))  # (B, W, T, D)
        weight = self.weights(lengths, frames).to(pieces.device, pieces.dtype)  # (B, W, T)
        out = (gathered * weight[..., None]).sum(1)  # (B, T, D)
        return out.reshape(B, frames, *pieces.shape[2:])
