"""Realism of body motion, measured: statistics that put two sets of clips side by side.

Issue 4 asks whether the synthetic body motion looks like real motion capture. The two are
compared on the same footing: a clip's 3D body points (synthetic ground truth or BVH) go through
the same virtual camera model (`project_clip`: the subject's travel taken away as by a camera
that follows it, one static view drawn from `RealismConfig.camera` relative to the body's mean
facing, pinhole projection). That leaves the simulated detector out of the comparison on purpose:
this module measures motion, not detection noise. Any 2D clips (a store of real video keypoints,
say) go through the same statistics directly (`clip_stats` on (T, 17, 2) pixels).

Everything is measured on the 17 COCO body joints (the capture has no face or fingers), in units
of the clip's **body size**: the median over frames of the 2D trunk length (shoulder midpoint to
hip midpoint), so a speed of 1/s is one trunk length per second whatever the image or the camera.

Per clip (`clip_stats`, vectorised over frames):

- speed |dx/dt| and acceleration |d2x/dt2| of every joint (finite differences at the clip's fps),
  in body sizes per second and per second squared;
- bone-length stability: coefficient of variation (std / mean over frames) of the 2D length of
  each of the 8 limb bones (upper arms, forearms, thighs, shanks); a rigid limb that turns in
  depth changes its 2D length, so this is not 0 for real 3D motion, and jitter adds to it;
- left/right symmetry: log2 of the mean speed of the left arm (elbow, wrist) over the right arm,
  and likewise for the legs (knee, ankle); 0 = both sides move as much;
- periodicity: the highest autocorrelation of the root-centred pose after its first zero
  crossing, at lags between `min_period_s` and half the clip (`autocorrelation_peak`); a pure
  sinusoid gives 1; a motion that does not repeat gives 0 (no positive peak after the crossing).

Per set of clips (`dataset_stats` -> `DatasetStats`): the distributions above, plus pose diversity
over root-centred, size-normalised poses: the mean distance between poses drawn from two random
clips (mean per-joint Euclidean distance, body sizes) and the participation ratio of the PCA
spectrum ((sum l)^2 / sum l^2: how many directions the poses really use).

    compare(*stats)                       the headline numbers, one column per set
    bandai_sample(root, n)                n bandai-namco-1 clips spread over its contents
    compare_matched(mocap, {name: clips}) like with like (`MATCHED_ACTIONS`): walks, gestures, bows...
"""
from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from tenderlib.synthetic import camera
from tenderlib.data.skeleton import KEYPOINT_INDEX, NUM_KEYPOINTS, REGIONS

log = logging.getLogger(__name__)

BODY = np.arange(REGIONS["body"].start, REGIONS["body"].stop)  # the 17 body joints
_K = KEYPOINT_INDEX
LIMBS: tuple[tuple[str, int, int], ...] = tuple(  # (name, joint a, joint b), body-local = global indices
    (f"{side}_{bone}", _K[f"{side}_{a}"], _K[f"{side}_{b}"])
    for side in ("left", "right")
    for bone, a, b in (("upper_arm", "shoulder", "elbow"), ("forearm", "elbow", "wrist"),
                       ("thigh", "hip", "knee"), ("shank", "knee", "ankle")))
_ARM = {s: (_K[f"{s}_elbow"], _K[f"{s}_wrist"]) for s in ("left", "right")}
_LEG = {s: (_K[f"{s}_knee"], _K[f"{s}_ankle"]) for s in ("left", "right")}
_SHOULDERS = (_K["left_shoulder"], _K["right_shoulder"])
_HIPS = (_K["left_hip"], _K["right_hip"])
_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class RealismConfig:
    """How clips are filmed and measured."""

    camera: camera.CameraConfig = camera.CameraConfig(shake_prob=0.0)  # the one camera model for every set (no shake)
    follow_window_s: float = 1.0     # the camera follows the hips smoothed over this window (travel taken away)
    min_period_s: float = 0.3        # periodicity: shortest repeat considered, seconds
    min_frames: int = 16             # clips shorter than this are left out of a set (logged)
    pose_pairs: int = 4000           # pose diversity: random pairs of poses (from two different clips)
    max_points: int = 200_000        # speed / acceleration values kept per set for plots (subsampled)
    seed: int = 0                    # cameras and subsampling

    def __post_init__(self):
        if not self.follow_window_s > 0:
            raise ValueError(f"follow_window_s must be > 0 seconds, got {self.follow_window_s!r}")
        if not self.min_period_s > 0:
            raise ValueError(f"min_period_s must be > 0 seconds, got {self.min_period_s!r}")
        for name in ("min_frames", "pose_pairs", "max_points"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= (4 if name == "min_frames" else 1)):
                raise ValueError(f"{name} must be an int >= {4 if name == 'min_frames' else 1}, got {v!r}")


