"""Pose maps for pose-guided video models (ControlNet-openpose, AnimateAnyone, UniAnimate, MimicMotion).

These models are conditioned on one picture per frame: a black canvas at the generation
resolution with DWPose's OpenPose-style skeleton, the map ControlNet v1.1's openpose annotator
and DWPose draw (`annotator/dwpose/util.py`):

- body: OpenPose-18 from COCO (`skeleton.coco_to_openpose18`; the neck is the mid-shoulder point,
  visible only if both shoulders are); its 17 limbs are filled ellipses of half-width 4 px in
  their listed colour x 0.6 (`skeleton.OPENPOSE18_LIMBS`, `OPENPOSE18_COLORS`), then the joints
  are filled circles of radius 4 px in full colour;
- hands (left, then right): the 20 edges of each hand as 2-px lines, edge i in the HSV rainbow
  colour of hue i / 20, then its 21 points as filled circles of radius 4 px in (0, 0, 255);
- face: the 68 landmarks as white filled circles of radius 3 px;
- feet: not drawn (DWPose extracts them but never draws them).

A keypoint is drawn when its confidence is > `threshold` (0.3 in DWPose) and its coordinates are
finite; a limb or edge only when both its ends are. Sizes are DWPose's literal pixels at any
canvas size (they do not grow with the canvas and dots never shrink), colours are RGB, and the
keypoints keep sub-pixel positions (DWPose truncates them to whole pixels). The drawing is
`tenderlib.viz`'s OpenPose style (one code path) with literal sizes and without the feet.
MimicMotion conditions on a variant of this map (colours scaled by confidence, red and blue
swapped, thinner strokes), which is not drawn here.

    frames = pose_maps(motion, PoseMapConfig(width=576, height=1024))   # (T, H, W, 3) uint8 RGB
    write_mp4(frames, "wave_pose.mp4", motion.fps)                      # H.264, yuv420p
    write_png_sequence(frames, "wave_pose/")                            # frame_00000.png, ...
    frames, fps = read_mp4("wave_pose.mp4")

Placement: "fit" scales the person's bounding box over the whole clip (its visible keypoints;
one transform for every frame, so the motion across the canvas is kept) uniformly into the
canvas, centred, with `margin` x the canvas size left on each side along the limiting axis;
"image" scales the source frame (`Motion.image_size`) uniformly into the canvas, centred, with
black bars where the aspect ratios differ.

The videos are H.264 (libx264) in yuv420p at the clip's frame rate, encoded by the ffmpeg binary
that the imageio-ffmpeg wheel bundles (no system ffmpeg needed). yuv420p stores colour at half
resolution, so width and height must be even: `PoseMapConfig` only accepts even sizes and
`write_mp4` refuses frames of an odd size. Frames are never resized by the encoder.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from tenderlib import viz
from tenderlib.data import skeleton as sk

logger = logging.getLogger(__name__)

PLACEMENTS = ("fit", "image")
_FITS = {"fit": "bbox", "image": "image"}  # placement -> viz's fit
MIN_SIDE = 8
MAX_SIDE = 8192       # pixels; pose-guided models work at 512-1024 (MimicMotion draws at 2160)
CRF = 18              # libx264 constant rate factor: visually lossless for these flat colours
FRAME_NAME = "frame_{:05d}.png"


def _check_side(name: str, value) -> None:
    if (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value % 2
            or not MIN_SIDE <= value <= MAX_SIDE):
        raise ValueError(f"{name} must be an even int in [{MIN_SIDE}, {MAX_SIDE}] pixels (H.264 in yuv420p "
                         f"needs even sizes), got {value!r}")


@dataclass(frozen=True)
class PoseMapConfig:
    """What a pose map looks like; the defaults are a 512 x 768 portrait canvas.

    width, height: canvas pixels, even ints in [8, 8192] (even: H.264 in yuv420p needs it).
    threshold:     a keypoint is drawn when its confidence is > threshold (DWPose: 0.3).
    placement:     "fit" (the person's box over the whole clip fills the canvas, less `margin`)
                   or "image" (the source frame, Motion.image_size, letterboxed into the canvas).
    margin:        "fit": fraction of the canvas left free on each side of the limiting axis, in [0, 0.5).
    hands, face:   draw the hands (rainbow edges, blue points) and the face (white dots).
    """

    width: int = 512
    height: int = 768
    threshold: float = 0.3
    placement: str = "fit"
    margin: float = 0.1
    hands: bool = True
    face: bool = True

    def __post_init__(self):
        _check_side("width", self.width)
        _check_side("height", self.height)
        if (isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float, np.number))
                or not (math.isfinite(self.threshold) and self.threshold >= 0)):
            raise ValueError(f"threshold must be a finite number >= 0, got {self.threshold!r}")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {self.placement!r}")
        if (isinstance(self.margin, bool) or not isinstance(self.margin, (int, float, np.number))
                or not 0 <= self.margin < 0.5):
            raise ValueError(f"margin must be a number in [0, 0.5), got {self.margin!r}")
        for name in ("hands", "face"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.width), int(self.height)


# ---- Drawing -------------------------------------------------------------------------------

def iter_pose_maps(motion_or_arrays, cfg: PoseMapConfig = PoseMapConfig(), image_size=None) -> Iterator[np.ndarray]:
    """`pose_maps` one frame at a time: yields (H, W, 3) uint8 RGB arrays (a long clip at video
    size need not be held in memory)."""
    if not isinstance(cfg, PoseMapConfig):
        raise ValueError(f"cfg must be a PoseMapConfig, got {type(cfg).__name__}")
    clip = viz.as_clip(motion_or_arrays, image_size)
    if cfg.placement == "image" and clip.image_size is None:
        raise ValueError("placement='image' needs the source image size: pass a Motion (it carries image_size) "
                         "or image_size=(width, height) with arrays")
    drawn = np.ones(sk.NUM_KEYPOINTS, dtype=bool)  # (133,)
    for region, wanted in (("left_hand", cfg.hands), ("right_hand", cfg.hands), ("face", cfg.face)):
        drawn[sk.REGIONS[region]] = wanted
    clip = dataclasses.replace(clip, confidence=np.where(drawn, clip.confidence, 0.0))
    yield from viz.openpose_map_frames(clip, cfg.size, _FITS[cfg.placement], cfg.threshold, cfg.margin)


def pose_maps(motion_or_arrays, cfg: PoseMapConfig = PoseMapConfig(), image_size=None) -> np.ndarray:
    """DWPose/ControlNet pose maps of a clip: (T, H, W, 3) uint8 RGB, H x W = cfg.height x cfg.width.

    motion_or_arrays: a Motion, or (keypoints (T, 133, 2) source pixels, confidence (T, 133) | None),
        or keypoints alone (all visible). image_size (W, H): the source frame of arrays, needed
        for placement="image".
    """
    return np.stack(list(iter_pose_maps(motion_or_arrays, cfg, image_size)))


# ---- Files ---------------------------------------------------------------------------------

def _make_folder(folder: Path, target: Path) -> None:
    """Create `folder` (and its parents) for writing `target`; a clear error naming `target` if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        raise ValueError(f"cannot write {str(target)!r}: {str(blocker)!r} is a file, not a folder") from None
    except PermissionError:
        raise PermissionError(f"cannot write {str(target)!r}: no permission to create the folder "
                              f"{str(folder)!r}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {str(target)!r}: no permission to write in {str(folder)!r}")


def writable_file(path) -> Path:
    """`path` as a Path once it can be written (its folder is made if missing); otherwise a
    ValueError or PermissionError naming it. Nothing is written to `path` itself."""
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise ValueError(f"cannot write {str(path)!r}: the path must end in a file name")
    if path.is_dir():
        raise ValueError(f"cannot write {str(path)!r}: it is a folder")
    _make_folder(path.parent, path)
    if path.exists() and not os.access(path, os.W_OK):
        raise PermissionError(f"cannot write {str(path)!r}: no permission to replace it")
    return path


def _frames(frames) -> Iterator[np.ndarray]:
    """(T, H, W, 3) uint8 or an iterable of (H, W, 3) uint8 -> frames, checked; at least one, one size."""
    shape = None
    for t, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frames must be uint8 RGB images (H, W, 3), got frame {t} of dtype {frame.dtype} "
                             f"and shape {frame.shape}")
        if shape is not None and frame.shape != shape:
            raise ValueError(f"frames must all have one size: frame 0 is {shape}, frame {t} is {frame.shape}")
        shape = frame.shape
        yield np.ascontiguousarray(frame)
    if shape is None:
        raise ValueError("frames is empty: nothing to write")


