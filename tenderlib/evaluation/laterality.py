"""Does MoLIP tell left from right? Captions that differ only in the side, scored on their clips.

    laterality_check(model, store, indices) -> LateralityResult
    sided_captions(store, indices)          -> the (clip, caption, mirrored caption) it scores
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from tenderlib.data.mirror import swap_sides
from tenderlib.data.store import Store
from tenderlib.evaluation.embedding import embed_dataset, embed_texts, eval_dataset
from tenderlib.models.molip import MoLIP

@dataclass(frozen=True)
class LateralityResult:
    accuracy: float  # fraction of pairs where the clip's own caption is nearer than its mirror
    pairs: int  # (clip, caption, mirrored caption) triples tested
    sentence_cosine: float  # mean cosine of the frozen sentence vectors of caption and mirror
    molip_cosine: float  # mean cosine of MoLIP's text embeddings of caption and mirror
    margin: float  # mean of cos(motion, own) - cos(motion, mirror)
    examples: list = field(default_factory=list, compare=False)  # a few (caption, mirror, own, mirror cos)


def sided_captions(store: Store, indices) -> list[tuple[int, str, str]]:
    """(clip, caption, the caption with left and right exchanged) for every caption of the clips
    `indices` that names a side; empty when none does (motion capture captioned by content only)."""
    triples = [(int(i), t, swap_sides(t)) for i in np.asarray(indices).tolist() for t in store.texts(int(i))]
    return [x for x in triples if x[2] is not None]


@torch.no_grad()
def laterality_check(model: MoLIP, store: Store, indices, batch_size: int = 256,
                     num_examples: int = 5) -> LateralityResult:
    """For every caption of the clips `indices` that names a side, is the clip's motion nearer to
    the caption than to the same caption with left and right exchanged?"""
    triples = sided_captions(store, indices)
    if not triples:
        raise ValueError("none of the clips' captions names a side (left / right): nothing to check")
    clips = sorted({i for i, _, _ in triples})
    ds = eval_dataset(store, clips, model.config)
    _, motion = embed_dataset(model, ds, batch_size)
    row = {int(ds.indices[k]): k for k in range(len(ds))}
    m = motion[[row[i] for i, _, _ in triples]]  # (P, E)
    own = embed_texts(model, [t for _, t, _ in triples], batch_size)  # (P, E)
    mirror = embed_texts(model, [s for _, _, s in triples], batch_size)  # (P, E)
    cos_own, cos_mirror = (m * own).sum(1), (m * mirror).sum(1)  # (P,)
    pooled_own = model.text_encoder.encode([t for _, t, _ in triples]).pooled
    pooled_mirror = model.text_encoder.encode([s for _, _, s in triples]).pooled
    sentence = F.cosine_similarity(pooled_own, pooled_mirror, dim=-1).mean()
    examples = [(t, s, round(float(a), 3), round(float(b), 3))
                for (_, t, s), a, b in list(zip(triples, cos_own, cos_mirror))[:num_examples]]
    return LateralityResult(accuracy=float((cos_own > cos_mirror).mean()), pairs=len(triples),
                            sentence_cosine=float(sentence), molip_cosine=float((own * mirror).sum(1).mean()),
                            margin=float((cos_own - cos_mirror).mean()), examples=examples)
