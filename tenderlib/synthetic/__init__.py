"""The embedded dataset: a synthetic Holistic-Motion2D (docs/design.md, section 2).

Clip i of a `SyntheticConfig` is made from its own random stream (seed, i), so it is the same
whatever the dataset size. A clip: pick a source (the sub-datasets of the paper's Table 9, by
analogy), draw an action program for it, animate the 3D figure, ground it, film it with a random
camera, run the simulated pose detector, and write captions (or semantic labels) from the program.

    SOURCES           the ten sources and what makes each one different
    make_clip(cfg, i) -> Motion
    generate(cfg, workers=2) -> Iterator[Motion]   (order-preserving, both cores)
    get_store(cfg)    -> Store   packed once per config and generator code under
                                 outputs/cache/stores/synthetic-<config hash>-<code hash>/
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import importlib.util
import itertools
import logging
import multiprocessing as mp
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from tenderlib.synthetic import actions, camera, captions, detector, figure
from tenderlib.data.motion import Motion
from tenderlib.checks import check_choice
from tenderlib.synthetic.program import ACTIONS, EXPRESSIONS, GESTURES, HEAD_MOVES, BodySegment, Program

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceSpec:
    """How one synthetic sub-dataset differs from the others."""

    paper_name: str                 # its analogue in the paper's Table 9
    weight: float                   # share of clips
    kind: str                       # whole | upper | face | hand: what is annotated and filmed
    text: str                       # caption | semantic
    mean_frames: int                # mean clip length, as in Table 9 (frames / clips)
    fps: float
    quality: tuple[float, float]    # range of detector quality (1 = clean)
    actions: tuple[str, ...] = ()   # body actions it draws from (empty: all)
    max_segments: int = 1           # longest "then" chain
    gesture_p: float = 0.35         # probability of a non-relaxed hand gesture
    expression_p: float = 0.35      # probability of a non-neutral expression
    head_p: float = 0.15            # probability of a head move
    fill: tuple[float, float] = (0.35, 0.9)   # subject height / image height
    yaw: float = 60.0               # camera yaw spread around frontal, degrees
    shake: float = 1.0              # camera shake multiplier


_SPORT = ("jump", "throw", "swing", "punch", "kick", "jumping_jacks", "lunge", "squat", "walk", "run_in_place",
          "touch_toes", "arm_circles", "hop", "shadow_box", "stretch")
_UPPER = ("stand", "wave", "clap", "point", "raise_arm", "punch", "arm_circles", "reach", "shadow_box", "stretch",
          "side_bend", "bow")
_ATOMIC = tuple(a for a in ACTIONS if a not in ("stand", "walk"))

# Weights follow Table 9's clip counts, flattened so that small sources still appear in small datasets.
SOURCES: dict[str, SourceSpec] = {
    "syn-ucf101": SourceSpec("UCF101", 0.05, "whole", "caption", 149, 25.0, (0.45, 0.9), _SPORT, 2, fill=(0.25, 0.7), yaw=75),
    "syn-k400": SourceSpec("K400", 0.17, "whole", "caption", 134, 30.0, (0.5, 0.95), (), 2),
    "syn-k700": SourceSpec("K700", 0.17, "whole", "caption", 167, 30.0, (0.45, 0.95), (), 3),
    "syn-ubody": SourceSpec("UBody", 0.05, "upper", "caption", 156, 30.0, (0.65, 0.95), _UPPER, 2,
                            gesture_p=0.7, expression_p=0.7, head_p=0.3, fill=(0.5, 0.9), yaw=40),
    "syn-internvid": SourceSpec("InternVid", 0.22, "whole", "caption", 127, 25.0, (0.25, 0.95), (), 2,
                                fill=(0.25, 0.9), yaw=90, shake=2.0),
    "syn-haa500": SourceSpec("HAA500", 0.04, "whole", "caption", 50, 30.0, (0.75, 1.0), _ATOMIC, 1, fill=(0.55, 0.9)),
    "syn-idea400": SourceSpec("IDEA400", 0.06, "whole", "semantic", 177, 30.0, (0.9, 1.0), (), 1,
                              gesture_p=0.5, expression_p=0.5, fill=(0.55, 0.85), yaw=35, shake=0.0),
    "syn-sthv2": SourceSpec("Sthv2", 0.14, "hand", "semantic", 20, 12.0, (0.5, 0.95), ("stand",), 1,
                            gesture_p=1.0, expression_p=0.0, head_p=0.0, fill=(0.4, 0.8), yaw=40),
    "syn-dfew": SourceSpec("DFEW", 0.06, "face", "semantic", 71, 25.0, (0.55, 0.95), ("stand",), 1,
                           gesture_p=0.0, expression_p=0.9, head_p=0.4, fill=(0.4, 0.8), yaw=35),
    "syn-caer": SourceSpec("CARE", 0.04, "face", "semantic", 28, 25.0, (0.5, 0.9), ("stand",), 1,
                           gesture_p=0.0, expression_p=0.9, head_p=0.3, fill=(0.4, 0.8), yaw=35),
}
SOURCE_NAMES = tuple(SOURCES)
ANALOGUES = {name: spec.paper_name for name, spec in SOURCES.items()}  # source -> its Table 9 analogue

_REGIONS_OF_KIND = {
    "whole": ("body", "foot", "face", "left_hand", "right_hand"),
    "upper": ("body", "foot", "face", "left_hand", "right_hand"),  # legs leave the frame, detector still guesses
    "face": ("face",),
    "hand": ("left_hand", "right_hand"),
}
_FRAMING_OF_KIND = {"whole": "full", "upper": "upper", "face": "face", "hand": "hand"}
_SEMANTIC_KIND = {"whole": "action", "upper": "action", "face": "expression", "hand": "gesture"}


@dataclass(frozen=True)
class SyntheticConfig:
    """Identity of a synthetic dataset: the same config always gives the same clips."""

    num_clips: int = 600                      # number of clips
    seed: int = 0                             # dataset seed; clip i uses the stream (seed, i)
    sources: tuple[str, ...] = ()             # restrict to these sources (empty: all ten, weighted)
    captions_per_clip: int = 3                # captions written per clip
    length_scale: float = 1.0                 # multiplies every source's mean clip length
    keep_3d: bool = True                      # keep the 3D ground truth (doubles the store; scale builds skip it)
    motion_version: int = 2                   # body animation (tenderlib.synthetic.actions): 2 = after the realism
                                              # measurements against motion capture; 1 = before (reproduces the comparison)

    def __post_init__(self):
        if not isinstance(self.num_clips, int) or self.num_clips < 1:
            raise ValueError(f"num_clips must be a positive integer, got {self.num_clips!r}")
        for s in self.sources:
            check_choice("source", s, SOURCE_NAMES)
        if self.captions_per_clip < 1:
            raise ValueError(f"captions_per_clip must be >= 1, got {self.captions_per_clip}")
        if not (0.1 <= self.length_scale <= 10):
            raise ValueError(f"length_scale must be in [0.1, 10], got {self.length_scale}")
        if self.motion_version not in actions.VERSIONS:
            raise ValueError(f"motion_version must be one of {actions.VERSIONS}, got {self.motion_version!r}")
        if not isinstance(self.keep_3d, bool):
            raise ValueError(f"keep_3d must be True or False, got {self.keep_3d!r}")


# ----------------------------------------------------------------------------- programs
def _sample_segment(spec: SourceSpec, rng: np.random.Generator, duration_s: float) -> BodySegment:
    pool = spec.actions or tuple(ACTIONS)
    action = pool[int(rng.integers(len(pool)))]
    a = ACTIONS[action]
    side = a.sides[int(rng.integers(len(a.sides)))] if a.sided else "none"
    speed = float(np.clip(rng.lognormal(0.0, 0.25), 0.55, 1.8))
    amplitude = float(np.clip(rng.lognormal(0.0, 0.2), 0.6, 1.5))
    lo, hi = a.reps
    if action == "stand":
        speed = float(np.clip(a.cycle_s / max(duration_s, 0.1), 0.2, 3.0))
        reps = 1
    else:
        reps = int(np.clip(round(duration_s * speed / a.cycle_s), lo, max(hi, lo)))
    return BodySegment(action, side, reps, speed, amplitude)


def sample_program(spec: SourceSpec, rng: np.random.Generator, length_scale: float = 1.0) -> Program:
    """A random program whose duration is about the source's mean clip length."""
    target_s = spec.mean_frames * length_scale / spec.fps * float(np.clip(rng.lognormal(0.0, 0.3), 0.5, 2.0))
    n_seg = int(rng.integers(1, spec.max_segments + 1))
    segs = []
    for k in range(n_seg):
        seg = _sample_segment(spec, rng, target_s / n_seg)
        if k < n_seg - 1 and seg.action == "sit_down":   # nothing but the end of a program can sit down
            seg = BodySegment("stand", "none", 1, seg.speed, seg.amplitude)
        segs.append(seg)
    gestures = tuple(g for g in GESTURES if g != "relaxed")
    gesture = gestures[int(rng.integers(len(gestures)))] if rng.random() < spec.gesture_p else "relaxed"
    gesture_side = ("left", "right", "both")[int(rng.integers(3))]
    expressions = tuple(e for e in EXPRESSIONS if e != "neutral")
    expression = expressions[int(rng.integers(len(expressions)))] if rng.random() < spec.expression_p else "neutral"
    heads = tuple(h for h in HEAD_MOVES if h != "none")
    head = heads[int(rng.integers(len(heads)))] if rng.random() < spec.head_p else "none"
    return Program(tuple(segs), gesture, gesture_side, expression, head)


