"""How much a motion moves, per body part: reconstructions against their truth, generations against
the real clips of the same captions.

A pose error says nothing about movement: a model that holds each clip's mean pose scores well
on it and does not move at all. These measures read the movement only. All work on clips in
normalised units (tenderlib.data.normalize): xy (T, K, 2) and a bool `valid` (T, K) = real frame and
keypoint confidently annotated; a part counts in a clip where it is valid.

    std               within-clip spread: RMS over valid (frame, keypoint) of the distance of a
                      keypoint from its own mean position over the clip
    displacement      mean distance a keypoint travels in k frames, |x[t + k] - x[t]|, over pairs
                      valid in both frames; k = DISPLACEMENT_FRAMES at 30 fps, scaled by the fps
    correlation       (reconstructions) cosine of the deviations from the clip means of the
                      prediction and the truth, pooled over clips: 1 = the same movement
    movement_error    (reconstructions) mean distance between the deviations of prediction and
                      truth from their clip means: the movement error with the pose taken out
    pose_error        mean distance between prediction and truth (what part_errors reports)

`reconstruction_movement` compares predictions with their truth clip by clip and prints two
baselines beside: the clip mean pose held (no movement; its movement error is the truth's own
spread) and the first frame held (its pose error is what standing still costs).
`generation_movement` compares generated clips with the real clips of the same captions, part by
part, and the spread of several samples of one caption with the spread of real clips sharing one.
Ratios are of sums pooled over clips (a ratio of means, not a mean of ratios, so clips that barely
move do not dominate).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from tenderlib.data.skeleton import part_indices, part_names

DISPLACEMENT_FRAMES = 15  # k at 30 fps: half a second
MIN_CONFIDENCE = 0.3  # a keypoint counts where its confidence exceeds this (the paper's quality threshold)
PARTS = part_names(4)  # body, foot, face, hand


@dataclass
class Clip:
    """One motion in normalised units."""

    xy: np.ndarray  # (T, K, 2) float
    valid: np.ndarray  # (T, K) bool: real frame and keypoint confidently annotated
    fps: float = 30.0

    def __post_init__(self):
        self.xy = np.asarray(self.xy, dtype=np.float64)
        self.valid = np.asarray(self.valid, dtype=bool)
        if self.xy.ndim != 3 or self.xy.shape[-1] != 2:
            raise ValueError(f"xy must have shape (T, K, 2), got {self.xy.shape}")
        if self.valid.shape != self.xy.shape[:2]:
            raise ValueError(f"valid must have shape {self.xy.shape[:2]} to match xy, got {self.valid.shape}")
        if not np.isfinite(self.xy[self.valid]).all():
            raise ValueError("xy holds NaN or infinite values at valid keypoints")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be a positive number, got {self.fps!r}")


def lag(fps: float, frames_at_30: int = DISPLACEMENT_FRAMES) -> int:
    """The displacement lag in frames at `fps`: frames_at_30 at 30 fps, at least 1."""
    return max(1, int(round(frames_at_30 * fps / 30.0)))


def _clip_means(xy: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(K, 2) mean position of each keypoint over its valid frames (0 where never valid)."""
    n = valid.sum(0)  # (K,)
    return (xy * valid[..., None]).sum(0) / np.maximum(n, 1)[:, None]


def _part_sums(clip: Clip, k: int, index: np.ndarray) -> np.ndarray:
    """(4,) sums over one part: squared deviation, its count, displacement, its count."""
    xy, valid = clip.xy[:, index], clip.valid[:, index]
    dev = (xy - _clip_means(xy, valid)) * valid[..., None]
    out = np.zeros(4)
    out[0], out[1] = np.square(dev).sum(), valid.sum()
    if xy.shape[0] > k:
        both = valid[k:] & valid[:-k]
        out[2] = (np.linalg.norm(xy[k:] - xy[:-k], axis=-1) * both).sum()
        out[3] = both.sum()
    return out


