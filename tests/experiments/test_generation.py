"""The Tender pipeline: shapes, seeding, pixel placement, lengths, save/load, the writers, bad input."""
from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pytest
import torch

from fakes import WordEncoder
from tenderlib.evaluation import embedding
from tenderlib import checkpoints, export, training
from tenderlib.experiments import generation
from tenderlib.models import pipeline
from tenderlib.experiments import vae_runs
from tenderlib.models import denoiser, vae
from tenderlib.models.denoiser import DenoiserConfig
from tenderlib.models.pipeline import LengthSampler, Tender
from tenderlib.readers import MMPoseConfig, read_mmpose
from tenderlib.data.skeleton import NUM_KEYPOINTS


VAE_TINY = vae.VAEConfig(spatial_layers=1, spatial_dim=4, latent_tokens=2, latent_dim=8, num_layers=1, num_heads=2,
                         ff_dim=16, max_frames=24, dropout=0.0)
DEN_TINY = DenoiserConfig.for_vae(VAE_TINY, dim=16, num_layers=3, num_heads=2, ff_dim=32, dropout=0.0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def encoder():
    return WordEncoder(dim=12, context=16)


@pytest.fixture(scope="module")
def pipe(encoder):
    v = vae_runs.build(VAE_TINY, 0).eval()
    d = denoiser.build(DEN_TINY, 0, encoder).eval()
    d.set_latent_stats(torch.randn(10, 2, 8, generator=torch.Generator().manual_seed(0)) * 2 + 1)
    return Tender(v, d, LengthSampler.fit([5, 9, 12, 30, 40], max_length=20), fps=10.0)


CAPS = ["a person waves the right hand", "someone jumps twice", "a woman bows"]


def test_generate_shapes_lengths_and_pixels(pipe):
    out = pipe.generate(CAPS, lengths=[4, 7, 20], generator=torch.Generator().manual_seed(0), steps=5)
    assert out.features.shape == (3, 20, NUM_KEYPOINTS, 3) and out.mask.shape == (3, 20)
    assert out.mask.sum(1).tolist() == [4, 7, 20]
    assert (out.features[0, 4:] == 0).all() and (out.confidence[1, 7:] == 0).all()
    assert (out.confidence >= 0).all()
    # pixels = features * 0.4 * min(W, H) + (W / 2, H / 2), the documented placement
    center, scale = pipeline.placement((512, 512))
    assert scale == pytest.approx(204.8)
    np.testing.assert_allclose(out.keypoints, out.features[..., :2].numpy() * scale + center, rtol=1e-5, atol=1e-3)
    m = out.motion(1)
    assert m.keypoints.shape == (7, NUM_KEYPOINTS, 2) and m.texts == [CAPS[1]] and m.fps == 10.0
    wide = pipe.generate(CAPS[:1], lengths=[4], generator=torch.Generator().manual_seed(0), steps=5,
                         image_size=(640, 480))
    center, scale = pipeline.placement((640, 480))
    np.testing.assert_allclose(wide.keypoints[0], wide.features[0, ..., :2].numpy() * 192.0 + (320, 240),
                               rtol=1e-5, atol=1e-3)


def test_seeded_by_the_generator(pipe):
    a = pipe.generate(CAPS, generator=torch.Generator().manual_seed(3), steps=4)
    b = pipe.generate(CAPS, generator=torch.Generator().manual_seed(3), steps=4)
    c = pipe.generate(CAPS, generator=torch.Generator().manual_seed(4), steps=4)
    assert torch.equal(a.features, b.features) and torch.equal(a.lengths, b.lengths)
    assert not torch.equal(a.latents, c.latents)
    # default lengths come from the training distribution, capped at max_length
    assert set(a.lengths.tolist()) <= {5, 9, 12, 20}
    d = pipe.generate(CAPS, generator=torch.Generator().manual_seed(3), steps=4, eta=1.0)
    e = pipe.generate(CAPS, generator=torch.Generator().manual_seed(3), steps=4, eta=1.0)
    assert torch.equal(d.latents, e.latents) and not torch.equal(d.latents, a.latents)


def test_sampling_loop_matches_scheduler_by_hand(pipe):
    """sample_latents is DDIM over the guided denoiser, from x_T drawn first from the generator."""
    d = pipe.denoiser
    g = torch.Generator().manual_seed(5)
    got = pipe.sample_latents(CAPS[:2], g, steps=3, guidance_scale=2.0)
    x = torch.randn(2, 2, 8, generator=torch.Generator().manual_seed(5))
    cond, null = d.encode_text(CAPS[:2]), d.null_text(1)
    ts = d.scheduler.set_timesteps(3)
    for t in ts.tolist():
        x0 = d.guided(x, torch.full((2,), t), cond, null, 2.0)
        x = d.scheduler.step(x0, t, x).prev_sample
    torch.testing.assert_close(got, d.unstandardise(x))


def test_batches_and_multimodality_groups(pipe):
    caps = [c for c in CAPS[:2] for _ in range(3)]
    out = pipe.generate(caps, lengths=[6] * 6, generator=torch.Generator().manual_seed(0), steps=2, batch_size=4)
    feats, mask = out.grouped(3)
    assert feats.shape == (2, 3, 6, NUM_KEYPOINTS, 3) and mask.shape == (2, 3, 6)
    assert not torch.equal(feats[0, 0], feats[0, 1])  # different noise for each repeat
    with pytest.raises(ValueError, match="repeats"):
        out.grouped(4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(captions=[]), "captions must hold at least one"),
    (dict(captions="a person waves"), "not a single string"),
    (dict(captions=["ok", " "]), r"captions\[1\]"),
    (dict(captions=CAPS, lengths=[0, 5, 5]), r"lengths must be in \[1, 20\]"),
    (dict(captions=CAPS, lengths=[5, 21, 5]), r"lengths must be in \[1, 20\]"),
    (dict(captions=CAPS, lengths=[5, 5]), "one length per caption"),
    (dict(captions=CAPS, guidance_scale=-1.0), "guidance_scale must be >= 0"),
    (dict(captions=CAPS, guidance_scale=float("inf")), "guidance_scale must be >= 0 and finite"),
    (dict(captions=CAPS, guidance_scale=float("nan")), "guidance_scale must be >= 0 and finite"),
    (dict(captions=CAPS, steps=0), "steps"),
    (dict(captions=CAPS, eta=-0.5), "eta"),
    (dict(captions=CAPS, eta=float("inf")), "eta must be >= 0 and finite"),
    (dict(captions=CAPS, image_size=(0, 10)), "image_size"),
])
def test_bad_input(pipe, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pipe.generate(**kwargs)


def test_mismatched_models(encoder):
    v = vae_runs.build(VAE_TINY, 0)
    d = denoiser.build(DenoiserConfig(latent_tokens=3, latent_dim=8, dim=16, num_layers=1, num_heads=2, ff_dim=16),
                       0, encoder)
    with pytest.raises(ValueError, match="latents"):
        Tender(v, d, LengthSampler.fit([5], 10))
    with pytest.raises(ValueError, match="max_frames"):
        Tender(v, denoiser.build(DEN_TINY, 0, encoder), LengthSampler.fit([5], 100))


def test_save_load_round_trip(pipe, encoder, tmp_path):
    ckpts = tmp_path / "outputs" / "smoke" / "checkpoints"
    vae_ckpt = checkpoints.save_checkpoint(ckpts / "vae-x", pipe.vae, 10, config=VAE_TINY)
    run = ckpts / "tender-y"
    checkpoints.save_checkpoint(run, pipe.denoiser, 20, config=DEN_TINY)
    pipe.save(run, vae_ckpt)
    assert json.loads((run / "pipeline.json").read_text())["vae_checkpoint"] == "../vae-x/step_00000010"
    loaded = Tender.load(run, text_encoder=encoder)
    assert loaded.denoiser.config == pipe.denoiser.config
    a = pipe.generate(CAPS, generator=torch.Generator().manual_seed(1), steps=3)
    b = loaded.generate(CAPS, generator=torch.Generator().manual_seed(1), steps=3)
    torch.testing.assert_close(a.features, b.features)
    assert generation.find_run(tmp_path) == run
    assert generation.find_run(tmp_path, profile="smoke") == run
    with pytest.raises(FileNotFoundError, match="notebook 03"):
        generation.find_run(tmp_path, profile="default")
    with pytest.raises(FileNotFoundError, match="pipeline.json"):
        Tender.load(ckpts / "vae-x")


def test_confidence_is_zero_where_no_training_clip_annotates(pipe, encoder, saved):
    """A pipeline trained on body-only data (motion capture) gives confidence 0 on face and hands,
    and keeps that through pipeline.json; regions are checked by name."""
    from tenderlib.data.skeleton import REGIONS

    run, _ = saved
    body_only = Tender(pipe.vae, pipe.denoiser, pipe.length_sampler, pipe.fps, annotated=("body", "foot"))
    full, part = (p.generate(CAPS, generator=torch.Generator().manual_seed(3), steps=3) for p in (pipe, body_only))
    for region in ("face", "left_hand", "right_hand"):
        assert (part.confidence[:, :, REGIONS[region]] == 0).all() and (part.features[..., REGIONS[region], 2] == 0).all()
        assert (full.confidence[:, :, REGIONS[region]] > 0).any()  # the untrained decoder's confidence is not 0 there
    for region in ("body", "foot"):  # the rest is the same generation
        np.testing.assert_array_equal(part.confidence[:, :, REGIONS[region]], full.confidence[:, :, REGIONS[region]])
    np.testing.assert_array_equal(part.keypoints, full.keypoints)
    body_only.save(run, checkpoints.latest_checkpoint(run.parent / "vae-x"))
    assert json.loads((run / "pipeline.json").read_text())["annotated"] == ["body", "foot"]
    assert Tender.load(run, text_encoder=encoder).annotated == ("body", "foot")
    with pytest.raises(ValueError, match="annotated must name some of the regions"):
        Tender(pipe.vae, pipe.denoiser, pipe.length_sampler, pipe.fps, annotated=("torso",))


def test_annotated_regions_of_a_selection(tiny_store):
    store = tiny_store
    every = generation.annotated_regions(store, np.arange(len(store)))
    assert set(every) <= set(r for r, _ in store.regions) and every
    one = int(np.flatnonzero(np.asarray(store.index.parts) > 0)[0])
    bits = int(store.index.parts[one])
    assert generation.annotated_regions(store, [one]) == tuple(n for r, (n, _) in enumerate(store.regions) if bits >> r & 1)
    assert generation.annotated_regions(store, []) == ()


@pytest.fixture
def saved(pipe, tmp_path):
    """The pipeline saved as notebook 03 saves it: (run folder, VAE checkpoint)."""
    ckpts = tmp_path / "outputs" / "smoke" / "checkpoints"
    vae_ckpt = checkpoints.save_checkpoint(ckpts / "vae-x", pipe.vae, 10, config=VAE_TINY)
    run = ckpts / "tender-y"
    checkpoints.save_checkpoint(run, pipe.denoiser, 20, config=DEN_TINY)
    pipe.save(run, vae_ckpt)
    return run, vae_ckpt


def edit_pipeline(run, **fields):
    path = run / "pipeline.json"
    body = {**json.loads(path.read_text()), **fields}
    path.write_text(json.dumps({k: v for k, v in body.items() if v is not None}))


def test_pipeline_refuses_another_vae(saved, encoder):
    run, vae_ckpt = saved
    body = json.loads((run / "pipeline.json").read_text())
    assert body["version"] == 2 and body["vae_sha256"] == checkpoints.weights_hash(vae_ckpt)
    # another VAE of the same latent size: pipeline.json edited to point at it ...
    other = checkpoints.save_checkpoint(run.parent / "vae-z", vae_runs.build(VAE_TINY, 1), 10, config=VAE_TINY)
    edit_pipeline(run, vae_checkpoint="../vae-z/step_00000010")
    with pytest.raises(checkpoints.CheckpointMismatchError, match=r"vae-z/step_00000010/model.safetensors is not the "
                                                               r"VAE .*tender-y/pipeline.json was saved with"):
        Tender.load(run, text_encoder=encoder)
    # ... or its weights copied over those of the VAE pipeline.json names
    edit_pipeline(run, vae_checkpoint=body["vae_checkpoint"])
    (vae_ckpt / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(checkpoints.CheckpointMismatchError, match="vae-x/step_00000010/model.safetensors is not the VAE"):
        Tender.load(run, text_encoder=encoder)


def test_version_1_pipeline_loads_with_a_warning(saved, encoder, caplog):
    run, _ = saved
    edit_pipeline(run, version=1, vae_sha256=None)  # as written before the hash was recorded
    with caplog.at_level(logging.WARNING, logger="tenderlib"):
        Tender.load(run, text_encoder=encoder)
    assert any("records no hash of its VAE" in r.getMessage() for r in caplog.records)
    edit_pipeline(run, version=2)  # a version 2 file must record it
    with pytest.raises(checkpoints.CheckpointMismatchError, match=r"pipeline.json lacks \['vae_sha256'\]"):
        Tender.load(run, text_encoder=encoder)


@pytest.mark.parametrize("fields, message", [
    (dict(lengths=None), r"pipeline.json lacks \['lengths'\]"),
    (dict(version=3), "pipeline.json has version 3"),
    (dict(format="other"), "pipeline.json is not a Tender pipeline file"),
    (dict(vae_checkpoint=5), "vae_checkpoint must be a path"),
    (dict(fps=float("inf")), "pipeline.json holds an unusable value: fps must be a finite number > 0"),
    (dict(fps="fast"), "pipeline.json holds an unusable value"),
    (dict(max_length=10**12), "pipeline.json holds an unusable value: lengths.max_length=1000000000000 exceeds"),
    (dict(lengths=[]), "pipeline.json holds an unusable value: lengths must hold"),
    (dict(guidance_scale=-1), "pipeline.json holds an unusable value: .*guidance_scale"),
    (dict(guidance_scale=float("nan")), "pipeline.json holds an unusable value: .*guidance_scale"),
])
def test_bad_pipeline_json_is_refused_naming_it(saved, encoder, fields, message):
    run, _ = saved
    edit_pipeline(run, **fields)
    with pytest.raises(checkpoints.CheckpointMismatchError, match=message):
        Tender.load(run, text_encoder=encoder)


def test_pipeline_json_that_is_not_json_is_refused(saved, encoder):
    run, _ = saved
    (run / "pipeline.json").write_bytes(b'{"format": "tender-pipeline", \xff')
    with pytest.raises(checkpoints.CheckpointMismatchError, match="pipeline.json is not valid JSON"):
        Tender.load(run, text_encoder=encoder)


@pytest.mark.parametrize("fields, in_weights, message", [
    (dict(beta_end=0.02), False, "model_config.json disagrees .*beta_end: weights 0.012, model_config.json 0.02"),
    (dict(num_heads=1), False, "model_config.json disagrees .*num_heads: weights 2, model_config.json 1"),
    (dict(num_train_timesteps=10**12), True, r"num_train_timesteps must be an int in \[2, 100000\]"),
])
def test_edited_denoiser_checkpoint_is_refused(saved, encoder, fields, in_weights, message):
    from test_training import edit_config

    run, _ = saved
    edit_config(checkpoints.latest_checkpoint(run), in_weights=in_weights, **fields)
    with pytest.raises(checkpoints.CheckpointMismatchError, match=message):
        Tender.load(run, text_encoder=encoder)


def test_write_outputs_refuses_non_finite_motions(pipe, tmp_path):
    out = pipe.generate(CAPS[:1], lengths=[4], generator=torch.Generator().manual_seed(0), steps=2)
    out.keypoints[0, 2, 5, 0] = np.nan
    with pytest.raises(ValueError, match="motion 0 .* holds non-finite values"):
        export.write_outputs(out, 0, tmp_path / "gen" / "wave")
    assert not (tmp_path / "gen").exists()  # nothing written


def test_written_json_round_trips_through_our_mmpose_reader(pipe, tmp_path):
    out = pipe.generate(CAPS, lengths=[4, 6, 3], generator=torch.Generator().manual_seed(0), steps=2)
    paths = export.write_outputs(out, 1, tmp_path / "gen" / "wave")
    assert [p.suffix for p in paths] == [".json", ".txt", ".npz", ".gif"] and all(p.is_file() for p in paths)
    (m,) = list(read_mmpose(tmp_path / "gen", MMPoseConfig(fps=10.0, image_size=(512, 512))))
    assert m.texts == [CAPS[1]]
    np.testing.assert_allclose(m.keypoints, out.keypoints[1, :6], atol=1e-3)
    np.testing.assert_allclose(m.confidence, out.confidence[1, :6], atol=1e-4)
    npz = np.load(paths[2])
    np.testing.assert_array_equal(npz["keypoints"], out.keypoints[1, :6])
    assert str(npz["caption"]) == CAPS[1]


def test_length_sampler():
    s = LengthSampler.fit([3, 50, 7], max_length=10)
    assert s.lengths == (3, 7, 10)
    draws = s.sample(200, torch.Generator().manual_seed(0))
    assert set(draws.tolist()) == {3, 7, 10}
    with pytest.raises(ValueError, match="lengths"):
        LengthSampler.fit([], 10)
    with pytest.raises(ValueError, match="max_length"):
        LengthSampler.fit([3], 0)


def test_long_caption_truncated_with_one_warning(pipe, caplog):
    """The real MiniLM encoder (offline): captions beyond its 256-token context warn once."""
    from tenderlib.models.text import TextEncoderConfig, load_text_encoder

    enc = load_text_encoder(TextEncoderConfig(memory_cache_size=0))
    d = denoiser.build(DenoiserConfig.for_vae(VAE_TINY, dim=16, num_layers=1, num_heads=2, ff_dim=16), 0, enc)
    p = Tender(pipe.vae, d, pipe.length_sampler, pipe.fps)
    long = " ".join(["wave"] * 400)
    with caplog.at_level(logging.WARNING, logger="tenderlib"):
        p.generate([long, long + " again"], lengths=[3, 3], steps=1)
        p.generate([long + " once more"], lengths=[3], steps=1)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "trunc" in r.getMessage()]
    assert len(warnings) == 1


# --- notebook 03's path: latents of a store, runs by config, scoring ---------------------------


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    from tenderlib.data.motion import Motion
    from tenderlib.data.store import build_store

    rng = np.random.default_rng(0)
    clips = []
    for i in range(12):
        T = int(rng.integers(6, 20))
        kp = (rng.random((T, NUM_KEYPOINTS, 2)) * [640, 480]).astype(np.float32)
        conf = (0.1 + rng.random((T, NUM_KEYPOINTS))).astype(np.float32)
        clips.append(Motion(keypoints=kp, confidence=conf, texts=[f"clip {i} waves", f"clip {i} jumps"],
                            source="syn-k400", fps=20.0, image_size=(640, 480), clip_id=f"v{i:03d}"))
    return build_store(clips, tmp_path_factory.mktemp("gen") / "store")


def test_fit_pipeline_by_config_publish_and_score(tiny_store, tender_root, encoder):
    from tenderlib.evaluation import metrics
    from tenderlib.models import molip
    from tenderlib.data.selection import Selection

    (tender_root / "pyproject.toml").write_text("")
    sel = Selection(split="all")
    tc = training.TrainConfig(max_steps=3, batch_size=4, progress="off")
    vae_run = vae_runs.load_or_train(VAE_TINY, tc, tiny_store, sel, "test")
    first = generation.fit_pipeline(vae_run, DEN_TINY, tc, tiny_store, sel, "test", text_encoder=encoder)
    assert first.trained_now and first.train_clips == 12 and (first.run_dir / "pipeline.json").is_file()
    assert first.pipe.fps == 20.0 and first.pipe.max_length == VAE_TINY.max_frames
    again = generation.fit_pipeline(vae_run, DEN_TINY, tc, tiny_store, sel, "test", text_encoder=encoder)
    assert not again.trained_now and again.run_dir == first.run_dir
    other = generation.fit_pipeline(vae_run, dataclasses.replace(DEN_TINY, conditioning="add"), tc, tiny_store, sel,
                                    "test", text_encoder=encoder, publish=False)
    assert other.run_dir != first.run_dir and not (other.run_dir / "pipeline.json").exists()
    # guidance is a sampling default: another scale loads the same weights, and publishes its scale
    guided = generation.fit_pipeline(vae_run, dataclasses.replace(DEN_TINY, guidance_scale=2.5), tc, tiny_store, sel,
                                     "test", text_encoder=encoder)
    assert not guided.trained_now and guided.run_dir == first.run_dir
    assert guided.pipe.denoiser.config.guidance_scale == 2.5
    assert Tender.load(first.run_dir, text_encoder=encoder).denoiser.config.guidance_scale == 2.5
    for a, b in zip(guided.pipe.denoiser.parameters(), first.pipe.denoiser.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    guided = generation.fit_pipeline(vae_run, DEN_TINY, tc, tiny_store, sel, "test", text_encoder=encoder)
    assert generation.find_run(profile="test") == first.run_dir
    # scoring: a tiny MoLIP, small R-Precision groups
    evaluator = molip.build(molip.MoLIPConfig(max_frames=16, dim=16, motion_layers=1, text_layers=1, heads=2,
                                              ff_dim=16, embed_dim=8), 0, encoder)
    test = np.arange(12)
    reference = np.random.default_rng(0).standard_normal((12, 8)).astype(np.float32)
    mc = metrics.MetricsConfig(group_size=4, replications=2, diversity_pairs=4, mm_pairs=2)
    res = generation.score(first.pipe, evaluator, tiny_store, test, mc, reference, steps=2, mm_texts=3, mm_repeats=2)
    row = generation.result_row(res)
    assert res.result.num_samples == 12 and {"top1", "fid", "multimodality", "multimodality_conf"} <= set(row)
    assert {"body_disp", "face_std", "hand_spread"} <= set(row)
    assert set(res.movement) == {"generated", "real", "ratio"}
    assert row["body_disp"] == pytest.approx(res.movement["generated"]["body_disp"] / res.movement["real"]["body_disp"])
    captions, lengths = generation.prompts_for(tiny_store, test[:2], first.pipe.max_length)
    assert captions == ["clip 0 waves", "clip 1 waves"] and all(1 <= n <= VAE_TINY.max_frames for n in lengths)


def test_table_rows_are_scored_once_and_the_floor_is_the_untrained_denoiser(tiny_store, tender_root, encoder,
                                                                            monkeypatch):
    from tenderlib.data.selection import Selection
    from tenderlib.evaluation import metrics
    from tenderlib.models import molip

    (tender_root / "pyproject.toml").write_text("")
    sel = Selection(split="all")
    tc = training.TrainConfig(max_steps=3, batch_size=4, progress="off")
    vae_run = vae_runs.load_or_train(VAE_TINY, tc, tiny_store, sel, "test")
    mcfg = molip.MoLIPConfig(max_frames=16, dim=16, motion_layers=1, text_layers=1, heads=2, ff_dim=16, embed_dim=8)
    evaluator = molip.build(mcfg, 0, encoder)
    monkeypatch.setattr(generation, "table_models", lambda run: (tiny_store, vae_run, evaluator))
    run = generation.TableRun("test", None, VAE_TINY, tc, mcfg, tc, sel, sel, DEN_TINY, tc, sel,
                              metrics.MetricsConfig(group_size=4, replications=2, diversity_pairs=4, mm_pairs=2),
                              steps=2, mm_texts=3, mm_repeats=2, sample_sets=2)
    scored = []
    real_score = generation.score

    def spy(pipe, *args, **kwargs):
        scored.append((pipe, kwargs))
        return real_score(pipe, *args, **kwargs)

    monkeypatch.setattr(generation, "score", spy)
    row = generation.table_row(run)
    assert len(scored) == 1 and scored[0][1]["sample_sets"] == 2 and scored[0][1]["guidance_scale"] is None
    assert {"top3", "fid_conf", "body_disp", "movement", "run_dir", "parameters"} <= set(row)
    assert set(row["movement"]) == {"generated", "real", "ratio"} and row["train_clips"] == 12
    cached = list((generation.Path(row["run_dir"]) / generation.SCORE_DIR).glob("*.json"))
    assert len(cached) == 1
    same = json.dumps(generation.table_row(run), sort_keys=True) == json.dumps(row, sort_keys=True)  # NaN-safe
    assert same and len(scored) == 1  # read back, not generated again
    floor = generation.table_row(dataclasses.replace(run, untrained=True))
    assert len(scored) == 2 and floor["run_dir"] == row["run_dir"] and floor["parameters"] == row["parameters"]
    fresh, trained = scored[1][0].denoiser, generation.fit_pipeline(vae_run, DEN_TINY, tc, tiny_store, sel, "test",
                                                                    text_encoder=encoder, publish=False).pipe.denoiser
    for a, b in zip(fresh.parameters(), denoiser.build(DEN_TINY, run.seed, encoder).parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # initial weights ...
    torch.testing.assert_close(fresh.latent_mean, trained.latent_mean)  # ... with the trained standardisation
    generation.table_row(dataclasses.replace(run, guidance_scale=2.0))
    assert len(scored) == 3 and scored[2][1]["guidance_scale"] == 2.0
    assert len(list(cached[0].parent.glob("*.json"))) == 3


def test_training_latents_encoded_once_per_vae_run_and_shared_by_subsets(tiny_store, tender_root, monkeypatch):
    from tenderlib.data.selection import Selection

    (tender_root / "pyproject.toml").write_text("")
    full = Selection(split="all")
    half = dataclasses.replace(full, data_frac=0.5)
    tc = training.TrainConfig(max_steps=2, batch_size=4, progress="off")
    run = vae_runs.load_or_train(VAE_TINY, tc, tiny_store, full, "test")
    calls = []
    encode = vae_runs.encode_dataset
    monkeypatch.setattr(vae_runs, "encode_dataset", lambda *a, **k: calls.append(1) or encode(*a, **k))
    idx_half, lat_half = vae_runs.training_latents(run, tiny_store, half)
    idx_full, lat_full = vae_runs.training_latents(run, tiny_store, full)
    assert len(calls) == 1, "the subset and the full selection share one encoding"
    assert list((run.run_dir / vae_runs.LATENT_DIR).glob("*.safetensors")) != []
    assert np.array_equal(idx_full, tiny_store.select(full)) and np.array_equal(idx_half, tiny_store.select(half))
    assert 0 < len(idx_half) < len(idx_full)
    rows = np.searchsorted(idx_full, idx_half)
    assert torch.equal(lat_half.mu, lat_full.mu[rows]) and torch.equal(lat_half.lengths, lat_full.lengths[rows])
    # the same numbers as encoding the clips directly (up to the batch they were encoded in)
    direct = encode(run.model, vae_runs.eval_dataset(tiny_store, idx_half, VAE_TINY))
    assert torch.allclose(direct.mu, lat_half.mu, atol=1e-5) and torch.equal(direct.lengths, lat_half.lengths)
    data, _ = generation.latent_dataset(run, tiny_store, half)
    assert len(data) == len(idx_half) and len(calls) == 1


@pytest.mark.parametrize("kwargs, name", [
    (dict(subset="D9"), "subset"),
    (dict(data_frac=0.0), "data_frac"),
    (dict(data_fracs=(0.5, 0.2)), "data_fracs"),
    (dict(conditionings=("concat", "film")), "conditionings"),
    (dict(guidance_scales=(-1.0,)), "guidance_scales"),
    (dict(mm_repeats=1), "mm_repeats"),
    (dict(steps=0), "steps"),
    (dict(baseline_latent_steps=-1), "baseline_latent_steps"),
    (dict(baseline_steps=1.5), "baseline_steps"),
])
def test_experiment_config_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        generation.TenderExperimentConfig(**kwargs)


def test_motion_sanity_scores_each_corruption_against_the_real_reference(tiny_store, encoder):
    from tenderlib import evaluation
    from tenderlib.evaluation import metrics
    from tenderlib.models import molip
    from tenderlib.data.dataset import collate
    from tenderlib.data.corruptions import corrupt

    model = molip.build(molip.MoLIPConfig(max_frames=16, dim=16, motion_layers=1, text_layers=1, heads=2,
                                          ff_dim=16, embed_dim=8), 0, encoder).eval()
    test = np.arange(12)
    mc = metrics.MetricsConfig(group_size=4, replications=2, diversity_pairs=4)
    rows = evaluation.motion_sanity(model, tiny_store, test, mc, seed=3)
    assert tuple(rows) == evaluation.SANITY_ROWS
    ds = embedding.eval_dataset(tiny_store, test, model.config)
    batch = collate([ds[k] for k in range(len(ds))])
    reference = evaluation.real_reference(model, tiny_store, test)
    text = embedding.embed_texts(model, batch.captions)
    for name in ("real", "reversed", "frozen"):
        feats = batch.features if name == "real" else corrupt(batch.features, batch.mask, name)
        want = metrics.evaluate(text, evaluation.embed_motions(model, feats, batch.mask), reference, config=mc)
        assert rows[name].fid.mean == pytest.approx(want.fid.mean, abs=1e-9)
        assert rows[name].r_precision[0].mean == pytest.approx(want.r_precision[0].mean)
    assert rows["real"].fid.mean < rows["first"].fid.mean  # a held frame is far from every real clip
    with pytest.raises(ValueError, match="group_size"):
        evaluation.motion_sanity(model, tiny_store, test[:2], mc)


# --------------------------------------------------------------------------------------------
# Motions over several VAE windows (DenoiserConfig.windows, tenderlib.models.windows)

DEN_WINDOWS = dataclasses.replace(DEN_TINY, latent_tokens=2 * VAE_TINY.latent_tokens, windows=2, window_overlap=0.25)


@pytest.fixture(scope="module")
def windowed(pipe, encoder):
    d = denoiser.build(DEN_WINDOWS, 0, encoder).eval()
    d.set_latent_stats(torch.randn(10, 4, 8, generator=torch.Generator().manual_seed(0)))
    return Tender(pipe.vae, d, LengthSampler.fit([5, 30, 42], max_length=42), fps=10.0)


def test_windowed_pipeline_generates_motions_longer_than_the_vae_clips(windowed):
    assert windowed.max_length == 42 == DEN_WINDOWS.windowing().max_length(VAE_TINY.max_frames)
    out = windowed.generate(CAPS, lengths=[3, 30, 42], generator=torch.Generator().manual_seed(0), steps=3)
    assert out.features.shape == (3, 42, NUM_KEYPOINTS, 3) and out.latents.shape == (3, 4, 8)
    assert out.mask.sum(1).tolist() == [3, 30, 42] and (out.features[0, 3:] == 0).all()
    # each window is the VAE's decoding of its own latent tokens, blended where windows overlap
    z, lengths = out.latents, out.lengths
    size, starts = windowed.windows.plan(lengths)
    for b in range(3):
        for k in range(2):
            n = int(size[b])
            alone = windowed.vae.decode(z[b:b + 1, 2 * k:2 * k + 2], vae.frame_mask([n], n))[0]  # (n, K, C)
            weights = windowed.windows.weights(lengths[b:b + 1], 42)[0, k]  # (T,)
            only = (weights == 1).nonzero().flatten()  # frames this window alone covers
            a = int(starts[b, k])
            torch.testing.assert_close(out.features[b, only, :, :2], alone[only - a, :, :2], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 42\]"):
        windowed.generate(CAPS[:1], lengths=[43])


def test_windowed_pipeline_needs_the_vae_tokens_times_the_windows(pipe, encoder):
    d = denoiser.build(dataclasses.replace(DEN_TINY, windows=2), 0, encoder)  # 2 tokens over 2 windows: 1 each
    with pytest.raises(ValueError, match="over 2 window"):
        Tender(pipe.vae, d, LengthSampler.fit([5], 10))
    with pytest.raises(ValueError, match="42 frames of 2 window"):
        Tender(pipe.vae, denoiser.build(DEN_WINDOWS, 0, encoder), LengthSampler.fit([5], 43))
    with pytest.raises(ValueError, match="multiple of windows=3"):
        dataclasses.replace(DEN_WINDOWS, windows=3)


def test_windowed_training_latents_and_pipeline_by_config(tiny_store, tender_root, encoder):
    from tenderlib.data.selection import Selection

    (tender_root / "pyproject.toml").write_text("")
    sel = Selection(split="all")
    tc = training.TrainConfig(max_steps=3, batch_size=4, progress="off")
    vae_run = vae_runs.load_or_train(VAE_TINY, tc, tiny_store, sel, "test")
    w = DEN_WINDOWS.windowing()
    idx, lat = vae_runs.training_latents(vae_run, tiny_store, sel, w)
    assert lat.mu.shape == (len(idx), 4, 8)
    assert len(list((vae_run.run_dir / vae_runs.LATENT_DIR).glob("*.safetensors"))) == 1
    _, single = vae_runs.training_latents(vae_run, tiny_store, sel)
    assert single.mu.shape == (len(idx), 2, 8)  # one window: a file of its own
    assert len(list((vae_run.run_dir / vae_runs.LATENT_DIR).glob("*.safetensors"))) == 2
    # the same numbers as cutting the clips by hand and encoding each window
    clips = vae_runs.eval_dataset(tiny_store, idx, VAE_TINY, w.max_length(VAE_TINY.max_frames))
    from tenderlib.data.dataset import collate
    batch = collate([clips[k] for k in range(len(clips))])
    pieces, sizes = w.cut(batch.features, batch.lengths, VAE_TINY.max_frames)
    with torch.no_grad():
        by_hand = vae_run.model.encode(pieces, vae.frame_mask(sizes, VAE_TINY.max_frames))[0].reshape(len(idx), 4, 8)
    torch.testing.assert_close(lat.mu, by_hand, atol=1e-5, rtol=1e-5)
    assert torch.equal(lat.lengths, batch.lengths)
    fitted = generation.fit_pipeline(vae_run, DEN_WINDOWS, tc, tiny_store, sel, "test", text_encoder=encoder)
    assert fitted.pipe.max_length == 42  # two windows of the VAE's 24 frames, sharing a quarter
    loaded = Tender.load(fitted.run_dir, text_encoder=encoder)
    assert loaded.windows == w and loaded.denoiser.config.windows == 2
    a = fitted.pipe.generate(CAPS, generator=torch.Generator().manual_seed(1), steps=3)
    b = loaded.generate(CAPS, generator=torch.Generator().manual_seed(1), steps=3)
    torch.testing.assert_close(a.features, b.features)
