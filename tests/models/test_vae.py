"""PA-VAE: part-aware attention against eq. 3 written out, blocked == masked == per part, padding, CAG, losses,
bad input."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tenderlib import checkpoints, params
from tenderlib.experiments import vae_runs
from tenderlib.models.losses import (
    confidence_loss, kl_divergence, part_errors, reconstruction_loss, velocity_loss,
)
from tenderlib.data.skeleton import NUM_KEYPOINTS, REGIONS, part_ids, part_indices, part_mask
from tenderlib.models import vae
from tenderlib.models.vae import LOGVAR_INIT, PAVAE, PartAttention, VAEConfig, frame_mask, part_major_sizes

TINY = dict(spatial_dim=8, spatial_heads=2, latent_tokens=2, latent_dim=16, num_layers=3, num_heads=2,
            ff_dim=32, max_frames=24)


def features(B=3, T=10, seed=0, unannotated=()):
    """Random features (B, T, K, 3): x, y ~ N(0, 1), confidence in (0.05, 1.05); 0 at `unannotated` keypoints."""
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(B, T, NUM_KEYPOINTS, 3, generator=g)
    f[..., 2] = torch.rand(B, T, NUM_KEYPOINTS, generator=g) + 0.05
    for k in unannotated:
        f[:, :, k] = 0
    return f


def model(seed=0, impl="blocked", **changes) -> PAVAE:
    torch.manual_seed(seed)
    return PAVAE(VAEConfig(**{**TINY, **changes}), spatial_impl=impl).eval()


# --- part-aware attention -------------------------------------------------------------------


@pytest.mark.parametrize("num_parts", [4, 3, 2])
def test_part_attention_is_eq3(num_parts):
    """Both ways of computing it equal softmax((Q K^T + M) / sqrt(C)) V with per-part Q/K/V maps."""
    torch.manual_seed(num_parts)
    parts = part_indices(num_parts)
    bounds = [(int(p[0]), int(p[-1]) + 1) for p in parts]
    C = 8
    attn = PartAttention(bounds, C, heads=1, mask=torch.from_numpy(part_mask(num_parts)))
    x = torch.randn(5, NUM_KEYPOINTS, C)  # (N, K, C)
    # reference: every keypoint projected by its part's W, one 133 x 133 attention with eq. 3's mask
    ids = part_ids(num_parts)
    W = torch.stack([attn.qkv.linears[p].weight for p in ids])  # (K, 3C, C)
    b = torch.stack([attn.qkv.linears[p].bias for p in ids])  # (K, 3C)
    qkv = torch.einsum("nkc,kdc->nkd", x, W) + b
    q, k, v = qkv.split(C, dim=-1)
    scores = (q @ k.transpose(1, 2) + torch.from_numpy(part_mask(num_parts))) / C ** 0.5  # (N, K, K)
    ref = attn.out(torch.softmax(scores, dim=-1) @ v)
    masked = attn(x)
    part_major = torch.cat([x[:, s:e].reshape(-1, C) for s, e in bounds])  # (N K, C), part by part
    y = attn.forward_blocked(part_major, frames=5).split(part_major_sizes(bounds, 5))
    blocked = torch.cat([b.view(5, e - s, C) for b, (s, e) in zip(y, bounds)], dim=1)  # (N, K, C)
    torch.testing.assert_close(masked, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(blocked, ref, atol=1e-5, rtol=1e-5)


def test_part_attention_rejects_a_mask_that_is_not_the_parts():
    with pytest.raises(ValueError, match="mask"):
        PartAttention([(0, 10), (10, NUM_KEYPOINTS)], 8, 1, mask=torch.from_numpy(part_mask(4)))


@pytest.mark.parametrize("num_parts", [4, 2])
def test_blocked_equals_masked_model(num_parts):
    """The whole model, forward and gradients: same weights, both spatial implementations."""
    a = model(impl="blocked", num_parts=num_parts)
    b = model(impl="masked", num_parts=num_parts)
    b.load_state_dict(a.state_dict())
    f, mask = features(), frame_mask([10, 7, 3])
    la = a.loss(oa := a(f, mask), f, mask)
    lb = b.loss(ob := b(f, mask), f, mask)
    torch.testing.assert_close(oa.features, ob.features, atol=1e-5, rtol=1e-4)
    la.loss.backward()
    lb.loss.backward()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, atol=1e-5, rtol=1e-3, msg=name)


def per_part_spatial(enc, x: torch.Tensor) -> torch.Tensor:
    """The blocked spatial encoder written out part by part, as first implemented: x (B, T, K, C_in) -> (B, T, d).

    Each part's tokens (N, P_I, C) go alone through embedding, layers and final norm; the parts'
    shares of the final projection are summed.
    """
    B = x.shape[0]
    x = x.flatten(0, 1)  # (N, K, C_in)
    C = enc.token_embedding.shape[1]
    out = enc.proj.bias
    for p, (s, e) in enumerate(enc.kp_bounds):
        h = enc.embed.linears[p](x[:, s:e]) + enc.token_embedding[s:e]  # (N, P_I, C)
        for layer in enc.layers:
            qkv = layer.attn.qkv.linears[p](layer.norm_attn(h))  # (N, P_I, 3C)
            q, k, v = qkv.view(*qkv.shape[:2], 3, layer.attn.heads, -1).permute(2, 0, 3, 1, 4)  # (N, h, P_I, c)
            y = torch.nn.functional.scaled_dot_product_attention(q, k, v)  # (N, h, P_I, c)
            h = h + layer.attn.out(y.transpose(1, 2).flatten(2))
            h = h + layer.ff(layer.norm_ff(h))
        out = out + torch.nn.functional.linear(enc.norm(h).flatten(1), enc.proj.weight[:, s * C:e * C])  # (N, d)
    return out.view(B, -1, out.shape[-1])


DEFAULT_PROFILE = dict(dropout=0.0, max_frames=96)  # params/default/02_vae.yaml's VAEConfig: the defaults, and these


@pytest.mark.parametrize("changes, chunk", [(dict(), 256), (dict(), 50), (dict(num_parts=3, spatial_heads=2), 50),
                                            (dict(num_parts=2), 50)])
def test_blocked_encoder_equals_the_per_part_formulation(changes, chunk, monkeypatch):
    """Chunked, part-major blocked encoder == each part on its own, forward and gradients (chunk 50:
    two full chunks and a partial one)."""
    monkeypatch.setattr(vae, "SPATIAL_CHUNK", chunk)
    torch.manual_seed(0)
    m = PAVAE(VAEConfig(**{**DEFAULT_PROFILE, **changes})).eval()
    f, mask = features(B=2, T=64, seed=1), frame_mask([64, 40])
    ref = per_part_spatial(m.spatial, f)  # (B, T, d)
    out = m.spatial(f)
    assert (out - ref).abs().max() < 1e-5
    up = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))  # d loss / d out
    grads = torch.autograd.grad(out, list(m.spatial.parameters()), up)
    ref_grads = torch.autograd.grad(ref, list(m.spatial.parameters()), up)
    for (name, _), g, r in zip(m.spatial.named_parameters(), grads, ref_grads):
        assert (g - r).abs().max() <= 1e-5 * r.abs().max(), name  # sums over ~10^4 tokens: relative
    # and through the whole encoder
    with torch.no_grad():
        mu = m.encode(f, mask)[0]
        monkeypatch.setattr(m.spatial, "forward", lambda x: per_part_spatial(m.spatial, x))
        assert (mu - m.encode(f, mask)[0]).abs().max() < 1e-5


def test_state_dict_keys_of_the_spatial_encoders():
    """Checkpoints stay loadable: the spatial encoders' parameter names and shapes, as saved."""
    sizes = [17, 6, 68, 42]  # body, foot, face, hand keypoints
    per_layer = {"norm_attn.weight": (16,), "norm_attn.bias": (16,), "norm_ff.weight": (16,), "norm_ff.bias": (16,),
                 **{f"attn.qkv.linears.{p}.{w}": (48, 16)[:2 - (w == "bias")] for p in range(4)
                    for w in ("weight", "bias")},
                 "attn.out.weight": (16, 16), "attn.out.bias": (16,), "ff.0.weight": (32, 16), "ff.0.bias": (32,),
                 "ff.3.weight": (16, 32), "ff.3.bias": (16,)}
    expect = {**{f"embed.linears.{p}.{w}": (16, 3)[:2 - (w == "bias")] for p in range(4) for w in ("weight", "bias")},
              "token_embedding": (NUM_KEYPOINTS, 16),
              **{f"layers.{i}.{k}": v for i in range(2) for k, v in per_layer.items()},
              "norm.weight": (16,), "norm.bias": (16,), "proj.weight": (128, NUM_KEYPOINTS * 16), "proj.bias": (128,)}
    got = {k: tuple(v.shape) for k, v in PAVAE(VAEConfig()).spatial.state_dict().items()}
    assert got == expect
    part = {k: tuple(v.shape) for k, v in PAVAE(VAEConfig(spatial_tokens="part")).spatial.state_dict().items()
            if k.startswith("embed")}
    assert part == {**{f"embed.{p}.weight": (16, 3 * n) for p, n in enumerate(sizes)},
                    **{f"embed.{p}.bias": (16,) for p in range(4)}}
    naive = {k: tuple(v.shape) for k, v in PAVAE(VAEConfig(num_parts=1)).spatial.state_dict().items()}
    assert naive == {"proj.weight": (128, NUM_KEYPOINTS * 3), "proj.bias": (128,)}


