"""Tests of tenderlib.synthetic.face: the 68-point template, expression channels and their time courses."""
import numpy as np
import pytest

from tenderlib.synthetic import face

# Horizontal-flip permutation of the 133 COCO-WholeBody keypoints, transcribed from
# docs/conventions.md section 3 (position i holds the index that moves to i).
FLIP_GLOBAL = (
    [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 20, 21, 22, 17, 18, 19]
    + [39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23]
    + [49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 50, 51, 52, 53, 58, 57, 56, 55, 54]
    + [68, 67, 66, 65, 70, 69, 62, 61, 60, 59, 64, 63]
    + [77, 76, 75, 74, 73, 72, 71, 82, 81, 80, 79, 78, 87, 86, 85, 84, 83, 90, 89, 88]
    + list(range(112, 133)) + list(range(91, 112))
)
FACE_FLIP = np.array(FLIP_GLOBAL[23:91]) - 23          # local face indices 0-67
MIRROR = np.array([-1.0, 1.0, 1.0])
K = face.NUM_CHANNELS
CH = {name: k for k, name in enumerate(face.EXPRESSION_CHANNELS)}


def one_hot(*names, value=1.0, frames=1):
    w = np.zeros((frames, K))
    for n in names:
        w[:, CH[n]] = value
    return w


def quiet(expression, num_frames=90, fps=30.0, seed=0, **kw):
    """Expression weights without spontaneous blinks or idle drift (deterministic shapes)."""
    kw.setdefault("blink_rate", 0.0)
    kw.setdefault("idle", 0.0)
    return face.expression_weights(expression, num_frames, fps, np.random.default_rng(seed), **kw)


def test_flip_permutation_is_an_involution():
    assert len(FLIP_GLOBAL) == 133 and sorted(FLIP_GLOBAL) == list(range(133))
    assert np.array_equal(FACE_FLIP[FACE_FLIP], np.arange(68))


def test_template_shape_and_scale():
    assert face.TEMPLATE.shape == (68, 3) == (face.NUM_FACE_POINTS, 3)
    # head height (vertex to chin) is 1 template unit; the chin (8) is the lowest landmark
    assert face.HEAD_TOP[1] - face.TEMPLATE[8, 1] == pytest.approx(1.0)
    assert np.argmin(face.TEMPLATE[:, 1]) == 8
    pts = face.face_points(np.zeros((2, K)), 0.23)
    np.testing.assert_allclose(pts, np.broadcast_to(face.TEMPLATE * 0.23, (2, 68, 3)))


def test_template_is_symmetric_under_the_reference_flip_pairs():
    np.testing.assert_allclose(face.TEMPLATE[FACE_FLIP] * MIRROR, face.TEMPLATE, atol=1e-12)


def test_side_convention_subject_right_is_minus_x():
    t = face.TEMPLATE
    assert t[0, 0] < 0 < t[16, 0]                         # jaw 0 on the subject's right
    assert t[face.EYE_R, 0].max() < 0 < t[face.EYE_L, 0].min()
    assert t[face.BROW_R, 0].max() < 0 < t[face.BROW_L, 0].min()
    assert t[36, 0] < t[39, 0] and t[45, 0] > t[42, 0]    # outer corners lateral of inner ones
    assert t[48, 0] < 0 < t[54, 0]
    assert np.argmax(t[:, 2]) == 30                       # the nose tip protrudes most
    assert t[8, 2] > t[0, 2] + 0.2                        # the jaw wraps back toward the ears


def test_head_points_consistent_with_template():
    h = 0.2
    hp = face.head_points(h)                              # nose, left_eye, right_eye, left_ear, right_ear
    assert hp.shape == (5, 3)
    np.testing.assert_allclose(hp[0], face.TEMPLATE[30] * h)
    np.testing.assert_allclose(hp[1], face.TEMPLATE[42:48].mean(0) * h)
    np.testing.assert_allclose(hp[2], face.TEMPLATE[36:42].mean(0) * h)
    assert hp[1, 0] > 0 > hp[2, 0] and hp[3, 0] > 0 > hp[4, 0]
    np.testing.assert_allclose(hp[3] + hp[4], 0.0, atol=1e-12)    # origin = midpoint of the ears
    assert abs(hp[3, 0]) > abs(face.TEMPLATE[:, 0]).max() * h        # ears at the sides of the head
    assert hp[3, 2] < hp[1, 2] and hp[0, 2] > hp[1, 2]              # ears behind the eyes, nose in front


