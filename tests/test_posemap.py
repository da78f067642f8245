"""tenderlib.posemap: DWPose's pose map to the pixel (colours, stroke sizes, what is left out),
placement in the canvas, and the PNG / MP4 files."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tenderlib import posemap
from tenderlib.data import skeleton as sk
from tenderlib.data.motion import Motion
from tenderlib.posemap import PoseMapConfig

N = sk.KEYPOINT_INDEX
W, H = 512, 768
IDENTITY = PoseMapConfig(width=W, height=H, placement="image")  # with image_size=(W, H): source pixels = canvas pixels
BLACK = (0, 0, 0)


def t_pose_pixels(height=400.0, feet_y=600.0) -> np.ndarray:
    """The skeleton's T-pose standing on y = feet_y, centred at x = W / 2: (133, 2) pixels."""
    return sk.t_pose().astype(np.float64) * height + np.array([W / 2, feet_y])


def draw(kp, conf=None, cfg=IDENTITY, image_size=(W, H)) -> np.ndarray:
    """One frame, (H, W, 3) uint8."""
    conf = None if conf is None else np.asarray(conf)[None]
    frames = posemap.pose_maps((np.asarray(kp)[None], conf), cfg, image_size=image_size)
    assert frames.shape == (1, cfg.height, cfg.width, 3) and frames.dtype == np.uint8
    return frames[0]


def px(img, xy) -> tuple:
    x, y = np.round(xy).astype(int)
    return tuple(int(v) for v in img[y, x])


def run_length(img, xy, color, axis) -> int:
    """Length of the run of `color` pixels through xy along x (axis=0) or y (axis=1)."""
    x, y = np.round(xy).astype(int)
    line, i = (img[y, :], x) if axis == 0 else (img[:, x], y)
    match = (line == color).all(-1)
    assert match[i], f"{color} not at {xy}"
    lo, hi = i, i
    while lo > 0 and match[lo - 1]:
        lo -= 1
    while hi + 1 < len(match) and match[hi + 1]:
        hi += 1
    return hi - lo + 1


def dimmed(i) -> tuple:
    return tuple(int(v) for v in np.floor(sk.OPENPOSE18_COLORS[i] * 0.6 + 1e-9))


# ---------------------------------------------------------------- the body

def test_limbs_joints_and_neck_follow_dwpose():
    kp = t_pose_pixels()
    img = draw(kp)
    r_sh, r_el, r_wr = kp[N["right_shoulder"]], kp[N["right_elbow"]], kp[N["right_wrist"]]
    # limb i is drawn in colour i x 0.6: limb 2 = R shoulder - R elbow, limb 3 = R elbow - R wrist
    assert dimmed(2) == (153, 102, 0) and dimmed(3) == (153, 153, 0)
    mid = (r_sh + r_el) / 2
    assert px(img, mid) == dimmed(2)
    assert px(img, (r_el + r_wr) / 2) == dimmed(3)
    # a filled ellipse of half-width 4 px: 2 * 4 + 1 pixels across the (horizontal) limb at its middle
    assert abs(run_length(img, mid, dimmed(2), axis=1) - 9) <= 1
    # joints: circles of radius 4 in full colour (OpenPose-18: 1 neck, 2 R shoulder, 3 R elbow)
    neck = (kp[N["left_shoulder"]] + kp[N["right_shoulder"]]) / 2
    assert px(img, neck) == (255, 85, 0)
    assert px(img, r_sh) == (255, 170, 0) and px(img, r_el) == (255, 255, 0)
    assert abs(run_length(img, r_el, (255, 255, 0), axis=0) - 9) <= 1
    # no hip-hip link (DWPose has none): between the hips is black
    assert px(img, (kp[N["left_hip"]] + kp[N["right_hip"]]) / 2) == BLACK


def test_low_confidence_joints_and_their_limbs_are_left_out():
    kp = t_pose_pixels()
    conf = np.ones(133)
    conf[N["right_elbow"]] = 0.2                     # below the threshold
    conf[N["left_knee"]] = 0.3                       # at it: hidden too (drawn means > 0.3)
    kp[N["left_elbow"]] = np.nan                     # non-finite: hidden whatever its confidence
    img = draw(kp, conf)
    for joint, a, b in (("right_elbow", "right_shoulder", "right_wrist"), ("left_knee", "left_hip", "left_ankle")):
        assert px(img, kp[N[joint]]) == BLACK
        assert px(img, (kp[N[a]] + kp[N[joint]]) / 2) == BLACK
        assert px(img, (kp[N[joint]] + kp[N[b]]) / 2) == BLACK
    assert px(img, (kp[N["left_shoulder"]] + kp[N["left_wrist"]]) / 2) == BLACK  # around the NaN elbow
    assert px(img, kp[N["right_shoulder"]]) == (255, 170, 0)  # the rest is still there
    # one shoulder hidden: no neck, so no limb from it
    conf = np.ones(133)
    conf[N["left_shoulder"]] = 0.1
    img = draw(kp, conf)
    neck = (kp[N["left_shoulder"]] + kp[N["right_shoulder"]]) / 2
    assert px(img, neck) == BLACK
    assert px(img, (neck + kp[N["nose"]]) / 2) == BLACK


