"""Animating a `Program`: joint-angle tracks for body actions, head moves, gestures and expressions.

Each body action is a function of the repetition phase u in [0, reps) that returns joint-angle
offsets from the rest pose, in degrees, by DOF name (tenderlib.synthetic.figure.DOFS). Segments are
enveloped (smooth ease in and out) and played one after another; actions that change the state
(turn, sit down) keep their end state for the following segments. Natural variation: a smooth
random time warp, per-repetition amplitude jitter, idle sway and breathing, all from the rng.

Versions (`animate(..., version=)`, `synthetic.SyntheticConfig.motion_version`): 2, the default,
is the animation after the realism measurements (tenderlib.evaluation.realism, notebook 01 section
8 against the bandai-namco motion capture); 1 is the original, kept so the comparison can be
reproduced. Version 2 changes what the measurements showed clearly off:

- walking: the stance hip extended on a cosine, so the stance foot, which `figure.ground` holds
  still, moved backwards at a speed from 0 to its peak and the body advanced in lurches (hip
  speed 0.2 to 5 m/s in one stride, joint accelerations 3 to 7 times the captured walks); now the
  hip extends at a constant rate through stance and swings forward on a Hermite curve that meets
  the stance slope at both ends, so the body moves at a nearly steady speed;
- stillness: only the spine, neck and arms swayed (below 0.8 Hz), the legs and the pelvis were
  frozen, so every part an action does not use was dead still (core joint acceleration 0 where
  the capture has 0.4 to 0.8 body sizes / s^2); now a whole-body postural sway that keeps both
  feet planted (the legs tilt together) moves the pelvis, and the upper-body idle reaches 1.5 Hz;
- stance changes: the body's speed jumped within one frame where `figure.ground` changes the
  planted foot; its travel is now smoothed over 0.15 s (`ground_smoothing`);
- onsets: a segment eased in and out over 0.25 s, now 0.4 s;
- repetitions: all repetitions of a segment took the same time (a +-4% warp) and amplitude (+-8%),
  so two bows or two arm raises repeated almost exactly (autocorrelation peaks of 0.75 where the
  capture's single bows have none); now each repetition has its own duration (sd 15%) and
  amplitude (sd 12%);
- arm gestures: the arm went up (or down) in 15 to 40% of a repetition or within 0.3 s of a
  segment's start, wrist speeds were twice the captured gestures'; now an arm held up through a
  segment (wave, clap, stretch) takes at least 1 s to go up and down, and one raised per repetition
  (point, raise_arm, reach, side_bend) 45% of the repetition.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tenderlib.synthetic import face as face_model
from tenderlib.synthetic.curves import keyframes, smooth_noise, smoothstep
from tenderlib.synthetic import hand as hand_model
from tenderlib.synthetic.figure import DOF_INDEX, NUM_DOFS, REST_POSE, clip_to_limits
from tenderlib.synthetic.program import ACTION_GESTURE, ACTIONS, BodySegment, Program

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


def _leg_reach(hip, knee):
    """Forward reach of the ankle from the hip joint for hip flexion and knee flexion (radians), thigh and
    shank of equal length 1 (the figure's are within 1% of each other)."""
    return np.sin(hip) + np.sin(hip - knee)


def _stance_hip(p, knee, knee0: float, knee1: float, flex: float, ext: float, stance: float):
    """Hip flexion (radians) at stance phases p (knee flexion `knee` there, radians) such that the ankle
    reach falls at a constant rate from its value at (+flex, knee0) at p = 0 to its value at
    (-ext, knee1) at p = stance: a few Newton steps from the linear-in-angle guess."""
    x0, x1 = _leg_reach(flex, knee0), _leg_reach(-ext, knee1)
    target = x0 + (x1 - x0) * (p / stance)
    hip = flex + (-ext - flex) * (p / stance)
    for _ in range(4):
        hip = hip - (_leg_reach(hip, knee) - target) / (np.cos(hip) + np.cos(hip - knee))
    return hip


def _gait_knee(p, A: float):
    """Knee flexion (degrees) over the gait phase: loading response, then flexion from heel-off
    (pre-swing) to clear the swinging foot, peaking at 72% of the cycle."""
    return A * (5 + 12 * np.exp(-((p - 0.12) / 0.06) ** 2) + 58 * keyframes(p, [0.42, 0.72, 0.97], [0, 1, 0]))


def _walk2(u, frac, seg, rng, flex_deg: float = 22.0, ext_deg: float = 12.0, stance: float = 0.5):
    """Version 2 walk. Stance lasts until the other heel strikes (half a cycle): through it the hip is
    set so that the planted ankle moves back at a constant speed (knee loading response included),
    the foot stays flat (ankle = knee - hip), and the trailing knee starts to flex at heel-off, so the
    other foot becomes the lowest when its heel strikes and `figure.ground` changes the planted foot
    there. The swing is a cubic Hermite in hip angle that leaves and meets the stance rates, so both
    feet move back at nearly the same speed around each heel strike: the body advances steadily."""
    tr, A = _walk(u, frac, seg, rng)[0], seg.amplitude
    flex, ext = np.deg2rad(flex_deg * A), np.deg2rad(ext_deg * A)
    k0, k1 = np.deg2rad(_gait_knee(np.array([0.0, stance]), A))
    ends = np.array([1e-3, stance - 1e-3])
    h_ends = _stance_hip(ends, np.deg2rad(_gait_knee(ends, A)), k0, k1, flex, ext, stance)
    m0, m1 = (h_ends[0] - flex) / 1e-3, (-ext - h_ends[1]) / 1e-3  # d hip / d phase at stance start and end
    swing = 1.0 - stance
    for side, ph in (("l", u), ("r", u + 0.5)):
        p = ph % 1.0
        knee_deg = _gait_knee(p, A)
        in_stance = p < stance
        hip = _stance_hip(np.minimum(p, stance), np.deg2rad(knee_deg), k0, k1, flex, ext, stance)
        s = np.clip((p - stance) / swing, 0.0, 1.0)
        h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
        back = h00 * -ext + h10 * swing * m1 + h01 * flex + h11 * swing * m0
        hip_deg = np.rad2deg(np.where(in_stance, hip, back))
        # the foot is flat through stance, then takes the walk's swing profile (toes up for clearance)
        flat = smoothstep(np.minimum(p, stance - p) / 0.12) * in_stance  # foot flat from loading to heel-off
        ankle = flat * (knee_deg - hip_deg) + (1 - flat) * tr[f"{side}_ankle"]
        tr[f"{side}_hip_flex"], tr[f"{side}_knee"], tr[f"{side}_ankle"] = hip_deg, knee_deg, ankle
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


def _flexed_stance(tr, knee, hip_flex) -> None:
    """Both knees and hips flexed by these (degrees, per frame or constant), the feet flat."""
    for s in ("l", "r"):
        tr.add(f"{s}_knee", knee)
        tr.add(f"{s}_hip_flex", hip_flex)
    tr.flat_feet()


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
    _flexed_stance(tr, 12 * guard, 8 * guard)
    return tr, None


def _shadow_box(u, frac, seg, rng):
    tr, air = _punch(u, frac, BodySegment("punch", "both", seg.repetitions, seg.speed, seg.amplitude), rng)
    tr.add("l_knee", 8 * bump(2 * u))
    tr.add("r_knee", 8 * bump(2 * u))
    tr.add("neck_flex", 8 + 0 * u)
    return tr, air


def _raise_arm(u, frac, seg, rng, keys=(0, 0.35, 0.65, 1.0)):
    tr = _Track()
    b = keyframes(u % 1.0, keys, [0, 1, 1, 0])
    tr.arm(seg.side, sh_plane=-50 + 0 * b, sh_elev=min(175.0, 165 * seg.amplitude) * b, elbow=-8 * b, pron=-50 * b)
    return tr, None


def _point(u, frac, seg, rng, keys=(0, 0.3, 0.75, 1.0)):
    tr = _Track()
    b = keyframes(u % 1.0, keys, [0, 1, 1, 0])
    tr.arm(seg.side, sh_plane=(-55 + 20 * seg.amplitude) * b, sh_elev=85 * b, elbow=-7 * b, pron=10 * b)
    tr.add("neck_yaw", b * {"left": 15, "right": -15, "both": 0}[seg.side])
    return tr, None


def _reach(u, frac, seg, rng, keys=(0, 0.4, 0.6, 1.0)):
    tr = _Track()
    b = keyframes(u % 1.0, keys, [0, 1, 1, 0])
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
    _flexed_stance(tr, 15 * hold, 10 * hold)
    return tr, None


def _bend_forward(u, spine: float, neck: float):
    """Down, held, up again over each repetition: spine and neck flexed by these degrees -> (track, curve)."""
    tr = _Track()
    b = keyframes(u % 1.0, [0, 0.4, 0.6, 1.0], [0, 1, 1, 0])
    tr.add("spine_flex", spine * b)
    tr.add("neck_flex", neck * b)
    return tr, b


def _bow(u, frac, seg, rng):
    tr, _ = _bend_forward(u, min(85.0, 55 * seg.amplitude), 15)
    return tr, None


def _touch_toes(u, frac, seg, rng):
    tr, b = _bend_forward(u, min(100.0, 95 * seg.amplitude), 10)
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


def _stretch(u, frac, seg, rng, keys=(0, 0.25, 0.85, 1.0)):
    tr = _Track()
    up = keyframes(frac, keys, [0, 1, 1, 0])
    tr.arm("both", sh_plane=(-40 + 0 * up) * up, sh_elev=170 * up, elbow=-8 * up, pron=-60 * up)
    tr.add("spine_flex", -10 * up)
    tr.add("spine_lat", 22 * seg.amplitude * np.sin(TAU * np.clip((frac - 0.25) / 0.6, 0, 1)) * up)
    return tr, None


def _side_bend(u, frac, seg, rng, keys=(0, 0.4, 0.6, 1.0)):
    tr = _Track()
    b = keyframes(u % 1.0, keys, [0, 1, 1, 0])
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


def _wave(u, frac, seg, rng, ramp=0.15):
    tr, A = _Track(), seg.amplitude
    up = keyframes(frac, [0, ramp, 1 - ramp, 1.0], [0, 1, 1, 0])
    osc = np.sin(TAU * u) * up
    tr.arm(seg.side, sh_plane=(20 + 0 * u) * up, sh_elev=80 * up, elbow=85 * up + 25 * A * osc,
           pron=-70 * up, wrist_dev=12 * A * osc)
    return tr, None


def _clap(u, frac, seg, rng, ramp=0.15):
    tr, A = _Track(), seg.amplitude
    up = keyframes(frac, [0, ramp, 1 - ramp, 1.0], [0, 1, 1, 0])
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

VERSIONS = (1, 2)
_GESTURE_KEYS = (0, 0.45, 0.55, 1.0)  # version 2: an arm raised per repetition goes up in 45% of it, down in 45%
_MIN_RAISE_S = 1.0                    # version 2: shortest raise (and lowering) of an arm held through a segment


_REP_TEMPO_SD = 0.15                # version 2: spread of the duration of one repetition (lognormal sd)
_REP_AMPLITUDE_SD = 0.12            # version 2: spread of the amplitude of one repetition (version 1: 0.08)
_EASE_S = 0.4                       # version 2: a segment eases in and out over this (version 1: 0.25 s)
_GROUND_SMOOTH_S = 0.15             # version 2: the root's travel is smoothed over this window (figure.ground)


def _uneven_repetitions(u: np.ndarray, reps: int, rng) -> np.ndarray:
    """Phase u (n,) in [0, reps] re-timed so that repetition k lasts a random share of the segment
    (lognormal, sd `_REP_TEMPO_SD`): piecewise linear through the new repetition boundaries, then a
    moving average over a third of a repetition, so the tempo changes gradually. Stays monotone."""
    share = rng.lognormal(0.0, _REP_TEMPO_SD, reps)
    edges = np.concatenate([[0.0], np.cumsum(share) / share.sum()]) * reps  # (reps + 1,) boundaries in u
    lin = np.interp(u, edges, np.arange(reps + 1.0))  # (n,)
    k = max(1, int(len(u) / reps / 3))
    if k < 2 or len(u) < 2 * k:
        return lin
    pad = np.pad(lin, (k // 2, k - 1 - k // 2), mode="reflect", reflect_type="odd")
    c = np.cumsum(np.concatenate([[0.0], pad]))
    return np.clip((c[k:] - c[:-k]) / k, 0.0, reps)


def ground_smoothing(fps: float, version: int = 2) -> int:
    """Frames over which `figure.ground` smooths the body's travel for an animation of this version."""
    return 0 if version == 1 else max(1, int(round(_GROUND_SMOOTH_S * fps)))


def _actions_v2(seg: BodySegment, n: int, fps: float):
    """Version 2's action function for one segment of n frames (see the module docstring)."""
    ramp = float(np.clip(_MIN_RAISE_S * fps / max(n, 1), 0.15, 0.4))
    gesture = _GESTURE_KEYS
    table = {"walk": _walk2, "wave": lambda *a: _wave(*a, ramp=ramp), "clap": lambda *a: _clap(*a, ramp=ramp),
             "stretch": lambda *a: _stretch(*a, keys=(0, max(ramp, 0.25), 1 - max(ramp, 0.15), 1.0)),
             "point": lambda *a: _point(*a, keys=gesture), "raise_arm": lambda *a: _raise_arm(*a, keys=gesture),
             "reach": lambda *a: _reach(*a, keys=gesture), "side_bend": lambda *a: _side_bend(*a, keys=gesture)}
    return table.get(seg.action, _ACTION_FUNCS[seg.action])
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



def _postural_sway(rng, T: int, fps: float) -> np.ndarray:
    """(T, D) degrees: the pelvis sways sideways, back and forth and up and down while both feet stay
    planted, because both legs tilt together (equal foot displacement, so figure.ground's stance foot
    and the other foot both stay put): hip_abd out on one side and in on the other, hip_flex with the
    ankle compensating, knees with hip and ankle compensating (the `flat_feet` rule)."""
    sway = smooth_noise(rng, np.arange(T) / fps, 3, max_hz=1.0)  # (T, 3) in [-1, 1]
    lateral, fore_aft, bounce = 2.0 * sway[:, 0], 2.0 * sway[:, 1], 3.0 * (0.5 + 0.5 * sway[:, 2])
    out = np.zeros((T, NUM_DOFS))
    out[:, DOF_INDEX["l_hip_abd"]] += lateral
    out[:, DOF_INDEX["r_hip_abd"]] -= lateral
    for s in ("l", "r"):
        hip = fore_aft + 0.5 * bounce
        out[:, DOF_INDEX[f"{s}_hip_flex"]] += hip
        out[:, DOF_INDEX[f"{s}_knee"]] += bounce
        out[:, DOF_INDEX[f"{s}_ankle"]] += bounce - hip
    return out


# ----------------------------------------------------------------------------- program -> animation
def segment_frames(program: Program, fps: float) -> list[int]:
    """Frames of each body segment (at least 8 each)."""
    return [max(8, int(round(s.duration_s * fps))) for s in program.segments]


def animate(program: Program, fps: float, rng: np.random.Generator, idle: float = 1.0,
            version: int = 2) -> Animation:
    """Joint-angle tracks for a whole program (deterministic for the rng). version: 2 (default) or 1,
    the animation before the realism fixes (module docstring); version 1 draws exactly as it did."""
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, got {version!r}")
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
        if version >= 2 and seg.repetitions > 1:  # each repetition takes its own time
            u = _uneven_repetitions(u, seg.repetitions, rng)
        # per-repetition amplitude jitter
        jit = 1.0 + (0.08 if version == 1 else _REP_AMPLITUDE_SD) * rng.standard_normal(seg.repetitions + 1)
        amp = np.interp(u, np.arange(seg.repetitions + 1), jit)
        action = _ACTION_FUNCS[seg.action] if version == 1 else _actions_v2(seg, n, fps)
        track, air = action(u, frac, seg, rng)
        ease = 0.25 if version == 1 else _EASE_S  # seconds to ease a segment in and out
        env = np.ones(n) if seg.action in _PERSIST else smoothstep(np.minimum(frac, 1 - frac) * n / max(2.0, ease * fps))
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
    noise = smooth_noise(rng, np.arange(T) / fps, NUM_DOFS, max_hz=0.8 if version == 1 else 1.5)  # (T, D) in [-1, 1]
    scale = np.where(_IDLE_DOFS, 3.0 * idle, 0.0)  # legs and root stay put so standing feet never slide
    pose_deg += noise * scale
    if version >= 2:
        pose_deg += _postural_sway(rng, T, fps) * idle
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
