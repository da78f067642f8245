"""Motions over several VAE windows (tenderlib.models.windows): cover, weights, exact round trips."""
import math

import numpy as np
import pytest
import torch

from tenderlib.models.windows import Windows


def reference_weights(L: int, count: int, overlap: float, frames: int) -> np.ndarray:
    """(count, frames) blend weights by the module docstring's words, one window and frame at a time."""
    w = min(L, max(1, math.ceil(L / (count - (count - 1) * overlap) - 1e-9))) if count > 1 else L
    starts = [round((L - w) * k / (count - 1)) for k in range(count)] if count > 1 else [0]
    ramp = np.zeros((count, frames))
    for k, a in enumerate(starts):
        before = max(0, starts[k - 1] + w - a) if k > 0 else 0
        after = max(0, a + w - starts[k + 1]) if k < count - 1 else 0
        for u in range(w):
            r = 1.0
            if u < before:
                r = min(r, (u + 0.5) / before)
            if u >= w - after:
                r = min(r, (w - u - 0.5) / after)
            ramp[k, a + u] = r
    total = ramp.sum(0)
    return np.divide(ramp, total, out=np.zeros_like(ramp), where=total > 0)


@pytest.mark.parametrize("count,overlap,frames,longest", [(1, 0.25, 96, 96), (2, 0.25, 96, 168), (2, 0.0, 96, 192),
                                                          (3, 0.5, 96, 192), (2, 0.25, 32, 56)])
def test_max_length(count, overlap, frames, longest):
    w = Windows(count, overlap)
    assert w.max_length(frames) == longest
    size, starts = w.plan([longest])
    assert int(size) <= frames and int(starts[0, -1] + size[0]) == longest


@pytest.mark.parametrize("count,overlap", [(1, 0.25), (2, 0.25), (2, 0.0), (3, 0.5), (4, 0.3)])
def test_windows_cover_every_frame_and_weights_match_the_reference(count, overlap):
    w = Windows(count, overlap)
    lengths = np.arange(1, w.max_length(40) + 1)
    T = int(lengths.max())
    weights = w.weights(lengths, T).double().numpy()  # (B, W, T)
    size, starts = w.plan(lengths)
    for b, L in enumerate(lengths):
        assert int(starts[b, 0]) == 0 and int(starts[b, -1] + size[b]) == L  # the windows span the motion exactly
        np.testing.assert_allclose(weights[b].sum(0)[:L], 1.0, atol=1e-6)
        assert np.all(weights[b][:, L:] == 0)
        np.testing.assert_allclose(weights[b], reference_weights(int(L), count, overlap, T), atol=1e-6)


@pytest.mark.parametrize("count,overlap", [(1, 0.25), (2, 0.25), (3, 0.5)])
def test_cut_then_blend_gives_the_motion_back(count, overlap):
    w, F = Windows(count, overlap), 24
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([1, 2, 7, 24, w.max_length(F), w.max_length(F) - 3])
    T = int(lengths.max())
    x = torch.randn(len(lengths), T, 5, 3, generator=g) * (torch.arange(T)[None, :] < lengths[:, None])[..., None, None]
    pieces, piece_lengths = w.cut(x, lengths, F)
    assert pieces.shape == (len(lengths) * count, F, 5, 3)
    for row, n in enumerate(piece_lengths.tolist()):  # each piece is its window of the motion, zero after it
        b, k = divmod(row, count)
        start = int(w.plan(lengths)[1][b, k])
        torch.testing.assert_close(pieces[row, :n], x[b, start:start + n])
        assert torch.all(pieces[row, n:] == 0)
    torch.testing.assert_close(w.blend(pieces, lengths, T), x, atol=1e-6, rtol=0)


def test_one_window_is_the_motion_itself():
    x = torch.randn(3, 10, 4, 2)
    lengths = torch.tensor([10, 6, 1])
    pieces, n = Windows(1).cut(x, lengths, 12)
    assert n.tolist() == [10, 6, 1] and torch.equal(pieces[:, :10][0], x[0])
    assert torch.equal(Windows(1).blend(pieces, lengths, 10)[0], x[0])


def test_blend_cross_fades_disagreeing_windows():
    """Two windows that disagree (0 and 1) meet in a linear ramp over their overlap, not a step."""
    w = Windows(2, 0.5)
    pieces = torch.stack([torch.zeros(8, 1), torch.ones(8, 1)])  # one motion, 2 windows of 8 frames
    out = w.blend(pieces, [12], 12)[0, :, 0]  # windows at 0 and 4: overlap frames 4-7
    np.testing.assert_allclose(out.numpy(), [0, 0, 0, 0, 0.125, 0.375, 0.625, 0.875, 1, 1, 1, 1], atol=1e-6)


def test_blend_passes_gradients():
    pieces = torch.randn(4, 16, 2, requires_grad=True)
    Windows(2, 0.25).blend(pieces, [20, 28], 28).sum().backward()
    assert pieces.grad is not None and pieces.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs,match", [(dict(count=0), "windows must be an int"),
                                          (dict(count=True), "windows must be an int"),
                                          (dict(count=2, overlap=1.0), "window_overlap must be"),
                                          (dict(count=2, overlap=-0.1), "window_overlap must be"),
                                          (dict(count=2, overlap="0.2"), "window_overlap must be")])
def test_bad_windows(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Windows(**kwargs)


def test_a_motion_too_long_for_the_windows_is_refused():
    with pytest.raises(ValueError, match="at most 168 frames with 2 windows"):
        Windows(2, 0.25).cut(torch.zeros(1, 170, 1), [170], 96)
    with pytest.raises(ValueError, match="lengths must be >= 1"):
        Windows(2).plan([0])
