"""Which clips: deterministic splits, the quality rule, named selections (D1 / D2 / D3).

Splits and subsets come from a keyed blake2b hash of the clip id (or of labels["split_group"],
shared by the views of one capture take), so a clip keeps its split and its `data_frac`
membership whatever the size or order of the dataset, and subsets are nested.

Quality rule (paper B.1): a clip is high quality when it has more than `min_frames` frames and
more than `min_fraction` of its keypoint-frames have confidence above `conf_threshold`, the
fraction taken over the regions the clip annotates (a face-only clip is judged on its face).

    Selection(split="train", data_frac=0.5, sources=None, high_quality_only=False)
    selection("D1", "test")           a named preset for one split
    split_of(clip_id)                 'train' | 'val' | 'test'
(`Store.select(selection)` turns a Selection into clip indices: tenderlib.data.store.)
"""
from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

import numpy as np

from tenderlib.data.motion import Motion

SPLITS = ("train", "val", "test")
DEFAULT_SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # train, val, test
D2_SOURCES = ("syn-k400", "syn-k700")  # the paper's D2: K400 + K700 (in any store: see source_key)
_HASH_PERSON = b"tender-split"  # blake2b personalisation: changing it reshuffles every split


@dataclass(frozen=True)
class QualityRule:
    """The paper's high-quality rule (appendix B.1), judged on the regions a clip annotates."""

    min_frames: int = 64  # a clip must be strictly longer than this
    conf_threshold: float = 0.3  # a keypoint-frame counts as confident above this score
    min_fraction: float = 0.7  # strictly more than this fraction of keypoint-frames confident

    def __post_init__(self):
        if not (isinstance(self.min_frames, (int, np.integer)) and self.min_frames >= 0):
            raise ValueError(f"QualityRule.min_frames must be an int >= 0, got {self.min_frames!r}")
        if not (self.conf_threshold >= 0):
            raise ValueError(f"QualityRule.conf_threshold must be >= 0, got {self.conf_threshold!r}")
        if not (0 <= self.min_fraction <= 1):
            raise ValueError(f"QualityRule.min_fraction must be in [0, 1], got {self.min_fraction!r}")


@dataclass(frozen=True)
class Selection:
    """Which clips of a store to use; `Store.select` turns it into sorted clip indices."""

    split: str = "train"  # 'train' | 'val' | 'test' | 'all'
    data_frac: float = 1.0  # in (0, 1]: keep clips with frac_key < data_frac (nested subsets)
    sources: tuple[str, ...] | None = None  # None = every source in the store
    high_quality_only: bool = False  # keep only clips that pass `quality`
    quality: QualityRule = QualityRule()
    split_fractions: tuple[float, float, float] = DEFAULT_SPLIT_FRACTIONS  # train, val, test

    def __post_init__(self):
        if self.split not in SPLITS + ("all",):
            raise ValueError(f"Selection.split must be one of {SPLITS + ('all',)}, got {self.split!r}")
        if not (isinstance(self.data_frac, (int, float)) and 0 < self.data_frac <= 1):
            raise ValueError(f"Selection.data_frac must be in (0, 1], got {self.data_frac!r}")
        if self.sources is not None:
            if isinstance(self.sources, str) or not all(isinstance(s, str) for s in self.sources):
                raise ValueError(f"Selection.sources must be a tuple of source names or None, got {self.sources!r}")
            object.__setattr__(self, "sources", tuple(self.sources))
        _check_fractions(self.split_fractions)
        object.__setattr__(self, "split_fractions", tuple(float(f) for f in self.split_fractions))


PRESETS = {  # the paper's dataset configurations (section 5)
    "D1": dict(high_quality_only=True),  # the whole high-quality subset
    "D2": dict(high_quality_only=True, sources=D2_SOURCES),  # high quality of K400 + K700
    "D3": dict(high_quality_only=True, data_frac=0.2),  # 20% of D1, nested by frac_key
}


def source_key(name: str) -> str:
    """How a source name in a Selection meets the names of a store: lower case, letters and digits
    only, the synthetic prefix 'syn' and 'kinetics' -> 'k' taken away, so that the synthetic
    'syn-k400' of D2 selects a release's 'K400', 'kinetics-400' or 'kinetics_400' as well."""
    key = re.sub(r"[^a-z0-9]", "", name.lower()).replace("kinetics", "k")
    return key[3:] if key.startswith("syn") and len(key) > 3 else key


def selection(name: str, split: str = "train") -> Selection:
    """Named preset 'D1' | 'D2' | 'D3' for one split. data_frac of D3 applies to every split."""
    if name not in PRESETS:
        raise ValueError(f"selection name must be one of {tuple(PRESETS)}, got {name!r}")
    return Selection(split=split, **PRESETS[name])


# ---------------------------------------------------------------------------------------------
# Keys derived from the clip id


def clip_keys(clip_id: str) -> tuple[float, float]:
    """(split_key, frac_key), two independent uniform numbers in [0, 1) from a hash of clip_id."""
    d = hashlib.blake2b(clip_id.encode("utf-8"), digest_size=16, person=_HASH_PERSON).digest()
    a, b = struct.unpack("<QQ", d)
    return (a >> 11) * 2.0**-53, (b >> 11) * 2.0**-53  # 53 random bits: exactly representable


def split_group(m: Motion) -> str:
    """What a clip's split and data_frac membership hash: labels["split_group"] when given (the views
    of one motion-capture take share it, so no take leaks across splits), else the clip id."""
    return m.labels.get("split_group") or m.clip_id


def frac_key(clip_id: str) -> float:
    """Position of the clip in the nested data_frac order: it is in subset f iff frac_key < f."""
    return clip_keys(clip_id)[1]


def _check_fractions(fractions) -> None:
    f = tuple(fractions)
    if len(f) != 3 or min(f) < 0 or abs(sum(f) - 1) > 1e-9:
        raise ValueError("split_fractions must be 3 non-negative numbers (train, val, test) "
                         f"summing to 1, got {fractions!r}")


def split_codes(split_key: np.ndarray, fractions=DEFAULT_SPLIT_FRACTIONS) -> np.ndarray:
    """Vectorised split: 0 = train, 1 = val, 2 = test (indices into SPLITS)."""
    _check_fractions(fractions)
    edges = np.array([fractions[0], fractions[0] + fractions[1]])
    return np.searchsorted(edges, np.asarray(split_key), side="right")


def split_of(clip_id: str, fractions=DEFAULT_SPLIT_FRACTIONS) -> str:
    """'train' | 'val' | 'test' for one clip id, the same in every store that holds it."""
    return SPLITS[int(split_codes(np.array([clip_keys(clip_id)[0]]), fractions)[0])]
