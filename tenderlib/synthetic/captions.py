"""Captions and semantic labels written from an action program (docs/design.md, section 2).

The real Holistic-Motion2D captions were written by an LLM from video; a text encoder trained on ours
must understand them, not match one template. So the wording varies a lot (subject, verb synonyms, side
wording, counts, speed and size words, sequencing and reverse order, where the face / hand / head
clauses go, details left out) while every caption stays TRUE to the `Program`:

- left / right is named only for what uses it: "left hand" when the left arm acts or the left hand shows
  the gesture, "left leg / foot" for a left lunge, kick or hop, "to the left" for a turn, a side bend or
  a head turn to the left (directions as tenderlib.synthetic.actions animates them);
- a stated count equals the segment's repetitions; speed and size words follow the thresholds below;
- only the program's expression is named; a neutral face, relaxed hands and no head move are left out
  (a neutral face rarely: "with a neutral face");
- the program's gesture is named on a hand only where no action imposes its own gesture there
  (`gesture_side`, from Program.hand_gesture): a waving hand is open, not giving a thumbs-up.

Verb phrases are written once in the base form ("^" marks the verbs of a compound phrase) and compiled
at import into base / third-person / -ing forms. Randomness comes from blocks of uniforms drawn from
the rng, so captions are deterministic for an rng state and cost ~30 us each.
Label-only sources (IDEA400 actions, Sth-v2 hand labels, DFEW/CAER emotions) use `semantic_label(s)`.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tenderlib.checks import check_choice
from tenderlib.synthetic.program import ACTIONS, EXPRESSIONS, GESTURES, HEAD_MOVES, Program

log = logging.getLogger(__name__)

SLOW_BELOW = 0.8        # speed < this reads slow (BodySegment.speed: multiplier of the natural rate)
FAST_ABOVE = 1.25       # speed > this reads fast
SMALL_BELOW = 0.8       # amplitude < this reads small (BodySegment.amplitude)
BIG_ABOVE = 1.2         # amplitude > this reads big
TURN_AROUND_FROM = 1.0  # tenderlib.synthetic.actions turns 180 degrees from this amplitude on, else 90
TOES_FROM = 0.9         # touch_toes bends 95 x amplitude degrees: the hands reach the toes from about here
LABEL_KINDS = ("action", "expression", "gesture")


@dataclass(frozen=True)
class CaptionConfig:
    """How often optional details are stated (each is true whenever it is stated)."""

    p_side: float = 0.9         # a sided action or gesture names its side
    p_reps: float = 0.45        # a countable action states its count (x0.3 for a single repetition)
    p_speed: float = 0.65       # a slow / fast segment says so
    p_amplitude: float = 0.55   # a small / big segment says so
    p_expression: float = 0.8   # a non-neutral expression is mentioned
    p_gesture: float = 0.75     # a visible hand gesture is mentioned
    p_head: float = 0.7         # a head move is mentioned
    p_neutral: float = 0.03     # a neutral face is mentioned anyway
    p_reverse: float = 0.25     # a multi-segment caption is told out of order ("after waving, ...")
    p_digits: float = 0.25      # a count is written in digits ("3 times")

    def __post_init__(self):
        for name, value in vars(self).items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"CaptionConfig.{name} must be a probability in [0, 1], got {value!r}")


DEFAULT_CONFIG = CaptionConfig()

# ----------------------------------------------------------------------------- phrase machinery
_DOUBLE = frozenset(  # -ing doubles the last consonant
    "run sit hop clap nod jog step squat grab stop skip spin tap pat wag put get drop let shut set".split())


def conjugate(verb: str, form: str) -> str:
    """English verb form: 'b' base (wave), 's' third person singular (waves), 'g' -ing (waving)."""
    check_choice("form", form, ("b", "s", "g"))
    if form == "b":
        return verb
    if form == "s":
        if verb in ("do", "go") or verb.endswith(("s", "sh", "ch", "x", "z")):
            return verb + "es"
        return verb[:-1] + "ies" if verb.endswith("y") and verb[-2:-1] not in "aeiou" else verb + "s"
    if verb in _DOUBLE:
        return verb + verb[-1] + "ing"
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    return verb[:-1] + "ing" if verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")) else verb + "ing"


@dataclass(frozen=True)
class _Phrase:
    """A verb phrase in three forms, with the slots it needs."""

    b: str
    s: str
    g: str
    slots: tuple[str, ...]
    sided: bool        # has a bare {side} slot: usable only when the side (left / right) is said
    tags: str          # "~" not when fast, "<" only below the entry's split amplitude, ">" only from it


def _compile(template: str) -> _Phrase:
    tags = ""
    while template[0] in "~<>":
        tags, template = tags + template[0], template[1:]
    words = template.split(" ")
    marked = any(w.startswith("^") for w in words)
    forms = [" ".join(conjugate(w.lstrip("^"), f) if w.startswith("^") or (not marked and i == 0) else w
                      for i, w in enumerate(words)) for f in "bsg"]
    slots = tuple(dict.fromkeys(re.findall(r"\{(\w+)\}", template)))
    return _Phrase(*forms, slots, "side" in slots, tags)


class _Dice:
    """Uniforms drawn from the rng in blocks (one numpy call per block keeps captions fast)."""

    __slots__ = ("rng", "it")

    def __init__(self, rng: np.random.Generator):
        self.rng, self.it = rng, iter(rng.random(128).tolist())

    def u(self) -> float:
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.rng.random(128).tolist())
            return next(self.it)

    def chance(self, p: float) -> bool:
        try:
            return next(self.it) < p
        except StopIteration:
            return self.u() < p

    def pick(self, seq):
        try:
            return seq[int(next(self.it) * len(seq))]
        except StopIteration:
            return seq[int(self.u() * len(seq))]


@dataclass(frozen=True)
class _Who:
    noun: str      # a man
    poss: str      # his
    pron: str      # he
    refl: str      # himself
    plural: bool   # the pronoun takes the base form (they wave)


_PRONOUNS = {"his": ("he", "himself", False), "her": ("she", "herself", False),
             "their": ("they", "themselves", True), "its": ("it", "itself", False)}


def _people(*nouns: str, poss: str) -> tuple[_Who, ...]:
    return tuple(_Who(n, poss, *_PRONOUNS[poss]) for n in nouns)


_PEOPLE = (_people("a man", "the man", "a young man", "a boy", "an older man", "a guy", poss="his")
           + _people("a woman", "the woman", "a young woman", "a girl", "an elderly woman", "a lady", poss="her")
           + _people("a person", "someone", "the person", "a child", "an individual", poss="their"))
_FITTING = {"sport": _people("an athlete", "a sportsperson", poss="their"),
            "dance": _people("a dancer", "a performer", poss="their"),
            "box": _people("a boxer", "a fighter", poss="their")}
_HAND = _Who("a hand", "its", "it", "itself", False)
_BOTH_HANDS = _Who("both hands", "their", "they", "themselves", True)

# ----------------------------------------------------------------------------- body actions
# Phrase tables: alternatives separated by "|"; counted phrases as "plural / singular".
# v: verb phrases in the base form. Slots: {hand} {arm} {fist} {leg} {foot} {finger}: object ("his left hand",
# "both arms"); {w_hand} ...: instrument ("with the left hand", "using both arms", or nothing when the side is
# not said); {side}: left / right; {poss} {refl}. Tags in front: see _Phrase.
# c: counted phrases with {num} and an optional size adjective {amp}; label: semantic labels, canonical first.
# Options: adj / mod = "small | ... / big | ..." adjectives for {amp} / size modifiers appended; who: fitting
# subjects; still: no speed, size or count; count=False: repetitions are no countable units; amp=False: no size.
_A = {
    "stand": ("stand still|stand in place|stand idle|just ^stand there|remain standing|stand at rest", "",
              "standing|standing still|stand", dict(still=True)),
    "walk": ("walk forward|walk|take a few steps forward|~stroll forward|walk ahead|~stroll along|step forward"
             "|move forward on foot", "", "walking|walking forward|walk",
             dict(count=False, who="sport",
                  mod="with short steps|with small steps / with long strides|with big steps")),
    "run_in_place": ("run in place|jog in place|run on the spot|jog on the spot|do a running motion in place", "",
                     "running in place|jogging in place|run in place",
                     dict(count=False, who="sport",
                          mod="with small steps|with low knees / with high knees|lifting {poss} knees high")),
    "march": ("march in place|march on the spot|march|march with {poss} arms swinging", "",
              "marching|marching in place|march",
              dict(count=False, who="sport", mod="with small steps / with high knees|lifting {poss} knees high")),
    "jump": ("jump|jump up|leap up|jump into the air|spring up|jump in place",
             "do {num} {amp}jumps / do a {amp}jump|make {num} {amp}jumps / make a {amp}jump", "jumping|jumping up|jump",
             dict(adj="small|little / big|high", mod="a little|only slightly / high|really high", who="sport")),
    "squat": ("squat|squat down|bend {poss} knees into a squat|crouch down|lower {refl} into a squat",
              "do {num} {amp}squats / do a {amp}squat|perform {num} {amp}squats / perform a {amp}squat",
              "squatting|doing squats|squat",
              dict(adj="shallow|small / deep", mod="only slightly|shallowly / deeply|all the way down", who="sport")),
    "lunge": ("lunge forward {w_leg}|step into a lunge {w_leg}|lunge {w_leg}|step forward into a lunge"
              "|lunge with {leg} forward",
              "do {num} {amp}lunges {w_leg} / do a {amp}lunge {w_leg}|do {num} {side} lunges / do a {side} lunge",
              "lunging with {leg}|lunging forward with {leg}|{side} lunge",
              dict(adj="shallow|small / deep", mod="only slightly|shallowly / deeply", who="sport")),
    "kick": ("kick {w_leg}|kick out {w_leg}|kick {w_foot}|kick|kick {leg} out|kick forward {w_leg}",
             "throw {num} {amp}kicks {w_leg} / throw a {amp}kick {w_leg}|do {num} {side} kicks / do a {side} kick",
             "kicking with {leg}|kicking with {foot}|{side} kick",
             dict(adj="low|small / high|big", mod="low / high", who="sport")),
    "hop": ("hop on {foot}|hop on {leg}|hop in place on {foot}|hop|hop in place|bounce on {foot}",
            "do {num} hops on {foot} / do a hop on {foot}|take {num} {amp}hops / take a {amp}hop",
            "hopping on {foot}|hopping on {leg}|hop on {foot}", dict(adj="small|little / big|high", who="sport")),
    "punch": ("punch {w_fist}|punch forward {w_fist}|jab {w_fist}|punch|punch the air {w_hand}|strike forward {w_fist}"
              "|throw punches {w_hand}", "throw {num} {amp}punches {w_fist} / throw a {amp}punch {w_fist}"
              "|throw {num} {amp}punches {w_hand} / throw a {amp}punch {w_hand}",
              "punching with {hand}|punching with {fist}|{hand} punch", dict(who="box")),
    "wave": ("wave {hand}|wave hello {w_hand}|greet someone by waving {hand}|wave {w_hand}|wave goodbye {w_hand}"
             "|^raise {hand} and ^wave|wave|wave hello", "give {num} {amp}waves {w_hand} / give a {amp}wave {w_hand}",
             "waving {hand}|waving hello with {hand}|{hand} wave",
             dict(adj="small|little / big|wide",
                  mod="slightly|with a small motion / widely|with a big sweeping motion")),
    "clap": ("clap|clap {poss} hands|clap {poss} hands together|applaud|put {poss} hands together", "",
             "clapping|clapping hands|clap", {}),
    "raise_arm": ("raise {arm}|lift {arm}|put {hand} up|raise {hand} in the air|raise {arm} up|lift {arm} upward", "",
                  "raising {arm}|lifting {arm}|{arm} raise", dict(mod="slightly|only a little / high|all the way up")),
    "point": ("point {w_hand}|point forward {w_hand}|point at something {w_hand}|point {w_finger}"
              "|point into the distance {w_hand}|^extend {arm} and ^point", "",
              "pointing with {hand}|pointing forward with {hand}|point", {}),
    "reach": ("reach up {w_hand}|reach upward {w_arm}|reach up for something {w_hand}"
              "|stretch {arm} up to reach for something|reach up on tiptoe {w_arm}|reach overhead {w_hand}", "",
              "reaching up with {arm}|reaching upward with {arm}|reach up", {}),
    "arm_circles": ("circle {arm}|make circles with {arm}|rotate {arm} in circles|do arm circles {w_arm}"
                    "|swing {arm} in circles", "make {num} {amp}circles with {arm} / make a {amp}circle with {arm}",
                    "circling {arm}|making arm circles with {arm}|arm circles",
                    dict(adj="small|little / big|wide|large", who="sport")),
    "throw": ("throw something {w_hand}|make a throwing motion {w_hand}|mime throwing a ball {w_hand}"
              "|pretend to throw something {w_hand}|^wind up and ^throw {w_hand}|throw {w_arm}",
              "make {num} throwing motions {w_hand} / make a throwing motion {w_hand}",
              "throwing with {hand}|throwing {side}-handed|{side}-handed throw", dict(who="sport")),
    "swing": ("take a {side}-handed swing|swing an imaginary bat {side}-handed|swing like a {side}-hander"
              "|make a {side}-handed swinging motion|swing {poss} arms|make a swinging motion",
              "take {num} {amp}{side}-handed swings / take a {amp}{side}-handed swing"
              "|take {num} {amp}swings / take a {amp}swing",
              "swinging {side}-handed|swinging like a {side}-hander|{side}-handed swing", dict(who="sport")),
    "bow": ("bow|bow forward|bow politely|bend forward in a bow|bow from the waist",
            "take {num} {amp}bows / take a {amp}bow", "bowing|taking a bow|bow",
            dict(adj="slight|small / deep", mod="slightly / deeply")),
    "touch_toes": (">touch {poss} toes|>bend down to touch {poss} toes|>^bend over and ^touch {poss} toes"
                   "|<bend down toward {poss} toes|<reach down toward {poss} toes|^bend forward and ^reach down", "",
                   "touching toes|bending to touch toes|toe touch",
                   dict(who="sport", split=TOES_FROM, mod="with a small bend / with a deep bend")),
    "turn": ("turn to the {side}|turn {side}|pivot to the {side}|<make a quarter turn to the {side}"
             "|<turn {poss} body to the {side}|>turn around to the {side}|>turn all the way around"
             "|>make a half turn to the {side}|>turn to face the other way|turn {poss} body|turn in place", "",
             "turning {side}|turning to the {side}|turn {side}", dict(split=TURN_AROUND_FROM, amp=False, count=False)),
    "sit_down": ("sit down|take a seat|lower {refl} to sit|lower {refl} into a seated position|sit down on the spot",
                 "", "sitting down|taking a seat|sit down", dict(count=False, amp=False)),
    "stretch": ("stretch|stretch {poss} arms overhead|stretch both arms up|^reach both arms up and ^stretch"
                "|do an overhead stretch", "do {num} {amp}stretches / do a {amp}stretch",
                "stretching|stretching arms overhead|stretch", dict(who="sport")),
    "side_bend": ("bend to the {side}|lean to the {side}|bend sideways to the {side}|bend sideways"
                  "|lean over to the side|do a side bend to the {side}",
                  "do {num} {amp}side bends to the {side} / do a {amp}side bend to the {side}"
                  "|do {num} {amp}side bends / do a {amp}side bend", "bending to the {side}|bending sideways|side bend",
                  dict(adj="slight|small / deep", who="sport")),
    "jumping_jacks": ("do jumping jacks|do star jumps|perform jumping jacks",
                      "do {num} {amp}jumping jacks / do a {amp}jumping jack|do {num} star jumps / do a star jump",
                      "doing jumping jacks|doing star jumps|jumping jacks", dict(who="sport")),
    "dance": ("dance|dance in place|sway from side to side|do a dance|dance to a beat|groove to the rhythm"
              "|step from side to side, dancing", "", "dancing|dancing in place|dance", dict(count=False, who="dance")),
    "shadow_box": ("shadowbox|box in the air|throw punches in the air|spar with an imaginary opponent"
                   "|do some shadowboxing|throw alternating punches with clenched fists", "",
                   "shadow boxing|boxing in the air|shadowbox", dict(count=False, who="box")),
}


# ----------------------------------------------------------------------------- face, hands, head
# (verb phrases, "with" phrases, semantic labels); gestures' "with" phrases: "one hand / both hands".
_E = {
    "neutral": ("keep a neutral expression|keep a straight face|stay expressionless|keep a blank expression",
                "with a neutral expression|with a neutral face|with a blank expression|with a straight face",
                "neutral|neutral expression|no expression"),
    "smile": ("smile|grin|look happy|smile happily|break into a smile|smile warmly",
              "with a smile|with a happy expression|with a cheerful face|with a grin", "happy|happiness|smiling"),
    "frown": ("frown|look displeased|frown in displeasure", "with a frown|with a displeased look",
              "frowning|frown|displeased"),
    "surprise": ("look surprised|look astonished|appear surprised|react with surprise|look startled",
                 "with a surprised expression|with a look of surprise|with an astonished face",
                 "surprise|surprised|astonished"),
    "open_mouth": ("open {poss} mouth|hold {poss} mouth open|let {poss} mouth fall open",
                   "with {poss} mouth open|with an open mouth|with {poss} mouth hanging open",
                   "mouth open|opening mouth|open mouth"),
    "talk": ("talk|speak|say something|talk to someone|chat", "", "talking|speaking|talk"),
    "blink": ("blink|blink {poss} eyes|^shut {poss} eyes briefly", "", "blinking|blinking eyes|eye blink"),
    "brow_raise": ("raise {poss} eyebrows|lift {poss} eyebrows|arch {poss} eyebrows",
                   "with raised eyebrows|with {poss} eyebrows raised",
                   "raising eyebrows|raised eyebrows|eyebrow raise"),
    "angry": ("look angry|scowl|glare angrily|look furious|make an angry face",
              "with an angry expression|with an angry face|with a scowl", "angry|anger|angry face"),
    "sad": ("look sad|look sorrowful|appear sad|look downcast|make a sad face",
            "with a sad expression|with a sad face|with a sorrowful look", "sad|sadness|sad face"),
}
_G = {
    "relaxed": ("keep {hand} relaxed|hold {hand} loosely|stay relaxed|rest loosely|remain relaxed", " / ",
                "relaxed hands|hands at rest|no gesture"),
    "open": ("show an open palm {w_hand}|hold up an open hand {w_hand}|spread the fingers of {hand}"
             "|open {hand} with the fingers spread",
             "with an open palm|with an open hand / with open palms|with open hands",
             "showing open palm|open hand|spreading fingers"),
    "fist": ("make a fist {w_hand}|clench {fist}|close {hand} into a fist|form a fist {w_hand}",
             "with a clenched fist / with clenched fists|with both fists clenched",
             "making a fist|clenching fist|fist"),
    "point": ("point {w_hand}|point {w_finger}|extend {finger}|make a pointing gesture {w_hand}",
              "with an extended index finger|with {poss} index finger extended / with index fingers extended",
              "pointing with index finger|pointing|index finger pointing"),
    "peace": ("show a peace sign {w_hand}|make a V sign {w_hand}|flash a peace sign {w_hand}"
              "|hold up a victory sign {w_hand}", "with a peace sign / with peace signs|with a peace sign in each hand",
              "showing peace sign|peace sign|v sign"),
    "thumbs_up": ("give a thumbs-up {w_hand}|show a thumbs up {w_hand}|hold up a thumbs-up {w_hand}"
                  "|give a thumbs up {w_hand}", "with a thumbs-up / with both thumbs up",
                  "showing thumbs up|thumbs up|thumb up"),
    "ok": ("make an OK sign {w_hand}|show the okay sign {w_hand}|form an OK gesture {w_hand}|signal OK {w_hand}",
           "with an OK sign / with OK signs", "showing ok sign|ok sign|okay gesture"),
    "count": ("count on {poss} fingers|count up on the fingers of {hand}|count up on {poss} fingers"
              "|show a count on the fingers of {hand}", " / ", "counting with fingers|counting|finger counting"),
    "wiggle": ("wiggle {poss} fingers|wiggle the fingers of {hand}|flutter the fingers of {hand}",
               "with {poss} fingers wiggling / with {poss} fingers wiggling",
               "wiggling fingers|moving fingers|finger wiggle"),
    "grab": ("make a grabbing motion {w_hand}|grab at the air {w_hand}|clutch at something {w_hand}"
             "|^open and ^close {hand} as if grabbing something", " / ", "grabbing|grabbing something|grab"),
}
_H = {
    "none": ("keep {poss} head still|hold {poss} head still", "", ""),
    "nod": ("nod|nod {poss} head|nod in agreement", "with a nod", ""),
    "shake": ("shake {poss} head|shake {poss} head no", "with a shake of the head", ""),
    "turn_left": ("turn {poss} head to the left|look to the left|glance to the left|turn {poss} head left", "", ""),
    "turn_right": ("turn {poss} head to the right|look to the right|glance to the right|turn {poss} head right",
                   "", ""),
    "tilt": ("tilt {poss} head|tilt {poss} head to the side|tilt {poss} head sideways",
             "with a tilt of the head|with {poss} head tilted", ""),
}


def _alts(s: str) -> tuple[str, ...]:
    """'a|b|c' -> ('a', 'b', 'c'); '' -> ()."""
    return tuple(x.strip() for x in s.split("|")) if s.strip() else ()


def _pair(s: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """'a|b / c' -> (('a', 'b'), ('c',))."""
    small, big = s.split(" / ")
    return _alts(small), _alts(big)


_LIMBS = {"hand": ("hand", "hands"), "arm": ("arm", "arms"), "fist": ("fist", "fists"), "leg": ("leg", "legs"),
          "foot": ("foot", "feet"), "finger": ("index finger", "index fingers")}


def _limb_table() -> dict:
    """(slot, side, possessive) -> wordings; side 'one' / 'many': the side is not said (one limb / both)."""
    t = {}
    for limb, (one, many) in _LIMBS.items():
        w = "w_" + limb
        for p in _PRONOUNS:
            for s in ("left", "right"):
                t[(limb, s, p)] = (f"{p} {s} {one}", f"the {s} {one}", f"{p} {s} {one}")
                t[(w, s, p)] = (f"with {p} {s} {one}", f"with the {s} {one}", f"using {p} {s} {one}",
                                f"with the {s}" if limb in ("hand", "arm") else f"with {p} {s} {one}")
            t[(limb, "both", p)] = (f"both {many}", f"both {p} {many}", f"both of {p} {many}")
            t[(w, "both", p)] = (f"with both {many}", f"using both {many}", f"with both of {p} {many}")
            t[(limb, "one", p)], t[(limb, "many", p)] = (f"{p} {one}",), (f"{p} {many}",)
            t[(w, "one", p)] = t[(w, "many", p)] = ("",)
    return t


_LIMB_FILL = _limb_table()


@dataclass(frozen=True)
class _ActionEntry:
    pools: dict        # (side said as left/right, fast, amplitude >= split) -> verb phrases
    counted: dict      # (side said as left/right, plural) -> counted phrases
    adj: tuple         # (small, big) adjectives
    mod: tuple         # (small, big) modifiers
    who: tuple         # fitting subjects
    still: bool
    countable: bool
    amp: bool
    split: float


_SPEED_MODS = (("slowly", "at a slow pace", "unhurriedly", "at a leisurely pace", "slowly and steadily"),
               ("quickly", "briskly", "rapidly", "fast", "at a fast pace", "swiftly", "at a quick pace"))
_SPEED_ADVERBS = (("slowly",), ("quickly", "rapidly", "swiftly"))
_AMP_MODS = (("slightly", "with small movements", "subtly", "with a small range of motion"),
             ("with big movements", "with exaggerated motions", "with wide, sweeping movements",
              "with large movements"))


def _entry(verbs: str, counted: str, labels: str, opt: dict) -> _ActionEntry:
    phrases = [_compile(t) for t in _alts(verbs)]
    pools = {(bare, fast, high): tuple(p for p in phrases if (bare or not p.sided) and not (fast and "~" in p.tags)
                                       and ("<" not in p.tags or not high) and (">" not in p.tags or high))
             for bare in (False, True) for fast in (False, True) for high in (False, True)}
    pairs = [tuple(_compile(x.strip()) for x in c.split(" / ")) for c in _alts(counted)]
    counts = {(bare, plural): tuple(pl if plural else sg for pl, sg in pairs if bare or not pl.sided)
              for bare in (False, True) for plural in (False, True)}
    return _ActionEntry(pools, counts, _pair(opt.get("adj", "small / big")),
                        _pair(opt["mod"]) if "mod" in opt else _AMP_MODS,
                        _FITTING[opt["who"]] if "who" in opt else (), opt.get("still", False), opt.get("count", True),
                        opt.get("amp", True), opt.get("split", 0.0))


_ACTIONS = {a: _entry(*row) for a, row in _A.items()}

_EXPR = {k: (tuple(map(_compile, _alts(v))), _alts(w)) for k, (v, w, _) in _E.items()}
_HEAD = {k: (tuple(map(_compile, _alts(v))), _alts(w)) for k, (v, w, _) in _H.items()}
_GEST = {k: (tuple(map(_compile, _alts(v))), _pair(w)) for k, (v, w, _) in _G.items()}
# gesture phrases a hand itself can be the subject of ("a hand makes a fist")
_GEST_HAND = {g: tuple(p for p in v if set(p.slots) <= {"w_hand", "w_finger", "poss"} and " hand" not in p.b)
              for g, (v, w) in _GEST.items()}
_NO_HAND_SLOT = {"w_hand": "", "w_finger": ""}
_NUM_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
for _have, _want in ((_A, ACTIONS), (_E, EXPRESSIONS), (_G, GESTURES), (_H, HEAD_MOVES)):
    if set(_have) != set(_want):
        raise ImportError(f"captions: phrase tables out of step with tenderlib.synthetic.program: "
                          f"{sorted(set(_have) ^ set(_want))}")


# ----------------------------------------------------------------------------- realising phrases
def _values(p: _Phrase, who: _Who, side: str, dice: _Dice, extra: dict | None = None) -> dict:
    """Slot values of phrase p for a subject and a side (left / right / both; one / many: side not said)."""
    vals = {}
    for k in p.slots:
        if extra is not None and k in extra:
            vals[k] = extra[k]
        elif k == "poss":
            vals[k] = who.poss
        elif k == "refl":
            vals[k] = who.refl
        elif k == "side":
            vals[k] = side
        else:
            vals[k] = dice.pick(_LIMB_FILL[(k, side, who.poss)])
    return vals


def _format(text: str, vals: dict) -> str:
    if not vals:
        return text
    text = text.format_map(vals)
    return " ".join(text.split()) if "  " in text or text[-1] == " " else text


def _fill(p: _Phrase, form: str, who: _Who, side: str, dice: _Dice, extra: dict | None = None) -> str:
    """Phrase p in form 'b' / 's' / 'g' with its slots filled."""
    return _format(getattr(p, form), _values(p, who, side, dice, extra)) if p.slots else getattr(p, form)


def _num(n: int, dice: _Dice, cfg: CaptionConfig) -> str:
    return str(n) if n >= len(_NUM_WORDS) or dice.chance(cfg.p_digits) else _NUM_WORDS[n]


def _reps_phrase(n: int, dice: _Dice, cfg: CaptionConfig) -> str:
    if n == 1:
        return dice.pick(("once", "one time"))
    if n == 2:
        return dice.pick(("twice", f"{_num(n, dice, cfg)} times", "a couple of times"))
    times = f"{_num(n, dice, cfg)} times"
    return dice.pick((times, times, "a few times" if n <= 5 else "many times", "several times", "repeatedly")
                     + (("over and over",) if n >= 4 else ()))


def _segment_vp(seg, form: str, who: _Who, dice: _Dice, cfg: CaptionConfig) -> str:
    """One body segment as a verb phrase in `form`, with optional count, speed and size."""
    e = _ACTIONS[seg.action]
    say_side = seg.side != "none" and dice.chance(cfg.p_side)
    side = seg.side if say_side else ("many" if seg.side == "both" else "one")
    bare = say_side and seg.side != "both"   # {side} slots read "left" / "right"
    speed = None if e.still or SLOW_BELOW <= seg.speed <= FAST_ABOVE else int(seg.speed > FAST_ABOVE)
    amp = None if e.still or not e.amp or SMALL_BELOW <= seg.amplitude <= BIG_ABOVE else int(seg.amplitude > BIG_ABOVE)
    say_speed = speed is not None and dice.chance(cfg.p_speed)
    say_amp = amp is not None and dice.chance(cfg.p_amplitude)
    n = seg.repetitions
    say_reps = e.countable and not e.still and dice.chance(cfg.p_reps if n > 1 else 0.3 * cfg.p_reps)
    pool = e.counted[(bare, n > 1)] if say_reps else ()
    if pool and dice.chance(0.5):   # "does three deep squats"
        p = dice.pick(pool)
        extra = {"num": _num(n, dice, cfg), "amp": ""}
        if say_amp and "amp" in p.slots:
            extra["amp"], say_amp = dice.pick(e.adj[amp]) + " ", False
        text, say_reps = _fill(p, form, who, side, dice, extra), False
    else:
        text = _fill(dice.pick(e.pools[(bare, speed == 1, seg.amplitude >= e.split)]), form, who, side, dice)
    mods = []
    if say_amp:
        mods.append(dice.pick(e.mod[amp]).replace("{poss}", who.poss))
    if say_speed:
        if dice.chance(0.3):
            text = dice.pick(_SPEED_ADVERBS[speed]) + " " + text
        else:
            mods.insert(int(dice.u() * (len(mods) + 1)), dice.pick(_SPEED_MODS[speed]))
    if len(mods) == 2 and " " not in mods[0] + mods[1]:   # "swiftly and subtly", not "swiftly subtly"
        mods = [f"{mods[0]} and {mods[1]}"]
    if say_reps:
        mods.append(_reps_phrase(n, dice, cfg))
    return " ".join([text] + mods) if mods else text


class _Ex(NamedTuple):
    """A face / hand / head clause in every shape a sentence may need."""

    b: str
    s: str
    g: str
    w: str | None     # "with a smile", or None
    lasting: bool     # holds for the whole clip (expression, gesture) rather than happening once (head move)


def _extra(entry, who: _Who, side: str, dice: _Dice, w_index: int | None = None, lasting: bool = True) -> _Ex:
    verbs, w = entry
    p = dice.pick(verbs)
    ws = w if w_index is None else w[w_index]
    wp = dice.pick(ws).replace("{poss}", who.poss) if ws and dice.chance(0.6) else None
    vals = _values(p, who, side, dice)
    return _Ex(_format(p.b, vals), _format(p.s, vals), _format(p.g, vals), wp, lasting)


def gesture_side(program: Program) -> str | None:
    """Where the program's own gesture shows: 'left' / 'right' / 'both', or None (relaxed, or overridden).

    A hand used by an action that imposes its own gesture (ACTION_GESTURE: a wave opens the hand) does not
    count: Program.hand_gesture gives that hand the action's gesture.
    """
    if program.gesture == "relaxed":
        return None
    sides = [s for s in ("left", "right")
             if program.gesture_side in (s, "both") and program.hand_gesture(s) == program.gesture]
    return None if not sides else ("both" if len(sides) == 2 else sides[0])


def _unsaid(side: str) -> str:
    return "many" if side == "both" else "one"


def _extras(program: Program, gside: str | None, who: _Who, dice: _Dice, cfg: CaptionConfig) -> list[_Ex]:
    """The face, hand and head clauses a caption mentions (gside: gesture_side(program))."""
    out = []
    if program.expression != "neutral":
        if dice.chance(cfg.p_expression):
            out.append(_extra(_EXPR[program.expression], who, "one", dice))
    elif dice.chance(cfg.p_neutral):
        out.append(_extra(_EXPR["neutral"], who, "one", dice))
    if gside is not None and dice.chance(cfg.p_gesture):
        said = gside if dice.chance(cfg.p_side) else _unsaid(gside)
        out.append(_extra(_GEST[program.gesture], who, said, dice, int(gside == "both")))
    if program.head != "none" and dice.chance(cfg.p_head):
        out.append(_extra(_HEAD[program.head], who, "one", dice, lasting=False))
    if len(out) > 1 and dice.chance(0.5):
        out.reverse()
    return out


# ----------------------------------------------------------------------------- whole-body sentences
# connector, form of the next phrase ('p': a pronoun subject follows)
_CONNECT_S = ((", then ", "s"), (" and then ", "s"), (", and then ", "s"), (", followed by ", "g"), (" before ", "g"),
              (", and after that ", "s"), (", and afterwards ", "s"), (". Then {P} ", "p"), (". After that, {p} ", "p"),
              (" and next ", "s"))
_CONNECT_G = ((" and then ", "g"), (", then ", "g"), (" before ", "g"), (", followed by ", "g"),
              (" and after that ", "g"))
_VIDEO = ("A video of", "A clip of", "The video shows", "This clip shows", "Footage of", "The footage shows")
_SEQ_WORDS = ("Then", "After that,", "Next,", "Afterwards,", "Later,")
_FRAMES_ONE = ("plain", "plain", "plain", "prog", "prog", "video")
_FRAMES_MULTI = ("plain", "plain", "plain", "prog", "video", "first", "sentences")


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _tail(exs: list[_Ex], coord: str, dice: _Dice) -> str:
    """Clauses appended to a phrase: ' with a smile while nodding', ', smiling and nodding', ' and smiles'."""
    out, prev_w = "", False
    for i, ex in enumerate(exs):
        r = dice.u()
        if i == 0:
            if ex.w is not None and r < 0.45:
                out, prev_w = " " + ex.w, True
            else:
                out = " while " + ex.g if r < 0.7 else (", " + ex.g if r < 0.85 else " and " + getattr(ex, coord))
        elif ex.w is not None and not prev_w and r < 0.4:
            out, prev_w = out + ", " + ex.w, True
        else:
            out, prev_w = out + (" while " if prev_w else " and ") + ex.g, False
    return out


def _coda(ex: _Ex, who: _Who, dice: _Dice) -> str:
    """A clause told as a sentence of its own."""
    r, pron, verb = dice.u(), _cap(who.pron), ex.b if who.plural else ex.s
    be = "are" if who.plural else "is"
    if r < 0.4:
        ends = (" throughout", " the whole time", "", " as well") if ex.lasting else ("", " as well")
        return f" {pron} {verb}{dice.pick(ends)}."
    if r < 0.7:
        return f" {pron} {be} {ex.g}{' throughout' if ex.lasting and dice.chance(0.5) else ''}."
    if r < 0.85 and ex.w is not None:
        return f" {pron} {be} doing this {ex.w}."
    return f" Meanwhile, {who.pron} {verb}."


def _people_for(program: Program) -> tuple[_Who, ...]:
    """Everyone, plus subjects that fit when all segments share a kind (athlete, dancer, boxer), weighted up."""
    fitting = None
    for s in program.segments:
        who = _ACTIONS[s.action].who
        fitting = who if fitting is None or fitting == who else ()
    return _PEOPLE + 2 * fitting


def _body_caption(program: Program, dice: _Dice, cfg: CaptionConfig, people: tuple[_Who, ...],
                  gside: str | None) -> str:
    who = dice.pick(people)
    S, segs = who.noun, program.segments
    multi = len(segs) > 1
    frame = "reverse" if multi and dice.chance(cfg.p_reverse) else dice.pick(_FRAMES_MULTI if multi else _FRAMES_ONE)
    lead, inside, tail, coda = None, [], [], []
    for ex in _extras(program, gside, who, dice, cfg):   # where each face / hand / head clause goes
        r = dice.u()
        if r < 0.15 and lead is None and frame in ("plain", "prog"):
            lead = ex
        elif r < 0.3 and multi:
            inside.append(ex)
        elif r < 0.42 and frame != "video":
            coda.append(ex)
        else:
            tail.append(ex)

    def vp(i: int, form: str) -> str:
        text = _segment_vp(segs[i], form, who, dice, cfg)
        return text + _tail(inside, form, dice) if i == 0 and inside else text

    def chain(start: int, connectors, form: str) -> str:
        out = vp(start, form)
        for i in range(start + 1, len(segs)):
            text, f = dice.pick(connectors)
            if f == "p":
                text, f = text.replace("{P}", _cap(who.pron)).replace("{p}", who.pron), "b" if who.plural else "s"
            out += text + vp(i, f)
        return out

    g_like = frame in ("prog", "video")
    if frame == "plain":
        text = f"{S} {chain(0, _CONNECT_S, 's')}"
    elif frame == "prog":
        text = f"{S} {dice.pick(('is', 'is', 'can be seen', 'appears to be'))} {chain(0, _CONNECT_G, 'g')}"
    elif frame == "video":
        text = f"{dice.pick(_VIDEO)} {S} {chain(0, _CONNECT_G, 'g')}"
    elif frame == "first":
        vps = [vp(i, "s") for i in range(len(segs))]
        later = vps[1] if len(vps) == 2 else ", then ".join(vps[1:-1]) + ", and finally " + vps[-1]
        text = f"First, {S} {vps[0]}, then {later}" if dice.chance(0.5) else f"{S} first {vps[0]} and then {later}"
    elif frame == "sentences":
        text = f"{S} {vp(0, 's')}" + "".join(f". {dice.pick(_SEQ_WORDS)} {who.pron} {vp(i, 'b' if who.plural else 's')}"
                                             for i in range(1, len(segs)))
    else:  # reverse: told out of the clip's order
        r = dice.u()
        if len(segs) == 2 and r < 0.35:
            g0 = vp(0, "g")
            text = f"{S} {vp(1, 's')} after {g0}"
        elif len(segs) == 2 and r < 0.55 and not inside:
            g1 = vp(1, "g")
            text = f"Before {g1}, {S} {vp(0, 's')}"
        else:
            g0 = vp(0, "g")
            text = f"After {g0}, {S} {chain(1, _CONNECT_S[:3], 's')}"
    text += _tail(tail, "g" if g_like else "s", dice)
    if lead is not None:
        text = f"{_cap(lead.w if lead.w is not None and dice.chance(0.4) else lead.g)}, {text}"
    text = _cap(text) + "." + "".join(_coda(ex, who, dice) for ex in coda)
    return " ".join(text.split())


# ----------------------------------------------------------------------------- public API
def _check(program, rng, n) -> None:
    if not isinstance(program, Program):
        raise ValueError(f"program must be a tenderlib.synthetic.program.Program, got {type(program).__name__}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")


def _distinct(make, n: int, tries: int = 8) -> list[str]:
    """n results of make(), distinct where possible (repeats only after n * tries draws)."""
    out, seen = [], set()
    for _ in range(n * tries):
        t = make()
        if t not in seen:
            seen.add(t)
            out.append(t)
            if len(out) == n:
                return out
    return [out[i % len(out)] for i in range(n)]


def captions(program: Program, rng: np.random.Generator, n: int = 3,
             config: CaptionConfig = DEFAULT_CONFIG) -> list[str]:
    """n natural-language captions of a whole-body clip, distinct where possible, all true to the program."""
    _check(program, rng, n)
    dice, people, gside = _Dice(rng), _people_for(program), gesture_side(program)
    return _distinct(lambda: _body_caption(program, dice, config, people, gside), n)


def _face_caption(program: Program, dice: _Dice, cfg: CaptionConfig) -> str:
    who = dice.pick(_PEOPLE)
    e, h = program.expression, program.head
    E = _extra(_EXPR[e], who, "one", dice) if e != "neutral" or h == "none" or dice.chance(cfg.p_neutral) else None
    H = _extra(_HEAD[h], who, "one", dice, lasting=False) if h != "none" and (E is None or dice.chance(0.85)) else None
    S = who.noun
    if E is not None and H is not None:
        opts = (f"{S} {E.s} and {H.s}", f"{S} {E.s} while {H.g}", f"{_cap(E.g)}, {S} {H.s}", f"{S} is {E.g} and {H.g}",
                f"A close-up of {S} {E.g} and {H.g}", f"{S} {H.s}, {E.g}") + ((f"{S} {H.s} {E.w}",) if E.w else ())
    elif E is not None:
        opts = (f"{S} {E.s}", f"{S} is {E.g}", f"A close-up of {S} {E.g}", f"The face of {S} {E.g}") + (
            (f"A close-up of {S} {E.w}", f"{S}, seen up close, {E.w}") if E.w else ())
    else:
        opts = (f"{S} {H.s}", f"{S} is {H.g}", f"A close-up of {S} {H.g}")
    return _cap(dice.pick(opts)) + "."


def face_captions(program: Program, rng: np.random.Generator, n: int = 3,
                  config: CaptionConfig = DEFAULT_CONFIG) -> list[str]:
    """Captions of a face-only clip: the expression and the head move, nothing of the body."""
    _check(program, rng, n)
    dice = _Dice(rng)
    return _distinct(lambda: _face_caption(program, dice, config), n)


def _gesture_vp(g: str, said: str, who: _Who, form: str, dice: _Dice) -> str:
    """A person's gesture phrase; the side is added as "with the left hand" when the phrase has no place for it."""
    p = dice.pick(_GEST[g][0])
    text = _fill(p, form, who, said, dice)
    if said in ("left", "right", "both") and not set(p.slots) & {"hand", "w_hand", "finger", "w_finger", "fist"}:
        text += " " + dice.pick(_LIMB_FILL[("w_hand", said, who.poss)])
    return text


