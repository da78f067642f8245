"""BVH motion capture: a small parser, forward kinematics, and the mapping to COCO body + feet.

Parser (`parse_bvh`, `read_bvh`): HIERARCHY with ROOT / JOINT / End Site blocks, OFFSET, CHANNELS
in any order of {X,Y,Z}position and {X,Y,Z}rotation (names may contain spaces, e.g. 3ds Max's
"Bip01 L Thigh"), then MOTION with Frames and Frame Time and one line of channel values per
frame. A broken file raises `BVHError` (a ReaderError, so a ValueError) naming the line and what
was expected there. The PyPI libraries were looked at (bvhio 1.5.4 pins pyglm and builds one
Python object per joint and frame; pybvh 0.9 brings a plotting stack): this parser is small,
numpy-vectorised over frames and tested against hand-computed positions.

Forward kinematics (`forward_kinematics`): the local rotation of a joint is the product of its
rotation channels in the order they are listed (``Zrotation Xrotation Yrotation`` gives
R = Rz Rx Ry, degrees), acting on column vectors; position channels give the joint's local
translation and replace the OFFSET on their axes (the common convention: the bandai-namco data
repeats the offsets in the position channels of every joint); End Sites sit at their OFFSET.
World position of joint j: p_j = p_parent + G_parent t_j, G_j = G_parent R_j.

Mapping (`to_coco`): joints are found by name (namespaces such as "mixamorig:" and prefixes such
as "Bip01" dropped, case and punctuation ignored, side written as Left/L prefix or _L/Left suffix)
for the usual skeletons: CMU / Mixamo (LeftArm, LeftForeArm, LeftHand, LeftUpLeg, LeftLeg,
LeftFoot, LeftToeBase), Biovision (LeftCollar, LeftShoulder, LeftElbow, LeftWrist, LeftHip,
LeftKnee, LeftAnkle), 3ds Max Biped (L UpperArm, L Forearm, L Thigh, L Calf), and bandai-namco
(UpperArm_L, LowerArm_L, Hand_L, UpperLeg_L, LowerLeg_L, Foot_L, Toes_L). Then:

- units: the stature estimated from the legs (hip-knee-ankle = 0.491 of stature, Drillis &
  Contini) picks metres, cm, mm or inches, whichever gives a human height; the result is metres;
- up axis: the axis from the feet to the head is turned to +y (z-up files are rotated); a file
  whose left side ends up on the right (feet on the ground pointing against the facing that the
  hips and shoulders give, on average) is mirrored to our right-handed world (tenderlib.synthetic.camera:
  y up, a person facing +z has their left at +x); the floor is y = 0;
- nose, eyes and ears: tenderlib.synthetic.face.head_points in the head joint's frame, the frame calibrated
  per clip (the head's local axes that, on average over the clip, point up and along the body's
  facing), placed at ear level: 0.378 stature above the hip joints along the head's up axis,
  the distance from the hips to the head joint measured on the clip (tenderlib.synthetic.figure's proportions);
- feet: big toe, small toe and heel at tenderlib.synthetic.figure's offsets in each foot's frame (calibrated
  the same way, forward from the ankle to the toe joint);
- hands: present only when the skeleton has five fingers of three joints (plus tip) per hand;
  the face (68 landmarks) is always absent. Absent keypoints are 0 in `CocoPose.points`.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tenderlib.synthetic.face import head_points
from tenderlib.data.motion import FPS_RANGE
from tenderlib.readers.files import Limits, read_bytes
from tenderlib.readers.report import ReaderError
from tenderlib.data.skeleton import KEYPOINT_INDEX, NUM_KEYPOINTS, REGIONS

logger = logging.getLogger(__name__)

CHANNEL_NAMES = tuple(f"{a}{k}" for k in ("position", "rotation") for a in "XYZ")
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254}
LEG_OVER_STATURE = 0.491      # hip to ankle height over stature (0.530 - 0.039, Drillis & Contini)
HEAD_OVER_STATURE = 0.130     # vertex to chin
EARLINE_OVER_HIPS = 0.378     # hip joints to the ear line, upright (tenderlib.synthetic.figure: 0.818 + 0.090 - 0.530)
STANCE_BAND = 0.03            # an ankle this close (x stature) to its lowest height is on the ground
FOOT_OFFSETS = np.array([[-0.018, -0.039, 0.108],          # big toe (medial), in stature units, left foot:
                         [0.030, -0.039, 0.82 * 0.108],    # x = outward, y = up, z = forward from the ankle
                         [0.0, -0.039, -0.045]])           # heel (tenderlib.synthetic.figure's foot)


class BVHError(ReaderError):
    """A BVH file that cannot be read (broken hierarchy or motion) or mapped (missing joints)."""

    def __init__(self, message: str, kind: str = "bvh-hierarchy"):
        super().__init__(message, kind)


@dataclass(frozen=True, eq=False)
class BVH:
    """A parsed BVH file. Joints are in file order (parents first), End Sites included."""

    names: tuple[str, ...]                 # J joint names; an End Site is '<parent>_End'
    parents: np.ndarray                    # (J,) int64, -1 for a root
    offsets: np.ndarray                    # (J, 3) float64, file units
    channels: tuple[tuple[str, ...], ...]  # per joint, e.g. ('Xposition', ..., 'Zrotation'); () for End Sites
    is_end: np.ndarray                     # (J,) bool
    frame_time: float                      # seconds
    motion: np.ndarray                     # (T, C) float64, C = total number of channels

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"joint name must be one of {self.names}, got {name!r}") from None


# ---------------------------------------------------------------------------------------------
# Parsing


def _tokens(lines: list[str]) -> list[tuple[str, int]]:
    return [(tok, n + 1) for n, line in enumerate(lines) for tok in line.split()]


def parse_bvh(text: str, name: str = "<bvh>") -> BVH:
    """Parse BVH text. Raises BVHError naming `name`, the line and the problem."""
    lines = text.splitlines()
    cut = next((i for i, line in enumerate(lines) if line.strip().upper() == "MOTION"), None)
    if cut is None:
        raise BVHError(f"{name}: no MOTION section", "bvh-motion")
    toks = _tokens(lines[:cut])
    pos = 0
    names, parents, offsets, channels, is_end = [], [], [], [], []

    def err(msg: str) -> BVHError:
        line = toks[pos][1] if pos < len(toks) else cut + 1
        return BVHError(f"{name}: broken hierarchy at line {line}: {msg}")

    def take() -> str:
        nonlocal pos
        if pos >= len(toks):
            raise err("unexpected end of the hierarchy (unbalanced braces?)")
        pos += 1
        return toks[pos - 1][0]

    def expect(word: str) -> None:
        got = take()
        if got.upper() != word.upper():
            pos_back = pos - 1
            raise BVHError(f"{name}: broken hierarchy at line {toks[pos_back][1]}: expected {word!r}, got {got!r}")

    def floats(n: int, what: str) -> list[float]:
        vals = [take() for _ in range(n)]
        try:
            return [float(v) for v in vals]
        except ValueError:
            raise err(f"{what} needs {n} numbers, got {vals}") from None

    def joint(parent: int, end: bool) -> None:
        if end:
            expect("Site")
            jname = f"{names[parent]}_End"
        else:
            parts, line = [], toks[pos - 1][1]  # the name: the rest of the keyword's line
            while pos < len(toks) and toks[pos][1] == line and toks[pos][0] not in "{}":
                parts.append(take())
            if not parts:
                raise err("a joint without a name")
            jname = " ".join(parts)
        expect("{")
        j = len(names)
        names.append(jname), parents.append(parent), channels.append(()), is_end.append(end)
        expect("OFFSET")
        offsets.append(floats(3, f"OFFSET of {jname!r}"))
        if end:
            expect("}")
            return
        if pos < len(toks) and toks[pos][0].upper() == "CHANNELS":
            where = f"{name}: broken hierarchy at line {toks[pos][1]}: CHANNELS of {jname!r}"
            take()
            n = take()
            if not n.isdigit():
                raise BVHError(f"{where} must start with a count, got {n!r}")
            chans = tuple(take() for _ in range(int(n)))
            lookup = {c.lower(): c for c in CHANNEL_NAMES}
            bad = [c for c in chans if c.lower() not in lookup]
            if bad:
                raise BVHError(f"{where}: unknown channel(s) {bad}; allowed: {list(CHANNEL_NAMES)}")
            chans = tuple(lookup[c.lower()] for c in chans)
            if len(set(chans)) != len(chans):
                raise BVHError(f"{where}: repeated channel in {chans}")
            channels[j] = chans
        while True:
            word = take()
            if word == "}":
                return
            if word.upper() == "JOINT":
                joint(j, False)
            elif word.upper() == "END":
                joint(j, True)
            else:
                raise BVHError(f"{name}: broken hierarchy at line {toks[pos - 1][1]}: expected JOINT, End Site or "
                               f"'}}' in {jname!r}, got {word!r}")

    expect("HIERARCHY")
    while pos < len(toks):
        word = take()
        if word.upper() != "ROOT":
            raise BVHError(f"{name}: broken hierarchy at line {toks[pos - 1][1]}: expected ROOT, got {word!r}")
        joint(-1, False)
    if not names:
        raise BVHError(f"{name}: broken hierarchy: no ROOT joint")
    motion, frame_time = _parse_motion(lines[cut + 1:], sum(len(c) for c in channels), name, cut + 2)
    return BVH(tuple(names), np.array(parents, np.int64), np.array(offsets, np.float64), tuple(channels),
               np.array(is_end, bool), frame_time, motion)


def _parse_motion(lines: list[str], num_channels: int, name: str, first_line: int) -> tuple[np.ndarray, float]:
    head = [(i, line.strip()) for i, line in enumerate(lines[:4]) if line.strip()]
    m_frames = next((re.fullmatch(r"Frames:\s*(\d+)", s, re.I) for _, s in head[:1]), None)
    m_time = next((re.fullmatch(r"Frame\s*Time:\s*(\S+)", s, re.I) for _, s in head[1:2]), None)
    if not m_frames or not m_time:
        raise BVHError(f"{name}: MOTION must start with 'Frames: N' and 'Frame Time: seconds' (line {first_line})",
                       "bvh-motion")
    n = int(m_frames.group(1))
    try:
        frame_time = float(m_time.group(1))
    except ValueError:
        raise BVHError(f"{name}: Frame Time must be a number, got {m_time.group(1)!r}", "bvh-motion") from None
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise BVHError(f"{name}: Frame Time must be > 0 seconds, got {frame_time}", "bvh-motion")
    lo, hi = FPS_RANGE
    if not lo <= 1.0 / frame_time <= hi:
        raise BVHError(f"{name}: Frame Time {frame_time:g} s is {1.0 / frame_time:g} fps; fps must be in "
                       f"[{lo:g}, {hi:g}]", "implausible")
    if n == 0:
        raise BVHError(f"{name}: empty sequence (Frames: 0)", "empty")
    body = "\n".join(lines[head[1][0] + 1:])
    try:
        values = np.array(body.split(), dtype=np.float64)
    except ValueError:
        raise BVHError(f"{name}: motion data holds a value that is not a number", "bvh-motion") from None
    if values.size != n * num_channels:
        raise BVHError(f"{name}: motion data has {values.size} values, expected Frames x channels = {n} x "
                       f"{num_channels} = {n * num_channels} (truncated file or broken hierarchy?)", "bvh-motion")
    if not np.isfinite(values).all():
        raise BVHError(f"{name}: motion data holds NaN or infinite values", "nonfinite")
    return values.reshape(n, num_channels), frame_time


def read_bvh(path, limits: Limits = Limits()) -> BVH:
    """Read and parse a .bvh file (bytes decoded as latin-1, so any byte reads); no larger than
    limits.max_file_bytes, no longer than limits.max_frames."""
    path = Path(path)
    bvh = parse_bvh(read_bytes(path, limits).decode("latin-1"), str(path))
    limits.check_frames(bvh.num_frames, str(path))
    return bvh


# ---------------------------------------------------------------------------------------------
# Forward kinematics


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """(T,) angles -> (T, 3, 3) rotation matrices about x, y or z."""
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
    k = 3 - i - j
    R[:, k, k] = 1.0
    R[:, i, i], R[:, i, j], R[:, j, i], R[:, j, j] = c, -s, s, c
    return R


def forward_kinematics(bvh: BVH) -> tuple[np.ndarray, np.ndarray]:
    """World positions (T, J, 3) in file units and world rotations (T, J, 3, 3) of every joint."""
    T, J = bvh.num_frames, len(bvh.names)
    pos = np.zeros((T, J, 3))
    rot = np.zeros((T, J, 3, 3))
    col = 0
    for j in range(J):  # parents come before children; vectorised over frames
        t = np.broadcast_to(bvh.offsets[j], (T, 3)).copy()  # (T, 3) local translation
        R = np.broadcast_to(np.eye(3), (T, 3, 3)).copy()    # (T, 3, 3) local rotation
        for ch in bvh.channels[j]:
            v = bvh.motion[:, col]
            col += 1
            axis = "XYZ".index(ch[0])
            if ch.endswith("position"):
                t[:, axis] = v
            else:
                R = R @ _axis_rotation(ch[0], v)
        p = bvh.parents[j]
        if p < 0:
            pos[:, j], rot[:, j] = t, R
        else:
            pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", rot[:, p], t)
            rot[:, j] = rot[:, p] @ R
    return pos, rot


# ---------------------------------------------------------------------------------------------
# Mapping to COCO body + feet


def _norm(name: str) -> str:
    s = re.sub(r"[^a-z0-9]", "", name.split(":")[-1].lower())
    for prefix in ("mixamorig", "bip001", "bip01", "character1", "joint"):
        if s.startswith(prefix) and len(s) > len(prefix):
            s = s[len(prefix):]
    return s


def _sided(bases: tuple[str, ...], side: str) -> list[str]:
    word, letter = side, side[0]
    return [v for b in bases for v in (word + b, letter + b, b + word, b + letter)]


_ROLE_BASES = {  # role -> name bases in priority order (the first one present wins)
    "shoulder": ("arm", "uparm", "upperarm", "humerus", "shoulder"),
    "elbow": ("forearm", "lowarm", "lowerarm", "elbow", "radius"),
    "wrist": ("hand", "wrist"),
    "hip": ("upleg", "upperleg", "thigh", "hip", "femur"),
    "knee": ("leg", "lowleg", "lowerleg", "shin", "calf", "knee", "tibia"),
    "ankle": ("foot", "ankle"),
    "toe": ("toebase", "toes", "toe", "toe0", "ball"),
}
_REQUIRED = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
_FINGERS = (("thumb",), ("index", "indexfinger", "forefinger"), ("middle", "middlefinger"), ("ring", "ringfinger"),
            ("pinky", "little", "pinkie", "littlefinger"))


@dataclass(frozen=True)
class MappingConfig:
    """How a BVH skeleton becomes COCO keypoints in metres."""

    units: str = "auto"                       # 'auto' | 'm' | 'cm' | 'mm' | 'inch'
    up_axis: str = "auto"                     # 'auto' | 'x' | 'y' | 'z' | '-x' | '-y' | '-z'
    mirror: bool | None = None                # None: mirror when left/right contradict the walking direction
    stature_m: tuple[float, float] = (1.0, 2.3)  # plausible statures for unit detection

    def __post_init__(self):
        if self.units not in ("auto",) + tuple(UNITS):
            raise ValueError(f"units must be one of {('auto',) + tuple(UNITS)}, got {self.units!r}")
        if self.up_axis not in ("auto", "x", "y", "z", "-x", "-y", "-z"):
            raise ValueError(f"up_axis must be 'auto' or one of x, y, z, -x, -y, -z, got {self.up_axis!r}")
        if self.mirror not in (None, True, False):
            raise ValueError(f"mirror must be None, True or False, got {self.mirror!r}")


@dataclass
class CocoPose:
    """A BVH clip as COCO-WholeBody points in our world (metres, y up, floor at 0)."""

    points: np.ndarray         # (T, 133, 3) float64; absent keypoints are 0
    present: np.ndarray        # (133,) bool: keypoints the skeleton provides
    facing: np.ndarray         # (T, 3) unit horizontal facing of the body
    fps: float
    stature: float             # metres, estimated from the legs
    units: str                 # the file's units
    up_axis: str               # the file's up axis
    mirrored: bool
    joints: dict[str, str] = field(default_factory=dict)  # COCO name -> BVH joint used


def find_joints(names: tuple[str, ...], what: str = "skeleton") -> dict[str, int]:
    """COCO roles ('left_shoulder', ..., 'head', 'neck', 'left_toe') -> joint index. Raises BVHError."""
    index = {}
    for i, n in enumerate(names):
        index.setdefault(_norm(n), i)
    out, missing = {}, []
    for side in ("left", "right"):
        for role, bases in _ROLE_BASES.items():
            hit = next((index[c] for c in _sided(bases, side) if c in index), None)
            if hit is not None:
                out[f"{side}_{role}"] = hit
            elif role in _REQUIRED:
                missing.append(f"{side}_{role} (looked for {_sided(bases, side)[:4]}...)")
    for role, cands in (("head", ("head",)), ("neck", ("neck", "neck1"))):
        hit = next((index[c] for c in cands if c in index), None)
        if hit is not None:
            out[role] = hit
        elif role == "head":
            missing.append("head")
    if missing:
        raise BVHError(f"{what}: the skeleton lacks joints for {'; '.join(missing)}", "bvh-skeleton")
    return out


def _finger_chains(names: tuple[str, ...], parents: np.ndarray, side: str) -> list[int] | None:
    """20 joint indices (thumb 1-4, index 1-4, ...) of one hand, or None if a finger is missing."""
    index = {}
    for i, n in enumerate(names):
        index.setdefault(_norm(n), i)
    chains = []
    for variants in _FINGERS:
        chain = None
        for v in variants:
            bases = tuple(f"hand{v}{k}" for k in range(1, 5)), tuple(f"{v}{k}" for k in range(1, 5))
            for b in bases:
                js = [next((index[c] for c in _sided((x,), side) if c in index), None) for x in b]
                if None not in js[:3]:
                    tip = js[3]
                    if tip is None:  # the End Site under joint 3
                        kids = np.flatnonzero(parents == js[2])
                        tip = int(kids[0]) if kids.size else None
                    if tip is not None:
                        chain = js[:3] + [tip]
                        break
            if chain:
                break
        if chain is None:
            return None
        chains.extend(chain)
    return chains


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _up_rotation(axis: str) -> np.ndarray:
    """(3, 3) proper rotation taking the signed file axis to +y."""
    e = np.zeros(3)
    e["xyz".index(axis[-1])] = -1.0 if axis.startswith("-") else 1.0
    y = np.array([0.0, 1.0, 0.0])
    if np.allclose(e, y):
        return np.eye(3)
    if np.allclose(e, -y):
        return np.diag([1.0, -1.0, -1.0])
    k = _unit(np.cross(e, y))  # rotate by 90 degrees about k
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + K + K @ K  # Rodrigues: I + sin K + (1 - cos) K^2 at 90 degrees


def _local_frame(R: np.ndarray, fwd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local (up, forward) axes of a joint with world rotations R (T, 3, 3): on average over the
    clip, up is world +y and forward follows `fwd` (T, 3)."""
    u = _unit(np.einsum("tji,j->i", R, np.array([0.0, 1.0, 0.0])) / len(R))   # mean R^T y
    f = np.einsum("tji,tj->i", R, fwd) / len(R)                                # mean R^T fwd
    f = _unit(f - (f @ u) * u)
    return u, f