@dataclass
class PartMovement:
    """Spread and displacement of a set of clips per part (sums, so sets add up)."""

    sums: np.ndarray  # (P, 4): squared deviation, count, displacement, count

    @classmethod
    def of(cls, clips: Sequence[Clip], frames_at_30: int = DISPLACEMENT_FRAMES) -> "PartMovement":
        sums = np.zeros((len(PARTS), 4))
        for clip in clips:
            k = lag(clip.fps, frames_at_30)
            for p, index in enumerate(part_indices(4)):
                sums[p] += _part_sums(clip, k, index)
        return cls(sums)

    @property
    def std(self) -> np.ndarray:
        """(P,) RMS distance from the clip mean position (NaN where a part never counts)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(self.sums[:, 0] / self.sums[:, 1])

    @property
    def displacement(self) -> np.ndarray:
        """(P,) mean distance travelled in the lag (NaN where no pair counts)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sums[:, 2] / self.sums[:, 3]


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def reconstruction_movement(preds: Sequence[Clip], truths: Sequence[Clip],
                            frames_at_30: int = DISPLACEMENT_FRAMES) -> dict[str, dict[str, float]]:
    """Per part, predictions against their truths (the same clips, in order), counted where the
    truth is valid. Rows: 'model', 'mean pose held', 'first frame held'; columns:
    std_ratio, disp_ratio, correlation, movement_error, pose_error (normalised units)."""
    if len(preds) != len(truths):
        raise ValueError(f"{len(preds)} predictions for {len(truths)} truths")
    if not truths:
        raise ValueError("no clips to compare")
    P = len(PARTS)
    acc = {name: np.zeros((P, 4)) for name in ("model", "mean pose held", "first frame held")}
    # per part: sum dev_p . dev_t, sum |dev_p|^2, sum |dev_t|^2, movement error, pose error, count
    cor = {name: np.zeros((P, 6)) for name in acc}
    for pred, truth in zip(preds, truths):
        if pred.xy.shape != truth.xy.shape:
            raise ValueError(f"prediction {pred.xy.shape} and truth {truth.xy.shape} differ in shape")
        valid = truth.valid
        mean = _clip_means(truth.xy, valid)
        first = np.argmax(valid, axis=0)  # (K,) first valid frame of each keypoint
        held = {"model": pred.xy, "mean pose held": np.broadcast_to(mean, truth.xy.shape),
                "first frame held": np.broadcast_to(truth.xy[first, np.arange(truth.xy.shape[1])], truth.xy.shape)}
        k = lag(truth.fps, frames_at_30)
        for name, xy in held.items():
            as_clip = Clip(xy, valid, truth.fps)
            for p, index in enumerate(part_indices(4)):
                acc[name][p] += _part_sums(as_clip, k, index)
                v = valid[:, index]
                if not v.any():
                    continue
                dp = (xy[:, index] - _clip_means(xy[:, index], v)) * v[..., None]
                dt = (truth.xy[:, index] - mean[index]) * v[..., None]
                cor[name][p] += [(dp * dt).sum(), np.square(dp).sum(), np.square(dt).sum(),
                                 (np.linalg.norm(dp - dt, axis=-1) * v).sum(),
                                 (np.linalg.norm(xy[:, index] - truth.xy[:, index], axis=-1) * v).sum(), v.sum()]
    truth_moves = PartMovement.of(truths, frames_at_30)
    table = {}
    for name in acc:
        m, c = PartMovement(acc[name]), cor[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = c[:, 0] / np.sqrt(c[:, 1] * c[:, 2])
        row = {}
        for p, part in enumerate(PARTS):
            row.update({f"{part}_std_ratio": float(_ratio(m.std, truth_moves.std)[p]),
                        f"{part}_disp_ratio": float(_ratio(m.displacement, truth_moves.displacement)[p]),
                        f"{part}_correlation": float(np.nan_to_num(corr[p], nan=0.0)) if c[p, 5] else float("nan"),
                        f"{part}_movement_error": float(_ratio(c[p, 3], c[p, 5])),
                        f"{part}_pose_error": float(_ratio(c[p, 4], c[p, 5]))})
        table[name] = row
    return table


def caption_spread(clips: Sequence[Clip], groups: Sequence[str], max_pairs: int = 20,
                   seed: int = 0) -> np.ndarray:
    """(P,) mean distance between two clips of the same group (caption), frame by frame over the
    frames both have and keypoints valid in both, in normalised units; up to `max_pairs` pairs a
    group, drawn with `seed`. NaN for a part no pair covers."""
    if len(clips) != len(groups):
        raise ValueError(f"{len(clips)} clips for {len(groups)} group labels")
    members = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    rng = np.random.default_rng(seed)
    sums = np.zeros((len(PARTS), 2))
    for g in sorted(members):
        idx = members[g]
        pairs = [(a, b) for j, a in enumerate(idx) for b in idx[j + 1:]]
        if len(pairs) > max_pairs:
            pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), max_pairs, replace=False))]
        for a, b in pairs:
            T = min(clips[a].xy.shape[0], clips[b].xy.shape[0])
            both = clips[a].valid[:T] & clips[b].valid[:T]
            dist = np.linalg.norm(clips[a].xy[:T] - clips[b].xy[:T], axis=-1) * both  # (T, K)
            for p, index in enumerate(part_indices(4)):
                sums[p] += [dist[:, index].sum(), both[:, index].sum()]
    return _ratio(sums[:, 0], sums[:, 1])