def _texts(program: Program, spec: SourceSpec, rng: np.random.Generator, n: int) -> list[str]:
    if spec.text == "semantic":
        return captions.semantic_labels(program, _SEMANTIC_KIND[spec.kind], rng, n)
    if spec.kind == "face":
        return captions.face_captions(program, rng, n)
    if spec.kind == "hand":
        return captions.hand_captions(program, rng, n)
    return captions.captions(program, rng, n)


def _labels(program: Program, text_kind: str = "caption") -> dict[str, str]:
    seg = program.segments
    return {
        "text": text_kind,
        "action": seg[0].action,
        "actions": "+".join(s.action for s in seg),
        "sides": "+".join(s.side for s in seg),
        "gesture": program.gesture,
        "gesture_side": program.gesture_side,
        "expression": program.expression,
        "head": program.head,
    }


# ----------------------------------------------------------------------------- one clip
@functools.lru_cache(maxsize=None)
def _camera_config(source: str) -> camera.CameraConfig:
    spec, base = SOURCES[source], camera.CameraConfig()
    return dataclasses.replace(
        base, yaw_deg=(-spec.yaw, spec.yaw), fill_full=spec.fill, fill_face=spec.fill, fill_hand=spec.fill,
        shake_prob=base.shake_prob if spec.shake > 0 else 0.0,
        shake_rot_deg=base.shake_rot_deg * spec.shake, shake_offset_m=base.shake_offset_m * spec.shake,
        upper_bottom=(0.62, 0.8))  # 'upper' framing: hips at 62-80% of the image height, hands in, legs out


