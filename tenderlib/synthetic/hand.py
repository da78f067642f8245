"""The 21-point hands of the procedural 3D figure: finger kinematics, gestures, time courses.

Points follow the COCO-WholeBody hand order (docs/conventions.md, COCO-WholeBody):
0 wrist; thumb 1-4 (CMC, MCP, IP, tip); index 5-8, middle 9-12, ring 13-16, little 17-20 (MCP, PIP,
DIP, tip). The left hand is global 91 + k, the right hand 112 + k.

Hand-local frame (right-handed, metres): origin at the wrist; +y distal (wrist -> middle-finger
MCP); +z the palm normal on the palmar side (fingers flex toward +z); the thumb lies on the +x side
of the RIGHT hand. The LEFT hand is the exact mirror (x -> -x) of the right hand for the same angles,
so its thumb is on -x. With the arm hanging palm forward, hand +y maps to world -y and hand +z to
world +z; then +x is the subject's right for the right hand: the thumb points away from the body.

Kinematics (`hand_points`): per finger four angles in radians,
    fingers: (abduction at the MCP, flexion at MCP, PIP, DIP)
    thumb:   (palmar abduction at the CMC, CMC flexion, MCP flexion, IP flexion)
Finger abduction is positive away from the middle finger (index toward the thumb, ring and little
toward the ulnar side; the middle finger's positive direction is toward the thumb). Each finger
flexes in one plane: after abduction, the MCP, PIP and DIP hinges all turn about the finger's
lateral axis, so the segment directions depend on the cumulative flexion only (cheap and exact).
Thumb model: the thumb metacarpal rests in the palm plane, 30 deg radial of the index and tilted
15 deg palmar; its flexion plane is pronated 60 deg (flexing the thumb sweeps it across the palm
toward the little finger, as the real CMC/MCP/IP do). Palmar abduction turns the whole thumb about
the hand's long axis through the CMC, lifting it in front of the palm and turning its pad toward
the fingers; abduction + flexion together give opposition (fist, ok, pinch), negative CMC flexion
swings it radially out (open hand, thumbs-up). Angles are clipped to `JOINT_LIMITS` (reference
section 7.5). Segment lengths are fractions of hand length (wrist to middle fingertip; hand length
= 0.108 x stature, reference section 7.1), rounded from hand anthropometry (Buchholz et al. 1992,
recalled, not checked against the paper here: tune by eye if hands look off).
"""
from __future__ import annotations

import logging

import numpy as np

from tenderlib.checks import check_choice, check_positive
from tenderlib.synthetic.curves import animation_window, keyframes, smooth_noise, smoothstep, uniform

from tenderlib.data.skeleton import REGIONS

log = logging.getLogger(__name__)

FINGERS = ("thumb", "index", "middle", "ring", "little")
NUM_FINGERS = len(FINGERS)
JOINTS_PER_FINGER = 4            # angles per finger, and points per finger
NUM_HAND_POINTS = REGIONS["right_hand"].stop - REGIONS["right_hand"].start   # 21
assert NUM_HAND_POINTS == 1 + NUM_FINGERS * JOINTS_PER_FINGER
HAND_LENGTH_PER_STATURE = 0.108  # reference section 7.1

# Segment lengths per finger, fractions of hand length: thumb (metacarpal, proximal, distal),
# fingers (proximal, middle, distal phalanx; the distal one to the fingertip).
SEGMENTS = np.array([
    [0.251, 0.196, 0.158],   # thumb
    [0.245, 0.143, 0.097],   # index
    [0.277, 0.170, 0.108],   # middle: MCP -> tip 0.555, so wrist -> middle MCP 0.445
    [0.259, 0.165, 0.107],   # ring
    [0.206, 0.117, 0.093],   # little
])
# First joint of each chain (thumb CMC, finger MCPs), right hand, fractions of hand length. The
# MCPs follow the knuckle arc (middle most distal) and the transverse palmar arch (index and little
# slightly palmar of the middle); the thumb CMC sits near the wrist on the radial, palmar side.
BASES = np.array([
    [0.100, 0.120, 0.030],   # thumb CMC
    [0.100, 0.430, 0.010],   # index MCP
    [0.000, 1.0 - SEGMENTS[2].sum(), 0.000],   # middle MCP on the +y axis (defines the frame)
    [-0.090, 0.420, 0.012],  # ring MCP
    [-0.170, 0.380, 0.030],  # little MCP
])
# Fingers: rest direction in the palm plane (deg toward +x = the thumb side; natural slight splay)
# and the side toward which positive abduction turns them.
_REST_SPLAY = np.deg2rad([6.0, 0.0, -5.0, -11.0])       # index, middle, ring, little
_ABDUCTION_SIGN = np.array([1.0, 1.0, -1.0, -1.0])
# Thumb rest frame: long axis 30 deg radial of +y and 15 deg palmar; flexion direction pronated 60 deg
# from the palm normal toward the ulnar side, made orthogonal to the long axis.
_psi, _eps, _rho = np.deg2rad([30.0, 15.0, 60.0])
_THUMB_LONG = np.array([np.sin(_psi) * np.cos(_eps), np.cos(_psi) * np.cos(_eps), np.sin(_eps)])
_f = np.array([-np.sin(_rho), 0.0, np.cos(_rho)])
_THUMB_FLEX = _f - (_f @ _THUMB_LONG) * _THUMB_LONG
_THUMB_FLEX /= np.linalg.norm(_THUMB_FLEX)
del _psi, _eps, _rho, _f

