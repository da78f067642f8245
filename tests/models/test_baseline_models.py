"""The baselines' networks: MDM, T2M-GPT's VQ-VAE and GPT (shapes, formulas, masks, bad input)."""
from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
import torch
import torch.nn.functional as F

from fakes import WordEncoder
from tenderlib.data.motion import NUM_KEYPOINTS
from tenderlib.experiments.generation import LatentDataset, collate_latents
from tenderlib.models import mdm, t2m_gpt, vqvae
from tenderlib.models.losses import channel_weights
from tenderlib.models.pipeline import LengthSampler

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MDM_TINY = mdm.MDMConfig(dim=16, num_layers=2, num_heads=2, ff_dim=32, dropout=0.0, max_frames=24)
VQ_TINY = vqvae.VQVAEConfig(width=16, code_dim=8, codebook_size=16, depth=1, max_frames=16)
GPT_TINY = t2m_gpt.T2MGPTConfig(codebook_size=16, max_codes=6, dim=16, num_layers=2, num_heads=2, ff_dim=32,
                                dropout=0.0)
CAPTIONS = ["a person waves", "someone jumps high", "a man bows slowly"]


@pytest.fixture(scope="module")
def encoder():
    return WordEncoder(dim=12, context=16)


def features(B=3, T=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(B, T, NUM_KEYPOINTS, 3, generator=g) * 0.5
    f[..., 2] = torch.rand(B, T, NUM_KEYPOINTS, generator=g)
    f[0, :, 23:, :] = 0  # clip 0 annotates the body and feet only
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[1, 10:] = False
    return f * mask[:, :, None, None], mask


class Batch:
    def __init__(self, feats, mask, captions):
        self.features, self.mask, self.captions = feats, mask, captions


# ---- MDM ---------------------------------------------------------------------------------------

def test_mdm_shapes_standardisation_and_guidance(encoder):
    model = mdm.build(MDM_TINY, 0, encoder).eval()
    f, mask = features()
    model.set_data_stats(f, mask)
    x = model.standardise(f)
    assert x.shape == (3, 16, mdm.FEATURES)
    torch.testing.assert_close(model.unstandardise(x), f, rtol=1e-5, atol=1e-5)
    text = model.text_vectors(CAPTIONS)
    t = torch.tensor([5, 500, 999])
    out = model(x, t, text, mask)
    assert out.shape == x.shape
    c, u = model(x, t, text, mask), model(x, t, torch.zeros_like(text), mask)
    torch.testing.assert_close(model.guided(x, t, text, mask, 2.5), u + 2.5 * (c - u), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.guided(x, t, text, mask, 1.0), c)
    # padded frames change nothing of the real ones
    noisy = x.clone()
    noisy[1, 10:] = 100.0
    torch.testing.assert_close(model(noisy, t, text, mask)[1, :10], out[1, :10], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="max_frames=24"):
        model(torch.zeros(1, 30, mdm.FEATURES), t[:1], text[:1], torch.ones(1, 30, dtype=torch.bool))


def test_mdm_training_loss_matches_formula(encoder):
    model = mdm.build(MDM_TINY, 1, encoder)
    f, mask = features(seed=1)
    model.set_data_stats(f, mask)
    batch = Batch(f, mask, CAPTIONS)
    torch.manual_seed(0)
    loss = model.training_loss(batch)
    torch.manual_seed(0)
    x0 = model.standardise(f)
    t = torch.randint(0, 1000, (3,))
    noise = torch.randn_like(x0)
    x_t = model.scheduler.add_noise(x0, noise, t)
    keep = (torch.rand(3) >= 0.1).float()
    w = channel_weights(f, mask).reshape(x0.shape)
    expected = ((model(x_t, t, model.text_vectors(CAPTIONS) * keep[:, None], mask) - x0) ** 2 * w).sum() / w.sum()
    torch.testing.assert_close(loss, expected)
    # the x, y of keypoints a clip does not annotate are not counted; their confidence is
    w = channel_weights(f, mask)
    assert float(w[0, :, 30, :2].sum()) == 0 and float(w[0, :, 30, 2].sum()) == 16
    assert float(w[1, 10:].sum()) == 0


def test_mdm_pipeline_ancestral_and_ddim(encoder):
    model = mdm.build(MDM_TINY, 2, encoder).eval()
    f, mask = features()
    model.set_data_stats(f, mask)
    pipe = mdm.MDMPipeline(model, LengthSampler.fit([8, 12, 20], 20), fps=10.0, annotated=("body", "foot"))
    a = pipe.generate(CAPTIONS[:2], [12, 20], generator=torch.Generator().manual_seed(0), steps=5)
    b = pipe.generate(CAPTIONS[:2], [12, 20], generator=torch.Generator().manual_seed(0), steps=5)
    torch.testing.assert_close(a.features, b.features)
    assert a.features.shape == (2, 20, NUM_KEYPOINTS, 3) and a.keypoints.shape == (2, 20, NUM_KEYPOINTS, 2)
    assert (a.confidence[:, :, 23:] == 0).all() and (a.confidence[0, 12:] == 0).all()
    full = pipe.generate(CAPTIONS[:1], [8], generator=torch.Generator().manual_seed(0), steps=1000)  # ancestral
    assert torch.isfinite(full.features).all()
    with pytest.raises(ValueError, match="lengths must be in"):
        pipe.generate(CAPTIONS[:1], [21])


# ---- VQ-VAE ------------------------------------------------------------------------------------

def test_vqvae_codes_shapes_and_straight_through():
    model = vqvae.build(VQ_TINY, 0)
    f, mask = features(T=16)
    out = model(f, mask)  # training mode: initialises and updates the codebook
    assert bool(model.initialised) and out.codes.shape == (3, 4) and out.features.shape == f.shape
    model.eval()
    codes = model.encode(f, mask)
    dec = model.decode(codes)
    assert codes.dtype == torch.int64 and dec.shape == f.shape
    out = model(f, mask)
    torch.testing.assert_close(out.features, dec)  # eval: the decoder of the nearest codes
    # gradients reach the encoder through the straight-through estimator
    model.train()
    loss = model.training_loss(Batch(f, mask, CAPTIONS))
    loss.backward()
    assert model.encoder[0].weight.grad is not None and model.encoder[0].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="multiple of 4"):
        model(f[:, :15], mask[:, :15])
    with pytest.raises(ValueError, match="codes must be in"):
        model.decode(torch.tensor([[16]]))


