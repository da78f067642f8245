"""Training loop: exact resume after a kill, load-or-train, checkpoint format and mismatches, DDP smoke, quiet."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import socket

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from tenderlib import checkpoints, params, seeding, training
from tenderlib.data.dataset import MotionDataset
from tenderlib.data.motion import NUM_KEYPOINTS, Motion
from tenderlib.data.skeleton import REGIONS
from tenderlib.data.store import build_store
from tenderlib.checkpoints import CheckpointMismatchError
from tenderlib.training import TrainConfig, train
from tenderlib.models.vae import PAVAE, VAEConfig
from tenderlib.experiments.vae_runs import evaluate_reconstruction

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
    seeding.seed_everything(0)
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
    assert [p.name for p in checkpoints.checkpoints(tmp_path / "killed")] == ["step_00000002", "step_00000004"]
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
    names = [p.name for p in checkpoints.checkpoints(tmp_path / "run")]
    assert names == ["step_00000004", "step_00000005"]  # every 2 steps and at the end, pruned to 2
    ck = res.checkpoint
    assert sorted(p.name for p in ck.iterdir()) == ["model.safetensors", "model_config.json", "optimizer.safetensors",
                                                    "state.json", "train_config.json"]
    assert checkpoints.read_config(ck, VAEConfig) == TINY
    assert json.loads((ck / "train_config.json").read_text())["lr"] == 1e-3
    assert checkpoints.checkpoint_step(ck) == 5
    # the weights load into a fresh model of the same config
    m = checkpoints.load_weights(PAVAE(TINY), ck, TINY)
    assert_same_state(state(m), state(res.model))
    # an interrupted write (a hidden temporary folder) is ignored
    (tmp_path / "run" / ".tmp-step_00000006-dead").mkdir()
    assert checkpoints.latest_checkpoint(tmp_path / "run") == ck


def test_mismatched_checkpoint_raises_naming_the_field(store, tmp_path):
    res = train(fresh_model(), dataset(store), cfg(max_steps=2), tmp_path / "run", config=TINY)
    files = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    other = VAEConfig(**{**TINY.__dict__, "num_parts": 2})
    with pytest.raises(CheckpointMismatchError, match="num_parts: checkpoint 4, requested 2"):
        checkpoints.load_weights(PAVAE(other), res.checkpoint, other)
    with pytest.raises(CheckpointMismatchError, match="num_parts"):
        train(PAVAE(other), dataset(store), cfg(max_steps=4), tmp_path / "run", config=other)
    with pytest.raises(CheckpointMismatchError, match="lr: checkpoint 0.001, requested 0.01"):
        train(fresh_model(), dataset(store), cfg(max_steps=4, lr=1e-2), tmp_path / "run", config=TINY)
    with pytest.raises(CheckpointMismatchError, match="do not fit the model"):  # no config given: weights checked
        checkpoints.load_weights(PAVAE(other), res.checkpoint)
    with pytest.raises(CheckpointMismatchError, match="holds a VAEConfig"):
        checkpoints.read_config(res.checkpoint, TrainConfig)
    assert isinstance(CheckpointMismatchError("x"), ValueError)
    after = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert after == files, "the refused runs overwrote nothing in the run folder"


# --- a checkpoint is trusted only when it checks out -------------------------------------------


def rewrite_weights(checkpoint, tensors=None, meta=None):
    """Rewrite checkpoint/model.safetensors with changed tensors and/or metadata (None: keep)."""
    path = checkpoint / "model.safetensors"
    with safe_open(path, "pt") as f:
        old_meta = f.metadata()
    save_file(tensors if tensors is not None else load_file(path), path,
              metadata=meta if meta is not None else old_meta)


def edit_config(checkpoint, in_weights: bool = False, **fields):
    """Change fields of model_config.json (the readable copy), and with in_weights also of the config
    stored in the weights' metadata: an edit that keeps the two in agreement."""
    path = checkpoint / "model_config.json"
    record = json.loads(path.read_text())
    record["config"].update(fields)
    path.write_text(json.dumps(record))
    if in_weights:
        with safe_open(checkpoint / "model.safetensors", "pt") as f:
            meta = f.metadata()
        rewrite_weights(checkpoint, meta={**meta, "config": json.dumps(record["config"])})


@pytest.fixture
def checkpoint(tmp_path):
    """A checkpoint of the tiny PA-VAE, written without training."""
    return checkpoints.save_checkpoint(tmp_path / "run", fresh_model(), 1, config=TINY)


@pytest.mark.parametrize("fields, message", [
    (dict(num_heads=4), "num_heads: weights 2, model_config.json 4"),
    (dict(kl_weight=0.5, dropout=0.0),
     "dropout: weights 0.1, model_config.json 0.0; kl_weight: weights 0.0001, model_config.json 0.5"),
])
def test_edited_model_config_is_refused(checkpoint, fields, message):
    edit_config(checkpoint, **fields)
    for load in (lambda: PAVAE.load(checkpoint), lambda: checkpoints.read_config(checkpoint, VAEConfig),
                 lambda: checkpoints.load_weights(PAVAE(TINY), checkpoint, TINY)):
        with pytest.raises(CheckpointMismatchError, match=r"model_config.json disagrees with the config stored in "
                                                          r".*model.safetensors \(edited\?\): " + message):
            load()


