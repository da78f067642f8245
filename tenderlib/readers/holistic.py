"""The Holistic-Motion2D release: kpfiles/<source>/<clip>.pkl + texts/<source>/<clip>.txt -> Motions.

The release's pkl schema is not documented publicly, so this reader accepts the layouts a
release built with RTMPose/MMPose plausibly has, and rejects anything else with a reason that
names the file and what was found:

    array   (T, K, 3) x, y, score; also (K, 3) (one frame) and (T, P, K, 3) (P people)
    dict    'keypoints' (T, K, 2) | (T, 1, K, 2) | (T, P, K, 2) with 'keypoint_scores' (T, K) |
            (T, 1, K) | (T, P, K) (or keypoints with a third score channel); optional 'bboxes'
            (T, P, 4) xyxy, 'bbox_scores', 'track_ids', 'fps', 'width'/'height', 'image_size'
            (w, h), 'img_shape'/'ori_shape' (h, w) as mmpose writes them
    list    per-frame results, several people each: a frame is a list of instances, a dict
            {'frame_id', 'instances': [...]} (mmpose's inferencer), or a dict of arrays
            'keypoints' (P, K, 2) + 'keypoint_scores' (P, K) (+ 'bboxes', 'track_ids'); an instance
            is a dict {'keypoints', 'keypoint_scores', 'bbox', 'bbox_score', 'track_id'}

K is 133 (whole body), 68 (face only), 42 (two hands, left then right) or 21 (one hand; its side
from 'hand_side' in the file, else `HolisticConfig.single_hand`). Partial clips are placed at
their global indices (tenderlib.data.skeleton.REGIONS) with keypoints 0 and confidence 0 elsewhere,
the data contract. Other counts are rejected (17 COCO body, 26 Halpe, a transposed (T, 3, 133)).

Several people (tenderlib.readers.people): the main person is one track over the clip. Track ids are used when every
instance has one; otherwise boxes (given, or the extent of the scored keypoints) are linked frame
to frame by IoU. The track with the largest sum over frames of mean score x sqrt(box area) wins;
frames without it get confidence 0, and leading/trailing frames without it are cut.

Decisions on bad values: NaN/inf keypoints, and keypoints beyond 100,000 px or scores beyond 1e6
(broken values, not poses), are masked (keypoints 0, confidence 0, noted in the report;
`nonfinite='reject'` rejects the clip instead); frames are never dropped. Negative scores
become 0. A clip with no keypoint scored above 0, or with no frames, is rejected. An fps outside
[1, 1000] or an image side outside 1 to 100,000 px in the file rejects the clip.

Cost: `HolisticConfig.limits` (tenderlib.readers.files.Limits) bounds what one file may make the
reader read or build, before it is built: file bytes, frames (a frame_id span too; at most
`max_missing` of it may be missing), and people per frame (a crowd is cut to the most salient,
noted). Every entry of the kpfiles folder is an input or a rejection (links that leave the
dataset, dangling links, pipes and devices, non-UTF-8 names: tenderlib.readers.files); two files
naming one clip (x.pkl beside x.pickle) keep the first, the second is rejected. Captions: one
per non-empty line of texts/<source>/<clip>.txt; a missing or empty file rejects the clip; a
non-UTF-8 file is rejected (`caption_errors='replace'` decodes with U+FFFD and notes it).
Pickles are read with the allow-list of tenderlib.readers.safe_pickle. Without a size in the file
(or `image_size`), the image size is the keypoints' extent and the Motion gets the label
image_size='estimated'.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tenderlib.data.motion import FPS_RANGE, MAX_IMAGE_SIDE, Motion
from tenderlib.readers.files import Limits, folders, list_files, read_bytes, regular_file, shown
from tenderlib.readers.people import Frames, cap_people, select_main_person
from tenderlib.readers.report import Outcome, Reading, ReaderError, map_ordered, unexpected
from tenderlib.readers.safe_pickle import CorruptPickleError, PickleLimitError, UnsafePickleError, safe_loads
from tenderlib.data.skeleton import NUM_KEYPOINTS, REGIONS

logger = logging.getLogger(__name__)

HAND_SIDES = ("left", "right")
_PARTIAL = {NUM_KEYPOINTS: tuple(REGIONS), REGIONS["face"].stop - REGIONS["face"].start: ("face",),
            2 * (REGIONS["left_hand"].stop - REGIONS["left_hand"].start): ("left_hand", "right_hand")}
_HAND = REGIONS["left_hand"].stop - REGIONS["left_hand"].start  # 21
_KNOWN_OTHER = {17: "COCO-17 body only", 18: "OpenPose-18 body", 25: "OpenPose BODY_25", 26: "Halpe-26",
                23: "body and feet without face and hands", 136: "Halpe-136", 14: "MPII/LSP-14", 16: "MPII-16"}
_KP_KEYS = ("keypoints", "kpts", "keypoints_2d", "kps", "pose", "poses", "joints")
_SCORE_KEYS = ("keypoint_scores", "keypoints_scores", "kpt_scores", "scores", "confidence", "confidences")
_BOX_KEYS = ("bboxes", "bbox", "boxes")
_FRAME_KEYS = ("instance_info", "frames", "predictions", "results", "annotations")
_SUFFIXES = (".pkl", ".pickle")
_MAX_SCORE = 1e6  # detector scores beyond this are broken values (RTMPose's exceed 1, by little)


@dataclass(frozen=True)
class HolisticConfig:
    """How the release reader fills what a file does not say, and how strict it is."""

    sources: tuple[str, ...] | None = None       # kpfiles/<source> folders to read; None = all
    fps: float = 30.0                            # frame rate when the file does not give one
    image_size: tuple[int, int] | None = None    # (width, height) when the file does not say; None = estimate
    single_hand: str = "right"                   # side of a 21-point hand-only clip without 'hand_side'
    nonfinite: str = "mask"                      # NaN/inf keypoints: 'mask' (confidence 0, noted) | 'reject'
    caption_errors: str = "reject"               # non-UTF-8 captions: 'reject' | 'replace' (U+FFFD, noted)
    iou_link: float = 0.3                        # several people: IoU that links a box to the last one of a track
    workers: int = 1                             # processes reading files (order is kept)
    limits: Limits = Limits()                    # what one file may cost (frames, people, bytes)

    def __post_init__(self):
        if self.sources is not None:
            if isinstance(self.sources, str) or not all(isinstance(s, str) for s in self.sources):
                raise ValueError(f"sources must be a tuple of folder names or None, got {self.sources!r}")
            object.__setattr__(self, "sources", tuple(self.sources))
        lo, hi = FPS_RANGE
        if not (isinstance(self.fps, (int, float)) and lo <= self.fps <= hi):
            raise ValueError(f"fps must be in [{lo:g}, {hi:g}], got {self.fps!r}")
        if not isinstance(self.limits, Limits):
            raise ValueError(f"limits must be a tenderlib.readers.files.Limits, got {self.limits!r}")
        if self.image_size is not None and (len(self.image_size) != 2 or min(self.image_size) <= 0):
            raise ValueError(f"image_size must be (width, height) > 0 or None, got {self.image_size!r}")
        if self.single_hand not in HAND_SIDES:
            raise ValueError(f"single_hand must be one of {HAND_SIDES}, got {self.single_hand!r}")
        if self.nonfinite not in ("mask", "reject"):
            raise ValueError(f"nonfinite must be 'mask' or 'reject', got {self.nonfinite!r}")
        if self.caption_errors not in ("reject", "replace"):
            raise ValueError(f"caption_errors must be 'reject' or 'replace', got {self.caption_errors!r}")
        if not 0 < self.iou_link <= 1:
            raise ValueError(f"iou_link must be in (0, 1], got {self.iou_link!r}")
        if not (isinstance(self.workers, int) and self.workers >= 1):
            raise ValueError(f"workers must be an int >= 1, got {self.workers!r}")


@dataclass
class WholeBody:
    """One person's clip in the 133-keypoint layout, before captions are attached."""

    keypoints: np.ndarray            # (T, 133, 2) float32
    confidence: np.ndarray           # (T, 133) float32
    regions: tuple[str, ...]         # regions the source annotates
    fps: float | None = None         # from the file, if it says
    image_size: tuple[int, int] | None = None
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Layouts -> per-frame candidates


