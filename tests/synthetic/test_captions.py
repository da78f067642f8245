"""Captions and semantic labels: every caption is parsed back and checked against its program."""
import re
import time

import numpy as np
import pytest

from tenderlib.synthetic import captions as C
from tenderlib.synthetic import phrasebook
from tenderlib.synthetic.program import (ACTION_GESTURE, ACTIONS, EXPRESSIONS, GESTURES, HEAD_MOVES, BodySegment, Program)

# ----------------------------------------------------------------------------- random programs


def random_segment(rng, action=None):
    action = action or list(ACTIONS)[rng.integers(len(ACTIONS))]
    spec = ACTIONS[action]
    side = spec.sides[rng.integers(len(spec.sides))] if spec.sided else "none"
    reps = int(rng.integers(spec.reps[0], spec.reps[1] + 1))
    return BodySegment(action, side, reps, float(rng.uniform(0.5, 1.8)), float(rng.uniform(0.6, 1.5)))


def random_program(rng, n_seg=None, action=None):
    n_seg = n_seg or int(rng.integers(1, 4))
    segs = tuple(random_segment(rng, action) for _ in range(n_seg))
    pick = lambda xs: xs[rng.integers(len(xs))]  # noqa: E731
    return Program(segs, pick(GESTURES), pick(("left", "right", "both")), pick(EXPRESSIONS), pick(HEAD_MOVES))


def programs(seed, count, **kw):
    rng = np.random.default_rng(seed)
    return [random_program(rng, **kw) for _ in range(count)]


# ----------------------------------------------------------------------------- what a caption claims
NUMBERS = {w: i for i, w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                       "nine", "ten", "eleven", "twelve"))} | {"once": 1, "twice": 2, "thrice": 3}
NUMBER_RE = re.compile(r"\b(" + "|".join(NUMBERS) + r"|\d+)\b")
SLOW_RE = re.compile(r"\b(slow\w*|unhurried\w*|leisurely|steadily)\b")
FAST_RE = re.compile(r"\b(quick\w*|fast|rapid\w*|brisk\w*|swift\w*)\b")
SMALL_RE = re.compile(r"\b(slight\w*|small|little|subtl\w*|shallow\w*|short|low|barely|partway)\b")
BIG_RE = re.compile(r"\b(big|large|wide\w*|exaggerated|sweeping|deep\w*|high|long|all the way (up|down))\b")
EXPRESSION_RE = {
    "neutral": r"neutral|expressionless|blank|straight face", "smile": r"smil|grin|happ|cheerful",
    "frown": r"frown|displeas", "surprise": r"surpris|astonish|startl", "open_mouth": r"mouth",
    "talk": r"\btalk|speak|chat|saying", "blink": r"blink|eyes", "brow_raise": r"eyebrow",
    "angry": r"angr|scowl|furious|glar", "sad": r"\bsad|sorrow|downcast",
}
GESTURE_RE = {
    "relaxed": r"relaxed|loosely", "open": r"open (palm|hand)|fingers spread|spread\w* the fingers",
    "fist": r"\bfists?\b",
    "point": r"index finger|\bpoint", "peace": r"peace sign|v sign|victory sign", "thumbs_up": r"thumbs?[- ]up",
    "ok": r"\bok\b|okay", "count": r"\bcount", "wiggle": r"wiggl|flutter", "grab": r"grab|clutch",
}
HEAD_RE = {"nod": r"\bnod", "shake": r"shak\w* \w+ head|shake of the head", "tilt": r"\btilt",
           "turn_left": r"head (to the )?left|(look|glanc)\w* to the left",
           "turn_right": r"head (to the )?right|(look|glanc)\w* to the right"}
