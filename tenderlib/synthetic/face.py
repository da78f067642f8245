"""The 68-point face of the procedural 3D figure: a template, expression channels, time courses.

The face follows the iBUG/300-W 68-landmark order that COCO-WholeBody uses for its face part
(docs/conventions.md, COCO-WholeBody; local index k is global keypoint 23 + k):

    jaw 0-16 (0 on the subject's RIGHT, 8 = chin) · brows 17-21 (right) 22-26 (left) ·
    nose bridge 27-30 (30 = tip) · lower nose 31-35 · eyes 36-41 (right) 42-47 (left) ·
    outer lips 48-59 (48/54 corners) · inner lips 60-67 (62 top centre, 66 bottom centre)

Head-local frame (right-handed, the frame the body code rotates and translates): origin at the head
centre, the midpoint between the ears; +y up, +z forward (where the face looks), +x the subject's
LEFT. Template units: head height (vertex to chin) = 1, so the template times `head_height` in
metres gives metres. Vertical layout matches the stature table of reference section 7.1: with
head height 0.130 H, the ears sit at 0.931 H, the eyes at 0.936 H, the chin at 0.870 H and the
vertex at 1.000 H.

Expressions are blendshape-like: `EXPRESSION_CHANNELS` name displacement fields over the 68 points,
combined linearly with weights in [0, 1] (`face_points`). The two blink channels are the one
exception: they move each upper lid onto its lower lid *after* the linear combination, so a blink
closes the eye whatever the other channels do to the lids. `expression_weights` turns a named
expression (`EXPRESSIONS`) into (T, K) weight time courses: ease-in/ease-out onset and offset,
spontaneous blinks, syllables for talk, small idle variation, all drawn from the caller's rng.
"""
from __future__ import annotations

import logging

import numpy as np

from tenderlib.checks import check_choice, check_positive
from tenderlib.synthetic.curves import animation_window, smooth_noise, smoothstep, uniform

from tenderlib.data.skeleton import REGIONS

log = logging.getLogger(__name__)
NUM_FACE_POINTS = REGIONS["face"].stop - REGIONS["face"].start    # 68

# ----------------------------------------------------------------------------------------------
# Template (head-local, template units: head height = 1)
# ----------------------------------------------------------------------------------------------

EAR_HALF_WIDTH = 0.32   # bitragion breadth / 2 (~0.145 m / 2 on a 0.227 m head)
EYE_Y = 0.04            # eye line above the ear line (eyes 0.936 H vs ears 0.931 H)
CHIN_Y = -0.47          # menton; vertex - chin = 1
HEAD_TOP = np.array([0.0, 0.53, 0.02])  # vertex, for drawing a head outline (not a keypoint)
# Where the head-local origin sits relative to the top of the neck, in head-local axes and head
# heights: head_origin = neck_top + R_head @ (HEAD_PIVOT_OFFSET * head_height). "Top of the neck" is the
# head-neck pivot (atlanto-occipital joint), just below the ears. With it the neck top stands at
# 0.918 H for a figure built on the stature table (chin 0.870 H + 0.37 head heights x 0.130 H).
HEAD_PIVOT_OFFSET = np.array([0.0, 0.10, 0.0])


def _mirror(p: np.ndarray) -> np.ndarray:
    """x -> -x (subject's right <-> left)."""
    return p * np.array([-1.0, 1.0, 1.0])


def _jaw() -> np.ndarray:
    """17 points from the right cheek (0) round the chin (8) to the left cheek (16): (17, 3).

    A superellipse (exponent 2.4: a slightly square jaw) from the cheeks at ear level down to the
    chin, resampled at equal arc length as annotators space the contour; depth wraps from the chin
    (forward) back toward the ears.
    """
    half_width, top, n = 0.30, EYE_Y - 0.03, 2.4
    phi = np.linspace(-np.pi / 2, np.pi / 2, 721)
    s, c = np.sin(phi), np.cos(phi)
    x = half_width * np.sign(s) * np.abs(s) ** (2 / n)
    y = top - (top - CHIN_Y) * np.abs(c) ** (2 / n)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))])
    at = np.interp(np.linspace(0.0, arc[-1], 17), arc, np.arange(arc.size))
    phi_k = np.interp(at, np.arange(phi.size), phi)
    xk = np.interp(at, np.arange(x.size), x)
    yk = np.interp(at, np.arange(y.size), y)
    zk = 0.08 + (0.36 - 0.08) * np.cos(phi_k) ** 1.5   # cheeks z 0.08 -> chin z 0.36
    return np.stack([xk, yk, zk], axis=1)


