"""What a 2D -> 3D lifter learns from and how it is judged: 3D clips filmed anew, MPJPE and PA-MPJPE.

    view = film(points_3d, rng)           # a clip's 3D truth (T, 133, 3) world metres, y up ->
                                          #   2D keypoints + confidence through a sampled camera and the
                                          #   simulated detector, and the camera-space 3D truth
    pairs = training_windows(views, W)    # {"inputs" (N, W, 23, 3), "targets" (N, W, 23, 3)}
    mpjpe(pred, truth), pa_mpjpe(pred, truth)   # (..., J, 3) -> (...) errors, in the units given
    h36m_joints(points)                   # (..., 23, 3) body + feet -> (..., 17, 3) Human3.6M order

Why film again: the stores keep each clip's 3D truth in world coordinates and its 2D keypoints,
not the camera that linked them. A lifter needs 2D paired with the 3D seen from the same camera,
so each clip's 3D is filmed here by a camera drawn like the synthetic dataset's (view yaw within
60 degrees of the person's facing, tenderlib.synthetic.camera) and passed through the same simulated
detector (noise, confidence, occlusion). Synthetic clips and motion capture (tenderlib.readers.mocap)
are filmed the same way, so the real capture is judged on its own 3D under the same cameras.

Metrics (Human3.6M's protocols): MPJPE = mean Euclidean distance per joint after both poses are
put at their root (the mid-hip point); PA-MPJPE = the same after the prediction is aligned to the
truth by the similarity transform (rotation, translation, scale) that fits it best, per frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tenderlib.data.skeleton import NUM_KEYPOINTS, coco_to_h36m
from tenderlib.models.lifter import JOINTS, lifter_input, root_relative, window_starts
from tenderlib.synthetic import camera, detector
from tenderlib.evaluation.realism import facing, framed_on, heading

QUALITY = (0.6, 1.0)  # range of the simulated detector's quality for lifting views


@dataclass(frozen=True)
class View:
    """One clip seen by one camera."""

    keypoints: np.ndarray  # (T, 133, 2) float32 pixels (the detector's output)
    confidence: np.ndarray  # (T, 133) float32
    truth: np.ndarray  # (T, 23, 3) float32 camera-space metres (x right, y down, z forward), root-relative
    image_size: tuple[int, int]


def film(points, rng: np.random.Generator, cfg: camera.CameraConfig = camera.CameraConfig(),
         quality: tuple[float, float] = QUALITY) -> View:
    """A clip's 3D truth (T, 133, 3) world metres, y up (absent keypoints anywhere: only body and
    feet are lifted) -> a View through a camera drawn around the person's mean facing."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[1:] != (NUM_KEYPOINTS, 3) or len(pts) == 0 or not np.isfinite(pts).all():
        raise ValueError(f"points must be finite (T>0, {NUM_KEYPOINTS}, 3) world metres, got shape {pts.shape}")
    shot = camera.film(framed_on(pts, np.arange(JOINTS)), rng, cfg, framing="full", heading=heading(pts))
    kp, conf = detector.detect(shot.points_cam, shot.uv, shot.camera.image_size, rng,
                               detector.DetectorConfig(quality=float(rng.uniform(*quality))),
                               facing_cam=camera.directions_to_camera(facing(pts), shot.camera),
                               regions=("body", "foot"))
    return View(kp.astype(np.float32), conf.astype(np.float32), root_relative(shot.points_cam),
                tuple(shot.camera.image_size))


def training_windows(views, window: int) -> dict[str, np.ndarray]:
    """Every window of `window` frames that covers each view (tenderlib.models.lifter.window_starts;
    views shorter than a window are left out): {"inputs" (N, W, 23, 3), "targets" (N, W, 23, 3)}."""
    inputs, targets = [], []
    for v in views:
        T = len(v.keypoints)
        if T < window:
            continue
        for s in window_starts(T, window):
            inputs.append(lifter_input(v.keypoints[s:s + window], v.confidence[s:s + window]))
            targets.append(v.truth[s:s + window])
    if not inputs:
        raise ValueError(f"no view is at least {window} frames long")
    return {"inputs": np.stack(inputs), "targets": np.stack(targets).astype(np.float32)}


def mpjpe(pred, truth) -> np.ndarray:
    """(..., J, 3) root-aligned poses -> (...) mean per-joint Euclidean error."""
    pred, truth = _pair(pred, truth)
    return np.linalg.norm(pred - truth, axis=-1).mean(-1)


def pa_mpjpe(pred, truth) -> np.ndarray:
    """(..., J, 3) -> (...) MPJPE after the best similarity transform of pred onto truth (Umeyama)."""
    pred, truth = _pair(pred, truth)
    mp, mt = pred.mean(-2, keepdims=True), truth.mean(-2, keepdims=True)
    p, t = pred - mp, truth - mt  # (..., J, 3)
    u, s, vt = np.linalg.svd(np.swapaxes(p, -1, -2) @ t)  # of the (..., 3, 3) covariance
    d = np.sign(np.linalg.det(u @ vt))  # (...) no reflections
    s[..., -1] *= d
    u[..., :, -1] *= d[..., None]
    rot = u @ vt  # (..., 3, 3): p @ rot best matches t
    scale = s.sum(-1) / np.maximum((p ** 2).sum(axis=(-2, -1)), 1e-12)  # (...)
    aligned = scale[..., None, None] * p @ rot + mt
    return np.linalg.norm(aligned - truth, axis=-1).mean(-1)


def h36m_joints(points) -> np.ndarray:
    """(..., 23, 3) COCO body + feet -> (..., 17, 3) in Human3.6M-17 order (tenderlib.data.skeleton.
    coco_to_h36m: pelvis = mid-hips, thorax = mid-shoulders, spine between, head = mid-eyes)."""
    return coco_to_h36m(np.asarray(points)[..., :17, :])


def _pair(pred, truth) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if pred.shape != truth.shape or pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(f"pred and truth must have the same shape (..., J, 3), got {pred.shape} and {truth.shape}")
    return pred, truth
