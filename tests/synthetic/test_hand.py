"""Tests of tenderlib.synthetic.hand: finger forward kinematics, joint limits and gestures."""
import numpy as np
import pytest

from tenderlib.synthetic import hand

L = 0.19                                     # hand length, metres
CHAINS = [[0] + list(range(1 + 4 * f, 5 + 4 * f)) for f in range(5)]   # wrist -> tip, per finger
BONES = [(c[i], c[i + 1]) for c in CHAINS for i in range(4)]           # the 20 edges of section 2.2


def pose_points(name, side="right", length=L):
    return hand.hand_points(hand.POSES[name][None], length, side)[0]


def straightness(pts, finger):
    """Base-to-tip distance over the chain length from the finger's first joint: 1 = straight."""
    c = CHAINS[finger][1:]
    chain = np.linalg.norm(np.diff(pts[c], axis=0), axis=-1).sum()
    return np.linalg.norm(pts[c[-1]] - pts[c[0]]) / chain


def extended(pts):
    return [bool(straightness(pts, f) > 0.9) for f in range(5)]


def random_angles(rng, frames, margin_deg=30.0):
    """Angles spread over and beyond the joint limits."""
    lo, hi = hand.JOINT_LIMITS[..., 0], hand.JOINT_LIMITS[..., 1]
    m = np.deg2rad(margin_deg)
    return rng.uniform(lo - m, hi + m, (frames, 5, 4))


def test_reference_edges_match_the_chains():
    assert sorted(BONES) == sorted([(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9),
                                    (9, 10), (10, 11), (11, 12), (0, 13), (13, 14), (14, 15), (15, 16),
                                    (0, 17), (17, 18), (18, 19), (19, 20)])


def test_hand_length_is_wrist_to_middle_fingertip_when_straight():
    pts = hand.hand_points(np.zeros((1, 5, 4)), L, "right")[0]
    assert pts.shape == (21, 3)
    np.testing.assert_allclose(pts[12], [0.0, L, 0.0], atol=1e-12)      # along +y, hand length away
    np.testing.assert_allclose(pts[9, [0, 2]], 0.0, atol=1e-12)         # middle MCP on the +y axis
    np.testing.assert_allclose(pts[0], 0.0)
    assert pts[8, 1] < pts[12, 1] and pts[20, 1] < pts[16, 1]           # index, little shorter
    assert pts[5, 0] > pts[9, 0] > pts[13, 0] > pts[17, 0]              # MCPs across the palm
    assert pts[4, 0] > pts[8, 0]                                         # right thumb on +x
    assert pts[8, 0] - pts[5, 0] > 0 and pts[20, 0] - pts[17, 0] < 0    # natural splay


def test_flexion_is_hand_computed_for_a_single_joint():
    a = np.zeros((1, 5, 4))
    a[0, 1, 1] = np.pi / 2                                               # index MCP flexed 90 deg
    pts = hand.hand_points(a, 1.0, "right")[0]
    np.testing.assert_allclose(pts[8], hand.BASES[1] + [0, 0, hand.SEGMENTS[1].sum()], atol=1e-12)
    a[0, 1, 1] = 0.0
    a[0, 2, 0] = np.deg2rad(10)                                          # middle abducted toward the thumb
    pts = hand.hand_points(a, 1.0, "right")[0]
    np.testing.assert_allclose(pts[12], hand.BASES[2] + hand.SEGMENTS[2].sum()
                               * np.array([np.sin(np.deg2rad(10)), np.cos(np.deg2rad(10)), 0.0]), atol=1e-12)


def test_thumb_moves_palmar_with_abduction_and_across_with_flexion():
    a = np.zeros((3, 5, 4))
    a[1, 0, 0] = np.deg2rad(45)                                          # palmar abduction
    a[2, 0, 1] = np.deg2rad(40)                                          # CMC flexion
    pts = hand.hand_points(a, 1.0, "right")
    assert pts[1, 4, 2] > pts[0, 4, 2] + 0.1                             # lifts in front of the palm
    assert pts[2, 4, 0] < pts[0, 4, 0] - 0.1                             # sweeps toward the little finger


