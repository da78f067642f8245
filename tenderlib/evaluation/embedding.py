"""MoLIP embeddings of stored clips and of captions, as every score and check reads them.

    eval_dataset(store, indices, config)      the clips as MoLIP sees them at evaluation
    embed_dataset(model, dataset)             (text, motion) embeddings, (N, E) each
    embed_texts(model, captions)              (N, E)
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from tenderlib.data.dataset import MotionDataset, collate
from tenderlib.data.store import Store
from tenderlib.models.molip import MoLIP, MoLIPConfig

def eval_dataset(store: Store, indices, config: MoLIPConfig, crop: str = "center", caption: str = "first",
                 seed: int = 0) -> MotionDataset:
    """The clips `indices` as MoLIP sees them at evaluation (deterministic crop and caption)."""
    return MotionDataset(store, indices, max_frames=config.max_frames, crop=crop, caption=caption,
                         generator_seed=seed)


@torch.no_grad()
def embed_dataset(model: MoLIP, dataset: MotionDataset, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(text, motion) embeddings, (N, E) float32 each, of the dataset's items in order."""
    model.eval()
    device = model.logit_scale.device
    texts, motions = [], []
    for a in range(0, len(dataset), batch_size):
        batch = collate([dataset[k] for k in range(a, min(a + batch_size, len(dataset)))]).to(device)
        t, m = model(batch.features, batch.mask, batch.captions)
        texts.append(t.cpu().numpy())
        motions.append(m.cpu().numpy())
    return np.concatenate(texts), np.concatenate(motions)


@torch.no_grad()
def embed_texts(model: MoLIP, captions: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """(N, E) float32 text embeddings."""
    model.eval()
    captions = list(captions)
    if not captions:
        raise ValueError("captions must hold at least one caption")
    return np.concatenate([model.encode_text(captions[a:a + batch_size]).cpu().numpy()
                           for a in range(0, len(captions), batch_size)])
