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

The Bandai-Namco layout (`read_bandai`), for bandai-namco-1 and any collection laid out like it:

    cfg/content_label.txt   one content label a line, e.g. dataset-1_walk, dataset-1_walk-back
    cfg/style_label.txt     one style label a line, e.g. dataset-1_happy
    data/<name>.bvh         a clip, named <prefix><content>_<style>_<nnn>.bvh
    data/<name>.json        its labels {"content": i, "style": j}: line numbers (from 0) in the cfg files

The prefix (here 'dataset-1_') is the collection's own: the longest common start of all label
lines, up to its last '_', is taken away from the labels (labels may hold '-' but no '_'). A clip's
name is read from the right (<anything>_<content>_<style>_<digits>) and must agree with its JSON;
without a JSON the name alone gives the labels.

Captions (`label_captions`): from the content and style labels, in varied wording, e.g. "a person
waves the right hand goodbye, tired", "a timid person bows", "someone dashes forward like a giant";
several distinct captions per clip, seeded by (seed, clip). The wording comes from a vocabulary of
phrases per label: the built-in one (`BUILTIN`) covers bandai-namco-1 (the sides in its wording,
right hand for 'bye' and 'guide', left for 'respond', were read off the clips' wrist trajectories);
a user's vocabulary file (MocapConfig.vocabulary, `tender data import bandai ... --vocabulary FILE`)
adds labels or replaces built-in ones. Its format (`Vocabulary.parse`; `BUILTIN.to_text()` writes
the built-in one in it):

    # a comment; blank lines are ignored
    [contents]
    walk: walks forward | walks straight ahead       <label>: <verb phrase> | <verb phrase> ...
    stagger: staggers | lurches forward              (third person, after "a person")
    [styles]
    happy: happy; happily | in a happy mood          <label>: <adjective>; <manner> | <manner> ...
    normal: -;                                       '-': no adjective and no manner (a neutral style)
    sneaky: -; sneakily | on tiptoe                  '-' with manners: the manners only

Labels are written without the collection's prefix. A label that neither vocabulary knows gets a
plain caption built from the label itself ('-' and '_' read as spaces), e.g. "a person performs
the motion 'raise up both hands' in a 'sneaky' style", and a note in the build report; the clip is
stored all the same.

`read_bvh_folder` reads any folder of BVH files. Captions: the rows of a CSV (MocapConfig.captions_csv,
`tender data import bvh ... --captions FILE.csv`; a header with columns 'file' and 'caption', other
columns ignored, one caption a row, several rows per file allowed, 'file' the BVH's path relative to
the root, '.bvh' optional), else the lines of <clip>.txt beside the file, else a plain caption from
the file name ("a person performs the motion 'jump high'" for jump_high_02.bvh), with a note.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from tenderlib.synthetic import camera
from tenderlib.synthetic.detector import DetectorConfig, detect
from tenderlib.data.motion import Motion
from tenderlib.readers.bvh import CocoPose, MappingConfig, read_bvh, to_coco
from tenderlib.readers.files import Limits, list_files, read_bytes, regular_file, shown
from tenderlib.readers.holistic import read_captions
from tenderlib.readers.report import Outcome, Reading, ReaderError, map_ordered, unexpected
from tenderlib.data.skeleton import KEYPOINT_INDEX, REGIONS

logger = logging.getLogger(__name__)

BANDAI_SOURCE = "mocap-bandai"


# ---------------------------------------------------------------------------------------------
# Caption vocabulary

_SUBJECTS = ("a person", "someone", "the person", "a performer")


def _phrases(text: str) -> tuple[str, ...]:
    """'a | b | c' -> ('a', 'b', 'c') (empty: ())."""
    return tuple(p.strip() for p in text.split("|") if p.strip())


def _check_text(value, what: str, forbidden: str = "") -> str:
    if not (isinstance(value, str) and value.strip() and value == value.strip()):
        raise ValueError(f"{what} must be a non-empty string without surrounding spaces, got {value!r}")
    bad = [c for c in "\n\r" + forbidden if c in value]
    if bad:
        raise ValueError(f"{what} must not contain {bad[0]!r}, got {value!r}")
    return value


@dataclass(frozen=True)
class Vocabulary:
    """Caption phrases per label. contents: ((label, (verb phrase, ...)), ...), third person ("waves
    goodbye"); styles: ((label, adjective or None, (manner phrase, ...)), ...), e.g. ('tired',
    'tired', ('wearily', 'as if exhausted')); None and no manner: a neutral style. The text format
    (`parse`, `load`, `to_text`) is in the module docstring."""

    contents: tuple[tuple[str, tuple[str, ...]], ...] = ()
    styles: tuple[tuple[str, str | None, tuple[str, ...]], ...] = ()

    def __post_init__(self):
        try:
            contents = tuple((label, tuple(verbs)) for label, verbs in self.contents)
            styles = tuple((label, adj, tuple(manners)) for label, adj, manners in self.styles)
        except (TypeError, ValueError):
            raise ValueError("contents must be pairs (label, verb phrases) and styles triples (label, adjective "
                             "or None, manner phrases)") from None
        for what, labels in (("content", [c[0] for c in contents]), ("style", [s[0] for s in styles])):
            for label in labels:
                _check_text(label, f"{what} label", ":#[")
            twice = [label for label, k in Counter(labels).items() if k > 1]
            if twice:
                raise ValueError(f"{what} label {twice[0]!r} is given twice")
        for label, verbs in contents:
            if not verbs:
                raise ValueError(f"content {label!r} has no phrase")
            for v in verbs:
                _check_text(v, f"a phrase of content {label!r}", "|")
        for label, adj, manners in styles:
            if adj is not None:
                _check_text(adj, f"the adjective of style {label!r}", "|;")
                if adj == "-":
                    raise ValueError(f"the adjective of style {label!r} is '-': give None for no adjective")
            for m in manners:
                _check_text(m, f"a phrase of style {label!r}", "|")
        object.__setattr__(self, "contents", contents)
        object.__setattr__(self, "styles", styles)

    def content(self, label: str) -> tuple[str, ...] | None:
        """The verb phrases of a content label (None: unknown)."""
        return dict(self.contents).get(label)

    def style(self, label: str) -> tuple[str | None, tuple[str, ...]] | None:
        """(adjective or None, manner phrases) of a style label (None: unknown)."""
        return next(((adj, manners) for lab, adj, manners in self.styles if lab == label), None)

    def merged(self, other: Vocabulary) -> Vocabulary:
        """This vocabulary with `other`'s labels added; where both have a label, `other`'s phrases."""
        contents = dict(self.contents)
        contents.update(other.contents)
        styles = {label: (adj, manners) for label, adj, manners in self.styles}
        styles.update((label, (adj, manners)) for label, adj, manners in other.styles)
        return Vocabulary(tuple(contents.items()), tuple((label, *v) for label, v in styles.items()))

    def to_text(self) -> str:
        """The vocabulary in the file format (`parse` reads it back equal)."""
        lines = ["[contents]"] + [f"{label}: {' | '.join(verbs)}" for label, verbs in self.contents]
        lines += ["", "[styles]"] + [f"{label}: {adj or '-'};" + (f" {' | '.join(m)}" if m else "")
                                     for label, adj, m in self.styles]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str, name: str = "vocabulary") -> Vocabulary:
        """The text format -> Vocabulary. Raises ValueError naming `name` and the line."""
        rows: dict[str, dict] = {"contents": {}, "styles": {}}
        section = None
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = f"{name}, line {n}"
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip().lower()
                if section not in rows:
                    raise ValueError(f"{where}: unknown section {line!r} (the sections are [contents] and [styles])")
                continue
            if section is None:
                raise ValueError(f"{where}: {line!r} comes before a [contents] or [styles] section")
            label, colon, rest = line.partition(":")
            label = label.strip()
            if not (colon and label):
                raise ValueError(f"{where}: expected '<label>: <phrase> | <phrase> ...', got {line!r}")
            if label in rows[section]:
                raise ValueError(f"{where}: {section[:-1]} {label!r} is given twice")
            if section == "contents":
                verbs = _phrases(rest)
                if not verbs:
                    raise ValueError(f"{where}: content {label!r} has no phrase (expected "
                                     f"'{label}: <verb phrase> | <verb phrase> ...')")
                rows[section][label] = verbs
            else:
                adj, _, manners = rest.partition(";")
                rows[section][label] = (None if adj.strip() in ("-", "") else adj.strip(), _phrases(manners))
        try:
            return cls(tuple(rows["contents"].items()),
                       tuple((label, adj, m) for label, (adj, m) in rows["styles"].items()))
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None

    @classmethod
    def load(cls, path) -> Vocabulary:
        """A vocabulary file (UTF-8, at most 1 MiB) -> Vocabulary. Raises ValueError naming the file."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"vocabulary file {shown(path)!r}: no such file")
        data = read_bytes(path, Limits(max_file_bytes=1 << 20))
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ValueError(f"vocabulary file {shown(path)}: not valid UTF-8 (offset {e.start})") from None
        return cls.parse(text, f"vocabulary file {shown(path)}")


BUILTIN = Vocabulary.parse("""
[contents]
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