def test_spatial_attention_stays_within_parts():
    """With keypoint tokens, changing the face changes nothing of the hands' tokens before the projection."""
    m = model(num_parts=4)
    enc = m.spatial
    f = features(B=1, T=2)
    g = f.clone()
    g[:, :, REGIONS["face"]] += 1.0
    tokens = []
    for x in (f, g):
        h = enc.embed(x.flatten(0, 1)) + enc.token_embedding
        for layer in enc.layers:
            h = layer(h)
        tokens.append(h)
    hands = slice(REGIONS["left_hand"].start, NUM_KEYPOINTS)
    torch.testing.assert_close(tokens[0][:, hands], tokens[1][:, hands])
    assert not torch.allclose(tokens[0][:, REGIONS["face"]], tokens[1][:, REGIONS["face"]])


# --- the model ------------------------------------------------------------------------------


@pytest.mark.parametrize("changes", [dict(), dict(num_parts=1), dict(spatial_tokens="part"), dict(cag=False),
                                     dict(skip=False, positional="learned")])
def test_shapes_padding_and_variants(changes):
    m = model(**changes)
    f, mask = features(), frame_mask([10, 6, 1])
    out = m(f, mask)
    C = 3 if m.cfg.cag else 2
    assert out.features.shape == (3, 10, NUM_KEYPOINTS, C)
    assert out.mu.shape == out.logvar.shape == (3, m.cfg.latent_tokens, m.cfg.latent_dim)
    assert (out.features[~mask] == 0).all()  # padded frames
    assert (out.confidence is None) == (not m.cfg.cag)
    # a clip encodes the same alone or padded next to a longer one
    alone = m(f[1:2, :6], frame_mask([6]))
    torch.testing.assert_close(alone.mu, out.mu[1:2], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(alone.features, out.features[1:2, :6], atol=1e-5, rtol=1e-4)


def test_naive_vae_and_names():
    naive = VAEConfig(num_parts=1, spatial_layers=3)
    assert naive.spatial_layers == 0 and naive.naive and naive.name == "VAE"
    assert VAEConfig().name == "PA-VAE-2-4" and VAEConfig(spatial_tokens="part", num_parts=3).name == "PA-VAE-2-3-part"
    m = model(num_parts=1)
    assert not hasattr(m.spatial, "layers")


def test_cag_confidence_is_an_input_only_with_cag():
    f, mask = features(), frame_mask([10, 10, 10])
    g = f.clone()
    g[..., 2] = 0.5
    plain, cag = model(cag=False), model(cag=True)
    torch.testing.assert_close(plain(f, mask).mu, plain(g, mask).mu)
    assert not torch.allclose(cag(f, mask).mu, cag(g, mask).mu)


def test_sampling_is_reparameterised():
    m = model()
    f, mask = features(), frame_mask([10, 10, 10])
    out = m(f, mask, sample=True, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(out.mu.shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.z, out.mu + torch.exp(0.5 * out.logvar) * eps)
    torch.testing.assert_close(m(f, mask).z, m(f, mask).mu)  # eval: z = mu


def test_posterior_starts_narrow_and_mu_varies_with_the_input():
    """A fresh model's logvar is LOGVAR_INIT everywhere (sigma ~0.01, so the decoder sees z from the
    first step) and its mu differs between clips (the heads do not erase the encoder's output)."""
    m = model()
    out = m(features(), frame_mask([10, 10, 10]))
    torch.testing.assert_close(out.logvar, torch.full_like(out.logvar, LOGVAR_INIT))
    assert (out.mu[0] - out.mu[1]).abs().max() > 1e-3


def test_paper_preset_and_json_round_trip():
    p = VAEConfig.paper()
    assert (p.num_layers, p.num_heads, p.latent_tokens, p.latent_dim, p.num_parts, p.spatial_layers, p.cag) == \
        (9, 4, 8, 256, 4, 2, True)
    assert VAEConfig.paper(cag=False).cag is False
    for cfg in (VAEConfig(), p, VAEConfig(num_parts=1, velocity_weight=1.0)):
        assert params.from_json(VAEConfig, params.to_json(cfg)) == cfg


# --- losses ----------------------------------------------------------------------------------


def test_losses_ignore_padding_and_unannotated_keypoints():
    f = features(unannotated=range(23, 91))  # a clip without face
    mask = frame_mask([10, 4, 7])
    pred = torch.randn(3, 10, NUM_KEYPOINTS, 3)
    worse = pred.clone()
    worse[:, :, 23:91] += 100  # unannotated keypoints
    worse[1, 4:] += 100  # padding
    for fn in (lambda p: reconstruction_loss(p[..., :2], f, mask), lambda p: velocity_loss(p[..., :2], f, mask),
               lambda p: reconstruction_loss(p[..., :2], f, mask, weighted=True),
               lambda p: confidence_loss(p[..., 2], f, mask)):
        assert fn(pred) == fn(worse)
    # ... except the CAG option that teaches confidence 0 where the source has none
    assert confidence_loss(pred[..., 2], f, mask, unannotated=True) != confidence_loss(worse[..., 2], f, mask,
                                                                                     unannotated=True)


def test_losses_hand_computed():
    f = torch.zeros(1, 2, NUM_KEYPOINTS, 3)
    f[0, :, 0, 2] = 0.5  # keypoint 0 annotated with confidence 0.5, keypoint 1 with 1.0
    f[0, :, 1, 2] = 1.0
    f[0, 1, 0, :2] = torch.tensor([1.0, 0.0])  # keypoint 0 moves by (1, 0)
    pred = torch.zeros(1, 2, NUM_KEYPOINTS, 2)
    pred[0, :, 1] = 2.0  # keypoint 1 off by (2, 2) in both frames
    mask = torch.ones(1, 2, dtype=torch.bool)
    # L2: errors per (keypoint, coordinate): kp0 frame 1 x: 1; kp1: 4 x 4 -> (1 + 16) / 8
    assert reconstruction_loss(pred, f, mask, "l2").item() == pytest.approx(17 / 8)
    # weighted: kp0 weight 0.5 (err 1 in one frame), kp1 weight 1 (err 8 per frame) over weights 3, per coordinate
    assert reconstruction_loss(pred, f, mask, "l2", weighted=True).item() == pytest.approx((0.5 * 1 + 16) / 3 / 2)
    # SmoothL1: |2| -> 1.5, |1| -> 0.5
    assert reconstruction_loss(pred, f, mask, "smooth_l1").item() == pytest.approx((0.5 + 4 * 1.5) / 8)
    # velocity: kp0 true (1, 0) vs 0; kp1 0 vs 0 -> l1 sum 1 over 2 keypoints x 2 coordinates
    assert velocity_loss(pred, f, mask, "l1").item() == pytest.approx(1 / 4)
    conf = torch.zeros(1, 2, NUM_KEYPOINTS)
    assert confidence_loss(conf, f, mask, "l1").item() == pytest.approx((0.5 + 1.0) / 2)


def test_kl_matches_torch_distributions():
    mu, logvar = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    d = torch.distributions
    ref = d.kl_divergence(d.Normal(mu, torch.exp(0.5 * logvar)), d.Normal(0.0, 1.0)).mean()
    torch.testing.assert_close(kl_divergence(mu, logvar), ref)


@pytest.mark.parametrize("changes", [dict(), dict(velocity_weight=0.5, conf_weighted=True), dict(cag=False)])
def test_objective_is_the_weighted_sum(changes):
    m = model(**changes, kl_weight=0.01, conf_weight=2.0)
    f, mask = features(), frame_mask([10, 8, 5])
    out = m(f, mask)
    terms = m.loss(out, f, mask)
    cfg = m.cfg
    expected = (reconstruction_loss(out.features[..., :2], f, mask, weighted=cfg.conf_weighted)
                + (2.0 * confidence_loss(out.features[..., 2], f, mask) if cfg.cag else 0)
                + cfg.velocity_weight * velocity_loss(out.features[..., :2], f, mask)
                + 0.01 * kl_divergence(out.mu, out.logvar))
    torch.testing.assert_close(terms.loss, expected)
    assert (terms.confidence == 0) == (not cfg.cag) and (terms.velocity == 0) == (cfg.velocity_weight == 0)


def test_part_errors_hand_computed():
    f = torch.zeros(2, 3, NUM_KEYPOINTS, 3)
    f[..., 2] = 1.0
    f[1, :, REGIONS["face"], 2] = 0  # clip 1 has no face
    pred = torch.zeros(2, 3, NUM_KEYPOINTS, 2)
    pred[..., 0] = 3.0
    pred[..., 1] = 4.0  # every keypoint 5 units off
    mask = frame_mask([3, 2])
    e = part_errors(pred, f, mask, scale=torch.tensor([10.0, 100.0]))
    assert e.parts == ("body", "foot", "face", "hand")
    np.testing.assert_allclose(e.mean_norm, 5.0)
    assert e.count[2] == 3 * 68  # face: clip 0 only
    assert e.count[0] == (3 + 2) * 17
    np.testing.assert_allclose(e.mean_pixels[2], 50.0)
    np.testing.assert_allclose(e.mean_pixels[0], (3 * 50 + 2 * 500) / 5)
    assert (e + e).count[0] == 2 * e.count[0]


# --- bad input -------------------------------------------------------------------------------


def test_nan_coordinates_raise_naming_the_problem():
    m = model()
    f, mask = features(), frame_mask([10, 10, 10])
    f[2, 4, 100, 0] = float("nan")
    with pytest.raises(ValueError, match=r"NaN.*item\(s\) \[2\].*frame 4"):
        m(f, mask)


def test_clip_longer_than_positional_table_raises():
    m = model(max_frames=8)
    with pytest.raises(ValueError, match="longer than the positional table.*max_frames=8"):
        m(features(T=9), frame_mask([9, 9, 9]))
    with pytest.raises(ValueError, match="max_frames=8"):
        m.decode(torch.zeros(1, 2, 16), frame_mask([9]))


@pytest.mark.parametrize("bad, word", [(dict(num_parts=5), "num_parts"),
                                       (dict(spatial_tokens="joint"), "spatial_tokens"),
                                       (dict(num_parts=4, spatial_layers=0), "spatial_layers"),
                                       (dict(latent_dim=30, num_heads=4), "latent_dim"),
                                       (dict(recon_loss="huber"), "recon_loss"), (dict(kl_weight=-1.0), "kl_weight"),
                                       (dict(max_frames=10**9), r"max_frames must be an int in \[1, 10000\]"),
                                       (dict(ff_dim=10**7), r"ff_dim must be an int in \[1, 8192\]"),
                                       (dict(spatial_layers=1000), r"spatial_layers must be an int in \[1, 64\]")])
def test_bad_config_raises(bad, word):
    with pytest.raises(ValueError, match=word):
        VAEConfig(**bad)


def test_bad_shapes_raise():
    m = model()
    with pytest.raises(ValueError, match="features must have shape"):
        m(torch.zeros(1, 4, 17, 3), frame_mask([4]))
    with pytest.raises(ValueError, match="mask must be bool"):
        m(features(B=1, T=4), torch.ones(1, 4))
    assert dataclasses.is_dataclass(m(features(B=1, T=4), frame_mask([4])))


# --- runs by config, latents, reconstructions, ablation names --------------------------------


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    from tenderlib.data.motion import Motion
    from tenderlib.data.skeleton import REGIONS
    from tenderlib.data.store import build_store

    rng = np.random.default_rng(0)
    clips = []
    for i in range(10):
        T = int(rng.integers(6, 20))
        kp = (rng.random((T, NUM_KEYPOINTS, 2)) * [640, 480]).astype(np.float32)
        conf = (0.1 + rng.random((T, NUM_KEYPOINTS))).astype(np.float32)
        if i % 3 == 2:  # a face-only clip
            conf[:, :REGIONS["face"].start] = 0
            conf[:, REGIONS["face"].stop:] = 0
        clips.append(Motion(keypoints=kp, confidence=conf, texts=[f"clip {i}"], source="syn-k400", fps=30.0,
                            image_size=(640, 480), clip_id=f"v{i:03d}"))
    return build_store(clips, tmp_path_factory.mktemp("vae") / "store")


@pytest.fixture
def tmp_root(tmp_path, monkeypatch):
    monkeypatch.setenv("TENDER_ROOT", str(tmp_path))
    (tmp_path / "pyproject.toml").write_text("")
    return tmp_path


def _run_args(**changes):
    from tenderlib import training
    from tenderlib.data.selection import Selection

    cfg = VAEConfig(**{**TINY, "max_frames": 12, **changes})
    tc = training.TrainConfig(max_steps=4, batch_size=4, lr=1e-3, checkpoint_every=2, keep_last=0, log_every=1,
                              progress="off", device="cpu")
    return cfg, tc, Selection(split="all")


def test_load_or_train_trains_once_then_loads(tiny_store, tmp_root):

    cfg, tc, sel = _run_args()
    first = vae_runs.load_or_train(cfg, tc, tiny_store, sel, "test")
    assert first.trained_now and first.step == 4 and first.train_clips == 10
    assert first.run_dir.parent == tmp_root / "outputs" / "test" / "checkpoints" and first.run_dir.name.startswith("vae-")
    again = vae_runs.load_or_train(cfg, tc, tiny_store, sel, "test")
    assert not again.trained_now and again.step == 4 and again.history == first.history
    ds = vae_runs.eval_dataset(tiny_store, np.arange(10), cfg)
    a, b = vae_runs.encode_dataset(first.model, ds, batch_size=3), vae_runs.encode_dataset(again.model, ds, batch_size=3)
    torch.testing.assert_close(a.mu, b.mu, rtol=0, atol=0)
    # another config is another run; a checkpoint loaded into the wrong config names the field
    other = dataclasses.replace(cfg, latent_tokens=3)
    assert vae_runs.run_dir_for(other, tc, tiny_store, sel, "test") != first.run_dir
    with pytest.raises(checkpoints.CheckpointMismatchError, match="latent_tokens"):
        checkpoints.load_weights(vae_runs.build(other), checkpoints.latest_checkpoint(first.run_dir), other)
    # logging and device fields do not change the run folder
    quiet = dataclasses.replace(tc, log_every=3, progress="on", checkpoint_every=1)
    assert vae_runs.run_dir_for(cfg, quiet, tiny_store, sel, "test") == first.run_dir


def test_load_or_train_resumes_a_killed_run_exactly(tiny_store, tmp_root):
    import shutil



    cfg, tc, sel = _run_args()
    full = vae_runs.load_or_train(cfg, tc, tiny_store, sel, "a")
    # the same run killed after its step-2 checkpoint: only step_00000002 is there
    killed = vae_runs.run_dir_for(cfg, tc, tiny_store, sel, "b")
    shutil.copytree(full.run_dir / "step_00000002", killed / "step_00000002")
    resumed = vae_runs.load_or_train(cfg, tc, tiny_store, sel, "b")
    assert resumed.trained_now and resumed.step == 4
    for k, v in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, rtol=0, atol=0)


def test_encode_dataset_matches_encode_and_lengths(tiny_store):

    from tenderlib.data.dataset import collate

    m = model(max_frames=12)
    ds = vae_runs.eval_dataset(tiny_store, np.arange(10), m.cfg)
    mu, lengths = vae_runs.encode_dataset(m, ds, batch_size=4)
    assert mu.shape == (10, m.cfg.latent_tokens, m.cfg.latent_dim) and lengths.dtype == torch.int64
    assert lengths.tolist() == [min(int(n), 12) for n in tiny_store.index.length[:10]]
    one = collate([ds[7]])
    torch.testing.assert_close(mu[7:8], m.encode(one.features, one.mask)[0], atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="empty"):
        vae_runs.encode_dataset(m, vae_runs.eval_dataset(tiny_store, [], m.cfg))


def test_reconstruct_returns_the_clip_in_pixels(tiny_store):


    m = model(max_frames=12)
    ds = vae_runs.eval_dataset(tiny_store, np.arange(10), m.cfg)
    recs = vae_runs.reconstruct(m, ds, [0, 2])
    for r, k in zip(recs, (0, 2)):
        item = ds[k]
        frames = tiny_store.frames(item.index)[item.start:item.start + item.length]  # (T, K, 3) pixels
        seen = frames[..., 2] > 0  # unannotated keypoints are 0 in the features, not their pixels
        np.testing.assert_allclose(r.truth[seen], frames[..., :2][seen], rtol=1e-5, atol=1e-2)
        np.testing.assert_array_equal(r.truth_confidence, frames[..., 2])
        assert r.pred.shape == r.truth.shape and r.pred_confidence.shape == r.truth_confidence.shape
    plain = model(max_frames=12, cag=False)
    r = vae_runs.reconstruct(plain, ds, [1])[0]
    np.testing.assert_array_equal(r.pred_confidence, r.truth_confidence)  # without CAG: the true confidence


def test_reconstruction_shows_no_region_the_clip_does_not_annotate(tiny_store):
    """A face-only clip's reconstruction: the decoder's body is its guess, given confidence 0."""
    from tenderlib.data.skeleton import REGIONS

    conf = np.ones((2, 5, NUM_KEYPOINTS), dtype=np.float32)
    conf[0][:, np.r_[0:REGIONS["face"].start, REGIONS["face"].stop:NUM_KEYPOINTS]] = 0.0  # clip 0: face only
    conf[1, 3, REGIONS["left_hand"]] = 0.0  # clip 1: one frame without the left hand still annotates it
    mask = vae_runs.annotated_mask(conf)
    assert mask.shape == (2, NUM_KEYPOINTS)
    assert mask[0, REGIONS["face"]].all() and mask[0].sum() == REGIONS["face"].stop - REGIONS["face"].start
    assert mask[1].all()
    m = model(max_frames=12)
    ds = vae_runs.eval_dataset(tiny_store, np.arange(10), m.cfg)
    r = vae_runs.reconstruct(m, ds, [0])[0]
    for name, part in REGIONS.items():
        if not (r.truth_confidence[:, part] > 0).any():
            assert not r.pred_confidence[:, part].any(), name


def test_velocity_error_hand_computed():
    from tenderlib.data.dataset import Batch
    from tenderlib.experiments.vae_runs import _velocity_error

    f = torch.zeros(1, 3, NUM_KEYPOINTS, 3)
    f[..., 2] = 1.0
    f[0, 1, 5, :2] = torch.tensor([3.0, 4.0])  # the true keypoint 5 moves by (3, 4) and back
    f[0, :, 6, 2] = 0.0  # keypoint 6 not annotated: never counted
    pred = torch.zeros(1, 3, NUM_KEYPOINTS, 2)
    pred[0, :, 6] = 100.0 * torch.arange(3.0)[:, None]
    batch = Batch(features=f, mask=frame_mask([3]), lengths=torch.tensor([3]), captions=["x"],
                  indices=torch.tensor([0]), starts=torch.tensor([0]), center=torch.zeros(1, 2),
                  scale=torch.tensor([2.0]))
    sums = _velocity_error(pred, batch, 0.0)
    counted = 2 * (NUM_KEYPOINTS - 1)
    torch.testing.assert_close(sums, torch.tensor([10.0, 20.0, counted], dtype=torch.float64))


@pytest.mark.parametrize("name, expect", [
    ("VAE", dict(num_parts=1, spatial_layers=0)),
    ("PA-VAE-1-4", dict(num_parts=4, spatial_layers=1, spatial_tokens="keypoint")),
    ("PA-VAE-2-3-part", dict(num_parts=3, spatial_layers=2, spatial_tokens="part")),
    ("3-8-64", dict(num_layers=3, latent_tokens=8, latent_dim=64)),
    ("none", dict(cag=False, conf_weighted=False, velocity_weight=0.0)),
    ("velocity+cag", dict(cag=True, conf_weighted=False, velocity_weight=0.5)),
    ("velocity+weighted+cag", dict(cag=True, conf_weighted=True, velocity_weight=0.5)),
])
def test_ablation_config_names(name, expect):


    cfg = vae_runs.ablation_config(VAEConfig(), name, velocity_weight=0.5)
    assert {k: getattr(cfg, k) for k in expect} == expect
    if name.startswith(("VAE", "PA-VAE")):
        assert cfg.name == name


@pytest.mark.parametrize("bad, word", [
    (dict(part_variants=("PA-VAE-2-5",)), "part_variants"),          # 5 parts: VAEConfig.num_parts says why
    (dict(objective_variants=("cag+velocity",)), r"velocity\+cag"),   # the error lists the allowed names
    (dict(subset="D4"), "subset"), (dict(ablation_steps=-1), "ablation_steps"),
])
def test_experiment_config_rejects_bad_values(bad, word):


    with pytest.raises(ValueError, match=word):
        vae_runs.VAEExperimentConfig(**bad)


def test_paper_vae_tables_agree_with_each_other():
    from tenderlib.experiments import paper

    t5, t14 = paper.table5().set_index("method"), paper.table14().set_index("method")
    shared = [m for m in t14.index if m != "PA-VAE-1-2"]  # its FID is printed 10.0147 / 20.0147
    assert set(t14.index) <= set(t5.index)
    for col in ("top1", "fid", "diversity"):
        np.testing.assert_array_equal(t5.loc[shared, col], t14.loc[shared, col])
    t7, t16 = paper.table7(), paper.table16()
    assert list(t16["method"]) == list(vae_runs.OBJECTIVES)
    np.testing.assert_array_equal(t7[["top1", "fid", "diversity"]], t16[["top1", "fid", "diversity"]])
    assert t16.loc[0, "top1"] == t14.loc["PA-VAE-2-4", "top1"]  # the same model
    # every part-variant row names a config of ours
    for m, row in t5.iterrows():
        cfg = vae_runs.ablation_config(VAEConfig(), m)
        assert (cfg.spatial_layers, cfg.num_parts) == (row["spatial_layers"], row["num_parts"])
    t12 = paper.table12()
    assert (t12["setting"].str.extract(r"Ours-(\d+)-(\d+)-(\d+)").astype(int).to_numpy()
            == t12[["num_layers", "latent_tokens", "latent_dim"]].to_numpy()).all()


def test_spread_in_time_places_tokens_at_segment_centres():
    from tenderlib.models.vae import spread_in_time

    tokens = torch.arange(4.0)[None, :, None].expand(2, 4, 3)  # token j holds the value j
    mask = frame_mask(torch.tensor([8, 4]), 8)
    out = spread_in_time(tokens, mask)
    torch.testing.assert_close(out[0, :, 0], torch.tensor([0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0]))
    torch.testing.assert_close(out[1, :, 0], torch.tensor([0.0, 1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0]))
    one = spread_in_time(torch.full((1, 1, 2), 5.0), frame_mask(torch.tensor([3]), 4))  # n = 1: held
    torch.testing.assert_close(one[0, :, 0], torch.tensor([5.0, 5.0, 5.0, 0.0]))


def test_decoder_queries_are_zeros_or_the_latent_spread_in_time():
    """What the decoder's transformer receives as frame queries: positions alone (zeros), or the
    latent tokens (with their identity embedding) spread over the clip, plus positions."""
    from tenderlib.models.vae import spread_in_time

    cfg = dict(max_frames=16, latent_dim=16, latent_tokens=2, num_layers=1, num_heads=2, ff_dim=16)
    mask = frame_mask(torch.tensor([16, 9]), 16)
    z = torch.randn(2, 2, 16)
    for kind in ("zeros", "latent"):
        torch.manual_seed(0)
        model = PAVAE(VAEConfig(**cfg, decoder_queries=kind)).eval()
        seen = {}

        class Capture(torch.nn.Module):
            def forward(self, queries, keys, context):
                seen["queries"], seen["context"] = queries, context
                return torch.zeros_like(queries)

        model.decoder = Capture()
        model.decode(z, mask)
        memory = z + model.latent_pos
        start = spread_in_time(memory, mask) if kind == "latent" else torch.zeros(2, 16, 16)
        torch.testing.assert_close(seen["queries"], model.dec_pos(start))
        torch.testing.assert_close(seen["context"], memory)
    with pytest.raises(ValueError, match="decoder_queries"):
        VAEConfig(decoder_queries="noise")


def test_logvar_init_sets_the_initial_posterior_variance():
    model = PAVAE(VAEConfig(max_frames=8, latent_dim=16, latent_tokens=1, num_layers=1, num_heads=2, ff_dim=16,
                            logvar_init=-9.0))
    _, logvar = model.encode(torch.randn(1, 8, 133, 3), torch.ones(1, 8, dtype=torch.bool))
    torch.testing.assert_close(logvar, torch.full_like(logvar, -9.0))
