"""The 3D figure and its animation: forward kinematics, joint limits, bone lengths, ground contact."""
import numpy as np
import pytest

from tenderlib.synthetic import actions, face, figure, hand
from tenderlib.synthetic.program import ACTIONS, BodySegment, Program

SHAPE = figure.BodyShape()
BONES = [(5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16), (5, 6), (11, 12),
         (15, 17), (15, 19), (16, 20), (16, 22), (91, 92), (96, 97), (112, 125), (0, 1), (0, 2), (3, 4)]


def _still(pose_deg: dict, T: int = 3):
    pose = np.tile(figure.REST_POSE, (T, 1))
    for name, deg in pose_deg.items():
        pose[:, figure.DOF_INDEX[name]] = np.deg2rad(deg)
    w = np.zeros((T, face.NUM_CHANNELS))
    h = np.tile(hand.POSES["relaxed"], (T, 1, 1))
    return figure.forward_kinematics(pose, SHAPE, w, (h, h)).points


def _animate(program, seed=0, fps=30.0):
    rng = np.random.default_rng(seed)
    anim = actions.animate(program, fps, rng)
    kin = figure.forward_kinematics(anim.pose, SHAPE, anim.face_weights, anim.hand_angles)
    root = figure.ground(kin.points, anim.airborne)
    return anim, kin.points + root[:, None, :]


def test_rest_pose_proportions():
    p = _still({})[0]
    # shoulders at +-shoulder_half, left (+x) is the person's left
    assert p[5, 0] == pytest.approx(SHAPE.shoulder_half, abs=1e-9) and p[6, 0] == pytest.approx(-SHAPE.shoulder_half)
    assert p[11, 0] > 0 > p[12, 0]
    # shoulders sit a spine length above the hips; the head is above the shoulders and faces +z
    assert p[5, 1] - p[11, 1] == pytest.approx(SHAPE.spine, abs=1e-9)
    assert p[0, 1] > p[5, 1] and p[0, 2] > p[3, 2]
    # toes point forward, heels back
    assert p[17, 2] > p[15, 2] > p[19, 2]


def test_arm_raised_sideways_hand_computed():
    # left arm straight out to the side: plane 90, elevation 90, elbow straight
    p = _still({"l_sh_plane": 90, "l_sh_elev": 90, "l_elbow": 0})[0]
    shoulder, wrist = p[5], p[9]
    np.testing.assert_allclose(wrist - shoulder, [SHAPE.upper_arm + SHAPE.forearm, 0, 0], atol=1e-9)
    # right arm straight forward: plane 0, elevation 90
    p = _still({"r_sh_plane": 0, "r_sh_elev": 90, "r_elbow": 0})[0]
    np.testing.assert_allclose(p[10] - p[6], [0, 0, SHAPE.upper_arm + SHAPE.forearm], atol=1e-9)
    # thigh flexed 90 deg points forward, a 90 deg knee hangs the shank down
    p = _still({"l_hip_flex": 90, "l_knee": 90, "l_hip_abd": 0, "l_hip_rot": 0})[0]
    np.testing.assert_allclose(p[13] - p[11], [0, 0, SHAPE.thigh], atol=1e-9)
    np.testing.assert_allclose(p[15] - p[13], [0, -SHAPE.shank, 0], atol=1e-9)


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_keeps_bone_lengths_limits_and_floor(action):
    spec = ACTIONS[action]
    side = spec.sides[0] if spec.sided else "none"
    prog = Program((BodySegment(action, side, spec.reps[0]),), "wiggle", "both", "talk", "nod")
    anim, pts = _animate(prog)
    assert np.isfinite(pts).all()
    lengths = np.linalg.norm(pts[:, [a for a, _ in BONES]] - pts[:, [b for _, b in BONES]], axis=-1)  # (T, B)
    np.testing.assert_allclose(lengths, np.broadcast_to(lengths[0], lengths.shape), rtol=1e-6, atol=1e-9)
    assert (anim.pose >= figure.LIMITS[:, 0] - 1e-12).all() and (anim.pose <= figure.LIMITS[:, 1] + 1e-12).all()
    feet_low = pts[:, 15:23][:, [0, 1] + list(range(2, 8))][..., 1].min(axis=1)
    grounded = anim.airborne == 0
    np.testing.assert_allclose(feet_low[grounded], 0.0, atol=1e-9)


@pytest.mark.parametrize("action", ["stand", "wave", "clap", "squat", "bow", "punch", "raise_arm"])
def test_standing_feet_do_not_slide(action):
    spec = ACTIONS[action]
    prog = Program((BodySegment(action, spec.sides[-1] if spec.sided else "none", spec.reps[0] + 1),))
    _, pts = _animate(prog, seed=3)
    for heel, toe in ((19, 17), (22, 20)):
        for k in (heel, toe):
            drift = np.linalg.norm(pts[:, k, [0, 2]] - pts[0, k, [0, 2]], axis=1).max()
            assert drift < 0.03, f"{action}: foot point {k} slides {drift:.3f} m"


def test_walking_moves_forward_and_turning_turns():
    _, pts = _animate(Program((BodySegment("walk", "none", 4),)))
    hips = pts[:, 11:13].mean(axis=1)
    assert hips[-1, 2] - hips[0, 2] > 1.0          # metres forward (+z) in four strides
    assert abs(hips[-1, 0] - hips[0, 0]) < 0.5
    anim, _ = _animate(Program((BodySegment("turn", "left", 1, amplitude=1.2),)))
    yaw = anim.pose[:, figure.DOF_INDEX["root_yaw"]]
    assert np.rad2deg(yaw[-1] - yaw[0]) == pytest.approx(180, abs=20)


def test_one_sided_actions_move_their_side():
    for side, moved, still in (("left", 9, 10), ("right", 10, 9)):
        _, pts = _animate(Program((BodySegment("raise_arm", side, 1),)))
        assert pts[:, moved, 1].max() - pts[0, moved, 1] > 0.8      # the wrist goes far up
        assert pts[:, still, 1].max() - pts[0, still, 1] < 0.15
    _, pts = _animate(Program((BodySegment("kick", "right", 1),)))
    assert pts[:, 16, 1].max() > pts[:, 15, 1].max() + 0.2            # the right ankle rises


def test_animation_is_deterministic_and_sequenced():
    prog = Program((BodySegment("wave", "left", 3), BodySegment("squat", "none", 1)), "peace", "right", "smile", "shake")
    a1, p1 = _animate(prog, seed=7)
    a2, p2 = _animate(prog, seed=7)
    np.testing.assert_array_equal(p1, p2)
    assert set(np.unique(a1.segment_of_frame)) == {0, 1}
    first = a1.segment_of_frame == 0
    assert np.diff(a1.segment_of_frame).min() >= 0                    # segments play in order
    # the wave happens in the first segment, the squat (hips drop) in the second
    assert p1[first, 9, 1].max() > p1[first, 5, 1].max()
    hip_y = p1[:, 11, 1]
    assert hip_y[~first].min() < hip_y[first].min() - 0.2


def test_bad_program_names_raise():
    with pytest.raises(ValueError, match="allowed"):
        BodySegment("moonwalk")
    with pytest.raises(ValueError, match="side"):
        BodySegment("wave", "none")
    with pytest.raises(ValueError, match="expression"):
        Program((BodySegment("stand"),), expression="smug")


def test_program_vocabularies_are_known_to_the_face_and_hand_models():
    from tenderlib.synthetic import program
    assert set(program.GESTURES) <= set(hand.GESTURES)
    assert set(program.EXPRESSIONS) <= set(face.EXPRESSIONS)
