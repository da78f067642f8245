"""Notebooks 01-04 on imported stores: `-p store PATH` on a store imported from the release layout
and on one imported from motion capture, end to end at a size below smoke (a few steps a model).

The stores are made here: a synthetic stand-in of the Holistic-Motion2D release (kpfiles/*.pkl +
texts/*.txt, one person per frame) and a folder of BVH takes with moving limbs and a caption beside
each; both go through `tender data import`, as a researcher's data would. The notebooks run in a
copy of the repository's notebooks under a temporary root (TENDER_ROOT) with a profile of their
own, so nothing is written into the checkout.
"""
from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tenderlib import datasets, notebooks
from tenderlib.data.selection import Selection, selection
from tenderlib.data.skeleton import REGIONS
from tenderlib.data.store import Store

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "readers"))
from test_readers_bvh import humanoid_bvh  # noqa: E402

PROFILE = "storetest"
# A model of a few steps each, and every table reduced to one or two rows: the point is that every
# cell runs on the store, not what the numbers are.
PARAMS = {
    "01_data_exploration": dict(num_examples=1),
    "02_vae": dict(spatial_dim=4, latent_tokens=2, latent_dim=16, num_layers=1, ff_dim=32, max_frames=32, max_steps=12,
                   batch_size=8, part_variants=["VAE", "PA-VAE-2-4"], latent_variants=["1-1-16"],
                   objective_variants=["cag"], ablation_steps=4, num_examples=1),
    "04_molip": dict(max_frames=32, frame_stride=4, dim=32, motion_layers=1, text_layers=1, ff_dim=32, embed_dim=32,
                     max_steps=12, batch_size=8, replications=2, group_size=8, data_fracs=[0.5, 1.0], num_queries=1),
    "03_diffusion": dict(dim=32, num_layers=1, ff_dim=32, max_steps=12, batch_size=8, steps=4, replications=2, group_size=8,
                         mm_pairs=2, mm_texts=2, mm_repeats=2, data_fracs=[0.5, 1.0], scaling_layers=[1],
                         conditionings=["concat", "add"], ablation_steps=4, guidance_scales=[0.0, 7.5],
                         num_examples=1, baseline_steps=4, mdm_steps=4, sample_sets=1, speed_motions=1),
}
ORDER = ("01_data_exploration", "02_vae", "04_molip", "03_diffusion")  # 03 uses the VAE of 02 and the MoLIP of 04


def write_release(root: Path, n: int = 240, seed: int = 3) -> None:
    """n clips of the synthetic dataset written in the release's layout (one person per frame)."""
    from tenderlib import synthetic

    cfg = synthetic.SyntheticConfig(num_clips=n, seed=seed, keep_3d=False)
    for i, m in enumerate(synthetic.generate(cfg, workers=1)):
        for sub in ("kpfiles", "texts"):
            (root / sub / m.source).mkdir(parents=True, exist_ok=True)
        obj = {"keypoints": m.keypoints[:, None], "keypoint_scores": m.confidence[:, None], "fps": m.fps,
               "width": m.image_size[0], "height": m.image_size[1]}  # (T, 1, K, 2), (T, 1, K)
        (root / "kpfiles" / m.source / f"{i:05d}.pkl").write_bytes(pickle.dumps(obj, protocol=4))
        (root / "texts" / m.source / f"{i:05d}.txt").write_text("\n".join(m.texts) + "\n", encoding="utf-8")


ACTIONS = ("waves both arms", "swings the arms", "nods and sways", "bends and stretches")


def moving_bvh(k: int, frames: int = 90) -> str:
    """The test humanoid with every joint rotating sinusoidally, amplitude and tempo set by the
    action k % 4 and varied per take."""
    rng = np.random.default_rng(k)
    lines = humanoid_bvh(frames=frames).splitlines()
    start = lines.index("Frame Time: 0.0333333") + 1
    action = k % len(ACTIONS)
    amp = (10.0 + 10.0 * action) * rng.uniform(0.8, 1.2)
    freq = (0.5 + 0.4 * action) * rng.uniform(0.8, 1.2)
    for t in range(frames):
        vals = np.array(lines[start + t].split(), float)
        n_rot = len(vals) - 6
        phase = np.linspace(0, np.pi, n_rot)
        vals[6:] += amp * np.sin(2 * np.pi * freq * t / 30 + phase)
        lines[start + t] = " ".join(f"{v:.5f}" for v in vals)
    return "\n".join(lines) + "\n"


def write_mocap(root: Path, n: int = 64) -> None:
    root.mkdir(parents=True)
    for k in range(n):
        (root / f"take{k:03d}.bvh").write_text(moving_bvh(k))
        (root / f"take{k:03d}.txt").write_text(f"a person {ACTIONS[k % len(ACTIONS)]}\n")