[styles]
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
""", "built-in vocabulary")  # bandai-namco-1's labels


# ---------------------------------------------------------------------------------------------
# Filming


@dataclass(frozen=True)
class MocapConfig:
    """How BVH clips are filmed into Motions."""

    source: str = BANDAI_SOURCE                  # Motion.source
    views: int = 3                               # virtual cameras (Motions) per clip
    seed: int = 0                                # cameras and captions are seeded by (seed, clip[, view])
    captions: int = 4                            # distinct captions per clip (bandai labels)
    vocabulary: str | os.PathLike | Vocabulary | None = None  # bandai: phrases on top of BUILTIN (a file or parsed)
    captions_csv: str | os.PathLike | None = None  # bvh folder: a CSV of captions (columns file, caption)
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
        for name, kinds in (("vocabulary", (str, os.PathLike, Vocabulary)), ("captions_csv", (str, os.PathLike))):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, kinds) or (isinstance(v, str) and not v.strip())):
                raise ValueError(f"{name} must be None or a path to a file, got {v!r}")

    def vocabulary_table(self) -> Vocabulary:
        """The built-in vocabulary with `vocabulary` (a file is read now) on top. Raises ValueError."""
        if self.vocabulary is None:
            return BUILTIN
        extra = self.vocabulary if isinstance(self.vocabulary, Vocabulary) else Vocabulary.load(self.vocabulary)
        return BUILTIN.merged(extra)


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
    labels, cfg); captions None: the lines of <clip>.txt beside the file (inside the root), or
    without one a plain caption from the file name (with a note)."""
    path, root, key, texts, labels, cfg = task
    try:
        notes = []
        if texts is None:
            txt = Path(path).with_suffix(".txt")
            try:
                texts, notes = read_captions(txt, root=root, limits=cfg.limits)
            except ReaderError as e:
                if e.kind != "caption-missing":
                    raise
                texts = [name_caption(key)]
                where = f"no {txt.name}" + (" and no row in the captions CSV" if cfg.captions_csv is not None else "")
                notes = [f"no caption ({where}): caption made from the file name: {texts[0]!r}"]
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