def _num(value, what: str) -> np.ndarray:
    """A float array (float32 and float64 arrays are kept as they are, without a copy)."""
    if isinstance(value, np.ndarray) and value.dtype in (np.float32, np.float64):
        return value
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ReaderError(f"{what} is not a numeric array (got {type(value).__name__})", "layout") from None
    return a


def _first(d: dict, keys: tuple[str, ...]):
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return None


def _check_points(a: np.ndarray, what: str) -> None:
    """a: (..., K, C) with C in (2, 3); name a transposed array as such."""
    if a.ndim >= 2 and a.shape[-1] not in (2, 3) and a.shape[-2] in (2, 3):
        raise ReaderError(f"{what} looks transposed: shape {a.shape}, expected (..., K, 2 or 3) with K keypoints "
                          f"last-but-one", "keypoint-count")
    if a.ndim < 2 or a.shape[-1] not in (2, 3):
        raise ReaderError(f"{what} must have shape (..., K, 2 or 3), got {a.shape}", "layout")


def _split_channels(kp: np.ndarray, scores, what: str) -> tuple[np.ndarray, np.ndarray]:
    """kp (..., K, 2|3) and optional scores (..., K) -> (kp (..., K, 2), scores (..., K))."""
    _check_points(kp, what)
    if scores is None:
        if kp.shape[-1] != 3:
            raise ReaderError(f"{what} has x, y but no keypoint scores (looked for {list(_SCORE_KEYS)})", "layout")
        return kp[..., :2], kp[..., 2]
    sc = _num(scores, f"{what} scores")
    if sc.shape != kp.shape[:-1]:
        if sc.shape == kp.shape[:-1] + (1,):
            sc = sc[..., 0]
        else:
            raise ReaderError(f"{what}: scores of shape {sc.shape} do not match keypoints of shape {kp.shape}",
                              "layout")
    return kp[..., :2], sc