def _hand_caption(program: Program, dice: _Dice, cfg: CaptionConfig) -> str:
    gl, gr = program.hand_gesture("left"), program.hand_gesture("right")
    if gl == gr == "relaxed":
        return dice.pick(("Both hands stay relaxed.", "A pair of relaxed hands.", "The hands rest loosely.",
                          "Someone keeps their hands relaxed.", "Relaxed hands, held still."))
    who = dice.pick(_PEOPLE)
    if gl != gr and "relaxed" not in (gl, gr):   # a different gesture on each hand
        left, right = _gesture_vp(gl, "left", who, "s", dice), _gesture_vp(gr, "right", who, "g", dice)
        return _cap(f"{who.noun} {left} while {right}") + "."
    g, side = (gl, "both") if gl == gr else ((gl, "left") if gr == "relaxed" else (gr, "right"))
    said = side if dice.chance(cfg.p_side) else _unsaid(side)
    r = dice.u()
    if r < 0.45:   # the hand is the subject: "the left hand makes a fist", "a close-up of a hand making a fist"
        p, form = dice.pick(_GEST_HAND[g]), dice.pick("sg")
        if side == "both":
            text = f"both hands {_fill(p, 'b' if form == 's' else 'g', _BOTH_HANDS, 'one', dice, _NO_HAND_SLOT)}"
        else:
            subj = dice.pick((f"the {side} hand", f"a {side} hand", f"someone's {side} hand")) if said == side else \
                dice.pick(("a hand", "the hand", "a single hand"))
            text = f"{subj} {_fill(p, form, _HAND, 'one', dice, _NO_HAND_SLOT)}"
        if form == "g":
            text = "A close-up of " + text
    elif r < 0.7:
        text = f"{who.noun} is {_gesture_vp(g, said, who, 'g', dice)}"
    else:
        text = f"{who.noun} {_gesture_vp(g, said, who, 's', dice)}"
    return " ".join(_cap(text).split()) + "."


