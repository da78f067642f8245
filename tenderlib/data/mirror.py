"""Left/right mirroring of a text-motion pair.

A clip reflected about its vertical axis, with every left keypoint exchanged for its right twin
(`tenderlib.data.skeleton.flip_keypoints`), is the motion of the caption with "left" and "right"
exchanged (`swap_sides`); a caption that names no side describes both. This is how HumanML3D
doubles its data (its mirrored "M" motions with swapped texts); here it is a training-time
augmentation (`tenderlib.data.dataset.MotionDataset(mirror=p)`) and the hard negatives of MoLIP's
laterality loss (`tenderlib.models.molip`).
"""
from __future__ import annotations

import re

_SIDE = re.compile(r"\b(left|right|Left|Right|LEFT|RIGHT)\b")
_SWAP = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def swap_sides(caption: str) -> str | None:
    """The caption with every 'left' and 'right' exchanged, or None when it names no side."""
    if not _SIDE.search(caption):
        return None
    return _SIDE.sub(lambda m: _SWAP[m.group(0)], caption)


def mirror_caption(caption: str) -> str:
    """The caption of the mirrored clip: sides exchanged, or the caption itself when it names none."""
    swapped = swap_sides(caption)
    return caption if swapped is None else swapped
