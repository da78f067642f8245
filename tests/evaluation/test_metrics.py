"""HumanML3D metrics: closed forms, hand-computed cases, and parity with a straightforward
loop-based implementation of the protocol written here (docs/conventions.md)."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import scipy.linalg

from tenderlib.evaluation import metrics as M
from tenderlib.evaluation.metrics import GaussianStats, Interval, MetricsConfig

# --- the reference, written out slowly ------------------------------------------------------


def loop_r_precision(text, motion, order, group_size=32, top_k=3):
    """Groups of `group_size` in `order`; row i hits top-k if fewer than k other motions of its
    group are at most as far as its own (ties count against it)."""
    hits, rows, own_sum = np.zeros(top_k), 0, 0.0
    for g in range(len(order) // group_size):
        idx = order[g * group_size:(g + 1) * group_size]
        for i in range(group_size):
            d = [float(np.sqrt(((text[idx[i]] - motion[idx[j]]) ** 2).sum())) for j in range(group_size)]
            rank = sum(1 for j in range(group_size) if j != i and d[j] <= d[i])
            for k in range(top_k):
                hits[k] += rank < k + 1
            own_sum += d[i]
            rows += 1
    return hits / rows, own_sum / rows


def reference_fid(x1, x2, eps=1e-6):
    """The reference recipe: np.cov, scipy's sqrtm of S1 S2, eps retry, imaginary-part check."""
    mu1, mu2 = x1.mean(0), x2.mean(0)
    s1, s2 = np.atleast_2d(np.cov(x1, rowvar=False)), np.atleast_2d(np.cov(x2, rowvar=False))
    return reference_frechet(mu1, s1, mu2, s2, eps)


def reference_frechet(mu1, s1, mu2, s2, eps=1e-6):
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def loop_protocol(text, motion, real, mm, config: MetricsConfig):
    """Per-replication values of every metric, drawing in the documented order: permutation,
    Diversity's two index sets, MultiModality's two index sets."""
    out = {"rp": [], "mm_dist": [], "fid": [], "div": [], "mm": []}
    reps = text.shape[0]
    for r, seed in enumerate(np.random.SeedSequence(config.seed).spawn(reps)):
        rng = np.random.default_rng(seed)
        order = rng.permutation(text.shape[1])
        rp, mm_dist = loop_r_precision(text[r], motion[r], order, config.group_size, config.top_k)
        out["rp"].append(rp)
        out["mm_dist"].append(mm_dist)
        out["fid"].append(reference_fid(real, motion[r]))
        first = rng.choice(motion.shape[1], config.diversity_pairs, replace=False)
        second = rng.choice(motion.shape[1], config.diversity_pairs, replace=False)
        out["div"].append(np.mean([np.linalg.norm(motion[r, a] - motion[r, b]) for a, b in zip(first, second)]))
        first = rng.choice(mm.shape[2], config.mm_pairs, replace=False)
        second = rng.choice(mm.shape[2], config.mm_pairs, replace=False)
        out["mm"].append(np.mean([np.linalg.norm(mm[r, t, a] - mm[r, t, b])
                                  for t in range(mm.shape[1]) for a, b in zip(first, second)]))
    return {k: np.array(v) for k, v in out.items()}


# --- parity with the loop implementation ----------------------------------------------------


def test_evaluate_matches_the_loop_implementation():
    rng = np.random.default_rng(7)
    reps, n, dim = 3, 200, 16  # 6 groups of 32, 8 rows dropped
    text = rng.standard_normal((reps, n, dim)).astype(np.float32)
    motion = (text + 1.2 * rng.standard_normal((reps, n, dim))).astype(np.float32)
    real = rng.standard_normal((300, dim)).astype(np.float32)
    mm = rng.standard_normal((reps, 12, 30, dim)).astype(np.float32)
    config = MetricsConfig(diversity_pairs=150, seed=3)
    res = M.evaluate(text, motion, real, mm, config)
    ref = loop_protocol(text.astype(np.float64), motion.astype(np.float64), real.astype(np.float64),
                        mm.astype(np.float64), config)
    for k in range(3):
        np.testing.assert_array_equal(res.r_precision[k].values, ref["rp"][:, k])
    np.testing.assert_allclose(res.mm_dist.values, ref["mm_dist"], rtol=1e-10)
    np.testing.assert_allclose(res.fid.values, ref["fid"], rtol=1e-8)
    np.testing.assert_allclose(res.diversity.values, ref["div"], rtol=1e-12)
    np.testing.assert_allclose(res.multimodality.values, ref["mm"], rtol=1e-12)
    assert res.replications == 3 and res.num_samples == n
    assert 0.2 < res.r_precision[0].mean < 0.9  # a non-trivial case
    assert set(res.row()) == {"R@1", "R@2", "R@3", "FID", "MM-Dist", "Diversity", "MModality"}


