"""Time curves shared by the procedural animation (body actions, face, hands): easing, keyframes, noise."""
from __future__ import annotations

import numpy as np

from tenderlib.checks import check_positive


def smoothstep(u):
    """Ease-in/ease-out ramp 0 -> 1 on u in [0, 1] (clamped outside), zero slope at both ends."""
    u = np.minimum(np.maximum(u, 0.0), 1.0)
    return u * u * (3.0 - 2.0 * u)


def keyframes(t: np.ndarray, times, values) -> np.ndarray:
    """Ease (smoothstep) from key to key: t (T,), times (K,) non-decreasing, values (K,) or (K, C) -> (T,) or (T, C).

    values[0] before the first key, values[-1] after the last. Written as a sum of one clamped
    ramp per segment, so it costs one (T, K-1) x (K-1, ...) product.
    """
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    ramps = smoothstep((np.asarray(t, dtype=float)[:, None] - times[:-1]) / np.maximum(np.diff(times), 1e-9))  # (T, K-1)
    return values[0] + ramps @ np.diff(values, axis=0)


def timebase(num_frames: int, fps: float) -> tuple[np.ndarray, float]:
    """Frame times in seconds (T,) and the clip duration."""
    if int(num_frames) != num_frames or num_frames < 1:
        raise ValueError(f"num_frames must be an integer >= 1, got {num_frames}")
    check_positive("fps", fps)
    return np.arange(int(num_frames)) / fps, num_frames / fps


def animation_window(num_frames: int, fps: float, intensity: float, ramp: float, onset: float | None,
                     offset: float | None, rng: np.random.Generator) -> tuple[np.ndarray, float, float, float]:
    """Frame times (T,), duration, onset and end of a face or hand animation, after the checks they
    share (intensity in [0, 1], ramp > 0, offset >= onset + ramp). onset None: drawn in
    [0, min(0.5, 0.2 * duration)] s; offset None: the animation lasts to the end."""
    t, duration = timebase(num_frames, fps)
    if not 0.0 <= intensity <= 1.0:
        raise ValueError(f"intensity must be in [0, 1], got {intensity}")
    check_positive("ramp", ramp)
    if onset is None:
        onset = uniform(rng, 0.0, min(0.5, 0.2 * duration))
    if offset is not None and offset < onset + ramp:
        raise ValueError(f"offset ({offset} s) must be >= onset + ramp ({onset + ramp} s)")
    return t, duration, onset, duration if offset is None else offset


def smooth_noise(rng: np.random.Generator, t: np.ndarray, channels: int, max_hz: float, basis: int = 4) -> np.ndarray:
    """Smooth random signals in [-1, 1]: random mixes of a few random sinusoids below max_hz: (T, C)."""
    r = rng.random(2 * basis + basis * channels)
    freq = 0.05 + (max_hz - 0.05) * r[:basis]
    waves = np.sin(np.multiply.outer(2 * np.pi * t, freq) + 2 * np.pi * r[basis:2 * basis])   # (T, basis)
    mix = 2.0 * r[2 * basis:].reshape(basis, channels) - 1.0
    return waves @ (mix / np.abs(mix).sum(axis=0))                     # (T, C), |mix| sums to 1


def uniform(rng: np.random.Generator, low: float, high: float, size=None):
    """rng.uniform(low, high, size), drawn through rng.random (several times cheaper per call)."""
    return low + (high - low) * (rng.random() if size is None else rng.random(size))
