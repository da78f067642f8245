"""Argument checks whose errors name the parameter and the allowed values (one wording everywhere)."""
from __future__ import annotations

import numpy as np


def need(config, ok: bool, name: str, allowed: str) -> None:
    """A config's field check: ValueError '<Config>.<name> must be <allowed>, got <value>' unless ok."""
    if not ok:
        raise ValueError(f"{type(config).__name__}.{name} must be {allowed}, got {getattr(config, name)!r}")


def check_choice(name: str, value, allowed) -> None:
    """Raise ValueError naming the parameter and the allowed values when value is not one of them."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(map(str, allowed))}")


def check_positive(name: str, value: float) -> None:
    """Raise ValueError unless value is a finite number > 0."""
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


# Plausible upper bounds of a model's sizes, far above every model of this project (the paper's are
# at most 1024 wide, 9 layers deep and 196 frames long): a config beyond them is a typo or an edited
# checkpoint, refused before a model of that size is allocated.
MAX_WIDTH = 8192  # the width of a transformer, a feed-forward block, a latent token or an embedding
MAX_LAYERS = 64  # layers of one transformer stack
MAX_HEADS = 64  # attention heads
MAX_TOKENS = 1024  # tokens of a sequence other than frames: latent tokens, keypoints
MAX_FRAMES = 10_000  # frames of a positional table (over 5 minutes at 30 fps)


def int_in(value, lo: int, hi: int) -> bool:
    """True when value is an int (not a bool) in [lo, hi]."""
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