# --- R-Precision ----------------------------------------------------------------------------


def test_r_precision_on_known_ranks():
    """Texts all at 0, motion j at distance j: text i's own motion has exactly i nearer ones."""
    text = np.zeros((32, 4))
    motion = np.zeros((32, 4))
    motion[:, 0] = np.arange(32)
    for rng in (None, np.random.default_rng(0)):  # one group: shuffling cannot change it
        res = M.r_precision(text, motion, rng, shuffle=rng is not None)
        np.testing.assert_array_equal(res.top_k, [1 / 32, 2 / 32, 3 / 32])
        assert res.mm_dist == pytest.approx(15.5, abs=1e-12) and res.rows == 32


def test_r_precision_perfect_tied_and_remainder():
    rng = np.random.default_rng(1)
    text = rng.standard_normal((70, 8))
    res = M.r_precision(text, text.copy(), rng)
    np.testing.assert_array_equal(res.top_k, [1, 1, 1])
    assert res.rows == 64 and res.mm_dist == pytest.approx(0, abs=1e-6)  # 70 % 32 = 6 rows dropped
    tied = M.r_precision(np.zeros((32, 3)), np.ones((32, 3)), shuffle=False)  # all 32 equally far
    np.testing.assert_array_equal(tied.top_k, [0, 0, 0])  # ties count against the true motion


def test_r_precision_group_size_matters():
    rng = np.random.default_rng(2)
    text = rng.standard_normal((640, 8))
    motion = text + 1.2 * rng.standard_normal((640, 8))
    r32 = M.r_precision(text, motion, np.random.default_rng(0)).top_k[0]
    r8 = M.r_precision(text, motion, np.random.default_rng(0), group_size=8).top_k[0]
    assert r8 > r32 + 0.1  # fewer distractors, higher R@1: the pool size is part of the metric


# --- FID ------------------------------------------------------------------------------------


def test_fid_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(3)
    # full rank: round-off only. Singular (10 samples in 32-D): the square root of round-off in
    # the 22 null directions leaves about 1e-9 of the trace each; scipy's sqrtm does the same
    for n, dim, tol in [(500, 16, 1e-10), (10, 32, 1e-7)]:
        x = rng.standard_normal((n, dim)) @ rng.standard_normal((dim, dim))
        trace = np.trace(np.cov(x, rowvar=False))
        assert abs(M.fid(x, x)) < tol * trace
        assert abs(M.fid(x, x)) < 2 * abs(reference_fid(x, x)) + 1e-10 * trace


def test_fid_closed_forms():
    m = np.array([1.0, 2.0, 0.0, -2.0])
    assert M.frechet_distance(GaussianStats(np.zeros(4), np.eye(4), 2), GaussianStats(m, np.eye(4), 2)) == pytest.approx(9.0, abs=1e-12)
    a, b = np.array([1.0, 4.0, 0.25, 0.0]), np.array([4.0, 1.0, 1.0, 9.0])  # diagonal: sum (sqrt a - sqrt b)^2
    value = M.frechet_distance(GaussianStats(np.zeros(4), np.diag(a), 2), GaussianStats(m, np.diag(b), 2))
    assert value == pytest.approx(9.0 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum(), abs=1e-12)


def test_fid_of_shifted_gaussian_samples_approaches_the_squared_shift():
    rng = np.random.default_rng(4)
    m = np.array([1.0, -1.0, 0.5, 0.0, 1.5])  # ||m||^2 = 4.5
    x = rng.standard_normal((50_000, 5))
    y = rng.standard_normal((50_000, 5)) + m
    assert M.fid(x, y) == pytest.approx(4.5, abs=0.1)


@pytest.mark.parametrize("n, dim", [(500, 16), (300, 64), (40, 64)])  # the last: singular covariances
def test_fid_matches_the_scipy_reference(n, dim):
    rng = np.random.default_rng(n + dim)
    a = rng.standard_normal((n, dim))
    b = 1.1 * rng.standard_normal((n, dim)) @ rng.standard_normal((dim, dim)) / np.sqrt(dim) + 0.2
    assert M.fid(a, b) == pytest.approx(reference_fid(a, b), rel=1e-6)