def pick_source(cfg: SyntheticConfig, rng: np.random.Generator) -> str:
    names = cfg.sources or SOURCE_NAMES
    w = np.array([SOURCES[n].weight for n in names])
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def make_clips(cfg: SyntheticConfig, indices) -> list[Motion]:
    """Clips `indices` of the dataset; clip i depends only on (cfg, i), not on num_clips or the batch.

    Each clip has its own random stream. The forward kinematics of all clips runs as one call over
    the concatenated frames (frames are independent), which is what makes generation fast.
    """
    staged = []
    for i in indices:
        rng = np.random.default_rng([cfg.seed, int(i), 0x7E4DE2])
        source = pick_source(cfg, rng)
        spec = SOURCES[source]
        program = sample_program(spec, rng, cfg.length_scale)
        shape = figure.BodyShape.sample(rng)
        anim = actions.animate(program, spec.fps, rng, version=cfg.motion_version)
        staged.append((int(i), rng, source, program, shape, anim))
    if not staged:
        return []
    anims = [s[5] for s in staged]
    lengths = [a.pose.shape[0] for a in anims]
    kin = figure.forward_kinematics(
        np.concatenate([a.pose for a in anims]), figure.stack_shapes([s[4] for s in staged], lengths),
        np.concatenate([a.face_weights for a in anims]),
        tuple(np.concatenate([a.hand_angles[h] for a in anims]) for h in (0, 1)))
    bounds = np.cumsum([0] + lengths)
    return [_film(cfg, i, rng, source, program, anim, kin.points[a:b], kin.facing[a:b])
            for (i, rng, source, program, _, anim), a, b in zip(staged, bounds[:-1], bounds[1:])]


