"""`tender generate`: finds the newest Tender run under outputs/ (or --checkpoint), writes JSON that our
mmpose reader reads back, NPZ and GIF; clear errors without a model and on bad durations."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fakes import WordEncoder
from tenderlib import cli, denoiser, generation, training, vae, vae_runs
from tenderlib.readers import MMPoseConfig, read_mmpose

from test_generation import DEN_TINY, VAE_TINY  # noqa: E402

CAPTION = "a person waves with the right hand"


@pytest.fixture
def word_encoder(monkeypatch):
    """The CLI builds the text encoder from the config: use the fast stand-in instead of MiniLM."""
    enc = WordEncoder(dim=12, context=16)
    monkeypatch.setattr(denoiser, "load_text_encoder", lambda cfg: enc)
    return enc


@pytest.fixture
def trained_run(tender_root, word_encoder):
    """A tiny Tender trained for a few steps, saved as notebook 03 saves it, in a temporary TENDER_ROOT."""
    torch.set_num_threads(1)
    ckpts = tender_root / "outputs" / "smoke" / "checkpoints"
    vae_ckpt = training.save_checkpoint(ckpts / "vae-test", vae_runs.build(VAE_TINY, 0), 1, config=VAE_TINY)
    latents = torch.randn(8, 2, 8, generator=torch.Generator().manual_seed(0))
    data = denoiser.LatentDataset(latents, [[CAPTION], ["someone jumps"]] * 4, [10] * 8)
    run = denoiser.load_or_train(DEN_TINY, training.TrainConfig(max_steps=3, batch_size=4, progress="off"), data,
                                 "smoke", denoiser.LatentKey("vae-test", "store"), text_encoder=word_encoder)
    pipe = generation.Tender(vae.PAVAE.load(vae_ckpt), run.model, generation.LengthSampler.fit([8, 12, 20], 20),
                             fps=10.0)
    pipe.save(run.run_dir, vae_ckpt)
    return run.run_dir


def test_no_model_names_notebook_03(tender_root, capsys):
    assert cli.main(["generate", CAPTION, "--out", str(tender_root / "wave")]) == 2
    err = capsys.readouterr().err
    assert "notebook 03" in err and "--checkpoint" in err


def test_generate_writes_json_npz_gif(trained_run, tender_root, capsys):
    out = tender_root / "gen" / "wave"
    assert cli.main(["generate", CAPTION, "--seconds", "1.5", "--out", str(out), "--steps", "3"]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == ["wave.json", "wave.txt", "wave.npz", "wave.gif"]
    (m,) = list(read_mmpose(out.with_suffix(".json"), MMPoseConfig(fps=10.0, image_size=(512, 512))))
    npz = np.load(out.with_suffix(".npz"))
    assert m.texts == [CAPTION] and m.keypoints.shape == (15, 133, 2)  # 1.5 s at 10 fps
    np.testing.assert_allclose(m.keypoints, npz["keypoints"], atol=1e-3)
    np.testing.assert_allclose(m.confidence, npz["confidence"], atol=1e-4)
    assert out.with_suffix(".gif").read_bytes()[:6] == b"GIF89a"
    # the same from an explicit step folder, and seeded: identical keypoints
    step = training.latest_checkpoint(trained_run)
    again = tender_root / "gen" / "again"
    assert cli.main(["generate", CAPTION, "--seconds", "1.5", "--out", str(again), "--steps", "3",
                     "--checkpoint", str(step)]) == 0
    np.testing.assert_array_equal(np.load(again.with_suffix(".npz"))["keypoints"], npz["keypoints"])


def test_several_captions_and_drawn_lengths(trained_run, tender_root, capsys):
    out = tender_root / "many"
    assert cli.main(["generate", CAPTION, "someone jumps", "--out", str(out), "--steps", "2"]) == 0
    names = [Path(p).name for p in capsys.readouterr().out.split()]
    assert "many_0.json" in names and "many_1.gif" in names
    assert np.load(tender_root / "many_1.npz")["keypoints"].shape[0] in (8, 12, 20)


@pytest.mark.parametrize("args, message", [
    (["--seconds", "2.5"], "1 to 20 frames"),
    (["--frames", "0"], "1 to 20 frames"),
    (["--seconds", "-1"], "--seconds must be > 0"),
    (["--guidance", "-1"], "guidance_scale must be >= 0"),
    (["--steps", "0"], "steps"),
    (["--checkpoint", "nowhere"], "nowhere"),
])
def test_bad_arguments(trained_run, tender_root, capsys, args, message):
    assert cli.main(["generate", CAPTION, "--out", str(tender_root / "x"), *args]) == 2
    assert message in capsys.readouterr().err