def test_feet_are_not_drawn():
    kp = t_pose_pixels()
    img = draw(kp)
    ankle_y = kp[N["left_ankle"], 1]
    assert not img[int(ankle_y) + 6:].any()                # nothing below the ankle dots
    assert px(img, kp[N["left_big_toe"]]) == BLACK


# ---------------------------------------------------------------- hands and face

def test_hand_edges_rainbow_2px_and_points_blue():
    kp = np.zeros((133, 2))
    conf = np.zeros(133)
    root, thumb = sk.LEFT_HAND_OFFSET, sk.LEFT_HAND_OFFSET + 1  # edge 0 of the hand: root -> thumb base
    kp[root], kp[thumb] = (100.0, 200.0), (200.0, 200.0)
    conf[[root, thumb]] = 1.0
    img = draw(kp, conf)
    assert px(img, (150, 200)) == (255, 0, 0)               # edge 0: hue 0
    assert abs(run_length(img, (150, 200), (255, 0, 0), axis=1) - 2) <= 1
    assert px(img, kp[root]) == (0, 0, 255) and px(img, kp[thumb]) == (0, 0, 255)
    assert abs(run_length(img, kp[root], (0, 0, 255), axis=1) - 9) <= 1  # radius 4
    # the right hand's edge 10 (local points 10 -> 11, in the middle finger): hue 10 / 20, cyan
    a, b = sk.HAND_LINKS["right_hand"][10]
    kp[a], kp[b] = (300.0, 500.0), (300.0, 600.0)
    conf[[a, b]] = 1.0
    img = draw(kp, conf)
    assert px(img, (300, 550)) == (0, 255, 255)
    assert abs(run_length(img, (300, 550), (0, 255, 255), axis=0) - 2) <= 1
    assert not draw(kp, conf, PoseMapConfig(W, H, placement="image", hands=False)).any()


def test_face_dots_white_radius_3():
    kp = t_pose_pixels()
    conf = np.zeros(133)
    face = sk.FACE_OFFSET + 30                             # the nose tip
    kp[face] = (256.0, 300.0)
    conf[face] = 0.9
    img = draw(kp, conf)
    assert px(img, kp[face]) == (255, 255, 255)
    assert abs(run_length(img, kp[face], (255, 255, 255), axis=0) - 7) <= 1
    assert abs(run_length(img, kp[face], (255, 255, 255), axis=1) - 7) <= 1
    assert (img.reshape(-1, 3).max(1) > 0).sum() < 60      # that dot and nothing else
    assert not draw(kp, conf, PoseMapConfig(W, H, placement="image", face=False)).any()
    full = draw(t_pose_pixels())
    assert ((full == 255).all(-1)).sum() > 68 * 10         # all 68 dots of the template face


def test_stroke_sizes_do_not_grow_with_the_canvas():
    kp = t_pose_pixels()
    big = PoseMapConfig(width=2 * W, height=2 * H, placement="image")  # the same source, twice the size
    img = draw(kp, cfg=big)
    mid = (kp[N["right_shoulder"]] + kp[N["right_elbow"]])  # (a + b) / 2 at scale 2
    assert abs(run_length(img, mid, dimmed(2), axis=1) - 9) <= 1
    assert abs(run_length(img, 2 * kp[N["right_elbow"]], (255, 255, 0), axis=0) - 9) <= 1


# ---------------------------------------------------------------- placement

def walking_right(num_frames=5, dx=40.0) -> Motion:
    kp = np.stack([t_pose_pixels(200.0, 450.0) + [t * dx, 0.0] for t in range(num_frames)])  # (T, 133, 2)
    return Motion(kp.astype(np.float32), np.ones(kp.shape[:2], np.float32), ["a person walks"], "test", 10.0,
                  (1920, 1080), "walk").validate()


def test_fit_keeps_the_person_inside_with_the_margin_and_keeps_the_motion():
    m = walking_right()
    cfg = PoseMapConfig(width=320, height=240, margin=0.1)
    frames = posemap.pose_maps(m, cfg)
    assert frames.shape == (5, 240, 320, 3)
    drawn = frames.any(-1)                                  # (T, H, W)
    ys, xs = np.nonzero(drawn.any(0))
    # the box over the whole clip (drawn: feet excluded) fills the width less 10 % each side, +-4 px of stroke
    vis = np.ones(133, bool)
    vis[sk.REGIONS["foot"]] = False
    box = m.keypoints[:, vis].reshape(-1, 2)
    scale = min(320 * 0.8 / np.ptp(box[:, 0]), 240 * 0.8 / np.ptp(box[:, 1]))
    assert xs.min() >= 0 and xs.max() < 320 and ys.min() >= 0 and ys.max() < 240
    lo_x = 160 - scale * np.ptp(box[:, 0]) / 2
    assert abs(xs.min() - lo_x) <= 5
    # one transform for the clip: the person moves by scale x dx pixels a frame
    cx = [np.nonzero(f)[1].mean() for f in drawn]
    np.testing.assert_allclose(np.diff(cx), scale * 40.0, atol=1.0)


