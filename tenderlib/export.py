"""A generated motion as files: what `tender generate`, `tender render` and notebook 03 write.

    write_outputs(generation, i, "wave")   wave.json (RTMPose/MMPose video layout) + wave.txt (its
                                           caption), wave.npz (keypoints, confidence, caption, fps,
                                           image_size) and wave.gif; with pose=PoseMapConfig() also
                                           wave_pose.mp4
    mmpose_frames(keypoints, confidence)   the mmpose 1.x frame list (tenderlib.readers.mmpose_json
                                           reads it back)
    read_motion("wave.npz" | "wave.json")  a file written above back as a Motion
    write_pose_video(motion, "wave.mp4")   DWPose/ControlNet pose maps as an H.264 MP4 (and PNGs),
                                           the input of pose-guided video models (tenderlib.posemap)
    motionbert_input(motion)               MotionBERT's 2D input: H36M-17 (x, y, confidence) in
                                           [-1, 1], cut into windows of at most 243 frames
    write_motionbert(motion, "wave.npz")   those windows + the crop box, as an .npz

A motion with a non-finite value is refused before anything is written (strict JSON has no NaN).

MotionBERT (2D -> 3D lifting) takes (N, T <= 243, 17, 3) float32 arrays: Human3.6M-17 joints
(`skeleton.H36M_NAMES`) with channels x, y, confidence. The joints come from COCO's body as
MotionBERT's `coco2h36m` makes them (`skeleton.coco_to_h36m`): pelvis = mid-hips, thorax =
mid-shoulders, spine = mid(pelvis, thorax), head = mid-eyes (a proxy: COCO has no head top), the
others copied; a made joint's confidence is the mean of its sources' (0 where a source is 0).
The normalisation is that of its in-the-wild inference (`crop_scale` with scale 1): the box of
every joint with confidence > 0 over the whole clip, made a square of side max(w, h) x scale
centred on the box, maps to [-1, 1], and then the whole array, confidence included, is clipped
to [-1, 1] (an RTMPose score above 1 becomes 1). A clip with fewer than 4 such points (or a box
of size 0) becomes all zeros. Long clips are cut as its `infer_wild.py` cuts them: consecutive
windows of `window` frames, the last one shorter; each window is one input, fed as [1, t, 17, 3].
Pixels come back as x_px = x * side / 2 + centre_x (and the same for y) where x was not clipped.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tenderlib import posemap
from tenderlib.data import normalize
from tenderlib.data import skeleton as sk
from tenderlib.data.motion import Motion
from tenderlib.posemap import PoseMapConfig

if TYPE_CHECKING:  # pipeline pulls in torch; `tender render` does not need it
    from tenderlib.models.pipeline import Generation

logger = logging.getLogger(__name__)

MOTIONBERT_MAX_WINDOW = 243  # frames: MotionBERT's clip length (maxlen / clip_len in its configs)
POSE_SUFFIX = "_pose.mp4"    # write_outputs: <stem>_pose.mp4


def mmpose_frames(keypoints: np.ndarray, confidence: np.ndarray) -> list[dict]:
    """One motion (T, K, 2) + (T, K) as mmpose 1.x video predictions: a list of frames, each with one
    instance {"keypoints", "keypoint_scores", "bbox" [[x1, y1, x2, y2]], "bbox_score"}
    (tenderlib.readers.mmpose_json reads it back)."""
    frames = []
    for t in range(keypoints.shape[0]):
        kp, sc = keypoints[t].astype(float), confidence[t].astype(float)
        lo, hi = kp.min(0), kp.max(0)
        frames.append({"frame_id": t, "instances": [{
            "keypoints": [[round(x, 3), round(y, 3)] for x, y in kp.tolist()],
            "keypoint_scores": [round(s, 4) for s in sc.tolist()],
            "bbox": [[round(float(lo[0]), 3), round(float(lo[1]), 3), round(float(hi[0]), 3), round(float(hi[1]), 3)]],
            "bbox_score": 1.0}]})
    return frames


def write_outputs(gen: Generation, index: int, stem, gif_size=(256, 256),
                  pose: PoseMapConfig | None = None) -> list[Path]:
    """Motion `index` of `gen` as <stem>.json (mmpose layout) + <stem>.txt (its caption, which the
    mmpose reader pairs with the JSON), <stem>.npz (keypoints, confidence, caption, fps, image_size)
    and <stem>.gif (the motion with its right hand, face and left hand enlarged underneath), and with
    `pose` <stem>_pose.mp4 (`write_pose_video`). Returns the paths written."""
    from tenderlib import viz

    stem = Path(stem)
    m = gen.motion(index)
    if not (np.isfinite(m.keypoints).all() and np.isfinite(m.confidence).all()):
        raise ValueError(f"motion {index} ({m.texts[0]!r}) holds non-finite values (NaN or inf): nothing written "
                         f"to {stem}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".json"), stem.with_suffix(".txt"), stem.with_suffix(".npz"), stem.with_suffix(".gif")]
    video = None if pose is None else posemap.writable_file(stem.with_name(stem.name + POSE_SUFFIX))
    paths[0].write_text(json.dumps(mmpose_frames(m.keypoints, m.confidence), allow_nan=False) + "\n")
    paths[1].write_text(m.texts[0] + "\n")
    np.savez(paths[2], keypoints=m.keypoints, confidence=m.confidence, caption=np.array(m.texts[0]),
             fps=np.array(m.fps), image_size=np.array(m.image_size))
    viz.animate_grid([m], [m.texts[0]], cols=1, path=paths[3], size=gif_size, closeups=True)
    if video is not None:
        paths += write_pose_video(m, video, pose)
    return paths


def read_motion(path, fps: float | None = None, image_size=None) -> Motion:
    """A motion file as `tender generate` writes it, back as a validated Motion.

    .npz: keypoints (T, 133, 2), confidence (T, 133), and optionally caption, fps, image_size.
    .json: RTMPose/MMPose predictions (any layout tenderlib.readers.mmpose_json accepts), with its
        caption from the .txt beside it if there is one (else the file name); the JSON holds no
        frame rate (default 30 fps) nor image size (default: estimated from the keypoints).
    fps, image_size (W, H): replace what the file says.
    """
    from tenderlib.readers import mmpose_json
    from tenderlib.readers.holistic import read_captions, to_motion, to_whole_body

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such motion file: {str(path)!r}")
    size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
    if path.suffix.lower() == ".json":
        cfg = mmpose_json.MMPoseConfig(fps=30.0 if fps is None else float(fps), image_size=size)
        body = to_whole_body(mmpose_json.load_predictions(path, cfg.limits), cfg.layout(), str(path))
        txt = path.with_suffix(".txt")
        texts = read_captions(txt, cfg.caption_errors, limits=cfg.limits)[0] if txt.is_file() else []
        return to_motion(body, texts or [path.stem], "tender", path.stem, cfg.fps, size)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"{str(path)!r}: a motion file must be .npz or .json (as `tender generate` writes them)")
    try:
        with np.load(path, allow_pickle=False) as z:
            fields = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"cannot read {str(path)!r} as an .npz archive: {e}") from None
    missing = [k for k in ("keypoints", "confidence") if k not in fields]
    if missing:
        raise ValueError(f"{str(path)!r} lacks {' and '.join(missing)} (a motion .npz holds keypoints (T, 133, 2) "
                         f"and confidence (T, 133))")
    try:
        caption = str(fields["caption"]) if "caption" in fields else path.stem
        fps = float(fields.get("fps", 30.0)) if fps is None else float(fps)
        if size is None and "image_size" in fields:
            w, h = (int(v) for v in fields["image_size"])
            size = (w, h)
        kp = np.asarray(fields["keypoints"], dtype=np.float32)
        conf = np.asarray(fields["confidence"], dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{str(path)!r}: fields of the wrong kind (fps a number, image_size two ints, keypoints and "
                         f"confidence numbers): {e}") from None
    if size is None and kp.ndim == 3 and kp.size:  # the frame around the keypoints
        size = tuple(int(v) for v in np.ceil(np.nanmax(kp.reshape(-1, 2), 0)).clip(1))
    return Motion(kp, conf, [caption or path.stem], "tender", fps, size, path.stem).validate()


def write_pose_video(motion: Motion, path, cfg: PoseMapConfig = PoseMapConfig(), frames_dir=None) -> list[Path]:
    """`motion` as DWPose/ControlNet pose maps (tenderlib.posemap): an H.264 MP4 at `path` at the
    motion's frame rate and, with `frames_dir`, one PNG a frame in it. Returns the paths written.
    Both outputs are checked before anything is drawn; frames are drawn as they are written."""
    path = posemap.writable_file(path)
    written = []
    if frames_dir is not None:
        written += posemap.write_png_sequence(posemap.iter_pose_maps(motion, cfg), frames_dir)
    written.append(posemap.write_mp4(posemap.iter_pose_maps(motion, cfg), path, motion.fps))
    return written


# ---- MotionBERT ----------------------------------------------------------------------------

def _check_window(window) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or not 1 <= window <= MOTIONBERT_MAX_WINDOW:
        raise ValueError(f"window must be an int in [1, {MOTIONBERT_MAX_WINDOW}] frames (MotionBERT takes at most "
                         f"{MOTIONBERT_MAX_WINDOW}), got {window!r}")
    return int(window)


def _motionbert(motion_or_arrays, scale, window) -> tuple[list[np.ndarray], np.ndarray, float]:
    """(windows [(t, 17, 3) float32], crop centre (2,) pixels, crop side pixels; 0 if all zeros)."""
    from tenderlib import viz

    window = _check_window(window)
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) or not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale!r}")
    clip = viz.as_clip(motion_or_arrays)
    nb = sk.REGIONS["body"].stop
    kp, conf = clip.keypoints[:, :nb], clip.confidence[:, :nb]               # (T, 17, 2), (T, 17)
    ok = np.isfinite(kp).all(-1) & np.isfinite(conf)                         # a non-finite joint is missing
    xyc = np.concatenate([np.where(ok[..., None], kp, 0.0), np.where(ok, conf, 0.0)[..., None]], -1)
    h36m = sk.coco_to_h36m(xyc)                                              # (T, 17, 3)
    centre, side = normalize.crop_box(h36m[..., :2], h36m[..., 2], scale)   # (2,), ()
    side = float(side)
    if side > 0:
        out = np.concatenate([normalize.crop_scale(h36m[..., :2], h36m[..., 2], scale),
                              np.clip(h36m[..., 2:], -1.0, 1.0)], -1)       # confidence clipped too
    else:
        logger.warning("MotionBERT input: fewer than %d joints with confidence > 0 in the clip, or all in one "
                       "place: all zeros", normalize.MIN_CROP_POINTS)
        out = np.zeros_like(h36m)
    out = out.astype(np.float32)
    return [out[s:s + window] for s in range(0, len(out), window)], centre, side


def motionbert_input(motion_or_arrays, scale: float = 1.0, window: int = MOTIONBERT_MAX_WINDOW) -> list[np.ndarray]:
    """MotionBERT's in-the-wild 2D input of a clip (module docstring): consecutive windows, each a
    (t, 17, 3) float32 array of H36M-17 joints (x, y, confidence) in [-1, 1], t = `window` frames
    but the last (T - (N - 1) x window). Feed window w as w[None] ([1, t, 17, 3]); when all have
    the same length np.stack(windows) is the (N, t, 17, 3) batch.

    motion_or_arrays: a Motion, or (keypoints (T, 133, 2) pixels, confidence (T, 133) | None).
    scale: the square's side over the box's longer side (MotionBERT: 1; its training draws 1-1.3).
    window: frames per window, 1 to 243.
    """
    return _motionbert(motion_or_arrays, scale, window)[0]


def write_motionbert(motion: Motion, path, scale: float = 1.0, window: int = MOTIONBERT_MAX_WINDOW) -> Path:
    """`motionbert_input(motion, scale, window)` as an .npz at `path` (written as named):

    windows (N, t0, 17, 3) float32: the windows, the last zero-padded to t0 (the first's length);
    lengths (N,) int64: the frames of each (window i is windows[i, :lengths[i]]);
    crop_center (2,), crop_side (): the square in source pixels (side 0: the input is all zeros);
    joint_names (17,): H36M-17; fps, image_size: the motion's.
    """
    windows, centre, side = _motionbert(motion, scale, window)
    path = posemap.writable_file(path)
    padded = np.zeros((len(windows), len(windows[0]), 17, 3), dtype=np.float32)
    for i, w in enumerate(windows):
        padded[i, :len(w)] = w
    with open(path, "wb") as f:
        np.savez(f, windows=padded, lengths=np.array([len(w) for w in windows], dtype=np.int64),
                 crop_center=np.asarray(centre, dtype=np.float64), crop_side=np.float64(side),
                 joint_names=np.array(sk.H36M_NAMES), fps=np.float64(motion.fps),
                 image_size=np.array(motion.image_size, dtype=np.int64))
    logger.info("wrote %s (%d window(s) of MotionBERT input)", path, len(windows))
    return path