@dataclass(frozen=True)
class ComparisonConfig:
    """Which clips notebook 01 puts side by side (its section 8); notebook 06 lifts the same capture."""

    mocap: str = ""              # a motion-capture collection in the Bandai-Namco layout (relative: to the repository root); "": none
    mocap_clips: int = 30        # its clips read (one view each), spread over its contents; 0 = all
    realism_clips: int = 200     # synthetic whole-body clips generated per animation version (before / after)

    def mocap_root(self) -> Path | None:
        """The collection's folder, or None when none is given or it is not there (section 8 is skipped)."""
        from tenderlib.paths import repo_root

        if not self.mocap.strip():
            return None
        path = Path(self.mocap).expanduser()
        path = path if path.is_absolute() else repo_root() / path
        return path if path.is_dir() else None

    def __post_init__(self):
        if not isinstance(self.mocap, str):
            raise ValueError(f"mocap must be a folder path (a string) or '', got {self.mocap!r}")
        if not (isinstance(self.mocap_clips, int) and self.mocap_clips >= 0):
            raise ValueError(f"mocap_clips must be an int >= 0 (0 = all), got {self.mocap_clips!r}")
        if not (isinstance(self.realism_clips, int) and self.realism_clips >= 2):
            raise ValueError(f"realism_clips must be an int >= 2, got {self.realism_clips!r}")


# ---------------------------------------------------------------------------------------------
# Filming 3D points the same way


def facing(points: np.ndarray) -> np.ndarray:
    """(T, 3) unit horizontal facing from the hips and shoulders of (T, 133, 3) world points (y up).

    The person's left is at +x when they face +z (tenderlib.synthetic.figure), so facing = (left - right) x up.
    """
    across = (points[:, _HIPS[0]] - points[:, _HIPS[1]]) + (points[:, _SHOULDERS[0]] - points[:, _SHOULDERS[1]])
    f = np.cross(across, _UP)  # (T, 3), horizontal
    f[:, 1] = 0.0
    n = np.linalg.norm(f, axis=1, keepdims=True)
    return np.where(n > 1e-9, f / np.maximum(n, 1e-9), np.array([0.0, 0.0, 1.0]))


def heading(points: np.ndarray) -> float:
    """The person's mean facing over a clip of (T, 133, 3) world points as a world yaw (radians, 0 = +z):
    what `camera.sample_camera` measures its view yaw from."""
    f = facing(points).mean(axis=0)
    return float(np.arctan2(f[0], f[2])) if np.linalg.norm(f) > 1e-6 else 0.0