def write_png_sequence(frames, folder) -> list[Path]:
    """Write frames ((T, H, W, 3) uint8 RGB, or an iterable of (H, W, 3)) as folder/frame_00000.png,
    frame_00001.png, ...; returns the paths. The folder is made if missing."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"cannot write frames into {str(folder)!r}: it is a file, not a folder")
    _make_folder(folder, folder)
    paths = []
    for t, frame in enumerate(_frames(frames)):
        paths.append(folder / FRAME_NAME.format(t))
        Image.fromarray(frame).save(paths[-1], format="PNG")
    stale = sorted(set(folder.glob("frame_*.png")) - set(paths))
    if stale:
        logger.warning("%s also holds %d frame_*.png file(s) from before (e.g. %s)", folder, len(stale), stale[0].name)
    logger.info("wrote %d frames to %s", len(paths), folder)
    return paths


def write_mp4(frames, path, fps: float) -> Path:
    """Encode frames ((T, H, W, 3) uint8 RGB, or an iterable of (H, W, 3)) as an H.264 (libx264,
    yuv420p, CRF 18) MP4 at `fps` frames per second; returns the path.

    Width and height must be even (yuv420p); frames are never resized. The path is checked (its
    folder made) before anything is encoded; the video is encoded under a temporary name beside
    it and moved into place at the end, so a failed encoding leaves no partial file.
    """
    import imageio_ffmpeg

    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) or not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a finite number > 0, got {fps!r}")
    path = writable_file(path)
    frames = _frames(frames)
    first = next(frames)
    h, w = first.shape[:2]
    if w % 2 or h % 2:
        raise ValueError(f"frames must have an even width and height for H.264 in yuv420p, got {w} x {h}")
    tmp = path.with_name(f".{path.stem}.partial.mp4")
    writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=float(fps), codec="libx264", pix_fmt_in="rgb24",
                                         pix_fmt_out="yuv420p", quality=None, macro_block_size=1,
                                         ffmpeg_log_level="error", output_params=["-crf", str(CRF), "-f", "mp4"])
    n = 0
    try:
        writer.send(None)  # start ffmpeg
        for frame in itertools.chain([first], frames):
            writer.send(frame)
            n += 1
        writer.close()  # waits for ffmpeg to finish the file
        os.replace(tmp, path)
    except BaseException:
        try:
            writer.close()
        finally:
            tmp.unlink(missing_ok=True)
        raise
    logger.info("wrote %s (%d frames, %d x %d, %g fps)", path, n, w, h, fps)
    return path


def read_mp4(path) -> tuple[np.ndarray, float]:
    """A video's frames (T, H, W, 3) uint8 RGB and its frame rate (for tests and notebooks)."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such video file: {str(path)!r}")
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    frames = [np.frombuffer(f, dtype=np.uint8).reshape(h, w, 3) for f in reader]
    if not frames:
        raise ValueError(f"{str(path)!r} holds no video frame")
    return np.stack(frames), float(meta["fps"])