def test_fid_complex_sqrtm_guard():
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    s1 = q @ np.diag([3.0, 2.0, 1.5, 1.0, 0.5, 0.2]) @ q.T
    not_psd = q @ np.diag([2.0, 1.0, 1.0, 0.5, 0.5, -0.04]) @ q.T  # a real, large imaginary part
    mu = np.zeros(6)
    with pytest.raises(ValueError, match="Imaginary component"):
        reference_frechet(mu, s1, mu, not_psd)
    with pytest.raises(ValueError, match=r"imaginary component .* > imag_tol=0.001"):
        M.frechet_distance(GaussianStats(mu, s1, 10), GaussianStats(mu, not_psd, 10))
    # round-off negative eigenvalues (a rank-deficient covariance) only lose their imaginary part
    roundoff = q @ np.diag([2.0, 1.0, 1.0, 0.5, 0.0, -1e-13]) @ q.T
    ours = M.frechet_distance(GaussianStats(mu, s1, 10), GaussianStats(mu, roundoff, 10))
    assert ours == pytest.approx(reference_frechet(mu, s1, mu, roundoff), rel=1e-7)


def test_fid_retries_with_eps_offset_when_not_finite(monkeypatch, caplog):
    calls = []
    real_frechet = M._frechet

    def flaky(a, b, sqrt_a, imag_tol):
        calls.append(np.diag(a.cov).copy())
        return float("nan") if len(calls) == 1 else real_frechet(a, b, sqrt_a, imag_tol)

    monkeypatch.setattr(M, "_frechet", flaky)
    stats = GaussianStats(np.zeros(3), np.eye(3), 5)
    with caplog.at_level(logging.WARNING, logger="tenderlib.evaluation.metrics"):
        value = M.frechet_distance(stats, stats, eps=1e-6)
    assert value == pytest.approx(0, abs=1e-12) and "retrying" in caplog.text
    np.testing.assert_allclose(calls[1], 1 + 1e-6)  # second try: cov + eps * I
    overflow = GaussianStats(np.zeros(3), 1e200 * np.eye(3), 5)
    monkeypatch.setattr(M, "_frechet", real_frechet)
    with pytest.raises(ValueError, match="not finite even with the eps offset"):
        M.frechet_distance(overflow, overflow)


def test_gaussian_stats_equal_np_cov():
    x = np.random.default_rng(6).standard_normal((100, 7)).astype(np.float32) * 10 + 5
    stats = M.gaussian_stats(x)
    np.testing.assert_allclose(stats.cov, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.mean, x.astype(np.float64).mean(0), rtol=1e-12)


# --- Diversity and MultiModality ------------------------------------------------------------


def test_diversity_hand_computed():
    """One-hot vectors: two different ones are sqrt(2) apart, a vector and itself 0 apart."""
    onehot = np.eye(400)
    value = M.diversity(onehot, np.random.default_rng(8), pairs=300)
    rng = np.random.default_rng(8)
    first, second = rng.choice(400, 300, replace=False), rng.choice(400, 300, replace=False)
    assert value == pytest.approx(np.sqrt(2) * np.mean(first != second), abs=1e-12)
    assert M.diversity(np.ones((300, 5)), 0) == 0.0


def test_diversity_with_fewer_samples_than_pairs_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="tenderlib.evaluation.metrics"):
        value = M.diversity(np.eye(50), np.random.default_rng(0), pairs=300)
    assert "only 50 available, using 50 pairs instead of 300" in caplog.text
    assert 0 < value <= np.sqrt(2)


def test_multimodality_hand_computed():
    """Generation g of every text sits at g on a line: a pair (g1, g2) is |g1 - g2| apart."""
    texts, gens = 4, 30
    emb = np.zeros((texts, gens, 3))
    emb[:, :, 1] = np.arange(gens)[None, :]
    value = M.multimodality(emb, np.random.default_rng(9), pairs=10)
    rng = np.random.default_rng(9)
    first, second = rng.choice(gens, 10, replace=False), rng.choice(gens, 10, replace=False)
    assert value == pytest.approx(np.abs(first - second).mean(), abs=1e-12)
    assert M.multimodality(np.ones((5, 30, 3)), 0) == 0.0  # one motion per text: no multimodality


# --- replications, intervals, determinism ---------------------------------------------------


