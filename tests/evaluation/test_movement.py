"""Movement measures against hand-computed values, the held-pose baselines, time corruptions, and
bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tenderlib.data import corruptions
from tenderlib.evaluation import movement
from tenderlib.data.skeleton import NUM_KEYPOINTS, part_indices

K = NUM_KEYPOINTS
BODY, FOOT, FACE, HAND = part_indices(4)


def _clip(T=40, amp=1.0, seed=0, fps=30.0):
    """A clip whose every keypoint moves on x by amp * sin(t / 5) around its own offset."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(1, K, 2))
    t = np.arange(T)[:, None]
    xy = np.repeat(base, T, 0)
    xy[..., 0] += amp * np.sin(t / 5.0)
    return movement.Clip(xy, np.ones((T, K), bool), fps)


def test_std_and_displacement_match_hand_formula():
    c = _clip(T=40, amp=2.0)
    m = movement.PartMovement.of([c])
    s = 2.0 * np.sin(np.arange(40) / 5.0)
    want_std = np.sqrt(np.mean((s - s.mean()) ** 2))
    want_disp = np.mean(np.abs(s[15:] - s[:-15]))
    np.testing.assert_allclose(m.std, want_std, rtol=1e-12)
    np.testing.assert_allclose(m.displacement, want_disp, rtol=1e-12)


def test_lag_scales_with_fps():
    assert movement.lag(30) == 15 and movement.lag(60) == 30 and movement.lag(25) == 12 and movement.lag(1) == 1


def test_invalid_keypoints_do_not_count():
    c = _clip(T=40, amp=1.0)
    xy = c.xy.copy()
    valid = c.valid.copy()
    xy[:, HAND] = 1e6  # garbage where not annotated
    valid[:, HAND] = False
    m = movement.PartMovement.of([movement.Clip(xy, valid)])
    assert np.isnan(m.std[3]) and np.isnan(m.displacement[3])
    np.testing.assert_allclose(m.std[:3], movement.PartMovement.of([c]).std[:3])


def test_reconstruction_of_the_truth_and_of_half_the_movement():
    truths = [_clip(seed=s, amp=1.0 + s) for s in range(3)]
    same = movement.reconstruction_movement(truths, truths)["model"]
    for part in movement.PARTS:
        assert same[f"{part}_std_ratio"] == pytest.approx(1.0)
        assert same[f"{part}_disp_ratio"] == pytest.approx(1.0)
        assert same[f"{part}_correlation"] == pytest.approx(1.0)
        assert same[f"{part}_movement_error"] == pytest.approx(0.0, abs=1e-12)
    # a prediction that keeps the pose and half of each deviation from the clip mean
    halves = []
    for c in truths:
        mean = c.xy.mean(0, keepdims=True)
        halves.append(movement.Clip(mean + 0.5 * (c.xy - mean), c.valid))
    table = movement.reconstruction_movement(halves, truths)
    half = table["model"]
    assert half["body_std_ratio"] == pytest.approx(0.5) and half["hand_disp_ratio"] == pytest.approx(0.5)
    assert half["face_correlation"] == pytest.approx(1.0)
    held = table["mean pose held"]
    assert held["body_std_ratio"] == 0 and held["body_disp_ratio"] == 0
    # the held mean pose: its movement error is the truth's mean deviation, and equals its pose error
    assert held["body_movement_error"] == pytest.approx(held["body_pose_error"])
    assert half["body_movement_error"] == pytest.approx(0.5 * held["body_movement_error"])
    first = table["first frame held"]
    assert first["body_movement_error"] == pytest.approx(held["body_movement_error"])
    assert first["body_pose_error"] > held["body_pose_error"]


def test_generation_ratios_and_caption_spread():
    real = [_clip(seed=s, amp=1.0) for s in range(4)]
    gen = [movement.Clip(c.xy * 0.25, c.valid) for c in real]  # everything shrunk: a quarter of the movement
    caps = ["a", "a", "b", "b"]
    rows = movement.generation_movement(gen, caps, real, caps)
    for part in movement.PARTS:
        assert rows["ratio"][f"{part}_std"] == pytest.approx(0.25)
        assert rows["ratio"][f"{part}_disp"] == pytest.approx(0.25)
        assert rows["ratio"][f"{part}_spread"] == pytest.approx(0.25)
    # spread: the mean frame-by-frame distance between the two clips of each caption
    d = [np.linalg.norm(real[a].xy - real[b].xy, axis=-1)[:, BODY] for a, b in ((0, 1), (2, 3))]
    assert rows["real"]["body_spread"] == pytest.approx(np.mean(np.concatenate(d)))
    # identical samples of a caption have spread 0
    same = movement.generation_movement([real[0], real[0]], ["a", "a"], real, caps)
    assert same["ratio"]["face_spread"] == 0
    # captions on one side only do not count
    only = movement.generation_movement(gen + [_clip(amp=50.0)], caps + ["c"], real, caps)
    assert only["ratio"]["body_std"] == pytest.approx(0.25)