@pytest.mark.parametrize("fields, message", [
    (dict(max_frames=10**9), r"max_frames must be an int in \[1, 10000\]"),
    (dict(latent_tokens=10**6), r"latent_tokens must be an int in \[1, 1024\]"),
    (dict(num_layers=10**4), r"num_layers must be an int in \[1, 64\]"),
    (dict(num_parts="four"), "num_parts"),
    (dict(unknown_field=1), "unknown_field"),
])
def test_implausible_config_is_refused_before_building(checkpoint, fields, message):
    edit_config(checkpoint, in_weights=True, **fields)  # both copies agree: the values themselves are refused
    with pytest.raises(CheckpointMismatchError, match=r"model.safetensors holds an unusable VAEConfig: .*" + message):
        PAVAE.load(checkpoint)


def test_checkpoint_without_config_in_its_weights_is_refused(checkpoint):
    rewrite_weights(checkpoint, meta={"format": checkpoints.FORMAT, "version": "1", "step": "1"})
    with pytest.raises(CheckpointMismatchError, match="model.safetensors stores no model config in its metadata"):
        PAVAE.load(checkpoint)


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "missing"])
def test_unreadable_weights_are_refused_naming_the_file(checkpoint, damage):
    path = checkpoint / "model.safetensors"
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "garbage": b"\x07" * 64}[damage])
    with pytest.raises(CheckpointMismatchError, match=r"cannot read .*model.safetensors"):
        PAVAE.load(checkpoint)
    with pytest.raises(CheckpointMismatchError, match=r"cannot read .*model.safetensors"):
        checkpoints.load_weights(PAVAE(TINY), checkpoint)  # the weights alone, as when resuming
    with pytest.raises(CheckpointMismatchError, match=r"cannot read .*model.safetensors"):
        checkpoints.checkpoint_step(checkpoint)


def test_missing_tensor_is_refused(checkpoint):
    tensors = load_file(checkpoint / "model.safetensors")
    gone = sorted(tensors)[0]
    del tensors[gone]
    rewrite_weights(checkpoint, tensors)
    with pytest.raises(CheckpointMismatchError, match=f"do not fit the model: missing \\['{gone}'\\]"):
        PAVAE.load(checkpoint)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused_naming_the_tensor(checkpoint, value):
    tensors = load_file(checkpoint / "model.safetensors")
    name = sorted(k for k, v in tensors.items() if v.is_floating_point())[-1]
    tensors[name].view(-1)[0] = value
    rewrite_weights(checkpoint, tensors)
    with pytest.raises(CheckpointMismatchError, match=rf"model.safetensors holds non-finite values .* \['{name}'\]"):
        PAVAE.load(checkpoint)


def test_weights_hash_names_the_exact_file(checkpoint, tmp_path):
    other = checkpoints.save_checkpoint(tmp_path / "other", PAVAE(TINY), 1, config=TINY)  # other initial weights
    digest = checkpoints.weights_hash(checkpoint)
    assert len(digest) == 64 and checkpoints.weights_hash(checkpoint) == digest
    assert checkpoints.weights_hash(other) != digest


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


def test_cosine_schedule_matches_formula_and_leaves_old_hashes_alone():
    c = TrainConfig(lr=2.0, warmup_steps=4, max_steps=14, lr_schedule="cosine")
    want = [2.0 * (s + 1) / 4 for s in range(4)] + [1.0 + math.cos(math.pi * (s - 4) / 10) for s in range(4, 16)]
    assert [c.lr_at(s) for s in range(16)] == pytest.approx([*want[:14], 0.0, 0.0])
    assert c.lr_at(9) == pytest.approx(1.0)  # half way through the decay: half the rate
    # the field was added after runs were filed by hash: at its default it is left out of the hash
    plain = {k: v for k, v in dataclasses.asdict(TrainConfig()).items() if k != "lr_schedule"}
    text = json.dumps([["TrainConfig", plain]], sort_keys=True, separators=(",", ":"))
    assert params.config_hash(TrainConfig()) == hashlib.sha256(text.encode()).hexdigest()[:12]
    assert params.config_hash(c) != params.config_hash(dataclasses.replace(c, lr_schedule="constant"))
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="linear")


def test_resume_checks_the_schedule_and_reads_runs_saved_before_it(store, tmp_path):
    res = train(fresh_model(), dataset(store), cfg(max_steps=2), tmp_path / "run", config=TINY)
    with pytest.raises(CheckpointMismatchError, match="lr_schedule: checkpoint 'constant', requested 'cosine'"):
        train(fresh_model(), dataset(store), cfg(max_steps=4, lr_schedule="cosine"), tmp_path / "run", config=TINY)
    saved = res.checkpoint / "train_config.json"  # as written before the field existed
    saved.write_text(json.dumps({k: v for k, v in json.loads(saved.read_text()).items() if k != "lr_schedule"}))
    assert train(fresh_model(), dataset(store), cfg(max_steps=3), tmp_path / "run", config=TINY).step == 3


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
