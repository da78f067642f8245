"""normalize (hand-computed cases, inverse, degenerate clips) and MotionDataset / collate / to_pixels."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tenderlib.data.dataset import Batch, MotionDataset, collate, to_pixels
from tenderlib.data.motion import NUM_KEYPOINTS, Motion
from tenderlib.data.skeleton import KEYPOINT_INDEX, REGIONS
from tenderlib.data.normalize import NormStats, denormalize, denormalize_batch, normalize
from tenderlib.data.store import build_store

FACE = np.arange(NUM_KEYPOINTS)[REGIONS["face"]]  # 23-90
HANDS = np.arange(REGIONS["left_hand"].start, REGIONS["right_hand"].stop)  # 91-132
L_HIP, R_HIP = KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"]


def clip(rng, clip_id, T, kind="whole"):
    kp = (rng.random((T, NUM_KEYPOINTS, 2)) * [1280, 720]).astype(np.float32)
    conf = (0.2 + rng.random((T, NUM_KEYPOINTS))).astype(np.float32)
    if kind != "whole":
        conf[:, np.setdiff1d(np.arange(NUM_KEYPOINTS), FACE if kind == "face" else HANDS)] = 0
    n_texts = 1 + int(rng.integers(3))
    return Motion(keypoints=kp, confidence=conf, texts=[f"{clip_id} caption {k}" for k in range(n_texts)],
                  source="syn-k400", fps=30.0, image_size=(1280, 720), clip_id=clip_id)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(0)
    kinds = ("whole", "face", "hand")
    lengths = [5, 300, 196, 197, 40, 250, 1, 80, 120, 60, 230, 10]
    motions = [clip(rng, f"d{i}", T, kinds[i % 3]) for i, T in enumerate(lengths)]
    return build_store(motions, tmp_path_factory.mktemp("ds") / "store")


# --- normalize ------------------------------------------------------------------------------


def test_normalize_hand_computed():
    T = 3
    kp = np.zeros((T, NUM_KEYPOINTS, 2), dtype=np.float32)
    conf = np.zeros((T, NUM_KEYPOINTS), dtype=np.float32)
    conf[:, :4] = 1.0  # four confident body points, box sides per frame: 40, 60, 80 (x) vs 10 (y)
    conf[:, 50] = 0.1  # annotated but not confident: kept, not used for centre or scale
    for t, w in enumerate((40, 60, 80)):
        kp[t, :4] = [[100, 200], [100 + w, 200], [100, 210], [100 + w, 210]]
    kp[:, 50] = [130, 205]
    kp[:, 99] = [999, 999]  # not annotated: feature must be 0
    conf[1, [L_HIP, R_HIP]] = 0.9  # hips reliable from frame 1 on
    kp[1, L_HIP], kp[1, R_HIP] = [110, 300], [130, 310]
    feats, stats = normalize(kp, conf)
    assert stats.center == (120.0, 305.0)  # mid-hip at frame 1
    # frame sizes: frame 0 -> 40; frame 1 also has the hips -> max(60, 110) = 110; frame 2 -> 80
    assert stats.scale == pytest.approx(np.median([40, 110, 80]) / 2)
    assert feats.dtype == np.float32 and np.all(feats[:, 99] == 0)
    np.testing.assert_allclose(feats[0, 1], ([140, 200] - np.array([120, 305])) / 40, rtol=1e-6)
    back = denormalize(feats, stats)
    np.testing.assert_allclose(back[conf > 0], kp[conf > 0], atol=1e-4)


def test_normalize_face_only_and_degenerate():
    rng = np.random.default_rng(1)
    kp = (rng.random((4, NUM_KEYPOINTS, 2)) * 500).astype(np.float32)
    conf = np.zeros((4, NUM_KEYPOINTS), dtype=np.float32)
    conf[:, FACE] = 0.8
    conf[0] = 0  # face first reliable at frame 1
    _, stats = normalize(kp, conf)
    np.testing.assert_allclose(stats.center, kp[1, FACE].mean(axis=0), rtol=1e-6)
    sizes = [(kp[t, FACE].max(0) - kp[t, FACE].min(0)).max() for t in (1, 2, 3)]
    assert stats.scale == pytest.approx(np.median(sizes) / 2, rel=1e-6)
    # nothing annotated: centre 0, scale 1, features 0, never NaN
    feats, stats = normalize(kp, np.zeros_like(conf))
    assert stats == NormStats((0.0, 0.0), 1.0) and not feats.any()
    # annotated but never confident, all at one point: centre there, scale falls back to 1
    low = np.zeros_like(conf)
    low[:, 5] = 0.1
    same = np.broadcast_to(kp[:1], kp.shape).copy()
    feats, stats = normalize(same, low)
    assert stats.center == pytest.approx(tuple(kp[0, 5])) and stats.scale == 1.0 and np.isfinite(feats).all()
    with pytest.raises(ValueError, match="keypoints must have shape"):
        normalize(kp[..., :1], conf)


def test_denormalize_batch_numpy_and_torch():
    rng = np.random.default_rng(2)
    feats = rng.standard_normal((3, 5, NUM_KEYPOINTS, 3)).astype(np.float32)
    center, scale = rng.random((3, 2)) * 100, rng.random(3) + 0.5
    ref = feats[..., :2] * scale[:, None, None, None] + center[:, None, None, :]
    np.testing.assert_allclose(denormalize_batch(feats, center, scale), ref, rtol=1e-5)
    out = denormalize_batch(torch.from_numpy(feats), torch.as_tensor(center), torch.as_tensor(scale))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5)
    with pytest.raises(ValueError, match="center must be"):
        denormalize_batch(feats, center[:2], scale)


# --- MotionDataset ---------------------------------------------------------------------------


def test_padding_mask_and_round_trip_to_pixels(store):
    ds = MotionDataset(store, max_frames=196, crop="random")
    batch = collate([ds[k] for k in range(len(ds))])
    lengths = np.minimum(store.index.length, 196)
    assert batch.features.shape == (len(store), lengths.max(), NUM_KEYPOINTS, 3)
    assert batch.lengths.tolist() == lengths.tolist()
    assert batch.mask.sum(1).tolist() == lengths.tolist() and batch.mask[:, 0].all()
    assert not batch.features[~batch.mask].any()  # padding is zero
    pixels = to_pixels(batch).numpy()  # (B, T, K, 2)
    for b in range(len(batch)):
        i, s, n = int(batch.indices[b]), int(batch.starts[b]), int(batch.lengths[b])
        stored = np.asarray(store.frames(i)[s:s + n])
        assert np.array_equal(batch.features[b, :n, :, 2].numpy(), stored[..., 2])  # confidence untouched
        seen = stored[..., 2] > 0
        np.testing.assert_allclose(pixels[b, :n][seen], stored[..., :2][seen], atol=2e-3)
        assert not batch.features[b, :n, :, :2].numpy()[~seen].any()


def test_crops_and_captions_deterministic(store):
    def draws(**kw):
        ds = MotionDataset(store, **kw)
        return [(ds[k].start, ds[k].caption) for k in range(len(ds))]

    base = draws(max_frames=50, generator_seed=3)
    assert base == draws(max_frames=50, generator_seed=3)
    assert base != draws(max_frames=50, generator_seed=4)
    ds = MotionDataset(store, max_frames=50, generator_seed=3)
    ds.set_epoch(1)
    assert base != [(ds[k].start, ds[k].caption) for k in range(len(ds))]
    for k, (start, caption) in enumerate(base):
        T = int(store.index.length[k])
        assert 0 <= start <= max(0, T - 50) and caption in store.texts(k)
    assert [s for s, _ in draws(max_frames=50, crop="start")] == [0] * len(store)
    centre = [s for s, _ in draws(max_frames=50, crop="center")]
    assert centre == [max(0, int(T) - 50) // 2 for T in store.index.length]
    assert [c for _, c in draws(caption="first")] == [store.texts(i)[0] for i in range(len(store))]
    assert [c for _, c in draws(caption="all")] == [store.texts(i) for i in range(len(store))]


def test_indices_min_frames_and_bad_arguments(store):
    ds = MotionDataset(store, [3, 6, 0], min_frames=5)
    assert ds.indices.tolist() == [3, 0]  # clip 6 has 1 frame
    assert [ds[k].index for k in range(len(ds))] == [3, 0]
    for kw, word in [(dict(crop="middle"), "crop"), (dict(caption="longest"), "caption"),
                     (dict(max_frames=0), "max_frames"), (dict(indices=[99]), "indices")]:
        with pytest.raises(ValueError, match=word):
            MotionDataset(store, **kw)
    with pytest.raises(ValueError, match="pad_to"):
        collate([ds[0]], pad_to=3)
    padded = collate([ds[0], ds[1]], pad_to=300)
    assert padded.features.shape[1] == 300 and padded.mask.sum() == sum(ds[k].length for k in range(2))


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader(store, workers):
    ds = MotionDataset(store, max_frames=64, generator_seed=7)
    loader = torch.utils.data.DataLoader(ds, batch_size=5, shuffle=False, num_workers=workers, collate_fn=collate)
    batches = list(loader)
    assert [type(b) for b in batches] == [Batch] * 3 and sum(len(b) for b in batches) == len(ds)
    direct = collate([ds[k] for k in range(5)])
    assert torch.equal(batches[0].features, direct.features) and batches[0].captions == direct.captions
    moved = batches[0].to("cpu")
    assert moved.features.device.type == "cpu" and torch.equal(moved.scale, direct.scale)
