"""A simulated RTMPose-like whole-body pose detector: clean projections in, noisy keypoints and scores out.

The synthetic dataset films a 3D figure (tenderlib.synthetic.figure) with a random camera (tenderlib.synthetic.camera)
and passes the clean projection through `detect`, which degrades it the way a real top-down
detector (RTMPose / DWPose on COCO-WholeBody) does (docs/conventions.md):

- Localisation error per region, as a fraction of the person's apparent size with a floor in
  pixels (so smaller people are relatively noisier); hands and face noisier than the body. The
  error is part temporally correlated (smooth jitter) and part white; both are drawn uniform
  (cheap, see `_uniform`), and the heavy tails come from the per-point penalty below.
- A score per keypoint that is not a probability: a per-clip base per keypoint (body ~0.85-1.1,
  RTMPose scores can exceed 1; feet lower; face 0.7-1.0; hands 0.45-0.9), lowered by a penalty P
  that also inflates the error, so that low scores go with large errors as with a real detector:

      P     = difficulty (random, smooth in time) + self-occlusion + face turned away
              + truncation + motion blur
      score = base * exp(-P) * (1 + small white jitter)
      error std = sigma_region(size) * degradation * (1 + noise_gain * P)

- Self-occlusion from geometry: a keypoint behind the torso centre along the camera ray and
  within the body's width sideways (both in shoulder widths) is hidden by the body (the far side
  of a person seen in profile, hands behind the back); face points behind the head centre are
  hidden by the head, and the whole face when the head faces away from the camera (`facing_cam`).
- Truncation: points outside the image come back near the border, inside it, with low scores.
- Motion blur: fast points (pixels per frame relative to the person's size) are smeared along
  their motion and score lower.
- Failures: a hand missed for a run of frames (score ~0.1, points collapsed near the wrist), a
  whole frame failed (all scores low, points displaced), left and right hands swapped for a few
  frames.
- `quality` in [0, 1] sets a degradation factor (from `degradation_range`) that scales the
  error, the random difficulty, the blur and the failure rates, so that sources differ in
  quality. Geometric visibility (occlusion, facing away, truncation) lowers scores at every quality.

Regions a source does not annotate (face-only, hand-only clips) come out with keypoints 0 and
confidence exactly 0, the data contract of tenderlib.data.motion. Deterministic given the rng.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tenderlib.data.skeleton import KEYPOINT_INDEX, NUM_KEYPOINTS, REGIONS

logger = logging.getLogger(__name__)

ALL_REGIONS: tuple[str, ...] = tuple(REGIONS)
# geometry anchors: shoulders and hips (torso centre, shoulder width), head points (head centre, ear width)
_ANCHORS = np.array([KEYPOINT_INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "nose",
                                                  "left_eye", "right_eye", "left_ear", "right_ear")])
_WRISTS = {"left_hand": KEYPOINT_INDEX["left_wrist"], "right_hand": KEYPOINT_INDEX["right_wrist"]}
# keypoints hidden with the face when the head turns away: nose and eyes (body 0-2) and the face region
assert (KEYPOINT_INDEX["nose"], KEYPOINT_INDEX["left_eye"], KEYPOINT_INDEX["right_eye"]) == (0, 1, 2)
_FACE_LIKE = (slice(0, 3), REGIONS["face"])

_HAND_SIZE = REGIONS["left_hand"].stop - REGIONS["left_hand"].start
_PER_100 = 100.0  # failure rates are given per 100 frames


@dataclass(frozen=True)
class RegionNoise:
    """Detector behaviour on one region."""

    noise_frac: float                # per-axis error std, fraction of the person's size (max of box w, h)
    noise_floor_px: float            # error floor in pixels (added in quadrature)
    conf_range: tuple[float, float]  # per-clip base score of each keypoint, drawn uniformly
    difficulty: float                # scale of the random, smooth-in-time difficulty (penalty units)

    def __post_init__(self) -> None:
        lo, hi = self.conf_range
        if self.noise_frac < 0 or self.noise_floor_px < 0 or self.difficulty < 0 or not 0 <= lo <= hi:
            raise ValueError(f"RegionNoise needs noise_frac, noise_floor_px, difficulty >= 0 and "
                             f"0 <= conf_range[0] <= conf_range[1], got {self}")


@dataclass(frozen=True)
class DetectorConfig:
    """How the simulated detector degrades a clean projection. Penalties are in units of -log(score)."""

    quality: float = 0.7                                  # 1 = best source, 0 = worst; sets the degradation
    degradation_range: tuple[float, float] = (0.25, 2.25)  # degradation at quality 1 and at quality 0 (linear)
    body: RegionNoise = RegionNoise(0.005, 1.0, (0.85, 1.1), 0.2)
    foot: RegionNoise = RegionNoise(0.007, 1.2, (0.75, 1.0), 0.3)
    face: RegionNoise = RegionNoise(0.007, 1.2, (0.7, 1.0), 0.3)
    hand: RegionNoise = RegionNoise(0.010, 1.5, (0.45, 0.9), 0.5)   # both hands
    jitter_share: float = 0.6            # share of the error variance that is smooth in time (rest is white)
    jitter_frames: float = 4.0           # correlation length of the smooth jitter, frames
    difficulty_frames: float = 8.0       # correlation length of the random difficulty, frames
    noise_gain: float = 1.0              # error std grows by this factor per unit of penalty
    conf_jitter: float = 0.04            # white relative frame-to-frame jitter of the score
    occlusion_depth: tuple[float, float] = (0.15, 0.6)  # depth behind the torso (head) centre, in shoulder
                                         # (ear-to-ear) widths, where self-occlusion starts and is complete
    occlusion_width: tuple[float, float] = (0.6, 1.2)   # sideways distance from the torso centre, in shoulder
                                         # widths, where the body's cover starts to end and has ended
    occlusion_strength: float = 1.5      # penalty of a fully self-occluded point (score x 0.22)
    face_away_cos: tuple[float, float] = (0.2, -0.6)  # cos(facing, to-camera) where the face starts to be
                                         # hidden and where it is hidden completely
    face_away_strength: float = 2.5      # penalty of the face when the head faces away (score x 0.08)
    truncation_scale: float = 0.02       # distance outside the image (fraction of size) of half truncation
    truncation_strength: float = 2.5     # penalty of a point far outside the image (score x 0.08)
    blur_strength: float = 6.0           # penalty per unit of speed (px/frame over the person's size)
    blur_smear: float = 0.5              # error spread along the motion, share of the per-frame displacement
    frame_fail_rate: float = 0.5         # failed frames per 100 frames (at degradation 1)
    hand_miss_rate: float = 0.6          # missed-hand runs per hand per 100 frames (at degradation 1)
    hand_miss_frames: tuple[int, int] = (3, 20)  # length of a missed-hand run, frames
    swap_rate: float = 0.15              # left/right hand swaps per 100 frames (at degradation 1)
    swap_frames: tuple[int, int] = (2, 8)  # length of a swap, frames
    failed_conf: tuple[float, float] = (0.0, 0.2)  # score range of failed frames and missed hands
    failed_spread: float = 0.1           # displacement of failed detections, fraction of the size
    min_person_px: float = 16.0          # the person's size never counts as smaller than this

    def __post_init__(self) -> None:
        if not 0.0 <= self.quality <= 1.0:
            raise ValueError(f"quality must be in [0, 1], got {self.quality}")
        lo, hi = self.degradation_range
        if not 0 <= lo <= hi:
            raise ValueError(f"degradation_range must be (at quality 1, at quality 0) with 0 <= low <= high, got {(lo, hi)}")
        if not 0.0 <= self.jitter_share <= 1.0:
            raise ValueError(f"jitter_share must be in [0, 1], got {self.jitter_share}")
        if self.jitter_frames <= 0 or self.difficulty_frames <= 0:
            raise ValueError(f"jitter_frames and difficulty_frames must be > 0, got {self.jitter_frames}, {self.difficulty_frames}")
        for name in ("occlusion_depth", "occlusion_width"):
            a, b = getattr(self, name)
            if not a < b:
                raise ValueError(f"{name} must be (start, complete) with start < complete, got {(a, b)}")
        a, b = self.face_away_cos
        if not -1.0 <= b < a <= 1.0:
            raise ValueError(f"face_away_cos must be (start, complete) with 1 >= start > complete >= -1, got {(a, b)}")
        for name in ("hand_miss_frames", "swap_frames", "failed_conf"):
            a, b = getattr(self, name)
            if not 0 <= a <= b:
                raise ValueError(f"{name} must be a (low, high) range with 0 <= low <= high, got {(a, b)}")
        for name in ("noise_gain", "conf_jitter", "occlusion_strength", "face_away_strength", "truncation_strength",
                     "blur_strength", "blur_smear", "frame_fail_rate", "hand_miss_rate", "swap_rate",
                     "failed_spread", "min_person_px"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.truncation_scale <= 0:
            raise ValueError(f"truncation_scale must be > 0, got {self.truncation_scale}")

    @property
    def degradation(self) -> float:
        """Multiplier of error, difficulty, blur and failure rates: degradation_range interpolated by quality."""
        best, worst = self.degradation_range
        return best + (worst - best) * (1.0 - self.quality)


@lru_cache(maxsize=64)
def _region_table(cfg: DetectorConfig) -> dict[str, np.ndarray]:
    """Per-keypoint (133,) float32 arrays of the region parameters."""
    per_region = {"body": cfg.body, "foot": cfg.foot, "face": cfg.face, "left_hand": cfg.hand, "right_hand": cfg.hand}
    out = {k: np.zeros(NUM_KEYPOINTS, np.float32) for k in ("frac", "floor", "conf_lo", "conf_hi", "difficulty")}
    for name, sl in REGIONS.items():
        r = per_region[name]
        out["frac"][sl], out["floor"][sl], out["difficulty"][sl] = r.noise_frac, r.noise_floor_px, r.difficulty
        out["conf_lo"][sl], out["conf_hi"][sl] = r.conf_range
    for a in out.values():
        a.flags.writeable = False
    return out


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """float32 uniform in (low, high) with 16-bit resolution, from the rng's raw bits.

    Four values per 64-bit draw: 3x cheaper than Generator.random, and this module draws about
    five values per keypoint and frame. Deterministic given the rng like any other draw.
    """
    n = int(np.prod(shape))
    out = rng.bit_generator.random_raw((n + 3) // 4).view(np.uint16)[:n].astype(np.float32)
    out *= np.float32((high - low) / 65536.0)
    out += np.float32(low + (high - low) * 0.5 / 65536.0)
    return out.reshape(shape)


def _smooth(knots: np.ndarray, num_frames: int, spacing: float, phase: float, unit_variance: bool) -> np.ndarray:
    """Knots (n, W) every `spacing` frames, offset by `phase` in [0, 1) -> (T, W) float32, linear in time.

    With unit_variance the weights are renormalised, so independent knots of variance s^2 give
    variance s^2 at every frame; otherwise the mean is kept. (Two row gathers rather than a
    (T, n) @ (n, W) product: a multi-threaded BLAS call of this size can cost milliseconds on a
    busy machine.)
    """
    pos = np.arange(num_frames) / spacing + phase                 # (T,) knot coordinate of each frame
    i0 = pos.astype(np.int64)
    w1 = (pos - i0).astype(np.float32)
    w0 = 1.0 - w1
    if unit_variance:
        norm = 1.0 / np.sqrt(w0 * w0 + w1 * w1)
        w0, w1 = w0 * norm, w1 * norm
    out = knots[i0]                                               # (T, W)
    out *= w0[:, None]
    out += knots[i0 + 1] * w1[:, None]
    return out


def _num_knots(num_frames: int, spacing: float) -> int:
    return int((num_frames - 1) / spacing + 1.0) + 2


def _ramp(x: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 before `start`, 1 after `end`, linear in between (start > end gives a falling ramp)."""
    out = (x - np.float32(start)) * np.float32(1.0 / (end - start))
    return np.clip(out, 0.0, 1.0, out=out)