def _words(label: str) -> str:
    """'raise-up_both  hands' -> 'raise up both hands'."""
    return " ".join(w for w in re.split(r"[\s_\-]+", label) if w)


def name_caption(name: str) -> str:
    """A plain caption from a clip's file name: 'sub/jump_high_02' -> "a person performs the motion
    'jump high'" (a trailing number is left out); "a person moves" if the name has no word."""
    words = _words(PurePosixPath(name).name).split(" ")
    while len(words) > 1 and words[-1].isdigit():
        words.pop()
    return f"a person performs the motion '{' '.join(words)}'" if words != [""] else "a person moves"


def _csv_key(file: str) -> str:
    """A CSV 'file' cell -> clip key: 'sub\\clip.BVH', './sub/clip' -> 'sub/clip'."""
    key = PurePosixPath(file.strip().replace("\\", "/")).as_posix()
    return key[:-4] if key.lower().endswith(".bvh") else key


def read_caption_csv(path, limits: Limits = Limits()) -> tuple[dict[str, list[str]], dict[str, tuple[int, str]]]:
    """A captions CSV (a header with columns 'file' and 'caption'; one caption a row, several rows
    per file allowed; other columns ignored) -> ({clip key: captions}, {clip key: (line, file as
    written)}), the clip key being the file's path relative to the root without '.bvh'. Raises
    ValueError naming the file (and the line) for a CSV that cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"captions CSV {shown(path)!r}: no such file")
    data = read_bytes(path, limits)  # ReaderError (a ValueError) if too large or unreadable
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"captions CSV {shown(path)}: not valid UTF-8 (byte {data[e.start]:#04x} at offset "
                         f"{e.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    table: dict[str, list[str]] = {}
    rows: dict[str, tuple[int, str]] = {}
    line = 1  # where the row being read starts (a quoted caption may span lines)
    try:
        header = next(reader, None) or []
        cols = [c.strip().lower() for c in header]
        if "file" not in cols or "caption" not in cols:
            found = ", ".join(repr(c) for c in header) if any(c.strip() for c in header) else "an empty first line"
            raise ValueError(f"captions CSV {shown(path)}: needs a header row with the columns 'file' and 'caption' "
                             f"(one caption a row, several rows per file allowed), found {found}")
        fi, ci = cols.index("file"), cols.index("caption")
        line = reader.line_num + 1
        for row in reader:
            start, line = line, reader.line_num + 1
            if not any(c.strip() for c in row):
                continue
            file = row[fi].strip() if fi < len(row) else ""
            caption = " ".join(row[ci].split()) if ci < len(row) else ""
            if not file:
                raise ValueError(f"captions CSV {shown(path)}, line {start}: the 'file' column is empty")
            if not caption:
                continue
            key = _csv_key(file)
            rows.setdefault(key, (start, file))
            captions = table.setdefault(key, [])
            if caption not in captions:
                captions.append(caption)
    except csv.Error as e:
        raise ValueError(f"captions CSV {shown(path)}, line {line}: {e}") from None
    if not table:
        raise ValueError(f"captions CSV {shown(path)}: no row with a file and a caption")
    return table, rows


def read_bvh_folder(root, cfg: MocapConfig) -> Reading:
    """Every *.bvh under `root` -> Reading; clip key = relative path without '.bvh'. Captions: the
    rows of cfg.captions_csv (read now: ValueError if it cannot be used), else <clip>.txt beside the
    file, else one made from the file name (noted). CSV rows naming no BVH are listed as unmatched."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"root must be a folder of .bvh files, got {str(root)!r}")
    csv_path = None if cfg.captions_csv is None else Path(cfg.captions_csv)
    table, rows = read_caption_csv(csv_path, cfg.limits) if csv_path is not None else ({}, {})
    files, bad = list_files(root)

    def produce(report):
        yield from bad
        bvhs = [p for p in files if p.suffix.lower() == ".bvh"]
        keys = {p: p.relative_to(root).with_suffix("").as_posix() for p in bvhs}
        used = set(bvhs) | {p.with_suffix(".txt") for p in bvhs if keys[p] not in table}
        if csv_path is not None:  # the CSV itself may lie in the folder
            used |= {p for p in files if p.suffix.lower() == ".csv" and p.resolve() == csv_path.resolve()}
        tasks = [(str(p), str(root), keys[p], table.get(keys[p]), {}, cfg) for p in bvhs]
        yield from map_ordered(film_clip, tasks, cfg.workers, chunksize=1)
        report.unmatched.extend(str(p) for p in files if p not in used)
        found = set(keys.values())
        report.unmatched.extend(f"{csv_path} line {line}: {file!r} (no .bvh of that name read under the root)"
                                for key, (line, file) in rows.items() if key not in found)

    return Reading("bvh", root, produce)


