"""Argument checks whose errors name the parameter and the allowed values (one wording everywhere)."""
from __future__ import annotations

import numpy as np


def check_choice(name: str, value, allowed) -> None:
    """Raise ValueError naming the parameter and the allowed values when value is not one of them."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(map(str, allowed))}")


def check_positive(name: str, value: float) -> None:
    """Raise ValueError unless value is a finite number > 0."""
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
