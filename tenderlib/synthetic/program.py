"""Action programs: what a synthetic clip does (body action sequence + hand gesture + facial expression).

A `Program` is the symbolic description from which the synthetic generator animates a figure
(tenderlib.synthetic.actions) and writes captions (tenderlib.synthetic.captions). It is the single source of truth for
"what happens in the clip", so captions can be checked against motion.
"""
from __future__ import annotations

from dataclasses import dataclass

from tenderlib.checks import check_choice

SIDES = ("left", "right", "both", "none")
HEAD_MOVES = ("none", "nod", "shake", "turn_left", "turn_right", "tilt")


@dataclass(frozen=True)
class ActionSpec:
    """Static facts about one body action."""

    sided: bool          # takes a side (left / right / both)
    cycle_s: float       # natural duration of one repetition at speed 1, seconds
    reps: tuple[int, int]  # range of repetitions a program draws (inclusive)
    moves: frozenset[str]  # limbs it moves: left_arm, right_arm, legs, torso, root (for caption checks)
    sides: tuple[str, ...] = ("left", "right", "both")  # sides allowed when sided


_ARMS = frozenset({"left_arm", "right_arm"})
_LEGS = frozenset({"legs"})

# Body actions (at least 20). "moves" lists what the action moves with side
# "both"; for a one-sided action the arm of the other side is not moved.
ACTIONS: dict[str, ActionSpec] = {
    "stand": ActionSpec(False, 3.0, (1, 1), frozenset()),
    "walk": ActionSpec(False, 1.1, (2, 5), _ARMS | _LEGS | {"root"}),
    "run_in_place": ActionSpec(False, 0.7, (3, 8), _ARMS | _LEGS),
    "march": ActionSpec(False, 1.2, (2, 5), _ARMS | _LEGS),
    "jump": ActionSpec(False, 1.2, (1, 4), _ARMS | _LEGS | {"root"}),
    "squat": ActionSpec(False, 2.0, (1, 4), _ARMS | _LEGS | {"torso"}),
    "lunge": ActionSpec(True, 2.2, (1, 3), _LEGS | {"torso"}, ("left", "right")),
    "kick": ActionSpec(True, 1.3, (1, 4), _LEGS, ("left", "right")),
    "hop": ActionSpec(True, 0.8, (2, 6), _LEGS | {"root"}, ("left", "right")),
    "punch": ActionSpec(True, 0.9, (1, 6), _ARMS | {"torso"}),
    "wave": ActionSpec(True, 0.7, (2, 6), _ARMS),
    "clap": ActionSpec(False, 0.6, (3, 8), _ARMS),
    "raise_arm": ActionSpec(True, 2.2, (1, 3), _ARMS),
    "point": ActionSpec(True, 2.0, (1, 2), _ARMS),
    "reach": ActionSpec(True, 2.0, (1, 3), _ARMS | {"torso"}),
    "arm_circles": ActionSpec(True, 1.0, (2, 6), _ARMS),
    "throw": ActionSpec(True, 1.6, (1, 3), _ARMS | {"torso"}, ("left", "right")),
    "swing": ActionSpec(True, 1.8, (1, 3), _ARMS | {"torso"}, ("left", "right")),
    "bow": ActionSpec(False, 2.4, (1, 2), frozenset({"torso"})),
    "touch_toes": ActionSpec(False, 2.8, (1, 3), _ARMS | {"torso"}),
    "turn": ActionSpec(True, 2.0, (1, 1), frozenset({"root"}), ("left", "right")),
    "sit_down": ActionSpec(False, 2.5, (1, 1), _LEGS | {"torso"}),
    "stretch": ActionSpec(False, 3.0, (1, 2), _ARMS | {"torso"}),
    "side_bend": ActionSpec(True, 2.2, (1, 3), _ARMS | {"torso"}, ("left", "right")),  # raises the other arm
    "jumping_jacks": ActionSpec(False, 0.9, (3, 8), _ARMS | _LEGS),
    "dance": ActionSpec(False, 1.0, (3, 8), _ARMS | _LEGS | {"torso"}),
    "shadow_box": ActionSpec(False, 0.8, (3, 8), _ARMS | {"torso"}),
}

# Hand gestures (tenderlib.synthetic.hand) and facial expressions (tenderlib.synthetic.face) a program can ask for.
GESTURES = ("relaxed", "open", "fist", "point", "peace", "thumbs_up", "ok", "count", "wiggle", "grab")
EXPRESSIONS = ("neutral", "smile", "frown", "surprise", "open_mouth", "talk", "blink", "brow_raise", "angry", "sad")

# Gestures an action imposes on the hand(s) it uses, overriding the program's gesture there.
ACTION_GESTURE = {"punch": "fist", "shadow_box": "fist", "point": "point", "wave": "open", "clap": "open",
                  "throw": "open", "swing": "fist"}


@dataclass(frozen=True)
class BodySegment:
    """One body action of a program; segments play one after another ("then")."""

    action: str
    side: str = "none"        # left / right / both for sided actions, "none" otherwise
    repetitions: int = 1
    speed: float = 1.0        # multiplier of the natural rate: < 0.8 slow, > 1.25 fast
    amplitude: float = 1.0    # < 0.8 small, > 1.2 big

    def __post_init__(self):
        check_choice("action", self.action, tuple(ACTIONS))
        spec = ACTIONS[self.action]
        allowed = spec.sides if spec.sided else ("none",)
        check_choice(f"side of {self.action!r}", self.side, allowed)
        if self.repetitions < 1:
            raise ValueError(f"repetitions must be >= 1, got {self.repetitions}")
        if not (0.2 <= self.speed <= 3.0):
            raise ValueError(f"speed must be in [0.2, 3.0], got {self.speed}")
        if not (0.2 <= self.amplitude <= 2.0):
            raise ValueError(f"amplitude must be in [0.2, 2.0], got {self.amplitude}")

    @property
    def duration_s(self) -> float:
        return ACTIONS[self.action].cycle_s * self.repetitions / self.speed


@dataclass(frozen=True)
class Program:
    """What happens in one clip: body segments in sequence, plus a hand gesture, an expression and a head move."""

    segments: tuple[BodySegment, ...]
    gesture: str = "relaxed"
    gesture_side: str = "both"
    expression: str = "neutral"
    head: str = "none"

    def __post_init__(self):
        if not self.segments:
            raise ValueError("a program needs at least one body segment")
        check_choice("gesture", self.gesture, GESTURES)
        check_choice("gesture_side", self.gesture_side, ("left", "right", "both"))
        check_choice("expression", self.expression, EXPRESSIONS)
        check_choice("head", self.head, HEAD_MOVES)

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.segments)

    def moved_limbs(self) -> frozenset[str]:
        """Limbs moved by the body segments (one-sided arm actions move only their arm)."""
        out: set[str] = set()
        for s in self.segments:
            moves = set(ACTIONS[s.action].moves)
            if s.side in ("left", "right"):
                other = "right" if s.side == "left" else "left"
                moves.discard(f"{other}_arm")
            out |= moves
        return frozenset(out)

    def hand_gesture(self, side: str) -> str:
        """Gesture of one hand ('left'/'right') at the end of the clip: an action's own gesture wins."""
        for s in reversed(self.segments):
            if s.action in ACTION_GESTURE and s.side in (side, "both", "none"):
                return ACTION_GESTURE[s.action]
        if self.gesture_side in (side, "both"):
            return self.gesture
        return "relaxed"