def make_clip(cfg: SyntheticConfig, index: int) -> Motion:
    """Clip `index` of the dataset (the same as in any batch of `make_clips`)."""
    return make_clips(cfg, [index])[0]


def _film(cfg: SyntheticConfig, index: int, rng: np.random.Generator, source: str, program: Program,
          anim: actions.Animation, points: np.ndarray, facing: np.ndarray) -> Motion:
    """Ground the figure, film it with the source's camera, run the detector, write the texts."""
    spec = SOURCES[source]
    smooth = actions.ground_smoothing(spec.fps, cfg.motion_version)
    world = points + figure.ground(points, anim.airborne, smooth=smooth)[:, None, :]  # (T, 133, 3)
    shot = camera.film(world, rng, _camera_config(source), framing=_FRAMING_OF_KIND[spec.kind])
    cam = shot.camera
    det_cfg = detector.DetectorConfig(quality=float(rng.uniform(*spec.quality)))
    kp, conf = detector.detect(shot.points_cam, shot.uv, cam.image_size, rng, det_cfg,
                               facing_cam=camera.directions_to_camera(facing, cam),
                               regions=_REGIONS_OF_KIND[spec.kind])
    texts = _texts(program, spec, rng, cfg.captions_per_clip)
    return Motion(keypoints=kp.astype(np.float32), confidence=conf.astype(np.float32), texts=texts,
                  source=source, fps=spec.fps, image_size=tuple(int(v) for v in cam.image_size),
                  clip_id=f"{source}/{cfg.seed}-{index:07d}",
                  keypoints_3d=world.astype(np.float32) if cfg.keep_3d else None,
                  labels=_labels(program, spec.text))


def make_program_clip(program: Program, source: str = "syn-idea400", seed: int = 0) -> Motion:
    """A clip of a given program (for figures and tests), filmed like `source`."""
    check_choice("source", source, SOURCE_NAMES)
    spec = SOURCES[source]
    rng = np.random.default_rng([seed, 0x51DE])
    anim = actions.animate(program, spec.fps, rng)
    kin = figure.forward_kinematics(anim.pose, figure.BodyShape(), anim.face_weights, anim.hand_angles)
    world = kin.points + figure.ground(kin.points, anim.airborne, smooth=actions.ground_smoothing(spec.fps))[:, None, :]
    cam = camera.sample_camera(world, rng, camera.CameraConfig(yaw_deg=(0.0, 0.0), pitch_deg=(5.0, 5.0), roll_deg=(0.0, 0.0), shake_prob=0.0),
                               framing=_FRAMING_OF_KIND[spec.kind], num_frames=world.shape[0])
    uv, _ = camera.project(world, cam)
    det_cfg = detector.DetectorConfig(quality=1.0)
    kp, conf = detector.detect(camera.to_camera(world, cam), uv, cam.image_size, rng, det_cfg,
                               facing_cam=camera.directions_to_camera(kin.facing, cam), regions=_REGIONS_OF_KIND[spec.kind])
    return Motion(kp.astype(np.float32), conf.astype(np.float32), captions.captions(program, rng, 1), source,
                  spec.fps, tuple(int(v) for v in cam.image_size), f"program/{seed}", world.astype(np.float32),
                  _labels(program))


# ----------------------------------------------------------------------------- many clips
def _chunk(args) -> list[Motion]:
    cfg, start, stop = args
    return make_clips(cfg, range(start, stop))


