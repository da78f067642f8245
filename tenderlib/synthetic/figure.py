"""The procedural 3D whole-body figure: proportions, joint angles, forward kinematics, ground contact.

World frame (right-handed, metres): y up, floor at y = 0, at yaw 0 the person faces +z and their
left is +x. A pose is a vector of named joint angles (`DOFS`, radians); `forward_kinematics` turns a
(T, D) angle track into the 133 COCO-WholeBody points (T, 133, 3), with the 68-point face
(tenderlib.synthetic.face) and the two 21-point hands (tenderlib.synthetic.hand) attached to the head and wrists.
`ground` then moves the root so the stance foot stays planted (no sliding) and the lowest foot
point touches the floor, except in flight.

Arm angles use swing-twist form: `sh_plane` (0 = forward, 90 deg = sideways, outward for either
side), `sh_elev` (0 = hanging, 180 deg = straight up, negative = swung behind the
body in the plane), `sh_rot` (axial, + = external), so a clap, a
wave and a T-pose are all one smooth path without gimbal lock. Anthropometry follows Drillis &
Contini (docs/conventions.md, Anthropometry).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tenderlib.synthetic import face as face_model
from tenderlib.synthetic import hand as hand_model
from tenderlib.data.skeleton import NUM_KEYPOINTS, REGIONS

# ----------------------------------------------------------------------------- joint angles
_SIDE_DOFS = ("sh_plane", "sh_elev", "sh_rot", "elbow", "pron", "wrist_flex", "wrist_dev",
              "hip_flex", "hip_abd", "hip_rot", "knee", "ankle")
DOFS: tuple[str, ...] = ("root_yaw", "spine_flex", "spine_lat", "spine_twist", "neck_flex", "neck_yaw", "neck_roll") \
    + tuple(f"l_{d}" for d in _SIDE_DOFS) + tuple(f"r_{d}" for d in _SIDE_DOFS)
DOF_INDEX = {name: i for i, name in enumerate(DOFS)}
NUM_DOFS = len(DOFS)

# Joint limits in degrees (hand-surgery and clinical norms, section 7.3; generous where none are given).
# Signs: spine_flex + = bend forward, spine_lat + = lean to the person's left, twist + = turn the chest
# left; neck_flex + = chin down (nod), neck_yaw + = look left, roll + = ear to left shoulder;
# elbow/knee + = flexion; pron 0 = palm forward, 90 = palm facing the thigh; wrist_flex + = toward
# the palm; hip_flex + = thigh forward, hip_abd + = outward; ankle + = dorsiflexion (toes up).
_LIMITS_DEG = {
    "root_yaw": (-1e4, 1e4), "spine_flex": (-30, 100), "spine_lat": (-40, 40), "spine_twist": (-70, 70),
    "neck_flex": (-50, 60), "neck_yaw": (-80, 80), "neck_roll": (-40, 40),
    "sh_plane": (-45, 135), "sh_elev": (-60, 180), "sh_rot": (-90, 90), "elbow": (0, 145), "pron": (0, 155),
    "wrist_flex": (-70, 75), "wrist_dev": (-20, 35),
    "hip_flex": (-25, 125), "hip_abd": (-20, 45), "hip_rot": (-40, 40), "knee": (0, 150), "ankle": (-45, 25),
}
_lo = np.array([_LIMITS_DEG[d.split("_", 1)[1] if d[:2] in ("l_", "r_") else d][0] for d in DOFS])
_hi = np.array([_LIMITS_DEG[d.split("_", 1)[1] if d[:2] in ("l_", "r_") else d][1] for d in DOFS])
LIMITS = np.deg2rad(np.stack([_lo, _hi], axis=1))  # (D, 2) radians

# Relaxed standing pose (degrees): arms hang slightly out, elbows soft, palms toward the thighs.
_REST_DEG = {"l_sh_plane": 70, "r_sh_plane": 70, "l_sh_elev": 7, "r_sh_elev": 7, "l_elbow": 12, "r_elbow": 12,
             "l_pron": 80, "r_pron": 80, "l_wrist_flex": 5, "r_wrist_flex": 5, "l_knee": 3, "r_knee": 3,
             "l_hip_flex": 2, "r_hip_flex": 2, "l_ankle": 1, "r_ankle": 1}
REST_POSE = np.deg2rad(np.array([_REST_DEG.get(d, 0.0) for d in DOFS]))  # (D,)


def clip_to_limits(pose: np.ndarray) -> np.ndarray:
    """Clamp a (..., D) angle track to the joint limits."""
    return np.clip(pose, LIMITS[:, 0], LIMITS[:, 1])


# ----------------------------------------------------------------------------- proportions
@dataclass(frozen=True)
class BodyShape:
    """Segment lengths in metres (defaults: a 1.70 m adult, Drillis & Contini fractions of stature)."""

    stature: float = 1.70
    hip_half: float = 0.064 * 1.70      # half distance between hip joint centres
    spine: float = 0.288 * 1.70         # hip-joint level to shoulder level
    shoulder_half: float = 0.122 * 1.70  # half distance between shoulder keypoints
    neck: float = 0.090 * 1.70          # shoulder level to the head pivot (about ear level)
    upper_arm: float = 0.186 * 1.70
    forearm: float = 0.146 * 1.70
    hand: float = 0.108 * 1.70
    thigh: float = 0.245 * 1.70
    shank: float = 0.246 * 1.70
    ankle_height: float = 0.039 * 1.70
    heel_back: float = 0.045 * 1.70
    toe_forward: float = 0.108 * 1.70
    head: float = 0.130 * 1.70          # vertex to chin

    @classmethod
    def sample(cls, rng: np.random.Generator, stature: float | None = None, jitter: float = 0.05) -> "BodyShape":
        """A random adult: stature 1.50-1.95 m, each segment jittered by +-jitter (relative)."""
        h = float(rng.uniform(1.50, 1.95)) if stature is None else float(stature)
        base = cls()
        scale = h / base.stature
        fields = {k: getattr(base, k) * scale * (1.0 + jitter * float(rng.uniform(-1, 1)))
                  for k in cls.__dataclass_fields__ if k != "stature"}
        # left/right symmetry is kept: one jitter per segment
        return cls(stature=h, **fields)


# ----------------------------------------------------------------------------- rotations
# Rotations are kept component-major, (3, 3, T): numpy's batched matmul on (T, 3, 3) loops over tiny
# matrices, while three broadcast multiply-adds over T run about 8x faster for long clips or chunks.
def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices about a coordinate axis: angle (T,) -> (3, 3, T)."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((3, 3) + np.shape(angle))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out[axis, axis] = 1.0
    out[i, i] = c
    out[j, j] = c
    out[i, j] = -s
    out[j, i] = s
    return out


def rot_x(a):
    return _rot(0, a)


def rot_y(a):
    return _rot(1, a)


def rot_z(a):
    return _rot(2, a)


def _mm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Per-frame product of (3, 3, T) rotations (B may be a constant (3, 3))."""
    if B.ndim == 2:
        B = B[:, :, None]
    return A[:, 0, None] * B[None, 0] + A[:, 1, None] * B[None, 1] + A[:, 2, None] * B[None, 2]


