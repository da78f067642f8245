"""MoLIP: the text-motion contrastive model that scores generated motions (paper 4.4).

    model = MoLIP(MoLIPConfig(...))               # builds (or takes) the frozen text encoder
    model.encode_motion(features, mask)           # (B, T, K, 3), (B, T) -> (B, E) unit vectors
    model.encode_text(captions)                   # B captions -> (B, E) unit vectors
    model.training_loss(batch)                    # symmetric InfoNCE (tenderlib.training.train)
(embedding datasets and the laterality check: tenderlib.evaluation; trained by config, notebook 04:
tenderlib.experiments.molip_runs)

Motion side: every frame's 133 x (x, y[, c]) is flattened and projected to `dim`, a learned
[CLS] token is prepended, sinusoidal positions are added, and a padding-aware transformer
(tenderlib.models.layers) runs over the frames; the [CLS] output is projected to the joint space.
With `use_confidence` the detector's confidence is an input channel (the paper's Table 6
highlighted rows); without it the model sees (x, y) only (points never annotated are 0).

Text side: the frozen encoder (tenderlib.models.text, cached per caption) gives TOKEN features; two
trainable transformer layers and a LayerNorm (the paper's "2 trainable transformer layers +
LayerNorm") contextualise them; the masked mean is projected to the joint space. The frozen
sentence vector is not used: it scores "left hand" and "right hand" captions as near-identical
(MiniLM cosine about 0.97), while the trainable layers over the tokens can learn the side word.

Mirror-equivariant embeddings (`side_dims` = k > 0): the last k dimensions of both joint spaces
change sign under mirroring and the others do not, by construction. Each tower runs on the input
and on its mirror image (the clip through `skeleton.flip_keypoints`, the caption through
`mirror.mirror_caption`) giving h and h'; the embedding is [h_s + h'_s, h_a - h'_a] (s: the first
E - k dimensions, a: the last k), normalised. A caption naming no side, or a left-right symmetric
motion, has a = 0; the mirror of any input is its embedding with the last k signs flipped. So
cos(m, caption) - cos(m, mirrored caption) = 2 m_a . t_a: telling the sides apart has dimensions
of its own instead of being a small residual of the generic embedding, at the price of running
both towers twice. The side loss below then needs no re-encoding (`mirror_embedding`), and its two
terms are equal (J t . m = t . J m for the sign flip J).

Objective: symmetric InfoNCE (CLIP) with a learnable temperature, logit scale clamped to 100,
plus left/right hard negatives (`mirror_weight`): for every caption of the batch that names a
side, the same caption with left and right exchanged (`swap_sides`) is a negative of the clip, and
the clip mirrored (`skeleton.flip_keypoints`) a negative of the caption, each scored by a two-way
cross-entropy against the own pair. A batch of 32 random pairs rarely holds such a pair, so
InfoNCE alone barely sees the side word; the mirror terms target exactly what the laterality
check measures (only training clips and captions are mirrored). With `mirror_augment` = p, each
training pair is replaced by its mirror image (clip reflected, sides of the caption swapped:
tenderlib.data.mirror) with probability p, as HumanML3D doubles its data.
Temporal hard negatives (`temporal_weight`): poses alone can match a caption (a clip with its frames
shuffled keeps almost every pose), so a share of the batch's clips, corrupted in time (frames
shuffled, frozen at the clip's mean pose, or the first frame held), must rank below the original
for their own caption (a margin term, as the mirror terms) and be equally near every caption of the
batch (an uninformative term): the model must read the order and the amount of movement, and a
motion that lost them must not tell its caption (`MoLIP.temporal_loss`). Measured on the default
profile (test clips scored as generations, R@3 as a share of the real clips'; the evaluation's
`motion_sanity`): without these negatives, shuffled 0.98 and frozen 0.57; with the margin term alone
(a quarter of the batch) 0.92 and 0.55; margin + uninformative term on half the batch at weight 1,
0.51 and 0.14; at weight 2 (the default) 0.34 and 0.13, real R@1 0.757 and left/right 90.5%.
Captions repeated in a batch (short semantic labels such as "pointing") are all positives of
each other: the target of a row is uniform over the columns with the same caption, so a
duplicate is never pushed away from its own motion.

Bad input: features whose keypoint count or channel count does not match the config, a mask of
the wrong shape, a clip without any real frame, or a clip whose confidence is 0 on every real
frame (nothing was detected: its embedding would be that of an empty frame) raise ValueError
naming the clips; empty captions raise (tenderlib.models.text); captions longer than the encoder's
context are truncated with one warning per encoder. A checkpoint written for another config
raises tenderlib.checkpoints.CheckpointMismatchError naming the differing fields.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from tenderlib import seeding
from tenderlib.data import skeleton
from tenderlib.checks import MAX_FRAMES, MAX_HEADS, MAX_LAYERS, MAX_TOKENS, MAX_WIDTH, int_in, need
from tenderlib.models.layers import PositionalEmbedding, SkipTransformer
from tenderlib.data.mirror import mirror_caption, swap_sides
from tenderlib.data.corruptions import CORRUPTIONS, corrupt
from tenderlib.models.text import KINDS as TEXT_KINDS, TextEncoder, TextEncoderConfig, load_text_encoder

log = logging.getLogger(__name__)

MAX_LOGIT_SCALE = 100.0  # CLIP's clamp of exp(logit_scale)


@dataclass(frozen=True)
class MoLIPConfig:
    """Architecture of MoLIP. Defaults: the smoke model (tiny, CPU); params/ hold the others."""

    num_keypoints: int = skeleton.NUM_KEYPOINTS  # keypoints per frame (COCO-WholeBody: 133)
    use_confidence: bool = False  # confidence as a third input channel (paper Table 6, highlighted)
    max_frames: int = 64  # frames per clip seen by the model (training crops; paper: 200)
    frame_stride: int = 2  # model keeps every stride-th frame of the crop (1 = all)
    dim: int = 128  # transformer width of both towers
    motion_layers: int = 2  # transformer layers over frames
    text_layers: int = 2  # trainable layers over the frozen token features (paper: 2)
    heads: int = 4  # attention heads
    ff_dim: int = 256  # hidden width of the feed-forward blocks
    embed_dim: int = 128  # joint embedding space (unit vectors)
    dropout: float = 0.1  # in both towers
    temperature: float = 0.07  # initial softmax temperature (learnable; CLIP's 0.07)
    mirror_weight: float = 1.0  # weight of the left/right hard negatives (module docstring); 0 = off
    mirror_clips: bool = True  # the mirrored clip is a hard negative too (else the mirrored caption only)
    mirror_augment: float = 0.0  # probability that a training pair is mirrored (tenderlib.data.mirror)
    side_dims: int = 0  # joint-space dimensions that change sign under mirroring (docstring); 0 = off
    temporal_weight: float = 2.0  # weight of the temporal hard negatives (module docstring); 0 = off
    temporal_share: float = 0.5  # share of a batch's clips given one temporal hard negative
    temporal_kinds: tuple[str, ...] = ("shuffled", "frozen", "first")  # tenderlib.data.corruptions.corrupt kinds, in turn
    text_kind: str = "minilm"  # frozen text encoder: "minilm" (default) or "clip" (the paper's)
    text_model: str | None = None  # hub name or local folder; None = the kind's default
    text_max_length: int | None = None  # token context; None = the encoder's own

    def __post_init__(self):
        caps = dict(num_keypoints=MAX_TOKENS, max_frames=MAX_FRAMES, frame_stride=MAX_FRAMES, dim=MAX_WIDTH,
                    motion_layers=MAX_LAYERS, text_layers=MAX_LAYERS, heads=MAX_HEADS, ff_dim=MAX_WIDTH,
                    embed_dim=MAX_WIDTH)
        for name, cap in caps.items():
            need(self, int_in(getattr(self, name), 1, cap), name, f"an int in [1, {cap}]")
        need(self, self.dim % self.heads == 0 and self.dim % 2 == 0, "dim", f"even and divisible by heads={self.heads}")
        need(self, 0 <= self.dropout < 1, "dropout", "in [0, 1)")
        need(self, 0 < self.temperature <= 1, "temperature", "in (0, 1]")
        need(self, self.mirror_weight >= 0, "mirror_weight", ">= 0")
        need(self, 0 <= self.mirror_augment <= 1, "mirror_augment", "in [0, 1]")
        need(self, isinstance(self.side_dims, int) and 0 <= self.side_dims < self.embed_dim, "side_dims",
             f"an int in [0, embed_dim={self.embed_dim})")
        need(self, self.text_kind in TEXT_KINDS, "text_kind", f"one of {TEXT_KINDS}")
        need(self, self.temporal_weight >= 0, "temporal_weight", ">= 0")
        need(self, 0 < self.temporal_share <= 1, "temporal_share", "in (0, 1]")
        object.__setattr__(self, "temporal_kinds", tuple(self.temporal_kinds))
        need(self, len(self.temporal_kinds) > 0 and set(self.temporal_kinds) <= set(CORRUPTIONS), "temporal_kinds",
             f"a non-empty tuple of {CORRUPTIONS}")

    @property
    def channels(self) -> int:
        """Input channels per keypoint: x, y [, confidence]."""
        return 3 if self.use_confidence else 2

    @property
    def motion_tokens(self) -> int:
        """Frame tokens the motion tower sees at most (the [CLS] token not counted)."""
        return math.ceil(self.max_frames / self.frame_stride)

    def text_encoder_config(self, memory_cache_size: int = 200_000, disk_cache: bool = True) -> TextEncoderConfig:
        """The frozen encoder's config. Its features are cached in memory for every caption of a
        training set and on disk (outputs/cache/text/), shared with later runs and notebooks:
        encoding is the slow part on a CPU (MiniLM: about 50 captions/s on one busy core)."""
        return TextEncoderConfig(kind=self.text_kind, model=self.text_model, max_length=self.text_max_length,
                                 memory_cache_size=memory_cache_size, disk_cache=disk_cache)


@dataclass
class MoLIPLosses:
    """What training_loss returns; every field is logged by tenderlib.training."""

    loss: torch.Tensor  # (t2m + m2t) / 2 [+ mirror_weight * side], minimised
    t2m: torch.Tensor  # text -> motion cross-entropy
    m2t: torch.Tensor  # motion -> text cross-entropy
    accuracy: torch.Tensor  # fraction of texts whose top motion is a positive
    temperature: torch.Tensor  # 1 / logit scale
    side: torch.Tensor | None = None  # left/right hard-negative term (already in loss); None if off
    temporal: torch.Tensor | None = None  # temporal hard-negative term (already in loss); None if off


def contrastive_loss(text: torch.Tensor, motion: torch.Tensor, logit_scale: torch.Tensor,
                     positives: torch.Tensor | None = None) -> MoLIPLosses:
    """Symmetric InfoNCE of unit embeddings text (B, E), motion (B, E).

    logit_scale: log of the inverse temperature (clamped to log 100). positives: (B, B) bool,
    True where text i and motion j form a pair (default: the diagonal); each row's and column's
    target is uniform over its positives.
    """
    if text.shape != motion.shape or text.ndim != 2:
        raise ValueError(f"text and motion must both be (B, E); got {tuple(text.shape)} and {tuple(motion.shape)}")
    B = text.shape[0]
    if positives is None:
        positives = torch.eye(B, dtype=torch.bool, device=text.device)
    if positives.shape != (B, B) or not positives.diagonal().all():
        raise ValueError(f"positives must be a (B, B) bool matrix with a true diagonal, B = {B}")
    scale = logit_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()
    logits = scale * text.float() @ motion.float().T  # (B, B) texts as rows
    target = positives.float()
    t2m = -(F.log_softmax(logits, dim=1) * (target / target.sum(1, keepdim=True))).sum(1).mean()
    m2t = -(F.log_softmax(logits, dim=0) * (target / target.sum(0, keepdim=True))).sum(0).mean()
    accuracy = positives[torch.arange(B, device=text.device), logits.argmax(1)].float().mean()
    return MoLIPLosses((t2m + m2t) / 2, t2m, m2t, accuracy, (1.0 / scale).detach())


def same_caption(captions: Sequence[str]) -> torch.Tensor:
    """(B, B) bool: True where two captions of a batch are the same text."""
    codes = {}
    ids = torch.as_tensor([codes.setdefault(c, len(codes)) for c in captions])
    return ids[:, None] == ids[None, :]


class MoLIP(nn.Module):
    """Motion tower + frozen text encoder with trainable layers; see the module docstring.

    The frozen encoder is held outside the module's parameters and state dict: checkpoints hold
    only the trainable towers (the encoder is rebuilt from the config).
    """

    def __init__(self, config: MoLIPConfig = MoLIPConfig(), text_encoder: TextEncoder | None = None):
        super().__init__()
        self.config = c = config
        encoder = text_encoder if text_encoder is not None else load_text_encoder(config.text_encoder_config())
        object.__setattr__(self, "text_encoder", encoder)  # not a submodule: frozen, not saved
        # motion tower
        self.frame_in = nn.Linear(c.num_keypoints * c.channels, c.dim)
        self.motion_cls = nn.Parameter(torch.randn(1, 1, c.dim) * 0.02)
        self.motion_pos = PositionalEmbedding(c.motion_tokens + 1, c.dim)
        self.motion_tf = SkipTransformer(c.dim, c.motion_layers, c.heads, c.ff_dim, c.dropout, skip=False)
        self.motion_out = nn.Linear(c.dim, c.embed_dim)
        # text tower: 2 trainable layers + LayerNorm over the frozen token features
        self.token_in = nn.Linear(encoder.token_dim, c.dim)
        self.text_pos = PositionalEmbedding(encoder.context_length, c.dim)
        self.text_tf = SkipTransformer(c.dim, c.text_layers, c.heads, c.ff_dim, c.dropout, skip=False)
        self.text_out = nn.Linear(c.dim, c.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / c.temperature)))

    # --- motion ------------------------------------------------------------------------------

    def check_motion(self, features: torch.Tensor, mask: torch.Tensor) -> None:
        """Raise ValueError naming the problem if (features, mask) cannot be embedded."""
        K = self.config.num_keypoints
        if features.ndim != 4 or features.shape[2] != K or features.shape[3] < 3:
            raise ValueError(f"features must be (B, T, {K}, 3) normalised x, y and confidence; "
                             f"got {tuple(features.shape)}")
        if mask.shape != features.shape[:2] or mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool (B, T) = {tuple(features.shape[:2])} tensor; "
                             f"got {mask.dtype} {tuple(mask.shape)}")
        empty = torch.nonzero(~mask.any(1)).flatten().tolist()
        if empty:
            raise ValueError(f"motions {empty[:10]} of the batch have no real frame (mask all False)")
        seen = ((features[..., 2] > 0).any(-1) & mask).any(1)  # (B,) any detected point in a real frame
        blind = torch.nonzero(~seen).flatten().tolist()
        if blind:
            raise ValueError(
                f"motions {blind[:10]} of the batch have confidence 0 at every keypoint of every real frame: "
                f"nothing was detected, there is nothing to embed. Generated motions without confidence "
                f"must carry confidence 1 (tenderlib.evaluation.with_confidence)")

    def encode_motion(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """features (B, T, K, 3) normalised x, y, confidence; mask (B, T) True = real frame
        -> (B, E) unit embeddings. Frames beyond max_frames are dropped (the model's crop)."""
        self.check_motion(features, mask)
        c = self.config
        features = features[:, :c.max_frames:c.frame_stride]  # (B, T', K, 3)
        mask = mask[:, :c.max_frames:c.frame_stride]  # (B, T')
        if c.side_dims:
            features = torch.cat([features, skeleton.flip_keypoints(features, None)])  # (2B, T', K, 3)
            mask = torch.cat([mask, mask])  # (2B, T'); below, B counts the mirror images too
        x = rearrange(features[..., :c.channels], "b t k c -> b t (k c)")  # (B, T', K * C)
        x = self.frame_in(x)  # (B, T', D)
        x = torch.cat([self.motion_cls.expand(x.shape[0], -1, -1).to(x.dtype), x], dim=1)  # (B, 1 + T', D)
        x = self.motion_pos(x)
        mask = F.pad(mask, (1, 0), value=True)  # (B, 1 + T')
        x = self.motion_tf(x, mask=mask)  # (B, 1 + T', D)
        return self._joint(self.motion_out(x[:, 0]).float())  # (B, E)

    def _joint(self, h: torch.Tensor) -> torch.Tensor:
        """Tower outputs (B, E) -> unit embeddings (B, E); with side_dims, h holds the B inputs
        and then their B mirror images (2B, E), combined as in the module docstring."""
        if self.config.side_dims:
            own, mirrored = h.chunk(2)  # (B, E) each
            h = own + self._flip_sides(mirrored)  # (B, E): [h_s + h'_s, h_a - h'_a]
        return F.normalize(h, dim=-1)

    def _flip_sides(self, e: torch.Tensor) -> torch.Tensor:
        """(B, E) with the signs of its last side_dims dimensions flipped."""
        k = self.config.side_dims
        return torch.cat([e[:, :-k], -e[:, -k:]], dim=1)

    def mirror_embedding(self, e: torch.Tensor) -> torch.Tensor:
        """With side_dims: the embedding (B, E) of the mirror images (last side_dims signs flipped)."""
        if not self.config.side_dims:
            raise ValueError("mirror_embedding needs side_dims > 0 (the towers are not mirror-equivariant)")
        return self._flip_sides(e)

    # --- text --------------------------------------------------------------------------------

    def encode_text(self, captions: Sequence[str]) -> torch.Tensor:
        """B captions -> (B, E) unit embeddings (frozen token features + trainable layers)."""
        device = self.logit_scale.device
        captions = list(captions)
        if self.config.side_dims:
            captions = captions + [mirror_caption(t) for t in captions]  # 2B: the B captions, then mirrored
        feats = self.text_encoder.encode(captions).to(device)  # tokens (B, L, C_tok), mask (B, L)
        return self._text_from_tokens(feats.tokens, feats.mask)

    def _text_from_tokens(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.text_pos(self.token_in(tokens))  # (B, L, D)
        x = self.text_tf(x, mask=mask)  # (B, L, D), 2 layers + LayerNorm
        m = mask.unsqueeze(-1).to(x.dtype)  # (B, L, 1)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1)  # (B, D) mean over real tokens
        return self._joint(self.text_out(pooled).float())  # (B, E)

    # --- objective ---------------------------------------------------------------------------

    def forward(self, features: torch.Tensor, mask: torch.Tensor, captions: Sequence[str]):
        return self.encode_text(captions), self.encode_motion(features, mask)

    def training_loss(self, batch) -> MoLIPLosses:
        """Symmetric InfoNCE on a tenderlib.data.dataset.Batch (one caption per clip)."""
        if not all(isinstance(t, str) for t in batch.captions):
            raise ValueError("MoLIP trains on one caption per clip: build the dataset with caption='random' or 'first'")
        text, motion = self(batch.features, batch.mask, batch.captions)
        positives = same_caption(batch.captions).to(text.device)
        out = contrastive_loss(text, motion, self.logit_scale, positives)
        if self.config.mirror_weight > 0:
            out.side = self.side_loss(text, motion, batch.captions, batch.features, batch.mask)
            out.loss = out.loss + self.config.mirror_weight * out.side
        if self.config.temporal_weight > 0:
            out.temporal = self.temporal_loss(text, motion, batch.features, batch.mask)
            out.loss = out.loss + self.config.temporal_weight * out.temporal
        return out

    def temporal_loss(self, text: torch.Tensor, motion: torch.Tensor, features: torch.Tensor,
                      mask: torch.Tensor) -> torch.Tensor:
        """Temporal hard negatives for the first ceil(temporal_share * B) clips of the batch (a random
        sample: batches are drawn at random), each corrupted in time by one of temporal_kinds in
        turn (tenderlib.data.corruptions.corrupt: frames shuffled, frozen at the mean pose, the first frame
        held). Two terms, each a mean over those clips:
        - margin: -log sigmoid(scale * (t . m - t . m_corrupted)), the caption prefers its own
          motion to the same poses without their movement;
        - uninformative: the cross-entropy between the uniform distribution and the softmax of the
          corrupted clip's similarities to the B captions of the batch, minimal (log B) when it is
          equally near to all of them: a motion without its movement must not tell its caption.
        The margin alone leaves the corrupted clip nearer its own caption than any other (ranked
        among other corrupted clips, shuffled test clips kept R@3 0.91 of the real 0.98).
        text, motion: (B, E) unit embeddings. The uninformative term is reported minus log B (0 at
        its minimum)."""
        c, B = self.config, len(text)
        P = math.ceil(c.temporal_share * B)
        kinds = [c.temporal_kinds[i % len(c.temporal_kinds)] for i in range(P)]
        negatives = torch.empty_like(features[:P])
        for kind in dict.fromkeys(kinds):
            rows = torch.as_tensor([i for i, k in enumerate(kinds) if k == kind], device=features.device)
            negatives[rows] = corrupt(features[rows], mask[rows], kind)
        scale = self.logit_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()
        corrupted = self.encode_motion(negatives, mask[:P])  # (P, E)
        own = (text[:P] * motion[:P]).sum(-1)  # (P,)
        margin = F.softplus(scale * ((text[:P] * corrupted).sum(-1) - own)).mean()
        logits = scale * corrupted.float() @ text.float().T  # (P, B)
        uninformative = -F.log_softmax(logits, dim=1).mean(1).mean() - math.log(B)
        return margin + uninformative

    def side_loss(self, text: torch.Tensor, motion: torch.Tensor, captions: Sequence[str],
                  features: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Left/right hard negatives for the clips of the batch whose caption names a side (0 when
        none does): the caption with left and right exchanged and, given the clips' features
        (B, T, K, 3) and mask (B, T) and with `mirror_clips`, the clip mirrored (left and right
        keypoints exchanged, x -> -x: `skeleton.flip_keypoints`). Each is scored against the own
        pair by -log sigmoid(scale * (own - negative)). text, motion: (B, E) unit embeddings."""
        mirrors = [swap_sides(c) for c in captions]
        rows = [i for i, m in enumerate(mirrors) if m is not None]
        if not rows:
            return text.new_zeros(())
        scale = self.logit_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()
        own = (text[rows] * motion[rows]).sum(-1)  # (P,)
        equivariant = self.config.side_dims > 0  # mirror images' embeddings without re-encoding
        mirror_text = (self.mirror_embedding(text[rows]) if equivariant
                       else self.encode_text([mirrors[i] for i in rows]))  # (P, E)
        loss = F.softplus(scale * ((mirror_text * motion[rows]).sum(-1) - own)).mean()
        if self.config.mirror_clips and features is not None:
            mirror_clip = (self.mirror_embedding(motion[rows]) if equivariant else
                           self.encode_motion(skeleton.flip_keypoints(features[rows], None), mask[rows]))  # (P, E)
            loss = loss + F.softplus(scale * ((text[rows] * mirror_clip).sum(-1) - own)).mean()
        return loss


def build(config: MoLIPConfig, seed: int = 0, text_encoder: TextEncoder | None = None) -> MoLIP:
    """A freshly initialised MoLIP, its weights fixed by `seed`."""
    seeding.seed_everything(seed)
    return MoLIP(config, text_encoder)
