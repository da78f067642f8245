"""Dataset statistics of a packed store: the paper's Tables 1 and 9, and the distributions of notebook 01.

Everything is computed from the store alone (index columns, frames, texts and labels), so the same
functions describe the synthetic dataset, motion capture and the real release.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tenderlib.data.store import Store
from tenderlib.data.selection import QualityRule

CONF_THRESHOLD = 0.3  # the visibility threshold of the paper and of DWPose drawing


def _region_bits(store: Store) -> dict[str, int]:
    return {name: 1 << r for r, (name, _) in enumerate(store.regions)}


def motion_kind(store: Store) -> np.ndarray:
    """(N,) str: Whole-Body, Face, Hand or Partial, from the regions each clip annotates."""
    bits = _region_bits(store)
    parts = np.asarray(store.index.parts).astype(np.int64)
    whole = bits["body"] | bits["face"] | bits["left_hand"] | bits["right_hand"]
    hands = bits["left_hand"] | bits["right_hand"]
    out = np.full(len(store), "Partial", dtype=object)
    out[(parts & whole) == whole] = "Whole-Body"
    out[parts == bits["face"]] = "Face"
    out[((parts & hands) != 0) & ((parts & ~hands) == 0)] = "Hand"
    return out


def labels_column(store: Store, key: str, indices: np.ndarray | None = None, default: str = "") -> np.ndarray:
    """(n,) str: one label of each clip (e.g. 'action', 'text')."""
    idx = range(len(store)) if indices is None else indices
    return np.array([store.labels(int(i)).get(key, default) for i in idx], dtype=object)


def source_table(store: Store, indices: np.ndarray | None = None, analogues: dict[str, str] | None = None) -> pd.DataFrame:
    """Our Table 9: per source, clips, frames, motion kind and text kind, plus a sum row.

    Columns as tenderlib.experiments.paper.table9() (dataset, clips, frames, motion, text), and `analogue`: the
    paper's sub-dataset a source stands in for (from `analogues`, else the source name itself).
    """
    idx = np.arange(len(store)) if indices is None else np.asarray(indices)
    src = np.asarray(store.index.source_code)[idx]
    length = np.asarray(store.index.length)[idx]
    kind = motion_kind(store)[idx]
    text = labels_column(store, "text", idx, default="caption")
    analogues = analogues or {}
    rows = []
    for code, name in enumerate(store.sources):
        m = src == code
        if not m.any():
            continue
        rows.append({"dataset": name, "analogue": analogues.get(name, name), "clips": int(m.sum()),
                     "frames": int(length[m].sum()), "motion": "/".join(sorted(set(kind[m]))),
                     "text": "/".join(sorted({t.capitalize() for t in text[m]}))})
    rows.sort(key=lambda r: list(analogues).index(r["dataset"]) if r["dataset"] in analogues else len(analogues))
    rows.append({"dataset": "sum", "analogue": "Holistic-Motion2D (sum)", "clips": int(len(idx)),
                 "frames": int(length.sum()), "motion": "Whole-Body" if (kind == "Whole-Body").any() else "/".join(sorted(set(kind))),
                 "text": ", ".join(sorted({t.capitalize() for t in text}, reverse=True))})
    return pd.DataFrame(rows)


def table1_row(store: Store, name: str = "Tender synthetic (ours)") -> dict:
    """Our row of the paper's Table 1 (dataset comparison), columns as tenderlib.experiments.paper.table1()."""
    length = np.asarray(store.index.length, dtype=np.float64)
    hours = float((length / np.asarray(store.index.fps)).sum() / 3600.0)
    n_texts = sum(len(store.texts(i)) for i in range(len(store)))
    whole = bool((motion_kind(store) == "Whole-Body").any())
    # a synthetic figure has no scene and no RGB frames
    return {"dataset": name, "clips": len(store), "holistic": whole, "hours": round(hours, 2),
            "motion_texts": n_texts, "holistic_text": True, "indoor": False, "outdoor": False, "rgb": False}