def _keep(clips: Sequence[Clip], captions: Sequence[str], wanted: set) -> tuple[list[Clip], list[str]]:
    pairs = [(c, g) for c, g in zip(clips, captions) if g in wanted]
    return [c for c, _ in pairs], [g for _, g in pairs]


def generation_movement(generated: Sequence[Clip], generated_captions: Sequence[str],
                        real: Sequence[Clip], real_captions: Sequence[str],
                        samples: Sequence[Clip] | None = None, sample_captions: Sequence[str] | None = None,
                        frames_at_30: int = DISPLACEMENT_FRAMES) -> dict[str, dict[str, float]]:
    """Generated motions against the real clips of the same captions, per part.

    Rows 'generated' and 'real', columns <part>_std, <part>_disp, <part>_spread (mean distance
    between two clips of one caption), and a row 'ratio' = generated / real. Only captions present
    on both sides count, so both sides describe the same actions. `samples` (several generations of
    each of `sample_captions`), when given, are what the generated spread is read from, against the
    real clips of those captions; else both spreads come from the clips above.
    """
    shared = set(generated_captions) & set(real_captions)
    if not shared:
        raise ValueError("no caption is shared by the generated and the real clips")
    gen, rea = _keep(generated, generated_captions, shared), _keep(real, real_captions, shared)
    if samples is None:
        spreads = {"generated": gen, "real": rea}
    else:
        if sample_captions is None or len(sample_captions) != len(samples):
            raise ValueError("samples need one caption each (sample_captions)")
        wanted = set(sample_captions) & set(real_captions)
        if not wanted:
            raise ValueError("no caption is shared by the samples and the real clips")
        spreads = {"generated": _keep(samples, sample_captions, wanted), "real": _keep(real, real_captions, wanted)}
    rows = {}
    for name, (clips, _) in (("generated", gen), ("real", rea)):
        m = PartMovement.of(clips, frames_at_30)
        spread = caption_spread(*spreads[name])
        rows[name] = {f"{part}_{col}": float(v[p]) for p, part in enumerate(PARTS)
                      for col, v in (("std", m.std), ("disp", m.displacement), ("spread", spread))}
    rows["ratio"] = {key: float(_ratio(np.float64(rows["generated"][key]), np.float64(rows["real"][key])))
                     for key in rows["generated"]}
    return rows


def clips_from_features(features, mask, fps=None, min_confidence: float = MIN_CONFIDENCE) -> list[Clip]:
    """Clips from model features (B, T, K, >= 3) and a frame mask (B, T): valid = real frame and
    confidence above min_confidence. fps: one value or one per clip (default 30)."""
    features, mask = np.asarray(features, dtype=np.float64), np.asarray(mask, dtype=bool)
    if features.ndim != 4 or features.shape[-1] < 3 or mask.shape != features.shape[:2]:
        raise ValueError(f"features (B, T, K, >= 3) and mask (B, T) expected, got {features.shape} and {mask.shape}")
    fps = np.broadcast_to(np.asarray(30.0 if fps is None else fps, dtype=np.float64), (features.shape[0],))
    clips = []
    for b in range(features.shape[0]):
        T = int(mask[b].sum())
        if not mask[b, :T].all():
            raise ValueError(f"clip {b}: the mask must be a prefix of real frames")
        clips.append(Clip(features[b, :T, :, :2], features[b, :T, :, 2] > min_confidence, float(fps[b])))
    return clips
