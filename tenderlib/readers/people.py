"""The main person of a clip with several people per frame: one track over the clip.

Candidates per frame (`Frames`) are capped to the most salient people (`cap_people`, within
`Limits`), linked into tracks (track ids when every instance has one, else greedy IoU linking of
boxes, given or the extent of the scored keypoints), and the track with the largest sum over frames
of mean score x sqrt(box area) wins (`select_main_person`); frames without it get confidence 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tenderlib.readers.files import Limits
from tenderlib.readers.report import ReaderError


@dataclass
class Frames:
    """Candidates per frame: kp (P, K, 2), score (P, K), box (P, 4) xyxy or NaN, track (P,) or -1."""

    kp: list[np.ndarray]
    score: list[np.ndarray]
    box: list[np.ndarray]
    track: list[np.ndarray]


def _pad(frames: Frames, K: int):
    """Candidates padded to P = most people in a frame: kp (T, P, K, 2), score (T, P, K) (0 where
    nobody), box (T, P, 4) (NaN where not given), track (T, P) (-1), valid (T, P)."""
    T, P = len(frames.kp), max(k.shape[0] for k in frames.kp)
    n = np.array([k.shape[0] for k in frames.kp])
    valid = np.arange(P)[None, :] < n[:, None]  # (T, P)
    kp, sc = np.zeros((T, P, K, 2)), np.zeros((T, P, K))
    box, track = np.full((T, P, 4), np.nan), np.full((T, P), -1, np.int64)
    rows = [t for t in range(T) if n[t]]
    if rows:
        kp[valid] = np.concatenate([frames.kp[t] for t in rows])
        sc[valid] = np.concatenate([frames.score[t] for t in rows])
        box[valid] = np.concatenate([frames.box[t] for t in rows])
        track[valid] = np.concatenate([frames.track[t] for t in rows])
    return kp, sc, box, track, valid


def _boxes(kp: np.ndarray, sc: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(..., 4) xyxy: the given box, else the extent of the finite, scored keypoints (0 if none)."""
    ok = (np.nan_to_num(sc) > 0) & np.isfinite(kp).all(-1)  # (..., K)
    x, y = kp[..., 0], kp[..., 1]
    lo = [np.min(v, axis=-1, where=ok, initial=np.inf) for v in (x, y)]
    hi = [np.max(v, axis=-1, where=ok, initial=-np.inf) for v in (x, y)]
    ext = np.stack(lo + hi, axis=-1)  # (..., 4)
    ext = np.where(ok.any(-1, keepdims=True), ext, 0.0)
    return np.where(np.isfinite(box).all(-1, keepdims=True), box, ext)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) xyxy -> (N, M) IoU."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = lambda z: np.prod(np.clip(z[:, 2:] - z[:, :2], 0, None), axis=-1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _link(boxes: np.ndarray, valid: np.ndarray, iou_link: float) -> np.ndarray:
    """Greedy IoU linking of each box to the last box of a track -> track ids (T, P), -1 where nobody."""
    T, P = valid.shape
    ids = np.full((T, P), -1, np.int64)
    last = np.zeros((0, 4))  # last box of each track so far
    for t in range(T):  # tracking is sequential; each step is a (P, tracks) IoU
        people = np.flatnonzero(valid[t])
        if last.shape[0] and people.size:
            iou = _iou(boxes[t, people], last)  # (p, M)
            taken = set()
            for flat in np.argsort(-iou, axis=None):
                i, m = divmod(int(flat), iou.shape[1])
                if iou[i, m] < iou_link:
                    break
                if ids[t, people[i]] < 0 and m not in taken:
                    ids[t, people[i]] = m
                    taken.add(m)
        for p in people:
            if ids[t, p] < 0:  # a new track
                ids[t, p] = last.shape[0]
                last = np.concatenate([last, boxes[t, p][None]])
            else:
                last[ids[t, p]] = boxes[t, p]
    return ids


def _salience(kp: np.ndarray, sc: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(..., K, 2), (..., K), (..., 4) -> (...): mean score x sqrt(box area), 0 where not finite."""
    boxes = _boxes(kp, sc, box)
    area = np.prod(np.clip(boxes[..., 2:] - boxes[..., :2], 0, None), axis=-1)
    s = np.clip(np.nan_to_num(sc), 0, None).mean(-1) * np.sqrt(area)
    return np.where(np.isfinite(s), s, 0.0)


def cap_people(frames: Frames, limits: Limits) -> list[str]:
    """Keep at most limits.max_people people per frame, and fewer when frames x people would pass
    limits.max_person_frames: the most salient ones (in place). Returns a note when people were cut."""
    T = len(frames.kp)
    cap = max(1, min(limits.max_people, limits.max_person_frames // max(T, 1)))
    cut = 0
    for t in range(T):
        n = frames.kp[t].shape[0]
        if n > cap:
            keep = np.sort(np.argsort(-_salience(frames.kp[t], frames.score[t], frames.box[t]), kind="stable")[:cap])
            frames.kp[t], frames.score[t] = frames.kp[t][keep], frames.score[t][keep]
            frames.box[t], frames.track[t] = frames.box[t][keep], frames.track[t][keep]
            cut += n - cap
    return [f"{cut} people beyond the {cap} most salient of their frame left out"] if cut else []


def select_main_person(frames: Frames, iou_link: float = 0.3, what: str = "clip"):
    """Candidates per frame -> (kp (T, K, 2), score (T, K), present (T,) bool) of one track."""
    T = len(frames.kp)
    ks = {k.shape[1] for k in frames.kp if k.shape[0]}
    if not ks:
        raise ReaderError(f"{what}: no person in any of its {T} frames", "empty")
    if len(ks) > 1:
        raise ReaderError(f"{what}: frames disagree on the keypoint count: {sorted(ks)}", "keypoint-count")
    kp, sc, box, track, valid = _pad(frames, ks.pop())  # (T, P, K, 2), (T, P, K), (T, P, 4), (T, P), (T, P)
    boxes = _boxes(kp, sc, box)  # (T, P, 4)
    salience = np.where(valid, _salience(kp, sc, boxes), 0.0)  # (T, P)
    if valid.shape[1] == 1:  # one person at most per frame: one track
        ids = np.where(valid, 0, -1)
    elif (track[valid] >= 0).all():
        ids = np.where(valid, track, -1)
    else:
        ids = _link(boxes, valid, iou_link)
    keys, inverse = np.unique(ids[valid], return_inverse=True)
    totals = np.bincount(inverse, weights=salience[valid])
    main = keys[int(np.argmax(totals))]  # the first (smallest id) among equals
    hit = (ids == main) & valid  # (T, P), at most one per frame
    present = hit.any(axis=1)
    col = np.argmax(hit, axis=1)  # (T,)
    t = np.arange(T)
    keep = present[:, None]
    return np.where(keep[..., None], kp[t, col], 0.0), np.where(keep, sc[t, col], 0.0), present
