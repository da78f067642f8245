"""Losses of the PA-VAE (paper 4.2-4.3, Table 7) and the per-part reconstruction error.

Tensors follow tenderlib.data.dataset.Batch: features (B, T, K, 3) = normalised x, y and the raw
detector confidence; mask (B, T) bool, True = a real frame. A keypoint counts when its frame
is real and the source annotates it, i.e. its confidence is not exactly 0: keypoints that a
face-only or hand-only clip does not have contribute nothing, and neither does padding.

    reconstruction_loss(pred_xy, target, mask, kind, weighted)   coordinates; `weighted` is the
        paper's "confidence-weighted reconstruction" (each keypoint weighted by its confidence)
    confidence_loss(pred_conf, target, mask, kind, unannotated)  the CAG target
    velocity_loss(pred_xy, target, mask, kind)                   frame-to-frame displacements
    kl_divergence(mu, logvar)                                    KL(N(mu, sigma) || N(0, I))
    part_errors(pred_xy, target, mask, ...)                      mean L2 error per body part

Every loss is a masked mean: the sum over the counted elements divided by their number (or by
the sum of the weights), so it does not depend on padding or on how many keypoints a clip has.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from tenderlib.data.skeleton import part_ids, part_names

log = logging.getLogger(__name__)

LOSS_KINDS = ("smooth_l1", "l2", "l1")
XY, CONF = slice(0, 2), 2  # channels of the features: x, y, confidence


def _check_kind(kind: str) -> None:
    if kind not in LOSS_KINDS:
        raise ValueError(f"loss kind must be one of {LOSS_KINDS}, got {kind!r}")


def elementwise(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Unreduced loss of the given kind (SmoothL1 with beta 1, as MLD; squared; absolute)."""
    _check_kind(kind)
    if kind == "smooth_l1":
        return F.smooth_l1_loss(pred, target, reduction="none")
    if kind == "l2":
        return F.mse_loss(pred, target, reduction="none")
    return F.l1_loss(pred, target, reduction="none")


def _check(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, channels: int) -> None:
    if target.ndim != 4 or target.shape[-1] != 3:
        raise ValueError(f"target must be features (B, T, K, 3), got {tuple(target.shape)}")
    if tuple(pred.shape) != tuple(target.shape[:3]) + ((channels,) if channels else ()):
        want = tuple(target.shape[:3]) + ((channels,) if channels else ())
        raise ValueError(f"prediction must have shape {want} to match target, got {tuple(pred.shape)}")
    if tuple(mask.shape) != tuple(target.shape[:2]) or mask.dtype != torch.bool:
        raise ValueError(f"mask must be bool {tuple(target.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")


def annotated(target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, K) bool: real frame and keypoint annotated (confidence != 0)."""
    return mask[:, :, None] & (target[..., CONF] != 0)


def channel_weights(target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, K, 3) weights of a loss on all three channels (the baselines that model the features
    directly, MDM and T2M-GPT's VQ-VAE): real frames; x, y where the keypoint is annotated, the
    confidence everywhere (taught 0 where the clip has none)."""
    ann = annotated(target, mask)  # (B, T, K)
    return torch.stack([ann, ann, mask[:, :, None].expand_as(ann)], dim=-1).to(target.dtype)


