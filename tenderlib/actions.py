"""Animating a `Program`: joint-angle tracks for body actions, head moves, gestures and expressions.

Each body action is a function of the repetition phase u in [0, reps) that returns joint-angle
offsets from the rest pose, in degrees, by DOF name (tenderlib.figure.DOFS). Segments are
enveloped (smooth ease in and out) and played one after another; actions that change the state
(turn, sit down) keep their end state for the following segments. Natural variation: a smooth
random time warp, per-repetition amplitude jitter, idle sway and breathing, all from the rng.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tenderlib import face as face_model
from tenderlib.curves import keyframes, smooth_noise, smoothstep
from tenderlib import hand as hand_model
from tenderlib.figure import DOF_INDEX, NUM_DOFS, REST_POSE, clip_to_limits
from tenderlib.program import ACTION_GESTURE, ACTIONS, BodySegment, Program

TAU = 2.0 * np.pi


@dataclass
class Animation:
    """Everything the figure needs, per frame."""

    pose: np.ndarray          # (T, D) joint angles, radians
    airborne: np.ndarray      # (T,) flight height above the ground contact, metres
    face_weights: np.ndarray  # (T, K) expression channel weights
    hand_angles: tuple[np.ndarray, np.ndarray]  # left, right: (T, 5, 4) finger angles
    segment_of_frame: np.ndarray  # (T,) index of the body segment playing


# ----------------------------------------------------------------------------- wave shapes

def bump(u):
    """0 -> 1 -> 0 once per unit of phase, smooth."""
    return 0.5 - 0.5 * np.cos(TAU * u)


class _Track(dict):
    """DOF name -> offset in degrees (arrays of the segment's length), summed on repeated keys."""

    def add(self, name, value):
        self[name] = self.get(name, 0.0) + value

    def arm(self, side, **kw):
        for s in ("l", "r") if side == "both" else (side[0],):
            for k, v in kw.items():
                self.add(f"{s}_{k}", v)

    def flat_feet(self):
        """Keep both feet flat on the floor: ankle = knee - hip flexion (figure.py sign conventions)."""
        for s in ("l", "r"):
            self.add(f"{s}_ankle", self.get(f"{s}_knee", 0.0) - self.get(f"{s}_hip_flex", 0.0))


def _other(side):
    return {"left": "right", "right": "left"}.get(side, side)


# ----------------------------------------------------------------------------- body actions
# Each: (u (N,), frac (N,) position in the segment 0..1, seg, rng) -> (_Track, airborne (N,) or None)
def _stand(u, frac, seg, rng):
    tr = _Track()
    tr.add("spine_lat", 2.0 * np.sin(TAU * frac * 0.7 + rng.uniform(0, TAU)))
    return tr, None


def _walk(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    for s, ph in (("l", u), ("r", u + 0.5)):
        p = ph % 1.0
        tr.add(f"{s}_hip_flex", A * (10 + 20 * np.cos(TAU * p)))
        knee = 5 + 12 * np.exp(-((p - 0.12) / 0.06) ** 2) + 55 * np.exp(-(((p - 0.72 + 0.5) % 1 - 0.5) / 0.1) ** 2)
        tr.add(f"{s}_knee", A * knee)
        tr.add(f"{s}_ankle", A * (8 * np.exp(-((p - 0.45) / 0.08) ** 2) - 18 * np.exp(-((p - 0.62) / 0.05) ** 2)))
        tr.add(f"{s}_sh_plane", -70.0 + 0 * p)                  # arms swing in the sagittal plane
        tr.add(f"{s}_sh_elev", A * 16 * np.cos(TAU * (ph + 0.5)))
        tr.add(f"{s}_elbow", A * (12 + 8 * np.cos(TAU * (ph + 0.5))))
    tr.add("spine_twist", A * 4 * np.cos(TAU * u))
    return tr, None


def _run_in_place(u, frac, seg, rng, march=False):
    tr, A = _Track(), seg.amplitude
    for s, ph in (("l", u), ("r", u + 0.5)):
        lift = np.maximum(0.0, np.sin(TAU * ph)) ** 1.5
        tr.add(f"{s}_hip_flex", A * (50 if march else 60) * lift)
        tr.add(f"{s}_knee", A * (70 if march else 95) * lift)
        tr.add(f"{s}_ankle", -15 * lift)
        tr.add(f"{s}_sh_plane", -60.0 + 0 * ph)
        swing = np.cos(TAU * (ph + 0.5))
        tr.add(f"{s}_sh_elev", A * (30 * swing + 25) if march else A * (25 * swing + 30))
        tr.add(f"{s}_elbow", 10 + 0 * ph if march else 85 + 10 * swing)
    air = None if march else 0.02 * A * np.maximum(0, np.sin(2 * TAU * u)) ** 2
    return tr, air


def _march(u, frac, seg, rng):
    return _run_in_place(u, frac, seg, rng, march=True)


def _jump(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    f = u % 1.0
    k = [0, 0.3, 0.42, 0.5, 0.72, 0.82, 1.0]
    crouch = keyframes(f, k, [0, 1, 0, 0.15, 0.15, 0.6, 0])
    tr.arm("both", sh_plane=-50 + 0 * f, sh_elev=keyframes(f, k, [0, 35, 150, 160, 120, 40, 0]) * A)
    tr.add("spine_flex", 30 * crouch * A)
    for s in ("l", "r"):
        tr.add(f"{s}_knee", 85 * crouch * A)
        tr.add(f"{s}_hip_flex", 75 * crouch * A)
    tr.flat_feet()
    height = 0.3 * A
    x = np.clip((f - 0.45) / (0.75 - 0.45), 0, 1)
    air = np.where((f > 0.45) & (f < 0.75), 4 * height * x * (1 - x), 0.0)
    return tr, air


def _squat(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    b = keyframes(u % 1.0, [0, 0.4, 0.6, 1.0], [0, 1, 1, 0])
    depth = min(130.0, 100.0 * A)
    for s in ("l", "r"):
        tr.add(f"{s}_knee", depth * b)
        tr.add(f"{s}_hip_flex", 0.85 * depth * b)
    tr.add("spine_flex", 28 * b)
    tr.arm("both", sh_plane=-65 + 0 * b, sh_elev=80 * b)
    tr.flat_feet()
    return tr, None


def _lunge(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    b = keyframes(u % 1.0, [0, 0.35, 0.65, 1.0], [0, 1, 1, 0])
    f, r = seg.side[0], _other(seg.side)[0]
    tr.add(f"{f}_hip_flex", 80 * A * b)
    tr.add(f"{f}_knee", 85 * A * b)
    tr.add(f"{f}_ankle", 5 * A * b)
    tr.add(f"{r}_hip_flex", -20 * A * b)
    tr.add(f"{r}_knee", 60 * A * b)
    tr.add(f"{r}_ankle", -25 * A * b)
    tr.add("spine_flex", -5 * b)
    return tr, None


def _kick(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    f = u % 1.0
    s, o = seg.side[0], _other(seg.side)[0]
    k = [0, 0.3, 0.5, 0.7, 1.0]
    tr.add(f"{s}_hip_flex", A * keyframes(f, k, [0, 55, 85, 50, 0]))
    tr.add(f"{s}_knee", keyframes(f, k, [0, 90, 10, 80, 0]))
    tr.add(f"{s}_ankle", keyframes(f, k, [0, -10, -30, -10, 0]))
    tr.add(f"{o}_knee", keyframes(f, k, [0, 10, 12, 10, 0]))
    tr.add("spine_flex", keyframes(f, k, [0, -5, -12, -5, 0]))
    tr.arm("both", sh_plane=-30 + 0 * f, sh_elev=keyframes(f, k, [0, 20, 35, 20, 0]), elbow=keyframes(f, k, [0, 40, 60, 40, 0]))
    return tr, None


def _hop(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    s, o = seg.side[0], _other(seg.side)[0]  # hop on `side`, the other leg held up
    env = smoothstep(frac * 8) * smoothstep((1 - frac) * 8)
    tr.add(f"{o}_hip_flex", 35 * env)
    tr.add(f"{o}_knee", 85 * env)
    f = u % 1.0
    tr.add(f"{s}_knee", 25 * A * bump(f + 0.5) * env)
    tr.add(f"{s}_hip_flex", 15 * A * bump(f + 0.5) * env)
    tr.arm("both", sh_plane=70 + 0 * f, sh_elev=25 * env)
    x = np.clip((f - 0.3) / 0.4, 0, 1)
    air = np.where((f > 0.3) & (f < 0.7), 4 * 0.08 * A * x * (1 - x), 0.0) * (env > 0.9)
    return tr, air


def _punch(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    guard = smoothstep(frac * 6) * smoothstep((1 - frac) * 6)
    sides = ("left", "right") if seg.side == "both" else (seg.side,)
    for i, side in enumerate(sides):
        ph = (u + 0.5 * i) if len(sides) == 2 else u
        f = ph % 1.0
        ext = keyframes(f, [0, 0.25, 0.45, 1.0], [0, 1, 1, 0]) * (ph >= 0) * (ph < seg.repetitions)
        tr.arm(side, sh_plane=(-75 + 10 * ext) * guard, sh_elev=(45 + 40 * ext * A) * guard,
               elbow=(120 - 115 * ext) * guard, pron=(60 * ext) * guard)
        sign = 1 if side == "right" else -1
        tr.add("spine_twist", sign * 15 * ext * A)
    for s in ("l", "r"):
        tr.add(f"{s}_knee", 12 * guard)
        tr.add(f"{s}_hip_flex", 8 * guard)
    tr.flat_feet()
    return tr, None


def _shadow_box(u, frac, seg, rng):
    tr, air = _punch(u, frac, BodySegment("punch", "both", seg.repetitions, seg.speed, seg.amplitude), rng)
    tr.add("l_knee", 8 * bump(2 * u))
    tr.add("r_knee", 8 * bump(2 * u))
    tr.add("neck_flex", 8 + 0 * u)
    return tr, air


def _raise_arm(u, frac, seg, rng):
    tr = _Track()
    b = keyframes(u % 1.0, [0, 0.35, 0.65, 1.0], [0, 1, 1, 0])
    tr.arm(seg.side, sh_plane=-50 + 0 * b, sh_elev=min(175.0, 165 * seg.amplitude) * b, elbow=-8 * b, pron=-50 * b)
    return tr, None


def _point(u, frac, seg, rng):
    tr = _Track()
    b = keyframes(u % 1.0, [0, 0.3, 0.75, 1.0], [0, 1, 1, 0])
    tr.arm(seg.side, sh_plane=(-55 + 20 * seg.amplitude) * b, sh_elev=85 * b, elbow=-7 * b, pron=10 * b)
    tr.add("neck_yaw", b * {"left": 15, "right": -15, "both": 0}[seg.side])
    return tr, None


def _reach(u, frac, seg, rng):
    tr = _Track()
    b = keyframes(u % 1.0, [0, 0.4, 0.6, 1.0], [0, 1, 1, 0])
    tr.arm(seg.side, sh_plane=-45 + 0 * b, sh_elev=min(175.0, 140 * seg.amplitude) * b, elbow=-8 * b)
    tr.add("spine_flex", -8 * b)
    tr.add("neck_flex", -20 * b)
    for s in ("l", "r"):
        tr.add(f"{s}_ankle", -20 * b)  # on tiptoe
    if seg.side != "both":
        tr.add("spine_lat", (-1 if seg.side == "left" else 1) * -8 * b)
    return tr, None


def _arm_circles(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    env = smoothstep(frac * 5) * smoothstep((1 - frac) * 5)
    tr.arm(seg.side, sh_plane=(20 + 25 * A * np.cos(TAU * u)) * env, sh_elev=(90 + 25 * A * np.sin(TAU * u)) * env,
           elbow=-8 * env, pron=-60 * env)
    return tr, None


def _throw(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    f = u % 1.0
    s, o = seg.side[0], _other(seg.side)[0]
    sign = -1 if seg.side == "left" else 1
    k = [0, 0.35, 0.55, 0.75, 1.0]
    tr.add(f"{s}_sh_plane", keyframes(f, k, [0, 20, -40, -90, 0]))
    tr.add(f"{s}_sh_elev", A * keyframes(f, k, [0, 100, 120, 40, 0]))
    tr.add(f"{s}_sh_rot", keyframes(f, k, [0, 80, 10, -20, 0]))
    tr.add(f"{s}_elbow", keyframes(f, k, [0, 95, 20, 10, 0]))
    tr.add("spine_twist", sign * A * keyframes(f, k, [0, -35, 10, 30, 0]))
    tr.add("spine_flex", keyframes(f, k, [0, -5, 15, 25, 0]))
    tr.add(f"{o}_hip_flex", keyframes(f, k, [0, 30, 20, 15, 0]))
    tr.add(f"{o}_knee", keyframes(f, k, [0, 40, 15, 15, 0]))
    tr.add(f"{o}_sh_elev", keyframes(f, k, [0, 60, 40, 20, 0]))
    return tr, None


def _swing(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    f = u % 1.0
    sign = 1 if seg.side == "right" else -1        # a right-hander swings from his right to his left
    k = [0, 0.35, 0.55, 0.75, 1.0]
    twist = keyframes(f, k, [0, -50, 10, 65, 0]) * A
    tr.add("spine_twist", sign * twist)
    tr.add("spine_flex", keyframes(f, k, [0, 15, 20, 10, 0]))
    hold = keyframes(f, k, [0, 1, 1, 1, 0])
    tr.arm("both", sh_plane=(-95 + 0 * f) * hold, sh_elev=keyframes(f, k, [0, 80, 60, 85, 0]), elbow=keyframes(f, k, [0, 40, 10, 50, 0]))
    for s in ("l", "r"):
        tr.add(f"{s}_knee", 15 * hold)
        tr.add(f"{s}_hip_flex", 10 * hold)
    tr.flat_feet()
    return tr, None


def _bow(u, frac, seg, rng):
    tr = _Track()
    b = keyframes(u % 1.0, [0, 0.4, 0.6, 1.0], [0, 1, 1, 0])
    tr.add("spine_flex", min(85.0, 55 * seg.amplitude) * b)
    tr.add("neck_flex", 15 * b)
    return tr, None


def _touch_toes(u, frac, seg, rng):
    tr = _Track()
    b = keyframes(u % 1.0, [0, 0.4, 0.6, 1.0], [0, 1, 1, 0])
    tr.add("spine_flex", min(100.0, 95 * seg.amplitude) * b)
    tr.add("neck_flex", 10 * b)
    tr.arm("both", sh_plane=-60 + 0 * b, sh_elev=75 * b)
    return tr, None


def _turn(u, frac, seg, rng):
    tr = _Track()
    total = (90.0 if seg.amplitude < 1.0 else 180.0) * (1 if seg.side == "left" else -1)
    tr.add("root_yaw", total * smoothstep(frac * 1.1))
    step = np.maximum(0, np.sin(TAU * frac * 3)) * (frac < 0.9)
    tr.add("l_hip_flex", 20 * step)
    tr.add("l_knee", 40 * step)
    step_r = np.maximum(0, -np.sin(TAU * frac * 3)) * (frac < 0.9)
    tr.add("r_hip_flex", 20 * step_r)
    tr.add("r_knee", 40 * step_r)
    return tr, None


def _sit_down(u, frac, seg, rng):
    tr = _Track()
    b = smoothstep(frac * 1.3)
    for s in ("l", "r"):
        tr.add(f"{s}_hip_flex", 90 * b)
        tr.add(f"{s}_knee", 95 * b)
    lean = np.sin(np.pi * np.clip(frac * 1.3, 0, 1))
    tr.add("spine_flex", 30 * lean - 5 * b)
    tr.arm("both", sh_plane=-60 + 0 * b, sh_elev=45 * lean, elbow=30 * b)
    tr.flat_feet()
    return tr, None


def _stretch(u, frac, seg, rng):
    tr = _Track()
    up = keyframes(frac, [0, 0.25, 0.85, 1.0], [0, 1, 1, 0])
    tr.arm("both", sh_plane=(-40 + 0 * up) * up, sh_elev=170 * up, elbow=-8 * up, pron=-60 * up)
    tr.add("spine_flex", -10 * up)
    tr.add("spine_lat", 22 * seg.amplitude * np.sin(TAU * np.clip((frac - 0.25) / 0.6, 0, 1)) * up)
    return tr, None


def _side_bend(u, frac, seg, rng):
    tr = _Track()
    b = keyframes(u % 1.0, [0, 0.4, 0.6, 1.0], [0, 1, 1, 0])
    sign = 1 if seg.side == "left" else -1
    tr.add("spine_lat", sign * 30 * seg.amplitude * b)
    tr.arm(_other(seg.side), sh_plane=30 * b, sh_elev=160 * b, elbow=20 * b)
    return tr, None


def _jumping_jacks(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    b = bump(u)
    tr.arm("both", sh_plane=15 + 0 * b, sh_elev=min(175.0, 160 * A) * b, elbow=10 * b, pron=-70 * b)
    for s in ("l", "r"):
        tr.add(f"{s}_hip_abd", 16 * A * b)
        tr.add(f"{s}_knee", 12 * bump(2 * u))
    air = 0.05 * A * np.maximum(0, np.sin(2 * TAU * u - 0.5)) ** 2
    return tr, air


def _dance(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    side = np.sin(np.pi * u)                     # step left, then right, one per repetition
    for s, sign in (("l", 1), ("r", -1)):
        tr.add(f"{s}_hip_abd", 8 * A * np.maximum(0, sign * side))
        tr.add(f"{s}_knee", 18 * A * bump(u))
        tr.add(f"{s}_hip_flex", 10 * A * bump(u))
    tr.add("spine_lat", 8 * A * side)
    tr.add("neck_flex", 6 * bump(u))
    tr.arm("left", sh_plane=-20 + 0 * u, sh_elev=60 + 45 * A * np.sin(TAU * u / 2), elbow=70 + 0 * u)
    tr.arm("right", sh_plane=-20 + 0 * u, sh_elev=60 - 45 * A * np.sin(TAU * u / 2), elbow=70 + 0 * u)
    tr.flat_feet()
    return tr, None


def _wave(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    up = keyframes(frac, [0, 0.15, 0.85, 1.0], [0, 1, 1, 0])
    osc = np.sin(TAU * u) * up
    tr.arm(seg.side, sh_plane=(20 + 0 * u) * up, sh_elev=80 * up, elbow=85 * up + 25 * A * osc,
           pron=-70 * up, wrist_dev=12 * A * osc)
    return tr, None


def _clap(u, frac, seg, rng):
    tr, A = _Track(), seg.amplitude
    up = keyframes(frac, [0, 0.15, 0.85, 1.0], [0, 1, 1, 0])
    close = np.abs(np.cos(np.pi * u)) ** 0.6          # 1 = apart, 0 = hands together (sharp contact)
    tr.arm("both", sh_plane=(-70 + (-22 + 45 * A * close)) * up, sh_elev=70 * up, elbow=45 * up, pron=-10 * up)
    return tr, None




_ACTION_FUNCS = {
    "stand": _stand, "walk": _walk, "run_in_place": _run_in_place, "march": _march, "jump": _jump,
    "squat": _squat, "lunge": _lunge, "kick": _kick, "hop": _hop, "punch": _punch, "wave": _wave,
    "clap": _clap, "raise_arm": _raise_arm, "point": _point, "reach": _reach, "arm_circles": _arm_circles,
    "throw": _throw, "swing": _swing, "bow": _bow, "touch_toes": _touch_toes, "turn": _turn,
    "sit_down": _sit_down, "stretch": _stretch, "side_bend": _side_bend, "jumping_jacks": _jumping_jacks,
    "dance": _dance, "shadow_box": _shadow_box,
}


assert set(_ACTION_FUNCS) == set(ACTIONS), set(ACTIONS) ^ set(_ACTION_FUNCS)
_IDLE_DOFS = np.array([d.startswith(("spine", "neck")) or d[2:].startswith(("sh_", "elbow", "pron", "wrist"))
                       for d in DOF_INDEX])
_PERSIST = {"turn": ("root_yaw",), "sit_down": ("l_hip_flex", "r_hip_flex", "l_knee", "r_knee", "l_ankle", "r_ankle", "spine_flex", "l_elbow", "r_elbow")}


# ----------------------------------------------------------------------------- head moves
def _head(move: str, T: int, fps: float, rng) -> dict[str, np.ndarray]:
    if move == "none" or T < 4:
        return {}
    dur = min(T, int(fps * rng.uniform(1.2, 2.5)))
    start = int(rng.integers(0, max(1, T - dur)))
    f = np.clip((np.arange(T) - start) / max(dur, 1), 0, 1)
    env = np.sin(np.pi * f) ** 0.5
    if move == "nod":
        return {"neck_flex": 18 * np.sin(TAU * 2 * f) * env}
    if move == "shake":
        return {"neck_yaw": 30 * np.sin(TAU * 2 * f) * env}
    if move == "tilt":
        return {"neck_roll": 20 * keyframes(f, [0, 0.3, 0.7, 1], [0, 1, 1, 0])}
    sign = 1 if move == "turn_left" else -1
    return {"neck_yaw": sign * 60 * keyframes(f, [0, 0.3, 0.7, 1], [0, 1, 1, 0])}



# ----------------------------------------------------------------------------- program -> animation
def segment_frames(program: Program, fps: float) -> list[int]:
    """Frames of each body segment (at least 8 each)."""
    return [max(8, int(round(s.duration_s * fps))) for s in program.segments]


def animate(program: Program, fps: float, rng: np.random.Generator, idle: float = 1.0) -> Animation:
    """Joint-angle tracks for a whole program (deterministic for the rng)."""
    lengths = segment_frames(program, fps)
    T = int(sum(lengths))
    pose_deg = np.zeros((T, NUM_DOFS))
    airborne = np.zeros(T)
    seg_of = np.zeros(T, dtype=np.int64)
    persist = np.zeros(NUM_DOFS)
    start = 0
    for si, (seg, n) in enumerate(zip(program.segments, lengths)):
        frac = (np.arange(n) + 0.5) / n
        # a smooth, monotone time warp (tempo varies by ~+-10% within the segment)
        warp = frac + 0.04 * np.sin(TAU * frac * rng.uniform(0.5, 1.5) + rng.uniform(0, TAU)) * np.sin(np.pi * frac)
        u = np.clip(warp, 0, 1) * seg.repetitions
        # per-repetition amplitude jitter
        jit = 1.0 + 0.08 * rng.standard_normal(seg.repetitions + 1)
        amp = np.interp(u, np.arange(seg.repetitions + 1), jit)
        track, air = _ACTION_FUNCS[seg.action](u, frac, seg, rng)
        env = smoothstep(np.minimum(frac, 1 - frac) * n / max(2.0, 0.25 * fps)) if seg.action not in _PERSIST else np.ones(n)
        block = np.zeros((n, NUM_DOFS))
        for name, val in track.items():
            block[:, DOF_INDEX[name]] = np.broadcast_to(val, (n,))
        block *= (env * amp)[:, None]
        pose_deg[start:start + n] = block + persist
        for name in _PERSIST.get(seg.action, ()):
            persist[DOF_INDEX[name]] += block[-1, DOF_INDEX[name]]
        if air is not None:
            airborne[start:start + n] = air * env
        seg_of[start:start + n] = si
        start += n

    for name, val in _head(program.head, T, fps, rng).items():
        pose_deg[:, DOF_INDEX[name]] += val
    # idle: breathing and sway on the spine and neck, small arm drift
    noise = smooth_noise(rng, np.arange(T) / fps, NUM_DOFS, max_hz=0.8)            # (T, D) in [-1, 1]
    scale = np.where(_IDLE_DOFS, 3.0 * idle, 0.0)  # legs and root stay put so standing feet never slide
    pose_deg += noise * scale
    breath = np.sin(TAU * np.arange(T) / fps * rng.uniform(0.2, 0.33) + rng.uniform(0, TAU))
    pose_deg[:, DOF_INDEX["spine_flex"]] += 1.0 * breath
    pose = clip_to_limits(REST_POSE + np.deg2rad(pose_deg))

    face_w = face_model.expression_weights(program.expression, T, fps, rng)
    hands = tuple(_hand_track(program, side, lengths, fps, rng) for side in ("left", "right"))
    return Animation(pose=pose, airborne=airborne, face_weights=face_w, hand_angles=hands, segment_of_frame=seg_of)


def _hand_track(program: Program, side: str, lengths: list[int], fps: float, rng) -> np.ndarray:
    """Finger angles (T, 5, 4): the program's gesture, overridden where an action imposes one."""
    T = int(sum(lengths))
    base = program.gesture if program.gesture_side in (side, "both") else "relaxed"
    angles = hand_model.gesture_angles(base, T, fps, rng)
    start = 0
    for seg, n in zip(program.segments, lengths):
        g = ACTION_GESTURE.get(seg.action)
        if g is not None and seg.side in (side, "both", "none"):
            imposed = hand_model.gesture_angles(g, n, fps, rng)
            w = smoothstep(np.minimum(np.arange(n), n - 1 - np.arange(n)) / max(1.0, 0.2 * fps))[:, None, None]
            angles[start:start + n] = angles[start:start + n] * (1 - w) + imposed * w
        start += n
    return angles