def _instance(inst, what: str):
    """One person -> (kp (K, 2), score (K,), box (4,), track)."""
    if isinstance(inst, dict):
        kp_raw = _first(inst, _KP_KEYS)
        if kp_raw is None:
            raise ReaderError(f"{what}: instance without keypoints (keys {sorted(map(str, inst))})", "layout")
        kp, sc = _split_channels(_num(kp_raw, what), _first(inst, _SCORE_KEYS), what)
        box = np.full(4, np.nan)
        raw_box = _first(inst, _BOX_KEYS)
        if raw_box is not None:
            b = _num(raw_box, f"{what} bbox").reshape(-1)
            if b.size >= 4:
                box = b[:4]  # mmpose writes [[x1, y1, x2, y2]]
        track = inst.get("track_id", inst.get("id", -1))
        track = int(track) if isinstance(track, (int, np.integer)) else -1
    else:
        kp, sc = _split_channels(_num(inst, what), None, what)
        box, track = np.full(4, np.nan), -1
    if kp.ndim != 2:
        raise ReaderError(f"{what}: one person's keypoints must be (K, 2), got {kp.shape}", "layout")
    return kp, sc, box, track


def _frame(item, what: str):
    """One frame's result -> (kp (P, K, 2), score (P, K), box (P, 4), track (P,))."""
    if item is None:
        people = []
    elif isinstance(item, dict) and "instances" in item:
        people = [_instance(p, what) for p in (item["instances"] or [])]
    elif isinstance(item, dict) and _first(item, _KP_KEYS) is not None:
        kp, sc = _split_channels(_num(_first(item, _KP_KEYS), what), _first(item, _SCORE_KEYS), what)
        if kp.ndim == 2:
            kp, sc = kp[None], sc[None]
        P = kp.shape[0]
        box = _num(_first(item, _BOX_KEYS), what).reshape(P, -1)[:, :4] if _first(item, _BOX_KEYS) is not None \
            else np.full((P, 4), np.nan)
        tr = item.get("track_ids")
        track = np.asarray(tr, dtype=np.int64).reshape(P) if tr is not None else np.full(P, -1)
        if box.shape != (P, 4):
            raise ReaderError(f"{what}: boxes of shape {box.shape} for {P} people", "layout")
        return kp, sc, box, track
    elif isinstance(item, (list, tuple)):
        people = [_instance(p, what) for p in item]
    elif isinstance(item, np.ndarray):
        kp, sc = _split_channels(_num(item, what), None, what)
        kp, sc = (kp[None], sc[None]) if kp.ndim == 2 else (kp, sc)
        return kp, sc, np.full((kp.shape[0], 4), np.nan), np.full(kp.shape[0], -1)
    else:
        raise ReaderError(f"{what}: a frame must be a list of instances or a dict, got {type(item).__name__}", "layout")
    if not people:
        return np.zeros((0, 0, 2)), np.zeros((0, 0)), np.zeros((0, 4)), np.zeros(0, np.int64)
    ks = {p[0].shape[0] for p in people}
    if len(ks) > 1:
        raise ReaderError(f"{what}: people with different keypoint counts {sorted(ks)}", "keypoint-count")
    return (np.stack([p[0] for p in people]), np.stack([p[1] for p in people]),
            np.stack([p[2] for p in people]), np.array([p[3] for p in people], dtype=np.int64))