def test_fk_preserves_bone_lengths_over_time():
    rng = np.random.default_rng(0)
    pts = hand.hand_points(random_angles(rng, 200), L, "right")          # (T, 21, 3)
    i, j = np.array(BONES).T
    lengths = np.linalg.norm(pts[:, i] - pts[:, j], axis=-1)             # (T, 20)
    np.testing.assert_allclose(lengths, np.broadcast_to(lengths[0], lengths.shape), atol=1e-12)
    segs = np.linalg.norm(np.diff(pts[:, CHAINS[2]], axis=1), axis=-1)[:, 1:]
    np.testing.assert_allclose(segs, np.broadcast_to(hand.SEGMENTS[2] * L, segs.shape), atol=1e-12)


def test_left_hand_is_the_mirror_of_the_right():
    a = random_angles(np.random.default_rng(1), 20)
    right = hand.hand_points(a, L, "right")
    left = hand.hand_points(a, L, "left")
    np.testing.assert_allclose(left, right * np.array([-1.0, 1.0, 1.0]), atol=1e-15)
    assert (left[:, 1:5, 0] < 0).all() or np.median(left[:, 4, 0]) < 0  # left thumb on -x


def test_angles_are_clipped_to_the_joint_limits():
    a = random_angles(np.random.default_rng(2), 50, margin_deg=60)
    clipped = hand.clip_angles(a)
    assert (clipped >= hand.JOINT_LIMITS[..., 0]).all() and (clipped <= hand.JOINT_LIMITS[..., 1]).all()
    np.testing.assert_array_equal(hand.hand_points(a, L, "right"), hand.hand_points(clipped, L, "right"))
    # section 7.5: MCP 0-90 (+ hyperextension), PIP 0-100, DIP 0-80/90, thumb MCP 0-55, IP 0-80
    deg = hand.JOINT_LIMITS_DEG
    assert deg[1:, 1, 1].max() == 90 and deg[1:, 2, 1].max() == 100 and deg[1:, 3, 1].max() <= 90
    assert deg[0, 2, 1] == 55 and deg[0, 3, 1] == 80 and deg[0, 0, 1] <= 45


@pytest.mark.parametrize("gesture", hand.GESTURES)
def test_every_gesture_within_limits_and_deterministic(gesture):
    a = hand.gesture_angles(gesture, 100, 30.0, np.random.default_rng(4))
    b = hand.gesture_angles(gesture, 100, 30.0, np.random.default_rng(4))
    assert a.shape == (100, 5, 4) and a.dtype == np.float64
    lo, hi = hand.JOINT_LIMITS[..., 0], hand.JOINT_LIMITS[..., 1]
    assert (a >= lo - 1e-12).all() and (a <= hi + 1e-12).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, hand.gesture_angles(gesture, 100, 30.0, np.random.default_rng(5)))


@pytest.mark.parametrize("gesture", hand.GESTURES)
def test_onset_after_the_clip_leaves_the_hand_relaxed(gesture):
    a = hand.gesture_angles(gesture, 30, 30.0, np.random.default_rng(0), onset=5.0, jitter=0.0)
    np.testing.assert_allclose(a, np.broadcast_to(hand.POSES["relaxed"], a.shape), atol=1e-12)


def test_fist_fingertips_nearer_the_wrist_than_open():
    fist, open_ = pose_points("fist"), pose_points("open")
    tips = [4, 8, 12, 16, 20]
    assert (np.linalg.norm(fist[tips], axis=-1) < 0.75 * np.linalg.norm(open_[tips], axis=-1)).all()
    for f in range(1, 5):                                                # fingertips curl back to the palm
        assert fist[4 * f + 4, 1] < fist[4 * f + 1, 1]
    assert fist[4, 2] > fist[[7, 11], 2].min() - 0.01 * L               # thumb in front of the fingers


@pytest.mark.parametrize("name, fingers_out", [
    ("point", [False, True, False, False, False]),
    ("peace", [False, True, True, False, False]),
    ("thumbs_up", [True, False, False, False, False]),
    ("rock", [False, True, False, False, True]),
    ("call_me", [True, False, False, False, True]),
    ("open", [True] * 5),
    ("fist", [False] * 5),
])
def test_static_gestures_extend_the_right_fingers(name, fingers_out):
    pts = pose_points(name)
    assert extended(pts) == fingers_out
    for f, out in enumerate(fingers_out):
        if not out and f > 0:
            assert straightness(pts, f) < 0.6                            # clearly flexed, not half


