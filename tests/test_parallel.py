"""Runs side by side give the numbers of runs one after another (tenderlib.parallel)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from fakes import Pairs, mse, stack_pairs
from tenderlib import parallel, seeding, training


def train_tiny(seed: int) -> list[float]:
    """A small MLP trained 30 steps with dropout (the per-step RNG matters): its weights as floats."""
    seeding.seed_everything(seed)
    model = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Dropout(0.1), nn.Linear(32, 1))
    cfg = training.TrainConfig(seed=seed, max_steps=30, batch_size=16, lr=1e-2, progress="off", autocast="off")
    training.train(model, Pairs(n=64, dim_in=8, dim_out=1, seed=1), cfg, loss_fn=mse, collate_fn=stack_pairs)
    return torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()


def fails(task: int) -> int:
    if task == 1:
        raise RuntimeError("task 1 broke")
    return task


def test_two_processes_give_the_numbers_of_one(one_torch_thread):
    one = parallel.map_runs(train_tiny, [0, 1, 2], jobs=1)
    two = parallel.map_runs(train_tiny, [0, 1, 2], jobs=2)
    assert one == two, "bit-identical weights, in task order"
    assert one[0] != one[1]


def test_call_runs_different_functions_side_by_side(one_torch_thread):
    tasks = [(train_tiny, 0), (fails, 2), (train_tiny, 1)]
    assert parallel.map_runs(parallel.call, tasks, jobs=2) == [train_tiny(0), 2, train_tiny(1)]
    with pytest.raises(RuntimeError, match="task 1 broke"):
        parallel.map_runs(parallel.call, [(fails, 1)], jobs=1)


def test_bad_input():
    for jobs in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="jobs must be an int >= 1"):
            parallel.map_runs(train_tiny, [0], jobs=jobs)
    with pytest.raises(ValueError, match="module-level function"):
        parallel.map_runs(lambda t: t, [0], jobs=2)
    with pytest.raises(RuntimeError, match="task 1 broke"):
        parallel.map_runs(fails, [0, 1, 2], jobs=2)
    assert parallel.map_runs(fails, [0, 2], jobs=2) == [0, 2]
    assert parallel.default_jobs() >= 1


def test_train_ahead_leaves_the_runs_the_loop_would_have_trained(tmp_path, monkeypatch, one_torch_thread):
    from tenderlib import synthetic
    from tenderlib.experiments import vae_runs
    from tenderlib.models import vae
    from tenderlib.data.selection import Selection

    data = synthetic.SyntheticConfig(num_clips=24)
    tiny = vae.VAEConfig(spatial_layers=1, spatial_dim=4, latent_tokens=2, latent_dim=8, num_layers=1, num_heads=2,
                         ff_dim=16, max_frames=16, dropout=0.0)
    configs = [tiny, vae_runs.ablation_config(tiny, "VAE")]
    tc = training.TrainConfig(max_steps=3, batch_size=4, progress="off", autocast="off")
    sel = Selection(split="all")
    weights = {}
    for jobs in (1, 2):
        root = tmp_path / f"root{jobs}"
        root.mkdir()
        (root / "pyproject.toml").write_text("")
        monkeypatch.setenv("TENDER_ROOT", str(root))
        specs = [parallel.ModelSpec(vae_runs.load_or_train, c, tc, data, sel, "test") for c in configs]
        parallel.train_ahead(specs + specs[:1], jobs=jobs)  # the repeated spec is trained once
        store = synthetic.get_store(data, workers=1)
        runs = [vae_runs.load_or_train(c, tc, store, sel, "test") for c in configs]
        assert [r.trained_now for r in runs] == ([True, True] if jobs == 1 else [False, False])
        weights[jobs] = [r.model.state_dict() for r in runs]
    for a, b in zip(weights[1], weights[2]):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="jobs must be"):
        parallel.train_ahead([], jobs=0)


def test_train_ahead_trains_molip_runs_side_by_side(tmp_path, monkeypatch, one_torch_thread):
    """Notebook 04's scaling runs: MoLIP specs trained by two workers, then loaded by the loop."""
    from tenderlib import synthetic
    from tenderlib.data.selection import Selection
    from tenderlib.experiments import molip_runs
    from tenderlib.models.molip import MoLIPConfig

    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.setenv("TENDER_ROOT", str(tmp_path))
    data = synthetic.SyntheticConfig(num_clips=24)
    cfg = MoLIPConfig(max_frames=16, dim=16, motion_layers=1, text_layers=1, heads=2, ff_dim=32, embed_dim=8)
    tc = training.TrainConfig(max_steps=2, batch_size=4, progress="off", autocast="off")
    sels = [Selection(split="all", data_frac=f) for f in (0.5, 1.0)]
    parallel.train_ahead([parallel.ModelSpec(molip_runs.load_or_train_molip, cfg, tc, data, s, "test") for s in sels],
                         jobs=2)
    store = synthetic.get_store(data, workers=1)
    assert [molip_runs.load_or_train_molip(cfg, tc, store, s, "test").trained_now for s in sels] == [False, False]