@pytest.mark.parametrize("channel", [c for c in face.EXPRESSION_CHANNELS if not c.startswith("blink")])
def test_each_expression_channel_is_symmetric(channel):
    pts = face.face_points(one_hot(channel), 1.0)[0]
    np.testing.assert_allclose(pts[FACE_FLIP] * MIRROR, pts, atol=1e-12)
    assert np.abs(pts - face.TEMPLATE).max() > 0.005      # and does something


def test_blink_left_mirrors_blink_right():
    left = face.face_points(one_hot("blink_left", "smile", value=0.7), 1.0)[0]
    right = face.face_points(one_hot("blink_right", "smile", value=0.7), 1.0)[0]
    np.testing.assert_allclose(left[FACE_FLIP] * MIRROR, right, atol=1e-12)


def test_linear_channels_combine_linearly():
    w1, w2 = one_hot("smile", value=0.4), one_hot("mouth_open", "brow_raise", value=0.5)
    base = face.face_points(np.zeros((1, K)), 1.0)
    np.testing.assert_allclose(face.face_points(w1 + w2, 1.0),
                               face.face_points(w1, 1.0) + face.face_points(w2, 1.0) - base, atol=1e-12)


def test_eye_aspect_ratio_matches_hand_computed_formula():
    p = face.TEMPLATE
    d = lambda i, j: np.linalg.norm(p[i] - p[j])  # noqa: E731
    expected = (d(37, 41) + d(38, 40)) / (2 * d(36, 39))
    assert face.eye_aspect_ratio(p, "right") == pytest.approx(expected)
    assert 0.25 <= expected <= 0.35                       # open eye (reference section 7.4)


def test_mouth_open_increases_inner_lip_gap_monotonically():
    w = np.zeros((5, K))
    w[:, CH["mouth_open"]] = np.linspace(0, 1, 5)
    pts = face.face_points(w, 0.23)
    gap = np.linalg.norm(pts[:, 62] - pts[:, 66], axis=-1)
    assert np.all(np.diff(gap) > 0)
    assert 0.02 < gap[-1] < 0.06                          # wide open: 20-60 mm (max opening 40-60 mm)


@pytest.mark.parametrize("extra", [None, "surprise", "squint", "brow_raise"])
def test_blink_closes_the_eye_whatever_the_other_channels(extra):
    names = ("blink_left", "blink_right") + ((extra,) if extra else ())
    pts = face.face_points(one_hot(*names), 1.0)[0]
    for side in ("left", "right"):
        assert face.eye_aspect_ratio(pts, side) < 0.05


def test_deliberate_blink_closes_and_reopens():
    w = quiet("blink", num_frames=120, onset=0.5)
    ear = face.eye_aspect_ratio(face.face_points(w, 0.23), "left")       # (T,)
    assert ear[:15].min() > 0.25                                          # open before the onset
    closed = np.flatnonzero(ear < 0.15)
    assert closed.size >= 5                                               # slow: closed for a while
    assert (ear[closed[0]:] > 0.25).any()                                 # and opens again


def test_spontaneous_blinks_rate_and_duration():
    fps, rate = 30.0, 20.0
    w = face.expression_weights("neutral", int(600 * fps), fps, np.random.default_rng(3),
                                blink_rate=rate, idle=0.0)
    b = w[:, CH["blink_left"]]
    np.testing.assert_array_equal(b, w[:, CH["blink_right"]])             # both eyes
    on = b > 0
    starts = np.flatnonzero(on[1:] & ~on[:-1])
    ends = np.flatnonzero(~on[1:] & on[:-1])
    per_minute = starts.size / 10.0
    assert 16 <= per_minute <= 24                                         # 20 +- 20%
    assert (ends[: starts.size] - starts[: ends.size]).max() / fps <= 0.3 + 1 / fps   # 100-300 ms each
    peaks = [b[s:e + 2].max() for s, e in zip(starts, ends[ends > starts[0]])]
    assert min(peaks) == pytest.approx(1.0)                               # each fully closes on a frame


