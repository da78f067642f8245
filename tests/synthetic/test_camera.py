"""Camera: hand-computed projections, conventions, framings that hold, determinism, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from tenderlib.synthetic.camera import (
    FRAMING_INDICES, Camera, CameraConfig, directions_to_camera, film, look_rotation, project, project_camera_points,
    sample_camera, to_camera,
)
from tenderlib.data.skeleton import KEYPOINT_INDEX, REGIONS, t_pose

STATURE = 1.7
SEEDS = range(40)


def standing_figure(num_frames: int = 30) -> np.ndarray:
    """(T, 133, 3) world metres: the skeleton's T-pose stood up (feet on y = 0, facing +z, left = +x),
    face 8 cm in front of the ears, the left hand waving up and down by 10 cm."""
    kp = t_pose().astype(np.float64)                              # (133, 2) image units of stature, y down
    p = np.stack([kp[:, 0] * STATURE, -kp[:, 1] * STATURE, np.zeros(len(kp))], axis=1)
    p[REGIONS["face"], 2] = 0.08
    p[[KEYPOINT_INDEX[n] for n in ("nose", "left_eye", "right_eye")], 2] = 0.08
    pts = np.repeat(p[None], num_frames, axis=0)
    pts[:, REGIONS["left_hand"], 1] += 0.1 * np.sin(np.arange(num_frames) / 3.0)[:, None]
    return pts


def inside(uv: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    return (uv[..., 0] >= 0) & (uv[..., 0] <= w - 1) & (uv[..., 1] >= 0) & (uv[..., 1] <= h - 1)


# ----------------------------------------------------------------------------- projection
def test_projection_matches_hand_computation():
    cam = Camera(np.eye(3), np.array([0.0, 0.0, 5.0]), 1000.0, (640.0, 360.0), (1280, 720))
    pts = np.array([[[0.5, -1.0, 0.0], [0.0, 0.0, 0.0], [-0.3, 0.4, 1.0]]])  # (1, 3, 3)
    uv, depth = project(pts, cam)
    # u = f x / z + cx, v = f y / z + cy (y down): (0.5, -1, 0) is 5 m deep -> (640 + 100, 360 - 200)
    np.testing.assert_allclose(uv[0, 0], [740.0, 160.0], atol=1e-4)
    np.testing.assert_allclose(uv[0, 1], [640.0, 360.0], atol=1e-4)
    np.testing.assert_allclose(uv[0, 2], [640.0 - 300.0 / 6.0, 360.0 + 400.0 / 6.0], atol=1e-3)
    np.testing.assert_allclose(depth[0], [5.0, 5.0, 6.0])
    assert uv.dtype == np.float32 and depth.dtype == np.float32 and uv.shape == (1, 3, 2)


def test_points_behind_the_camera_get_nonpositive_depth_and_finite_uv():
    cam = Camera(np.eye(3), np.array([0.0, 0.0, 5.0]), 1000.0, (640.0, 360.0), (1280, 720))
    uv, depth = project(np.array([[[0.0, 0.0, -6.0], [0.1, 0.0, -5.0]]]), cam)
    assert depth[0, 0] == pytest.approx(-1.0) and depth[0, 1] == pytest.approx(0.0)
    assert np.isfinite(uv).all()


def test_side_view_from_the_persons_left():
    # yaw +90 deg: the camera stands at +x (the person's left) and looks along -x, so the person's
    # front (+z) is on the image's left. Hand check for the point 1 m in front of the target:
    # camera x = R[0] . (0, 0, 1) = -1, depth = 5 -> u = 640 - 1000 / 5 = 440.
    R = look_rotation(np.pi / 2, 0.0, 0.0)
    cam = Camera(R, np.array([0.0, 0.0, 5.0]), 1000.0, (640.0, 360.0), (1280, 720))
    np.testing.assert_allclose(cam.center, [5.0, 0.0, 0.0], atol=1e-12)
    uv, depth = project(np.array([[[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]]), cam)
    np.testing.assert_allclose(uv[0, 0], [440.0, 360.0], atol=1e-3)
    np.testing.assert_allclose(uv[0, 1], [640.0, 160.0], atol=1e-3)  # 1 m up is 200 px up the image
    np.testing.assert_allclose(depth[0], [5.0, 5.0], atol=1e-6)


def test_look_rotation_is_a_proper_rotation_and_pitch_looks_down():
    R = look_rotation(0.3, np.deg2rad(20.0), np.deg2rad(3.0))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    R = look_rotation(0.0, np.deg2rad(30.0), 0.0)
    assert R[2, 1] == pytest.approx(-0.5)  # the optical axis points down by 30 deg (world y up)


def test_shake_offset_and_rotation_per_frame():
    a = 0.01
    rot = np.array([[0.0, 0.0, 0.0], [0.0, a, 0.0]])     # frame 1: turned by a about the camera's y axis
    off = np.array([[0.05, 0.0, 0.0], [0.0, 0.0, 0.0]])  # frame 0: moved 5 cm along camera x
    cam = Camera(np.eye(3), np.zeros(3), 1000.0, (640.0, 360.0), (1280, 720), rot, off)
    uv, _ = project(np.array([[[0.0, 0.0, 5.0]], [[0.0, 0.0, 5.0]]]), cam)
    np.testing.assert_allclose(uv[0, 0], [640.0 + 1000.0 * 0.05 / 5.0, 360.0], atol=1e-3)
    np.testing.assert_allclose(uv[1, 0], [640.0 + 1000.0 * np.tan(a), 360.0], atol=1e-3)
    with pytest.raises(ValueError, match="frames"):
        project(np.zeros((3, 1, 3)), cam)


def test_to_camera_and_directions_agree_with_project():
    pts = standing_figure(12)
    cam = sample_camera(pts, np.random.default_rng(3), CameraConfig(shake_prob=1.0))
    pc = to_camera(pts, cam)
    uv1, d1 = project(pts, cam)
    uv2, d2 = project_camera_points(pc, cam)
    np.testing.assert_allclose(uv1, uv2, atol=1e-3)
    np.testing.assert_allclose(d1, d2, atol=1e-6)
    # a direction is the difference of two points
    dirs = pts[:, KEYPOINT_INDEX["nose"]] - pts[:, KEYPOINT_INDEX["left_hip"]]
    expected = pc[:, KEYPOINT_INDEX["nose"]] - pc[:, KEYPOINT_INDEX["left_hip"]]
    np.testing.assert_allclose(directions_to_camera(dirs, cam), expected, atol=1e-9)


def test_film_is_sample_camera_then_to_camera_and_project():
    pts = standing_figure()
    for framing in ("full", "upper"):
        shot = film(pts, np.random.default_rng(4), CameraConfig(shake_prob=1.0), framing)
        cam = sample_camera(pts, np.random.default_rng(4), CameraConfig(shake_prob=1.0), framing)
        np.testing.assert_array_equal(shot.camera.translation, cam.translation)
        np.testing.assert_array_equal(shot.points_cam, to_camera(pts, cam))
        uv, depth = project(pts, cam)
        np.testing.assert_array_equal(shot.uv, uv)
        np.testing.assert_array_equal(shot.depth, depth)


# ----------------------------------------------------------------------------- framing
def test_full_framing_keeps_the_whole_figure_inside_every_frame():
    pts = standing_figure()
    cfg = CameraConfig()
    for seed in SEEDS:
        cam = sample_camera(pts, np.random.default_rng(seed), cfg, "full")
        uv, depth = project(pts, cam)
        assert (depth > 0).all()
        assert inside(uv, cam.image_size).all(), f"seed {seed}: part of the figure is outside the image"
        w, h = cam.image_size
        fill = max(np.ptp(uv[..., 0]) / w, np.ptp(uv[..., 1]) / h)
        assert cfg.fill_full[0] - 0.05 <= fill <= cfg.fill_full[1] + 0.05, f"seed {seed}: fill {fill:.2f}"


def test_frontal_camera_conventions():
    pts = standing_figure(5)
    cfg = CameraConfig(yaw_deg=(0.0, 0.0), pitch_deg=(0.0, 0.0), roll_deg=(0.0, 0.0), shake_prob=0.0)
    cam = sample_camera(pts, np.random.default_rng(0), cfg)
    uv, _ = project(pts, cam)
    k = KEYPOINT_INDEX
    # facing the camera, the subject's left side is on the image's right; the head is above the feet
    assert (uv[:, k["left_shoulder"], 0] > uv[:, k["right_shoulder"], 0]).all()
    assert (uv[:, k["nose"], 1] < uv[:, k["left_ankle"], 1]).all()
    assert cam.center[2] > 1.0 and abs(cam.center[0]) < 1.0      # in front of the person (+z)


def test_upper_framing_cuts_the_legs_and_keeps_the_head():
    pts = standing_figure()
    legs = [KEYPOINT_INDEX[n] for n in ("left_ankle", "right_ankle")] + list(range(REGIONS["foot"].start,
                                                                                    REGIONS["foot"].stop))
    head = [KEYPOINT_INDEX[n] for n in ("nose", "left_eye", "right_eye")]
    for seed in SEEDS:
        cam = sample_camera(pts, np.random.default_rng(seed), CameraConfig(), "upper")
        uv, _ = project(pts, cam)
        h = cam.image_size[1]
        assert (uv[:, legs, 1] > h).all(), f"seed {seed}: feet visible in an upper-body framing"
        assert inside(uv[:, head], cam.image_size).all(), f"seed {seed}: head cut"


def test_face_and_hand_framings_fill_the_image_with_their_part():
    pts = standing_figure()
    for framing, cols in (("face", REGIONS["face"]), ("hand", FRAMING_INDICES["hand"])):
        fills = []
        for seed in range(10):
            cam = sample_camera(pts, np.random.default_rng(seed), CameraConfig(shake_prob=0.0), framing)
            uv, _ = project(pts, cam)
            part = uv[:, cols]
            assert inside(part, cam.image_size).all(), f"{framing} seed {seed}: part outside the image"
            w, h = cam.image_size
            fills.append(max(np.ptp(part[..., 0]) / w, np.ptp(part[..., 1]) / h))
        assert min(fills) > 0.25, f"{framing}: the part should fill the frame, fills {np.round(fills, 2)}"


def test_subsampled_points_frame_the_whole_clip():
    pts = standing_figure(40)
    idx = np.rint(np.linspace(0, 39, 10)).astype(int)              # the documented subsample
    cam = sample_camera(pts[idx], np.random.default_rng(1), CameraConfig(shake_prob=1.0), num_frames=40)
    assert cam.num_frames == 40
    uv, _ = project(pts, cam)
    assert inside(uv[idx], cam.image_size).all()


def test_sampling_is_deterministic():
    pts = standing_figure()
    a, b, c = (sample_camera(pts, np.random.default_rng(s), CameraConfig(shake_prob=1.0)) for s in (7, 7, 8))
    for field in ("rotation", "translation", "shake_rotation", "shake_offset"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert (a.focal, a.image_size) == (b.focal, b.image_size)
    assert not np.allclose(a.translation, c.translation)


# ----------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors():
    pts = standing_figure(3)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="framing"):
        sample_camera(pts, rng, framing="legs")
    with pytest.raises(ValueError, match="133"):
        sample_camera(pts[:, :17], rng)
    with pytest.raises(ValueError, match="points"):
        project(pts[0], Camera(np.eye(3), np.zeros(3), 1000.0, (0.0, 0.0), (10, 10)))
    with pytest.raises(ValueError, match="NaN"):
        project(np.full((1, 1, 3), np.nan), Camera(np.eye(3), np.zeros(3), 1000.0, (0.0, 0.0), (10, 10)))
    with pytest.raises(ValueError, match="num_frames"):
        sample_camera(pts, rng, num_frames=2)
    with pytest.raises(ValueError, match="rotation"):
        Camera(np.diag([1.0, 1.0, -1.0]), np.zeros(3), 1000.0, (0.0, 0.0), (10, 10))
    with pytest.raises(ValueError, match="focal"):
        Camera(np.eye(3), np.zeros(3), 0.0, (0.0, 0.0), (10, 10))
    with pytest.raises(ValueError, match="fill_full"):
        CameraConfig(fill_full=(0.9, 0.3))
    with pytest.raises(ValueError, match="pitch_deg"):
        CameraConfig(pitch_deg=(0.0, 90.0))
    with pytest.raises(ValueError, match="image_sizes"):
        CameraConfig(image_sizes=())