def _runs(rng: np.random.Generator, num_frames: int, rate: float, lengths: tuple[int, int]) -> np.ndarray | None:
    """(T,) bool mask of random runs (a Poisson number, `rate` per 100 frames, of random length), or None."""
    n = min(int(rng.poisson(rate * num_frames / _PER_100)), num_frames)  # more runs than frames add nothing
    if n == 0:
        return None
    mask = np.zeros(num_frames, bool)
    starts = rng.integers(1 - lengths[1], num_frames, size=n)     # a run may have begun before the clip
    stops = starts + rng.integers(lengths[0], lengths[1] + 1, size=n)
    for start, stop in zip(starts, stops):                        # a loop over events, not frames
        mask[max(start, 0):stop] = True
    return mask if mask.any() else None


def _check_inputs(points_cam, uv, image_size, facing_cam, regions) -> tuple[int, int, tuple[str, ...]]:
    if not isinstance(uv, np.ndarray) or uv.ndim != 3 or uv.shape[1:] != (NUM_KEYPOINTS, 2) or uv.shape[0] == 0:
        raise ValueError(f"uv must be an array of shape (T, {NUM_KEYPOINTS}, 2) with T >= 1, got {np.shape(uv)}")
    T = uv.shape[0]
    if not isinstance(points_cam, np.ndarray) or points_cam.shape != (T, NUM_KEYPOINTS, 3):
        raise ValueError(f"points_cam must be an array of shape ({T}, {NUM_KEYPOINTS}, 3) like uv, got {np.shape(points_cam)}")
    if np.shape(facing_cam) != (T, 3):
        raise ValueError(f"facing_cam must have shape ({T}, 3), got {np.shape(facing_cam)}")
    # a sum is finite iff every element is (short of overflow), and costs one pass
    if not (np.isfinite(uv.sum()) and np.isfinite(points_cam.sum()) and np.isfinite(np.sum(facing_cam))):
        raise ValueError("uv, points_cam and facing_cam must be finite")
    if len(image_size) != 2 or min(image_size) <= 0:
        raise ValueError(f"image_size must be (width, height) > 0, got {image_size!r}")
    regions = (regions,) if isinstance(regions, str) else tuple(regions)
    if not regions or any(r not in REGIONS for r in regions):
        raise ValueError(f"regions must be a non-empty subset of {ALL_REGIONS}, got {regions!r}")
    return int(image_size[0]), int(image_size[1]), regions


