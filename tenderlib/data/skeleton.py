"""The COCO-WholeBody 133-keypoint layout: names, regions, part groupings, links, flip, sigmas.

Facts of the COCO-WholeBody layout as mmpose defines it (docs/conventions.md),
which in turn transcribes mmpose `configs/_base_/datasets/coco_wholebody.py`, the official
COCO-WholeBody evaluator, MotionBERT (`coco2h36m`) and DWPose (COCO-WholeBody -> OpenPose-18).

Order: body 0-16, feet 17-22, face 23-90 (68-point iBUG scheme, face landmark k is 23 + k),
left hand 91-111, right hand 112-132 (hand point k is 91 + k / 112 + k). "left"/"right" are the
subject's sides: for a person facing the camera, left-side points appear on the image's right.

Module-level arrays are read-only (use `torch.tensor(x)`, which copies, rather than
`torch.from_numpy(x)`); functions return fresh, writable arrays.
"""
from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)


def _frozen(a) -> np.ndarray:
    a = np.array(a)
    a.flags.writeable = False
    return a


# --------------------------------------------------------------------------------------------
# 1. Names and regions
# --------------------------------------------------------------------------------------------

_BODY_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_FOOT_NAMES = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
_NUM_FACE = 68  # iBUG/300-W landmarks
_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
_JOINTS_PER_FINGER = 4  # 1 = proximal (thumb CMC / finger MCP) ... 4 = tip


def _hand_names(side: str) -> tuple[str, ...]:
    return (f"{side}_hand_root",) + tuple(
        f"{side}_{finger}{j}" for finger in _FINGERS for j in range(1, _JOINTS_PER_FINGER + 1))


KEYPOINT_NAMES: tuple[str, ...] = (
    _BODY_NAMES + _FOOT_NAMES + tuple(f"face-{k}" for k in range(_NUM_FACE))
    + _hand_names("left") + _hand_names("right"))
NUM_KEYPOINTS: int = len(KEYPOINT_NAMES)  # 133
KEYPOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

_HAND_SIZE = len(_hand_names("left"))  # 21
_b, _f = len(_BODY_NAMES), len(_FOOT_NAMES)
REGIONS: dict[str, slice] = {
    "body": slice(0, _b),                                          # 0-16
    "foot": slice(_b, _b + _f),                                    # 17-22
    "face": slice(_b + _f, _b + _f + _NUM_FACE),                   # 23-90
    "left_hand": slice(_b + _f + _NUM_FACE, _b + _f + _NUM_FACE + _HAND_SIZE),          # 91-111
    "right_hand": slice(_b + _f + _NUM_FACE + _HAND_SIZE, _b + _f + _NUM_FACE + 2 * _HAND_SIZE),  # 112-132
}
FACE_OFFSET: int = REGIONS["face"].start          # global index of face landmark 0
LEFT_HAND_OFFSET: int = REGIONS["left_hand"].start    # global index of left hand point 0 (root)
RIGHT_HAND_OFFSET: int = REGIONS["right_hand"].start  # global index of right hand point 0 (root)
assert REGIONS["right_hand"].stop == NUM_KEYPOINTS

# (133,) int64: index into REGION_NAMES of each keypoint
REGION_NAMES: tuple[str, ...] = tuple(REGIONS)
REGION_IDS = _frozen(np.concatenate(
    [np.full(s.stop - s.start, i, dtype=np.int64) for i, s in enumerate(REGIONS.values())]))


def region_of(index: int) -> str:
    """Name of the region ("body", "foot", "face", "left_hand", "right_hand") of a keypoint."""
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        raise ValueError(f"index must be an int in [0, {NUM_KEYPOINTS - 1}], got {index!r}")
    if not 0 <= index < NUM_KEYPOINTS:
        raise ValueError(f"index must be in [0, {NUM_KEYPOINTS - 1}], got {index}")
    return REGION_NAMES[int(REGION_IDS[index])]


# --------------------------------------------------------------------------------------------
# Part groupings of the PA-VAE ablation (the paper names 4 parts;
# 3 and 2 parts are our anatomical choice; 1 part is the naive VAE)
# --------------------------------------------------------------------------------------------