# Joint limits, degrees, (5, 4, 2) = (finger, angle, [min, max]) -- reference section 7.5:
# MCP 0-90 (some hyperextension), PIP 0-100, DIP 0-80/90, finger abduction ~20; thumb MCP 0-55
# (~10 hyperextension), IP 0-80 (~15 hyperextension), CMC palmar abduction ~45, radial abduction
# ~60 (= 30 at rest + 35 of negative CMC flexion here). Adduction past the rest splay is kept small
# (heuristic) so that fingers do not cross.
JOINT_LIMITS_DEG = np.array([
    [[0, 45], [-35, 40], [-10, 55], [-15, 80]],   # thumb: palmar abduction, CMC flexion, MCP, IP
    [[-10, 20], [-20, 90], [0, 100], [0, 85]],    # index: abduction, MCP, PIP, DIP
    [[-15, 15], [-20, 90], [0, 100], [0, 85]],    # middle
    [[-10, 20], [-20, 90], [0, 100], [0, 85]],    # ring
    [[-10, 20], [-20, 90], [0, 100], [0, 85]],    # little
], dtype=float)
JOINT_LIMITS = np.deg2rad(JOINT_LIMITS_DEG)
_LO, _HI = JOINT_LIMITS[..., 0], JOINT_LIMITS[..., 1]   # (5, 4) each
_BASES_T = BASES.T[:, :, None]                           # (3, 5, 1)


def clip_angles(angles: np.ndarray) -> np.ndarray:
    """Clip (..., 5, 4) angles in radians to JOINT_LIMITS."""
    return np.minimum(np.maximum(angles, _LO), _HI)


def hand_points(angles: np.ndarray, hand_length: float, side: str) -> np.ndarray:
    """Forward kinematics: (T, 5, 4) angles in radians -> (T, 21, 3) hand-local metres, float64.

    angles: per frame and finger (thumb, index, middle, ring, little) the 4 angles of the module
        docstring; clipped to JOINT_LIMITS first.
    hand_length: wrist to middle fingertip in metres (HAND_LENGTH_PER_STATURE x stature).
    side: 'left' or 'right' (left = right mirrored x -> -x).
    """
    a = np.asarray(angles, dtype=float)
    if a.ndim != 3 or a.shape[1:] != (NUM_FINGERS, JOINTS_PER_FINGER):
        raise ValueError(f"angles must have shape (T, {NUM_FINGERS}, {JOINTS_PER_FINGER}) "
                         f"(fingers {FINGERS}), got {a.shape}")
    check_positive("hand_length", hand_length)
    check_choice("side", side, ("left", "right"))
    num_frames = a.shape[0]
    a = np.minimum(np.maximum(a.T, _LO.T[..., None]), _HI.T[..., None])   # (4 angles, 5 fingers, T)

    # Long axis u and flexion direction f of each finger after abduction, unit vectors:
    # (3 coords, 5 fingers, T) each. Fingers turn in the palm plane and flex toward +z; the thumb's
    # rest frame turns about +y by its palmar abduction (x -> +z).
    u = np.empty((3, NUM_FINGERS, num_frames))
    f = np.zeros((3, NUM_FINGERS, num_frames))
    beta = _REST_SPLAY[:, None] + _ABDUCTION_SIGN[:, None] * a[0, 1:]      # (4, T) toward +x
    u[0, 1:] = np.sin(beta)
    u[1, 1:] = np.cos(beta)
    u[2, 1:] = 0.0
    f[2, 1:] = 1.0
    ca, sa = np.cos(a[0, 0]), np.sin(a[0, 0])                              # (T,)
    for vec, rest in ((u, _THUMB_LONG), (f, _THUMB_FLEX)):
        vec[0, 0] = ca * rest[0] - sa * rest[2]
        vec[1, 0] = rest[1]
        vec[2, 0] = sa * rest[0] + ca * rest[2]

    # Each segment points along cos(theta) u + sin(theta) f, theta the cumulative flexion.
    out = np.empty((num_frames, NUM_HAND_POINTS, 3))
    out[:, 0] = 0.0
    chains = out[:, 1:].reshape(num_frames, NUM_FINGERS, JOINTS_PER_FINGER, 3).transpose(3, 1, 2, 0)
    p = _BASES_T                                                           # (3, 5, 1): first joints
    chains[:, :, 0] = p                                                    # view (3, 5, 4, T) into out
    theta = 0.0
    for k in range(JOINTS_PER_FINGER - 1):                                 # 3 segments, not frames
        theta = theta + a[k + 1]                                           # (5, T)
        p = p + (np.cos(theta) * SEGMENTS[:, k, None]) * u + (np.sin(theta) * SEGMENTS[:, k, None]) * f
        chains[:, :, k + 1] = p                                            # (3, 5, T)
    out *= hand_length
    if side == "left":
        out[..., 0] *= -1.0
    return out