# ---------------------------------------------------------------------------------------------
# The Bandai-Namco layout: labels, vocabulary and captions

def _options(verbs: tuple[str, ...], adj: str | None, manners: tuple[str, ...]) -> list[str]:
    """Every wording of one content (verbs) in one style (adjective, manners)."""
    options = []
    for verb in verbs:
        for subj in _SUBJECTS:
            if adj is None and not manners:  # a neutral style
                options += [f"{subj} {verb}", f"{subj} {verb} in a neutral way"]
                continue
            options += ([f"{subj} {verb}, {adj}"] if adj is not None else []) + [f"{subj} {verb} {m}" for m in manners]
            if adj is not None and subj.startswith("a "):
                article = "an" if adj[0] in "aeiou" else "a"
                options.append(f"{article} {adj} {subj[2:]} {verb}")
    return options


def label_captions(content: str, style: str, rng: np.random.Generator, n: int = 4,
                   vocabulary: Vocabulary | None = None) -> tuple[list[str], list[str]]:
    """`n` distinct captions (fewer if the wording runs out) for one content and style label, and
    the labels `vocabulary` (default BUILTIN) has no phrase for, e.g. ["content 'stagger'"]: those
    are worded plainly from the label ("performs the motion 'stagger'", "in a 'sneaky' style")."""
    vocab = BUILTIN if vocabulary is None else vocabulary
    missing = []
    verbs = vocab.content(content)
    if verbs is None:
        missing.append(f"content {content!r}")
        w = _words(content) or content
        verbs = (f"performs the motion '{w}'", f"does the motion '{w}'")
    style_phrases = vocab.style(style)
    if style_phrases is None:
        missing.append(f"style {style!r}")
        w = _words(style) or style
        style_phrases = (None, (f"in a '{w}' style", f"with a '{w}' style"))
    options = _options(verbs, *style_phrases)
    picks = rng.permutation(len(options))[:n]
    return [options[i] for i in sorted(picks)], missing


