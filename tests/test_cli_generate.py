"""`tender generate`: finds the newest Tender run under outputs/ (or --checkpoint), writes JSON that our
mmpose reader reads back, NPZ and GIF; clear one-line errors without a model, on bad arguments, on
outputs that cannot be written and on checkpoints that cannot be trusted."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fakes import WordEncoder
from test_cli import fails
from tenderlib import checkpoints, cli, posemap, training
from tenderlib.experiments import generation
from tenderlib.models import pipeline
from tenderlib.experiments import vae_runs
from tenderlib.models import text, vae
from tenderlib.readers import MMPoseConfig, read_mmpose
from tenderlib.data.skeleton import KEYPOINT_INDEX

from test_generation import DEN_TINY, VAE_TINY  # noqa: E402
from test_training import edit_config, rewrite_weights  # noqa: E402

CAPTION = "a person waves with the right hand"


@pytest.fixture
def word_encoder(monkeypatch):
    """The CLI builds the text encoder from the config: use the fast stand-in instead of MiniLM."""
    enc = WordEncoder(dim=12, context=16)
    monkeypatch.setattr(text, "load_text_encoder", lambda cfg: enc)
    return enc


@pytest.fixture
def trained_run(tender_root, word_encoder):
    """A tiny Tender trained for a few steps, saved as notebook 03 saves it, in a temporary TENDER_ROOT."""
    torch.set_num_threads(1)
    ckpts = tender_root / "outputs" / "smoke" / "checkpoints"
    vae_ckpt = checkpoints.save_checkpoint(ckpts / "vae-test", vae_runs.build(VAE_TINY, 0), 1, config=VAE_TINY)
    latents = torch.randn(8, 2, 8, generator=torch.Generator().manual_seed(0))
    data = generation.LatentDataset(latents, [[CAPTION], ["someone jumps"]] * 4, [10] * 8)
    run = generation.load_or_train_denoiser(DEN_TINY, training.TrainConfig(max_steps=3, batch_size=4, progress="off"), data,
                                 "smoke", generation.LatentKey("vae-test", "store"), text_encoder=word_encoder)
    pipe = pipeline.Tender(vae.PAVAE.load(vae_ckpt), run.model, pipeline.LengthSampler.fit([8, 12, 20], 20),
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
    step = checkpoints.latest_checkpoint(trained_run)
    again = tender_root / "gen" / "again"
    assert cli.main(["generate", CAPTION, "--seconds", "1.5", "--out", str(again), "--steps", "3",
                     "--checkpoint", str(step)]) == 0
    np.testing.assert_array_equal(np.load(again.with_suffix(".npz"))["keypoints"], npz["keypoints"])


def test_generate_pose_video(trained_run, tender_root, capsys):
    out = tender_root / "gen" / "wave"
    assert cli.main(["generate", CAPTION, "--seconds", "1.5", "--out", str(out), "--steps", "2", "--pose-video",
                     "--pose-size", "64x96"]) == 0
    printed = [Path(p).name for p in capsys.readouterr().out.split()]
    assert printed == ["wave.json", "wave.txt", "wave.npz", "wave.gif", "wave_pose.mp4"]
    frames, fps = posemap.read_mp4(out.parent / "wave_pose.mp4")
    assert frames.shape == (15, 96, 64, 3) and fps == pytest.approx(10.0)  # 1.5 s at the model's 10 fps


def test_generate_with_keyframes(trained_run, tender_root, capsys):
    kf = {"keyframes": [{"frame": 0, "joint": "right_wrist", "x": 200, "y": 150},
                        {"frame": 9, "joint": "right_wrist", "x": 320, "y": 150}],
          "trajectory": {"joint": "root", "points": [[256, 300], [258, 300], [260, 300]]}}
    (tender_root / "kf.json").write_text(json.dumps(kf))
    base = ["generate", CAPTION, "--frames", "10", "--steps", "3"]
    assert cli.main([*base, "--out", str(tender_root / "free")]) == 0
    assert cli.main([*base, "--out", str(tender_root / "kept"), "--keyframes", str(tender_root / "kf.json")]) == 0
    capsys.readouterr()
    wrist, root = KEYPOINT_INDEX["right_wrist"], (KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"])

    def error(name):
        kp = np.load(tender_root / f"{name}.npz")["keypoints"].astype(float)
        hips = (kp[:3, root[0]] + kp[:3, root[1]]) / 2
        got = np.concatenate([kp[[0, 9], wrist], hips])
        return np.linalg.norm(got - [[200, 150], [320, 150], [256, 300], [258, 300], [260, 300]], axis=1).mean()

    assert error("kept") < 0.7 * error("free")
    (tender_root / "late.json").write_text(json.dumps({"keyframes": [{"frame": 30, "joint": 9, "x": 1, "y": 1}]}))
    assert "beyond motion 0's length of 10 frames" in fails([*base, "--out", str(tender_root / "y"), "--keyframes",
                                                              str(tender_root / "late.json")], capsys)
    (tender_root / "bad.json").write_text("{not json")
    assert "not a readable JSON file" in fails([*base, "--out", str(tender_root / "y"), "--keyframes",
                                                str(tender_root / "bad.json")], capsys)
    assert "no such file" in fails([*base, "--out", str(tender_root / "y"), "--keyframes", "missing.json"], capsys)
    assert not list(tender_root.glob("y.*"))


def test_several_captions_and_drawn_lengths(trained_run, tender_root, capsys):
    out = tender_root / "many"
    assert cli.main(["generate", CAPTION, "someone jumps", "--out", str(out), "--steps", "2"]) == 0
    names = [Path(p).name for p in capsys.readouterr().out.split()]
    assert "many_0.json" in names and "many_1.gif" in names
    assert np.load(tender_root / "many_1.npz")["keypoints"].shape[0] in (8, 12, 20)


@pytest.mark.parametrize("args, message", [
    (["--seconds", "2.5"], "1 to 20 frames"),
    (["--frames", "0"], "1 to 20 frames"),
    (["--steps", "0"], "steps"),
    (["--checkpoint", "nowhere"], "nowhere"),
])
def test_bad_arguments(trained_run, tender_root, capsys, args, message):
    assert message in fails(["generate", CAPTION, "--out", str(tender_root / "x"), *args], capsys)
    assert not list(tender_root.glob("x.*"))


@pytest.mark.parametrize("args, message", [
    (["--seconds", "inf"], "argument --seconds: must be a finite number > 0, got 'inf'"),
    (["--seconds", "nan"], "argument --seconds: must be a finite number > 0, got 'nan'"),
    (["--seconds", "-1"], "argument --seconds: must be a finite number > 0, got '-1'"),
    (["--guidance", "inf"], "argument --guidance: must be a finite number >= 0, got 'inf'"),
    (["--guidance", "-1"], "argument --guidance: must be a finite number >= 0, got '-1'"),
    (["--eta", "nan"], "argument --eta: must be a finite number >= 0, got 'nan'"),
    (["--device", "bogus"], "argument --device: must be cpu, cuda, cuda:<n> or mps, got 'bogus'"),
    (["--device", "meta"], "argument --device: must be cpu, cuda, cuda:<n> or mps, got 'meta'"),
    (["--device", "cuda:99"], "argument --device: 'cuda:99': no such CUDA device on this machine"),
    (["--threads", "-1"], "argument --threads: must be an int in [0, 1024], got '-1'"),
    (["--seed", "-1"], "argument --seed: must be an int in [0, 9223372036854775807], got '-1'"),
    (["--image-size", "100000", "512"], "argument --image-size: must be an int in [1, 16384], got '100000'"),
    (["--pose-video", "--pose-size", "64x95"], "argument --pose-size: height must be an even int in [8, 8192]"),
    (["--out", ""], "argument --out: must be a path ending in a name, got ''"),
    (["--out", "{file}/wave"], "argument --out: cannot write '{file}/wave': '{file}' is a file, not a folder"),
    (["--out", "{file}/a/b/wave"], "'{file}' is a file, not a folder"),
    (["--bogus"], "unrecognized arguments: --bogus (see `tender --help`)"),
])
def test_argument_errors_are_one_line_before_any_model_is_loaded(tender_root, capsys, args, message):
    file = tender_root / "file"
    file.write_text("a file\n")
    err = fails(["generate", CAPTION, *[a.format(file=file) for a in args]], capsys)
    assert message.format(file=file) in err


def test_entry_point_reports_one_line(tmp_path):
    """The installed command's path (python -m tenderlib.cli): one line on stderr, exit code 2."""
    run = subprocess.run([sys.executable, "-m", "tenderlib.cli", "generate", CAPTION, "--seconds", "inf"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.splitlines() == ["tender: error: argument --seconds: must be a finite number > 0, got 'inf' "
                                       "(see `tender generate --help`)"]


def test_outputs_that_cannot_be_written(trained_run, tender_root, capsys):
    (tender_root / "wave.json").mkdir()  # a folder where a file is to be written
    err = fails(["generate", CAPTION, "--out", str(tender_root / "wave"), "--steps", "2"], capsys)
    assert f"Is a directory: {tender_root / 'wave.json'}" in err


def _poison(run: Path) -> str:
    """Put a NaN into the newest denoiser checkpoint's weights; returns the tensor's name."""
    from safetensors.torch import load_file

    ckpt = checkpoints.latest_checkpoint(run)
    tensors = load_file(ckpt / "model.safetensors")
    name = sorted(k for k, v in tensors.items() if v.is_floating_point())[0]
    tensors[name].view(-1)[0] = float("nan")
    rewrite_weights(ckpt, tensors)
    return name


@pytest.mark.parametrize("damage, message", [
    ("nan_weights", "holds non-finite values (NaN or inf) in 1 tensor(s): ['{tensor}']"),
    ("edited_config", "model_config.json disagrees with the config stored in"),
    ("timesteps", "num_train_timesteps must be an int in [2, 100000]"),
    ("other_vae", "model.safetensors is not the VAE"),
    ("truncated", "cannot read"),
    ("pipeline_garbage", "pipeline.json is not valid JSON"),
])
def test_untrustworthy_model_is_a_one_line_error(trained_run, tender_root, capsys, damage, message):
    tensor = ""
    ckpt = checkpoints.latest_checkpoint(trained_run)
    if damage == "nan_weights":
        tensor = _poison(trained_run)
    elif damage == "edited_config":
        edit_config(ckpt, num_heads=1, beta_end=0.02)
    elif damage == "timesteps":
        edit_config(ckpt, in_weights=True, num_train_timesteps=10**12)
    elif damage == "other_vae":
        other = checkpoints.save_checkpoint(trained_run.parent / "vae-other", vae_runs.build(VAE_TINY, 7), 1,
                                         config=VAE_TINY)
        body = json.loads((trained_run / "pipeline.json").read_text())
        body["vae_checkpoint"] = Path("..", other.parent.name, other.name).as_posix()
        (trained_run / "pipeline.json").write_text(json.dumps(body))
    elif damage == "truncated":
        weights = ckpt / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    else:
        (trained_run / "pipeline.json").write_text("{not json")
    out = tender_root / "gen" / "wave"
    err = fails(["generate", CAPTION, "--out", str(out), "--steps", "2"], capsys)
    assert message.format(tensor=tensor) in err
    assert not out.parent.exists()  # nothing written