def test_talk_opens_the_mouth_at_syllable_rate():
    fps = 50.0
    w = quiet("talk", num_frames=int(20 * fps), fps=fps, onset=0.0, seed=5)
    m = w[:, CH["mouth_open"]]
    peaks = np.flatnonzero((m[1:-1] > m[:-2]) & (m[1:-1] >= m[2:]) & (m[1:-1] > 0.05))
    rate = peaks.size / 20.0
    assert 2.5 <= rate <= 5.5                                             # 3-5 Hz, minus phrase breaks
    assert m.max() <= 0.45 + 1e-9 and m.min() == 0.0


def test_ease_in_and_out_of_a_static_expression():
    fps = 100.0
    w = quiet("smile", num_frames=300, fps=fps, onset=0.5, offset=2.0, ramp=0.3, intensity=0.5)
    s = w[:, CH["smile"]]
    t = np.arange(300) / fps
    assert np.all(s[t <= 0.5] == 0) and np.all(s[t >= 2.3] == 0)
    np.testing.assert_allclose(s[(t >= 0.8) & (t <= 2.0)], 0.5 * 0.8)    # held: intensity x target
    rise = s[(t > 0.5) & (t < 0.8)]
    assert np.all(np.diff(rise) > 0)
    assert rise[0] < 0.01 and rise[-1] > 0.39                             # smooth start and landing


@pytest.mark.parametrize("expression", face.EXPRESSIONS)
def test_every_expression_gives_weights_in_range_and_is_deterministic(expression):
    a = face.expression_weights(expression, 100, 30.0, np.random.default_rng(11))
    b = face.expression_weights(expression, 100, 30.0, np.random.default_rng(11))
    assert a.shape == (100, K) and a.dtype == np.float64
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, face.expression_weights(expression, 100, 30.0, np.random.default_rng(12)))


@pytest.mark.parametrize("expression", face.EXPRESSIONS)
def test_onset_after_the_clip_leaves_the_face_neutral(expression):
    np.testing.assert_array_equal(quiet(expression, num_frames=30, onset=5.0), 0.0)


def test_single_frame_and_negative_onset():
    w = quiet("surprise", num_frames=1, onset=-1.0)
    assert w.shape == (1, K) and w[0, CH["surprise"]] == pytest.approx(0.9)


def test_bad_input_raises_clear_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"expression 'grin'.*allowed: neutral, smile"):
        face.expression_weights("grin", 10, 30, rng)
    with pytest.raises(ValueError, match="num_frames"):
        face.expression_weights("smile", 0, 30, rng)
    with pytest.raises(ValueError, match="fps"):
        face.expression_weights("smile", 10, 0, rng)
    with pytest.raises(ValueError, match="intensity"):
        face.expression_weights("smile", 10, 30, rng, intensity=1.5)
    with pytest.raises(ValueError, match="blink_rate"):
        face.expression_weights("smile", 10, 30, rng, blink_rate=100)
    with pytest.raises(ValueError, match="offset"):
        face.expression_weights("smile", 10, 30, rng, onset=1.0, offset=1.1)
    with pytest.raises(ValueError, match=r"weights must have shape \(T, 12\)"):
        face.face_points(np.zeros((3, 5)), 0.2)
    with pytest.raises(ValueError, match="head_height"):
        face.face_points(np.zeros((3, K)), -1.0)
    with pytest.raises(ValueError, match="head_height"):
        face.head_points(0.0)
    with pytest.raises(ValueError, match="side"):
        face.eye_aspect_ratio(face.TEMPLATE, "middle")