def _chain(*Rs: np.ndarray) -> np.ndarray:
    out = Rs[0]
    for R in Rs[1:]:
        out = _mm(out, R)
    return out


def _apply(R: np.ndarray, v: np.ndarray) -> np.ndarray:
    """R (3, 3, T) applied to v (3,) or (T, 3) -> (T, 3); or to points (T, N, 3) -> (T, N, 3)."""
    if v.ndim <= 2:
        vt = v.T if v.ndim == 2 else v[:, None]                                # (3, T) or (3, 1)
        return (R[:, 0] * vt[0] + R[:, 1] * vt[1] + R[:, 2] * vt[2]).T
    return v @ R.transpose(2, 1, 0)                                           # (T, N, 3) @ (T, 3, 3)^T


_Z180 = np.array([[-1.0, 0, 0], [0, -1.0, 0], [0, 0, 1.0]])  # hand frame: +y distal -> forearm -y


# ----------------------------------------------------------------------------- forward kinematics
@dataclass
class Kinematics:
    """Result of forward kinematics with the root at the origin (before grounding)."""

    points: np.ndarray      # (T, 133, 3) all keypoints, metres
    facing: np.ndarray      # (T, 3) unit forward direction of the pelvis
    head_facing: np.ndarray  # (T, 3) unit forward direction of the face


def _vec(x, y, z) -> np.ndarray:
    """(3,) from scalars, or (T, 3) when any of them is a per-frame (T,) array."""
    return np.stack(np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float), np.asarray(z, float)), axis=-1)