def frames_from_list(items: list, what: str, cfg: HolisticConfig = HolisticConfig()) -> Frames:
    """Per-frame results (ordered by 'frame_id' where given; gaps become empty frames, up to
    cfg.limits.max_missing of the span; the span is at most cfg.limits.max_frames)."""
    ids = [it.get("frame_id") if isinstance(it, dict) else None for it in items]
    if ids and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ids):
        lo, hi = int(min(ids)), int(max(ids))  # Python ints: a frame_id of 10**30 cannot overflow here
        if lo < 0:
            raise ReaderError(f"{what}: frame_id must be >= 0, got {lo}", "layout")
        cfg.limits.check_frames(hi - lo + 1, f"{what} (frame_id {lo} to {hi})")
        ids = np.asarray(ids, dtype=np.int64)
        if len(np.unique(ids)) != len(ids):
            raise ReaderError(f"{what}: duplicate frame_id values", "layout")
        slots = ids - ids.min()
    else:
        slots = np.arange(len(items))
    T = int(slots.max()) + 1 if len(items) else 0
    cfg.limits.check_frames(T, what)
    if T - len(items) > cfg.limits.max_missing * T:
        raise ReaderError(f"{what}: frame_id spans {T:,} frames of which {T - len(items):,} are missing, more than "
                          f"max_missing={cfg.limits.max_missing:g} of them", "frame-gaps")
    out = Frames([], [], [], [])
    empty = (np.zeros((0, 0, 2)), np.zeros((0, 0)), np.zeros((0, 4)), np.zeros(0, np.int64))
    by_slot = dict(zip(slots.tolist(), items))
    for t in range(T):  # parsing is per frame by nature: each frame is its own Python object
        kp, sc, box, tr = _frame(by_slot[t], f"{what} frame {t}") if t in by_slot else empty
        out.kp.append(kp), out.score.append(sc), out.box.append(box), out.track.append(tr)
    return out


def _frames_from_arrays(kp: np.ndarray, sc: np.ndarray, box, track) -> Frames:
    """(T, P, K, 2) / (T, P, K) arrays -> candidates; people whose scores are all <= 0 or NaN are absent."""
    T, P = kp.shape[:2]
    box = np.full((T, P, 4), np.nan) if box is None else box
    track = np.full((T, P), -1, np.int64) if track is None else track
    alive = (np.nan_to_num(sc, nan=0.0) > 0).any(axis=-1)  # (T, P)
    return Frames([kp[t][alive[t]] for t in range(T)], [sc[t][alive[t]] for t in range(T)],
                   [box[t][alive[t]] for t in range(T)], [track[t][alive[t]] for t in range(T)])