def _right_brow() -> np.ndarray:
    """Points 17-21, outer to inner: (5, 3); the arch peaks a little outside the middle."""
    x = -np.array([0.245, 0.20, 0.15, 0.10, 0.05])
    y = EYE_Y + np.array([0.065, 0.100, 0.115, 0.110, 0.098])
    z = np.array([0.27, 0.33, 0.38, 0.41, 0.43])
    return np.stack([x, y, z], axis=1)


def _right_eye() -> np.ndarray:
    """Points 36-41: outer corner, upper lid (2), inner corner, lower lid (2, inner first): (6, 3).

    Open eye aspect ratio (|37-41| + |38-40|) / (2 |36-39|) = 0.30; outer corner slightly higher
    (positive canthal tilt); lids bulge forward over the cornea.
    """
    cx, hw, up, lo = -0.14, 0.064, 0.022, 0.017   # centre x, half width, upper / lower lid height
    return np.array([
        [cx - hw, EYE_Y + 0.004, 0.33],            # 36 outer corner
        [cx - hw / 3, EYE_Y + up, 0.385],          # 37 upper lid, outer third
        [cx + hw / 3, EYE_Y + up, 0.39],           # 38 upper lid, inner third
        [cx + hw, EYE_Y - 0.003, 0.37],            # 39 inner corner
        [cx + hw / 3, EYE_Y - lo, 0.385],          # 40 lower lid, inner third
        [cx - hw / 3, EYE_Y - lo, 0.38],           # 41 lower lid, outer third
    ])


def _template() -> np.ndarray:
    jaw = _jaw()                                                        # 0-16
    brow_r = _right_brow()
    brow_l = _mirror(brow_r[::-1])                                      # 22 inner ... 26 outer
    bridge = np.array([[0.0, EYE_Y + 0.035, 0.41], [0.0, EYE_Y - 0.04, 0.445],
                       [0.0, EYE_Y - 0.11, 0.48], [0.0, EYE_Y - 0.18, 0.535]])   # 27-30
    nostrils_r = np.array([[-0.075, EYE_Y - 0.200, 0.43], [-0.040, EYE_Y - 0.215, 0.465]])
    lower_nose = np.concatenate([nostrils_r, [[0.0, EYE_Y - 0.225, 0.48]],
                                 _mirror(nostrils_r[::-1])])            # 31-35
    eye_r = _right_eye()
    eye_l = _mirror(eye_r[[3, 2, 1, 0, 5, 4]])                          # 42 inner, 43-44 upper, 45 outer, 46-47 lower
    ym = -0.27                                                          # stomion (mouth line)
    upper_r = np.array([[-0.110, ym, 0.385], [-0.070, ym + 0.035, 0.43], [-0.025, ym + 0.050, 0.46]])
    lower_r = np.array([[-0.070, ym - 0.040, 0.43], [-0.030, ym - 0.055, 0.45]])
    outer = np.concatenate([upper_r, [[0.0, ym + 0.045, 0.465]], _mirror(upper_r[::-1]),   # 48-54
                            _mirror(lower_r), [[0.0, ym - 0.058, 0.455]], lower_r[::-1]])  # 55-59
    inner_r = np.array([[-0.080, ym, 0.41], [-0.030, ym + 0.004, 0.445]])
    inner = np.concatenate([inner_r, [[0.0, ym + 0.004, 0.45]], _mirror(inner_r[::-1]),    # 60-64
                            [[0.030, ym - 0.004, 0.445], [0.0, ym - 0.004, 0.45],
                             [-0.030, ym - 0.004, 0.445]]])                                 # 65-67
    pts = np.concatenate([jaw, brow_r, brow_l, bridge, lower_nose, eye_r, eye_l, outer, inner])
    assert pts.shape == (NUM_FACE_POINTS, 3)
    return pts