def _per_frame(value) -> np.ndarray:
    """A segment length as a (T, 1, 1) array (per-frame shapes) or a scalar, to scale (T, N, 3) points."""
    v = np.asarray(value, dtype=float)
    return v[:, None, None] if v.ndim else v


def stack_shapes(shapes: list[BodyShape], lengths: list[int]) -> BodyShape:
    """One BodyShape whose fields are per-frame (T,) arrays, for running several clips in one call."""
    return BodyShape(**{k: np.repeat([getattr(b, k) for b in shapes], lengths)
                        for k in BodyShape.__dataclass_fields__})


def forward_kinematics(pose: np.ndarray, shape: BodyShape, face_weights: np.ndarray,
                       hand_angles: tuple[np.ndarray, np.ndarray]) -> Kinematics:
    """Joint angles -> 133 keypoints with the pelvis at the origin.

    pose: (T, D) radians in DOFS order; face_weights: (T, K) expression weights (tenderlib.synthetic.face);
    hand_angles: (left, right), each (T, 5, 4) finger angles (tenderlib.synthetic.hand). Frames are independent,
    so several clips can be concatenated along T, with `stack_shapes` giving each frame its body.
    """
    T = pose.shape[0]
    a = {name: pose[:, i] for name, i in DOF_INDEX.items()}
    out = np.zeros((T, NUM_KEYPOINTS, 3))
    head = _per_frame(shape.head)

    R_root = rot_y(a["root_yaw"])                                                     # (T, 3, 3)
    R_spine = _chain(R_root, rot_y(a["spine_twist"]), rot_z(-a["spine_lat"]), rot_x(a["spine_flex"]))
    chest = _apply(R_spine, _vec(0.0, shape.spine, 0.0))                              # (T, 3)

    # head: pivot above the shoulders, then the face model's head-local frame
    R_head = _chain(R_spine, rot_y(a["neck_yaw"]), rot_z(-a["neck_roll"]), rot_x(a["neck_flex"]))
    pivot = chest + _apply(R_spine, _vec(0.0, shape.neck, 0.0))
    head_origin = pivot + _apply(R_head, face_model.HEAD_PIVOT_OFFSET * np.asarray(shape.head, float)[..., None])
    head_pts = face_model.head_points(1.0) * head                                     # (5, 3) or (T, 5, 3)
    out[:, 0:5] = head_origin[:, None] + _apply(R_head, np.broadcast_to(head_pts, (T, 5, 3)))
    face_local = face_model.face_points(face_weights, 1.0) * head                     # (T, 68, 3)
    out[:, REGIONS["face"]] = head_origin[:, None] + _apply(R_head, face_local)

    for side, sgn, kp in (("l", 1.0, (5, 7, 9, 11, 13, 15)), ("r", -1.0, (6, 8, 10, 12, 14, 16))):
        shoulder_i, elbow_i, wrist_i, hip_i, knee_i, ankle_i = kp
        # arm (swing-twist at the shoulder)
        shoulder = chest + _apply(R_spine, _vec(sgn * shape.shoulder_half, 0.0, 0.0))
        R_sh = _chain(R_spine, rot_y(sgn * a[f"{side}_sh_plane"]), rot_x(-a[f"{side}_sh_elev"]),
                      rot_y(sgn * a[f"{side}_sh_rot"]))
        elbow = shoulder + _apply(R_sh, _vec(0.0, -shape.upper_arm, 0.0))
        R_fa = _mm(R_sh, rot_x(-a[f"{side}_elbow"]))
        wrist = elbow + _apply(R_fa, _vec(0.0, -shape.forearm, 0.0))
        R_hand = _chain(R_fa, rot_y(-sgn * a[f"{side}_pron"]), _Z180, rot_x(a[f"{side}_wrist_flex"]),
                        rot_z(-sgn * a[f"{side}_wrist_dev"]))
        hand_local = hand_model.hand_points(hand_angles[0 if side == "l" else 1], 1.0,
                                            "left" if side == "l" else "right") * _per_frame(shape.hand)  # (T, 21, 3)
        region = REGIONS["left_hand" if side == "l" else "right_hand"]
        out[:, region] = wrist[:, None] + _apply(R_hand, hand_local)
        out[:, shoulder_i], out[:, elbow_i], out[:, wrist_i] = shoulder, elbow, wrist

        # leg
        hip = _apply(R_root, _vec(sgn * shape.hip_half, 0.0, 0.0))
        R_hip = _chain(R_root, rot_y(sgn * a[f"{side}_hip_rot"]), rot_z(sgn * a[f"{side}_hip_abd"]),
                       rot_x(-a[f"{side}_hip_flex"]))
        knee = hip + _apply(R_hip, _vec(0.0, -shape.thigh, 0.0))
        R_knee = _mm(R_hip, rot_x(a[f"{side}_knee"]))
        ankle = knee + _apply(R_knee, _vec(0.0, -shape.shank, 0.0))
        R_foot = _mm(R_knee, rot_x(-a[f"{side}_ankle"]))
        h = -np.asarray(shape.ankle_height, float)
        foot_local = np.stack([_vec(-sgn * 0.018 * shape.stature, h, shape.toe_forward),         # big toe (medial)
                               _vec(sgn * 0.030 * shape.stature, h, 0.82 * shape.toe_forward),   # small toe
                               _vec(0.0, h, -shape.heel_back)], axis=-2)                          # heel: (3, 3) or (T, 3, 3)
        feet = (17, 18, 19) if side == "l" else (20, 21, 22)
        out[:, feet[0]:feet[-1] + 1] = ankle[:, None] + _apply(R_foot, np.broadcast_to(foot_local, (T, 3, 3)))
        out[:, hip_i], out[:, knee_i], out[:, ankle_i] = hip, knee, ankle

    forward = np.array([0.0, 0.0, 1.0])
    return Kinematics(points=out, facing=_apply(R_root, forward), head_facing=_apply(R_head, forward))


