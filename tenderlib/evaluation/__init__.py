"""Scoring motions with a trained MoLIP: the HumanML3D metrics as tables want them.

    score_real(model, store, test_indices, MetricsConfig(...))      the "Real motions" row
    score_generated(model, captions, features, mask, real, ...)     a generation table's row
    real_reference(model, store, test_indices)                      (M, E) FID reference
    retrieve(model, queries, store, indices, k)                     text -> top-k clips
    motion_sanity(model, store, test_indices, MetricsConfig(...))   does the score see movement?
    metric_row(result)                                              {top1, top1_conf, ...}

Protocol. The FID reference is the MoLIP embedding of every test clip, centre-cropped to the
model's `max_frames` (one per clip, computed once). Real motions scored "as if generated" are
redrawn in every replication: a random crop and a random one of the clip's captions, seeded by
(seed, replication), as HumanML3D re-samples its real motions; so their FID to the reference
is small but not exactly 0, as in the paper's row. Embeddings are unit vectors: MM-Dist and
Diversity are distances on the unit sphere (at most 2), not on the paper's unnormalised scale.

Generated motions enter as normalised features (B, T, K, 3) like tenderlib.data.dataset's; a
generator that produces no confidence passes (B, T, K, 2) through `with_confidence`, which sets
it to 1 (MoLIP rejects a motion whose confidence is 0 everywhere: tenderlib.models.molip).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from tenderlib.evaluation import metrics
from tenderlib.evaluation.metrics import MOLIP_METRICS
from tenderlib.data.dataset import collate
from tenderlib.evaluation.embedding import embed_dataset, embed_texts, eval_dataset
from tenderlib.models.molip import MoLIP
from tenderlib.data.corruptions import corrupt
from tenderlib.data.store import Store

log = logging.getLogger(__name__)


def metric_row(result: metrics.EvalResult) -> dict[str, float]:
    """An EvalResult as the columns of paper.table10: top1, top1_conf, ..., diversity_conf."""
    values = [*result.r_precision[:3], result.fid, result.mm_dist, result.diversity]
    if len(values) != len(MOLIP_METRICS):
        raise ValueError(f"metric_row needs R@1..R@3; the result has top_k = {len(result.r_precision)}")
    row = {}
    for name, iv in zip(MOLIP_METRICS, values):
        row[name], row[f"{name}_conf"] = iv.mean, iv.conf
    return row


def with_confidence(features: torch.Tensor, confidence: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T, K, 2) normalised x, y [+ (B, T, K) confidence, default 1] -> (B, T, K, 3)."""
    if features.ndim != 4 or features.shape[-1] != 2:
        raise ValueError(f"features must be (B, T, K, 2) x, y; got {tuple(features.shape)}")
    if confidence is None:
        confidence = torch.ones(features.shape[:-1], dtype=features.dtype, device=features.device)
    if confidence.shape != features.shape[:-1]:
        raise ValueError(f"confidence must be {tuple(features.shape[:-1])}; got {tuple(confidence.shape)}")
    return torch.cat([features, confidence[..., None]], dim=-1)  # (B, T, K, 3)


def real_reference(model: MoLIP, store: Store, indices, batch_size: int = 256) -> np.ndarray:
    """(M, E) motion embeddings of the clips `indices`, centre crops: the FID reference."""
    _, motion = embed_dataset(model, eval_dataset(store, indices, model.config), batch_size)
    return motion


