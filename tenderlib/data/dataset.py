"""Torch Dataset over a packed Store, collate into a padded Batch, and the way back to pixels.

One item is one clip: features (T', K, 3) float32 = normalised (x, y) + raw confidence, where the
normalisation (tenderlib.data.normalize) is computed on the whole clip, then the clip is cropped to
`max_frames`. Random crops and random captions are drawn from a hash of (generator_seed, epoch,
store index), so they do not depend on worker count, order or process; call `set_epoch(e)` before
each epoch (DataLoader workers copy the dataset when an epoch starts, unless persistent_workers).
"""
from __future__ import annotations

import hashlib
import logging
import struct
from dataclasses import dataclass, fields

import numpy as np
import torch

from tenderlib.data.mirror import mirror_caption
from tenderlib.data.normalize import NormStats, denormalize_batch, normalize_frames
from tenderlib.data.skeleton import flip_keypoints
from tenderlib.data.store import Store

log = logging.getLogger(__name__)

CROPS = ("random", "center", "start")
CAPTIONS = ("random", "first", "all")


@dataclass(eq=False)
class MotionItem:
    """One clip as the model sees it."""

    features: np.ndarray  # (T', K, 3) float32: normalised x, y and confidence
    length: int  # T' <= max_frames
    caption: str | list[str]  # one caption, or all of them with caption='all'
    index: int  # position of the clip in the store
    start: int  # first frame of the crop in the stored clip
    stats: NormStats  # pixels = features[..., :2] * scale + center
    mirrored: bool = False  # reflected, left and right exchanged (MotionDataset's mirror)


@dataclass(eq=False)
class Batch:
    """Padded clips. B clips, T = longest length in the batch (or pad_to)."""

    features: torch.Tensor  # (B, T, K, 3) float32, zeros after each clip's length
    mask: torch.Tensor  # (B, T) bool, True = real frame
    lengths: torch.Tensor  # (B,) int64
    captions: list  # B captions (str), or B lists of captions with caption='all'
    indices: torch.Tensor  # (B,) int64 store indices
    starts: torch.Tensor  # (B,) int64 first frame of each crop in its stored clip
    center: torch.Tensor  # (B, 2) float32 pixels
    scale: torch.Tensor  # (B,) float32 pixels per feature unit

    def __len__(self) -> int:
        return len(self.captions)

    def _map(self, fn) -> "Batch":
        return Batch(**{f.name: fn(v) if isinstance(v := getattr(self, f.name), torch.Tensor) else v
                        for f in fields(self)})

    def to(self, device, non_blocking: bool = False) -> "Batch":
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "Batch":  # used by DataLoader(pin_memory=True)
        return self._map(lambda t: t.pin_memory())


def _draw(seed: int, epoch: int, index: int, stream: int) -> int:
    """A 64-bit number fixed by (seed, epoch, index, stream): cheap and process-independent."""
    d = hashlib.blake2b(struct.pack("<qqqq", seed, epoch, index, stream), digest_size=8).digest()
    return int.from_bytes(d, "little")