TEMPLATE = _template()          # (68, 3) template units

# Landmark groups (local indices) used by the fields below and by tests.
JAW = np.arange(0, 17)
BROW_R, BROW_L = np.arange(17, 22), np.arange(22, 27)
EYE_R, EYE_L = np.arange(36, 42), np.arange(42, 48)
# Upper-lid points and the lower-lid points below them, per eye.
LIDS_R = (np.array([37, 38]), np.array([41, 40]))
LIDS_L = (np.array([43, 44]), np.array([47, 46]))
UPPER_OUTER_LIP, LOWER_OUTER_LIP = np.arange(49, 54), np.arange(55, 60)
MOUTH_CORNERS = np.array([48, 54, 60, 64])
UPPER_INNER_LIP, LOWER_INNER_LIP = np.array([61, 62, 63]), np.array([65, 66, 67])


def head_points(head_height: float) -> np.ndarray:
    """COCO body keypoints 0-4 (nose, left_eye, right_eye, left_ear, right_ear), head-local metres: (5, 3).

    Nose = nose-tip landmark 30, eyes = centres of the eye landmark rings, ears at the sides of the
    head on the ear line (by definition of the origin, their midpoint is the origin).
    """
    check_positive("head_height", head_height)
    pts = np.stack([
        TEMPLATE[30],
        TEMPLATE[EYE_L].mean(axis=0),
        TEMPLATE[EYE_R].mean(axis=0),
        [EAR_HALF_WIDTH, 0.0, 0.0],
        [-EAR_HALF_WIDTH, 0.0, 0.0],
    ])
    return pts * head_height


# ----------------------------------------------------------------------------------------------
# Expression channels: displacement fields in template units, (K, 68, 3)
# ----------------------------------------------------------------------------------------------

EXPRESSION_CHANNELS = ("smile", "frown", "surprise", "mouth_open", "blink_left", "blink_right",
                       "brow_raise", "brow_inner_up", "lip_pucker", "squint", "upper_lip_raise",
                       "lip_stretch")
NUM_CHANNELS = len(EXPRESSION_CHANNELS)
_CH = {name: k for k, name in enumerate(EXPRESSION_CHANNELS)}

# Jaw opening: a rotation of the mandible about the jaw joints (just below and in front of the
# ears) plus a small forward glide of the condyles, as a linear displacement field.
_JAW_PIVOT = np.array([0.0, -0.02, 0.03])
# Share of each landmark carried by the mandible: lower cheek contour, chin, lower lip; mouth corners half.
_JAW_CARRY = np.zeros(NUM_FACE_POINTS)
_JAW_CARRY[JAW] = [0, 0, 0.1, 0.3, 0.6, 0.85, 1, 1, 1, 1, 1, 0.85, 0.6, 0.3, 0.1, 0, 0]
_JAW_CARRY[LOWER_OUTER_LIP] = 1.0
_JAW_CARRY[LOWER_INNER_LIP] = 1.0
_JAW_CARRY[MOUTH_CORNERS] = 0.5


def _jaw_drop(degrees: float, glide: float = 0.02) -> np.ndarray:
    """Displacement of the template when the jaw opens by `degrees`: (68, 3)."""
    a = np.deg2rad(degrees)
    rot = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    moved = (TEMPLATE - _JAW_PIVOT) @ rot.T + _JAW_PIVOT + np.array([0.0, 0.0, glide])
    return _JAW_CARRY[:, None] * (moved - TEMPLATE)