def _parse(obj, what: str, cfg: HolisticConfig) -> tuple[np.ndarray | None, np.ndarray | None, Frames | None, dict]:
    """Any accepted layout -> (kp (T, K, 2), score (T, K)) for one person, or Frames; plus meta."""
    meta: dict = {}
    if isinstance(obj, dict):
        meta = {k: obj[k] for k in ("fps", "frame_rate", "width", "height", "image_size", "img_shape", "ori_shape",
                                    "hand_side") if k in obj}
        kp_raw = _first(obj, _KP_KEYS)
        if kp_raw is None:
            inner = _first(obj, _FRAME_KEYS)
            if isinstance(inner, (list, tuple)):
                return None, None, frames_from_list(list(inner), what, cfg), meta
            raise ReaderError(f"{what}: a dict without keypoints (looked for {list(_KP_KEYS)} or a frame list under "
                              f"{list(_FRAME_KEYS)}); found keys {sorted(map(str, obj))[:12]}", "layout")
        kp, sc = _split_channels(_num(kp_raw, f"{what} keypoints"), _first(obj, _SCORE_KEYS), f"{what} keypoints")
        box, track = _first(obj, _BOX_KEYS), obj.get("track_ids")
    elif isinstance(obj, np.ndarray):
        kp, sc = _split_channels(_num(obj, what), None, what)
        box = track = None
    elif isinstance(obj, (list, tuple)):
        return None, None, frames_from_list(list(obj), what, cfg), meta
    else:
        raise ReaderError(f"{what}: expected an array, a dict or a list of frames, got {type(obj).__name__}", "layout")
    if kp.ndim == 2:  # (K, 2): one frame
        kp, sc = kp[None], sc[None]
    cfg.limits.check_frames(kp.shape[0], what)
    if kp.ndim == 4:  # (T, P, K, 2)
        if kp.shape[1] == 1 and box is None:
            kp, sc = kp[:, 0], sc[:, 0]
        else:
            b = None if box is None else _num(box, f"{what} boxes").reshape(kp.shape[0], kp.shape[1], -1)[..., :4]
            t = None if track is None else np.asarray(track, dtype=np.int64).reshape(kp.shape[:2])
            return None, None, _frames_from_arrays(kp, sc, b, t), meta
    if kp.ndim != 3:
        raise ReaderError(f"{what}: keypoints must be (T, K, 2) or (T, P, K, 2), got {kp.shape}", "layout")
    return kp, sc, None, meta


# ---------------------------------------------------------------------------------------------
# To the 133-keypoint contract


def _regions_for(K: int, hand_side: str, what: str) -> tuple[str, ...]:
    if K == _HAND:
        return (f"{hand_side}_hand",)
    if K in _PARTIAL:
        return _PARTIAL[K]
    hint = f" ({_KNOWN_OTHER[K]})" if K in _KNOWN_OTHER else ""
    raise ReaderError(f"{what}: {K} keypoints per person{hint}; supported: 133 (COCO-WholeBody), 68 (face), "
                      f"42 (two hands), 21 (one hand)", "keypoint-count")


def to_whole_body(obj, cfg: HolisticConfig = HolisticConfig(), what: str = "clip") -> WholeBody:
    """Any accepted layout (module docstring) -> one person's WholeBody. Raises ReaderError."""
    kp, sc, frames, meta = _parse(obj, what, cfg)
    notes: list[str] = []
    if frames is not None:
        if not frames.kp:
            raise ReaderError(f"{what}: empty sequence (0 frames)", "empty")
        notes += cap_people(frames, cfg.limits)
        kp, sc, present = select_main_person(frames, cfg.iou_link, what)
        first, last = np.flatnonzero(present)[[0, -1]]
        if first > 0 or last < len(present) - 1:
            notes.append(f"kept frames {first}-{last} of {len(present)} where the main person is present")
        kp, sc = kp[first:last + 1], sc[first:last + 1]
    T, K = kp.shape[:2]
    if T == 0:
        raise ReaderError(f"{what}: empty sequence (0 frames)", "empty")
    side = str(meta.get("hand_side", cfg.single_hand)).lower()
    side = {"l": "left", "r": "right"}.get(side, side)
    if side not in HAND_SIDES:
        raise ReaderError(f"{what}: hand_side must be one of {HAND_SIDES}, got {meta.get('hand_side')!r}", "layout")
    regions = _regions_for(K, side, what)
    with np.errstate(invalid="ignore"):  # NaN compares False: counted as not plausible
        ok = (np.abs(kp) <= MAX_IMAGE_SIDE).all(-1) & (np.abs(sc) <= _MAX_SCORE)  # (T, K)
    bad = None if ok.all() else ~ok
    if bad is not None:
        msg = (f"{int(bad.sum())} of {bad.size} keypoint-frames have NaN or infinite values or lie beyond "
               f"{MAX_IMAGE_SIDE:,} px or score {_MAX_SCORE:g}")
        if cfg.nonfinite == "reject":
            raise ReaderError(f"{what}: {msg}", "nonfinite")
        notes.append(f"{msg}: masked (keypoints 0, confidence 0)")
        kp = np.where(bad[..., None], 0.0, kp)
        sc = np.where(bad, 0.0, sc)
    if sc.min() < 0:
        notes.append(f"{int((sc < 0).sum())} negative scores set to 0")
        sc = np.clip(sc, 0.0, None)
    if not sc.max() > 0:
        raise ReaderError(f"{what}: no keypoint has a score above 0 in any of its {T} frames", "no-confidence")
    idx = np.concatenate([np.arange(REGIONS[r].start, REGIONS[r].stop) for r in regions])  # (K,)
    out_kp = np.zeros((T, NUM_KEYPOINTS, 2), np.float32)
    out_sc = np.zeros((T, NUM_KEYPOINTS), np.float32)
    out_kp[:, idx] = kp
    out_sc[:, idx] = sc
    return WholeBody(out_kp, out_sc, regions, _fps(meta, what), _image_size(meta, what), notes)