# ----------------------------------------------------------------------------- ground contact
_FOOT = {"l": [15, 17, 18, 19], "r": [16, 20, 21, 22]}  # ankle, big toe, small toe, heel


def ground(points: np.ndarray, airborne: np.ndarray | None = None, hysteresis: float = 0.01,
           smooth: int = 0) -> np.ndarray:
    """Root translation (T, 3) that plants the stance foot and puts the lowest foot point on the floor.

    points: (T, 133, 3) from forward_kinematics (root at the origin); airborne: (T,) extra height in
    metres during flight (0 when grounded). While grounded, the foot that is lower (with hysteresis)
    is the stance foot and its horizontal position is held fixed, so walking moves the body forward
    and standing feet never slide. In flight the body keeps its horizontal position.
    smooth: if > 1, the horizontal travel is smoothed by a centred moving average of that many
    frames, which takes the jolt out of the changes of stance foot (the body's speed changes within
    one frame there) at the price of a slip of the planted foot of about a centimetre around them.
    """
    T = points.shape[0]
    air = np.zeros(T) if airborne is None else np.asarray(airborne, dtype=float)
    low_l = points[:, _FOOT["l"], 1].min(axis=1)                      # (T,)
    low_r = points[:, _FOOT["r"], 1].min(axis=1)
    cur = 0 if low_l[0] <= low_r[0] else 1                             # 0 = left, 1 = right
    flags = []
    for d in (low_l - low_r).tolist():                                 # scalar hysteresis, O(T)
        if d < -hysteresis:
            cur = 0
        elif d > hysteresis:
            cur = 1
        flags.append(cur)
    stance = np.array(flags, dtype=np.int8)
    anchor_l = points[:, _FOOT["l"], :].mean(axis=1)                  # (T, 3) foot centres
    anchor_r = points[:, _FOOT["r"], :].mean(axis=1)
    foot = np.where(stance[:, None] == 0, anchor_l, anchor_r)
    prev = np.where(stance[1:, None] == 0, anchor_l[:-1], anchor_r[:-1])
    step = -(foot[1:] - prev)                                          # (T-1, 3) keep the stance foot fixed
    step[air[1:] > 0] = 0.0
    root = np.zeros((T, 3))
    root[1:, [0, 2]] = np.cumsum(step[:, [0, 2]], axis=0)
    root[:, 1] = -np.minimum(low_l, low_r) + air
    if smooth > 1 and T > 1:
        k = int(min(smooth, T))
        flat = root[:, [0, 2]]
        # odd reflection at the ends keeps a steady walk steady there
        pad = np.pad(flat, ((k // 2, k - 1 - k // 2), (0, 0)), mode="reflect", reflect_type="odd")
        c = np.cumsum(np.pad(pad, ((1, 0), (0, 0))), axis=0)
        root[:, [0, 2]] = (c[k:] - c[:-k]) / k
    return root
