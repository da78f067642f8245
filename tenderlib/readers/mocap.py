"""Motion capture -> Motions: BVH clips filmed by seeded virtual cameras, captions from labels.

The paper's Table 8 has a "3D source" (IDEA400) whose clips are projected to 2D. Here the real
3D source is ../shared/data/bandai-namco-1 (Bandai Namco Research Motion Dataset 1: 174 BVH clips
of one actor, 30 fps, 17 contents x 15 styles, (c) 2022 Bandai Namco Research Inc., licence
CC BY-NC 4.0, research use only, credit the dataset where results from it are shown). The data
is read where it is and never copied into this repository or its outputs beyond the packed
store a user builds locally.

Per clip (`film`): tenderlib.readers.bvh maps the skeleton to COCO body + feet in metres, then
`views` cameras are drawn with tenderlib.synthetic.camera.sample_camera ('full' framing, the view yaw taken
relative to the body's mean facing), each with its own rng seeded by (seed, clip name, view), so a
clip's views do not depend on which other clips are read. By default the cameras travel with the
subject (`follow`: the hips' travel, smoothed over a second, is taken away before filming), as a
video that tracks its subject would; a static camera would shrink a person who walks 8 m to a few
dozen pixels. Each view is one Motion, clip_id '<source>/<clip>/view<k>', labels 'take' = <clip>
and 'view' = k (the views of one take belong in one split: group them by 'take'), with the 3D
points as keypoints_3d (world metres, y up, absent keypoints 0). Confidence is 1 on the keypoints
the skeleton provides (clean capture) and 0 elsewhere (face; hands without fingers); `detector`
runs tenderlib.synthetic.detector instead.

Captions (`bandai_captions`): from the content and style labels (cfg/content_label.txt,
cfg/style_label.txt, the per-clip JSON {"content": i, "style": j}, cross-checked with the file
name dataset-1_<content>_<style>_<nnn>.bvh), in varied wording, e.g. "a person waves the right
hand goodbye, tired", "a timid person bows", "someone dashes forward like a giant"; several
distinct captions per clip, seeded by (seed, clip). The sides in the wording (right hand for
'bye' and 'guide', left for 'respond') were read off the clips' wrist trajectories.

`read_bvh_folder` reads any folder of BVH files with a caption file <clip>.txt beside each.
"""
from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tenderlib.synthetic import camera
from tenderlib.synthetic.detector import DetectorConfig, detect
from tenderlib.data.motion import Motion
from tenderlib.readers.bvh import CocoPose, MappingConfig, read_bvh, to_coco
from tenderlib.readers.files import Limits, list_files, read_bytes, regular_file
from tenderlib.readers.holistic import read_captions
from tenderlib.readers.report import Outcome, Reading, ReaderError, map_ordered, unexpected
from tenderlib.data.skeleton import KEYPOINT_INDEX, REGIONS

logger = logging.getLogger(__name__)

BANDAI_SOURCE = "mocap-bandai"
_PREFIX = "dataset-1_"