def test_clips_from_features():
    f = torch.zeros(2, 5, K, 3)
    f[..., 2] = 0.9
    f[1, :, FACE, 2] = 0.1
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    clips = movement.clips_from_features(f, mask, fps=[30.0, 60.0])
    assert clips[0].xy.shape == (3, K, 2) and clips[1].fps == 60.0
    assert clips[1].valid[:, FACE].sum() == 0 and clips[1].valid[:, BODY].all()


def test_bad_input_raises():
    with pytest.raises(ValueError, match="xy must have shape"):
        movement.Clip(np.zeros((5, K)), np.ones((5, K), bool))
    with pytest.raises(ValueError, match="valid must have shape"):
        movement.Clip(np.zeros((5, K, 2)), np.ones((4, K), bool))
    with pytest.raises(ValueError, match="NaN"):
        movement.Clip(np.full((5, K, 2), np.nan), np.ones((5, K), bool))
    with pytest.raises(ValueError, match="fps"):
        movement.Clip(np.zeros((5, K, 2)), np.ones((5, K), bool), fps=0)
    with pytest.raises(ValueError, match="predictions for"):
        movement.reconstruction_movement([_clip()], [])
    with pytest.raises(ValueError, match="differ in shape"):
        movement.reconstruction_movement([_clip(T=10)], [_clip(T=12)])
    with pytest.raises(ValueError, match="no caption is shared"):
        movement.generation_movement([_clip()], ["a"], [_clip()], ["b"])
    with pytest.raises(ValueError, match="prefix"):
        movement.clips_from_features(torch.zeros(1, 3, K, 3), torch.tensor([[False, True, True]]))


# --- time corruptions --------------------------------------------------------------------------


def _features(B=3, T=10, lengths=(10, 7, 4), seed=0):
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(B, T, K, 3, generator=g)
    f[..., 2] = torch.rand(B, T, K, generator=g) + 0.1
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    return f * mask[:, :, None, None], mask


@pytest.mark.parametrize("kind", corruptions.CORRUPTIONS)
def test_corruptions_keep_padding_and_the_set_of_poses(kind):
    f, mask = _features()
    out = corruptions.corrupt(f, mask, kind, torch.Generator().manual_seed(1))
    assert out.shape == f.shape
    assert torch.equal(out[~mask], f[~mask])
    if kind in ("shuffled", "reversed"):  # the same frames, in another order
        for b in range(3):
            n = int(mask[b].sum())
            a = f[b, :n].flatten(1)
            o = out[b, :n].flatten(1)
            assert torch.equal(a[a[:, 0].argsort()], o[o[:, 0].argsort()])
    else:  # one pose held over every real frame
        for b in range(3):
            n = int(mask[b].sum())
            assert torch.equal(out[b, :n], out[b, :1].expand(n, -1, -1))


def test_corruptions_against_hand_formulas():
    f, mask = _features()
    rev = corruptions.corrupt(f, mask, "reversed")
    assert torch.equal(rev[1, :7], f[1, :7].flip(0))
    first = corruptions.corrupt(f, mask, "first")
    assert torch.equal(first[2, :4], f[2, :1].expand(4, -1, -1))
    f[0, 3:, 5, 2] = 0  # keypoint 5 annotated in frames 0-2 only
    frozen = corruptions.corrupt(f, mask, "frozen")
    torch.testing.assert_close(frozen[0, 9, 5], f[0, :3, 5].mean(0))
    torch.testing.assert_close(frozen[1, 0, 7], f[1, :7, 7].mean(0))
    shuffled = corruptions.corrupt(f, mask, "shuffled", torch.Generator().manual_seed(0))
    assert not torch.equal(shuffled[0], f[0])  # 10 frames: identity has probability 1 / 10!
    again = corruptions.corrupt(f, mask, "shuffled", torch.Generator().manual_seed(0))
    assert torch.equal(shuffled, again)


def test_corrupt_bad_input():
    f, mask = _features()
    with pytest.raises(ValueError, match="corruption must be one of"):
        corruptions.corrupt(f, mask, "sideways")
    with pytest.raises(ValueError, match="prefix"):
        corruptions.corrupt(f, mask.flip(1), "reversed")
    with pytest.raises(ValueError, match="expected"):
        corruptions.corrupt(f[..., :2], mask, "reversed")


def test_generation_spread_read_from_samples_against_the_real_clips_of_their_captions():
    real = [_clip(seed=s, amp=1.0) for s in range(4)]
    caps = ["a", "a", "b", "b"]
    samples = [movement.Clip(c.xy * 0.5, c.valid) for c in real[:2]]  # two samples of "a", half as far apart
    rows = movement.generation_movement(real, caps, real, caps, samples, ["a", "a"])
    assert rows["ratio"]["body_std"] == pytest.approx(1.0)  # std and displacement from `generated`
    assert rows["ratio"]["face_spread"] == pytest.approx(0.5)  # spread: samples vs the real clips of "a"
    d = np.linalg.norm(real[0].xy - real[1].xy, axis=-1)[:, BODY]
    assert rows["real"]["body_spread"] == pytest.approx(d.mean())
    with pytest.raises(ValueError, match="sample_captions"):
        movement.generation_movement(real, caps, real, caps, samples)
    with pytest.raises(ValueError, match="samples and the real"):
        movement.generation_movement(real, caps, real, caps, samples, ["c", "c"])
