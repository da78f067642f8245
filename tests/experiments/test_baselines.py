"""The baselines by config: each method trained (a few steps, smoke size) on a store, saved,
found and loaded by `tender generate --model`, and refused under another method's name."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fakes import WordEncoder
from tenderlib import cli, synthetic
from tenderlib.data.selection import selection
from tenderlib.experiments import baselines, generation
from tenderlib.models import pipeline

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """(store, outputs folder): 160 synthetic clips, outputs in a folder of their own."""
    out = tmp_path_factory.mktemp("baselines")
    mp = pytest.MonkeyPatch()
    mp.setenv("TENDER_OUTPUTS", str(out / "outputs"))
    store = synthetic.get_store(synthetic.SyntheticConfig(num_clips=160, seed=5), workers=1)
    yield store, out / "outputs"
    mp.undo()


@pytest.fixture(scope="module")
def fitted(setting):
    store, _ = setting
    encoder = WordEncoder(dim=12, context=16)
    sel = selection("D1", "train")
    return {m: baselines.fit(m, baselines.stages(m, "smoke", max_frames=32, steps=6), store, sel, "smoke",
                             text_encoder=encoder) for m in baselines.BASELINES}


def test_every_baseline_trains_generates_and_reloads(fitted, setting, monkeypatch):
    store, outputs = setting
    encoder = WordEncoder(dim=12, context=16)
    captions, lengths = ["a person waves the right hand", "someone jumps"], [20, 28]
    for method, f in fitted.items():
        assert f.pipe.method == method and f.parameters > 0
        assert f.run_dir.name.startswith(f"{method}-")
        for run in f.runs:
            assert run.step == 6
        a = f.pipe.generate(captions, lengths, generator=torch.Generator().manual_seed(0), steps=4)
        assert a.features.shape == (2, 28, 133, 3) and np.isfinite(a.keypoints).all()
        body = json.loads((f.run_dir / pipeline.PIPELINE_FILE).read_text())
        assert body["method"] == method and ("vae_checkpoint" in body) == (method != "mdm")
        loaded = pipeline.load_pipeline(f.run_dir, text_encoder=encoder)
        b = loaded.generate(captions, lengths, generator=torch.Generator().manual_seed(0), steps=4)
        torch.testing.assert_close(a.features, b.features)
        assert generation.find_run(profile="smoke", method=method) == f.run_dir
    # a second fit loads every stage instead of training it
    again = baselines.fit("mdm", baselines.stages("mdm", "smoke", max_frames=32, steps=6), store,
                          selection("D1", "train"), "smoke", text_encoder=encoder)
    assert not again.trained_now


def test_scoring_a_baseline_uses_the_lengths_it_can_make(fitted, setting):
    store, _ = setting
    test = store.select(selection("D1", "test"))
    captions, lengths = generation.prompts_for(store, test, fitted["t2m-gpt"].pipe.max_length)
    made = generation.lengths_for(fitted["t2m-gpt"].pipe, lengths)
    assert all(m % 4 == 0 and m <= n for m, n in zip(made, lengths))
    assert generation.lengths_for(fitted["mdm"].pipe, lengths) == lengths


def test_generate_cli_by_model_and_bad_input(fitted, setting, tmp_path, capsys, monkeypatch):
    from tenderlib.models import text

    # the models were trained with the stand-in encoder
    monkeypatch.setattr(text, "load_text_encoder", lambda config: WordEncoder(dim=12, context=16))
    out = tmp_path / "wave"
    assert cli.main(["generate", "a person waves", "--model", "t2m-gpt", "--profile", "smoke", "--seconds", "1",
                     "--steps", "3", "--out", str(out)]) == 0
    frames = json.loads(out.with_suffix(".json").read_text())
    fps = fitted["t2m-gpt"].pipe.fps
    assert len(frames) % 4 == 0 and abs(len(frames) - fps) <= 2  # 1 s, rounded to the 4 frames a code makes
    capsys.readouterr()

    def fails(argv) -> str:
        try:
            code = cli.main(argv)
        except SystemExit as e:
            code = e.code
        err = capsys.readouterr().err
        assert code == 2, err
        return err

    assert "multiples of 4 frames for t2m-gpt" in fails(["generate", "a person waves", "--model", "t2m-gpt",
                                                          "--profile", "smoke", "--frames", "10", "--out", str(out)])
    assert "holds a mdm model, not mld" in fails(["generate", "a person waves", "--model", "mld", "--checkpoint",
                                                  str(fitted["mdm"].run_dir), "--out", str(out)])
    assert "invalid choice: 'gpt'" in fails(["generate", "a person waves", "--model", "gpt", "--out", str(out)])


def test_stage_configs_by_size():
    for method in baselines.BASELINES:
        for size in baselines.SIZES:
            stages = baselines.stages(method, size, max_frames=96, steps=10)
            assert all(s.train.max_steps == 10 and s.train.lr_schedule == "cosine" for s in stages)
            split = baselines.stages(method, size, max_frames=96, steps=10, latent_steps=30)
            assert [s.train.max_steps for s in split] == ([10] if method == "mdm" else [10, 30])
    paper = baselines.stages("mdm", "paper", max_frames=196, steps=1)[0].config
    assert (paper.dim, paper.num_layers, paper.ff_dim) == (512, 8, 1024)
    mld_vae, mld_den = (s.config for s in baselines.stages("mld", "default", 96, 1))
    assert (mld_vae.num_parts, mld_vae.latent_tokens, mld_den.prediction) == (1, 7, "x0")  # MLD's 7 x d variant
    assert (mld_den.latent_tokens, mld_den.latent_dim) == (mld_vae.latent_tokens, mld_vae.latent_dim)
    mld_vae, mld_den = (s.config for s in baselines.stages("mld", "paper", 196, 1))
    assert (mld_vae.latent_tokens, mld_den.latent_tokens, mld_den.prediction) == (1, 1, "epsilon")  # MLD's own
    vq, gpt = (s.config for s in baselines.stages("t2m-gpt", "default", 96, 1))
    assert vq.stride == 4 and gpt.max_codes == 24 and gpt.codebook_size == vq.codebook_size
    with pytest.raises(ValueError, match="method must be one of"):
        baselines.stages("motiondiffuse", "smoke", 32, 1)
    with pytest.raises(ValueError, match="size must be one of"):
        baselines.stages("mdm", "huge", 32, 1)


def test_a_baselines_table_row_is_scored_once_in_its_run_folder(fitted, setting, monkeypatch):
    from tenderlib.evaluation import metrics
    from tenderlib.models import molip

    store, _ = setting
    mcfg = molip.MoLIPConfig(max_frames=16, dim=16, motion_layers=1, text_layers=1, heads=2, ff_dim=16, embed_dim=8)
    evaluator = molip.build(mcfg, 0, WordEncoder(dim=12, context=16))
    monkeypatch.setattr(generation, "table_models", lambda run: (store, None, evaluator))
    sel = selection("D1", "train")
    table = generation.TableRun("smoke", None, None, None, mcfg, None, sel, selection("D1", "test"), None, None, sel,
                                metrics.MetricsConfig(group_size=4, replications=2, diversity_pairs=4, mm_pairs=2),
                                steps=3, mm_texts=2, mm_repeats=2)
    run = baselines.BaselineRun("t2m-gpt", baselines.stages("t2m-gpt", "smoke", max_frames=32, steps=6), table)
    calls, real_score = [], generation.score
    monkeypatch.setattr(generation, "score", lambda *a, **k: calls.append(1) or real_score(*a, **k))
    row = baselines.table_row(run)
    assert row["run_dir"] == str(fitted["t2m-gpt"].run_dir) and row["parameters"] == fitted["t2m-gpt"].parameters
    assert 0 <= row["top3"] <= 1 and len(calls) == 1
    assert baselines.table_row(run)["top3"] == row["top3"] and len(calls) == 1  # kept in the run folder
    assert len(list((fitted["t2m-gpt"].run_dir / generation.SCORE_DIR).glob("*.json"))) == 1
