"""RTMPose / MMPose JSON predictions on one's own videos -> Motions (captions from a sidecar .txt).

What mmpose 1.x writes for a video, and what this reader accepts (liberally):

- `MMPoseInferencer(...)(video, pred_out_dir=...)` and `demo/inferencer_demo.py --pred-out-dir`:
  one <video>.json holding a list of frames
      [{"frame_id": 0, "instances": [{"keypoints": [[x, y], ...], "keypoint_scores": [...],
                                      "bbox": [[x1, y1, x2, y2]], "bbox_score": s}, ...]}, ...]
- `demo/topdown_demo_with_mmdet.py --save-predictions` (and the body/whole-body demos): the same
  frames wrapped as {"meta_info": {...dataset meta...}, "instance_info": [frames]};
- a frame dict without "frame_id" (frames in order), an instance with "track_id" (pose tracking),
  keypoints with a third score channel instead of "keypoint_scores", a bbox written flat
  [x1, y1, x2, y2] or nested [[...]] (mmpose's `split_instances` nests it), and a single-image
  prediction {"instances": [...]} (a one-frame clip).

Several people per frame: the main person is kept as in tenderlib.readers.holistic (track ids,
else IoU linking; the track with the most score x size wins). Keypoint counts, partial layouts
(face 68, hands 42/21), NaN handling and caption rules are the same as for the release pkl.

Captions: <video>.txt beside the JSON (or under `captions_dir`, mirroring the folder layout), one
caption per non-empty line; without one the video is rejected with its reason. mmpose's JSON
carries no frame rate or image size: they come from the config (default 30 fps; the image size
is estimated from the keypoints unless `image_size` is set).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from tenderlib.readers.files import Limits, list_files, read_bytes
from tenderlib.readers.holistic import HolisticConfig, read_captions, to_motion, to_whole_body
from tenderlib.readers.report import Outcome, Reading, ReaderError, map_ordered, unexpected

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MMPoseConfig:
    """How mmpose prediction files become Motions."""

    source: str = "rtmpose"                      # Motion.source of every clip read
    captions_dir: str | None = None              # None: <video>.txt beside <video>.json
    fps: float = 30.0                            # mmpose's JSON has no frame rate
    image_size: tuple[int, int] | None = None    # (width, height); None = keypoint extent (labelled 'estimated')
    single_hand: str = "right"                   # side of 21-point hand-only predictions
    nonfinite: str = "mask"                      # NaN/inf keypoints: 'mask' | 'reject' (see holistic)
    caption_errors: str = "reject"               # non-UTF-8 captions: 'reject' | 'replace'
    iou_link: float = 0.3                        # several people: IoU linking a box to its track
    workers: int = 1                             # processes reading files (order is kept)
    limits: Limits = Limits()                    # what one file may cost (bytes, frames, people)

    def __post_init__(self):
        if not (isinstance(self.source, str) and self.source.strip()):
            raise ValueError(f"source must be a non-empty string, got {self.source!r}")
        self.layout()  # validates the shared fields

    def layout(self) -> HolisticConfig:
        return HolisticConfig(fps=self.fps, image_size=self.image_size, single_hand=self.single_hand,
                              nonfinite=self.nonfinite, caption_errors=self.caption_errors,
                              iou_link=self.iou_link, workers=self.workers, limits=self.limits)


def load_predictions(path, limits: Limits = Limits()) -> object:
    """Parse one prediction file into the object `to_whole_body` reads. Raises ReaderError."""
    path = Path(path)
    try:
        obj = json.loads(read_bytes(path, limits))
    except json.JSONDecodeError as e:
        raise ReaderError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})",
                          "corrupt-json") from None
    except UnicodeDecodeError as e:
        raise ReaderError(f"{path}: not UTF-8 JSON ({e.reason} at offset {e.start})", "corrupt-json") from None
    except RecursionError:
        raise ReaderError(f"{path}: not readable JSON: nested too deep", "corrupt-json") from None
    if isinstance(obj, dict) and "instance_info" not in obj and "instances" in obj:
        obj = [obj]  # a single image's prediction: one frame
    if isinstance(obj, dict) and "instance_info" in obj:
        meta = obj.get("meta_info") or {}
        if not isinstance(meta, dict):
            raise ReaderError(f"{path}: meta_info must be an object, got {type(meta).__name__}", "layout")
        obj = {"instance_info": obj["instance_info"]}
    if isinstance(obj, list) and not obj:
        raise ReaderError(f"{path}: empty sequence (no frames)", "empty")
    return obj


def read_prediction_file(task: tuple[str, str, str, str, MMPoseConfig]) -> Outcome:
    """One JSON (+ its caption file) -> Outcome. task = (json path, caption path, the folder the
    caption must lie in, clip_id, cfg)."""
    path, txt, caption_root, clip_id, cfg = task
    layout = cfg.layout()
    try:
        body = to_whole_body(load_predictions(path, cfg.limits), layout, path)
        texts, notes = read_captions(Path(txt), cfg.caption_errors, caption_root, cfg.limits)
        motion = to_motion(body, texts, cfg.source, clip_id, cfg.fps, cfg.image_size)
        return Outcome(path, [motion], notes=notes + body.notes)
    except ReaderError as e:
        return Outcome.reject(path, str(e) if path in str(e) else f"{path}: {e}", e.kind)
    except Exception as e:  # anything else this file provokes rejects the file, never the whole build
        return unexpected(path, e)


def read_mmpose(root, cfg: MMPoseConfig = MMPoseConfig()) -> Reading:
    """Every *.json under `root` (a folder, searched recursively, or one file) -> Reading of Motions.

    clip_id is '<source>/<path of the JSON under root, without suffix>'. Other files under root
    that no JSON uses (captions without predictions, anything else) are listed in report.unmatched.
    """
    root = Path(root)
    if not root.exists():
        raise ValueError(f"root must be a folder of mmpose .json predictions or one such file; "
                         f"{str(root)!r} does not exist")
    base = root.parent if root.is_file() else root
    files, bad = ([root], []) if root.is_file() else list_files(root)
    caption_root = Path(cfg.captions_dir) if cfg.captions_dir is not None else base
    if cfg.captions_dir is not None and not caption_root.is_dir():
        raise ValueError(f"captions_dir must be an existing folder, got {cfg.captions_dir!r}")

    def produce(report):
        yield from bad
        tasks, used = [], set()
        for p in files:
            if p.suffix.lower() != ".json":
                continue
            rel = p.relative_to(base).with_suffix("")
            txt = caption_root / rel.with_suffix(".txt")
            used.update((p, txt))
            tasks.append((str(p), str(txt), str(caption_root), f"{cfg.source}/{rel.as_posix()}", cfg))
        yield from map_ordered(read_prediction_file, tasks, cfg.workers)
        if root.is_dir():
            report.unmatched.extend(str(p) for p in files if p not in used)

    return Reading("mmpose-json", root, produce)
