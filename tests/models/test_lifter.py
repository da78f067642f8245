"""The 2D -> 3D lifters: shapes, the root, windows, MotionBERT's crop normalisation, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tenderlib.data.normalize import crop_box, crop_scale
from tenderlib.models import lifter
from tenderlib.models.lifter import JOINTS, Lifter, LifterConfig, lift, lifter_input, root_relative, window_starts

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = dict(width=16, depth=1, heads=2, joint_width=8, window=9, dropout=0.0)


@pytest.mark.parametrize("kind", lifter.KINDS)
def test_output_is_root_relative_3d_per_frame(kind):
    model = lifter.build(LifterConfig(kind=kind, **SMALL)).eval()
    x = torch.randn(2, 9, JOINTS, 3)
    out = model(x)
    assert out.shape == (2, 9, JOINTS, 3)
    root = (out[:, :, lifter.HIPS[0]] + out[:, :, lifter.HIPS[1]]) / 2
    torch.testing.assert_close(root, torch.zeros_like(root), atol=1e-6, rtol=0)
    assert model(x[:, :4]).shape == (2, 4, JOINTS, 3)  # shorter windows are fine


def test_the_mlp_sees_frames_alone_and_the_transformer_sees_time():
    x = torch.randn(1, 9, JOINTS, 3)
    y = x.clone()
    y[0, 8] += 1.0  # change the last frame only
    tr, mlp = (lifter.build(LifterConfig(kind=k, **SMALL)).eval() for k in lifter.KINDS)
    torch.testing.assert_close(mlp(x)[0, :8], mlp(y)[0, :8])
    assert not torch.allclose(tr(x)[0, :8], tr(y)[0, :8])


def test_crop_scale_is_motionberts_square_crop():
    xy = np.zeros((1, 2, 5, 2))
    xy[0, :, :, 0] = [[100, 200, 150, 120, 130], [110, 190, 150, 120, 130]]  # x spans 100..200
    xy[0, :, :, 1] = 50 + np.arange(5)  # y spans 50..54: the square's side is the width, 100
    conf = np.ones((1, 2, 5))
    center, side = crop_box(xy, conf)
    np.testing.assert_allclose(center, [[150, 52]])
    np.testing.assert_allclose(side, [100])
    out = crop_scale(xy, conf)
    np.testing.assert_allclose(out[0, 0, 0], [-1.0, (50 - 52) / 50])
    np.testing.assert_allclose(out[0, 0, 1], [1.0, (51 - 52) / 50])
    np.testing.assert_allclose(crop_scale(xy, conf, scale=2.0)[0, 0, 1], [0.5, (51 - 52) / 100])
    conf[0, :, :] = 0
    conf[0, 0, :3] = 1  # 3 detected points: fewer than 4, all zeros as MotionBERT
    assert not crop_scale(xy, conf).any()
    with pytest.raises(ValueError, match="scale"):
        crop_scale(xy, conf, scale=0.0)


def test_lifter_input_normalises_body_and_feet_and_zeroes_the_undetected():
    kp = np.random.default_rng(0).uniform(0, 500, (6, 133, 2))
    conf = np.ones((6, 133))
    conf[2, 4] = 0.0
    x = lifter_input(kp, conf)
    assert x.shape == (6, JOINTS, 3) and x.dtype == np.float32
    assert np.abs(x[..., :2]).max() <= 1.0 and x[2, 4].tolist() == [0.0, 0.0, 0.0]
    p = np.random.default_rng(1).normal(size=(4, 133, 3))
    r = root_relative(p)
    np.testing.assert_allclose((r[:, 11] + r[:, 12]) / 2, 0, atol=1e-6)


def test_window_starts_cover_every_frame_once_or_more():
    assert window_starts(5, 9) == [0]
    assert window_starts(9, 9) == [0]
    assert window_starts(20, 9) == [0, 9, 11]
    for T in range(9, 40):
        covered = np.zeros(T, bool)
        for s in window_starts(T, 9):
            covered[s:s + 9] = True
        assert covered.all()


def test_lift_a_clip_of_any_length():
    model = lifter.build(LifterConfig(**SMALL)).eval()
    rng = np.random.default_rng(0)
    for T in (1, 5, 9, 23):
        out = lift(model, rng.uniform(0, 300, (T, 133, 2)), np.ones((T, 133)))
        assert out.shape == (T, JOINTS, 3) and np.isfinite(out).all()
    kp = rng.uniform(0, 300, (9, 133, 2))  # one window: the same as the model on it
    direct = model(torch.from_numpy(lifter_input(kp, np.ones((9, 133))))[None])[0].detach().numpy()
    np.testing.assert_allclose(lift(model, kp, np.ones((9, 133))), direct, rtol=1e-5, atol=1e-6)


def test_bad_input_is_refused():
    model = Lifter(LifterConfig(**SMALL))
    with pytest.raises(ValueError, match="at most 9 frames"):
        model(torch.zeros(1, 10, JOINTS, 3))
    with pytest.raises(ValueError, match="shape"):
        model(torch.zeros(1, 9, 17, 3))
    with pytest.raises(ValueError, match="keypoints must be"):
        lift(model, np.zeros((4, 17, 2)), np.zeros((4, 17)))
    with pytest.raises(ValueError, match="kind"):
        LifterConfig(kind="lstm")
    with pytest.raises(ValueError, match="heads"):
        LifterConfig(width=30, heads=4)
