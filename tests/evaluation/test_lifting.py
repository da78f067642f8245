"""Lifting data and metrics: views filmed from 3D truth, MPJPE and PA-MPJPE against their formulas."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tenderlib import synthetic
from tenderlib.evaluation import lifting


@pytest.fixture(scope="module")
def clip():
    cfg = synthetic.SyntheticConfig(num_clips=50)
    return next(m for m in synthetic.make_clips(cfg, range(50)) if len(m.keypoints) >= 30)


def test_mpjpe_is_the_mean_joint_distance():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 23, 3)), rng.normal(size=(4, 23, 3))
    expected = [np.mean([np.sqrt(((a[f, j] - b[f, j]) ** 2).sum()) for j in range(23)]) for f in range(4)]
    np.testing.assert_allclose(lifting.mpjpe(a, b), expected)


def test_pa_mpjpe_ignores_rotation_scale_and_translation_only():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(3, 23, 3))
    rot = Rotation.random(3, random_state=2).as_matrix()  # (3, 3, 3)
    moved = 1.7 * np.einsum("fij,fkj->fki", rot, truth) + np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(lifting.pa_mpjpe(moved, truth), 0.0, atol=1e-9)
    noisy = truth + rng.normal(scale=0.05, size=truth.shape)
    assert np.all(lifting.pa_mpjpe(noisy, truth) <= lifting.mpjpe(noisy, truth) + 1e-12)
    mirrored = truth * np.array([-1.0, 1.0, 1.0])  # a reflection is not a rotation: not aligned away
    assert lifting.pa_mpjpe(mirrored, truth).min() > 0.05
    with pytest.raises(ValueError, match="same shape"):
        lifting.mpjpe(truth, truth[:, :17])


def test_a_view_pairs_the_detectors_2d_with_camera_space_truth(clip):
    a = lifting.film(clip.keypoints_3d, np.random.default_rng(5))
    b = lifting.film(clip.keypoints_3d, np.random.default_rng(5))
    np.testing.assert_array_equal(a.keypoints, b.keypoints)  # seeded
    T = len(clip.keypoints)
    assert a.keypoints.shape == (T, 133, 2) and a.truth.shape == (T, 23, 3)
    assert a.confidence[:, :23].mean() > 0.5 and not a.confidence[:, 23:].any()  # body and feet only
    np.testing.assert_allclose((a.truth[:, 11] + a.truth[:, 12]) / 2, 0, atol=1e-5)  # root-relative
    # bone lengths are the figure's, whatever the camera (a rigid change of frame)
    world = clip.keypoints_3d[:, :23].astype(np.float64)
    bone = lambda p: np.linalg.norm(p[:, 13] - p[:, 15], axis=-1)  # noqa: E731  left knee - left ankle
    np.testing.assert_allclose(bone(a.truth), bone(world), rtol=1e-4)
    # the camera looks roughly at the front: the nose is nearer the camera than the ears' midpoint
    ears = (a.truth[:, 3, 2] + a.truth[:, 4, 2]) / 2
    assert np.mean(a.truth[:, 0, 2] < ears) > 0.5


def test_training_windows_and_h36m_joints(clip):
    views = [lifting.film(clip.keypoints_3d, np.random.default_rng(s)) for s in range(2)]
    data = lifting.training_windows(views, 9)
    T = len(clip.keypoints)
    n = len(range(0, T - 9 + 1, 9)) + (1 if (T - 9) % 9 else 0)
    assert data["inputs"].shape == (2 * n, 9, 23, 3) == data["targets"].shape
    h = lifting.h36m_joints(views[0].truth)
    assert h.shape == (T, 17, 3)
    np.testing.assert_allclose(h[:, 0], 0, atol=1e-5)  # the pelvis is the mid-hip root
    with pytest.raises(ValueError, match="at least 400 frames"):
        lifting.training_windows(views, 400)
    with pytest.raises(ValueError, match="points must be"):
        lifting.film(np.zeros((5, 17, 3)), np.random.default_rng(0))
