"""Training loop: exact resume after a kill, load-or-train, checkpoint format and mismatches, DDP smoke, quiet."""
from __future__ import annotations

import json
import socket

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tenderlib import training
from tenderlib.dataset import MotionDataset
from tenderlib.motion import NUM_KEYPOINTS, Motion
from tenderlib.skeleton import REGIONS
from tenderlib.store import build_store
from tenderlib.training import CheckpointMismatchError, TrainConfig, train
from tenderlib.vae import PAVAE, VAEConfig
from tenderlib.vae_runs import evaluate_reconstruction

TINY = VAEConfig(spatial_dim=8, latent_tokens=2, latent_dim=16, num_layers=3, num_heads=2, ff_dim=32,
                 max_frames=12, dropout=0.1, velocity_weight=0.5)


def motion(rng, i):
    T = int(rng.integers(6, 20))
    kp = (rng.random((T, NUM_KEYPOINTS, 2)) * [640, 480]).astype(np.float32)
    conf = (0.1 + rng.random((T, NUM_KEYPOINTS))).astype(np.float32)
    if i % 3 == 2:  # a face-only clip
        conf[:, np.arange(NUM_KEYPOINTS)[REGIONS["face"]].max() + 1:] = 0
        conf[:, :REGIONS["face"].start] = 0
    return Motion(keypoints=kp, confidence=conf, texts=[f"clip {i}"], source="syn-k400", fps=30.0,
                  image_size=(640, 480), clip_id=f"t{i:03d}")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(0)
    return build_store([motion(rng, i) for i in range(10)], tmp_path_factory.mktemp("train") / "store")


def dataset(store):  # random crops of 12 frames, random captions: both depend on the epoch
    return MotionDataset(store, max_frames=12, crop="random", generator_seed=3)


def fresh_model(cfg=TINY):
    training.seed_everything(0)
    return PAVAE(cfg)


def cfg(**changes):
    base = dict(max_steps=6, batch_size=4, lr=1e-3, checkpoint_every=2, log_every=1, keep_last=2)
    return TrainConfig(**{**base, **changes})


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


class Kill(Exception):
    pass


def killing_loss(at_call):
    calls = {"n": 0}

    def loss_fn(model, batch):
        calls["n"] += 1
        if calls["n"] == at_call:
            raise Kill()
        return model.training_loss(batch)
    return loss_fn


def test_resume_after_kill_is_exact(store, tmp_path):
    whole = train(fresh_model(), dataset(store), cfg(), tmp_path / "whole", config=TINY)
    assert whole.step == 6 and whole.resumed_from == 0 and len(whole.history) == 6
    # 10 clips, batch 4: 2 steps per epoch, so 6 steps cross two epoch boundaries
    with pytest.raises(Kill):  # killed during step 5 (after the checkpoint at step 4)
        train(fresh_model(), dataset(store), cfg(), tmp_path / "killed", config=TINY, loss_fn=killing_loss(5))
    assert [p.name for p in training.checkpoints(tmp_path / "killed")] == ["step_00000002", "step_00000004"]
    resumed = train(fresh_model(), dataset(store), cfg(), tmp_path / "killed", config=TINY)
    assert resumed.resumed_from == 4 and resumed.step == 6
    assert_same_state(state(whole.model), state(resumed.model))
    assert resumed.history == whole.history
    opt_a = load_file(whole.checkpoint / "optimizer.safetensors")
    opt_b = load_file(resumed.checkpoint / "optimizer.safetensors")
    assert opt_a.keys() == opt_b.keys() and all(torch.equal(opt_a[k], opt_b[k]) for k in opt_a)
    # a longer run continues from the end of this one, as if it had never stopped
    longer = train(fresh_model(), dataset(store), cfg(max_steps=8), tmp_path / "killed", config=TINY)
    straight = train(fresh_model(), dataset(store), cfg(max_steps=8), tmp_path / "straight", config=TINY)
    assert longer.resumed_from == 6
    assert_same_state(state(longer.model), state(straight.model))


def test_resume_with_partial_log_window_is_exact(store, tmp_path):
    """Checkpoints between two log records carry the partial loss sums."""
    c = cfg(log_every=4, checkpoint_every=3)
    whole = train(fresh_model(), dataset(store), c, tmp_path / "a", config=TINY)
    with pytest.raises(Kill):
        train(fresh_model(), dataset(store), c, tmp_path / "b", config=TINY, loss_fn=killing_loss(5))
    resumed = train(fresh_model(), dataset(store), c, tmp_path / "b", config=TINY)
    assert resumed.resumed_from == 3 and [h["step"] for h in whole.history] == [4, 6]
    assert resumed.history == whole.history


def test_finished_run_loads_instead_of_training(store, tmp_path):
    first = train(fresh_model(), dataset(store), cfg(max_steps=2), tmp_path / "run", config=TINY)
    other = PAVAE(TINY)  # different initial weights
    again = train(other, dataset(store), cfg(max_steps=2), tmp_path / "run", config=TINY,
                  loss_fn=killing_loss(1))  # would raise if it trained
    assert again.resumed_from == again.step == 2 and again.history == first.history
    assert_same_state(state(first.model), state(again.model))
    assert not again.model.training