def hand_captions(program: Program, rng: np.random.Generator, n: int = 3,
                  config: CaptionConfig = DEFAULT_CONFIG) -> list[str]:
    """Captions of a hand-only clip: the gesture each hand shows (Program.hand_gesture), nothing else."""
    _check(program, rng, n)
    dice = _Dice(rng)
    return _distinct(lambda: _hand_caption(program, dice, config), n)


# ----------------------------------------------------------------------------- semantic labels
def _label_variants(program: Program, kind: str) -> tuple[str, ...]:
    check_choice("kind", kind, LABEL_KINDS)
    if kind == "expression":
        return _alts(_E[program.expression][2])
    if kind == "gesture":
        g = program.gesture if gesture_side(program) else next(
            (x for x in (program.hand_gesture("right"), program.hand_gesture("left")) if x != "relaxed"), "relaxed")
        return _alts(_G[g][2])
    per_seg = []
    for s in program.segments:
        fill = {k: (f"both {_LIMBS[k][1]}" if s.side == "both" else f"{s.side} {_LIMBS[k][0]}") for k in _LIMBS}
        fill["side"] = s.side if s.side in ("left", "right") else "side"
        per_seg.append(tuple(t.format_map(fill) for t in _alts(_A[s.action][2])))
    return tuple(" then ".join(v[i] for v in per_seg) for i in range(3))


def semantic_label(program: Program, kind: str) -> str:
    """The canonical short label of a label-only source: kind 'action' (IDEA400-like, "waving left hand"),
    'expression' (DFEW/CAER-like, "happy") or 'gesture' (Sth-v2-like, "showing thumbs up")."""
    if not isinstance(program, Program):
        raise ValueError(f"program must be a tenderlib.synthetic.program.Program, got {type(program).__name__}")
    return _label_variants(program, kind)[0]


def semantic_labels(program: Program, kind: str, rng: np.random.Generator, n: int = 3) -> list[str]:
    """n label variants (distinct where possible), the canonical label first."""
    _check(program, rng, n)
    variants = _label_variants(program, kind)
    rest = [variants[i] for i in rng.permutation(np.arange(1, len(variants)))]
    out = [variants[0]] + rest
    return [out[i % len(out)] for i in range(n)]
