"""A generated motion as files: what `tender generate` and notebook 03 write.

    write_outputs(generation, i, "wave")   wave.json (RTMPose/MMPose video layout) + wave.txt (its
                                           caption), wave.npz (keypoints, confidence, caption, fps,
                                           image_size) and wave.gif
    mmpose_frames(keypoints, confidence)   the mmpose 1.x frame list (tenderlib.readers.mmpose_json
                                           reads it back)

A motion with a non-finite value is refused before anything is written (strict JSON has no NaN).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tenderlib.models.pipeline import Generation

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


def write_outputs(gen: Generation, index: int, stem, gif_size=(256, 256)) -> list[Path]:
    """Motion `index` of `gen` as <stem>.json (mmpose layout) + <stem>.txt (its caption, which the
    mmpose reader pairs with the JSON), <stem>.npz (keypoints, confidence, caption, fps, image_size)
    and <stem>.gif. Returns the paths written."""
    from tenderlib import viz

    stem = Path(stem)
    m = gen.motion(index)
    if not (np.isfinite(m.keypoints).all() and np.isfinite(m.confidence).all()):
        raise ValueError(f"motion {index} ({m.texts[0]!r}) holds non-finite values (NaN or inf): nothing written "
                         f"to {stem}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".json"), stem.with_suffix(".txt"), stem.with_suffix(".npz"), stem.with_suffix(".gif")]
    paths[0].write_text(json.dumps(mmpose_frames(m.keypoints, m.confidence), allow_nan=False) + "\n")
    paths[1].write_text(m.texts[0] + "\n")
    np.savez(paths[2], keypoints=m.keypoints, confidence=m.confidence, caption=np.array(m.texts[0]),
             fps=np.array(m.fps), image_size=np.array(m.image_size))
    viz.animate(m, path=paths[3], caption=m.texts[0], size=gif_size)
    return paths