PART_GROUPINGS: dict[int, tuple[tuple[str, tuple[str, ...]], ...]] = {
    4: (("body", ("body",)), ("foot", ("foot",)), ("face", ("face",)), ("hand", ("left_hand", "right_hand"))),
    3: (("body+foot", ("body", "foot")), ("face", ("face",)), ("hand", ("left_hand", "right_hand"))),
    2: (("body+foot", ("body", "foot")), ("face+hand", ("face", "left_hand", "right_hand"))),
    1: (("whole", ("body", "foot", "face", "left_hand", "right_hand")),),
}


def _check_num_parts(num_parts: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if isinstance(num_parts, (bool, np.bool_)) or num_parts not in PART_GROUPINGS:
        raise ValueError(f"num_parts must be one of {tuple(sorted(PART_GROUPINGS))}, got {num_parts!r}")
    return PART_GROUPINGS[int(num_parts)]


def part_names(num_parts: int) -> tuple[str, ...]:
    """Ordered part names of a grouping, e.g. ("body", "foot", "face", "hand") for 4."""
    return tuple(name for name, _ in _check_num_parts(num_parts))


def part_ids(num_parts: int) -> np.ndarray:
    """(133,) int64: the part index (0 .. num_parts - 1) of each keypoint."""
    grouping = _check_num_parts(num_parts)
    region_to_part = {region: p for p, (_, regions) in enumerate(grouping) for region in regions}
    lookup = np.array([region_to_part[r] for r in REGION_NAMES], dtype=np.int64)  # (R,)
    return lookup[REGION_IDS]  # (133,)


def part_indices(num_parts: int) -> list[np.ndarray]:
    """One sorted int64 array of keypoint indices per part, in part order."""
    ids = part_ids(num_parts)
    return [np.flatnonzero(ids == p).astype(np.int64) for p in range(int(num_parts))]


def part_mask(num_parts: int) -> np.ndarray:
    """(133, 133) float32 additive attention mask: 0 within a part, -inf across parts (eq. 3)."""
    ids = part_ids(num_parts)
    same = ids[:, None] == ids[None, :]  # (133, 133)
    return np.where(same, np.float32(0.0), np.float32(-np.inf)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# 2. Links and colours (mmpose skeleton_info, hand-root form; 65 links, none on the face)
# --------------------------------------------------------------------------------------------

_GREEN, _ORANGE, _BLUE = (0, 255, 0), (255, 128, 0), (51, 153, 255)   # left / right / midline
_WHITE = (255, 255, 255)
_FINGER_COLORS = ((255, 128, 0), (255, 153, 255), (102, 178, 255), (255, 51, 51), (0, 255, 0))  # thumb..pinky

_BODY_LINKS = (  # (a, b, colour) in mmpose order
    (15, 13, _GREEN), (13, 11, _GREEN), (16, 14, _ORANGE), (14, 12, _ORANGE),
    (11, 12, _BLUE), (5, 11, _BLUE), (6, 12, _BLUE), (5, 6, _BLUE),
    (5, 7, _GREEN), (6, 8, _ORANGE), (7, 9, _GREEN), (8, 10, _ORANGE),
    (1, 2, _BLUE), (0, 1, _BLUE), (0, 2, _BLUE), (1, 3, _BLUE), (2, 4, _BLUE), (3, 5, _BLUE), (4, 6, _BLUE),
)
_FOOT_LINKS = (
    (15, 17, _GREEN), (15, 18, _GREEN), (15, 19, _GREEN),
    (16, 20, _ORANGE), (16, 21, _ORANGE), (16, 22, _ORANGE),
)

# Section 2.2: the 20 edges of one hand in local (0-20) indices, finger by finger (thumb first)
HAND_LINKS_LOCAL = _frozen(np.array(
    [(0 if j == 0 else 1 + 4 * f + j - 1, 1 + 4 * f + j) for f in range(len(_FINGERS)) for j in range(4)],
    dtype=np.int64))  # (20, 2)
_HAND_LINK_FINGER = np.repeat(np.arange(len(_FINGERS)), _JOINTS_PER_FINGER)  # (20,) finger of each edge
HAND_LINKS: dict[str, np.ndarray] = {
    "left_hand": _frozen(HAND_LINKS_LOCAL + LEFT_HAND_OFFSET),    # (20, 2) global indices
    "right_hand": _frozen(HAND_LINKS_LOCAL + RIGHT_HAND_OFFSET),  # (20, 2) global indices
}

_hand_links = [(int(a), int(b), _FINGER_COLORS[f])
               for side in ("left_hand", "right_hand")
               for (a, b), f in zip(HAND_LINKS[side], _HAND_LINK_FINGER)]
_ALL_LINKS = _BODY_LINKS + _FOOT_LINKS + tuple(_hand_links)
LINKS = _frozen(np.array([(a, b) for a, b, _ in _ALL_LINKS], dtype=np.int64))        # (65, 2)
LINK_COLORS = _frozen(np.array([c for _, _, c in _ALL_LINKS], dtype=np.uint8))        # (65, 3) RGB
LINK_REGIONS: tuple[str, ...] = tuple(region_of(int(b)) for b in LINKS[:, 1])        # region of each link

# mmpose keypoint colours: head blue, left joints green, right joints orange, all feet orange,
# face white, hand roots white, fingers by finger
_kp_colors = [_BLUE] * 5 + [_GREEN if i % 2 else _ORANGE for i in range(5, 17)] + [_ORANGE] * _f
_kp_colors += [_WHITE] * _NUM_FACE
for _side in range(2):
    _kp_colors += [_WHITE] + [c for c in _FINGER_COLORS for _ in range(_JOINTS_PER_FINGER)]
KEYPOINT_COLORS = _frozen(np.array(_kp_colors, dtype=np.uint8))  # (133, 3) RGB

# Section 2.3: face landmark groups (global indices) and which ones are closed loops
_FACE_GROUPS_LOCAL = {
    "jaw": range(0, 17),            # 0 on the subject's right, 8 = chin
    "right_brow": range(17, 22),
    "left_brow": range(22, 27),
    "nose_bridge": range(27, 31),   # 30 = nose tip
    "nostrils": range(31, 36),      # 33 = centre below tip
    "right_eye": range(36, 42),     # closed
    "left_eye": range(42, 48),      # closed
    "outer_lips": range(48, 60),    # closed
    "inner_lips": range(60, 68),    # closed
}
FACE_GROUPS: dict[str, np.ndarray] = {
    name: _frozen(np.arange(r.start, r.stop, dtype=np.int64) + FACE_OFFSET) for name, r in _FACE_GROUPS_LOCAL.items()}
FACE_CLOSED_GROUPS: frozenset[str] = frozenset({"right_eye", "left_eye", "outer_lips", "inner_lips"})


def _polyline_links(idx: np.ndarray, closed: bool) -> np.ndarray:
    nxt = np.roll(idx, -1) if closed else idx[1:]
    return np.stack([idx[: len(nxt)], nxt], axis=1)


FACE_LINKS = _frozen(np.concatenate(
    [_polyline_links(idx, name in FACE_CLOSED_GROUPS) for name, idx in FACE_GROUPS.items()]))  # (63, 2)


# --------------------------------------------------------------------------------------------
# 3. Horizontal flip
# --------------------------------------------------------------------------------------------

_FLIP_PAIRS = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
    (17, 20), (18, 21), (19, 22),
    # face contour
    (23, 39), (24, 38), (25, 37), (26, 36), (27, 35), (28, 34), (29, 33), (30, 32),
    # brows
    (40, 49), (41, 48), (42, 47), (43, 46), (44, 45),
    # nostrils
    (54, 58), (55, 57),
    # eyes (lower lids run the other way round: 40<->47, 41<->46 in local indices)
    (59, 68), (60, 67), (61, 66), (62, 65), (63, 70), (64, 69),
    # outer mouth, inner mouth
    (71, 77), (72, 76), (73, 75), (78, 82), (79, 81),
    (83, 87), (84, 86), (88, 90),
) + tuple((LEFT_HAND_OFFSET + k, RIGHT_HAND_OFFSET + k) for k in range(_HAND_SIZE))


def _flip_permutation() -> np.ndarray:
    perm = np.arange(NUM_KEYPOINTS, dtype=np.int64)
    a, b = np.array(_FLIP_PAIRS, dtype=np.int64).T
    perm[a], perm[b] = b, a
    return perm


FLIP_PERMUTATION = _frozen(_flip_permutation())  # (133,) position i holds the index that moves to i


def flip_keypoints(kp: np.ndarray, image_width: float | None) -> np.ndarray:
    """Mirror a pose horizontally: swap left/right keypoints and reflect x.

    kp: (..., 133, C) with C >= 2 (x, y[, extra channels such as confidence, carried along]), a numpy
        array or a torch tensor (the result is of the same kind, on the same device).
    image_width: pixel coordinates are mapped x -> image_width - 1 - x (mmpose convention);
        None for centred coordinates (e.g. normalised features), mapped x -> -x.
    """
    is_tensor = type(kp).__module__.startswith("torch")
    kp = kp if is_tensor else np.asarray(kp)
    if kp.ndim < 2 or kp.shape[-2] != NUM_KEYPOINTS or kp.shape[-1] < 2:
        raise ValueError(f"kp must have shape (..., {NUM_KEYPOINTS}, C>=2), got {kp.shape}")
    if image_width is not None and not image_width > 0:
        raise ValueError(f"image_width must be > 0 or None, got {image_width}")
    perm = kp.new_tensor(FLIP_PERMUTATION.tolist()).long() if is_tensor else FLIP_PERMUTATION
    out = kp[..., perm, :]  # (..., 133, C), a copy (advanced indexing)
    out[..., 0] = -out[..., 0] if image_width is None else (image_width - 1) - out[..., 0]
    return out


# --------------------------------------------------------------------------------------------
# 4. OKS sigmas (mmpose == official COCO-WholeBody evaluator; feet deliberately kept asymmetric)
# --------------------------------------------------------------------------------------------

_HAND_SIGMAS = (0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024,
                0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.020, 0.019, 0.022, 0.031)
OKS_SIGMAS = _frozen(np.array(
    (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
     0.107, 0.107, 0.087, 0.087, 0.089, 0.089)                                    # body
    + (0.068, 0.066, 0.066, 0.092, 0.094, 0.094)                                  # feet
    + (0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020, 0.023, 0.029,
       0.032, 0.037, 0.038, 0.043, 0.041, 0.045,                                  # jaw
       0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011, 0.013, 0.015,      # brows
       0.009, 0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010,             # nose
       0.017, 0.011, 0.009, 0.011, 0.009, 0.007, 0.013, 0.008, 0.011, 0.012, 0.010, 0.034,  # eyes
       0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.010, 0.008, 0.009, 0.009, 0.009, 0.007,  # outer lips
       0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.010, 0.008)                    # inner lips
    + _HAND_SIGMAS + _HAND_SIGMAS, dtype=np.float64))  # (133,)


# --------------------------------------------------------------------------------------------
# 5. MotionBERT's H36M-17 layout and COCO-17 -> H36M-17 (`coco2h36m`)
# --------------------------------------------------------------------------------------------

H36M_NAMES: tuple[str, ...] = (
    "root", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "belly", "neck", "nose", "head", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist")
H36M_BONES = _frozen(np.array(
    [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
     (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16)], dtype=np.int64))  # (16, 2)
# H36M joints copied straight from a COCO joint (-1: synthesised below)
_H36M_FROM_COCO = (-1, 12, 14, 16, 11, 13, 15, -1, -1, 0, -1, 5, 7, 9, 6, 8, 10)


def coco_to_h36m(kp: np.ndarray) -> np.ndarray:
    """COCO-17 body -> MotionBERT's H36M-17, as `coco2h36m` in MotionBERT.

    kp: (..., 17, C) COCO body joints, or (..., 133, C) whole body (its first 17 are used).
        All C channels are mapped, so a confidence channel gets the mean of its sources.
    Returns (..., 17, C): root = mid-hips, neck = mid-shoulders, belly = mid(root, neck),
    head = mid-eyes (a proxy: COCO has no head top); other joints copied.
    """
    kp = np.asarray(kp)
    nb = REGIONS["body"].stop
    if kp.ndim < 2 or kp.shape[-2] not in (nb, NUM_KEYPOINTS):
        raise ValueError(f"kp must have shape (..., {nb}, C) or (..., {NUM_KEYPOINTS}, C), got {kp.shape}")
    body = kp[..., :nb, :]  # (..., 17, C)
    src = np.array(_H36M_FROM_COCO)
    out = body[..., np.maximum(src, 0), :].astype(np.result_type(body.dtype, np.float32))  # (..., 17, C)
    root = (body[..., 11, :] + body[..., 12, :]) * 0.5
    neck = (body[..., 5, :] + body[..., 6, :]) * 0.5
    out[..., 0, :] = root
    out[..., 8, :] = neck
    out[..., 7, :] = (root + neck) * 0.5
    out[..., 10, :] = (body[..., 1, :] + body[..., 2, :]) * 0.5
    return out


# --------------------------------------------------------------------------------------------
# 6. DWPose's COCO-WholeBody -> OpenPose-18 body (used by ControlNet-style pose maps)
# --------------------------------------------------------------------------------------------

OPENPOSE18_NAMES: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear")
NECK = -1  # marker in OPENPOSE18_FROM_COCO: the neck is synthesised as mid-shoulders
OPENPOSE18_FROM_COCO = _frozen(np.array(
    [0, NECK, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3], dtype=np.int64))  # (18,)
OPENPOSE18_COLORS = _frozen(np.array(
    [(255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
     (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
     (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85)],
    dtype=np.uint8))  # (18, 3) RGB: joint i and limb i use colour i
# The 17 limbs DWPose/ControlNet draw, in drawing order (OpenPose-18 indices)
OPENPOSE18_LIMBS = _frozen(np.array(
    [(1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
     (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17)], dtype=np.int64))  # (17, 2)
OPENPOSE_THRESHOLD = 0.3  # DWPose: the neck is visible iff both shoulders score > 0.3


def coco_to_openpose18(kp: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO-WholeBody body -> OpenPose-18, as DWPose does before drawing.

    kp: (..., 133, 2) or (..., 17, 2); conf: (..., 133) or (..., 17).
    Returns kp18 (..., 18, 2) and conf18 (..., 18). The neck is the mean of the shoulders
    (5, 6); its confidence is 1 if both shoulders score > 0.3, else 0 (DWPose's rule).
    """
    kp, conf = np.asarray(kp), np.asarray(conf)
    nb = REGIONS["body"].stop
    if kp.ndim < 2 or kp.shape[-2] not in (nb, NUM_KEYPOINTS) or kp.shape[-1] != 2:
        raise ValueError(f"kp must have shape (..., {NUM_KEYPOINTS}, 2) or (..., {nb}, 2), got {kp.shape}")
    if conf.shape != kp.shape[:-1]:
        raise ValueError(f"conf must have shape {kp.shape[:-1]} to match kp, got {conf.shape}")
    src = np.maximum(OPENPOSE18_FROM_COCO, 0)
    neck = OPENPOSE18_FROM_COCO == NECK
    kp18 = kp[..., src, :].astype(np.result_type(kp.dtype, np.float32))  # (..., 18, 2)
    conf18 = conf[..., src].astype(np.result_type(conf.dtype, np.float32))  # (..., 18)
    kp18[..., neck, :] = ((kp[..., 5, :] + kp[..., 6, :]) * 0.5)[..., None, :]
    both = (conf[..., 5] > OPENPOSE_THRESHOLD) & (conf[..., 6] > OPENPOSE_THRESHOLD)
    conf18[..., neck] = both.astype(conf18.dtype)[..., None]
    return kp18, conf18


# --------------------------------------------------------------------------------------------
# A hand-built template pose (for tests, docs and eyeballing renderers)
# --------------------------------------------------------------------------------------------

def _ellipse(cx: float, cy: float, w: float, h: float, phi: np.ndarray) -> np.ndarray:
    """Points on an ellipse, phi measured anticlockwise on screen (y down)."""
    return np.stack([cx + w * np.cos(phi), cy - h * np.sin(phi)], axis=-1)  # (n, 2)


def t_pose() -> np.ndarray:
    """(133, 2) float32: a standing T-pose facing the camera, palms forward, in units of stature.

    Image convention: x to the image right, y down; the feet stand on y = 0 and the top of
    the head is near y = -1. The subject's left side is at positive x (image right). Heights
    follow Drillis & Contini (reference section 7.1). The pose is mirror-symmetric, so
    `flip_keypoints(t_pose(), None)` returns it unchanged.
    """
    kp = np.zeros((NUM_KEYPOINTS, 2))
    sh_y = -0.818  # shoulder height; arms horizontal
    half = {  # (x for the subject's left side, y); the right side is mirrored
        "eye": (0.032, -0.936), "ear": (0.075, -0.925), "shoulder": (0.129, sh_y),
        "elbow": (0.129 + 0.186, sh_y), "wrist": (0.129 + 0.186 + 0.146, sh_y),
        "hip": (0.085, -0.530), "knee": (0.082, -0.285), "ankle": (0.080, -0.039),
        "big_toe": (0.062, -0.004), "small_toe": (0.112, -0.004), "heel": (0.086, -0.012),
    }
    kp[KEYPOINT_INDEX["nose"]] = (0.0, -0.905)
    for name, (x, y) in half.items():
        kp[KEYPOINT_INDEX[f"left_{name}"]] = (x, y)
        kp[KEYPOINT_INDEX[f"right_{name}"]] = (-x, y)

    face = np.zeros((_NUM_FACE, 2))
    face[0:17] = _ellipse(0.0, -0.925, 0.07, -0.055, np.pi - np.arange(17) * np.pi / 16)  # jaw, chin at 8
    t = np.linspace(0.0, 1.0, 5)
    arch = -0.950 - 0.006 * np.sin(np.pi * t)
    face[17:22] = np.stack([-0.055 + 0.043 * t, arch], axis=1)    # right brow, outer -> inner
    face[22:27] = np.stack([0.012 + 0.043 * t, arch], axis=1)     # left brow, inner -> outer
    face[27:31] = np.stack([np.zeros(4), np.linspace(-0.936, -0.905, 4)], axis=1)  # bridge, 30 = tip
    face[31:36] = np.stack([np.linspace(-0.015, 0.015, 5), [-0.898, -0.897, -0.896, -0.897, -0.898]], axis=1)
    eye_phi = np.array([np.pi, 2 * np.pi / 3, np.pi / 3, 0.0, -np.pi / 3, -2 * np.pi / 3])
    face[36:42] = _ellipse(-0.032, -0.936, 0.015, 0.006, eye_phi)  # 36 outer ... 39 inner
    face[42:48] = _ellipse(0.032, -0.936, 0.015, 0.006, eye_phi)   # 42 inner ... 45 outer
    face[48:60] = _ellipse(0.0, -0.884, 0.025, 0.010, np.pi - np.arange(12) * np.pi / 6)
    face[60:68] = _ellipse(0.0, -0.884, 0.018, 0.004, np.pi - np.arange(8) * np.pi / 4)
    kp[REGIONS["face"]] = face

    # Left hand pointing outward (+x), palm to the camera, thumb up (y down => up is -y)
    hand = np.zeros((_HAND_SIZE, 2))
    root = np.array([half["wrist"][0] + 0.008, sh_y])
    hand[0] = root
    spread = (0.014, 0.004, -0.005, -0.014)  # knuckle offsets (up) of index .. pinky
    lengths = ((0.024, 0.016, 0.012), (0.027, 0.018, 0.013), (0.025, 0.017, 0.012), (0.019, 0.013, 0.011))
    for f, (off, segs) in enumerate(zip(spread, lengths), start=1):
        ang = 4.0 * off  # gentle fan, radians
        d = np.array([np.cos(ang), -np.sin(ang)])
        p = root + np.array([0.048, -off])
        hand[1 + 4 * f] = p
        for j, seg in enumerate(segs, start=2):
            p = p + seg * d
            hand[4 * f + j] = p
    thumb_d = np.array([np.cos(0.9), -np.sin(0.9)])
    p = root + np.array([0.010, -0.012])
    hand[1] = p
    for j, seg in enumerate((0.020, 0.016, 0.013), start=2):
        p = p + seg * thumb_d
        hand[j] = p
    kp[REGIONS["left_hand"]] = hand
    kp[REGIONS["right_hand"]] = hand * np.array([-1.0, 1.0])
    return kp.astype(np.float32)
