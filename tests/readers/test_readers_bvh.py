"""BVH: parsing, forward kinematics against hand-computed positions, broken files, COCO mapping."""
from __future__ import annotations

import numpy as np
import pytest

from tenderlib.synthetic.face import head_points
from tenderlib.readers.bvh import (
    BVHError, MappingConfig, find_joints, forward_kinematics, parse_bvh, read_bvh, to_coco,
)
from tenderlib.data.skeleton import KEYPOINT_INDEX, REGIONS

TINY = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Arm
  {
    OFFSET 0 10 0
    CHANNELS 3 Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 0 5
    }
  }
  JOINT Slide
  {
    OFFSET 7 7 7
    CHANNELS 4 Yposition Zrotation Yrotation Xrotation
  }
}
MOTION
Frames: 2
Frame Time: 0.04
0 0 0 0 0 0  0 0 0  7 0 0 0
1 2 3 90 0 0  90 0 0  -4 0 90 90
"""


def test_forward_kinematics_matches_hand_computed_positions():
    bvh = parse_bvh(TINY, "tiny")
    assert bvh.names == ("Hips", "Arm", "Arm_End", "Slide") and bvh.parents.tolist() == [-1, 0, 1, 0]
    assert bvh.num_frames == 2 and bvh.fps == pytest.approx(25.0)
    assert bvh.channels[1] == ("Xrotation", "Yrotation", "Zrotation")
    pos, rot = forward_kinematics(bvh)
    # frame 0, rest: offsets add up (Slide's Yposition channel = 7 replaces its offset's y = 7)
    np.testing.assert_allclose(pos[0], [[0, 0, 0], [0, 10, 0], [0, 10, 5], [7, 7, 7]], atol=1e-12)
    # frame 1 by hand. Root at (1, 2, 3), R = Rz(90): x -> y, y -> -x.
    #   Arm = root + Rz90 (0, 10, 0) = (1 - 10, 2, 3)
    #   Arm rotation Rx(90) (y -> z, z -> -y): End = Arm + Rz90 Rx90 (0, 0, 5) = Arm + Rz90 (0, -5, 0) = Arm + (5, 0, 0)
    #   Slide: local translation (7, -4, 7) (Yposition replaces the offset's y); world = root + Rz90 (7, -4, 7)
    #          = (1 + 4, 2 + 7, 3 + 7); its rotation Rz(0) Ry(90) Rx(90) is composed in channel order
    np.testing.assert_allclose(pos[1], [[1, 2, 3], [-9, 2, 3], [-4, 2, 3], [5, 9, 10]], atol=1e-9)
    Rz90 = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    Ry90 = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0.0]])
    Rx90 = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0.0]])
    np.testing.assert_allclose(rot[1, 1], Rz90 @ Rx90, atol=1e-12)
    np.testing.assert_allclose(rot[1, 3], Rz90 @ Ry90 @ Rx90, atol=1e-12)
    assert not np.allclose(Ry90 @ Rx90, Rx90 @ Ry90)  # the order matters, so the test can tell


BROKEN = {
    "no-motion": (TINY.split("MOTION")[0], "bvh-motion", "no MOTION section"),
    "unbalanced": (TINY.replace("      OFFSET 0 0 5\n    }", "      OFFSET 0 0 5\n"), "bvh-hierarchy",
                   "broken hierarchy"),
    "bad-channel": (TINY.replace("Xrotation Yrotation Zrotation", "Xrotation Yrotation Wrotation"), "bvh-hierarchy",
                    "CHANNELS of 'Arm': unknown channel(s) ['Wrotation']"),
    "no-offset": (TINY.replace("    OFFSET 0 10 0\n", ""), "bvh-hierarchy", "expected 'OFFSET', got 'CHANNELS'"),
    "short-offset": (TINY.replace("OFFSET 0 10 0", "OFFSET 0 10"), "bvh-hierarchy", "OFFSET of 'Arm' needs 3 numbers"),
    "stray-word": (TINY.replace("  JOINT Slide", "  BONE Slide"), "bvh-hierarchy", "expected JOINT, End Site or '}'"),
    "no-root": (TINY.replace("ROOT Hips", "JOINT Hips"), "bvh-hierarchy", "expected ROOT"),
    "truncated": (TINY[:-12], "bvh-motion", "motion data has 22 values, expected Frames x channels = 2 x 13 = 26"),
    "frames-header": (TINY.replace("Frames: 2", "Frames 2"), "bvh-motion", "Frames: N"),
    "nan": (TINY.replace("-4 0 90 90", "-4 0 nan 90"), "nonfinite", "NaN"),
    "text": (TINY.replace("-4 0 90 90", "-4 0 ninety 90"), "bvh-motion", "not a number"),
    "zero-frames": (TINY.split("Frames:")[0] + "Frames: 0\nFrame Time: 0.04\n", "empty", "empty sequence"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_raise_with_the_line_and_the_problem(name):
    text, kind, words = BROKEN[name]
    with pytest.raises(BVHError) as info:
        parse_bvh(text, "broken.bvh")
    assert info.value.kind == kind and words in str(info.value) and "broken.bvh" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_line_numbers_point_at_the_problem():
    with pytest.raises(BVHError, match="at line 9: CHANNELS of 'Arm': unknown channel"):
        parse_bvh(BROKEN["bad-channel"][0])


# ---------------------------------------------------------------------------------------------
# A small humanoid (CMU / Mixamo names), metres, y up, facing +z with its left at +x

BONES = [  # name, parent, offset
    ("Hips", None, (0, 0.95, 0)),
    ("LeftUpLeg", "Hips", (0.09, -0.05, 0)), ("LeftLeg", "LeftUpLeg", (0, -0.42, 0)),
    ("LeftFoot", "LeftLeg", (0, -0.42, 0)), ("LeftToeBase", "LeftFoot", (0, -0.05, 0.12)),
    ("RightUpLeg", "Hips", (-0.09, -0.05, 0)), ("RightLeg", "RightUpLeg", (0, -0.42, 0)),
    ("RightFoot", "RightLeg", (0, -0.42, 0)), ("RightToeBase", "RightFoot", (0, -0.05, 0.12)),
    ("Spine", "Hips", (0, 0.1, 0)), ("Spine1", "Spine", (0, 0.2, 0)), ("Neck", "Spine1", (0, 0.2, 0)),
    ("Head", "Neck", (0, 0.1, 0)),
    ("LeftShoulder", "Spine1", (0.03, 0.17, 0)), ("LeftArm", "LeftShoulder", (0.15, 0, 0)),
    ("LeftForeArm", "LeftArm", (0.28, 0, 0)), ("LeftHand", "LeftForeArm", (0.25, 0, 0)),
    ("RightShoulder", "Spine1", (-0.03, 0.17, 0)), ("RightArm", "RightShoulder", (-0.15, 0, 0)),
    ("RightForeArm", "RightArm", (-0.28, 0, 0)), ("RightHand", "RightForeArm", (-0.25, 0, 0)),
]
FINGERS = [(f"LeftHand{f}{k}", f"LeftHand{f}{k - 1}" if k > 1 else "LeftHand", (0.03, 0, 0.01 * i))
           for i, f in enumerate(("Thumb", "Index", "Middle", "Ring", "Pinky")) for k in (1, 2, 3)]


def humanoid_bvh(bones=BONES, transform=np.eye(3), scale=1.0, frames=3, yaw_deg=0.0, names=None) -> str:
    """BVH text: offsets mapped by `transform` and `scale`, every frame the root turned by yaw_deg about y."""
    names = names or {}
    kids = {}
    for name, parent, _ in bones:
        kids.setdefault(parent, []).append(name)
    off = {name: transform @ np.array(o, float) * scale for name, _, o in bones}
    lines = ["HIERARCHY"]

    def emit(name, depth):
        pad = "  " * depth
        lines.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {names.get(name, name)}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in off[name])}")
        chans = ("6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if depth == 0
                 else "3 Zrotation Xrotation Yrotation")
        lines.append(f"{pad}  CHANNELS {chans}")
        for k in kids.get(name, []):
            emit(k, depth + 1)
        if name not in kids:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 0 0.02", pad + "  }"])
        lines.append(pad + "}")

    emit(bones[0][0], 0)
    n_ch = 6 + 3 * (len(bones) - 1)
    root = off[bones[0][0]]
    # the yaw is about the file's up axis: transform @ y
    up = transform @ np.array([0, 1.0, 0])
    rot = {0: "Xrotation", 1: "Yrotation", 2: "Zrotation"}[int(np.argmax(np.abs(up)))]
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0333333"]
    for _ in range(frames):
        row = np.zeros(n_ch)
        row[:3] = root
        row[3 + ("Zrotation", "Xrotation", "Yrotation").index(rot)] = yaw_deg * np.sign(up.sum())
        lines.append(" ".join(f"{v:.6f}" for v in row))
    return "\n".join(lines) + "\n"


def _coco(text, **cfg):
    return to_coco(parse_bvh(text, "humanoid"), MappingConfig(**cfg))


def test_mapping_puts_coco_joints_at_the_skeleton_joints():
    pose = _coco(humanoid_bvh())
    P = pose.points[0]
    assert pose.units == "m" and pose.up_axis == "y" and not pose.mirrored
    assert pose.stature == pytest.approx(0.84 / 0.491)
    np.testing.assert_allclose(pose.facing, np.tile([0, 0, 1.0], (3, 1)), atol=1e-12)
    floor = P[KEYPOINT_INDEX["left_hip"], 1] - 0.90
    for name, xyz in (("left_hip", (0.09, 0.90, 0)), ("right_knee", (-0.09, 0.48, 0)), ("left_ankle", (0.09, 0.06, 0)),
                      ("left_shoulder", (0.18, 1.42, 0)), ("right_elbow", (-0.46, 1.42, 0)),
                      ("left_wrist", (0.71, 1.42, 0))):
        np.testing.assert_allclose(P[KEYPOINT_INDEX[name]] - [0, floor, 0], xyz, atol=1e-9, err_msg=name)
    # head: tenderlib.synthetic.face.head_points at ear level, 0.378 stature above the hip joints
    S = pose.stature
    origin = np.array([0, 0.90 + 0.378 * S, 0])
    np.testing.assert_allclose(P[:5] - [0, floor, 0], origin + head_points(0.13 * S), atol=1e-9)
    # feet: tenderlib.synthetic.figure's offsets; heel under the ankle and behind it, toes ahead
    lb, ls, lh = (P[KEYPOINT_INDEX[f"left_{n}"]] - [0, floor, 0] for n in ("big_toe", "small_toe", "heel"))
    np.testing.assert_allclose(lh, [0.09, 0.06 - 0.039 * S, -0.045 * S], atol=1e-9)
    np.testing.assert_allclose(lb, [0.09 - 0.018 * S, 0.06 - 0.039 * S, 0.108 * S], atol=1e-9)
    assert ls[0] > 0.09 > lb[0]  # the small toe is outward, the big toe inward
    assert P[pose.present, 1].min() == pytest.approx(0.0)  # floor at y = 0
    # face and (finger-less) hands absent
    body_feet = np.arange(REGIONS["foot"].stop)
    assert pose.present[body_feet].all() and not pose.present[REGIONS["foot"].stop:].any()
    assert not pose.points[:, ~pose.present].any()


@pytest.mark.parametrize("variant", ["cm", "inch", "z-up", "mirrored", "turned"])
def test_units_up_axis_mirroring_and_turns_are_undone(variant):
    ref = _coco(humanoid_bvh())
    z_up = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0.0]])  # world (x, y, z) -> file (x, -z, y)
    text = {
        "cm": humanoid_bvh(scale=100), "inch": humanoid_bvh(scale=1 / 0.0254), "z-up": humanoid_bvh(transform=z_up),
        "mirrored": humanoid_bvh(transform=np.diag([-1.0, 1, 1])), "turned": humanoid_bvh(yaw_deg=90),
    }[variant]
    pose = _coco(text)
    expected = ref.points
    if variant == "turned":  # the whole figure turned by +90 degrees about y (facing +x)
        Ry = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0.0]])
        expected = np.where(ref.present[None, :, None], ref.points @ Ry.T, 0.0)
        np.testing.assert_allclose(pose.facing[0], [1, 0, 0], atol=1e-9)
    np.testing.assert_allclose(pose.points, expected, atol=1e-6)
    assert pose.units == {"cm": "cm", "inch": "inch"}.get(variant, "m")
    assert pose.up_axis == ("z" if variant == "z-up" else "y") and pose.mirrored == (variant == "mirrored")


def test_fingers_make_the_hand_present_and_other_naming_schemes_map():
    pose = _coco(humanoid_bvh(BONES + FINGERS))
    left, right = REGIONS["left_hand"], REGIONS["right_hand"]
    assert pose.present[left].all() and not pose.present[right].any()
    np.testing.assert_allclose(pose.points[0, left.start], pose.points[0, KEYPOINT_INDEX["left_wrist"]])
    thumb_tip = pose.points[0, left.start + 4] - pose.points[0, KEYPOINT_INDEX["left_wrist"]]
    np.testing.assert_allclose(thumb_tip, [0.09, 0, 0.02], atol=1e-9)  # 3 x (0.03, 0, 0) + End Site (0, 0, 0.02)
    bandai = {"LeftUpLeg": "UpperLeg_L", "LeftLeg": "LowerLeg_L", "LeftFoot": "Foot_L", "LeftToeBase": "Toes_L",
              "RightUpLeg": "UpperLeg_R", "RightLeg": "LowerLeg_R", "RightFoot": "Foot_R", "RightToeBase": "Toes_R",
              "LeftShoulder": "Shoulder_L", "LeftArm": "UpperArm_L", "LeftForeArm": "LowerArm_L", "LeftHand": "Hand_L",
              "RightShoulder": "Shoulder_R", "RightArm": "UpperArm_R", "RightForeArm": "LowerArm_R",
              "RightHand": "Hand_R"}
    for names in (bandai, {k: f"mixamorig:{k}" for k, _, _ in BONES}):
        np.testing.assert_allclose(_coco(humanoid_bvh(names=names)).points, _coco(humanoid_bvh()).points, atol=1e-9)
    biped = ("Bip01 Pelvis", "Bip01 L Thigh", "Bip01 L Calf", "Bip01 L Foot", "Bip01 L Toe0", "Bip01 R Thigh",
             "Bip01 R Calf", "Bip01 R Foot", "Bip01 Neck", "Bip01 Head", "Bip01 L Clavicle", "Bip01 L UpperArm",
             "Bip01 L Forearm", "Bip01 L Hand", "Bip01 R Clavicle", "Bip01 R UpperArm", "Bip01 R Forearm",
             "Bip01 R Hand")
    joints = {role: biped[i] for role, i in find_joints(biped).items()}
    assert joints["left_shoulder"] == "Bip01 L UpperArm" and joints["left_knee"] == "Bip01 L Calf"
    assert joints["left_toe"] == "Bip01 L Toe0" and "right_toe" not in joints
    biovision = ("Hips", "LeftHip", "LeftKnee", "LeftAnkle", "RightHip", "RightKnee", "RightAnkle", "Chest", "Head",
                 "LeftCollar", "LeftShoulder", "LeftElbow", "LeftWrist", "RightCollar", "RightShoulder", "RightElbow",
                 "RightWrist")
    joints = {role: biovision[i] for role, i in find_joints(biovision).items()}
    assert joints["left_shoulder"] == "LeftShoulder" and joints["right_elbow"] == "RightElbow"  # not the collars


def test_missing_joints_and_unknown_units_are_reported(tmp_path):
    no_legs = [b for b in BONES if "Right" not in b[0] or "Arm" in b[0] or "Shoulder" in b[0] or "Hand" in b[0]]
    with pytest.raises(BVHError, match="lacks joints for right_hip") as info:
        _coco(humanoid_bvh(no_legs))
    assert info.value.kind == "bvh-skeleton"
    with pytest.raises(BVHError, match="cannot tell the units"):
        _coco(humanoid_bvh(scale=20))
    assert _coco(humanoid_bvh(scale=20), units="mm").units == "mm"  # the user knows better
    path = tmp_path / "h.bvh"
    path.write_text(humanoid_bvh())
    assert read_bvh(path).names[0] == "Hips"
    with pytest.raises(ValueError, match="units must be one of"):
        MappingConfig(units="furlong")