def bandai_captions(content: str, style: str, rng: np.random.Generator, n: int = 4,
                    vocabulary: Vocabulary | None = None) -> list[str]:
    """`n` distinct captions (fewer if the wording runs out) for a content and style label that
    `vocabulary` (default BUILTIN) knows; ValueError for another (label_captions words any)."""
    vocab = BUILTIN if vocabulary is None else vocabulary
    if vocab.content(content) is None:
        raise ValueError(f"content must be one of {sorted(c for c, _ in vocab.contents)}, got {content!r}")
    if vocab.style(style) is None:
        raise ValueError(f"style must be one of {sorted(s for s, _, _ in vocab.styles)}, got {style!r}")
    return label_captions(content, style, rng, n, vocab)[0]


def collection_prefix(lines: list[str]) -> str:
    """The prefix of a collection's label lines: their longest common start up to its last '_'
    (['dataset-1_walk', 'dataset-1_normal'] -> 'dataset-1_'; none: '')."""
    common = os.path.commonprefix(list(lines))
    return common[:common.rfind("_") + 1]


def _label_lines(path: Path) -> list[str]:
    try:
        text = read_bytes(path, Limits(max_file_bytes=1 << 20)).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{shown(path)}: not valid UTF-8 (offset {e.start})") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{shown(path)}: no label (expected one label a line)")
    return lines


def collection_labels(root) -> tuple[list[str], list[str], str]:
    """(content labels, style labels, prefix) of a collection in the Bandai-Namco layout, the
    prefix taken away from its cfg/content_label.txt and cfg/style_label.txt lines."""
    cfg = Path(root) / "cfg"
    contents, styles = _label_lines(cfg / "content_label.txt"), _label_lines(cfg / "style_label.txt")
    prefix = collection_prefix(contents + styles)
    labels = [ln[len(prefix):] for ln in contents], [ln[len(prefix):] for ln in styles]
    for what, names in zip(("content_label.txt", "style_label.txt"), labels):
        for name in names:
            if not name:
                raise ValueError(f"{shown(cfg / what)}: label {prefix!r} has no name after the collection's prefix")
            if "_" in name:
                raise ValueError(f"{shown(cfg / what)}: label {name!r} (after the prefix {prefix!r}) holds a '_', "
                                 f"which the clips' file names use as the separator")
    return labels[0], labels[1], prefix