def _fps(meta: dict, what: str) -> float | None:
    v = meta.get("fps", meta.get("frame_rate"))
    if v is None:
        return None
    lo, hi = FPS_RANGE
    if not (isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and lo <= v <= hi):
        raise ReaderError(f"{what}: fps must be a number in [{lo:g}, {hi:g}], got {v!r}", "implausible")
    return float(v)


def _image_size(meta: dict, what: str) -> tuple[int, int] | None:
    try:
        if "width" in meta and "height" in meta:
            w, h = meta["width"], meta["height"]
        elif "image_size" in meta:
            w, h = list(meta["image_size"])[:2]
        elif "img_shape" in meta or "ori_shape" in meta:  # mmpose: (h, w[, c])
            h, w = list(meta.get("img_shape", meta.get("ori_shape")))[:2]
        else:
            return None
        w, h = int(w), int(h)
    except (TypeError, ValueError, OverflowError):
        raise ReaderError(f"{what}: unreadable image size in {meta!r}"[:300], "layout") from None
    if not (1 <= w <= MAX_IMAGE_SIDE and 1 <= h <= MAX_IMAGE_SIDE):
        raise ReaderError(f"{what}: image size must be 1 to {MAX_IMAGE_SIDE:,} pixels a side, got {(w, h)}",
                          "implausible")
    return w, h


def estimate_image_size(kp: np.ndarray, conf: np.ndarray) -> tuple[int, int]:
    """(width, height) just holding every scored keypoint (at least 1 x 1)."""
    scored = conf > 0  # (T, K)
    w, h = (int(max(1, math.ceil(float(np.max(kp[..., j], where=scored, initial=0.0))) + 1)) for j in (0, 1))
    return w, h


def to_motion(body: WholeBody, texts: list[str], source: str, clip_id: str, fps: float,
              image_size: tuple[int, int] | None) -> Motion:
    """Finish a WholeBody into a validated Motion (file values win over the defaults given here)."""
    labels = {}
    size = body.image_size or image_size
    if size is None:
        size = estimate_image_size(body.keypoints, body.confidence)
        labels["image_size"] = "estimated"
    return Motion(body.keypoints, body.confidence, texts, source, body.fps or fps, tuple(size), clip_id,
                  labels=labels).validate()


# ---------------------------------------------------------------------------------------------
# Captions


_HUMANML3D_LINE = re.compile(r"^(.*?)#[^#]*#[-\d.naN]+#[-\d.naN]+$")  # caption#tokens#start#end


def read_captions(path: Path, errors: str = "reject", root=None,
                  limits: Limits = Limits()) -> tuple[list[str], list[str]]:
    """Non-empty lines of a caption file -> (captions, notes). Raises ReaderError. root: the
    dataset folder the file must lie in (a link leaving it, a pipe or a device is refused
    unopened; default: the caption's own folder)."""
    try:
        regular_file(path, path.parent if root is None else root)
    except ReaderError as e:
        if e.kind == "missing":
            raise ReaderError(f"missing caption file {shown(path)}", "caption-missing") from None
        raise ReaderError(f"caption file {e}", e.kind) from None
    data = read_bytes(path, limits)
    notes = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if errors == "reject":
            raise ReaderError(f"caption file {path} is not valid UTF-8 (byte {data[e.start]:#04x} at offset "
                              f"{e.start})", "caption-encoding") from None
        text = data.decode("utf-8-sig", errors="replace")
        notes.append(f"caption file {path.name} is not valid UTF-8: undecodable bytes replaced by U+FFFD")
    out = []
    for line in text.splitlines():
        m = _HUMANML3D_LINE.match(line.strip())
        line = (m.group(1) if m else line).strip()
        if line and line not in out:
            out.append(line)
    if not out:
        raise ReaderError(f"empty caption file {path} (no non-empty line)", "caption-empty")
    return out, notes