def _world_frame(R: np.ndarray, u: np.ndarray, f: np.ndarray) -> np.ndarray:
    """(T, 3, 3) per-frame frames with columns (left, up, forward), orthonormal, right-handed."""
    up, fwd = R @ u, R @ f                                     # (T, 3)
    fwd = _unit(fwd - np.sum(fwd * up, -1, keepdims=True) * up)
    return np.stack([np.cross(up, fwd), up, fwd], axis=-1)


def to_coco(bvh: BVH, cfg: MappingConfig = MappingConfig(), what: str = "clip") -> CocoPose:
    """A parsed BVH -> CocoPose (body and feet always; hands when the skeleton has fingers)."""
    J = find_joints(bvh.names, what)
    pos, rot = forward_kinematics(bvh)  # (T, Nj, 3), (T, Nj, 3, 3)
    T = bvh.num_frames
    # units, from the legs
    leg = np.median(np.linalg.norm(pos[:, J["left_hip"]] - pos[:, J["left_knee"]], axis=-1)
                    + np.linalg.norm(pos[:, J["left_knee"]] - pos[:, J["left_ankle"]], axis=-1))
    stature_file = leg / LEG_OVER_STATURE
    if cfg.units == "auto":
        lo, hi = cfg.stature_m
        fits = [u for u, s in UNITS.items() if lo <= stature_file * s <= hi]
        if not fits:
            raise BVHError(f"{what}: cannot tell the units: legs of {leg:.4g} file units give no human stature in "
                           f"{list(UNITS)}; set MappingConfig.units", "bvh-skeleton")
        units = min(fits, key=lambda u: abs(np.log(stature_file * UNITS[u] / 1.7)))
    else:
        units = cfg.units
    scale = UNITS[units]
    # up axis: from the feet to the head
    if cfg.up_axis == "auto":
        v = np.mean(pos[:, J["head"]] - 0.5 * (pos[:, J["left_ankle"]] + pos[:, J["right_ankle"]]), axis=0)
        a = int(np.argmax(np.abs(v)))
        up_axis = ("-" if v[a] < 0 else "") + "xyz"[a]
    else:
        up_axis = cfg.up_axis
    C = _up_rotation(up_axis) * scale
    P = pos @ C.T                                               # (T, Nj, 3) metres, y up
    Rw = np.einsum("ij,tnjk->tnik", _up_rotation(up_axis), rot)  # world rotations in our axes

    def body_facing(P):
        left = (P[:, J["left_hip"]] - P[:, J["right_hip"]]) + (P[:, J["left_shoulder"]] - P[:, J["right_shoulder"]])
        f = np.cross(left, np.array([0.0, 1.0, 0.0]))
        f[:, 1] = 0.0
        return _unit(f)                                          # (T, 3)

    facing = body_facing(P)
    mirrored = bool(cfg.mirror)
    if cfg.mirror is None and "left_toe" in J and "right_toe" in J:
        dots = []  # feet on the ground point the way the body faces (a swinging foot may point anywhere)
        for side in ("left", "right"):
            ankle, toe = P[:, J[f"{side}_ankle"]], P[:, J[f"{side}_toe"]]
            stance = ankle[:, 1] < ankle[:, 1].min() + STANCE_BAND * stature_file * scale
            d = toe - ankle
            d[:, 1] = 0.0
            dots.append(np.sum(_unit(d) * facing, -1)[stance])
        mirrored = bool(np.mean(np.concatenate(dots)) < -0.5)
    if mirrored:
        M = np.diag([-1.0, 1.0, 1.0])
        P, Rw = P @ M, np.einsum("ij,tnjk->tnik", M, Rw)
        facing = body_facing(P)

    out = np.zeros((T, NUM_KEYPOINTS, 3))
    present = np.zeros(NUM_KEYPOINTS, bool)
    used = {}
    for side in ("left", "right"):
        for coco, role in (("shoulder", "shoulder"), ("elbow", "elbow"), ("wrist", "wrist"), ("hip", "hip"),
                           ("knee", "knee"), ("ankle", "ankle")):
            k = KEYPOINT_INDEX[f"{side}_{coco}"]
            out[:, k], present[k] = P[:, J[f"{side}_{role}"]], True
            used[f"{side}_{coco}"] = bvh.names[J[f"{side}_{role}"]]
    stature = float(stature_file * scale)
    # head: nose, eyes, ears in the head's calibrated frame, at ear level
    h = J["head"]
    mid_hips = 0.5 * (P[:, J["left_hip"]] + P[:, J["right_hip"]])
    u, f = _local_frame(Rw[:, h], facing)
    F = _world_frame(Rw[:, h], u, f)                            # (T, 3, 3) columns left, up, forward
    lift = EARLINE_OVER_HIPS * stature - float(np.median(np.linalg.norm(P[:, h] - mid_hips, axis=-1)))
    origin = P[:, h] + lift * F[:, :, 1]
    head5 = head_points(HEAD_OVER_STATURE * stature)             # (5, 3) x left, y up, z forward
    out[:, :5] = origin[:, None] + np.einsum("tij,kj->tki", F, head5)
    present[:5] = True
    used["head"] = bvh.names[h]
    # feet
    for side, feet in (("left", (17, 18, 19)), ("right", (20, 21, 22))):
        a = J[f"{side}_ankle"]
        fwd = (P[:, J[f"{side}_toe"]] - P[:, a]) if f"{side}_toe" in J else facing.copy()
        fwd[:, 1] = 0.0
        u, f = _local_frame(Rw[:, a], _unit(fwd))
        F = _world_frame(Rw[:, a], u, f)
        offs = FOOT_OFFSETS * stature * np.array([1.0 if side == "left" else -1.0, 1.0, 1.0])
        out[:, feet[0]:feet[-1] + 1] = P[:, a][:, None] + np.einsum("tij,kj->tki", F, offs)
        present[list(feet)] = True
    # hands, when the skeleton has fingers
    for side in ("left", "right"):
        chain = _finger_chains(bvh.names, bvh.parents, side)
        if chain is not None:
            region = REGIONS[f"{side}_hand"]
            out[:, region] = P[:, [J[f"{side}_wrist"]] + chain]
            present[region] = True
    out[:, :, 1] -= out[:, present, 1].min()  # floor at y = 0 (the lowest point of the clip)
    out[:, ~present] = 0.0
    return CocoPose(out, present, facing, bvh.fps, stature, units, up_axis, mirrored, used)
