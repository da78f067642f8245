"""MoLIP: the contrastive objective against a reference, padding-awareness, bad input, load by config."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fakes import WordEncoder
from tenderlib import checkpoints, training
from tenderlib.models import molip
from tenderlib.experiments import molip_runs
from tenderlib.evaluation import embedding, metrics
from tenderlib.data.dataset import Batch
from tenderlib.data.skeleton import NUM_KEYPOINTS

TINY = molip.MoLIPConfig(max_frames=16, frame_stride=2, dim=32, motion_layers=1, text_layers=2, heads=2,
                         ff_dim=64, embed_dim=16, dropout=0.0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def encoder():
    return WordEncoder()


def _motion(B=3, T=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(B, T, NUM_KEYPOINTS, 3, generator=g)
    feats[..., 2] = torch.rand(B, T, NUM_KEYPOINTS, generator=g) + 0.1
    return feats, torch.ones(B, T, dtype=torch.bool)


def test_contrastive_loss_matches_clip_reference():
    g = torch.Generator().manual_seed(1)
    t = F.normalize(torch.randn(6, 8, generator=g), dim=-1)
    m = F.normalize(torch.randn(6, 8, generator=g), dim=-1)
    scale = torch.tensor(math.log(1 / 0.07))
    out = molip.contrastive_loss(t, m, scale)
    logits = t @ m.T / 0.07
    ref = (F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.T, torch.arange(6))) / 2
    assert torch.allclose(out.loss, ref, atol=1e-5)
    assert math.isclose(float(out.temperature), 0.07, rel_tol=1e-5)


def test_contrastive_loss_duplicate_captions_share_targets():
    """Hand-computed: rows 0 and 1 have the same caption; loops, not matrix algebra."""
    g = torch.Generator().manual_seed(2)
    t = F.normalize(torch.randn(3, 4, generator=g), dim=-1)
    m = F.normalize(torch.randn(3, 4, generator=g), dim=-1)
    pos = molip.same_caption(["wave", "wave", "clap"])
    assert pos.tolist() == [[True, True, False], [True, True, False], [False, False, True]]
    out = molip.contrastive_loss(t, m, torch.tensor(0.0))  # scale 1
    ref_plain = out.loss
    out = molip.contrastive_loss(t, m, torch.tensor(0.0), pos)
    s = (t @ m.T).tolist()
    t2m = m2t = 0.0
    for i in range(3):
        row = [math.exp(v) for v in s[i]]
        col = [math.exp(s[j][i]) for j in range(3)]
        positives = [j for j in range(3) if pos[i, j]]
        t2m -= sum(math.log(row[j] / sum(row)) for j in positives) / len(positives)
        m2t -= sum(math.log(col[j] / sum(col)) for j in positives) / len(positives)
    assert math.isclose(float(out.t2m), t2m / 3, rel_tol=1e-5)
    assert math.isclose(float(out.m2t), m2t / 3, rel_tol=1e-5)
    assert not torch.allclose(out.loss, ref_plain)


def test_contrastive_loss_rejects_bad_shapes():
    with pytest.raises(ValueError, match="text and motion"):
        molip.contrastive_loss(torch.zeros(3, 4), torch.zeros(2, 4), torch.tensor(0.0))
    with pytest.raises(ValueError, match="positives"):
        molip.contrastive_loss(torch.zeros(2, 4), torch.zeros(2, 4), torch.tensor(0.0), torch.zeros(2, 2, dtype=torch.bool))


def test_embeddings_are_unit_and_padding_aware(encoder):
    torch.manual_seed(0)
    model = molip.MoLIP(TINY, encoder).eval()
    feats, mask = _motion(B=2, T=10)
    with torch.no_grad():
        e = model.encode_motion(feats, mask)  # (2, E)
        padded = torch.cat([feats, torch.zeros(2, 4, NUM_KEYPOINTS, 3)], dim=1)  # (2, 14, K, 3)
        pmask = torch.cat([mask, torch.zeros(2, 4, dtype=torch.bool)], dim=1)
        e_pad = model.encode_motion(padded, pmask)
        t = model.encode_text(["a man waves his left hand", "clap"])
    assert e.shape == (2, TINY.embed_dim) and t.shape == (2, TINY.embed_dim)
    assert torch.allclose(e.norm(dim=-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(e, e_pad, atol=1e-5)
    # the same caption alone or in a batch with a longer one (padding of text tokens)
    with torch.no_grad():
        assert torch.allclose(model.encode_text(["clap"]), t[1:], atol=1e-5)


def test_confidence_variant_reads_confidence(encoder):
    torch.manual_seed(0)
    model = molip.MoLIP(molip.MoLIPConfig(**{**TINY.__dict__, "use_confidence": True}), encoder).eval()
    feats, mask = _motion(B=1, T=8)
    other = feats.clone()
    other[..., 2] *= 2
    with torch.no_grad():
        assert not torch.allclose(model.encode_motion(feats, mask), model.encode_motion(other, mask))
    assert model.frame_in.in_features == NUM_KEYPOINTS * 3


def test_bad_motion_input_raises(encoder):
    model = molip.MoLIP(TINY, encoder).eval()
    feats, mask = _motion(B=3, T=6)
    blind = feats.clone()
    blind[1, ..., 2] = 0
    with pytest.raises(ValueError, match=r"motions \[1\].*confidence 0"):
        model.encode_motion(blind, mask)
    with pytest.raises(ValueError, match="features must be"):
        model.encode_motion(feats[:, :, :100], mask)
    with pytest.raises(ValueError, match="mask must be"):
        model.encode_motion(feats, mask[:, :3])
    empty = mask.clone()
    empty[2] = False
    with pytest.raises(ValueError, match=r"motions \[2\].*no real frame"):
        model.encode_motion(feats, empty)
    with pytest.raises(ValueError, match="empty"):
        model.encode_text(["a man waves", "  "])


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="text_kind"):
        molip.MoLIPConfig(text_kind="bert")
    with pytest.raises(ValueError, match="dim"):
        molip.MoLIPConfig(dim=30, heads=4)
    with pytest.raises(ValueError, match="temperature"):
        molip.MoLIPConfig(temperature=0.0)
    with pytest.raises(ValueError, match=r"embed_dim must be an int in \[1, 8192\]"):
        molip.MoLIPConfig(embed_dim=10**9)
    with pytest.raises(ValueError, match=r"max_frames must be an int in \[1, 10000\]"):
        molip.MoLIPConfig(max_frames=10**12)


def test_training_loss_on_batch_and_gradients(encoder):
    torch.manual_seed(0)
    model = molip.MoLIP(TINY, encoder)
    feats, mask = _motion(B=4, T=8)
    batch = Batch(features=feats, mask=mask, lengths=mask.sum(1), captions=["wave left", "wave right", "clap", "clap"],
                  indices=torch.arange(4), starts=torch.zeros(4, dtype=torch.long), center=torch.zeros(4, 2),
                  scale=torch.ones(4))
    out = model.training_loss(batch)
    out.loss.backward()
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert model.text_tf.blocks[0].self_attn.to_q.weight.grad is not None
    assert model.logit_scale.grad is not None
    assert not any(p.requires_grad for p in encoder.__dict__.get("model", torch.nn.Linear(1, 1)).parameters()) \
        or not hasattr(encoder, "model")
    # the frozen encoder is not part of the weights
    assert all(not k.startswith("text_encoder") for k in model.state_dict())


def test_load_or_train_by_config_and_mismatch(encoder, tmp_path, monkeypatch):
    from tenderlib import synthetic
    from tenderlib.data.selection import Selection

    store = synthetic.get_store(synthetic.SyntheticConfig())  # the cached smoke store
    monkeypatch.setenv("TENDER_ROOT", str(tmp_path))
    (tmp_path / "pyproject.toml").write_text("")
    sel = Selection(split="train", data_frac=0.2)
    tc = training.TrainConfig(max_steps=3, batch_size=8, lr=1e-3, progress="off", device="cpu", log_every=1)
    first = molip_runs.load_or_train_molip(TINY, tc, store, sel, "test", text_encoder=encoder)
    assert first.trained_now and first.step == 3
    assert first.run_dir.parent == tmp_path / "outputs" / "test" / "checkpoints"
    again = molip_runs.load_or_train_molip(TINY, tc, store, sel, "test", text_encoder=encoder)
    assert not again.trained_now
    ds = embedding.eval_dataset(store, store.select(sel)[:8], TINY)
    a, b = embedding.embed_dataset(first.model, ds), embedding.embed_dataset(again.model, ds)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])
    other = molip.MoLIPConfig(**{**TINY.__dict__, "embed_dim": 8})
    with pytest.raises(checkpoints.CheckpointMismatchError, match="embed_dim"):
        checkpoints.load_weights(molip.MoLIP(other, encoder), checkpoints.latest_checkpoint(first.run_dir), other)


def test_paper_tables_agree_with_each_other():
    from tenderlib.experiments import paper

    t4, t10, real = paper.table4(), paper.table10(), paper.real_motions()
    assert t4["data_frac"].tolist() == t10["data_frac"].tolist() == [0.2, 0.5, 0.8, 1.0]
    assert t4["top1"].tolist() == t10["top1"].tolist()
    assert t10["top1"].is_monotonic_increasing  # the paper's claim: retrieval improves with data
    last = t10.iloc[-1]
    for m in metrics.MOLIP_METRICS:
        assert real[m].iloc[0] == last[m]


def test_metric_row_and_with_confidence():
    from tenderlib import evaluation
    from tenderlib.evaluation import metrics

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8))
    res = metrics.evaluate(x, x, x, config=metrics.MetricsConfig(replications=3))
    row = evaluation.metric_row(res)
    assert row["top1"] == 1.0 and row["top1_conf"] == 0.0 and row["mm_dist"] < 1e-6
    assert set(row) == {f"{m}{s}" for m in ("top1", "top2", "top3", "fid", "mm_dist", "diversity") for s in ("", "_conf")}
    xy = torch.zeros(2, 5, NUM_KEYPOINTS, 2)
    assert torch.equal(evaluation.with_confidence(xy)[..., 2], torch.ones(2, 5, NUM_KEYPOINTS))
    with pytest.raises(ValueError, match="confidence must be"):
        evaluation.with_confidence(xy, torch.ones(2, 5))
    with pytest.raises(ValueError, match="features must be"):
        evaluation.with_confidence(torch.zeros(2, 5, NUM_KEYPOINTS, 3))


def test_score_generated_pairs_captions_with_motions(encoder):
    from tenderlib import evaluation
    from tenderlib.evaluation import metrics

    torch.manual_seed(0)
    model = molip.MoLIP(TINY, encoder).eval()
    feats, mask = _motion(B=32, T=6)
    caps = [f"person number {i} waves" for i in range(32)]
    real = evaluation.embed_motions(model, feats, mask)
    res = evaluation.score_generated(model, caps, feats, mask, real, config=metrics.MetricsConfig(replications=2))
    assert res.fid.mean < 1e-6 and res.num_samples == 32
    with pytest.raises(ValueError, match="captions"):
        evaluation.score_generated(model, caps[:5], feats, mask, real)


def test_side_loss_is_two_way_cross_entropy(encoder):
    torch.manual_seed(0)
    model = molip.MoLIP(TINY, encoder)
    g = torch.Generator().manual_seed(3)
    t = F.normalize(torch.randn(3, TINY.embed_dim, generator=g), dim=-1)
    m = F.normalize(torch.randn(3, TINY.embed_dim, generator=g), dim=-1)
    assert float(model.side_loss(t, m, ["clap", "bow", "jump"])) == 0.0
    caps = ["clap", "raise the left arm", "turn right"]
    with torch.no_grad():
        mirror = model.encode_text(["raise the right arm", "turn left"])
        got = model.side_loss(t, m, caps)
    scale = math.exp(model.logit_scale.item())
    ref = 0.0
    for k, i in enumerate((1, 2)):
        own, other = float(t[i] @ m[i]) * scale, float(mirror[k] @ m[i]) * scale
        ref += -math.log(math.exp(own) / (math.exp(own) + math.exp(other))) / 2
    assert math.isclose(float(got), ref, rel_tol=1e-4)


def test_flip_keypoints_mirrors_feature_tensors():
    """The clip mirrored for MoLIP's hard negatives: skeleton.flip_keypoints on a torch tensor."""
    from tenderlib.data.skeleton import flip_keypoints

    f = torch.randn(2, 5, 133, 3)
    m = flip_keypoints(f, None)
    assert isinstance(m, torch.Tensor)
    torch.testing.assert_close(flip_keypoints(m, None), f, rtol=0, atol=0)  # an involution
    lw, rw, nose = 9, 10, 0  # COCO body order
    torch.testing.assert_close(m[..., lw, 0], -f[..., rw, 0], rtol=0, atol=0)
    torch.testing.assert_close(m[..., lw, 1:], f[..., rw, 1:], rtol=0, atol=0)  # y and confidence move along
    torch.testing.assert_close(m[..., nose, 0], -f[..., nose, 0], rtol=0, atol=0)