def _unit(a: np.ndarray) -> np.ndarray:
    """Rows of (T, 3) scaled to unit length (zero rows stay zero)."""
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def _occlusion(pc32: np.ndarray, points_cam: np.ndarray, facing_cam: np.ndarray, cfg: DetectorConfig
               ) -> tuple[np.ndarray, np.ndarray]:
    """Self-occlusion (T, K) in [0, 1] and face-away (T,) in [0, 1] from the camera-space geometry.

    Body, feet and hands are hidden by the body when they lie behind the torso centre along the
    camera ray (in shoulder widths, ramp `occlusion_depth`) and within the body's silhouette
    sideways (ramp `occlusion_width`); face points (and nose, eyes) when they lie behind the head
    centre along its ray (in ear-to-ear widths). The three coordinates come from one batched
    product pc32 @ C with the ramps' scales and offsets folded into C (T, 3, 3) and `off` (3, T, 1).
    """
    T = len(points_cam)
    g = points_cam[:, _ANCHORS]                                   # (T, 9, 3): shoulders, hips, head points
    torso, head = g[:, :4].mean(axis=1), g[:, 4:].mean(axis=1)    # (T, 3) each
    ray, hray = _unit(torso), _unit(head)                         # camera -> torso centre, -> head centre
    side = _unit(np.stack([-ray[:, 2], np.zeros(T), ray[:, 0]], axis=1))  # sideways, normal to the ray
    shoulder = np.maximum(np.linalg.norm(g[:, 0] - g[:, 1], axis=1), 1e-3)  # (T,) metres
    ears = np.maximum(np.linalg.norm(g[:, 7] - g[:, 8], axis=1), 0.25 * shoulder)
    (d0, d1), (w0, w1) = cfg.occlusion_depth, cfg.occlusion_width
    scale = np.stack([shoulder * (d1 - d0), shoulder * (w1 - w0), ears * (d1 - d0)], axis=1)  # (T, 3)
    axes = np.stack([ray, side, hray], axis=2) / scale[:, None, :]  # (T, 3, 3): columns = scaled axes
    off = np.stack([(torso * ray).sum(1), (torso * side).sum(1), (head * hray).sum(1)], axis=1) / scale
    off += np.array([d0 / (d1 - d0), 0.0, d0 / (d1 - d0)])        # ramp starts
    q = pc32 @ axes.astype(np.float32)                            # (T, K, 3)
    off = off.T.astype(np.float32)[:, :, None]                    # (3, T, 1)
    behind = np.clip(q[..., 0] - off[0], 0.0, 1.0)                # behind the torso: 0 .. 1
    cover = np.abs(q[..., 1] - off[1])
    cover -= np.float32(w0 / (w1 - w0))
    np.clip(cover, 0.0, 1.0, out=cover)                           # 1 = beside the body, uncovered
    occ = behind - behind * cover
    nose_eyes, face = _FACE_LIKE
    occ[:, face] = np.clip(q[:, face, 2] - off[2], 0.0, 1.0)
    np.maximum(occ[:, nose_eyes], np.clip(q[:, nose_eyes, 2] - off[2], 0.0, 1.0), out=occ[:, nose_eyes])

    facing = np.asarray(facing_cam, dtype=np.float64)
    norm = np.linalg.norm(facing, axis=1)
    if (norm <= 0).any():
        raise ValueError("facing_cam must be non-zero in every frame")
    cos_face = -(facing * hray).sum(axis=1) / norm                # (T,) 1 = the face looks into the lens
    return occ, _ramp(cos_face.astype(np.float32), *cfg.face_away_cos)