def region_confidence(store: Store, indices: np.ndarray, max_frames: int = 200_000,
                      rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """Confidence samples per region over annotated clips: region -> (n,) float32 (frames subsampled)."""
    rng = np.random.default_rng(0) if rng is None else rng
    bits = _region_bits(store)
    out: dict[str, list] = {name: [] for name, _ in store.regions}
    budget = max(1, max_frames // max(1, len(indices)))
    for i in indices:
        f = store.frames(int(i))
        rows = f[:: max(1, len(f) // budget), :, 2] if len(f) > budget else f[:, :, 2]
        parts = int(store.index.parts[int(i)])
        for name, kp in store.regions:
            if parts & bits[name]:
                out[name].append(np.asarray(rows[:, kp]).ravel())
    return {k: (np.concatenate(v) if v else np.zeros(0, np.float32)) for k, v in out.items()}


def visibility_table(store: Store, indices: np.ndarray, threshold: float = CONF_THRESHOLD) -> pd.DataFrame:
    """Per source and region: share of annotated keypoint-frames with confidence above threshold."""
    bits = _region_bits(store)
    src = np.asarray(store.index.source_code)
    acc: dict[tuple[str, str], list[float]] = {}
    for i in indices:
        f = store.frames(int(i))[:, :, 2]
        parts = int(store.index.parts[int(i)])
        for name, kp in store.regions:
            if parts & bits[name]:
                v = acc.setdefault((store.sources[src[i]], name), [0.0, 0.0])
                block = f[:, kp]
                v[0] += float((block > threshold).sum())
                v[1] += block.size
    rows = {}
    for (s, r), (hit, tot) in acc.items():
        rows.setdefault(s, {})[r] = hit / tot
    df = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=[n for n, _ in store.regions])
    df.index.name = "source"
    return df.sort_index()


@dataclass(frozen=True)
class QualityReport:
    """What the quality rule keeps, per source and overall."""

    per_source: pd.DataFrame   # source, clips, kept, kept_share, too_short, low_confidence
    kept: np.ndarray           # (N,) bool


def quality_report(store: Store, rule: QualityRule = QualityRule()) -> QualityReport:
    kept = store.high_quality(rule)
    length = np.asarray(store.index.length)
    short = length <= rule.min_frames
    src = np.asarray(store.index.source_code)
    rows = []
    for code, name in enumerate(store.sources):
        m = src == code
        if m.any():
            rows.append({"source": name, "clips": int(m.sum()), "kept": int(kept[m].sum()),
                         "kept_share": float(kept[m].mean()), "too_short": int(short[m].sum()),
                         "low_confidence": int((~kept[m] & ~short[m]).sum())})
    rows.append({"source": "all", "clips": len(store), "kept": int(kept.sum()), "kept_share": float(kept.mean()),
                 "too_short": int(short.sum()), "low_confidence": int((~kept & ~short).sum())})
    return QualityReport(pd.DataFrame(rows), kept)


STOPWORDS = frozenset("a an the and or with his her their its them they he she it is are be being been of to in on at "
                      "by for from as up out then while after before next person someone".split())
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")


@dataclass(frozen=True)
class Vocabulary:
    """Caption vocabulary of a set of clips."""

    num_captions: int
    num_distinct: int
    words_per_caption: float
    vocabulary_size: int
    top_words: list[tuple[str, int]]


def caption_vocabulary(store: Store, indices: np.ndarray, top: int = 30,
                       stopwords: frozenset[str] = STOPWORDS
                       ) -> Vocabulary:
    counts: Counter = Counter()
    texts = [t for i in indices for t in store.texts(int(i))]
    n_words = 0
    for t in texts:
        words = _WORD.findall(t.lower())
        n_words += len(words)
        counts.update(words)
    content = [(w, c) for w, c in counts.most_common() if w not in stopwords][:top]
    return Vocabulary(len(texts), len(set(texts)), n_words / max(1, len(texts)), len(counts), content)