def score_real(model: MoLIP, store: Store, indices, config: metrics.MetricsConfig = metrics.MetricsConfig(),
               batch_size: int = 256) -> metrics.EvalResult:
    """The "Real motions" row: the test clips `indices` scored as if generated (module docstring)."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size < config.group_size:
        raise ValueError(f"indices: {indices.size} clips, fewer than the R-Precision group_size={config.group_size}")
    reference = real_reference(model, store, indices, batch_size)
    ds = eval_dataset(store, indices, model.config, crop="random", caption="random", seed=config.seed)
    texts, motions = [], []
    for r in range(config.replications):
        ds.set_epoch(r)
        t, m = embed_dataset(model, ds, batch_size)
        texts.append(t)
        motions.append(m)
    return metrics.evaluate(np.stack(texts), np.stack(motions), reference, config=config)  # (R, N, E) each


@torch.no_grad()
def embed_motions(model: MoLIP, features: torch.Tensor, mask: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """(N, E) embeddings of motions given as features (N, T, K, 3) and mask (N, T)."""
    model.eval()
    device = model.logit_scale.device
    out = [model.encode_motion(features[a:a + batch_size].to(device), mask[a:a + batch_size].to(device)).cpu().numpy()
           for a in range(0, features.shape[0], batch_size)]
    return np.concatenate(out)


def score_generated(model: MoLIP, captions: Sequence[str], features: torch.Tensor, mask: torch.Tensor,
                    real: np.ndarray, mm_features: torch.Tensor | None = None, mm_mask: torch.Tensor | None = None,
                    config: metrics.MetricsConfig = metrics.MetricsConfig()) -> metrics.EvalResult:
    """Score N generated motions (features (N, T, K, 3), mask (N, T)) of `captions` (N) against the
    real reference (M, E). mm_features (P, G, T, K, 3) with mm_mask (P, G, T): G generations for
    each of P texts, for MultiModality. Each set is scored R times (new groups and pairs).
    features and mask may be lists of S sets generated anew for the same captions: replication r
    scores set r % S, so the interval holds the sampling's variance as well as the draws'."""
    sets = list(features) if isinstance(features, (list, tuple)) else [features]
    masks = list(mask) if isinstance(mask, (list, tuple)) else [mask]
    if len(sets) != len(masks) or any(len(captions) != f.shape[0] for f in sets):
        raise ValueError(f"captions ({len(captions)}) must pair with the motions of every set "
                         f"(features: {[f.shape[0] for f in sets]}, {len(masks)} masks)")
    text = embed_texts(model, captions)
    motions = [embed_motions(model, f, m) for f, m in zip(sets, masks)]  # S x (N, E)
    motion = motions[0] if len(motions) == 1 else np.stack([motions[r % len(motions)]
                                                            for r in range(config.replications)])
    mm = None
    if mm_features is not None:
        if mm_mask is None or mm_features.ndim != 5:
            raise ValueError("mm_features must be (P, G, T, K, 3) and come with mm_mask (P, G, T)")
        P, G = mm_features.shape[:2]
        mm = embed_motions(model, mm_features.flatten(0, 1), mm_mask.flatten(0, 1)).reshape(P, G, -1)
    return metrics.evaluate(text, motion, real, mm, config)


SANITY_ROWS = ("real", "shuffled", "reversed", "frozen", "first")


@torch.no_grad()
def motion_sanity(model: MoLIP, store: Store, indices, config: metrics.MetricsConfig = metrics.MetricsConfig(),
                  batch_size: int = 256, seed: int = 0) -> dict[str, metrics.EvalResult]:
    """The test clips scored as generated motions of their first captions, as they are and corrupted
    in time (tenderlib.data.corruptions.corrupt: frames shuffled, played backwards, frozen at the mean pose,
    first frame held), against the real reference. An evaluator that reads movement scores the
    corrupted rows well below the real one; one that reads poses alone scores them alike."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size < config.group_size:
        raise ValueError(f"indices: {indices.size} clips, fewer than the R-Precision group_size={config.group_size}")
    reference = real_reference(model, store, indices, batch_size)
    ds = eval_dataset(store, indices, model.config)
    captions, chunks = [], []
    for a in range(0, len(ds), batch_size):
        batch = collate([ds[k] for k in range(a, min(a + batch_size, len(ds)))])
        captions += batch.captions
        chunks.append(batch)
    text = embed_texts(model, captions)
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for row in SANITY_ROWS:
        motion = np.concatenate([embed_motions(model, b.features if row == "real" else
                                               corrupt(b.features, b.mask, row, generator), b.mask, batch_size)
                                 for b in chunks])
        out[row] = metrics.evaluate(text, motion, reference, config=config)
    return out


@dataclass(frozen=True)
class Retrieval:
    query: str
    indices: list[int]  # store indices of the k nearest clips, nearest first
    cosines: list[float]  # their cosine similarity to the query


def retrieve(model: MoLIP, queries: Sequence[str], store: Store, indices, k: int = 3,
             batch_size: int = 256) -> list[Retrieval]:
    """For each text query, the k clips among `indices` whose (centre-crop) embedding is nearest."""
    indices = np.asarray(indices, dtype=np.int64)
    if not 1 <= k <= indices.size:
        raise ValueError(f"k must be in 1..{indices.size} (the number of clips); got {k}")
    ds = eval_dataset(store, indices, model.config)
    _, motion = embed_dataset(model, ds, batch_size)  # (M, E)
    text = embed_texts(model, queries, batch_size)  # (Q, E)
    sims = text @ motion.T  # (Q, M)
    top = np.argsort(-sims, axis=1, kind="stable")[:, :k]  # (Q, k)
    return [Retrieval(q, ds.indices[row].tolist(), [round(float(v), 4) for v in sims[i, row]])
            for i, (q, row) in enumerate(zip(queries, top))]