def framed_on(points: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(T, 133, 3) points with every keypoint but `joints` moved to those joints' mean in each frame: a
    camera framed on them frames the joints only (the other keypoints may be absent, 0, in mocap)."""
    out = np.repeat(points[:, joints].mean(axis=1, keepdims=True), points.shape[1], axis=1)
    out[:, joints] = points[:, joints]
    return out


def follow_drift(points: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    """(T, 3) horizontal travel of the hip midpoint since frame 0, smoothed by a moving average of
    `window_s` (odd reflection at the ends, so a steady walk is followed without lag): the rule of
    tenderlib.readers.mocap.follow_drift, on plain (T, 133, 3) points."""
    hips = 0.5 * (points[:, _HIPS[0]] + points[:, _HIPS[1]])  # (T, 3)
    T = hips.shape[0]
    k = int(min(T, max(1, round(window_s * fps))))
    pad = np.pad(hips, ((k // 2, k - 1 - k // 2), (0, 0)), mode="reflect", reflect_type="odd") if T > 1 else hips
    c = np.cumsum(np.pad(pad, ((1, 0), (0, 0))), axis=0)
    smooth = (c[k:] - c[:-k]) / k  # (T, 3)
    drift = smooth - smooth[0]
    drift[:, 1] = 0.0
    return drift


def project_clip(points: np.ndarray, fps: float, rng: np.random.Generator,
                 cfg: RealismConfig = RealismConfig()) -> np.ndarray:
    """World points (T, 133, 3) metres, y up -> (T, 17, 2) pixels of the body joints, filmed by a camera
    that follows the subject (`follow_window_s`), its view drawn from `cfg.camera` around the body's mean facing."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (NUM_KEYPOINTS, 3) or points.shape[0] < 1:
        raise ValueError(f"points must have shape (T, {NUM_KEYPOINTS}, 3), got {points.shape}")
    pts = points - follow_drift(points, fps, cfg.follow_window_s)[:, None]  # (T, 133, 3)
    cam = camera.sample_camera(framed_on(pts, BODY), rng, cfg.camera, framing="full", num_frames=len(pts),
                               heading=heading(pts))
    uv, _ = camera.project(pts[:, BODY], cam)  # (T, 17, 2)
    return uv.astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Per clip


def _check_body(kp: np.ndarray, fps: float) -> np.ndarray:
    kp = np.asarray(kp, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (BODY.size, 2):
        raise ValueError(f"keypoints must be the body joints, shape (T, {BODY.size}, 2), got {kp.shape}")
    if kp.shape[0] < 4:
        raise ValueError(f"keypoints need at least 4 frames, got {kp.shape[0]}")
    if not np.isfinite(kp).all():
        raise ValueError("keypoints contain NaN or infinite values")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be > 0, got {fps!r}")
    return kp


def body_size(kp: np.ndarray) -> float:
    """Median over frames of the trunk length (shoulder midpoint to hip midpoint) of (T, 17, 2) points."""
    trunk = 0.5 * (kp[:, _SHOULDERS[0]] + kp[:, _SHOULDERS[1]]) - 0.5 * (kp[:, _HIPS[0]] + kp[:, _HIPS[1]])
    size = float(np.median(np.linalg.norm(trunk, axis=-1)))
    if not size > 0:
        raise ValueError("body size (median trunk length) is 0: shoulders and hips coincide")
    return size


def normalised_poses(kp: np.ndarray, size: float | None = None) -> np.ndarray:
    """(T, 17, 2) poses centred on the hip midpoint of each frame, in body sizes."""
    size = body_size(kp) if size is None else size
    root = 0.5 * (kp[:, _HIPS[0]] + kp[:, _HIPS[1]])  # (T, 2)
    return (kp - root[:, None]) / size


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation r(l), l = 0..T-1, of a (T, C) signal (mean over time removed):

        r(l) = sum_t <x_t, x_t+l> / sqrt(sum_t |x_t|^2 * sum_t |x_t+l|^2),  t over the overlap,

    so r(0) = 1 and a signal that repeats exactly after l frames has r(l) = 1. 0 where undefined.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(x.shape[0], -1)
    x = x - x.mean(axis=0)
    T = x.shape[0]
    n = 1 << int(np.ceil(np.log2(2 * T)))
    F = np.fft.rfft(x, n=n, axis=0)
    s = np.fft.irfft((F * F.conj()).real.sum(axis=1), n=n)[:T]  # (T,) sum over channels and overlap
    e = np.concatenate([[0.0], np.cumsum((x * x).sum(axis=1))])  # (T + 1,)
    lags = np.arange(T)
    head = e[T - lags]  # sum_{t < T - l} |x_t|^2
    tail = e[T] - e[lags]  # sum_{t >= l} |x_t|^2
    den = np.sqrt(head * tail)
    return np.where(den > 1e-12 * max(e[T], 1e-300), s / np.where(den > 0, den, 1.0), 0.0)


def autocorrelation_peak(x: np.ndarray, fps: float, min_period_s: float = 0.3) -> tuple[float, float]:
    """(peak, period_s): the highest autocorrelation of (T, C) `x` at a lag after its first zero crossing,
    between `min_period_s` and half the clip; (0, 0) when there is none (e.g. a motion that never repeats)."""
    r = autocorrelation(x)
    T = r.shape[0]
    lo, hi = max(1, int(np.ceil(min_period_s * fps))), T // 2
    below = np.flatnonzero(r[1:hi + 1] < 0)
    if hi <= lo or below.size == 0:
        return 0.0, 0.0
    start = max(lo, int(below[0]) + 1)
    if start > hi:
        return 0.0, 0.0
    k = start + int(np.argmax(r[start:hi + 1]))
    return (float(r[k]), k / fps) if r[k] > 0 else (0.0, 0.0)


@dataclass(frozen=True, eq=False)
class ClipStats:
    """Statistics of one clip's body motion (units: body sizes, seconds)."""

    speed: np.ndarray            # (T-1, 17) |velocity| of each joint, body sizes / s
    acceleration: np.ndarray     # (T-2, 17) |acceleration|, body sizes / s^2
    bone_cv: np.ndarray          # (8,) coefficient of variation of each limb's 2D length (LIMBS order)
    arm_asymmetry: float         # log2(mean speed of left elbow + wrist / right elbow + wrist)
    leg_asymmetry: float         # log2(mean speed of left knee + ankle / right knee + ankle)
    periodicity: float           # autocorrelation peak of the root-centred pose, in [0, 1]
    period_s: float              # its lag in seconds (0 when there is none)
    size: float                  # body size in the input's units (pixels)


def _log2_ratio(a: float, b: float) -> float:
    eps = 1e-9
    return float(np.log2((a + eps) / (b + eps)))


def clip_stats(kp: np.ndarray, fps: float, min_period_s: float = 0.3) -> ClipStats:
    """Statistics of one clip of 2D body joints (T, 17, 2) (pixels, or any unit) filmed at `fps`."""
    kp = _check_body(kp, fps)
    size = body_size(kp)
    x = kp / size  # (T, 17, 2) body sizes
    vel = np.diff(x, axis=0) * fps  # (T-1, 17, 2)
    acc = np.diff(x, n=2, axis=0) * fps * fps  # (T-2, 17, 2)
    speed = np.linalg.norm(vel, axis=-1)  # (T-1, 17)
    bones = np.stack([np.linalg.norm(kp[:, a] - kp[:, b], axis=-1) for _, a, b in LIMBS], axis=1)  # (T, 8)
    mean = bones.mean(axis=0)
    cv = np.where(mean > 0, bones.std(axis=0) / np.where(mean > 0, mean, 1.0), 0.0)
    mean_speed = speed.mean(axis=0)  # (17,)
    arm = _log2_ratio(mean_speed[list(_ARM["left"])].sum(), mean_speed[list(_ARM["right"])].sum())
    leg = _log2_ratio(mean_speed[list(_LEG["left"])].sum(), mean_speed[list(_LEG["right"])].sum())
    peak, period = autocorrelation_peak(normalised_poses(kp, size), fps, min_period_s)
    return ClipStats(speed=speed, acceleration=np.linalg.norm(acc, axis=-1), bone_cv=cv, arm_asymmetry=arm,
                     leg_asymmetry=leg, periodicity=peak, period_s=period, size=size)


# ---------------------------------------------------------------------------------------------
# Per set of clips


@dataclass(frozen=True, eq=False)
class DatasetStats:
    """Statistics of a set of clips: the per-clip values and the distributions, plus pose diversity."""

    name: str
    num_clips: int
    num_frames: int
    speed: np.ndarray            # (S,) joint speeds, body sizes / s (every clip, subsampled to max_points)
    acceleration: np.ndarray     # (S,) joint accelerations, body sizes / s^2 (likewise)
    clip_speed: np.ndarray       # (N,) mean joint speed per clip
    clip_acceleration: np.ndarray  # (N,) mean joint acceleration per clip
    bone_cv: np.ndarray          # (N, 8) per clip and limb
    arm_asymmetry: np.ndarray    # (N,) log2 left / right
    leg_asymmetry: np.ndarray    # (N,)
    periodicity: np.ndarray      # (N,) autocorrelation peaks
    pose_distance: float         # mean per-joint distance between poses of two random clips, body sizes
    pca_participation: float     # (sum l)^2 / sum l^2 of the normalised poses' PCA spectrum
    pca_spectrum: np.ndarray     # (34,) explained variance ratios, descending

    def summary(self) -> dict[str, float]:
        """The headline numbers (the rows of `compare`)."""
        return {
            "clips": float(self.num_clips),
            "speed median (1/s)": float(np.median(self.speed)),
            "speed p95 (1/s)": float(np.percentile(self.speed, 95)),
            "acceleration median (1/s^2)": float(np.median(self.acceleration)),
            "acceleration p95 (1/s^2)": float(np.percentile(self.acceleration, 95)),
            "acceleration / speed (1/s)": float(np.median(self.acceleration) / max(np.median(self.speed), 1e-12)),
            "bone length CV (mean)": float(self.bone_cv.mean()),
            "pose distance (body sizes)": self.pose_distance,
            "PCA participation ratio": self.pca_participation,
            "arm |log2 L/R| (mean)": float(np.abs(self.arm_asymmetry).mean()),
            "leg |log2 L/R| (mean)": float(np.abs(self.leg_asymmetry).mean()),
            "periodicity (mean peak)": float(self.periodicity.mean()),
            "periodic clips (peak > 0.8)": float((self.periodicity > 0.8).mean()),
        }


def dataset_stats(clips: Iterable[tuple[np.ndarray, float]], name: str = "",
                  cfg: RealismConfig = RealismConfig()) -> DatasetStats:
    """Statistics of clips given as (keypoints (T, 17, 2), fps) pairs (e.g. from `project_clip`)."""
    rng = np.random.default_rng([cfg.seed, 0x5EA1])
    per, poses, skipped = [], [], 0
    for kp, fps in clips:
        if len(kp) < cfg.min_frames:
            skipped += 1
            continue
        s = clip_stats(kp, fps, cfg.min_period_s)
        per.append(s)
        poses.append(normalised_poses(np.asarray(kp, dtype=np.float64), s.size).reshape(len(kp), -1))  # (T, 34)
    if skipped:
        log.info("%s: %d clips shorter than %d frames left out", name, skipped, cfg.min_frames)
    if len(per) < 2:
        raise ValueError(f"clips: need at least 2 clips of >= {cfg.min_frames} frames, got {len(per)}")
    speed = np.concatenate([s.speed.ravel() for s in per])
    acc = np.concatenate([s.acceleration.ravel() for s in per])
    if speed.size > cfg.max_points:
        speed = rng.choice(speed, cfg.max_points, replace=False)
    if acc.size > cfg.max_points:
        acc = rng.choice(acc, cfg.max_points, replace=False)
    # pose diversity: pairs of frames from two different clips, every clip equally likely
    n = len(poses)
    a = rng.integers(n, size=cfg.pose_pairs)
    b = (a + 1 + rng.integers(n - 1, size=cfg.pose_pairs)) % n
    pa = np.stack([poses[i][rng.integers(len(poses[i]))] for i in a]).reshape(-1, BODY.size, 2)
    pb = np.stack([poses[i][rng.integers(len(poses[i]))] for i in b]).reshape(-1, BODY.size, 2)
    distance = float(np.linalg.norm(pa - pb, axis=-1).mean())
    sample = np.concatenate([p[rng.integers(len(p), size=min(len(p), 64))] for p in poses])  # (M, 34), clips ~equal
    lam = np.linalg.svd(sample - sample.mean(axis=0), compute_uv=False) ** 2
    total = lam.sum()
    ratio = lam / total if total > 0 else np.zeros_like(lam)
    participation = float(total ** 2 / (lam ** 2).sum()) if total > 0 else 0.0
    return DatasetStats(
        name=name, num_clips=n, num_frames=int(sum(s.speed.shape[0] + 1 for s in per)), speed=speed,
        acceleration=acc, clip_speed=np.array([s.speed.mean() for s in per]),
        clip_acceleration=np.array([s.acceleration.mean() for s in per]),
        bone_cv=np.stack([s.bone_cv for s in per]), arm_asymmetry=np.array([s.arm_asymmetry for s in per]),
        leg_asymmetry=np.array([s.leg_asymmetry for s in per]), periodicity=np.array([s.periodicity for s in per]),
        pose_distance=distance, pca_participation=participation, pca_spectrum=ratio)


def filmed(motions: Iterable, cfg: RealismConfig = RealismConfig()) -> Iterable[tuple[np.ndarray, float]]:
    """(body keypoints (T, 17, 2), fps) of Motions with 3D ground truth, each filmed by `project_clip`
    with a camera seeded by (cfg.seed, clip_id); Motions without keypoints_3d are left out."""
    for m in motions:
        if m.keypoints_3d is None:
            continue
        rng = np.random.default_rng([cfg.seed, zlib.crc32(m.clip_id.encode("utf-8"))])
        yield project_clip(m.keypoints_3d, m.fps, rng, cfg), float(m.fps)


# ---------------------------------------------------------------------------------------------
# The embedded data beside the bandai-namco motion capture

# Like with like: the capture's contents (labels["action"]) and the synthetic single-segment actions
# (labels["actions"]) that do the same kind of thing. The capture has no analogue of squats, jumps,
# sitting down and so on, and the synthetic data has no running forward: those stay in the "all" rows.
MATCHED_ACTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "walk": (("walk", "walk-back", "walk-left", "walk-right"), ("walk",)),
    "arm gestures": (("bye", "byebye", "guide", "respond", "call"), ("wave", "point", "raise_arm", "reach", "clap")),
    "bow": (("bow",), ("bow",)),
    "fight": (("punch", "kick", "slash"), ("punch", "kick", "shadow_box", "throw", "swing")),
    "dance": (("dance-short", "dance-long"), ("dance",)),
}


def matched(mocap: Iterable, synthetic: Iterable, group: str) -> tuple[list, list]:
    """(capture Motions, synthetic Motions) of one `MATCHED_ACTIONS` group; synthetic clips of one
    segment only (labels["actions"] without '+')."""
    if group not in MATCHED_ACTIONS:
        raise ValueError(f"group must be one of {tuple(MATCHED_ACTIONS)}, got {group!r}")
    contents, actions = MATCHED_ACTIONS[group]
    return ([m for m in mocap if m.labels.get("action") in contents],
            [m for m in synthetic if m.labels.get("actions") in actions])


MATCHED_METRICS = ("clips", "speed p95 (1/s)", "acceleration median (1/s^2)", "acceleration p95 (1/s^2)",
                   "periodicity (mean peak)")


def compare_matched(mocap: list, sets: dict[str, list], cfg: RealismConfig = RealismConfig(),
                    metrics: tuple[str, ...] = MATCHED_METRICS):
    """pandas DataFrame indexed by (group, metric) of `MATCHED_ACTIONS`, columns 'mocap' and one per
    synthetic set (name -> Motions); NaN where a side has fewer than 2 clips of the group."""
    import pandas as pd

    rows = {}
    for group in MATCHED_ACTIONS:
        cells = {}
        for name, motions in {"mocap": None, **sets}.items():
            a, b = matched(mocap, motions or [], group)
            clips = a if name == "mocap" else b
            try:
                summary = dataset_stats(filmed(clips, cfg), name, cfg).summary()
            except ValueError:  # fewer than 2 usable clips
                summary = {"clips": float(len(clips))}
            cells[name] = summary
        for metric in metrics:
            rows[(group, metric)] = {name: cells[name].get(metric, np.nan) for name in cells}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index = pd.MultiIndex.from_tuples(out.index, names=["group", "metric"])
    return out


def bandai_sample(root, max_clips: int | None = None, seed: int = 0) -> list:
    """Motions (one view each, clean capture, with 3D) of up to `max_clips` bandai-namco-1 clips
    spread evenly over its sorted file list, so a small sample still covers every content; None = all."""
    from tenderlib.readers import MocapConfig, read_bandai

    root = Path(root)
    names = sorted(p.name for p in (root / "data").glob("*.bvh"))
    if max_clips is not None:
        if not (isinstance(max_clips, int) and max_clips >= 1):
            raise ValueError(f"max_clips must be an int >= 1 or None, got {max_clips!r}")
        if max_clips < len(names):
            names = [names[i] for i in np.unique(np.linspace(0, len(names) - 1, max_clips).round().astype(int))]
    cfg = MocapConfig(views=1, seed=seed)
    if max_clips is None or len(names) == len(list((root / "data").glob("*.bvh"))):
        return list(read_bandai(root, cfg))
    return [m for name in names for m in read_bandai(root, cfg, pattern=name)]


def compare(*sets: DatasetStats):
    """pandas DataFrame: one row per summary metric, one column per set (named by DatasetStats.name)."""
    import pandas as pd

    names = [s.name or f"set {i}" for i, s in enumerate(sets)]
    if len(set(names)) != len(names):
        raise ValueError(f"sets must have distinct names, got {names}")
    return pd.DataFrame({n: s.summary() for n, s in zip(names, sets)})
