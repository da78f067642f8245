"""Several processes: DDP under torchrun (gloo on this CPU) trains as one process with the global batch.

The runs here start real torchrun groups of 2 processes (tenderlib.distributed.launch), so each
test costs a few seconds of process start-up.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fakes import Pairs, mse, stack_pairs
from tenderlib import distributed, training
from tenderlib.training import TrainConfig

TESTS = Path(__file__).resolve().parent


def toy_run(folder: str, batch_size: int, num_processes: int, max_steps: int = 10) -> None:
    """Train the toy model into `folder` (what each torchrun process, or the test itself, runs)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    cfg = TrainConfig(max_steps=max_steps, batch_size=batch_size, lr=0.02, num_processes=num_processes, device="cpu",
                      checkpoint_every=5, log_every=5)
    training.train(model, Pairs(), cfg, folder, loss_fn=mse, collate_fn=stack_pairs)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    last = training.latest_checkpoint(folder)
    return load_file(last / "model.safetensors")


@pytest.fixture
def importable(monkeypatch):
    """torchrun's processes import this module by name."""
    import os

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))


def test_two_gloo_processes_equal_one_process_with_the_global_batch(tmp_path, importable):
    toy_run(str(tmp_path / "one"), batch_size=16, num_processes=1)
    distributed.launch(toy_run, (str(tmp_path / "two"), 8, 2), num_processes=2, label="toy")
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert one.keys() == two.keys()
    for k in one:
        torch.testing.assert_close(two[k], one[k], atol=1e-5, rtol=1e-4)
    state = json.loads((training.latest_checkpoint(tmp_path / "two") / "state.json").read_text())
    assert state["world_size"] == 2 and state["history"][-1]["step"] == 10
    # resumed under DDP: 10 more steps from the checkpoint give what 20 steps in one go give
    distributed.launch(toy_run, (str(tmp_path / "two"), 8, 2, 20), num_processes=2, label="toy")
    distributed.launch(toy_run, (str(tmp_path / "straight"), 8, 2, 20), num_processes=2, label="toy")
    resumed, straight = weights(tmp_path / "two"), weights(tmp_path / "straight")
    for k in straight:
        torch.testing.assert_close(resumed[k], straight[k], atol=0, rtol=0)


def test_a_run_named_for_several_processes_is_not_trained_by_one(tmp_path):
    with pytest.raises(ValueError, match="num_processes=2 but this process is one of WORLD_SIZE=1"):
        toy_run(str(tmp_path / "x"), batch_size=8, num_processes=2)


def test_a_failing_launch_names_the_error(tmp_path, importable):
    with pytest.raises(RuntimeError, match="failed .torchrun exit") as err:
        distributed.launch(toy_run, (str(tmp_path / "bad"), 8, 3), num_processes=2, label="toy")
    assert "num_processes=3 but this process is one of WORLD_SIZE=2" in str(err.value)
    with pytest.raises(ValueError, match="module-level"):
        distributed.launch(lambda: None, (), num_processes=2)


def test_a_vae_run_by_config_on_two_processes_is_launched_then_loaded(tmp_path, monkeypatch):
    """What a notebook does with num_processes=2: the by-config call launches torchrun, then loads."""
    from tenderlib.data.selection import Selection
    from tenderlib.data.store import build_store
    from tenderlib.experiments import vae_runs
    from tenderlib.models.vae import VAEConfig

    sys_path = Path(__file__).resolve().parent / "data"
    monkeypatch.syspath_prepend(str(sys_path))
    from test_store import mixed_motions

    monkeypatch.setenv("TENDER_OUTPUTS", str(tmp_path / "outputs"))
    store = build_store(iter(mixed_motions(40)), tmp_path / "store")
    cfg = VAEConfig(spatial_layers=1, spatial_dim=4, latent_tokens=2, latent_dim=8, num_layers=1, num_heads=2,
                    ff_dim=16, max_frames=16, dropout=0.0)
    train_cfg = TrainConfig(max_steps=4, batch_size=4, num_processes=2, device="cpu", progress="off")
    run = vae_runs.load_or_train(cfg, train_cfg, store, Selection(split="all"), "smoke")
    assert not run.trained_now and run.step == 4  # trained by the two processes, loaded here
    state = json.loads((training.latest_checkpoint(run.run_dir) / "state.json").read_text())
    assert state["world_size"] == 2
    assert all(np.isfinite(h["loss"]) for h in state["history"])
    single = vae_runs.load_or_train(cfg, TrainConfig(max_steps=4, batch_size=8, device="cpu", progress="off"),
                                    store, Selection(split="all"), "smoke")
    assert single.run_dir != run.run_dir  # another run: the number of processes names it
