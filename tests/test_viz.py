"""tenderlib.viz: pixels where keypoints are, nothing where they are hidden, deterministic GIFs."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from tenderlib.data import skeleton as sk  # noqa: E402
from tenderlib import viz  # noqa: E402
from tenderlib.data.motion import Motion  # noqa: E402

N = sk.KEYPOINT_INDEX


def canvas_pose(side=256, height=200.0) -> np.ndarray:
    """The skeleton's T-pose, standing in a side x side canvas: (133, 2) pixels."""
    return sk.t_pose().astype(np.float64) * height + np.array([side / 2, side / 2 + height / 2])


def waving_motion(num_frames=12, image_size=(640, 480), height=300.0) -> Motion:
    """A clip whose right forearm swings every frame (so no two GIF frames are equal)."""
    base = sk.t_pose().astype(np.float64)
    t = np.arange(num_frames)
    ang = np.pi / 2 + 0.6 * np.sin(2 * np.pi * t / 8.0)  # (T,)
    idx = np.r_[N["right_wrist"], np.arange(sk.NUM_KEYPOINTS)[sk.REGIONS["right_hand"]]]
    rel = base[idx] - base[N["right_elbow"]]  # (K, 2)
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    kp = np.repeat(base[None], num_frames, 0)
    kp[:, idx, 0] = base[N["right_elbow"], 0] + rel[:, 0] * c - rel[:, 1] * s
    kp[:, idx, 1] = base[N["right_elbow"], 1] + rel[:, 0] * s + rel[:, 1] * c
    kp = kp * height + np.array([image_size[0] / 2, image_size[1] - 40])
    conf = np.full(kp.shape[:2], 0.9)
    return Motion(kp.astype(np.float32), conf.astype(np.float32), ["a person waves with the right hand"],
                  "test", 20.0, image_size, "wave").validate()


def px(img, xy):
    x, y = np.round(xy).astype(int)
    v = img[y, x]
    return int(v) if np.ndim(v) == 0 else tuple(int(c) for c in v)


# ---------------------------------------------------------------- render_frame