class MotionDataset(torch.utils.data.Dataset):
    """Clips `indices` of `store` as MotionItems.

    max_frames: longer clips are cropped to this many frames.
    min_frames: clips shorter than this are left out (logged).
    crop: 'random' (seeded by (generator_seed, epoch, index)) | 'center' | 'start'.
    caption: 'random' (seeded likewise) | 'first' | 'all'.
    mirror: probability that an item is mirrored (seeded likewise): the clip reflected with left and
        right keypoints exchanged, its captions with left and right exchanged (tenderlib.data.mirror).
    """

    def __init__(self, store: Store, indices=None, *, max_frames: int = 196, min_frames: int = 1,
                 crop: str = "random", caption: str = "random", generator_seed: int = 0, mirror: float = 0.0):
        if crop not in CROPS:
            raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
        if caption not in CAPTIONS:
            raise ValueError(f"caption must be one of {CAPTIONS}, got {caption!r}")
        if not (isinstance(max_frames, int) and max_frames >= 1):
            raise ValueError(f"max_frames must be an int >= 1, got {max_frames!r}")
        if not 0 <= mirror <= 1:
            raise ValueError(f"mirror must be a probability in [0, 1], got {mirror!r}")
        if not (isinstance(min_frames, int) and 1 <= min_frames):
            raise ValueError(f"min_frames must be an int >= 1, got {min_frames!r}")
        indices = np.arange(len(store)) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= len(store)):
            raise ValueError(f"indices must be store positions in [0, {len(store)}), "
                             f"got min {indices.min()} max {indices.max()}")
        long_enough = store.index.length[indices] >= min_frames
        if not long_enough.all():
            log.info("MotionDataset: %d of %d clips shorter than min_frames=%d left out",
                     int((~long_enough).sum()), indices.size, min_frames)
        self.store, self.indices = store, indices[long_enough]
        self.max_frames, self.min_frames = max_frames, min_frames
        self.crop, self.caption, self.seed, self.mirror = crop, caption, int(generator_seed), float(mirror)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(self.indices.size)

    def crop_start(self, index: int, length: int) -> int:
        """First frame of the crop of store clip `index` (of `length` frames) this epoch."""
        room = length - self.max_frames
        if room <= 0 or self.crop == "start":
            return 0
        if self.crop == "center":
            return room // 2
        return _draw(self.seed, self.epoch, index, 0) % (room + 1)

    def __getitem__(self, k: int) -> MotionItem:
        i = int(self.indices[k])
        frames = self.store.frames(i)  # (T, K, 3) view of the memory map
        stats = self.store.norm_stats(i)  # of the whole clip, precomputed at build
        T = frames.shape[0]
        start = self.crop_start(i, T)
        n = min(T, self.max_frames)
        out = normalize_frames(frames[start:start + n], stats)  # (T', K, 3)
        texts = self.store.texts(i)
        if self.caption == "all":
            caption = texts
        elif self.caption == "first":
            caption = texts[0]
        else:
            caption = texts[_draw(self.seed, self.epoch, i, 1) % len(texts)]
        mirrored = self.mirrored(i)
        if mirrored:
            out = flip_keypoints(out, None)  # normalised x is centred: x -> -x
            caption = [mirror_caption(t) for t in caption] if isinstance(caption, list) else mirror_caption(caption)
        return MotionItem(features=out, length=n, caption=caption, index=i, start=start, stats=stats,
                          mirrored=mirrored)

    def mirrored(self, index: int) -> bool:
        """Whether store clip `index` is mirrored this epoch."""
        return self.mirror > 0 and _draw(self.seed, self.epoch, index, 2) < self.mirror * 2.0 ** 64


def collate(items: list[MotionItem], pad_to: int | None = None) -> Batch:
    """Pad items to the longest (or `pad_to`) length; mask marks the real frames."""
    if not items:
        raise ValueError("collate needs at least one item")
    lengths = [it.length for it in items]
    T = max(lengths) if pad_to is None else int(pad_to)
    if T < max(lengths):
        raise ValueError(f"pad_to must be >= the longest item ({max(lengths)}), got {pad_to}")
    K, C = items[0].features.shape[1:]
    feats = np.empty((len(items), T, K, C), dtype=np.float32)  # (B, T, K, 3)
    for b, it in enumerate(items):
        feats[b, :it.length] = it.features
        feats[b, it.length:] = 0  # padding
    lengths_t = torch.as_tensor(lengths, dtype=torch.int64)
    return Batch(
        features=torch.from_numpy(feats),
        mask=torch.arange(T)[None, :] < lengths_t[:, None],  # (B, T)
        lengths=lengths_t,
        captions=[it.caption for it in items],
        indices=torch.as_tensor([it.index for it in items], dtype=torch.int64),
        starts=torch.as_tensor([it.start for it in items], dtype=torch.int64),
        center=torch.as_tensor([it.stats.center for it in items], dtype=torch.float32),
        scale=torch.as_tensor([it.stats.scale for it in items], dtype=torch.float32),
    )


def to_pixels(batch_or_features, center=None, scale=None):
    """Keypoints in pixels (B, T, K, 2) from a Batch, or from features (B, T, K, >= 2) + center (B, 2) + scale (B,).

    Padded frames come out at the centre; mask them with batch.mask.
    """
    if isinstance(batch_or_features, Batch):
        b = batch_or_features
        center = b.center if center is None else center
        scale = b.scale if scale is None else scale
        batch_or_features = b.features
    if center is None or scale is None:
        raise ValueError("to_pixels needs center and scale unless given a Batch")
    return denormalize_batch(batch_or_features, center, scale)