# ----------------------------------------------------------------------------------------------
# Gestures
# ----------------------------------------------------------------------------------------------

def _pose(thumb, index, middle, ring, little) -> np.ndarray:
    return np.deg2rad(np.array([thumb, index, middle, ring, little], dtype=float))   # (5, 4)


_CURLED = (-3, 85, 100, 65)            # a finger folded into the fist
_STRAIGHT = (0, 0, 0, 0)
_THUMB_ACROSS = (5, 10, 45, 70)        # thumb folded over the curled index and middle fingers
_THUMB_OUT = (10, -20, 0, 0)           # thumb extended radially
_THUMB_ON_RING = (5, 25, 40, 70)       # thumb folded over the curled ring (and little) finger
POSES: dict[str, np.ndarray] = {       # (5, 4) radians each: thumb, index, middle, ring, little
    "relaxed": _pose((15, 5, 15, 15), (0, 15, 25, 10), (0, 20, 30, 12), (0, 25, 35, 15), (0, 30, 40, 18)),
    "open": _pose(_THUMB_OUT, (12, 0, 0, 0), (4, 0, 0, 0), (10, 0, 0, 0), (18, 0, 0, 0)),
    "flat": _pose((0, 10, 5, 5), (-4, 0, 0, 0), (0, 0, 0, 0), (-3, 0, 0, 0), (-4, 0, 0, 0)),
    "fist": _pose((5, 8, 55, 60), _CURLED, _CURLED, _CURLED, _CURLED),
    "point": _pose(_THUMB_ACROSS, _STRAIGHT, _CURLED, _CURLED, _CURLED),
    "peace": _pose(_THUMB_ON_RING, (14, 0, 0, 0), (-12, 0, 0, 0), _CURLED, _CURLED),
    "thumbs_up": _pose((5, -25, 0, 0), _CURLED, _CURLED, _CURLED, _CURLED),
    "ok": _pose((45, 0, 10, 20), (-10, 20, 62, 35), (4, 5, 8, 0), (10, 8, 10, 5), (18, 10, 12, 5)),
    "pinch": _pose((45, 0, 10, 20), (-10, 20, 62, 35), (0, 45, 60, 30), (0, 55, 70, 35), (0, 60, 75, 40)),
    "rock": _pose(_THUMB_ACROSS, (8, 0, 0, 0), _CURLED, _CURLED, (15, 0, 0, 0)),
    "call_me": _pose((10, -35, 0, 0), _CURLED, _CURLED, _CURLED, (20, 0, 0, 0)),
    "count_1": _pose(_THUMB_ACROSS, _STRAIGHT, _CURLED, _CURLED, _CURLED),
    "count_2": _pose(_THUMB_ACROSS, (8, 0, 0, 0), (-6, 0, 0, 0), _CURLED, _CURLED),
    "count_3": _pose(_THUMB_ON_RING, (8, 0, 0, 0), (0, 0, 0, 0), (6, 0, 0, 0), _CURLED),
    "count_4": _pose((40, 5, 55, 70), (8, 0, 0, 0), (0, 0, 0, 0), (6, 0, 0, 0), (12, 0, 0, 0)),
    "count_5": _pose(_THUMB_OUT, (10, 0, 0, 0), (2, 0, 0, 0), (8, 0, 0, 0), (15, 0, 0, 0)),
}
# Dynamic gestures move over time: count (no number) counts up 1..5, wiggle flexes the fingers in
# sequence, grab opens then closes the hand, release closes then opens it.
_DYNAMIC = ("count", "count_up", "wiggle", "grab", "release")
GESTURES = tuple(POSES) + _DYNAMIC


