"""Notebook 06's experiments: lifters trained by config, constraints taken from real clips, bad input."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tenderlib import params, synthetic
from tenderlib.data.normalize import normalize
from tenderlib.data.skeleton import KEYPOINT_INDEX
from tenderlib.data.store import build_store
from tenderlib.evaluation import lifting
from tenderlib.experiments import downstream
from tenderlib.models.constraints import ROOT, joints_of
from tenderlib.models.lifter import LifterConfig
from tenderlib.models.pipeline import placement
from tenderlib.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    motions = synthetic.make_clips(synthetic.SyntheticConfig(num_clips=80, seed=4), range(80))
    return build_store(motions, tmp_path_factory.mktemp("downstream") / "store")


@pytest.fixture(scope="module")
def flat_store(tmp_path_factory):
    motions = synthetic.make_clips(synthetic.SyntheticConfig(num_clips=10, seed=4, keep_3d=False), range(10))
    return build_store(motions, tmp_path_factory.mktemp("flat") / "store")


def test_configs_take_notebook_03s_models_and_refuse_a_lifter_kind():
    s = downstream.configs({"max_steps": 7, "width": 32, "heads": 2, "mlp_width": 64}, params.snapshot({}))
    assert s.lifter.kind == "transformer" and s.mlp.kind == "mlp" and s.mlp.width == 64
    assert s.mlp.depth == s.lifter.depth and s.lifter_train.max_steps == 7
    assert s.generation.run.profile == s.run.profile == "smoke"
    with pytest.raises(ValueError, match="kind"):
        downstream.configs({"kind": "mlp"}, params.snapshot({}))
    for bad, message in ((dict(pose_width=255), "even"), (dict(pose_height=0), "even"), (dict(guidance_lrs=()), "guidance"),
                         (dict(constraint_clips=0), "constraint_clips")):
        with pytest.raises(ValueError, match=message):
            downstream.DownstreamConfig(**bad)


def test_lifter_trains_by_config_then_loads(store, tender_root):
    cfg = LifterConfig(width=16, depth=1, heads=2, joint_width=8, window=9, dropout=0.0)
    train = TrainConfig(max_steps=6, batch_size=8, progress="off")
    study = downstream.DownstreamConfig(lift_clips=12, lift_views=1)
    first = downstream.load_or_train_lifter(cfg, train, store, study, "smoke")
    again = downstream.load_or_train_lifter(cfg, train, store, study, "smoke")
    assert first.trained_now and not again.trained_now and again.step == 6
    assert (first.run_dir / "data.json").is_file()
    other = downstream.load_or_train_lifter(cfg, train, store, dataclasses.replace(study, lift_views=2), "smoke")
    assert other.run_dir != first.run_dir  # the data is part of the run's identity
    views = downstream.lifting_views([store.keypoints_3d(int(i)) for i in downstream.clips_with_3d(store, "test", 3)],
                                     1, 0)
    rows = downstream.lifting_rows({"t": again.model}, {"syn": views})
    assert rows[0]["frames"] == sum(len(v.truth) for v in views)
    pred = np.concatenate(downstream.lift_views(again.model, views))
    truth = np.concatenate([v.truth for v in views])
    assert rows[0]["MPJPE (mm)"] == pytest.approx(1000 * lifting.mpjpe(pred, truth).mean(), rel=1e-6)


def test_clips_without_3d_are_a_clear_error(flat_store):
    with pytest.raises(ValueError, match="carries 3D truth"):
        downstream.clips_with_3d(flat_store, "train", 0)


def test_keyframes_come_from_the_real_clips_placed_like_generated_motions(store):
    idx = store.select(downstream.Selection(split="test"))[:4]
    lengths = [min(20, int(store.index.length[int(i)])) for i in idx]
    kf = downstream.keyframes_from(store, idx, 20, "keyframes", (512, 512))
    traj = downstream.keyframes_from(store, idx, 20, "trajectory", (512, 512))
    assert set(kf.joint.tolist()) <= {KEYPOINT_INDEX["left_wrist"], KEYPOINT_INDEX["right_wrist"]}
    assert set(traj.joint.tolist()) == {ROOT} and np.all(traj.frame < np.array(lengths)[traj.motion])
    # the root starts at the image centre at each clip's first constrained frame, as generated motions do
    center, _ = placement((512, 512))
    first = traj.xy[(traj.frame == 0)]
    np.testing.assert_allclose(first, np.broadcast_to(center, first.shape), atol=1e-3)
    # the keyframes are the clip's own joints: pixels of its centre crop, normalised and its root at the
    # origin at the crop's first frame, mapped by the placement
    m = store.clip(int(idx[0]))
    start = max(0, (len(m.keypoints) - 20) // 2)
    feats = normalize(m.keypoints, m.confidence, store.norm_stats(int(idx[0])))[0][start:start + lengths[0]]
    feats = feats - joints_of(feats[:1])[0, ROOT]
    center, scale = placement((512, 512))
    k0 = kf.motion == 0
    np.testing.assert_allclose(kf.xy[k0], joints_of(feats * scale + center)[kf.frame[k0], kf.joint[k0]], atol=1e-4)
    with pytest.raises(ValueError, match="kind"):
        downstream.keyframes_from(store, idx, 20, "pose", (512, 512))