def test_interval_is_mean_pm_196_population_std_over_sqrt_r():
    iv = Interval.of([1.0, 2.0, 3.0, 4.0])
    assert iv.mean == 2.5 and iv.conf == pytest.approx(1.96 * np.sqrt(1.25) / 2)
    assert str(iv) == "2.500±1.096" and iv.format(1) == "2.5±1.1"
    with pytest.raises(ValueError, match="at least one replication"):
        Interval.of([])


def _data(seed=0, reps=None, n=96, dim=8):
    rng = np.random.default_rng(seed)
    shape = (n, dim) if reps is None else (reps, n, dim)
    text = rng.standard_normal(shape)
    return text, text + rng.standard_normal(shape), rng.standard_normal((120, dim))


def test_deterministic_for_a_seed_and_replications_are_prefix_stable():
    text, motion, real = _data(reps=5)
    a = M.evaluate(text, motion, real, config=MetricsConfig(diversity_pairs=50, seed=11))
    b = M.evaluate(text, motion, real, config=MetricsConfig(diversity_pairs=50, seed=11))
    assert a == b and np.array_equal(a.diversity.values, b.diversity.values)
    c = M.evaluate(text[:3], motion[:3], real, config=MetricsConfig(diversity_pairs=50, seed=11))
    np.testing.assert_array_equal(c.r_precision[0].values, a.r_precision[0].values[:3])  # replication r: same draws
    d = M.evaluate(text, motion, real, config=MetricsConfig(diversity_pairs=50, seed=12))
    assert not np.array_equal(d.diversity.values, a.diversity.values)


def test_one_set_rescored_r_times(caplog):
    text, motion, real = _data()
    with caplog.at_level(logging.WARNING, logger="tenderlib.evaluation.metrics"):
        res = M.evaluate(text, motion, real, config=MetricsConfig(replications=6))  # 96 samples < 300 pairs
    assert caplog.text.count("using 96 pairs instead of 300") == 1  # said once, not per replication
    assert res.replications == 6 and res.multimodality is None and "MModality" not in res.row()
    assert res.fid.conf == 0.0 and np.ptp(res.fid.values) == 0  # same set, same FID
    assert np.ptp(res.diversity.values) > 0  # new pairs each replication
    assert res.fid.mean == pytest.approx(reference_fid(real, motion), rel=1e-8)
    assert set(res.seconds) >= {"R-Precision+MM-Dist", "FID", "Diversity", "MultiModality"}


# --- bad input ------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors():
    text, motion, real = _data(reps=2)
    bad = motion.copy()
    bad[1, 5, 0] = np.nan
    with pytest.raises(ValueError, match=r"motion\[1\] contains NaN"):
        M.evaluate(text, bad, real)
    with pytest.raises(ValueError, match="disagree on the number of replications"):
        M.evaluate(text, motion[:1], real)
    with pytest.raises(ValueError, match="text rows must pair with motion rows"):
        M.evaluate(text[:, :50], motion, real)
    with pytest.raises(ValueError, match="real and mm_motion must have D = 8"):
        M.evaluate(text, motion, real[:, :4])
    with pytest.raises(ValueError, match="group_size=32 samples; got N = 20"):
        M.evaluate(text[:, :20], motion[:, :20], real)
    with pytest.raises(ValueError, match="real needs at least 2 samples"):
        M.evaluate(text, motion, real[:1])
    with pytest.raises(ValueError, match="motion must be a 2-D or 3-D numeric array"):
        M.evaluate(text, np.array(["a"] * 8), real)
    with pytest.raises(ValueError, match="at least group_size=32 pairs"):
        M.r_precision(text[0, :10], motion[0, :10])
    with pytest.raises(ValueError, match="same shape"):
        M.r_precision(text[0], motion[0, :50])
    with pytest.raises(ValueError, match="rng must be a numpy Generator"):
        M.diversity(motion[0], rng="seed")
    with pytest.raises(ValueError, match="mm_motion must be a 3-D"):
        M.multimodality(motion[0])


@pytest.mark.parametrize("kw, match", [
    ({"group_size": 1}, "group_size must be >= 2"),
    ({"top_k": 40}, r"group_size must be >= 2 and >= top_k \(40\)"),
    ({"replications": 0}, "replications must be an int >= 1"),
    ({"diversity_pairs": 2.5}, "diversity_pairs must be an int"),
    ({"fid_eps": 0.0}, "fid_eps and imag_tol must be > 0"),
])
def test_config_rejects_bad_values(kw, match):
    with pytest.raises(ValueError, match=match):
        MetricsConfig(**kw)