SLOW, FAST, SMALL, BIG = 0.8, 1.25, 0.8, 1.2   # the brief's thresholds (BodySegment): slow < 0.8, fast > 1.25
SEQUENCE_RE = re.compile(r"\b(then|after|before|followed|first|finally|next|afterwards|later)\b", re.I)
ARM_ACTIONS = {a for a, s in ACTIONS.items() if s.sided and s.moves & {"left_arm", "right_arm"}} - {"side_bend"}
LEG_ACTIONS = {"lunge", "kick", "hop"}


def shown_gesture_sides(program):
    """Hands that show the program's own gesture: no action imposes another one there (Program.hand_gesture)."""
    if program.gesture == "relaxed":
        return set()
    return {s for s in ("left", "right")
            if program.gesture_side in (s, "both") and program.hand_gesture(s) == program.gesture}


def allowed_sides(program):
    """Every left / right a caption may name: sided segments, the visible gesture, a head turn."""
    sides = {s.side for s in program.segments} & {"left", "right"} | shown_gesture_sides(program)
    return sides | ({program.head[5:]} if program.head.startswith("turn_") else set())


def check_caption(text, program):
    """Assert every truth constraint on one whole-body caption; return the lower-cased text."""
    low = text.lower()
    assert text[0].isupper() and text.endswith(".") and "{" not in text and "  " not in text and " ." not in text, text
    assert set(re.findall(r"\b(left|right)\b", low)) <= allowed_sides(program), (text, program)
    for side, _ in re.findall(r"\b(left|right)[- ](hand|arm|fist|palm|index finger)", low):
        ok = any(s.action in ARM_ACTIONS and s.side in (side, "both") for s in program.segments)
        assert ok or side in shown_gesture_sides(program), (text, program)
    for side, _ in re.findall(r"\b(left|right) (leg|foot)", low):
        assert any(s.action in LEG_ACTIONS and s.side == side for s in program.segments), (text, program)
    reps = {s.repetitions for s in program.segments}
    said = {NUMBERS.get(w, None) or int(w) for w in NUMBER_RE.findall(low)}
    assert said <= reps, (text, program)
    moving = [s for s in program.segments if s.action != "stand"]
    if SLOW_RE.search(low):
        assert any(s.speed < SLOW for s in moving), (text, program)
    if FAST_RE.search(low):
        assert any(s.speed > FAST for s in moving), (text, program)
    if "stroll" in low:
        assert any(s.action == "walk" and s.speed <= FAST for s in program.segments), text
    if SMALL_RE.search(low):
        assert any(s.amplitude < SMALL for s in moving), (text, program)
    if BIG_RE.search(low):
        assert any(s.amplitude > BIG for s in moving), (text, program)
    for e, pattern in EXPRESSION_RE.items():
        if re.search(pattern, low):
            assert e == program.expression, (text, program)
    imposed = {ACTION_GESTURE[s.action] for s in program.segments if s.action in ACTION_GESTURE}
    visible = {program.gesture} if shown_gesture_sides(program) else set()
    for g, pattern in GESTURE_RE.items():
        if re.search(pattern, low):
            assert g in imposed | visible, (text, program)
    for h, pattern in HEAD_RE.items():
        if re.search(pattern, low):
            assert h == program.head, (text, program)
    return low


# ----------------------------------------------------------------------------- truth
def test_captions_are_true_to_random_programs():
    for program in programs(0, 300):
        for text in C.captions(program, np.random.default_rng(1), n=3):
            low = check_caption(text, program)
            if len(program.segments) > 1:
                assert SEQUENCE_RE.search(low), text


def test_single_segment_details_are_exact():
    """With one segment a stated count, speed or size can only be that segment's."""
    rng = np.random.default_rng(2)
    stated = {"count": 0, "slow": 0, "fast": 0, "small": 0, "big": 0}
    for program in programs(3, 300, n_seg=1):
        seg = program.segments[0]
        for text in C.captions(program, rng, n=4):
            low = check_caption(text, program)
            counts = NUMBER_RE.findall(low)
            stated["count"] += bool(counts)
            assert all((NUMBERS.get(w) or int(w)) == seg.repetitions for w in counts), text
            for key, regex in (("slow", SLOW_RE), ("fast", FAST_RE), ("small", SMALL_RE), ("big", BIG_RE)):
                stated[key] += bool(regex.search(low))
    assert min(stated.values()) > 20, stated   # every kind of detail does get stated