def test_side_loss_adds_the_mirrored_clip_as_a_negative():
    """side_loss = softplus(s (t_mirror . m - t . m)) + softplus(s (t . m_mirror - t . m)), over the
    rows whose caption names a side, each term a mean over those rows."""
    from tenderlib.data.mirror import swap_sides
    from tenderlib.models.molip import MAX_LOGIT_SCALE
    from tenderlib.data.skeleton import flip_keypoints

    torch.manual_seed(0)
    model = molip.MoLIP(TINY, text_encoder=WordEncoder()).eval()
    captions = ["waving the left hand", "jumping", "kicking with the right foot"]
    f = torch.randn(3, 6, 133, 3)
    f[..., 2] = 1.0
    mask = torch.ones(3, 6, dtype=torch.bool)
    text, motion = model(f, mask, captions)
    scale = model.logit_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()
    rows = [0, 2]
    own = (text[rows] * motion[rows]).sum(-1)
    t_mirror = model.encode_text([swap_sides(captions[i]) for i in rows])
    m_mirror = model.encode_motion(flip_keypoints(f[rows], None), mask[rows])
    want = (F.softplus(scale * ((t_mirror * motion[rows]).sum(-1) - own)).mean()
            + F.softplus(scale * ((text[rows] * m_mirror).sum(-1) - own)).mean())
    torch.testing.assert_close(model.side_loss(text, motion, captions, f, mask), want)
    text_only = F.softplus(scale * ((t_mirror * motion[rows]).sum(-1) - own)).mean()
    torch.testing.assert_close(model.side_loss(text, motion, captions), text_only)


