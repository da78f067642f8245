"""Realism statistics on constructed clips: hand-computed speeds, zero acceleration at constant
velocity, perfect periodicity of a sinusoid, rigid limbs, symmetry, diversity; the shared camera."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tenderlib import paths, synthetic
from tenderlib.evaluation import realism
from tenderlib.synthetic.program import BodySegment, Program
from tenderlib.data.skeleton import KEYPOINT_INDEX as K

J = realism.BODY.size  # 17


def template() -> np.ndarray:
    """(17, 2) a front-facing body: shoulders (+-1, 2), hips (+-0.5, 0), so the trunk is 2 long."""
    p = np.zeros((J, 2))
    p[K["left_shoulder"]], p[K["right_shoulder"]] = (1, 2), (-1, 2)
    p[K["left_hip"]], p[K["right_hip"]] = (0.5, 0), (-0.5, 0)
    p[K["left_elbow"]], p[K["right_elbow"]] = (1.5, 1), (-1.5, 1)
    p[K["left_wrist"]], p[K["right_wrist"]] = (1.5, 0), (-1.5, 0)
    p[K["left_knee"]], p[K["right_knee"]] = (0.5, -2), (-0.5, -2)
    p[K["left_ankle"]], p[K["right_ankle"]] = (0.5, -4), (-0.5, -4)
    p[:5] = (0, 3)  # nose, eyes, ears
    return p


def still(T: int = 50) -> np.ndarray:
    return np.repeat(template()[None], T, axis=0)  # (T, 17, 2)


def test_body_size_is_the_median_trunk_length():
    kp = still(5)
    assert realism.body_size(kp) == pytest.approx(2.0)
    kp[:2] *= 3  # two frames three times larger: the median ignores them
    assert realism.body_size(kp) == pytest.approx(2.0)


def test_constant_velocity_has_hand_computed_speed_and_zero_acceleration():
    fps, v = 25.0, np.array([3.0, -4.0])  # 5 units per frame
    kp = still(40) + np.arange(40)[:, None, None] * v
    s = realism.clip_stats(kp, fps)
    np.testing.assert_allclose(s.speed, 5.0 * fps / 2.0)  # |v| fps / body size, every joint and frame
    np.testing.assert_allclose(s.acceleration, 0.0, atol=1e-9)
    assert s.speed.shape == (39, J) and s.acceleration.shape == (38, J)
    np.testing.assert_allclose(s.bone_cv, 0.0, atol=1e-12)  # translation keeps every limb length
    assert s.arm_asymmetry == pytest.approx(0.0) and s.leg_asymmetry == pytest.approx(0.0)


def test_constant_acceleration_hand_computed():
    fps, a = 10.0, 0.5  # x = a t^2 / 2 per frame units: second difference = a
    t = np.arange(30.0)
    kp = still(30)
    kp[..., 0] += 0.5 * a * t[:, None] ** 2
    s = realism.clip_stats(kp, fps)
    np.testing.assert_allclose(s.acceleration, a * fps * fps / 2.0, rtol=1e-9)


def test_pure_sinusoid_is_perfectly_periodic_and_a_ramp_is_not():
    fps, period = 30.0, 24  # frames
    t = np.arange(240)
    x = np.sin(2 * np.pi * t / period)[:, None] * np.array([1.0, 0.3])  # (T, 2)
    peak, lag = realism.autocorrelation_peak(x, fps, min_period_s=0.3)
    assert peak == pytest.approx(1.0, abs=1e-9) and lag == pytest.approx(period / fps)
    ramp = np.linspace(0, 1, 120)[:, None] * np.ones((1, 3))
    assert realism.autocorrelation_peak(ramp, fps) == (0.0, 0.0)  # no positive peak after its zero crossing
    # in a clip: the left wrist swings periodically -> the clip's periodicity is ~1
    kp = still(240)
    kp[:, K["left_wrist"], 1] += np.sin(2 * np.pi * t / period)
    assert realism.clip_stats(kp, fps).periodicity == pytest.approx(1.0, abs=1e-9)


def test_autocorrelation_matches_the_direct_formula():
    x = np.random.default_rng(0).standard_normal((37, 4))
    r = realism.autocorrelation(x)
    xc = x - x.mean(axis=0)
    for lag in (0, 1, 5, 20, 36):
        a, b = xc[:len(x) - lag], xc[lag:]
        assert r[lag] == pytest.approx((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()), abs=1e-12)


def test_bone_cv_hand_computed_and_rigid_rotation_has_none():
    kp = still(4)
    kp[:, K["left_wrist"], 1] = [0.0, -1.0, 0.0, -1.0]  # left forearm 1, 2, 1, 2 long
    cv = realism.clip_stats(kp, 30.0).bone_cv
    names = [name for name, _, _ in realism.LIMBS]
    assert cv[names.index("left_forearm")] == pytest.approx(0.5 / 1.5)  # std / mean of (1, 2, 1, 2)
    assert np.delete(cv, names.index("left_forearm")).max() == 0.0
    theta = np.linspace(0, np.pi, 30)  # the whole body turned in the image plane
    rot = np.stack([np.stack([np.cos(theta), -np.sin(theta)], -1), np.stack([np.sin(theta), np.cos(theta)], -1)], -2)
    turned = np.einsum("tij,kj->tki", rot, template())
    np.testing.assert_allclose(realism.clip_stats(turned, 30.0).bone_cv, 0.0, atol=1e-12)


def test_left_right_symmetry():
    t = np.arange(60)
    kp = still(60)
    for side, amp in (("left", 2.0), ("right", 1.0)):
        for joint in ("elbow", "wrist"):
            kp[:, K[f"{side}_{joint}"], 0] += amp * np.sin(t / 5)
    s = realism.clip_stats(kp, 30.0)
    assert s.arm_asymmetry == pytest.approx(1.0, abs=1e-6)  # log2(2 / 1)
    assert s.leg_asymmetry == pytest.approx(0.0)  # both legs still


def test_dataset_diversity_hand_computed():
    base = still(20)
    shifted = base.copy()
    shifted[:, K["left_wrist"], 0] += 4.0  # 2 body sizes, on one of 17 joints
    same = realism.dataset_stats([(base, 30.0), (base.copy(), 30.0)], "same")
    assert same.pose_distance == 0.0 and same.num_clips == 2
    two = realism.dataset_stats([(base, 30.0), (shifted, 30.0)], "two", realism.RealismConfig(pose_pairs=50))
    assert two.pose_distance == pytest.approx(2.0 / J)  # pairs always come from two different clips
    # poses that vary along one direction only use one principal component
    assert two.pca_participation == pytest.approx(1.0)
    assert two.pca_spectrum[0] == pytest.approx(1.0)


def test_bad_input_raises_naming_the_problem():
    with pytest.raises(ValueError, match=r"keypoints must be the body joints"):
        realism.clip_stats(np.zeros((10, 133, 2)), 30.0)
    with pytest.raises(ValueError, match="at least 4 frames"):
        realism.clip_stats(still(3), 30.0)
    with pytest.raises(ValueError, match="fps"):
        realism.clip_stats(still(10), 0.0)
    bad = still(10)
    bad[3, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        realism.clip_stats(bad, 30.0)
    with pytest.raises(ValueError, match="body size"):
        realism.clip_stats(np.zeros((10, J, 2)), 30.0)
    with pytest.raises(ValueError, match="need at least 2 clips"):
        realism.dataset_stats([(still(20), 30.0), (still(5), 30.0)])  # the short one is left out
    with pytest.raises(ValueError, match="min_period_s"):
        realism.RealismConfig(min_period_s=0)
    with pytest.raises(ValueError, match="pose_pairs"):
        realism.RealismConfig(pose_pairs=0)
    a = realism.dataset_stats([(still(20), 30.0), (still(20), 30.0)], "x")
    with pytest.raises(ValueError, match="distinct names"):
        realism.compare(a, a)
    with pytest.raises(ValueError, match="group must be one of"):
        realism.matched([], [], "juggling")
    with pytest.raises(ValueError, match="points must have shape"):
        realism.project_clip(np.zeros((5, 17, 3)), 30.0, np.random.default_rng(0))


def _clip(action: str, side: str = "none", reps: int = 2):
    return synthetic.make_program_clip(Program((BodySegment(action, side, reps),)), source="syn-idea400")


def test_facing_and_the_follow_camera():
    m = _clip("stand")
    np.testing.assert_allclose(realism.facing(m.keypoints_3d), np.tile([0, 0, 1.0], (m.num_frames, 1)), atol=0.05)
    # a subject that travels at a steady speed is filmed exactly like one that stays put
    T = m.num_frames
    moving = m.keypoints_3d.astype(np.float64) + np.arange(T)[:, None, None] * np.array([0.02, 0.0, 0.03])
    a = realism.project_clip(m.keypoints_3d, m.fps, np.random.default_rng(1))
    b = realism.project_clip(moving, m.fps, np.random.default_rng(1))
    assert a.shape == (T, J, 2)
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_compare_and_matched_groups():
    bows = [_clip("bow", reps=1), _clip("bow", reps=2)]
    waves = [_clip("wave", "left"), _clip("point", "right")]
    mocap = []  # stand-ins for capture clips: labels as read_bandai writes them
    for m, content in zip(bows + waves, ("bow", "bow", "bye", "guide")):
        m2 = synthetic.make_program_clip(Program((BodySegment("bow" if content == "bow" else "raise_arm",
                                                              "none" if content == "bow" else "left", 1),)), seed=5)
        m2.labels = {"action": content}
        mocap.append(m2)
    table = realism.compare_matched(mocap, {"syn": bows + waves})
    assert table.loc[("bow", "clips"), "mocap"] == 2 and table.loc[("bow", "clips"), "syn"] == 2
    assert table.loc[("arm gestures", "clips"), "syn"] == 2
    assert np.isfinite(table.loc[("bow", "speed p95 (1/s)")]).all()
    assert np.isnan(table.loc[("walk", "speed p95 (1/s)"), "mocap"])  # no walks: not enough clips
    stats = realism.dataset_stats(realism.filmed(bows + waves), "syn")
    summary = realism.compare(stats)
    assert list(summary.columns) == ["syn"] and "periodicity (mean peak)" in summary.index


BANDAI = Path(paths.repo_root()).parent / "shared" / "data" / "bandai-namco-1"


@pytest.mark.skipif(not BANDAI.is_dir(), reason="../shared/data/bandai-namco-1 is not present")
def test_bandai_sample_spreads_over_contents():
    clips = realism.bandai_sample(BANDAI, 3)
    assert len(clips) == 3 and len({m.labels["action"] for m in clips}) == 3
    assert all(m.keypoints_3d is not None and m.fps > 0 for m in clips)
    with pytest.raises(ValueError, match="max_clips"):
        realism.bandai_sample(BANDAI, 0)