def test_neutral_relaxed_and_still_head_are_not_mentioned():
    seg = (BodySegment("clap", "none", 4, 1.0, 1.0),)
    program = Program(seg, "relaxed", "both", "neutral", "none")
    texts = C.captions(program, np.random.default_rng(0), n=300)
    assert not any(re.search(r"relax|loosely|head|nod", t.lower()) for t in texts)
    neutral = sum(bool(re.search(EXPRESSION_RE["neutral"], t.lower())) for t in texts)
    assert neutral <= 0.1 * len(texts)


def test_gesture_overridden_by_action_is_not_claimed():
    """A waving right hand is open: a right-hand thumbs-up must not be described."""
    program = Program((BodySegment("wave", "right", 3),), "thumbs_up", "right", "smile", "none")
    assert C.gesture_side(program) is None
    for text in C.captions(program, np.random.default_rng(0), n=200):
        assert not re.search(GESTURE_RE["thumbs_up"], text.lower()), text
    both = Program((BodySegment("wave", "right", 3),), "thumbs_up", "both")
    assert C.gesture_side(both) == "left"
    found = [t for t in C.captions(both, np.random.default_rng(0), n=100) if "thumbs" in t.lower()]
    assert found and not any(re.search(r"thumbs?[- ]up (with|using) \w+ right", t.lower()) for t in found)


def test_sides_of_sided_actions():
    program = Program((BodySegment("wave", "left", 2),))
    texts = C.captions(program, np.random.default_rng(0), n=100)
    assert sum("left" in t for t in texts) > 50 and not any("right" in t for t in texts)
    assert any(re.search(r"\bboth (of \w+ )?(hands|arms)", t) for t in
               C.captions(Program((BodySegment("raise_arm", "both", 1),)), np.random.default_rng(0), n=50))
    kicks = C.captions(Program((BodySegment("kick", "right", 2),)), np.random.default_rng(0), n=100)
    assert any(re.search(r"right (leg|foot)", t) for t in kicks) and not any("left" in t for t in kicks)


def test_reverse_order_is_parsed_correctly():
    """'jumps after clapping' and 'Before jumping, ... claps' must both mean clap first, then jump."""
    program = Program((BodySegment("clap", "none", 4), BodySegment("jump", "none", 2)))
    orders, reversed_told = set(), 0
    for text in C.captions(program, np.random.default_rng(5), n=300):
        low = text.lower()
        i = re.search(r"clap|applaud|hands together", low).start()
        j = re.search(r"jump|leap|spring", low).start()
        first_told = "clap" if i < j else "jump"
        between = low[min(i, j):max(i, j)]
        reverse = low.startswith("before") or bool(re.search(r"\bafter (?!that)", between))
        reversed_told += reverse
        orders.add(first_told if not reverse else {"clap": "jump", "jump": "clap"}[first_told])
    assert orders == {"clap"} and reversed_told > 20


# ----------------------------------------------------------------------------- face, hands, labels
def test_face_captions_describe_only_the_face():
    for program in programs(7, 300, n_seg=1):
        for text in C.face_captions(program, np.random.default_rng(0), n=2):
            low = check_caption(text, program)
            assert not re.search(r"\b(hands?|arms?|walk\w*|jump\w*|wav\w*|clap\w*|fingers?|steps?)\b", low), text
            if program.expression == "neutral" and program.head == "none":
                assert re.search(EXPRESSION_RE["neutral"], low), text