def test_side_dims_make_both_towers_mirror_equivariant(encoder):
    """With side_dims = k the mirror image of a clip or caption has the same embedding with its
    last k signs flipped, and a caption naming no side has zeros there."""
    from tenderlib.data.mirror import mirror_caption
    from tenderlib.data.skeleton import flip_keypoints

    cfg = molip.MoLIPConfig(**{**TINY.__dict__, "side_dims": 4})
    torch.manual_seed(0)
    model = molip.MoLIP(cfg, encoder).eval()
    feats, mask = _motion(B=3, T=8)
    captions = ["a man waves his left hand", "clap", "kicks with the right foot and looks left"]
    with torch.no_grad():
        m, m_flip = model.encode_motion(feats, mask), model.encode_motion(flip_keypoints(feats, None), mask)
        t = model.encode_text(captions)
        t_swap = model.encode_text([mirror_caption(c) for c in captions])
    torch.testing.assert_close(m_flip, model.mirror_embedding(m), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(t_swap, model.mirror_embedding(t), rtol=1e-4, atol=1e-5)
    assert torch.allclose(m.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert (t[1, -4:] == 0).all() and t[0, -4:].abs().sum() > 0  # "clap" names no side
    assert m[:, -4:].abs().sum() > 0  # a random clip is not symmetric
    with pytest.raises(ValueError, match="side_dims"):
        molip.MoLIPConfig(embed_dim=16, side_dims=16)
    with pytest.raises(ValueError, match="side_dims > 0"):
        molip.MoLIP(TINY, encoder).mirror_embedding(m)


def test_temporal_loss_is_a_margin_plus_an_uninformative_term():
    """temporal_loss = mean softplus(s (t . m_neg - t . m)) + (mean over the corrupted clips of the
    cross-entropy of uniform against softmax_j(s m_neg . t_j)) - log B, over the first
    ceil(share * B) clips, the corruption kinds in turn."""
    from tenderlib.models.molip import MAX_LOGIT_SCALE
    from tenderlib.data.corruptions import corrupt

    cfg = molip.MoLIPConfig(**{**TINY.__dict__, "temporal_weight": 1.0, "temporal_share": 0.5,
                               "temporal_kinds": ("reversed", "first")})
    torch.manual_seed(0)
    model = molip.MoLIP(cfg, text_encoder=WordEncoder()).eval()
    captions = ["waving", "jumping", "kicking", "waving"]
    f, mask = _motion(B=4, T=8)
    mask[1, 5:] = False
    f = f * mask[:, :, None, None]
    text, motion = model(f, mask, captions)
    scale = model.logit_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()
    neg = torch.cat([model.encode_motion(corrupt(f[:1], mask[:1], "reversed"), mask[:1]),
                     model.encode_motion(corrupt(f[1:2], mask[1:2], "first"), mask[1:2])])
    margin = F.softplus(scale * ((text[:2] * neg).sum(-1) - (text[:2] * motion[:2]).sum(-1))).mean()
    p = torch.softmax(scale * neg @ text.T, dim=1)  # (2, 4)
    uniform = (-torch.log(p).mean(1)).mean() - math.log(4)
    torch.testing.assert_close(model.temporal_loss(text, motion, f, mask), margin + uniform)
    # a corrupted clip equally near every caption costs nothing in the second term
    assert float(-torch.log(torch.full((4,), 0.25)).mean() - math.log(4)) == pytest.approx(0.0, abs=1e-6)
    batch = Batch(features=f, mask=mask, lengths=mask.sum(1), captions=captions, indices=torch.arange(4),
                  starts=torch.zeros(4, dtype=torch.long), center=torch.zeros(4, 2), scale=torch.ones(4))
    out = model.training_loss(batch)
    assert out.temporal is not None and torch.isfinite(out.loss)
    with pytest.raises(ValueError, match="temporal_kinds"):
        molip.MoLIPConfig(temporal_kinds=("backwards",))
    with pytest.raises(ValueError, match="temporal_share"):
        molip.MoLIPConfig(temporal_share=0.0)