def test_checkpoint_format(store, tmp_path):
    res = train(fresh_model(), dataset(store), cfg(max_steps=5, keep_last=2), tmp_path / "run", config=TINY)
    names = [p.name for p in training.checkpoints(tmp_path / "run")]
    assert names == ["step_00000004", "step_00000005"]  # every 2 steps and at the end, pruned to 2
    ck = res.checkpoint
    assert sorted(p.name for p in ck.iterdir()) == ["model.safetensors", "model_config.json", "optimizer.safetensors",
                                                    "state.json", "train_config.json"]
    assert training.read_config(ck, VAEConfig) == TINY
    assert json.loads((ck / "train_config.json").read_text())["lr"] == 1e-3
    assert training.checkpoint_step(ck) == 5
    # the weights load into a fresh model of the same config
    m = training.load_weights(PAVAE(TINY), ck, TINY)
    assert_same_state(state(m), state(res.model))
    # an interrupted write (a hidden temporary folder) is ignored
    (tmp_path / "run" / ".tmp-step_00000006-dead").mkdir()
    assert training.latest_checkpoint(tmp_path / "run") == ck


def test_mismatched_checkpoint_raises_naming_the_field(store, tmp_path):
    res = train(fresh_model(), dataset(store), cfg(max_steps=2), tmp_path / "run", config=TINY)
    files = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    other = VAEConfig(**{**TINY.__dict__, "num_parts": 2})
    with pytest.raises(CheckpointMismatchError, match="num_parts: checkpoint 4, requested 2"):
        training.load_weights(PAVAE(other), res.checkpoint, other)
    with pytest.raises(CheckpointMismatchError, match="num_parts"):
        train(PAVAE(other), dataset(store), cfg(max_steps=4), tmp_path / "run", config=other)
    with pytest.raises(CheckpointMismatchError, match="lr: checkpoint 0.001, requested 0.01"):
        train(fresh_model(), dataset(store), cfg(max_steps=4, lr=1e-2), tmp_path / "run", config=TINY)
    with pytest.raises(CheckpointMismatchError, match="do not fit the model"):  # no config given: weights checked
        training.load_weights(PAVAE(other), res.checkpoint)
    with pytest.raises(CheckpointMismatchError, match="holds a VAEConfig"):
        training.read_config(res.checkpoint, TrainConfig)
    assert isinstance(CheckpointMismatchError("x"), ValueError)
    after = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert after == files, "the refused runs overwrote nothing in the run folder"


def test_training_reduces_the_loss(store, tmp_path):
    res = train(fresh_model(), dataset(store), cfg(max_steps=30, log_every=5, lr=3e-3))
    losses = [h["loss"] for h in res.history]
    assert res.checkpoint is None and losses[-1] < 0.7 * losses[0]
    assert set(res.history[0]) == {"step", "loss", "recon", "confidence", "velocity", "kl"}


def test_nan_batch_raises(store):
    def poisoned(model, batch):
        batch.features[0, 0, 0, 0] = float("nan")
        return model.training_loss(batch)
    with pytest.raises(ValueError, match="NaN"):
        train(fresh_model(), dataset(store), cfg(max_steps=1), loss_fn=poisoned)


def test_ddp_single_process_gloo_matches_plain(store, tmp_path, monkeypatch):
    plain = train(fresh_model(), dataset(store), cfg(max_steps=3))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in dict(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)).items():
        monkeypatch.setenv(k, v)
    ddp = train(fresh_model(), dataset(store), cfg(max_steps=3, distributed="on", device="cpu"), tmp_path / "ddp",
                config=TINY)
    assert not torch.distributed.is_initialized()  # the loop cleans up the group it created
    for a, b in zip(plain.model.parameters(), ddp.model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_quiet_when_not_interactive(store, capsys, monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    train(fresh_model(), dataset(store), cfg(max_steps=1))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    ctx = training._Context(torch.device("cpu"))
    assert training._show_progress(cfg(progress="on"), ctx)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert not training._show_progress(cfg(progress="on"), ctx)


def test_data_order_is_a_seeded_permutation_per_epoch():
    c = TrainConfig(batch_size=3, seed=5)
    epoch0 = [i for s in range(3) for i in training.batch_indices(10, s, c)]  # 3 steps per epoch, 1 clip dropped
    assert len(set(epoch0)) == 9 and training.batch_indices(10, 0, c) == training.batch_indices(10, 0, c)
    assert training.batch_indices(10, 3, c) != training.batch_indices(10, 0, c)  # next epoch, new order
    shards = [training.batch_indices(10, 0, c, rank=r, world=2) for r in range(2)]
    assert len(shards[0]) == 3 and not set(shards[0]) & set(shards[1])


@pytest.mark.parametrize("bad, word", [(dict(max_steps=0), "max_steps"), (dict(lr=0.0), "lr"),
                                       (dict(autocast="fp16"), "autocast"), (dict(device="gpu"), "device"),
                                       (dict(betas=(0.9, 1.5)), "betas")])
def test_bad_train_config_raises(bad, word):
    with pytest.raises(ValueError, match=word):
        TrainConfig(**bad)


def test_warmup():
    c = TrainConfig(lr=1.0, warmup_steps=4)
    assert [c.lr_at(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_load_and_evaluate_reconstruction(store, tmp_path):
    res = train(fresh_model(), dataset(store), cfg(max_steps=2, autocast="bf16"), tmp_path / "run", config=TINY)
    loaded = PAVAE.load(res.checkpoint)
    assert loaded.cfg == TINY and not loaded.training
    assert_same_state(state(loaded), state(res.model))
    test = MotionDataset(store, max_frames=12, crop="start")
    report = evaluate_reconstruction(loaded, test, batch_size=4)
    # every annotated keypoint of every real frame is counted once, in its part
    conf = np.concatenate([test[i].features[..., 2] for i in range(len(test))])  # (frames, K)
    counted = (conf > 0).sum(0)
    assert report.errors.count.sum() == counted.sum() and report.errors.count[2] == counted[REGIONS["face"]].sum()
    row = report.as_dict()
    assert report.num_clips == 10 and np.isfinite(row["face_norm"]) and np.isfinite(row["conf_mae"])
    assert row["all_px"] > row["all_norm"] > 0  # clips span hundreds of pixels: scale > 1
