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

Verb phrases are written once in the base form in the phrasebook (tenderlib.synthetic.phrasebook) and
compiled at import into base / third-person / -ing forms. Randomness comes from blocks of uniforms drawn from
the rng, so captions are deterministic for an rng state and cost ~30 us each.
Label-only sources (IDEA400 actions, Sth-v2 hand labels, DFEW/CAER emotions) use `semantic_label(s)`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tenderlib.checks import check_choice
from tenderlib.synthetic.program import Program
from tenderlib.synthetic.phrasebook import (  # the phrasebook is this module's own, split off for size
    _A, _ACTIONS, _BOTH_HANDS, _E, _EXPR, _G, _GEST, _GEST_HAND, _HAND,
    _HEAD, _LIMBS, _LIMB_FILL, _NO_HAND_SLOT, _NUM_WORDS, _PEOPLE, _SPEED_ADVERBS, _SPEED_MODS, _Dice,
    _Phrase, _Who, _alts)

log = logging.getLogger(__name__)

SLOW_BELOW = 0.8        # speed < this reads slow (BodySegment.speed: multiplier of the natural rate)
FAST_ABOVE = 1.25       # speed > this reads fast
SMALL_BELOW = 0.8       # amplitude < this reads small (BodySegment.amplitude)
BIG_ABOVE = 1.2         # amplitude > this reads big
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