def test_hand_captions_describe_only_the_hands():
    for program in programs(8, 300, n_seg=1):
        gl, gr = program.hand_gesture("left"), program.hand_gesture("right")
        for text in C.hand_captions(program, np.random.default_rng(0), n=2):
            low = text.lower()
            assert not re.search(r"smil|frown|head|nod|walk|jump|mouth", low), text
            assert set(re.findall(r"\b(left|right)\b", low)) <= {s for s, g in (("left", gl), ("right", gr))
                                                                 if g != "relaxed"}, (text, program)
            for g, pattern in GESTURE_RE.items():
                if re.search(pattern, low) and g != "relaxed":
                    assert g in (gl, gr), (text, program)
    program = Program((BodySegment("stand"),), "peace", "right")
    texts = C.hand_captions(program, np.random.default_rng(0), n=30)
    assert all(re.search(GESTURE_RE["peace"], t.lower()) for t in texts) and any("right" in t for t in texts)


def test_semantic_labels():
    assert C.semantic_label(Program((BodySegment("wave", "left", 2),)), "action") == "waving left hand"
    assert C.semantic_label(Program((BodySegment("raise_arm", "both", 1),)), "action") == "raising both arms"
    two = Program((BodySegment("walk", "none", 3), BodySegment("turn", "right", 1)))
    assert C.semantic_label(two, "action") == "walking then turning right"
    assert C.semantic_label(Program((BodySegment("stand"),), expression="smile"), "expression") == "happy"
    assert C.semantic_label(Program((BodySegment("stand"),), expression="angry"), "expression") == "angry"
    assert C.semantic_label(Program((BodySegment("stand"),), "thumbs_up", "right"), "gesture") == "showing thumbs up"
    # a punch imposes a fist: the gesture label of a punching clip without a visible gesture is the fist
    assert C.semantic_label(Program((BodySegment("punch", "right", 2),)), "gesture") == "making a fist"
    sad = Program((BodySegment("stand"),), expression="sad")
    labels = C.semantic_labels(sad, "expression", np.random.default_rng(0), 5)
    assert labels[0] == "sad" and len(labels) == 5 and len(set(labels)) == 3


# ----------------------------------------------------------------------------- coverage, variety, API
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_action_every_side_reads_well(action):
    rng = np.random.default_rng(0)
    spec = ACTIONS[action]
    for side in (spec.sides if spec.sided else ("none",)):
        for reps in sorted({spec.reps[0], max(2, spec.reps[1])}):
            for speed, amp in ((0.5, 0.6), (1.0, 1.0), (1.8, 1.5)):
                program = Program((BodySegment(action, side, reps, speed, amp),))
                for text in C.captions(program, rng, n=12):
                    check_caption(text, program)
        assert C.semantic_label(Program((BodySegment(action, side, 1),)), "action")


@pytest.mark.parametrize("kind,names", [("gesture", GESTURES), ("expression", EXPRESSIONS), ("head", HEAD_MOVES)])
def test_every_gesture_expression_and_head_move_is_phrased(kind, names):
    rng = np.random.default_rng(0)
    for name in names:
        program = Program((BodySegment("stand"),), **{"gesture": "relaxed", kind: name})
        texts = C.captions(program, rng, n=40) + C.face_captions(program, rng, n=10)
        hands = C.hand_captions(program, rng, n=10)
        pattern = {"gesture": GESTURE_RE, "expression": EXPRESSION_RE, "head": HEAD_RE}[kind].get(name)
        if name not in ("relaxed", "neutral", "none"):
            assert any(re.search(pattern, t.lower()) for t in texts + hands), (name, texts[:5])
        for text in texts:
            check_caption(text, program)
        if kind == "gesture":
            assert all(re.search(GESTURE_RE[name], t.lower()) for t in hands), hands
        if kind != "head":
            assert C.semantic_label(program, kind)