def test_image_placement_letterboxes_the_source_frame():
    kp = t_pose_pixels(400.0, 480.0)                        # in a 1024 x 512 source frame
    img = draw(kp, cfg=PoseMapConfig(W, H, placement="image"), image_size=(1024, 512))
    # scale min(512 / 1024, 768 / 512) = 0.5, centred: y offset (768 - 256) / 2 = 256
    assert px(img, kp[N["right_elbow"]] * 0.5 + [0, 256]) == (255, 255, 0)
    assert not img[:256].any() and not img[512:].any()      # the bars stay black


# ---------------------------------------------------------------- files

def test_mp4_and_png_sequence_round_trip(tmp_path):
    m = walking_right(7)
    cfg = PoseMapConfig(width=64, height=48, margin=0.05)
    frames = posemap.pose_maps(m, cfg)
    path = posemap.write_mp4(frames, tmp_path / "sub" / "walk.mp4", fps=12.5)
    assert path == tmp_path / "sub" / "walk.mp4" and path.read_bytes()[4:8] == b"ftyp"
    back, fps = posemap.read_mp4(path)
    assert back.shape == (7, 48, 64, 3) and fps == pytest.approx(12.5)
    assert np.abs(back.astype(int) - frames).mean() < 8     # lossy, but the same pictures
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["walk.mp4"]  # no temporary left
    # from a generator too (frames are never all in memory)
    posemap.write_mp4(posemap.iter_pose_maps(m, cfg), path, fps=10)
    assert posemap.read_mp4(path)[0].shape == (7, 48, 64, 3)
    pngs = posemap.write_png_sequence(frames, tmp_path / "frames")
    assert [p.name for p in pngs] == [f"frame_{t:05d}.png" for t in range(7)]
    np.testing.assert_array_equal(np.asarray(Image.open(pngs[3])), frames[3])


@pytest.mark.parametrize("kwargs, match", [
    (dict(width=0), "width must be an even int in \\[8, 8192\\].*got 0"),
    (dict(height=0), "height must be an even int"),
    (dict(width=511), "even"),
    (dict(width=512.0), "width"),
    (dict(width=10_000), "width"),
    (dict(placement="centre"), "placement must be one of \\('fit', 'image'\\)"),
    (dict(threshold=float("nan")), "threshold"),
    (dict(margin=0.5), "margin"),
    (dict(hands=1), "hands"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PoseMapConfig(**kwargs)


def test_bad_inputs_and_outputs(tmp_path, monkeypatch):
    m = walking_right(2)
    with pytest.raises(ValueError, match="placement='image' needs the source image size"):
        posemap.pose_maps((m.keypoints, m.confidence), PoseMapConfig(placement="image"))
    with pytest.raises(ValueError, match="keypoints"):
        posemap.pose_maps(np.zeros((2, 17, 2)))
    odd = np.zeros((2, 9, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="even width and height.*10 x 9"):
        posemap.write_mp4(odd, tmp_path / "odd.mp4", 10)
    assert not list(tmp_path.iterdir())
    ok = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="fps"):
        posemap.write_mp4(ok, tmp_path / "a.mp4", 0)
    with pytest.raises(ValueError, match="uint8"):
        posemap.write_mp4(ok.astype(np.float32), tmp_path / "a.mp4", 10)
    with pytest.raises(ValueError, match="empty"):
        posemap.write_mp4(ok[:0], tmp_path / "a.mp4", 10)
    file = tmp_path / "file"
    file.write_text("a file\n")
    with pytest.raises(ValueError, match=f"cannot write '{file}/a/b.mp4': '{file}' is a file, not a folder"):
        posemap.write_mp4(ok, file / "a" / "b.mp4", 10)
    with pytest.raises(ValueError, match="it is a folder"):
        posemap.write_mp4(ok, tmp_path, 10)
    with pytest.raises(ValueError, match="is a file, not a folder"):
        posemap.write_png_sequence(ok, file)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = posemap.os.access
    monkeypatch.setattr(posemap.os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode))
    with pytest.raises(PermissionError, match=f"cannot write '{locked / 'v.mp4'}'"):
        posemap.write_mp4(ok, locked / "v.mp4", 10)
    with pytest.raises(FileNotFoundError, match="no such video"):
        posemap.read_mp4(tmp_path / "missing.mp4")