def _masked_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum(values * weights) / sum(weights), 0 when nothing is counted. values (..., K[, C]), weights broadcastable."""
    total = weights.sum()
    return (values * weights).sum() / total.clamp_min(torch.finfo(values.dtype).tiny) * (total > 0)


def reconstruction_loss(pred_xy: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                        kind: str = "smooth_l1", weighted: bool = False) -> torch.Tensor:
    """Coordinate loss over annotated keypoints of real frames.

    pred_xy (B, T, K, 2); target (B, T, K, 3); mask (B, T).
    weighted=False: mean over counted (keypoint, coordinate) pairs.
    weighted=True:  each keypoint's error weighted by its confidence, divided by the sum of weights.
    """
    _check(pred_xy, target, mask, 2)
    err = elementwise(pred_xy.float(), target[..., XY].float(), kind).sum(-1)  # (B, T, K), over x and y
    w = annotated(target, mask).float()  # (B, T, K)
    if weighted:
        w = w * target[..., CONF].float()
    return _masked_mean(err, w) / 2  # per coordinate


def confidence_loss(pred_conf: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                    kind: str = "smooth_l1", unannotated: bool = False) -> torch.Tensor:
    """CAG: loss of the decoded confidence against the detector's, over real frames.

    pred_conf (B, T, K); target (B, T, K, 3); mask (B, T). unannotated=False counts annotated
    keypoints only (confidence != 0); True also teaches confidence 0 where the source has none.
    """
    _check(pred_conf, target, mask, 0)
    err = elementwise(pred_conf.float(), target[..., CONF].float(), kind)  # (B, T, K)
    w = (mask[:, :, None].expand_as(err) if unannotated else annotated(target, mask)).float()
    return _masked_mean(err, w)


def velocity_loss(pred_xy: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                  kind: str = "smooth_l1") -> torch.Tensor:
    """Loss on displacements x[t+1] - x[t], counted where the keypoint is annotated in both frames."""
    _check(pred_xy, target, mask, 2)
    ok = annotated(target, mask)  # (B, T, K)
    both = (ok[:, 1:] & ok[:, :-1]).float()  # (B, T-1, K)
    v_pred = pred_xy[:, 1:].float() - pred_xy[:, :-1].float()  # (B, T-1, K, 2)
    v_true = target[:, 1:, :, XY].float() - target[:, :-1, :, XY].float()
    return _masked_mean(elementwise(v_pred, v_true, kind).sum(-1), both) / 2


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean over all latent elements of KL(N(mu, exp(logvar)) || N(0, 1)), as MLD."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    mu, logvar = mu.float(), logvar.float()
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).mean()


# --------------------------------------------------------------------------------------------
# Per-part reconstruction error (an evaluation metric, not a training loss)


@dataclass
class PartErrors:
    """Sums and counts of per-keypoint L2 errors by part; add batches with `+`, read `mean`."""

    parts: tuple[str, ...]  # part names, e.g. ("body", "foot", "face", "hand")
    sum_norm: np.ndarray  # (P,) float64: sum of L2 errors in normalised units
    sum_pixels: np.ndarray  # (P,) float64: sum of L2 errors in pixels (0 without scales)
    count: np.ndarray  # (P,) int64: keypoint-frames counted

    def __add__(self, other: "PartErrors") -> "PartErrors":
        if self.parts != other.parts:
            raise ValueError(f"cannot add PartErrors over parts {self.parts} and {other.parts}")
        return PartErrors(self.parts, self.sum_norm + other.sum_norm, self.sum_pixels + other.sum_pixels,
                          self.count + other.count)

    @property
    def mean_norm(self) -> np.ndarray:
        """(P,) mean L2 error per part in normalised units (NaN where nothing was counted)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sum_norm / self.count

    @property
    def mean_pixels(self) -> np.ndarray:
        """(P,) mean L2 error per part in pixels (NaN where nothing was counted)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sum_pixels / self.count

    def as_dict(self) -> dict[str, float]:
        """{'<part>_norm': ..., '<part>_px': ...} for a table row."""
        out = {f"{p}_norm": float(v) for p, v in zip(self.parts, self.mean_norm)}
        out.update({f"{p}_px": float(v) for p, v in zip(self.parts, self.mean_pixels)})
        return out


def part_errors(pred_xy: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                scale: torch.Tensor | None = None, num_parts: int = 4,
                min_confidence: float = 0.0) -> PartErrors:
    """L2 distance between predicted and true keypoints, summed per part (tenderlib.data.skeleton grouping).

    pred_xy (B, T, K, 2); target (B, T, K, 3); mask (B, T); scale (B,) pixels per feature unit
    (Batch.scale) or None. Counts real frames whose keypoint confidence exceeds `min_confidence`
    (0: every annotated keypoint).
    """
    _check(pred_xy, target, mask, 2)
    dist = (pred_xy.detach().double() - target[..., XY].detach().double()).norm(dim=-1)  # (B, T, K)
    counted = mask[:, :, None] & (target[..., CONF] > min_confidence)  # (B, T, K)
    ids = torch.as_tensor(part_ids(num_parts), device=dist.device)  # (K,)
    onehot = F.one_hot(ids, num_parts).double()  # (K, P)
    w = counted.double()
    sum_norm = torch.einsum("btk,btk,kp->p", dist, w, onehot)
    if scale is None:
        sum_px = torch.zeros_like(sum_norm)
    else:
        sum_px = torch.einsum("btk,btk,b,kp->p", dist, w, scale.double(), onehot)
    count = torch.einsum("btk,kp->p", w, onehot)
    return PartErrors(part_names(num_parts), sum_norm.cpu().numpy(), sum_px.cpu().numpy(),
                      count.cpu().numpy().round().astype(np.int64))