def tender(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tenderlib.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    base = tmp_path_factory.mktemp("stores")
    write_release(base / "release")
    write_mocap(base / "bvh")
    out = {}
    for name, kind, extra in (("release", "holistic", ()), ("mocap", "bvh", ("--views", "2", "--source", "mocap-test"))):
        r = tender("data", "import", kind, str(base / ("release" if kind == "holistic" else "bvh")),
                   "--out", str(base / f"{name}-store"), *extra)
        assert r.returncode == 0, r.stderr
        out[name] = base / f"{name}-store"
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A repository root of our own: the notebooks and params/<PROFILE>/ with the tiny sizes."""
    import yaml

    root = tmp_path_factory.mktemp("root")
    shutil.copy(ROOT / "pyproject.toml", root)
    shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (root / "params" / PROFILE).mkdir(parents=True)
    for stem, values in PARAMS.items():
        (root / "params" / PROFILE / f"{stem}.yaml").write_text(yaml.safe_dump(values))
    return root


def test_imported_stores_hold_what_the_subsets_need(stores):
    for name, path in stores.items():
        store = Store(path)
        assert store.identity.startswith(path.name + "-")  # an imported store is named by its build
        for split in ("train", "test"):
            assert len(store.select(selection("D1", split))) >= 8, (name, split)
    mocap = Store(stores["mocap"])
    # the views of one take share their 3D rows: stored once
    assert mocap.manifest["num_frames_3d"] * 2 == mocap.manifest["num_frames"]
    release = Store(stores["release"])
    # D2 (K400 + K700) finds the release's sources by their names ('syn-k400' of the stand-in)
    assert len(release.select(selection("D2", "train"))) > 0
    with pytest.raises(ValueError, match="D2 needs K400 and K700"):
        mocap.select(Selection(sources=("syn-k400",)))


def test_store_parameter_is_checked(tmp_path):
    def opened(path):
        return datasets.open_store(datasets.choose(datasets.StoreConfig(store=str(path)), datasets.SyntheticConfig()))

    with pytest.raises(ValueError, match="is not a folder"):
        opened(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no manifest.json"):
        opened(tmp_path / "empty")
    with pytest.raises(ValueError, match="store must be a path"):
        datasets.StoreConfig(store=3)


@pytest.mark.parametrize("kind", ["release", "mocap"])
def test_notebooks_run_on_an_imported_store(kind, stores, root, tmp_path, monkeypatch):
    monkeypatch.setenv("TENDER_ROOT", str(root))
    monkeypatch.setenv("TENDER_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    store = Store(stores[kind])
    for stem in ORDER:
        out = tmp_path / f"{stem}.ipynb"
        notebooks.execute_notebook(root / "notebooks" / f"{stem}.ipynb", out,
                                   parameters={**PARAMS[stem], "profile": PROFILE, "store": str(stores[kind])},
                                   timeout=600)
        printed = json.dumps([c.get("outputs", []) for c in json.loads(out.read_text())["cells"]])
        assert "ImportedStore(" in printed  # the notebook says which data it read
    runs = sorted(p.name for p in (tmp_path / "outputs" / PROFILE / "checkpoints").iterdir())
    assert any(r.startswith("vae-") for r in runs) and any(r.startswith("molip-") for r in runs)
    assert any(r.startswith("tender-") for r in runs)
    assert {m for m in ("mdm-", "mld-", "vqvae-", "t2m-gpt-") if any(r.startswith(m) for r in runs)} == \
        {"mdm-", "mld-", "vqvae-", "t2m-gpt-"}  # the baselines of Table 2 trained on the store too
    assert not (tmp_path / "outputs" / "cache" / "stores").exists()  # no synthetic store was generated
    tables = sorted(p.name for p in (tmp_path / "outputs" / PROFILE / "tables").iterdir())
    assert tables, "the notebooks wrote no table"
    # the published pipeline gives confidence only where the store's training clips annotate
    published = [json.loads(p.read_text()) for p in (tmp_path / "outputs" / PROFILE / "checkpoints").glob("*/pipeline.json")]
    assert sorted(b["method"] for b in published) == ["mdm", "mld", "t2m-gpt", "tender"]
    assert all(set(b["annotated"]) == ({"body", "foot"} if kind == "mocap" else set(REGIONS)) for b in published)
    # every run says it trained on this store (data.json: the store's identity and the clips)
    for r in runs:
        assert store.identity in (tmp_path / "outputs" / PROFILE / "checkpoints" / r / "data.json").read_text(), r