def test_vqvae_ema_update_formula_and_dead_code_reset():
    torch.manual_seed(0)
    model = vqvae.build(VQ_TINY, 0)
    z = torch.randn(40, VQ_TINY.code_dim)
    model._update(z, torch.zeros(40, dtype=torch.int64))  # first call: the codebook drawn from the data, then updated
    assert bool(model.initialised) and torch.isfinite(model.codebook).all()
    count, total = model.code_count.clone(), model.code_sum.clone()
    idx = model.nearest(z)
    model._update(z, idx)
    onehot = F.one_hot(idx, 16).float()
    c = count * 0.99 + 0.01 * onehot.sum(0)
    s = total * 0.99 + 0.01 * onehot.t() @ z
    alive = c >= 1.0
    n = c.sum()
    expected = s / ((c + 1e-5) / (n + 16 * 1e-5) * n)[:, None]
    torch.testing.assert_close(model.codebook[alive], expected[alive])
    assert (model.code_count >= 1.0).all()  # every dead code was reset to an encoder output (count 1)
    assert all(any(torch.equal(row, v) for v in z) for row in model.codebook[~alive])


# ---- GPT ---------------------------------------------------------------------------------------

def test_gpt_is_causal_and_its_loss_is_the_formula(encoder):
    model = t2m_gpt.build(GPT_TINY, 0, encoder).eval()
    codes = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 7]])
    text = model.text_vectors(CAPTIONS[:2])
    out = model(codes, text)
    assert out.shape == (2, 5, 17)
    changed = codes.clone()
    changed[:, 2:] = 0
    torch.testing.assert_close(model(changed, text)[:, :3], out[:, :3])  # position i sees tokens <= i only
    ds = LatentDataset(torch.tensor([[1, 2, 3, 0], [5, 6, 7, 7]]), [[c] for c in CAPTIONS[:2]], [3, 4])
    batch = collate_latents([ds[0], ds[1]])
    zero = t2m_gpt.build(GPT_TINY.__class__(**{**GPT_TINY.__dict__, "corrupt_prob": 0.0}), 0, encoder)
    loss = zero.training_loss(batch)
    inp = torch.tensor([[1, 2, 3, GPT_TINY.pad], [5, 6, 7, 7]])
    real = torch.tensor([[True, True, True, False], [True] * 4])
    logits = zero(inp, zero.text_vectors(batch.captions), real)
    target = torch.tensor([[1, 2, 3, 16, -100], [5, 6, 7, 7, 16]])
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, 17), target.reshape(-1), ignore_index=-100))