def generate(cfg: SyntheticConfig, workers: int = 2, chunk: int = 64, start: int = 0,
             stop: int | None = None, in_flight: int | None = None) -> Iterator[Motion]:
    """Clips start..stop-1 in order; `workers` > 1 uses a process pool on that many cores.

    Memory stays bounded whatever the number of clips: at most `in_flight` chunks of `chunk` clips
    (default 2 per worker) are submitted and not yet consumed, so a consumer slower than the
    producers (a store writer on a busy disk) makes them wait instead of piling results up
    (`Pool.imap` has no such back-pressure).
    """
    stop = cfg.num_clips if stop is None else stop
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    if not (isinstance(chunk, int) and chunk >= 1):
        raise ValueError(f"chunk must be an int >= 1, got {chunk!r}")
    if not (0 <= start <= stop <= cfg.num_clips):
        raise ValueError(f"start and stop must satisfy 0 <= start <= stop <= num_clips={cfg.num_clips}, "
                         f"got start={start}, stop={stop}")
    in_flight = 2 * workers if in_flight is None else in_flight
    if not (isinstance(in_flight, int) and in_flight >= 1):
        raise ValueError(f"in_flight must be an int >= 1 (chunks submitted ahead), got {in_flight!r}")
    jobs = ((cfg, a, min(a + chunk, stop)) for a in range(start, stop, chunk))
    if workers <= 1 or stop - start <= chunk:
        for job in jobs:
            yield from _chunk(job)
        return
    ctx = mp.get_context("fork")
    with ctx.Pool(workers) as pool:
        pending: collections.deque = collections.deque(
            pool.apply_async(_chunk, (job,)) for job in itertools.islice(jobs, in_flight))
        while pending:
            motions = pending.popleft().get()
            for job in itertools.islice(jobs, 1):  # one chunk out, one chunk in
                pending.append(pool.apply_async(_chunk, (job,)))
            yield from motions
            del motions


# The modules whose code decides what a clip is (everything `import tenderlib.synthetic` loads; a
# test keeps the list complete). Their source is part of a store's cache key: an edit to the
# generator gives a new store instead of silently reusing clips made by the old code.
GENERATOR_MODULES = ("synthetic.actions", "synthetic.camera", "synthetic.captions", "checks", "synthetic.curves",
                     "synthetic.detector", "synthetic.face", "synthetic.figure", "synthetic.hand", "data.motion", "synthetic.phrasebook",
                     "synthetic.program", "data", "data.skeleton", "synthetic")


@functools.lru_cache(maxsize=1)
def generator_fingerprint() -> str:
    """Short hex hash of the source code of GENERATOR_MODULES."""
    digest = hashlib.sha256()
    for name in GENERATOR_MODULES:
        origin = importlib.util.find_spec(f"tenderlib.{name}").origin
        with open(origin, "rb") as f:
            digest.update(name.encode() + b"\0" + f.read() + b"\0")
    return digest.hexdigest()[:8]


def store_path(cfg: SyntheticConfig):
    """<outputs>/cache/stores/synthetic-<config hash>-<generator code hash>/ of this dataset."""
    from tenderlib import params, paths

    return paths.outputs_root() / "cache" / "stores" / f"synthetic-{params.config_hash(cfg)}-{generator_fingerprint()}"


def get_store(cfg: SyntheticConfig, workers: int = 2, rebuild: bool = False):
    """The packed store of this dataset, built once under `store_path(cfg)` (keyed by the config
    and the generator's code).

    Restartable: a build that was interrupted, even killed outright, left no store at the path
    (the store is renamed into place complete); its hidden leftovers are removed here
    (`tenderlib.data.building.clean_stale_builds`) and the next call builds again.
    """
    from tenderlib import params
    from tenderlib.data import building, store

    path = store_path(cfg)
    building.clean_stale_builds(path)
    if path.exists() and not rebuild:
        try:
            return store.Store(path)
        except ValueError as err:  # an older format: rebuild it
            log.warning("rebuilding %s: %s", path, err)
    log.info("building synthetic store %s (%d clips)", path, cfg.num_clips)
    meta = {"config": params.to_json(cfg), "kind": "synthetic", "generator": generator_fingerprint(),
            "identity": path.name}  # the content is a function of the config and the code: runs stay valid across rebuilds
    return store.build_store(generate(cfg, workers=workers), path, meta=meta, overwrite=True)
