"""The data contract: one clip of 2D whole-body motion (docs/design.md, section 2).

Every reader turns its input format into `Motion`s; the store turns Motions into training data.
Nothing downstream of the store knows where a clip came from.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NUM_KEYPOINTS = 133  # COCO-WholeBody
FPS_RANGE = (1.0, 1000.0)  # plausible frame rates (a file claiming 1e308 fps is broken, not fast)
MAX_IMAGE_SIDE = 100_000  # pixels: wider or taller source frames are broken sizes, not images


def _whole(v) -> bool:
    """True if v is a finite whole number (a Python int of any size, or a float / numpy number)."""
    try:
        return isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and float(v) == int(v)
    except (OverflowError, ValueError):  # inf, nan, or an int too large for a float
        return False


def _encodable(text: str) -> bool:
    """True if `text` can be written as UTF-8 (a name decoded from a non-UTF-8 file name cannot)."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


@dataclass
class Motion:
    """One clip.

    keypoints:    (T, 133, 2) float32, pixels of the source frame, COCO-WholeBody order.
    confidence:   (T, 133) float32, detector score (RTMPose scores can exceed 1); 0 where the
                  source does not annotate a part (face-only, hand-only clips).
    texts:        one or more captions (or semantic labels rendered as text).
    source:       name of the sub-dataset the clip comes from.
    fps:          frames per second.
    image_size:   (width, height) of the source frame in pixels.
    clip_id:      unique id, stable across dataset sizes.
    keypoints_3d: optional (T, 133, 3) float32 ground truth in metres, where the clip came from 3D.
    labels:       optional semantic labels, e.g. {"action": "wave", "gesture": "fist"}.
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    texts: list[str]
    source: str
    fps: float
    image_size: tuple[int, int]
    clip_id: str
    keypoints_3d: np.ndarray | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    def validate(self) -> "Motion":
        """Raise ValueError naming the problem if the clip breaks the contract; return self."""
        kp, conf = self.keypoints, self.confidence
        where = f"clip {self.clip_id!r} ({self.source})"
        if not isinstance(kp, np.ndarray) or kp.ndim != 3 or kp.shape[1:] != (NUM_KEYPOINTS, 2):
            raise ValueError(f"{where}: keypoints must have shape (T, {NUM_KEYPOINTS}, 2), got {getattr(kp, 'shape', type(kp))}")
        if kp.shape[0] == 0:
            raise ValueError(f"{where}: empty sequence (0 frames)")
        if not isinstance(conf, np.ndarray) or conf.shape != kp.shape[:2]:
            raise ValueError(f"{where}: confidence must have shape {kp.shape[:2]}, got {getattr(conf, 'shape', type(conf))}")
        if kp.dtype != np.float32 or conf.dtype != np.float32:
            raise ValueError(f"{where}: keypoints and confidence must be float32, got {kp.dtype} and {conf.dtype}")
        if not np.isfinite(kp).all() or not np.isfinite(conf).all():
            raise ValueError(f"{where}: keypoints or confidence contain NaN or infinite values")
        if (conf < 0).any():
            raise ValueError(f"{where}: confidence must be >= 0")
        if not self.texts or any((not isinstance(t, str)) or not t.strip() for t in self.texts):
            raise ValueError(f"{where}: needs at least one non-empty caption, got {self.texts!r}")
        if not isinstance(self.clip_id, str) or not self.clip_id:
            raise ValueError(f"clip_id must be a non-empty str, got {self.clip_id!r}")
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(f"{where}: source must be a non-empty str, got {self.source!r}")
        labels = self.labels
        if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise ValueError(f"{where}: labels must be a dict of str -> str, got {labels!r}")
        strings = [self.clip_id, self.source, *self.texts, *labels, *labels.values()]
        if not all(_encodable(t) for t in strings):
            raise ValueError(f"{where}: the clip id, source, captions and labels must be UTF-8 text "
                             f"(a non-UTF-8 file name gives an id that is not)")
        lo, hi = FPS_RANGE
        if not (isinstance(self.fps, (int, float, np.number)) and lo <= self.fps <= hi):
            raise ValueError(f"{where}: fps must be in [{lo:g}, {hi:g}], got {self.fps!r}")
        size = tuple(self.image_size)
        if len(size) != 2 or not all(_whole(v) and 1 <= v <= MAX_IMAGE_SIDE for v in size):
            raise ValueError(f"{where}: image_size must be (width, height) in whole pixels from 1 to "
                             f"{MAX_IMAGE_SIDE:,}, got {self.image_size!r}")
        if self.keypoints_3d is not None:
            k3 = self.keypoints_3d
            if not isinstance(k3, np.ndarray) or k3.shape != (kp.shape[0], NUM_KEYPOINTS, 3) or k3.dtype != np.float32:
                raise ValueError(f"{where}: keypoints_3d must be float32 (T, {NUM_KEYPOINTS}, 3), "
                                 f"got {getattr(k3, 'dtype', type(k3))} {getattr(k3, 'shape', '')}")
            if not np.isfinite(k3).all():
                raise ValueError(f"{where}: keypoints_3d contains NaN or infinite values")
        return self