def test_gpt_sampling_honours_lengths_and_end(encoder):
    model = t2m_gpt.build(GPT_TINY, 0, encoder).eval()
    codes, lengths = model.sample_codes(CAPTIONS, torch.Generator().manual_seed(0), torch.tensor([2, 5, 3]))
    assert codes.shape == (3, 5) and lengths.tolist() == [2, 5, 3] and int(codes.max()) < 16
    free, n = model.sample_codes(CAPTIONS, torch.Generator().manual_seed(0))
    assert free.shape[1] <= GPT_TINY.max_codes and ((n >= 0) & (n <= GPT_TINY.max_codes)).all()
    vq = vqvae.build(VQ_TINY, 0).eval()
    pipe = t2m_gpt.T2MGPTPipeline(vq, model, LengthSampler.fit([8, 12, 20, 24], 24), fps=10.0)
    g = pipe.generate(CAPTIONS[:2], [8, 20], generator=torch.Generator().manual_seed(1))
    assert g.features.shape == (2, 20, NUM_KEYPOINTS, 3) and (g.confidence[0, 8:] == 0).all()
    with pytest.raises(ValueError, match="multiples of 4 frames for t2m-gpt"):
        pipe.generate(CAPTIONS[:1], [10])
    with pytest.raises(ValueError, match="the GPT models 16 codes, the VQ-VAE has 32"):
        t2m_gpt.T2MGPTPipeline(vqvae.build(vqvae.VQVAEConfig(width=16, code_dim=8, codebook_size=32, depth=1,
                                                             max_frames=16)), model, LengthSampler.fit([8], 8))


@pytest.mark.parametrize("make, message", [
    (lambda: mdm.MDMConfig(dim=30, num_heads=4), "dim"),
    (lambda: mdm.MDMConfig(guidance_scale=-1.0), "guidance_scale"),
    (lambda: vqvae.VQVAEConfig(max_frames=30), "max_frames"),
    (lambda: vqvae.VQVAEConfig(ema_decay=1.0), "ema_decay"),
    (lambda: t2m_gpt.T2MGPTConfig(corrupt_prob=1.0), "corrupt_prob"),
    (lambda: t2m_gpt.T2MGPTConfig(top_k=1000), "top_k"),
])
def test_bad_configs(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_text_rms_scales_the_sentence_vector_and_keeps_old_hashes(encoder):
    import math

    from tenderlib import params

    for make, cfg in ((mdm.MDM, MDM_TINY), (t2m_gpt.T2MGPT, GPT_TINY)):
        plain, scaled = make(cfg, encoder), make(dataclasses.replace(cfg, text_rms=True), encoder)
        v, w = plain.text_vectors(CAPTIONS), scaled.text_vectors(CAPTIONS)
        assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-5)  # the encoder's unit-norm vectors
        assert torch.allclose(w, v * math.sqrt(v.shape[1])) and torch.allclose(w.pow(2).mean(1), torch.ones(3), atol=1e-4)
        # a config saved before the field existed is the same run: left out of the hash at its default
        assert params.config_hash(cfg) != params.config_hash(dataclasses.replace(cfg, text_rms=True))
        fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "text_rms"}
        text = json.dumps([[type(cfg).__qualname__, fields]], sort_keys=True, separators=(",", ":"))
        assert params.config_hash(cfg) == hashlib.sha256(text.encode()).hexdigest()[:12]
        assert params.from_dict(type(cfg), fields) == cfg