def test_render_frame_colours_keypoints_and_hides_low_confidence():
    pose = canvas_pose()
    conf = np.ones(133)
    conf[N["left_knee"]] = 0.1                      # below threshold
    conf[N["left_elbow"]] = 0.3                     # at threshold: hidden (visible means > threshold)
    conf[sk.REGIONS["right_hand"]] = 0.0
    img = viz.render_frame(pose, conf, size=(256, 256), threshold=0.3)
    assert img.shape == (256, 256, 3) and img.dtype == np.uint8
    black = (0, 0, 0)
    # OpenPose-18 joint colours at visible joints: R shoulder is OpenPose joint 2, L ankle 13
    assert px(img, pose[N["right_shoulder"]]) == tuple(sk.OPENPOSE18_COLORS[2])
    assert px(img, pose[N["left_ankle"]]) == tuple(sk.OPENPOSE18_COLORS[13])
    # a limb between two visible joints at 60 % of its colour (right shank is limb 8)
    mid_right_shank = (pose[N["right_knee"]] + pose[N["right_ankle"]]) / 2
    assert px(img, mid_right_shank) == tuple(np.round(sk.OPENPOSE18_COLORS[8] * 0.6).astype(int))
    # hidden joints and every limb touching them are not drawn
    assert px(img, pose[N["left_knee"]]) == black
    assert px(img, (pose[N["left_knee"]] + pose[N["left_ankle"]]) / 2) == black
    assert px(img, pose[N["left_elbow"]]) == black
    assert px(img, (pose[N["left_elbow"]] + pose[N["left_wrist"]]) / 2) == black
    # hand dots are pure blue: only the visible (left, image-right) hand has them
    blue = np.argwhere((img == (0, 0, 255)).all(-1))
    assert len(blue) > 0 and blue[:, 1].min() > 128
    tips = [N[f"right_{f}4"] for f in ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")]
    assert all(px(img, pose[i]) == black for i in tips)


def test_render_frame_mmpose_style_and_image_mapping():
    pose = canvas_pose(512, 400.0) + np.array([64.0, -16.0])  # a 640 x 480 "source image"
    img = viz.render_frame(pose, None, size=(320, 240), style="mmpose", image_size=(640, 480),
                           background="white")
    assert img.shape == (240, 320, 3)
    # the source is scaled by 0.5 into the canvas; joints get the mmpose keypoint colours
    assert px(img, pose[N["left_knee"]] / 2) == tuple(sk.KEYPOINT_COLORS[N["left_knee"]])
    assert px(img, pose[N["right_hip"]] / 2) == tuple(sk.KEYPOINT_COLORS[N["right_hip"]])
    assert px(img, (5, 5)) == (255, 255, 255)


def test_render_frame_feet_are_optional_and_hands_use_dwpose_rainbow():
    pose = canvas_pose()
    with_feet = viz.render_frame(pose, size=(256, 256))
    without = viz.render_frame(pose, size=(256, 256), feet=False)   # DWPose draws no feet
    toe = pose[N["left_small_toe"]]
    assert px(with_feet, toe) == tuple(sk.OPENPOSE18_COLORS[11])    # the left leg's colour
    assert px(without, toe) == (0, 0, 0)
    rainbow = viz._hand_rainbow()  # reference section 6.2: hue = edge / 20
    assert rainbow.shape == (20, 3)
    assert [tuple(rainbow[i]) for i in (0, 4, 10, 15, 19)] == [
        (255, 0, 0), (204, 255, 0), (0, 255, 255), (127, 0, 255), (255, 0, 76)]


@pytest.mark.parametrize("kwargs,match", [
    (dict(style="coco"), "style"), (dict(size=(0, 10)), "size"), (dict(background="nope"), "background")])
def test_render_frame_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.render_frame(canvas_pose(), None, **kwargs)
    with pytest.raises(ValueError, match="keypoints"):
        viz.render_frame(np.zeros((17, 2)))


# ---------------------------------------------------------------- GIFs

def gif_frames(data: bytes) -> tuple[int, list[int], tuple[int, int], int]:
    im = Image.open(io.BytesIO(data))
    durations = []
    for k in range(im.n_frames):
        im.seek(k)
        durations.append(im.info["duration"])
    return im.n_frames, durations, im.size, im.info.get("loop")


def test_animate_is_deterministic_and_has_every_frame(tmp_path):
    m = waving_motion(12)
    a = viz.animate(m, path=tmp_path / "sub" / "wave.gif", size=(96, 96))
    b = viz.animate(m, size=(96, 96))
    assert a == b and (tmp_path / "sub" / "wave.gif").read_bytes() == a
    n, durations, size, loop = gif_frames(a)
    assert (n, size, loop) == (12, (96, 96), 0)
    assert sum(durations) == pytest.approx(12 * 1000 / m.fps, abs=10)  # 20 fps -> 50 ms
    first = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"))
    assert first.any()


def test_animate_arrays_caption_fit_and_fps():
    m = waving_motion(6)
    plain = viz.animate((m.keypoints, m.confidence), size=(80, 64))
    n, durations, size, _ = gif_frames(plain)
    assert (n, size) == (6, (80, 64)) and sum(durations) == pytest.approx(200, abs=10)  # 30 fps default
    _, _, size, _ = gif_frames(viz.animate(m, size=(80, 64), caption="waving"))
    assert size[0] == 80 and size[1] > 64                                 # a caption strip below
    n, _, _, _ = gif_frames(viz.animate(waving_motion(12), fps=100, size=(64, 64)))
    assert n == 6                                                          # 100 fps -> every 2nd frame
    with pytest.raises(ValueError, match="image_size"):
        viz.animate((m.keypoints, m.confidence), fit="image")
    with pytest.raises(ValueError, match="fit"):
        viz.animate(m, fit="crop")
    with pytest.raises(ValueError, match="fps"):
        viz.animate(m, fps=0)
    with pytest.raises(ValueError, match="confidence"):
        viz.animate((m.keypoints, m.confidence[:, :17]))


def test_fit_bbox_makes_a_small_person_visible():
    m = waving_motion(4, image_size=(1920, 1080), height=60.0)  # a tiny person in a big frame
    extents = {}
    for fit in ("bbox", "image"):
        im = Image.open(io.BytesIO(viz.animate(m, size=(128, 128), fit=fit))).convert("RGB")
        ys, xs = np.nonzero(np.asarray(im).any(-1))
        extents[fit] = ys.max() - ys.min()
    assert extents["bbox"] > 0.8 * 128 > 10 * extents["image"]


def test_animate_grid_sizes_and_padding():
    clips = [waving_motion(12), (waving_motion(5).keypoints, None), waving_motion(7)]
    data = viz.animate_grid(clips, captions=[None] * 3, cols=2, size=(64, 80), gap=4)
    n, _, size, loop = gif_frames(data)
    assert (n, size, loop) == (12, (2 * 64 + 4, 2 * 80 + 4), 0)
    assert data == viz.animate_grid(clips, captions=[None] * 3, cols=2, size=(64, 80), gap=4)
    _, _, size_cap, _ = gif_frames(viz.animate_grid(clips, cols=3, size=(64, 80)))
    assert size_cap[0] == 3 * 64 + 2 * 4 and size_cap[1] > 80               # Motion captions by default
    with pytest.raises(ValueError, match="captions"):
        viz.animate_grid(clips, captions=["a"])
    with pytest.raises(ValueError, match="cols"):
        viz.animate_grid(clips, cols=0)
    with pytest.raises(ValueError, match="pad"):
        viz.animate_grid(clips, pad="repeat")


# ---------------------------------------------------------------- close-ups and one scale

def test_animate_grid_closeups_follow_each_part():
    m = waving_motion(12)
    plain = viz.animate_grid([m], captions=[None], size=(192, 192))
    data = viz.animate_grid([m], captions=[None], size=(192, 192), closeups=True, gap=4)
    n, _, size, _ = gif_frames(data)
    side = (192 - 2 * 4) // 3
    assert gif_frames(plain)[2] == (192, 192) and (n, size) == (12, (192, 192 + 4 + side))
    assert data == viz.animate_grid([m], captions=[None], size=(192, 192), closeups=True, gap=4)
    im = Image.open(io.BytesIO(data))
    for t in range(n):  # the right hand swings across the body panel, yet stays centred in its close-up
        im.seek(t)
        panel = np.asarray(im.convert("RGB"))[192 + 4:, :side]
        blue = (panel[..., 2] == 255) & (panel[..., :2] == 0).all(-1)  # the hand's points
        ys, xs = np.nonzero(blue)
        assert len(xs) > 5 and abs(xs.mean() - side / 2) < side * 0.2 and abs(ys.mean() - side / 2) < side * 0.2
    hidden = waving_motion(4)
    hidden.confidence[:, sk.REGIONS["left_hand"]] = 0.0
    im = Image.open(io.BytesIO(viz.animate_grid([hidden], captions=[None], size=(96, 96), closeups=True)))
    assert not np.asarray(im.convert("RGB"))[96 + 4:, 96 - (96 - 8) // 3:].any()  # the left hand's panel is empty
    with pytest.raises(ValueError, match="closeups"):
        viz.animate_grid([m], size=(24, 64), closeups=True)


def test_same_scale_draws_equal_sizes_equally():
    big, small = waving_motion(4, height=300.0), waving_motion(4, height=150.0)
    heights = {}
    for same in (False, True):
        im = Image.open(io.BytesIO(viz.animate_grid([big, small], captions=[None] * 2, cols=2, size=(128, 128),
                                                    gap=0, same_scale=same))).convert("RGB")
        a = np.asarray(im)
        heights[same] = [np.ptp(np.nonzero(a[:, k * 128:(k + 1) * 128].any(-1))[0]) for k in (0, 1)]
    assert abs(heights[False][0] - heights[False][1]) <= 3          # each fitted to its cell
    assert abs(heights[True][1] / heights[True][0] - 0.5) < 0.06     # half the person, half the height


# ---------------------------------------------------------------- matplotlib

def test_pose_image_is_the_renderers_drawing_in_source_pixels():
    pose = canvas_pose(640, 300.0)
    conf = np.ones(133)
    rgba = viz.pose_image(pose, conf, view=(0, 0, 640, 640), resolution=640)
    assert rgba.shape == (640, 640, 4) and rgba.dtype == np.uint8
    assert np.array_equal(rgba[..., :3], viz.render_frame(pose, conf, size=(640, 640)))  # one drawing
    assert ((rgba[..., 3] == 255) == rgba[..., :3].any(-1)).all()                     # transparent elsewhere
    mid = (pose[N["left_shoulder"]] + pose[N["left_elbow"]]) / 2
    assert px(rgba[..., 3], mid) == 255
    conf[N["left_elbow"]] = 0.2
    hidden = viz.pose_image(pose, conf, view=(0, 0, 640, 640), resolution=640)
    assert px(hidden[..., 3], mid) == 0 and px(hidden[..., 3], pose[N["left_elbow"]]) == 0
    half = viz.pose_image(pose, None, view=(0, 0, 640, 640), resolution=320)  # same window, half the pixels
    assert half.shape == (320, 320, 4) and px(half[..., 3], mid / 2) == 255
    with pytest.raises(ValueError, match="view"):
        viz.pose_image(pose, None, view=(10, 0, 5, 640))


def test_draw_frame_places_the_drawing_at_source_pixels():
    pose = canvas_pose(640, 300.0)
    fig, ax = plt.subplots()
    art = viz.draw_frame(ax, pose, None, image_size=(640, 640))
    assert art.image.get_extent() == [0, 640, 640, 0] and art.view == (0, 0, 640, 640)
    assert ax.yaxis_inverted() and ax.get_xlim() == (0, 640) and art.border is not None
    assert ax.get_facecolor()[:3] == (0.0, 0.0, 0.0)
    plt.close(fig)
    fig, ax = plt.subplots()
    art = viz.draw_frame(ax, pose, None)  # the visible keypoints' box
    assert art.border is None and ax.yaxis_inverted()
    lo, hi = sorted(ax.get_xlim())
    assert lo <= pose[:, 0].min() and hi >= pose[:, 0].max()
    ax.set(xlim=(0, 50), ylim=(50, 0))
    viz.draw_frame(ax, pose, None, alpha=0.5, set_limits=False)  # an overlay keeps the caller's limits
    assert ax.get_xlim() == (0, 50) and len(ax.images) == 2
    plt.close(fig)


def test_plot_grid_layout():
    clips = [waving_motion(6) for _ in range(3)]
    fig = viz.plot_grid(clips, cols=2)
    axes = fig.get_axes()
    assert len(axes) == 3 and axes[0].get_title().startswith("a person waves")
    assert len(axes[0].images) == 5                            # 5 overlaid frames, fading
    assert [im.get_alpha() for im in axes[0].images] == pytest.approx(np.linspace(0.2, 1.0, 5))
    plt.close(fig)
    fig = viz.plot_grid(clips[:2], frame_index=-1, captions=["one", None], layout="filmstrip")
    assert len(fig.get_axes()) == 2 and len(fig.get_axes()[0].images) == 1
    plt.close(fig)
    fig = viz.plot_grid(clips[:2], closeups=True)
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert len(titles) == 2 * 4 and titles[1:4] == ["right hand", "face", "left hand"]
    plt.close(fig)
    small = waving_motion(6, height=150.0)
    fig = viz.plot_grid([clips[0], small], same_scale=True)
    spans = [np.ptp(ax.get_xlim()) for ax in fig.get_axes()]
    assert spans[0] == pytest.approx(spans[1])
    plt.close(fig)
    with pytest.raises(ValueError, match="frame_index"):
        viz.plot_grid(clips, frame_index=6)
    with pytest.raises(ValueError, match="layout"):
        viz.plot_grid(clips, layout="movie")