def _sym(field: np.ndarray, right: list[int], left: list[int], out_up_fwd) -> None:
    """Add a bilateral displacement: `out` moves away from the midline (-x on the right, +x on the left)."""
    d = np.asarray(out_up_fwd, dtype=float)
    field[right] += d * np.array([-1.0, 1.0, 1.0])
    field[left] += d


def _fields() -> np.ndarray:
    f = np.zeros((NUM_CHANNELS, NUM_FACE_POINTS, 3))

    s = f[_CH["smile"]]                                    # corners up and out, cheeks, lower lids up
    _sym(s, [48], [54], (0.025, 0.035, -0.012))
    _sym(s, [60], [64], (0.020, 0.030, -0.010))
    _sym(s, [49, 59], [53, 55], (0.012, 0.015, -0.004))
    _sym(s, [50, 61, 67], [52, 63, 65], (0.004, 0.006, 0.0))
    s[[51, 62, 66, 57]] += (0.0, 0.004, 0.0)
    _sym(s, [2, 3, 4], [14, 13, 12], (0.008, 0.006, 0.004))
    _sym(s, [40, 41], [47, 46], (0.0, 0.006, 0.0))

    fr = f[_CH["frown"]]                                   # corners down, brows down and together, chin up
    _sym(fr, [48, 60], [54, 64], (-0.004, -0.022, 0.0))
    _sym(fr, [49, 59], [53, 55], (0.0, -0.008, 0.0))
    fr[[56, 57, 58]] += (0.0, 0.010, 0.006)
    _sym(fr, [17, 18, 19, 20, 21], [26, 25, 24, 23, 22],
         np.array([[0.0, -0.010, 0], [-0.004, -0.016, 0], [-0.008, -0.022, 0],
                   [-0.012, -0.026, 0], [-0.015, -0.028, 0]]))
    _sym(fr, [37, 38], [44, 43], (0.0, -0.004, 0.0))

    su = f[_CH["surprise"]]                                # brows up, eyes wide, jaw drop
    su += _jaw_drop(10.0)
    su[BROW_R] += (0.0, 0.045, -0.004)
    su[BROW_L] += (0.0, 0.045, -0.004)
    su[np.r_[LIDS_R[0], LIDS_L[0]]] += (0.0, 0.012, 0.0)
    su[np.r_[LIDS_R[1], LIDS_L[1]]] += (0.0, -0.004, 0.0)
    _sym(su, [48, 60], [54, 64], (-0.012, 0.0, 0.0))

    mo = f[_CH["mouth_open"]]                              # jaw drop, upper lip lifts a little
    mo += _jaw_drop(18.0)
    mo[UPPER_INNER_LIP] += (0.0, 0.008, 0.0)
    mo[[50, 51, 52]] += (0.0, 0.005, 0.0)
    _sym(mo, [48, 60], [54, 64], (-0.010, 0.0, 0.0))

    br = f[_CH["brow_raise"]]                              # whole brows up, upper lids follow a little
    br[BROW_R] += (0.0, 0.040, -0.004)
    br[BROW_L] += (0.0, 0.040, -0.004)
    br[np.r_[LIDS_R[0], LIDS_L[0]]] += (0.0, 0.004, 0.0)

    bi = f[_CH["brow_inner_up"]]                           # sadness / worry: inner brow ends up and together
    _sym(bi, [21, 20, 19, 18, 17], [22, 23, 24, 25, 26],
         np.array([[-0.006, 0.035, 0], [-0.004, 0.025, 0], [0.0, 0.012, 0], [0.0, 0.002, 0], [0.0, -0.004, 0]]))

    pu = f[_CH["lip_pucker"]]                              # "oo": lips narrow and push forward
    _sym(pu, [48, 60], [54, 64], (-0.035, 0.0, 0.025))
    _sym(pu, [49, 59, 61, 67], [53, 55, 63, 65], (-0.018, 0.0, 0.03))
    pu[[50, 51, 52, 56, 57, 58, 62, 66]] += (0.0, 0.0, 0.03)
    pu[[50, 51, 52]] += (0.0, 0.004, 0.0)
    pu[[56, 57, 58]] += (0.0, -0.004, 0.0)

    sq = f[_CH["squint"]]                                  # lower lids up, upper lids down a little
    sq[np.r_[LIDS_R[1], LIDS_L[1]]] += (0.0, 0.010, 0.0)
    sq[np.r_[LIDS_R[0], LIDS_L[0]]] += (0.0, -0.006, 0.0)
    _sym(sq, [2, 3], [14, 13], (0.0, 0.004, 0.0))

    ul = f[_CH["upper_lip_raise"]]                         # disgust: upper lip and nostrils up, brows down
    ul[UPPER_OUTER_LIP] += (0.0, 0.020, 0.004)
    ul[UPPER_INNER_LIP] += (0.0, 0.016, 0.0)
    _sym(ul, [48, 60], [54, 64], (0.0, 0.008, 0.0))
    ul[np.arange(31, 36)] += (0.0, 0.008, 0.0)
    _sym(ul, [31], [35], (0.006, 0.006, 0.0))
    ul[np.r_[BROW_R[2:], BROW_L[:3]]] += (0.0, -0.012, 0.0)

    ls = f[_CH["lip_stretch"]]                             # fear: corners pulled back and sideways
    _sym(ls, [48, 60], [54, 64], (0.022, -0.006, -0.012))
    _sym(ls, [49, 59, 61, 67], [53, 55, 63, 65], (0.010, 0.0, -0.004))
    # blink_left / blink_right: no field; applied as lid closure in face_points.
    return f


