"""The latent denoiser: shapes of every conditioning, guidance against two separate passes, caption
dropping, the training objective through tenderlib.training, checkpoints, bad input."""
from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F

from fakes import WordEncoder
from tenderlib import training
from tenderlib.models import denoiser
from tenderlib.experiments import generation
from tenderlib.experiments.generation import LatentDataset, collate_latents
from tenderlib.models.denoiser import CONDITIONINGS, DenoiserConfig, cat_text, select_text

TINY = DenoiserConfig(latent_tokens=2, latent_dim=8, dim=16, num_layers=3, num_heads=2, ff_dim=32, dropout=0.0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def encoder():
    return WordEncoder(dim=12, context=16)


def _x(B=3, seed=0, cfg=TINY):
    return torch.randn(B, cfg.latent_tokens, cfg.latent_dim, generator=torch.Generator().manual_seed(seed))


CAPTIONS = ["a person waves the right hand", "someone jumps", "a man bows slowly and then sits down"]


@pytest.mark.parametrize("conditioning", CONDITIONINGS)
def test_every_conditioning_runs_and_uses_the_text(conditioning, encoder):
    model = denoiser.build(DenoiserConfig(**{**TINY.__dict__, "conditioning": conditioning}), 0, encoder).eval()
    x, t = _x(), torch.tensor([0, 500, 999])
    out = model(x, t, model.encode_text(CAPTIONS))
    assert out.shape == x.shape and torch.isfinite(out).all()
    other = model(x, t, model.encode_text(["a child claps"] * 3))
    assert not torch.allclose(out, other)  # the caption changes the prediction
    assert not torch.allclose(out, model(x, torch.tensor([1, 501, 998]), model.encode_text(CAPTIONS)))  # and t


def test_guidance_is_one_batch_equal_to_two_passes(encoder):
    model = denoiser.build(TINY, 1, encoder).eval()
    x, t = _x(), torch.tensor([10, 20, 30])
    cond, null = model.encode_text(CAPTIONS), model.null_text(1)
    c = model(x, t, cond)
    u = model(x, t, select_text(cond, null, torch.ones(3, dtype=torch.bool)))
    for s in (0.0, 1.0, 2.5, 7.5):
        torch.testing.assert_close(model.guided(x, t, cond, null, s), s * c + (1 - s) * u, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.guided(x, t, cond, null), 7.5 * c - 6.5 * u, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="guidance scale"):
        model.guided(x, t, cond, null, -0.5)


def test_select_and_cat_text_pad_tokens(encoder):
    a = encoder.encode(["one two three four", "five"])
    null = encoder.null_features(1)
    mixed = select_text(a, null, torch.tensor([False, True]))
    assert mixed.tokens.shape[1] == 4
    torch.testing.assert_close(mixed.pooled[0], a.pooled[0])
    torch.testing.assert_close(mixed.pooled[1], null.pooled[0])
    assert mixed.mask[1].sum() == null.mask[0].sum()
    both = cat_text(a, encoder.encode(["six seven eight nine ten"]))
    assert both.tokens.shape == (3, 5, encoder.token_dim) and both.mask.sum(1).tolist() == [4, 1, 5]


def _loss_and_draws(model):
    """(training_loss on 3 latents seeded 0, and the same draws by hand: x0, t, noise, text, x_t)."""
    model.set_latent_stats(_x(10, 5) * 3 + 1)
    batch = collate_latents([LatentDataset(_x(3, 6), [[c] for c in CAPTIONS], [10, 12, 14])[k] for k in range(3)])
    torch.manual_seed(0)
    loss = model.training_loss(batch)
    torch.manual_seed(0)
    x0 = model.standardise(batch.latents)
    t = torch.randint(0, 1000, (3,))
    noise = torch.randn_like(x0)
    drop = torch.rand(3) < 0.1
    text = select_text(model.encode_text(batch.captions), model.null_text(1), drop)
    return loss, (x0, t, noise, text, model.scheduler.add_noise(x0, noise, t)), batch


def test_training_loss_matches_formula_and_drops_captions(encoder, monkeypatch):
    model = denoiser.build(TINY, 2, encoder)
    loss, (x0, t, noise, text, x_t), batch = _loss_and_draws(model)
    torch.testing.assert_close(loss, F.mse_loss(model(x_t, t, text), x0))
    # every caption dropped: the loss is that of the null condition
    always = denoiser.build(DenoiserConfig(**{**TINY.__dict__, "cond_drop_prob": 0.99}), 2, encoder)
    seen = []
    monkeypatch.setattr(always, "forward", lambda x, t, text: seen.append(text) or x)
    torch.manual_seed(3)
    always.training_loss(batch)
    torch.testing.assert_close(seen[0].pooled, always.null_text(3).pooled)


def test_epsilon_prediction_trains_on_the_noise_and_samples_through_x0(encoder):
    """MLD's parameterisation: the target is the noise, and predict_x0 gives the x0 it implies."""
    cfg = DenoiserConfig(**{**TINY.__dict__, "prediction": "epsilon"})
    model = denoiser.build(cfg, 2, encoder).eval()
    loss, (x0, t, noise, text, x_t), _ = _loss_and_draws(model)
    torch.testing.assert_close(loss, F.mse_loss(model(x_t, t, text), noise))
    cond, null = model.encode_text(CAPTIONS[:3]), model.null_text(1)
    eps = model.guided(x_t, t, cond, null, 2.0)
    a = model.scheduler.alphas_cumprod[t][:, None, None]
    torch.testing.assert_close(model.predict_x0(x_t, t, cond, null, 2.0), (x_t - (1 - a).sqrt() * eps) / a.sqrt())
    with pytest.raises(ValueError, match="prediction"):
        DenoiserConfig(prediction="v")


def test_latent_stats_round_trip(encoder):
    model = denoiser.build(TINY, 0, encoder)
    z = _x(20, 1) * torch.linspace(0.5, 3, TINY.latent_dim) + 2
    model.set_latent_stats(z)
    torch.testing.assert_close(model.standardise(z).mean(0), torch.zeros(2, 8), atol=1e-5, rtol=0)
    torch.testing.assert_close(model.unstandardise(model.standardise(z)), z, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="latents"):
        model.set_latent_stats(torch.zeros(5, 3, 8))


def test_trains_and_checkpoint_round_trip(encoder, tmp_path):
    latents = _x(16, 2)
    ds = LatentDataset(latents, [[c, c + " again"] for c in CAPTIONS * 5 + ["x"]], torch.full((16,), 20))
    model = denoiser.build(TINY, 0, encoder)
    model.set_latent_stats(latents)
    cfg = training.TrainConfig(max_steps=30, batch_size=8, lr=3e-3, log_every=10, progress="off")
    result = training.train(model, ds, cfg, tmp_path / "run", config=TINY, collate_fn=collate_latents)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    loaded = denoiser.load(result.checkpoint, text_encoder=encoder)
    x, t = _x(2, 9), torch.tensor([3, 700])
    text = encoder.encode(CAPTIONS[:2])
    torch.testing.assert_close(loaded(x, t, text), result.model.eval()(x, t, text))
    torch.testing.assert_close(loaded.latent_std, model.latent_std)


def test_latent_dataset_draws_captions_by_epoch():
    ds = LatentDataset(torch.zeros(4, 2, 3), [["a", "b", "c"]] * 4, [5] * 4, seed=1)
    first = [ds[k][1] for k in range(4)]
    assert first == [ds[k][1] for k in range(4)]  # fixed within an epoch
    epochs = []
    for e in range(1, 6):
        ds.set_epoch(e)
        epochs.append([ds[k][1] for k in range(4)])
    assert any(e != first for e in epochs)  # redrawn each epoch
    again = LatentDataset(torch.zeros(4, 2, 3), [["a", "b", "c"]] * 4, [5] * 4, seed=1)
    again.set_epoch(5)
    assert [again[k][1] for k in range(4)] == epochs[-1]  # and fixed by (seed, epoch, item)
    with pytest.raises(ValueError, match="captions"):
        LatentDataset(torch.zeros(4, 2, 3), [["a"]] * 3, [5] * 4)
    with pytest.raises(ValueError, match="no caption"):
        LatentDataset(torch.zeros(2, 2, 3), [["a"], []], [5] * 2)


@pytest.mark.parametrize("kwargs, name", [
    (dict(conditioning="film"), "conditioning"),
    (dict(guidance_scale=-1.0), "guidance_scale"),
    (dict(cond_drop_prob=1.0), "cond_drop_prob"),
    (dict(dim=30, num_heads=4), "dim"),
    (dict(beta_start=0.5, beta_end=0.1), "beta"),
    (dict(guidance_scale=float("inf")), "guidance_scale must be >= 0 and finite"),
    (dict(num_train_timesteps=10**12), r"num_train_timesteps must be an int in \[2, 100000\]"),
    (dict(dim=2**20, num_heads=4), r"dim must be an int in \[1, 8192\]"),
    (dict(num_layers=10**6), r"num_layers must be an int in \[1, 64\]"),
    (dict(latent_tokens=True), "latent_tokens"),
])
def test_bad_config(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DenoiserConfig(**kwargs)


def test_paper_preset():
    p = DenoiserConfig.paper()
    assert (p.num_layers, p.dim, p.latent_tokens, p.latent_dim, p.guidance_scale, p.conditioning) == \
        (9, 256, 8, 256, 7.5, "concat")
    tc = generation.paper_train_config(10_000)
    assert (tc.batch_size, tc.lr, tc.weight_decay, tc.num_processes, tc.max_steps) == \
        (256, 2e-4, 0.0, 4, 2000 * (10_000 // 1024))  # 256 per GPU on 4 GPUs
    assert generation.paper_train_config(10_000, num_processes=1).max_steps == 2000 * (10_000 // 256)


def test_wrong_latent_shape(encoder):
    model = denoiser.build(TINY, 0, encoder)
    with pytest.raises(ValueError, match="x_t"):
        model(torch.zeros(2, 3, 8), torch.tensor([1, 2]), encoder.encode(["a", "b"]))