def test_model_spec_needs_an_importable_function():
    with pytest.raises(ValueError, match="ModelSpec.train must be a module-level function"):
        parallel.ModelSpec(lambda *a: None, None, None, None, None, "test")
    with pytest.raises(ValueError, match="ModelSpec.train must be a module-level function"):
        parallel.ModelSpec("tenderlib.experiments.vae_runs", None, None, None, None, "test")


# --- one run asked for by two processes at once -----------------------------------------------

_SAME_RUN = """
import torch
from tenderlib import datasets, synthetic, training
from tenderlib.data.selection import Selection
from tenderlib.experiments import molip_runs
from tenderlib.models.molip import MoLIPConfig
torch.set_num_threads(1)
store = datasets.open_store(synthetic.SyntheticConfig(num_clips=24))
cfg = MoLIPConfig(max_frames=16, dim=16, motion_layers=1, text_layers=1, heads=2, ff_dim=32, embed_dim=8)
tc = training.TrainConfig(max_steps=20, batch_size=4, progress="off", autocast="off")
print("trained" if molip_runs.load_or_train_molip(cfg, tc, store, Selection(split="all"), "test").trained_now else "loaded")
"""


def test_two_processes_asking_for_one_run_train_it_once(tmp_path):
    """Two notebooks (or two test workers) reaching the same run at the same time: one trains it,
    the other waits on the run's lock and loads the finished run."""
    (tmp_path / "pyproject.toml").write_text("")
    env = {**os.environ, "TENDER_ROOT": str(tmp_path), "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    subprocess.run([sys.executable, "-c", "from tenderlib import datasets, synthetic; "
                    "datasets.open_store(synthetic.SyntheticConfig(num_clips=24))"], env=env, check=True)
    procs = [subprocess.Popen([sys.executable, "-c", _SAME_RUN], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    said = sorted(p.communicate(timeout=300)[0].split()[-1] for p in procs)
    assert [p.returncode for p in procs] == [0, 0]
    assert said == ["loaded", "trained"]


def test_run_lock_makes_the_second_process_wait(tmp_path):
    folder = tmp_path / "checkpoints" / "vae-0123456789ab"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, pathlib\n"
        "from tenderlib import training\n"
        f"folder = pathlib.Path({str(folder)!r})\n"
        "with training.run_lock(folder):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(1.5)\n"
        "    (folder.parent / 'done').write_text('x')\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with training.run_lock(folder):
        assert (folder.parent / "done").is_file()  # entered only after the holder let go
    holder.wait(timeout=60)
    assert [p.name for p in folder.iterdir()] == [training.LOCK_FILE]  # nothing but the lock in the folder


def test_a_run_whose_lock_cannot_be_written_is_still_entered(tmp_path):
    """A folder of finished runs on read-only storage: no lock file can be made, and loading goes on."""
    folder = tmp_path / "checkpoints" / "vae-0123456789ab"
    (folder / training.LOCK_FILE).mkdir(parents=True)  # opening it for writing fails, as on a read-only folder
    entered = False
    with training.run_lock(folder):
        entered = True
    assert entered