@dataclass(frozen=True)
class MocapConfig:
    """How BVH clips are filmed into Motions."""

    source: str = BANDAI_SOURCE                  # Motion.source
    views: int = 3                               # virtual cameras (Motions) per clip
    seed: int = 0                                # cameras and captions are seeded by (seed, clip[, view])
    captions: int = 4                            # distinct captions per clip (bandai labels)
    camera: camera.CameraConfig = camera.CameraConfig()  # view, lens and framing ranges
    mapping: MappingConfig = MappingConfig()     # units, up axis, mirroring of the BVH skeleton
    detector: DetectorConfig | None = None       # None: clean capture (confidence 1); else simulated detector
    follow: bool = True                          # cameras travel with the subject (a tracking shot); False: static
    follow_window_s: float = 1.0                 # the travel follows the hips smoothed over this window (sway stays)
    workers: int = 1                             # processes reading clips (order is kept)
    limits: Limits = Limits()                    # what one file may cost (bytes, frames)

    def __post_init__(self):
        if not (isinstance(self.source, str) and self.source.strip()):
            raise ValueError(f"source must be a non-empty string, got {self.source!r}")
        if not self.follow_window_s > 0:
            raise ValueError(f"follow_window_s must be > 0 seconds, got {self.follow_window_s!r}")
        for name in ("views", "captions", "workers"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")


def _rng(seed: int, key: str, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8")), *more])


def framing_points(pose: CocoPose) -> np.ndarray:
    """(T, 133, 3) points with absent keypoints moved onto the nearest present one (face to the
    nose, a hand to its wrist) so that camera framing and the detector see a plausible figure."""
    pts = pose.points.copy()
    for region, anchor in (("face", "nose"), ("left_hand", "left_wrist"), ("right_hand", "right_wrist")):
        sl = REGIONS[region]
        absent = ~pose.present[sl]
        pts[:, sl][:, absent] = pts[:, KEYPOINT_INDEX[anchor]][:, None]
    return pts


def follow_drift(pose: CocoPose, window_s: float) -> np.ndarray:
    """(T, 3) horizontal travel of the hips since frame 0, smoothed by a moving average of window_s."""
    hips = 0.5 * (pose.points[:, KEYPOINT_INDEX["left_hip"]] + pose.points[:, KEYPOINT_INDEX["right_hip"]])  # (T, 3)
    T = hips.shape[0]
    k = int(min(T, max(1, round(window_s * pose.fps))))
    pad = np.pad(hips, ((k // 2, k - 1 - k // 2), (0, 0)), mode="reflect", reflect_type="odd")  # keeps a steady walk
    c = np.cumsum(np.pad(pad, ((1, 0), (0, 0))), axis=0)
    smooth = (c[k:] - c[:-k]) / k                                # (T, 3)
    drift = smooth - smooth[0]
    drift[:, 1] = 0.0
    return drift


def film(pose: CocoPose, rng: np.random.Generator, cfg: MocapConfig = MocapConfig()):
    """One virtual camera: -> (keypoints (T, 133, 2) float32, confidence (T, 133) float32, image_size)."""
    pts = framing_points(pose)  # (T, 133, 3)
    if cfg.follow:  # a camera travelling with the subject = the subject's travel taken away
        pts = pts - follow_drift(pose, cfg.follow_window_s)[:, None]
    f = pose.facing.mean(axis=0)
    heading = float(np.arctan2(f[0], f[2])) if np.linalg.norm(f) > 1e-6 else 0.0
    cam = camera.sample_camera(pts, rng, cfg.camera, framing="full", num_frames=pts.shape[0], heading=heading)
    uv, depth = camera.project(pts, cam)  # (T, 133, 2), (T, 133)
    if cfg.detector is None:
        conf = ((depth > 0) & pose.present[None]).astype(np.float32)
        kp = np.where(conf[..., None] > 0, uv, 0.0).astype(np.float32)
    else:
        regions = tuple(r for r, sl in REGIONS.items() if pose.present[sl].all())
        facing_cam = camera.directions_to_camera(pose.facing, cam)
        kp, conf = detect(camera.to_camera(pts, cam), uv, cam.image_size, rng, cfg.detector,
                          facing_cam=facing_cam, regions=regions)
    return kp, conf, cam.image_size


def film_clip(task: tuple[str, str, str, list[str] | None, dict, MocapConfig]) -> Outcome:
    """One BVH file -> Outcome with `views` Motions. task = (path, dataset root, clip key, captions,
    labels, cfg); captions None: read <clip>.txt beside the file (inside the root)."""
    path, root, key, texts, labels, cfg = task
    try:
        notes = []
        if texts is None:
            texts, notes = read_captions(Path(path).with_suffix(".txt"), root=root, limits=cfg.limits)
        pose = to_coco(read_bvh(path, cfg.limits), cfg.mapping, path)
        k3 = pose.points.astype(np.float32)
        motions = []
        for v in range(cfg.views):
            kp, conf, size = film(pose, _rng(cfg.seed, key, v), cfg)
            motions.append(Motion(kp, conf, list(texts), cfg.source, round(pose.fps, 3), size,
                                  f"{cfg.source}/{key}/view{v}", keypoints_3d=k3,
                                  labels={**labels, "take": key, "view": str(v), "split_group": f"{cfg.source}/{key}"}).validate())
        if pose.mirrored:
            notes.append("skeleton mirrored: its left side was on the right of its walking direction")
        return Outcome(path, motions, notes=notes)
    except ReaderError as e:
        return Outcome.reject(path, str(e) if path in str(e) else f"{path}: {e}", e.kind)
    except Exception as e:  # anything else this file provokes rejects the file, never the whole build
        return unexpected(path, e)


def read_bvh_folder(root, cfg: MocapConfig) -> Reading:
    """Every *.bvh under `root` (captions from <clip>.txt beside it) -> Reading; clip key = relative path."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"root must be a folder of .bvh files, got {str(root)!r}")
    files, bad = list_files(root)

    def produce(report):
        yield from bad
        bvhs = [p for p in files if p.suffix.lower() == ".bvh"]
        used = set(bvhs) | {p.with_suffix(".txt") for p in bvhs}
        tasks = [(str(p), str(root), p.relative_to(root).with_suffix("").as_posix(), None, {}, cfg) for p in bvhs]
        yield from map_ordered(film_clip, tasks, cfg.workers, chunksize=1)
        report.unmatched.extend(str(p) for p in files if p not in used)

    return Reading("bvh", root, produce)


# ---------------------------------------------------------------------------------------------
# bandai-namco-1: labels and captions

_SUBJECTS = ("a person", "someone", "the person", "a performer")


def _phrases(text: str) -> tuple[str, ...]:
    """'a | b | c' -> ('a', 'b', 'c') (empty: ())."""
    return tuple(p.strip() for p in text.split("|") if p.strip())


def _labelled(table: str) -> dict[str, str]:
    """Lines 'label: rest' -> {label: rest}."""
    return dict(line.strip().split(": ", 1) for line in table.strip().splitlines())


_CONTENT = {label: _phrases(verbs) for label, verbs in _labelled("""
    walk: walks forward | walks straight ahead | takes a walk forward
    run: runs forward | runs | jogs ahead
    dash: dashes forward | sprints ahead | runs at full speed
    walk-back: walks backwards | steps backwards | walks backward a few steps
    walk-left: walks forward and to the left | walks diagonally to the left | walks ahead, drifting left
    walk-right: walks forward and to the right | walks diagonally to the right | walks ahead, drifting right
    bow: bows | takes a bow | bows from the waist
    bye: waves the right hand goodbye | waves goodbye with the right hand | says goodbye with a wave of the right hand
    guide: guides the way with the right hand | shows the way with an open right hand | gestures the way with the right hand
    byebye: waves both hands goodbye | waves goodbye with both hands | says bye-bye, waving both hands
    respond: raises the left hand to respond | answers by raising the left hand | puts the left hand up in reply
    call: calls out to someone | calls someone over | calls out to get someone's attention
    punch: throws punches | punches the air | boxes, throwing punches
    kick: kicks | throws kicks | kicks the air
    slash: slashes with a sword | makes sword slashes | swings a sword
    dance-long: dances | performs a dance | dances freely
    dance-short: dances | performs a short dance | dances freely
""").items()}  # content label -> verb phrases (third person)
_STYLE = {label: (None if adj.strip() == "-" else adj.strip(), _phrases(manners)) for label, (adj, manners) in (
    (label, rest.split(";", 1)) for label, rest in _labelled("""
    normal: -; 
    happy: happy; happily | cheerfully | in a happy mood
    sad: sad; sadly | in a sad mood | with a sad air
    angry: angry; angrily | in an angry mood | furiously
    proud: proud; proudly | with pride | in a proud manner
    not-confident: timid; timidly | without confidence | hesitantly
    masculinity: masculine; in a masculine way | in a manly way
    feminine: feminine; in a feminine way | in a feminine manner
    childish: childish; childishly | like a child | in a childlike way
    old: elderly; like an old person | in an elderly way
    tired: tired; wearily | as if exhausted | tiredly
    active: energetic; energetically | actively | full of energy
    musical: theatrical; like in a musical | theatrically | with musical flair
    giant: giant; like a giant | heavily, like a giant
    chimpira: thuggish; like a thug | like a street punk | with a thug's swagger
""").items())}  # style label -> (adjective, manner phrases); "-": none (normal)


def bandai_captions(content: str, style: str, rng: np.random.Generator, n: int = 4) -> list[str]:
    """`n` distinct captions (fewer if the wording runs out) for one content and style label."""
    if content not in _CONTENT:
        raise ValueError(f"content must be one of {sorted(_CONTENT)}, got {content!r}")
    if style not in _STYLE:
        raise ValueError(f"style must be one of {sorted(_STYLE)}, got {style!r}")
    adj, manners = _STYLE[style]
    options = []
    for verb in _CONTENT[content]:
        for subj in _SUBJECTS:
            if adj is None:
                options += [f"{subj} {verb}", f"{subj} {verb} in a neutral way"]
                continue
            options += [f"{subj} {verb}, {adj}"] + [f"{subj} {verb} {m}" for m in manners]
            if subj.startswith("a "):
                article = "an" if adj[0] in "aeiou" else "a"
                options.append(f"{article} {adj} {subj[2:]} {verb}")
    picks = rng.permutation(len(options))[:n]
    return [options[i] for i in sorted(picks)]


def _label_names(path: Path) -> list[str]:
    names = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [ln[len(_PREFIX):] if ln.startswith(_PREFIX) else ln for ln in names]


def bandai_labels(bvh: Path, contents: list[str], styles: list[str], root=None) -> tuple[str, str]:
    """(content, style) of one clip from its JSON, cross-checked with its file name. Raises
    ReaderError (also for a label JSON that is a link out of `root`, default the clip's folder)."""
    stem = bvh.stem[len(_PREFIX):] if bvh.stem.startswith(_PREFIX) else bvh.stem
    parts = stem.split("_")
    from_name = (parts[0], parts[1]) if len(parts) == 3 else None
    js = bvh.with_suffix(".json")
    try:
        regular_file(js, bvh.parent if root is None else root)
        has_json = True
    except ReaderError as e:
        if e.kind != "missing":
            raise
        has_json = False
    if has_json:
        try:
            d = json.loads(read_bytes(js, Limits(max_file_bytes=1 << 20)).decode("utf-8"))
            c, s = int(d["content"]), int(d["style"])
            label = (contents[c], styles[s])
        except (ValueError, KeyError, TypeError, IndexError, RecursionError) as e:
            raise ReaderError(f"{js}: unreadable labels ({type(e).__name__}: {e})", "labels") from None
        if from_name is not None and from_name != label:
            raise ReaderError(f"{bvh}: file name says {from_name}, {js.name} says {label}", "labels")
    elif from_name is not None:
        label = from_name
    else:
        raise ReaderError(f"{bvh}: no label JSON and the name is not dataset-1_<content>_<style>_<nnn>", "labels")
    if label[0] not in _CONTENT or label[1] not in _STYLE:
        raise ReaderError(f"{bvh}: unknown labels {label} (known contents {sorted(_CONTENT)}, styles "
                          f"{sorted(_STYLE)})", "labels")
    return label


def read_bandai(root, cfg: MocapConfig = MocapConfig(), pattern: str = "*.bvh") -> Reading:
    """The bandai-namco-1 folder (data/*.bvh, data/*.json, cfg/*_label.txt) -> Reading of Motions.

    pattern: glob of the clips to read in data/ (e.g. "dataset-1_bow_*.bvh"); other files there
    are neither inputs nor unmatched. Labels: {'action': content, 'style': style, 'take': clip
    name, 'view': k}.
    Captions: `cfg.captions` per clip.
    """
    root = Path(root)
    data, labels_dir = root / "data", root / "cfg"
    for p in (data, labels_dir / "content_label.txt", labels_dir / "style_label.txt"):
        if not p.exists():
            raise ValueError(f"root must be the bandai-namco-1 folder (data/, cfg/content_label.txt, "
                             f"cfg/style_label.txt); missing {str(p)!r}")
    contents, styles = _label_names(labels_dir / "content_label.txt"), _label_names(labels_dir / "style_label.txt")
    if not pattern.endswith(".bvh"):
        raise ValueError(f"pattern must select .bvh files (end with '.bvh'), got {pattern!r}")
    files, bad = list_files(data, root=root, recursive=False)
    if pattern != "*.bvh":  # a subset: the files that belong to the selected clips only
        stems = {p.stem for p in data.glob(pattern)}
        files = [p for p in files if p.stem in stems]
        bad = [o for o in bad if Path(o.path).stem in stems]

    def produce(report):
        yield from bad
        bvhs = [p for p in files if p.suffix.lower() == ".bvh"]
        tasks = []
        for p in bvhs:
            try:
                content, style = bandai_labels(p, contents, styles, root)
            except ReaderError as e:
                yield Outcome.reject(p, str(e), e.kind)
                continue
            texts = bandai_captions(content, style, _rng(cfg.seed, p.stem), cfg.captions)
            tasks.append((str(p), str(root), p.stem, texts, {"action": content, "style": style}, cfg))
        yield from map_ordered(film_clip, tasks, cfg.workers, chunksize=1)
        used = set(bvhs) | {p.with_suffix(".json") for p in bvhs}
        report.unmatched.extend(str(p) for p in files if p not in used)

    return Reading("bandai", root, produce)