def test_peace_fingers_spread_and_ok_closes_a_circle():
    p = pose_points("peace")
    v1, v2 = p[8] - p[5], p[12] - p[9]
    assert np.degrees(np.arccos(v1 @ v2 / np.linalg.norm(v1) / np.linalg.norm(v2))) > 15
    ok = pose_points("ok")
    assert np.linalg.norm(ok[4] - ok[8]) < 0.03 * L                      # thumb tip meets index tip
    assert extended(ok)[2:] == [True, True, True]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_count_shows_n_fingers(n):
    a = hand.gesture_angles("count", 60, 30.0, np.random.default_rng(n), count=n, onset=0.0, jitter=0.0)
    pts = hand.hand_points(a, L, "left")
    assert sum(extended(pts[-1])) == n
    assert extended(pts[-1])[1]                                          # counting starts with the index


def test_count_without_number_counts_up():
    fps = 30.0
    a = hand.gesture_angles("count", int(6 * fps), fps, np.random.default_rng(0), onset=0.0)
    pts = hand.hand_points(a, L, "right")
    shown = np.array([sum(extended(p)) for p in pts[int(0.4 * fps):]])
    assert shown[0] == 1 and shown[-1] == 5
    assert (np.diff(shown) >= 0).all() and set(shown) == {1, 2, 3, 4, 5}


def test_grab_opens_then_closes_and_release_the_reverse():
    fps, rng = 30.0, np.random.default_rng(0)
    for gesture, first, last in (("grab", "open", "fist"), ("release", "fist", "open")):
        a = hand.gesture_angles(gesture, 90, fps, rng, onset=0.0, ramp=0.25, jitter=0.0)
        np.testing.assert_allclose(a[int(0.3 * fps)], hand.POSES[first], atol=1e-9)   # held after the ramp
        np.testing.assert_allclose(a[-1], hand.POSES[last], atol=1e-9)


def test_wiggle_flexes_fingers_in_sequence():
    fps = 100.0
    a = hand.gesture_angles("wiggle", 300, fps, np.random.default_rng(0), onset=0.0, jitter=0.0)
    pip = a[100:, 1:, 2]                                                 # (T, 4) PIP flexion, steady part
    assert (pip.max(0) - pip.min(0) > np.deg2rad(40)).all()             # every finger moves
    lags = [np.argmax(np.correlate(pip[:, 0] - pip[:, 0].mean(), pip[:, f] - pip[:, f].mean(), "full"))
            for f in (0, 1)]
    assert lags[0] != lags[1]                                            # index and middle out of phase


def test_ease_in_from_relaxed_and_back_with_offset():
    fps = 100.0
    a = hand.gesture_angles("fist", 300, fps, np.random.default_rng(0), onset=0.5, offset=2.0,
                            ramp=0.25, intensity=0.5, jitter=0.0)
    relaxed, fist = hand.POSES["relaxed"], hand.POSES["fist"]
    np.testing.assert_allclose(a[:50], np.broadcast_to(relaxed, (50, 5, 4)))
    np.testing.assert_allclose(a[75:200], np.broadcast_to(relaxed + 0.5 * (fist - relaxed), (125, 5, 4)))
    np.testing.assert_allclose(a[225:], np.broadcast_to(relaxed, (75, 5, 4)))
    mcp = a[50:76, 2, 1]
    assert (np.diff(mcp) > 0).all() and mcp[1] - mcp[0] < 0.05 * (mcp[-1] - mcp[0])   # eases in


def test_bad_input_raises_clear_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"gesture 'wave'.*allowed: relaxed, open"):
        hand.gesture_angles("wave", 10, 30, rng)
    with pytest.raises(ValueError, match="count"):
        hand.gesture_angles("fist", 10, 30, rng, count=2)
    with pytest.raises(ValueError, match=r"count 6.*allowed: 1, 2, 3, 4, 5"):
        hand.gesture_angles("count", 10, 30, rng, count=6)
    with pytest.raises(ValueError, match="intensity"):
        hand.gesture_angles("fist", 10, 30, rng, intensity=-0.1)
    with pytest.raises(ValueError, match="num_frames"):
        hand.gesture_angles("fist", 2.5, 30, rng)
    with pytest.raises(ValueError, match=r"side 'middle'.*allowed: left, right"):
        hand.hand_points(np.zeros((2, 5, 4)), L, "middle")
    with pytest.raises(ValueError, match=r"angles must have shape \(T, 5, 4\)"):
        hand.hand_points(np.zeros((2, 21, 3)), L, "left")
    with pytest.raises(ValueError, match="hand_length"):
        hand.hand_points(np.zeros((2, 5, 4)), 0.0, "left")
