"""Simulated detector: scores that track errors, per-region noise, occlusion, truncation, blur, failures."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import spearmanr

from tenderlib.synthetic.camera import Camera, directions_to_camera, look_rotation, project_camera_points, to_camera
from tenderlib.synthetic.detector import DetectorConfig, RegionNoise, detect
from tenderlib.data.skeleton import KEYPOINT_INDEX, NUM_KEYPOINTS, REGIONS, t_pose

STATURE = 1.7
T = 100
QUIET = dict(frame_fail_rate=0.0, hand_miss_rate=0.0, swap_rate=0.0)  # no failures
BODY, FOOT, FACE = REGIONS["body"], REGIONS["foot"], REGIONS["face"]
HANDS = np.r_[np.arange(REGIONS["left_hand"].start, REGIONS["left_hand"].stop),
              np.arange(REGIONS["right_hand"].start, REGIONS["right_hand"].stop)]


def standing_figure(num_frames: int = T, turned: bool = False) -> np.ndarray:
    """(T, 133, 3) world metres: the skeleton's T-pose stood up, facing +z (or -z if turned), left = +x,
    face and nose 8 cm in front of the ears."""
    kp = t_pose().astype(np.float64)
    p = np.stack([kp[:, 0] * STATURE, -kp[:, 1] * STATURE, np.zeros(len(kp))], axis=1)
    p[FACE, 2] = 0.08
    p[[KEYPOINT_INDEX[n] for n in ("nose", "left_eye", "right_eye")], 2] = 0.08
    if turned:
        p[:, [0, 2]] *= -1.0                                       # 180 deg about the vertical axis
    return np.repeat(p[None], num_frames, axis=0)


def film(points: np.ndarray, yaw: float = 0.0, target_y: float = 0.85, dist: float = 4.0, facing_z: float = 1.0):
    """A fixed camera (1280x720, f = 1000 px) at `dist` metres from (0, target_y, 0), seen from `yaw`."""
    R = look_rotation(yaw, 0.0, 0.0)
    cam = Camera(R, -R @ np.array([0.0, target_y, 0.0]) + np.array([0.0, 0.0, dist]), 1000.0, (640.0, 360.0),
                 (1280, 720))
    pc = to_camera(points, cam)
    uv, _ = project_camera_points(pc, cam)
    facing = directions_to_camera(np.tile([0.0, 0.0, facing_z], (len(points), 1)), cam)
    return pc, uv, cam.image_size, facing


def run(points=None, cfg=DetectorConfig(), seed=0, **film_kw):
    pc, uv, size, facing = film(standing_figure() if points is None else points, **film_kw)
    kp, conf = detect(pc, uv, size, np.random.default_rng(seed), cfg, facing_cam=facing)
    return kp, conf, uv


def error(kp, uv):
    return np.sqrt(((kp - uv) ** 2).sum(-1))                       # (T, 133) pixels


# ----------------------------------------------------------------------------- contract
def test_output_contract_and_missing_regions_are_exactly_zero():
    pc, uv, size, facing = film(standing_figure())
    kp, conf = detect(pc, uv, size, np.random.default_rng(0), facing_cam=facing)
    assert kp.shape == (T, NUM_KEYPOINTS, 2) and conf.shape == (T, NUM_KEYPOINTS)
    assert kp.dtype == np.float32 and conf.dtype == np.float32 and (conf >= 0).all() and np.isfinite(kp).all()
    for regions in (("face",), ("left_hand", "right_hand")):
        kp, conf = detect(pc, uv, size, np.random.default_rng(0), facing_cam=facing, regions=regions)
        on = np.zeros(NUM_KEYPOINTS, bool)
        for r in regions:
            on[REGIONS[r]] = True
        assert (conf[:, ~on] == 0).all() and (kp[:, ~on] == 0).all()
        assert (conf[:, on] > 0).mean() > 0.95


def test_deterministic_given_the_rng():
    a = run(seed=5)
    b = run(seed=5)
    c = run(seed=6)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[1], c[1])


# ----------------------------------------------------------------------------- scores and errors
def test_confidence_correlates_negatively_with_error():
    kp, conf, uv = run(cfg=DetectorConfig(quality=0.5, **QUIET))
    err = error(kp, uv)
    rho_all = spearmanr(conf.ravel(), err.ravel())[0]
    rho_body = spearmanr(conf[:, BODY].ravel(), err[:, BODY].ravel())[0]
    assert rho_all < -0.3, rho_all
    assert rho_body < -0.15, rho_body
    low, high = conf < 0.3, conf > 0.8
    assert np.median(err[low]) > 2.0 * np.median(err[high])


def test_hands_and_face_noisier_than_body_at_equal_size():
    kp, conf, uv = run(cfg=DetectorConfig(quality=0.5, **QUIET))
    err = error(kp, uv)
    body, face, hands = np.median(err[:, BODY]), np.median(err[:, FACE]), np.median(err[:, HANDS])
    assert hands > 1.5 * body and face > 1.1 * body, (body, face, hands)
    assert np.median(conf[:, HANDS]) < np.median(conf[:, FACE]) < np.median(conf[:, BODY])


def test_smaller_people_are_relatively_noisier():
    near = run(cfg=DetectorConfig(quality=0.5, **QUIET), dist=4.0)
    far = run(cfg=DetectorConfig(quality=0.5, **QUIET), dist=25.0)
    rel_near = np.median(error(near[0], near[2])[:, BODY]) * 4.0   # error x distance ~ error / size
    rel_far = np.median(error(far[0], far[2])[:, BODY]) * 25.0
    assert rel_far > 1.3 * rel_near


def test_scores_on_a_clean_frontal_body_look_like_rtmpose():
    kp, conf, uv = run(cfg=DetectorConfig(quality=1.0, **QUIET))
    body = conf[:, BODY]
    assert 0.8 < np.median(body) < 1.1 and body.max() > 1.0      # RTMPose scores can exceed 1
    assert np.median(error(kp, uv)[:, BODY]) < 3.0                # pixels, for a ~450 px tall person


def test_lower_quality_gives_more_low_scores_and_larger_errors():
    below, err = {}, {}
    for q in (0.1, 0.9):
        runs = [run(cfg=DetectorConfig(quality=q), seed=s) for s in range(4)]
        below[q] = np.mean([(c < 0.3).mean() for _, c, _ in runs])
        err[q] = np.mean([np.median(error(k, u)) for k, _, u in runs])
    assert below[0.1] > below[0.9] + 0.1, below
    assert err[0.1] > 2.0 * err[0.9], err


# ----------------------------------------------------------------------------- geometry
def test_truncated_points_come_back_near_the_border_with_low_scores():
    # a camera 1.6 m from the chest: the legs fall below the image
    kp, conf, uv = run(cfg=DetectorConfig(quality=0.7, **QUIET), target_y=1.3, dist=1.6)
    w, h = 1280, 720
    out = uv[..., 1] > h + 20                                      # well below the bottom edge
    assert out[:, [KEYPOINT_INDEX["left_ankle"], KEYPOINT_INDEX["right_ankle"]]].all()
    assert (conf[out] < 0.3).mean() > 0.95
    assert (kp[out][:, 1] <= h - 1).all()                           # inside the image,
    assert (kp[out][:, 1] > h - 1 - 0.1 * h).mean() > 0.99         # near the border
    visible = (uv[..., 0] > 50) & (uv[..., 0] < w - 50) & (uv[..., 1] > 50) & (uv[..., 1] < h - 50)
    assert (conf[visible][:, None] >= 0.3).mean() > 0.8


def test_facing_away_hides_the_face():
    front = run(cfg=DetectorConfig(quality=0.8, **QUIET))[1]
    back = run(standing_figure(turned=True), cfg=DetectorConfig(quality=0.8, **QUIET), facing_z=-1.0)[1]
    assert back[:, FACE].mean() < 0.3 * front[:, FACE].mean()
    assert (back[:, FACE] < 0.3).mean() > 0.9
    assert back[:, BODY][:, [5, 6, 11, 12]].mean() > 0.5           # shoulders and hips stay visible


def test_far_side_of_a_profile_view_is_occluded():
    # camera at the person's left (yaw +90 deg): the right arm points straight away, behind the body
    kp, conf, uv = run(cfg=DetectorConfig(quality=0.8, **QUIET), yaw=np.pi / 2)
    k = KEYPOINT_INDEX
    left = conf[:, [k["left_elbow"], k["left_wrist"]] + list(range(REGIONS["left_hand"].start, REGIONS["left_hand"].stop))]
    right = conf[:, [k["right_elbow"], k["right_wrist"]] + list(range(REGIONS["right_hand"].start, REGIONS["right_hand"].stop))]
    assert right.mean() < 0.5 * left.mean()


def test_fast_points_score_lower():
    still = standing_figure()
    moving = still.copy()
    moving[:, REGIONS["left_hand"], 0] += 0.15 * np.arange(T)[:, None] % 0.6  # ~40 px per frame
    cfg = DetectorConfig(quality=0.6, **QUIET)
    c_still = run(still, cfg)[1][:, REGIONS["left_hand"]]
    c_moving = run(moving, cfg)[1][:, REGIONS["left_hand"]]        # same rng: only the blur differs
    assert c_moving.mean() < 0.8 * c_still.mean()


# ----------------------------------------------------------------------------- failures
def test_missed_hands_swapped_hands_and_failed_frames():
    pc, uv, size, facing = film(standing_figure())
    lh, rh = REGIONS["left_hand"], REGIONS["right_hand"]
    always = dict(QUIET, quality=1.0)
    # a hand missed for the whole clip: low scores, points near the wrist
    cfg = DetectorConfig(**dict(always, hand_miss_rate=1e4, hand_miss_frames=(T, T)))
    kp, conf = detect(pc, uv, size, np.random.default_rng(0), cfg, facing_cam=facing)
    assert (conf[:, lh] <= cfg.failed_conf[1]).all() and (conf[:, rh] <= cfg.failed_conf[1]).all()
    assert (conf[:, BODY].mean() > 0.5)
    assert np.median(np.abs(kp[:, lh] - uv[:, [KEYPOINT_INDEX["left_wrist"]]])) < 0.05 * 450
    # hands swapped for the whole clip: the left-hand output sits on the right hand
    cfg = DetectorConfig(**dict(always, swap_rate=1e4, swap_frames=(T, T)))
    kp, conf = detect(pc, uv, size, np.random.default_rng(0), cfg, facing_cam=facing)
    assert np.median(error(kp[:, lh], uv[:, rh])) < 5.0 < np.median(error(kp[:, lh], uv[:, lh]))
    # every frame failed: every score low
    cfg = DetectorConfig(**dict(always, frame_fail_rate=1e4))
    kp, conf = detect(pc, uv, size, np.random.default_rng(0), cfg, facing_cam=facing)
    assert (conf <= cfg.failed_conf[1]).all()
    assert ((kp >= 0) & (kp <= np.array(size) - 1)).all()


# ----------------------------------------------------------------------------- bad input, speed
def test_bad_input_raises_clear_errors():
    pc, uv, size, facing = film(standing_figure(4))
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="regions"):
        detect(pc, uv, size, rng, facing_cam=facing, regions=("tail",))
    with pytest.raises(ValueError, match="uv"):
        detect(pc, uv[:, :17], size, rng, facing_cam=facing)
    with pytest.raises(ValueError, match="points_cam"):
        detect(pc[:2], uv, size, rng, facing_cam=facing)
    with pytest.raises(ValueError, match="facing_cam"):
        detect(pc, uv, size, rng, facing_cam=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="finite"):
        detect(pc, np.where(uv > 0, np.nan, uv), size, rng, facing_cam=facing)
    with pytest.raises(ValueError, match="image_size"):
        detect(pc, uv, (0, 720), rng, facing_cam=facing)
    with pytest.raises(ValueError, match="quality"):
        DetectorConfig(quality=1.5)
    with pytest.raises(ValueError, match="conf_range"):
        dataclasses.replace(DetectorConfig(), hand=RegionNoise(0.01, 1.0, (0.9, 0.4), 0.5))