def name_labels(stem: str) -> tuple[str, str] | None:
    """(content, style) from a clip name <anything>_<content>_<style>_<digits> read from the right
    ('dataset-1_walk-back_happy_001' -> ('walk-back', 'happy')); None if it is not such a name."""
    parts = stem.rsplit("_", 3)
    if len(parts) >= 3 and parts[-1].isdigit() and parts[-2] and parts[-3]:
        return parts[-3], parts[-2]
    return None


def bandai_labels(bvh: Path, contents: list[str], styles: list[str], root=None) -> tuple[str, str]:
    """(content, style) of one clip from its JSON, cross-checked with its file name. Raises
    ReaderError (also for a label JSON that is a link out of `root`, default the clip's folder)."""
    from_name = name_labels(bvh.stem)
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
            if c < 0 or s < 0:
                raise IndexError(f"negative label index in {d}")
            label = (contents[c], styles[s])
        except (ValueError, KeyError, TypeError, IndexError, RecursionError) as e:
            raise ReaderError(f"{js}: unreadable labels ({type(e).__name__}: {e})", "labels") from None
        if from_name is not None and from_name != label:
            raise ReaderError(f"{bvh}: file name says {from_name}, {js.name} says {label}", "labels")
    elif from_name is not None:
        label = from_name
    else:
        raise ReaderError(f"{bvh}: no label JSON and the name is not <prefix>_<content>_<style>_<nnn>", "labels")
    return label


def read_bandai(root, cfg: MocapConfig = MocapConfig(), pattern: str = "*.bvh") -> Reading:
    """A collection in the Bandai-Namco layout (data/*.bvh, data/*.json, cfg/*_label.txt; module
    docstring), e.g. bandai-namco-1 -> Reading of Motions.

    pattern: glob of the clips to read in data/ (e.g. "dataset-1_bow_*.bvh"); other files there
    are neither inputs nor unmatched. Labels: {'action': content, 'style': style, 'take': clip
    name, 'view': k}.
    Captions: `cfg.captions` per clip, worded from cfg.vocabulary_table() (the vocabulary file is
    read now: ValueError if it cannot be used); a label it lacks is worded plainly and noted.
    """
    root = Path(root)
    data, labels_dir = root / "data", root / "cfg"
    for p in (data, labels_dir / "content_label.txt", labels_dir / "style_label.txt"):
        if not p.exists():
            raise ValueError(f"root must be a folder in the Bandai-Namco layout, like bandai-namco-1 (data/, "
                             f"cfg/content_label.txt, cfg/style_label.txt); missing {str(p)!r}")
    contents, styles, _ = collection_labels(root)
    vocab = cfg.vocabulary_table()
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
        tasks, notes, unworded = [], {}, Counter()
        for p in bvhs:
            try:
                content, style = bandai_labels(p, contents, styles, root)
            except ReaderError as e:
                yield Outcome.reject(p, str(e), e.kind)
                continue
            texts, missing = label_captions(content, style, _rng(cfg.seed, p.stem), cfg.captions, vocab)
            notes[str(p)] = [f"no caption phrase for {', '.join(missing)}: plain wording from the label "
                             f"(a vocabulary file can give one)"] if missing else []
            unworded.update(missing)
            unlisted = [f"{what} {x!r}" for what, x, known in (("content", content, contents), ("style", style, styles))
                        if x not in known]
            if unlisted:
                notes[str(p)].append(f"labels from the file name, not in cfg/: {', '.join(unlisted)}")
            tasks.append((str(p), str(root), p.stem, texts, {"action": content, "style": style}, cfg))
        if unworded:
            logger.warning("%s: no caption phrase for %s (plain wording used; see tenderlib.readers.mocap for the "
                           "vocabulary file)", root, ", ".join(f"{m} ({k} clips)" for m, k in sorted(unworded.items())))
        for outcome in map_ordered(film_clip, tasks, cfg.workers, chunksize=1):
            if outcome.rejected is None:
                outcome.notes[:0] = notes.get(outcome.path, [])
            yield outcome
        used = set(bvhs) | {p.with_suffix(".json") for p in bvhs}
        report.unmatched.extend(str(p) for p in files if p not in used)

    return Reading("bandai", root, produce)