def test_variety():
    rng = np.random.default_rng(0)
    texts = [C.captions(p, rng, n=1)[0] for p in programs(11, 200, n_seg=1, action="wave")]
    assert len(set(texts)) >= 190
    verb_re = r"\b(waves?|waving|greets?|greeting|raises?|raising|gives?|giving)\b"
    verbs = {v for t in texts for v in re.findall(verb_re, t)}
    assert len(verbs) >= 6, verbs
    frame_re = r"^(a video of|a clip of|the video shows|this clip shows|footage of|the footage shows|first,) "
    subjects = {re.sub(frame_re, "", t.lower()).split(" ")[1] for t in texts}
    assert len(subjects) >= 10, subjects
    shapes = {"after": r"\bafter\b", "while": r"\bwhile\b", "with": r"\bwith an? ", "is -ing": r"\b(is|are) \w+ing\b"}
    two = [t for p in programs(12, 100, n_seg=2) for t in C.captions(p, rng, n=2)]
    for name, pattern in shapes.items():
        assert sum(bool(re.search(pattern, t)) for t in two) > 10, name


def test_deterministic_and_distinct():
    program = programs(13, 1, n_seg=2)[0]
    a = C.captions(program, np.random.default_rng(42), n=5)
    b = C.captions(program, np.random.default_rng(42), n=5)
    assert a == b and len(set(a)) == 5
    for fn in (C.face_captions, C.hand_captions):
        assert fn(program, np.random.default_rng(1), 3) == fn(program, np.random.default_rng(1), 3)
    # few possible captions: n is still honoured, with repeats only when distinct ones run out
    still = Program((BodySegment("stand"),))
    assert len(C.hand_captions(still, np.random.default_rng(0), n=40)) == 40


def test_bad_input_raises():
    program = programs(14, 1)[0]
    rng = np.random.default_rng(0)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n must be"):
            C.captions(program, rng, n=bad)
    with pytest.raises(ValueError, match="n must be"):
        C.semantic_labels(program, "action", rng, 0)
    with pytest.raises(ValueError, match="kind.*allowed: action, expression, gesture"):
        C.semantic_label(program, "body")
    with pytest.raises(ValueError, match="program must be"):
        C.captions("wave", rng)
    with pytest.raises(ValueError, match="rng must be"):
        C.face_captions(program, 0)
    with pytest.raises(ValueError, match="p_side"):
        C.CaptionConfig(p_side=1.5)


def test_conjugation():
    cases = {"wave": ("waves", "waving"), "clap": ("claps", "clapping"), "punch": ("punches", "punching"),
             "do": ("does", "doing"), "shadowbox": ("shadowboxes", "shadowboxing"), "tilt": ("tilts", "tilting"),
             "carry": ("carries", "carrying"), "see": ("sees", "seeing"), "lie": ("lies", "lying")}
    for verb, (s, g) in cases.items():
        assert (phrasebook.conjugate(verb, "s"), phrasebook.conjugate(verb, "g")) == (s, g)
    with pytest.raises(ValueError, match="form"):
        phrasebook.conjugate("wave", "past")


def test_fast_enough():
    progs = programs(15, 500)
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for p in progs:
        C.captions(p, rng, n=3)
    per_caption = (time.perf_counter() - t) / (3 * len(progs))
    assert per_caption < 200e-6, per_caption   # ~20 us measured; generous for slow CI machines


def test_every_phrase_conjugates():
    """Each compiled phrase starts with its verb in all three forms ("^" marks every verb of a compound)."""
    phrases = {p for e in phrasebook._ACTIONS.values() for pool in [*e.pools.values(), *e.counted.values()] for p in pool}
    phrases |= {p for table in (phrasebook._EXPR, phrasebook._GEST, phrasebook._HEAD) for verbs, _ in table.values() for p in verbs}
    assert len(phrases) > 250
    for p in phrases:
        b, s, g = (form.removeprefix("just ").split()[0] for form in (p.b, p.s, p.g))
        assert g.endswith("ing") and s.endswith("s") and b == phrasebook.conjugate(b, "b"), (p.b, p.s, p.g)
        assert p.b.count(" and ") == 0 or p.g.count("ing ") >= 2 or p.g.endswith("ing"), p.g   # both verbs conjugated
