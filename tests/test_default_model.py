"""The default profile's trained Tender, committed with the repository (README, "Motions right after
install"): its VAE, denoiser and the MoLIP that scores it, under outputs/default/checkpoints/.

- They are the runs the default profile's parameters name (folder = hash of the configs and the
  data), so notebooks and `tender train --profile default` load them instead of training; a change
  of a default parameter or of the synthetic generator fails here until they are retrained and
  recommitted with the default record.
- `tender generate` finds them on a fresh clone, also after `make test` trained a newer smoke model.
- What they generate moves, and the named hand is the one that moves.
"""

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from tenderlib import checkpoints, cli, params, synthetic, training
from tenderlib.data.selection import selection
from tenderlib.experiments import generation
from tenderlib.models import pipeline

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "outputs" / "default" / "checkpoints"
MAX_MEGABYTES = 50  # what the repository carries for them


@pytest.fixture(scope="module")
def setup():
    """Notebook 03's configs under the default profile (VAE and MoLIP read from notebooks 02 and 04)."""
    return generation.configs(params.notebook_parameters("03_diffusion", "default"), params.snapshot({}))


@pytest.fixture(scope="module")
def expected(setup):
    """The run folders the default profile's parameters name: {kind: Path}."""
    assert isinstance(setup.data, synthetic.SyntheticConfig), "the default profile reads the synthetic dataset"
    store = synthetic.store_path(setup.data).name  # the store's identity, without building it
    train = selection(setup.study.subset, "train")
    vae = training.run_dir("default", "vae", setup.vae, training.weight_identity(setup.vae_train),
                           training.DataKey(store, train))
    molip = training.run_dir("default", "molip", setup.molip, training.weight_identity(setup.molip_train),
                             training.DataKey(store, train))
    den_train = dataclasses.replace(train, data_frac=setup.study.data_frac)
    tender = training.run_dir("default", "tender", setup.denoiser.weight_identity(),
                              training.weight_identity(setup.train), generation.LatentKey(vae.name, store, den_train))
    return {"vae": vae, "molip": molip, "tender": tender}


def test_the_committed_runs_are_the_default_profiles(setup, expected):
    for kind, config, train in (("vae", setup.vae, setup.vae_train), ("molip", setup.molip, setup.molip_train),
                                ("tender", setup.denoiser.weight_identity(), setup.train)):
        folder = COMMITTED / expected[kind].name
        assert folder.is_dir(), (f"the default {kind} run {folder.name} is not committed: the default parameters or "
                                 f"the code changed; retrain (tender train {kind} --profile default) and commit it")
        last = checkpoints.latest_checkpoint(folder)
        assert last is not None and checkpoints.checkpoint_step(last) == train.max_steps
        checkpoints.check_config(last, config)  # raises, naming the fields, when they differ
        assert (last / "model.safetensors").is_file()
    body = pipeline.read_pipeline(COMMITTED / expected["tender"].name / pipeline.PIPELINE_FILE)
    assert body["vae_checkpoint"] == f"../{expected['vae'].name}/step_{setup.vae_train.max_steps:08d}"
    assert body["guidance_scale"] == setup.denoiser.guidance_scale


def test_they_are_small():
    """What git carries (a working copy may hold more: optimizer states, other runs, all ignored)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--", str(COMMITTED)], cwd=REPO, capture_output=True,
                                check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the committed files cannot be listed")
    files = [REPO / name for name in listed if name]
    assert len(files) >= 3 * 5, files  # three runs: weights, two configs, state, data.json (+ pipeline.json)
    assert not [p for p in files if p.name == "optimizer.safetensors"], "optimizer states are not committed"
    assert sum(p.stat().st_size for p in files) < MAX_MEGABYTES * 2**20


def _only_the_committed(root: Path, expected: dict) -> None:
    """root/outputs/default/checkpoints/ holding the three committed runs alone (a working copy may
    hold other runs beside them)."""
    folder = root / "outputs" / "default" / "checkpoints"
    folder.mkdir(parents=True)
    for run in expected.values():
        (folder / run.name).symlink_to(COMMITTED / run.name, target_is_directory=True)


def test_generate_finds_them_after_the_tests_trained_a_smoke_model(tender_root, expected):
    _only_the_committed(tender_root, expected)
    smoke = tender_root / "outputs" / "smoke" / "checkpoints" / "tender-newer"
    checkpoints.save_checkpoint(smoke, torch.nn.Linear(1, 1), 1)
    (smoke / pipeline.PIPELINE_FILE).write_text("{}")  # written after the default one
    assert generation.find_run() == tender_root / "outputs" / "default" / "checkpoints" / expected["tender"].name
    assert generation.find_run(profile="smoke") == smoke


@pytest.fixture(scope="module")
def default_pipe(expected):
    torch.set_num_threads(1)
    return pipeline.load_pipeline(COMMITTED / expected["tender"].name)


def test_cli_generate_right_after_install(tender_root, expected, tmp_path, capsys):
    _only_the_committed(tender_root, expected)
    out = tmp_path / "wave"
    assert cli.main(["generate", "a person waves with the right hand", "--seconds", "3", "--threads", "1",
                     "--out", str(out)]) == 0
    with np.load(out.with_suffix(".npz")) as z:
        keypoints, fps = z["keypoints"], float(z["fps"])
    assert keypoints.shape == (90, 133, 2) and fps == 30.0
    assert out.with_suffix(".gif").stat().st_size > 0


def _path(keypoints: np.ndarray, joint: int) -> float:
    """Distance a joint travels, summed over frames (pixels)."""
    return float(np.linalg.norm(np.diff(keypoints[:, joint], axis=0), axis=-1).sum())


@pytest.fixture(scope="module")
def still(default_pipe):
    """Eight samples of "a person stands still": how far a wrist travels when nothing is asked."""
    return default_pipe.generate(["a person stands still"] * 8, [90] * 8, generator=torch.Generator().manual_seed(0),
                                 steps=50)


@pytest.mark.parametrize("side", ["left", "right"])
def test_the_named_hand_moves(default_pipe, still, side):
    """Eight samples of "waves with the <side> hand": the named wrist travels further than the other
    in at least 7, and (median) at least twice as far as a wrist of "stands still"."""
    wrist = {"left": 9, "right": 10}  # COCO-WholeBody
    other = {"left": "right", "right": "left"}[side]
    out = default_pipe.generate([f"a person waves with the {side} hand"] * 8, [90] * 8,
                                generator=torch.Generator().manual_seed(0), steps=50)
    paths = [_path(out.motion(i).keypoints, wrist[side]) for i in range(8)]
    named = [p > _path(out.motion(i).keypoints, wrist[other]) for i, p in enumerate(paths)]
    assert sum(named) >= 7, named
    rest = [_path(still.motion(i).keypoints, wrist[side]) for i in range(8)]
    assert np.median(paths) > 2 * np.median(rest), (paths, rest)