def gesture_angles(gesture: str, num_frames: int, fps: float, rng: np.random.Generator,
                   onset: float | None = None, intensity: float = 1.0, offset: float | None = None,
                   ramp: float = 0.25, count: int | None = None, jitter: float = 1.0) -> np.ndarray:
    """Joint angles over time for a named gesture: (T, 5, 4) radians, within JOINT_LIMITS.

    The hand starts relaxed, eases into the gesture from `onset` over `ramp` seconds, holds it (or
    moves, for dynamic gestures) and, if `offset` is given, eases back to relaxed from `offset`.
    gesture: one of GESTURES. "count" with count=n (1-5) shows n fingers (index first, thumb last);
        without a number it counts up from 1 to 5 (as "count_up").
    num_frames, fps: T >= 1 frames at fps > 0.
    rng: all randomness comes from it (same rng state -> same angles).
    onset: seconds (None: drawn in [0, min(0.5 s, 20% of the clip)]; negative: already in the
        gesture at frame 0). offset: seconds at which the return to relaxed starts (None: held).
    intensity: in [0, 1], fraction of the way from relaxed to the gesture.
    jitter: scale of the per-clip pose variation (+-4 deg) and the small smooth tremor (~1.5 deg).
    """
    check_choice("gesture", gesture, GESTURES)
    if count is not None:
        if gesture != "count":
            raise ValueError(f"count is only used with gesture 'count', got gesture {gesture!r}")
        check_choice("count", count, (1, 2, 3, 4, 5))
        gesture = f"count_{count}"
    elif gesture == "count":
        gesture = "count_up"
    t, duration, onset, end = animation_window(num_frames, fps, intensity, ramp, onset, offset, rng)
    if not jitter >= 0:
        raise ValueError(f"jitter must be >= 0, got {jitter}")
    relaxed = POSES["relaxed"]

    # Keyframes (times, poses) of the gesture; the hand eases between consecutive keys.
    if gesture in POSES or gesture == "wiggle":
        target = POSES["flat"] * 0.5 + relaxed * 0.5 if gesture == "wiggle" else POSES[gesture]
        times, poses = [onset, onset + ramp], [relaxed, target]
    elif gesture in ("grab", "release"):
        first, second = ("open", "fist") if gesture == "grab" else ("fist", "open")
        hold, move = uniform(rng, 0.2, 0.5), uniform(rng, 0.3, 0.6)
        times = [onset, onset + ramp, onset + ramp + hold, onset + ramp + hold + move]
        poses = [relaxed, POSES[first], POSES[first], POSES[second]]
    else:  # count_up: 1, 2, 3, 4, 5 fingers, sharing the time left evenly
        step = max(ramp + 0.15, (end - onset) / 5.0)
        times, poses = [onset], [relaxed]
        for n in range(1, 6):
            times += [onset + (n - 1) * step + ramp, onset + n * step]
            poses += [POSES[f"count_{n}"]] * 2
    keys = (relaxed + intensity * (np.stack(poses) - relaxed)).reshape(len(poses), -1)   # (K, 20)
    times = np.asarray(times)                                                            # (K,)
    if offset is not None:   # from the pose reached at the offset back to relaxed
        before = times < offset
        keys = np.concatenate([keys[before], keyframes(np.array([offset]), times, keys), relaxed.reshape(1, -1)])
        times = np.r_[times[before], offset, offset + ramp]
    angles = keyframes(t, times, keys)                                  # (T, 20)
    per_finger = angles.reshape(-1, NUM_FINGERS, JOINTS_PER_FINGER)      # (T, 5, 4) view

    if gesture == "wiggle":   # fingers flex in sequence index -> little, 1.5-2.5 Hz
        hz = uniform(rng, 1.5, 2.5)
        lag = np.arange(NUM_FINGERS - 1) * (np.pi / 2)                  # quarter-cycle lag per finger
        wave = 0.5 - 0.5 * np.cos(2 * np.pi * hz * (t[:, None] - onset) - lag)   # (T, 4)
        env = smoothstep((t - onset) / ramp)
        if offset is not None:
            env = env * (1.0 - smoothstep((t - offset) / ramp))
        amp = intensity * np.deg2rad([45.0, 55.0, 30.0])                # MCP, PIP, DIP
        per_finger[:, 1:, 1:] += (env[:, None] * wave)[..., None] * amp

    if jitter > 0:   # this hand's own variation of the poses (+-4 deg) and a smooth tremor (~1.5 deg, < 2 Hz)
        variation = np.deg2rad(4.0) * (2.0 * rng.random(angles.shape[1]) - 1.0)
        tremor = smooth_noise(rng, t, angles.shape[1], max_hz=2.0)     # (T, 20)
        angles += jitter * (variation + np.deg2rad(1.5) * tremor)
    return np.minimum(np.maximum(per_finger, _LO), _HI)


# ----------------------------------------------------------------------------------------------
# Time-course helpers (vectorised over frames)
# ----------------------------------------------------------------------------------------------