def detect(points_cam: np.ndarray, uv: np.ndarray, image_size: tuple[int, int], rng: np.random.Generator,
           cfg: DetectorConfig = DetectorConfig(), *, facing_cam: np.ndarray,
           regions: tuple[str, ...] = ALL_REGIONS) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the detector on one clip.

    points_cam: (T, 133, 3) camera-space points in metres (x right, y down, z = depth forward).
    uv:         (T, 133, 2) their clean projection in pixels (tenderlib.synthetic.camera.project).
    image_size: (width, height) of the frame.
    facing_cam: (T, 3) the person's forward direction in camera coordinates (need not be unit).
    regions:    the regions the source annotates; the others come out as keypoints 0, confidence 0.
    Returns (keypoints (T, 133, 2) float32, confidence (T, 133) float32).
    """
    W, H, regions = _check_inputs(points_cam, uv, image_size, facing_cam, regions)
    T, K = uv.shape[0], NUM_KEYPOINTS
    f32 = np.float32
    tab = _region_table(cfg)
    deg = f32(cfg.degradation)
    active = np.zeros(K, bool)
    for r in regions:
        active[REGIONS[r]] = True

    # float32 throughout, one (T, K) array per pixel coordinate (see tenderlib.synthetic.camera's performance
    # note); constants are folded into small arrays (knots, per-frame or per-keypoint factors), since
    # the cost here is mostly the number of numpy calls, not arithmetic.
    u, v = uv[..., 0].astype(f32), uv[..., 1].astype(f32)         # (T, K)
    pc32 = points_cam.astype(f32)                                 # (T, K, 3)
    any_behind = bool(pc32[..., 2].min() <= 0.0)
    behind = pc32[..., 2] <= 0.0 if any_behind else None          # (T, K) behind the camera

    # --- the person's apparent size (T, 1): the larger side of the detector's box (active points, in image)
    uc, vc = np.clip(u, 0, W - 1), np.clip(v, 0, H - 1)           # (T, K) clamped into the image
    ua, va = (uc, vc) if active.all() else (uc[:, active], vc[:, active])
    if any_behind:                                                # points behind the camera do not count
        ba = behind if active.all() else behind[:, active]
        ua, va = np.where(ba, np.nan, ua), np.where(ba, np.nan, va)
        with np.errstate(all="ignore"):
            bw = np.nan_to_num(np.nanmax(ua, 1) - np.nanmin(ua, 1))
            bh = np.nan_to_num(np.nanmax(va, 1) - np.nanmin(va, 1))
    else:
        bw, bh = ua.max(1) - ua.min(1), va.max(1) - va.min(1)
    size = np.maximum(np.maximum(bw, bh), f32(cfg.min_person_px))[:, None]  # (T, 1) pixels

    # --- penalty (-log score) from geometry: self-occlusion, face turned away, truncation
    penalty, away = _occlusion(pc32, points_cam, facing_cam, cfg)  # (T, K) in [0, 1], (T,)
    penalty *= f32(cfg.occlusion_strength)
    away_pen = (f32(cfg.face_away_strength) * away)[:, None]      # (T, 1)
    for cols in _FACE_LIKE:
        penalty[:, cols] += away_pen
    out = np.abs(u - uc)                                          # (T, K) pixels outside the image
    np.maximum(out, np.abs(v - vc), out=out)
    trunc = out * f32(cfg.truncation_strength)
    out += f32(cfg.truncation_scale) * size
    trunc /= out                                                  # strength * out / (out + scale * size)
    if any_behind:
        trunc[behind] = cfg.truncation_strength
    penalty += trunc

    # --- motion blur: displacement since the previous frame; the penalty grows with speed / size
    du, dv = np.diff(u, axis=0, prepend=u[:1]), np.diff(v, axis=0, prepend=v[:1])  # (T, K), 0 on frame 0
    if any_behind:
        du[behind], dv[behind] = 0.0, 0.0
    blur = deg * f32(cfg.blur_strength)
    speed = du * du
    speed += dv * dv
    np.sqrt(speed, out=speed)
    speed *= blur / size                                          # (T, 1): penalty per pixel of displacement
    penalty += np.minimum(speed, blur, out=speed)                 # speed capped at one size per frame

    # --- random difficulty: exponential knots (mean 1, a heavy-ish tail), smooth in time
    difficulty_knots = np.log(_uniform(rng, (_num_knots(T, cfg.difficulty_frames), K)))
    difficulty_knots *= -deg * tab["difficulty"]
    penalty += _smooth(difficulty_knots, T, cfg.difficulty_frames, float(rng.random()), unit_variance=False)

    # --- score: per-clip base per keypoint, lowered by the penalty, with a little white jitter
    conf = np.exp(-penalty)
    conf *= _uniform(rng, (K,), 0.0, 1.0) * (tab["conf_hi"] - tab["conf_lo"]) + tab["conf_lo"]  # (K,) base
    conf *= _uniform(rng, (T, K), 1.0 - cfg.conf_jitter, 1.0 + cfg.conf_jitter)

    # --- error: per-axis std sigma (T, K) = hypot(share of the size, floor) * degradation * (1 + gain * P)
    sigma = tab["frac"] * size
    sigma *= sigma
    sigma += tab["floor"] ** 2
    np.sqrt(sigma, out=sigma)
    penalty *= deg * f32(cfg.noise_gain)
    penalty += deg
    sigma *= penalty

    # --- noisy positions: smooth jitter + white (uniform; unit variance together) + a smear along the
    # motion, from the clamped point; what falls outside is reflected back inside (truncated points
    # land near the border), then clamped
    a = np.sqrt(3.0 * cfg.jitter_share)                           # half-width of the smooth part's knots
    b = np.sqrt(3.0 * (1.0 - cfg.jitter_share))                   # half-width of the white part
    jitter = _smooth(_uniform(rng, (_num_knots(T, cfg.jitter_frames), 2 * K), -a, a), T, cfg.jitter_frames,
                     float(rng.random()), unit_variance=True)     # (T, 2K)
    smear = deg * cfg.blur_smear / 2.0
    ku, kv = (_uniform(rng, (T, K), -b, b) for _ in range(2))
    for axis, (k, c, d) in enumerate(((ku, uc, du), (kv, vc, dv))):
        k += jitter[:, axis * K:(axis + 1) * K]
        k *= sigma
        k += c
        d *= _uniform(rng, (T, K), -smear, smear)
        k += d

    _failures(rng, cfg, regions, ku, kv, conf, uc, vc, size[:, 0])
    keypoints = np.empty((T, K, 2), f32)
    for axis, (k, lim) in enumerate(((ku, f32(W - 1)), (kv, f32(H - 1)))):
        np.abs(k, out=k)                                          # reflect at 0
        np.subtract(lim, k, out=k)
        np.abs(k, out=k)                                          # reflect at lim
        np.subtract(lim, k, out=k)
        keypoints[..., axis] = np.clip(k, 0, lim, out=k)
    np.maximum(conf, 0.0, out=conf)
    if not active.all():
        keypoints[:, ~active] = 0.0
        conf[:, ~active] = 0.0
    return keypoints, conf


def _failures(rng: np.random.Generator, cfg: DetectorConfig, regions: tuple[str, ...], ku: np.ndarray,
              kv: np.ndarray, conf: np.ndarray, uc: np.ndarray, vc: np.ndarray, size: np.ndarray) -> None:
    """In place on the (T, K) keypoint coordinates and scores: missed hands, swapped hands, failed
    frames (rates scaled by the degradation). The caller reflects and clamps into the image after."""
    deg = cfg.degradation
    T = conf.shape[0]
    lo, hi = cfg.failed_conf
    spread = cfg.failed_spread * size                             # (T,) pixels
    for hand, wrist in _WRISTS.items():                           # a hand missed for a run of frames
        if hand not in regions:
            continue
        miss = _runs(rng, T, cfg.hand_miss_rate * deg, cfg.hand_miss_frames)
        if miss is not None:
            cols, n = REGIONS[hand], int(miss.sum())
            conf[miss, cols] = rng.uniform(lo, hi, size=(n, _HAND_SIZE))
            wobble = rng.standard_normal((2, n, _HAND_SIZE)) * (0.5 * spread[miss, None])
            ku[miss, cols] = uc[miss, wrist][:, None] + wobble[0]  # collapsed near the wrist
            kv[miss, cols] = vc[miss, wrist][:, None] + wobble[1]
    if "left_hand" in regions and "right_hand" in regions:        # left and right hands swapped
        swap = _runs(rng, T, cfg.swap_rate * deg, cfg.swap_frames)
        if swap is not None:
            left, right = REGIONS["left_hand"], REGIONS["right_hand"]
            for arr in (ku, kv, conf):
                arr[swap, left], arr[swap, right] = arr[swap, right], arr[swap, left]  # both sides are copies
    failed = rng.random(T) < cfg.frame_fail_rate * deg / _PER_100  # a whole frame failed
    if failed.any():
        n = int(failed.sum())
        shift = rng.standard_normal((2, n, 1)) * spread[failed, None]  # the whole person moves
        wobble = rng.standard_normal((2, n, NUM_KEYPOINTS)) * (0.3 * spread[failed, None])
        ku[failed] += shift[0] + wobble[0]
        kv[failed] += shift[1] + wobble[1]
        conf[failed] = rng.uniform(lo, hi, size=(n, NUM_KEYPOINTS))
        logger.debug("detect: %d failed frames of %d", n, T)