FIELDS = _fields()               # (K, 68, 3)
_FIELDS_FLAT = FIELDS.reshape(NUM_CHANNELS, -1)
_TEMPLATE_FLAT = TEMPLATE.reshape(-1)
_BLINK_MEET = 0.25   # closed lids meet a quarter of the way up from the lower lid
_BLINK_GAP = 0.04    # residual gap when closed, as a fraction of the open gap (each side of the meeting line)
_UPPER_LIDS = np.r_[LIDS_R[0], LIDS_L[0]]
_LOWER_LIDS = np.r_[LIDS_R[1], LIDS_L[1]]
_BLINK_CHANNEL_OF_LID = np.array([_CH["blink_right"]] * 2 + [_CH["blink_left"]] * 2)


def face_points(weights: np.ndarray, head_height: float) -> np.ndarray:
    """Face landmarks for expression weights (T, K), head-local metres: (T, 68, 3), float64.

    weights: (T, K) with K = len(EXPRESSION_CHANNELS), each in [0, 1] (clipped).
    head_height: vertex-to-chin height in metres (0.130 x stature on the stature table).
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != NUM_CHANNELS:
        raise ValueError(f"weights must have shape (T, {NUM_CHANNELS}) for channels "
                         f"{EXPRESSION_CHANNELS}, got {w.shape}")
    check_positive("head_height", head_height)
    w = np.minimum(np.maximum(w, 0.0), 1.0)
    pts = (w @ _FIELDS_FLAT + _TEMPLATE_FLAT).reshape(-1, NUM_FACE_POINTS, 3)   # (T, 68, 3)
    # Blinks: each upper-lid point and the lower-lid point below it move to a meeting line a quarter
    # of the way up the current gap, leaving a small residual gap.
    b = w[:, _BLINK_CHANNEL_OF_LID, None]                   # (T, 4, 1)
    up, lo = pts[:, _UPPER_LIDS], pts[:, _LOWER_LIDS]       # (T, 4, 3)
    gap = up - lo
    pts[:, _UPPER_LIDS] = up + b * ((_BLINK_MEET + _BLINK_GAP) * gap - gap)
    pts[:, _LOWER_LIDS] = lo + b * ((_BLINK_MEET - _BLINK_GAP) * gap)
    return pts * head_height


def eye_aspect_ratio(points: np.ndarray, side: str) -> np.ndarray:
    """Eye aspect ratio (|p2-p6| + |p3-p5|) / (2 |p1-p4|) of one eye from (..., 68, D) landmarks: (...)."""
    check_choice("side", side, ("left", "right"))
    ring = EYE_L if side == "left" else EYE_R
    p = np.asarray(points)[..., ring, :]
    d = lambda i, j: np.linalg.norm(p[..., i, :] - p[..., j, :], axis=-1)  # noqa: E731
    return (d(1, 5) + d(2, 4)) / (2.0 * d(0, 3))


# ----------------------------------------------------------------------------------------------
# Named expressions and their time courses
# ----------------------------------------------------------------------------------------------

# Held channel weights of each static expression (at intensity 1). Dynamic parts (talk syllables,
# laugh pulses, deliberate blinks, winks) are added in expression_weights.
_TARGETS: dict[str, dict[str, float]] = {
    "neutral": {},
    "smile": {"smile": 0.8, "squint": 0.15},
    "frown": {"frown": 0.8},
    "surprise": {"surprise": 0.9, "brow_raise": 0.2},
    "open_mouth": {"mouth_open": 0.8},
    "talk": {},
    "blink": {},
    "brow_raise": {"brow_raise": 0.9},
    "angry": {"frown": 0.9, "squint": 0.5, "upper_lip_raise": 0.15},
    "sad": {"brow_inner_up": 0.85, "frown": 0.35},
    "laugh": {"smile": 0.95, "squint": 0.45},
    "disgust": {"upper_lip_raise": 0.85, "squint": 0.35, "frown": 0.3},
    "fear": {"brow_inner_up": 0.6, "brow_raise": 0.5, "lip_stretch": 0.8, "surprise": 0.25},
    "wink_left": {"smile": 0.3},
    "wink_right": {"smile": 0.3},
}
EXPRESSIONS = tuple(_TARGETS)


def _channel_vector(values: dict[str, float]) -> np.ndarray:
    v = np.zeros(NUM_CHANNELS)
    for name, value in values.items():
        v[_CH[name]] = value
    return v


_TARGET_VECTORS = {name: _channel_vector(values) for name, values in _TARGETS.items()}   # each (K,)
# Idle variation: amplitude per channel of a slow random drift (weights stay in [0, amplitude]).
_IDLE_AMPLITUDE = _channel_vector({"smile": 0.05, "frown": 0.03, "mouth_open": 0.04, "brow_raise": 0.05,
                                   "brow_inner_up": 0.03, "lip_pucker": 0.03, "squint": 0.04})
_IDLE_CHANNELS = np.flatnonzero(_IDLE_AMPLITUDE)
MAX_BLINK_RATE = 60.0   # blinks per minute; above it spontaneous blinks could overlap


def expression_weights(expression: str, num_frames: int, fps: float, rng: np.random.Generator,
                       intensity: float = 1.0, onset: float | None = None, offset: float | None = None,
                       ramp: float = 0.3, blink_rate: float | None = None,
                       idle: float = 1.0) -> np.ndarray:
    """Channel weights over time for a named expression: (T, K) float64 in [0, 1].

    expression: one of EXPRESSIONS.
    num_frames, fps: T >= 1 frames sampled at fps > 0.
    rng: all randomness comes from it (same rng state -> same weights).
    intensity: scale of the expression in [0, 1] (spontaneous blinks are always full).
    onset: seconds at which the ease-in starts (None: drawn in [0, min(0.5 s, 20% of the clip)];
        negative: already expressed at frame 0). offset: seconds at which the ease-out starts
        (None: held to the end). ramp: ease-in / ease-out duration in seconds (> 0).
        Dynamic parts (syllables, laugh pulses, deliberate blinks, winks) start in [onset, offset).
    blink_rate: spontaneous blinks per minute, both eyes, in [0, 60] (None: drawn in 10-25/min,
        15-30/min when talking; 0: none). Each lasts 100-300 ms and is fully closed on one frame.
    idle: scale of the small idle variation of the face (0: none).
    """
    check_choice("expression", expression, EXPRESSIONS)
    t, duration, onset, end = animation_window(num_frames, fps, intensity, ramp, onset, offset, rng)
    if not idle >= 0:
        raise ValueError(f"idle must be >= 0, got {idle}")
    if blink_rate is not None and not 0.0 <= blink_rate <= MAX_BLINK_RATE:
        raise ValueError(f"blink_rate must be in [0, {MAX_BLINK_RATE}] blinks per minute, got {blink_rate}")

    env = smoothstep((t - onset) / ramp)                                # (T,)
    if offset is not None:
        env = env * (1.0 - smoothstep((t - offset) / ramp))
    w = np.multiply.outer(intensity * _TARGET_VECTORS[expression], env)   # (K, T): rows contiguous

    if expression in ("talk", "laugh"):
        _add_syllables(w, rng, t, onset, end, intensity, talk=expression == "talk")
    elif expression == "blink":   # deliberate slow blinks: 0.5-0.8 s, closed for a moment, every 1-1.6 s
        starts = _event_starts(rng, onset, end, 1.0, 1.6)
        lids = intensity * _slow_blinks(t, starts, uniform(rng, 0.5, 0.8, starts.size), 0.3, 0.3)
        w[_CH["blink_left"]] = lids
        w[_CH["blink_right"]] = lids
    elif expression in ("wink_left", "wink_right"):   # one eye, 0.4-0.7 s, every 1.2-2 s
        starts = _event_starts(rng, onset, end, 1.2, 2.0)
        lids = intensity * _slow_blinks(t, starts, uniform(rng, 0.4, 0.7, starts.size), 0.25, 0.35)
        w[_CH["blink_" + expression.removeprefix("wink_")]] = lids

    # Spontaneous blinks (both eyes), in every expression.
    if blink_rate is None:
        blink_rate = uniform(rng, 15.0, 30.0) if expression == "talk" else uniform(rng, 10.0, 25.0)
    if blink_rate > 0:
        spont = _spontaneous_blinks(rng, t, duration, fps, blink_rate)
        for ch in (_CH["blink_left"], _CH["blink_right"]):
            w[ch] = np.maximum(w[ch], spont)

    if idle > 0:
        drift = 0.5 + 0.5 * smooth_noise(rng, t, _IDLE_CHANNELS.size, max_hz=0.6)   # (T, C) in [0, 1]
        w[_IDLE_CHANNELS] += (idle * _IDLE_AMPLITUDE[_IDLE_CHANNELS, None]) * drift.T
    return np.ascontiguousarray(np.minimum(np.maximum(w, 0.0), 1.0).T)   # (T, K)


# ----------------------------------------------------------------------------------------------
# Time-course helpers (vectorised over frames; events never overlap, so each frame belongs to at
# most one event, found by binary search instead of an (events x frames) table)
# ----------------------------------------------------------------------------------------------



def _locate(t: np.ndarray, starts: np.ndarray, widths: np.ndarray):
    """For sorted, disjoint events [starts, starts + widths): per frame the event index k (clamped
    to >= 0), the phase u = (t - start) / width and whether the frame lies inside it."""
    if starts.size == 0:
        return np.zeros(t.size, dtype=int), np.zeros_like(t), np.zeros(t.size, dtype=bool)
    k = np.searchsorted(starts, t, side="right") - 1                    # (T,)
    before = k < 0
    k = np.maximum(k, 0)
    u = (t - starts[k]) / widths[k]
    return k, u, ~before & (u < 1.0)


def _add_syllables(w: np.ndarray, rng, t: np.ndarray, start: float, end: float, intensity: float,
                   talk: bool) -> None:
    """Add mouth openings at syllable rate to weights w (K, T), in place: talk (3-5 Hz, phrase
    breaks, some rounded vowels, one brow emphasis) or laugh ("ha"s at 3.5-5.5 Hz, wider)."""
    rate = uniform(rng, 3.0, 5.0) if talk else uniform(rng, 3.5, 5.5)  # syllables per second
    starts, widths = _syllables(rng, start, end, rate, pauses=talk)
    if starts.size == 0:
        return
    r = rng.random((3, starts.size))                                     # amplitude, rounded?, rounding
    amp = intensity * (0.12 + 0.33 * r[0] if talk else 0.35 + 0.35 * r[0])   # talk: lip gap up to ~15 mm
    k, u, inside = _locate(t, starts, widths)                            # (T,) each
    shape = np.where(inside, np.sin(np.pi * u) ** 2, 0.0)               # (T,) one sin^2 per syllable
    m = _CH["mouth_open"]
    w[m] = np.maximum(w[m], amp[k] * shape)
    if talk:
        rounded = (r[1] < 0.25) * (0.4 + 0.5 * r[2])
        w[_CH["lip_pucker"]] += rounded[k] * amp[k] * shape
        emph_at, emph_amp = uniform(rng, start, max(start, end)), intensity * uniform(rng, 0.0, 0.4)
        w[_CH["brow_raise"]] += emph_amp * np.sin(np.pi * smoothstep((t - emph_at) / 0.5)) ** 2


def _syllables(rng, start: float, end: float, rate: float, pauses: bool):
    """Syllable mouth openings starting in [start, end): (starts, widths), periods ~1/rate +-25%."""
    n = int(np.ceil(max(end - start, 0.0) * rate * 1.5)) + 2
    r = rng.random((3, n))
    gaps = (0.75 + 0.5 * r[0]) / rate                                    # jittered syllable periods
    if pauses:  # phrase breaks of 0.2-0.5 s after 12% of the syllables
        gaps = gaps + (r[1] < 0.12) * (0.2 + 0.3 * r[2])
    starts = start + np.cumsum(gaps) - gaps + 0.05 * gaps               # each opening fills 90% of its period
    keep = starts < end
    return starts[keep], 0.9 * gaps[keep]


def _event_starts(rng, start: float, end: float, min_gap: float, max_gap: float) -> np.ndarray:
    """Start times in [start, end) of repeated events: the first at start, then every min_gap-max_gap s."""
    n = max(1, int(np.ceil(max(end - start, 0.0) / min_gap)))
    starts = start + np.cumsum(np.r_[0.0, uniform(rng, min_gap, max_gap, n - 1)])
    return starts[starts < end]


def _slow_blinks(t, starts, durations, close_frac: float, hold_frac: float) -> np.ndarray:
    """Lid closure (T,) of deliberate blinks: close, hold closed, reopen, with smooth ramps."""
    k, u, inside = _locate(t, starts, durations)
    close, hold = close_frac, hold_frac                                  # fractions of each blink
    closing = smoothstep(u / close)
    opening = 1.0 - smoothstep((u - close - hold) / (1.0 - close - hold))
    return np.where(inside, np.minimum(closing, opening), 0.0)


def _spontaneous_blinks(rng, t, duration, fps, rate_per_min):
    """Bilateral spontaneous blinks (T,): intervals >= 0.6 s, exponential beyond; 100-300 ms each
    (35% closing, 65% reopening). The closure peak is snapped onto a frame, so every blink shows a
    fully closed frame even at low frame rates (a 100 ms blink spans 3 frames at 30 fps)."""
    mean_gap = 60.0 / rate_per_min
    refractory = 0.6
    n = int(np.ceil(duration / refractory)) + 1
    r = rng.random((2, n))
    gaps = refractory - (mean_gap - refractory) * np.log1p(-r[0])       # refractory + exponential
    phase = gaps[0] * rng.random()                                       # random phase at clip start
    peaks = np.round((np.cumsum(gaps) - phase) * fps) / fps
    dur = 0.1 + 0.2 * r[1]
    k, u, inside = _locate(t, peaks - 0.35 * dur, dur)
    closing = smoothstep(u / 0.35)
    opening = 1.0 - smoothstep((u - 0.35) / 0.65)
    return np.where(inside, np.where(u < 0.35, closing, opening), 0.0)
