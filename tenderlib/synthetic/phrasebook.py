"""The caption writer's phrasebook: verb phrases, people, limbs, expressions, gestures and head moves.

Verb phrases are written once in the base form ("^" marks the verbs of a compound phrase) and
compiled at import into base / third-person / -ing forms (`_compile`, `conjugate`). Tables:
alternatives separated by "|"; counted phrases as "plural / singular"; slots such as {hand} {arm}
{side} {poss} are filled per caption by tenderlib.synthetic.captions, which owns every choice of
wording (this module holds no randomness beyond `_Dice`, the block of uniforms it draws from).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from tenderlib.checks import check_choice
from tenderlib.synthetic.program import ACTIONS, EXPRESSIONS, GESTURES, HEAD_MOVES

TURN_AROUND_FROM = 1.0  # tenderlib.synthetic.actions turns 180 degrees from this amplitude on, else 90
TOES_FROM = 0.9         # touch_toes bends 95 x amplitude degrees: the hands reach the toes from about here

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