# ---------------------------------------------------------------------------------------------
# The release folder


def read_clip_file(task: tuple[str, str, str, str, str, HolisticConfig]) -> Outcome:
    """One kpfiles pkl (+ its caption file) -> Outcome. task = (pkl, txt, root, source, clip_id, cfg)."""
    pkl, txt, root, source, clip_id, cfg = task
    try:
        try:
            obj = safe_loads(read_bytes(Path(pkl), cfg.limits), name=pkl)
        except UnsafePickleError as e:
            raise ReaderError(str(e), "unsafe-pickle") from None
        except PickleLimitError as e:
            raise ReaderError(str(e), "too-large") from None
        except CorruptPickleError as e:
            raise ReaderError(str(e), "corrupt-pickle") from None
        texts, notes = read_captions(Path(txt), cfg.caption_errors, root, cfg.limits)
        body = to_whole_body(obj, cfg, pkl)
        motion = to_motion(body, texts, source, clip_id, cfg.fps, cfg.image_size)
        return Outcome(pkl, [motion], notes=notes + body.notes)
    except ReaderError as e:
        msg = str(e) if pkl in str(e) else f"{pkl}: {e}"
        return Outcome.reject(pkl, msg, e.kind)
    except Exception as e:  # anything else this file provokes rejects the file, never the whole build
        return unexpected(pkl, e)


def read_holistic(root, cfg: HolisticConfig = HolisticConfig()) -> Reading:
    """The release at `root` (kpfiles/<source>/..., texts/<source>/...) -> Reading of Motions.

    clip_id is '<source>/<path of the pkl under its source folder, without suffix>'; the Motion's
    source is the folder name. Files that are not pkl are rejected inputs; caption files that no
    pkl uses are listed in report.unmatched.
    """
    root = Path(root)
    kp_root, tx_root = root / "kpfiles", root / "texts"
    if not kp_root.is_dir():
        raise ValueError(f"root must hold kpfiles/<source>/<clip>.pkl (the Holistic-Motion2D layout); "
                         f"no kpfiles folder in {str(root)!r}")
    found = [p.name for p in folders(kp_root, root=root)]
    if cfg.sources is not None:
        unknown = sorted(set(cfg.sources) - set(found))
        if unknown:
            raise ValueError(f"sources {unknown} not found under kpfiles; allowed: {found}")
    sources = [s for s in found if cfg.sources is None or s in cfg.sources]

    def produce(report):
        stray, bad = list_files(kp_root, root=root, recursive=False)
        yield from bad
        for p in stray:
            yield Outcome.reject(p, f"{p}: not inside a kpfiles/<source>/ folder", "layout")
        used = set()
        for source in sources:
            files, bad = list_files(kp_root / source, root=root)
            yield from bad
            tasks, others = [], []
            for p in files:
                rel = p.relative_to(kp_root / source)
                if p.suffix.lower() not in _SUFFIXES:
                    others.append(Outcome.reject(p, f"{p}: unsupported file type {p.suffix!r} (expected "
                                                    f"{' or '.join(_SUFFIXES)})", "unsupported-file"))
                    continue
                txt = tx_root / source / rel.with_suffix(".txt")
                used.add(txt)
                tasks.append((str(p), str(txt), str(root), source, f"{source}/{rel.with_suffix('').as_posix()}", cfg))
            yield from others
            yield from map_ordered(read_clip_file, tasks, cfg.workers)
        if tx_root.is_dir():
            for source in sources:
                if (tx_root / source).is_dir():
                    texts, _ = list_files(tx_root / source, root=root)
                    report.unmatched.extend(str(t) for t in texts if t.suffix == ".txt" and t not in used)

    return Reading("holistic", root, produce)
