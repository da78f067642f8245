"""Time corruptions: a clip's poses with its movement destroyed.

MoLIP's temporal hard negatives (tenderlib.models.molip) and the sanity rows beside Table 2
(tenderlib.evaluation.motion_sanity): a model that reads poses only scores a corrupted clip as
high as the real one.

    corrupt(features, mask, kind, generator)    kind in CORRUPTIONS
"""
from __future__ import annotations

import torch

CORRUPTIONS = ("shuffled", "reversed", "frozen", "first")


def corrupt(features: torch.Tensor, mask: torch.Tensor, kind: str,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """The clips' poses with their order in time destroyed; features (B, T, K, 3), mask (B, T) a
    prefix of real frames -> (B, T, K, 3), padding left as it was.

    shuffled: the real frames in a random order (drawn from `generator`); reversed: played
    backwards; frozen: every keypoint held at its mean position over the frames that annotate it
    (confidence: its mean there; 0 if none does); first: the first frame held.
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {kind!r}")
    if features.ndim != 4 or features.shape[-1] != 3 or tuple(mask.shape) != tuple(features.shape[:2]):
        raise ValueError(f"features (B, T, K, 3) and mask (B, T) expected, got {tuple(features.shape)} and "
                         f"{tuple(mask.shape)}")
    B, T = mask.shape
    lengths = mask.sum(1)  # (B,)
    if not torch.equal(mask, torch.arange(T, device=mask.device)[None, :] < lengths[:, None]):
        raise ValueError("mask must be a prefix of real frames in every clip")
    t = torch.arange(T, device=mask.device).expand(B, T)
    if kind == "shuffled":
        keys = torch.rand(B, T, generator=generator, device=features.device if generator is None else "cpu")
        keys = keys.to(mask.device).masked_fill(~mask, 2.0)  # padding sorts last and stays there
        order = keys.argsort(dim=1)  # (B, T)
    elif kind == "reversed":
        order = torch.where(mask, lengths[:, None] - 1 - t, t)
    elif kind == "first":
        order = torch.where(mask, torch.zeros_like(t), t)
    else:
        on = ((features[..., 2] != 0) & mask[:, :, None]).to(features.dtype)  # (B, T, K)
        n = on.sum(1).clamp_min(1)[:, None, :, None]  # (B, 1, K, 1)
        held = (features * on[..., None]).sum(1, keepdim=True) / n  # (B, 1, K, 3) mean xy and confidence
        return torch.where(mask[:, :, None, None], held.expand_as(features), features)
    return features.gather(1, order[:, :, None, None].expand_as(features))
