"""HumanML3D text-to-motion metrics on embeddings (docs/conventions.md, Evaluation protocol).

All five metrics read embeddings from a frozen text encoder and motion encoder (MoLIP):

    R-Precision top-1/2/3  shuffle, cut into groups of exactly 32 (the remainder is dropped), rank
                           each text's own motion among the 32 by Euclidean distance
    MM-Dist                mean distance between each text and its own motion (same rows)
    FID                    Frechet distance between Gaussians fitted to real and generated motion
                           embeddings (covariance with N - 1)
    Diversity              mean distance over 300 random pairs of generated motions
    MultiModality          texts x generations (100 x 30): mean distance over 10 random pairs of
                           generations of the same text

Each is computed over R replications (20 in the literature) and reported as
mean +- 1.96 * std / sqrt(R) with the population std (ddof = 0), as HumanML3D's evaluation does.
`evaluate` takes embeddings with a leading replication axis (R, N, D) where each replication
generated anew, or (N, D) to re-score one set R times (new shuffles and pairs, same FID).
Everything random comes from `numpy.random.SeedSequence(seed).spawn(R)`: the same seed gives the
same numbers, and replication r draws the same whatever R is. Within a replication the draws are,
in order: the R-Precision permutation, Diversity's two index sets, MultiModality's two.

Speed (tests/benchmarks/bench_metrics.py): N = 10,000, R = 20, D = 512 scores in about 3-5 s on
the 2-core machine; one D x D covariance per replication dominates. Vectorised: one batched
distance product for all groups, the real motions' statistics computed once.

Choices that differ from a literal transcription of the reference code, and why:
- R-Precision ties: a motion at exactly the true motion's distance counts as ranked before it
  (the reference's argsort leaves tie order undefined; we take the pessimistic reading).
- FID computes Tr(sqrtm(S1 S2)) as the sum of sqrt(eigenvalues) of the symmetric
  S1^1/2 S2 S1^1/2 (S1^1/2 from one eigendecomposition, reused across replications), which has
  the same eigenvalues as S1 S2: one symmetric eigenvalue problem (about 0.05 s at D = 512 on
  the 2-core machine) instead of scipy's sqrtm (0.5-2 s), equal to it within 1e-8 relative,
  singular covariances (fewer samples than dimensions) included, which need no offset on this
  route. The reference's guards keep their meaning: a negative eigenvalue is an imaginary part
  of sqrtm; the imaginary part of the trace above `imag_tol` (1e-3) raises, below it only the
  real part is kept; a non-finite result is retried once with `eps` * I (1e-6) added to both
  covariances.
- Eigenvalues below zero by less than 1e-10 of the largest one are round-off, not an imaginary
  part (the reference's absolute 1e-3 would otherwise depend on the embeddings' scale).
- MM-Dist reuses the diagonal of the expanded squared distances (absolute error about 1e-7 for
  unit-scale embeddings) rather than a second pass over the rows.
- Everything is float64 (a float32 Gram product is 2x faster, but its round-off turns the zero
  eigenvalues of rank-deficient covariances into negatives that trip the imaginary-part guard).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

Z_95 = 1.96  # two-sided 95% normal quantile of the +- interval


@dataclass(frozen=True)
class MetricsConfig:
    group_size: int = 32  # R-Precision pool: 1 true motion + 31 mismatched ones
    top_k: int = 3  # report R@1 .. R@top_k
    diversity_pairs: int = 300  # pairs of generated motions for Diversity
    mm_pairs: int = 10  # pairs of generations per text for MultiModality
    replications: int = 20  # R when no input has a replication axis
    fid_eps: float = 1e-6  # offset added to both covariances when the FID is not finite
    imag_tol: float = 1e-3  # largest imaginary part of Tr(sqrtm(S1 S2)) tolerated (then dropped)
    seed: int = 0  # of numpy.random.SeedSequence: shuffles and pair draws

    def __post_init__(self) -> None:
        for name in ("group_size", "top_k", "diversity_pairs", "mm_pairs", "replications"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an int >= 1; got {value!r}")
        if self.group_size < 2 or self.top_k > self.group_size:
            raise ValueError(f"group_size must be >= 2 and >= top_k ({self.top_k}); got {self.group_size}")
        if not (self.fid_eps > 0 and self.imag_tol > 0):
            raise ValueError(f"fid_eps and imag_tol must be > 0; got {self.fid_eps}, {self.imag_tol}")


@dataclass(frozen=True)
class Interval:
    """A metric over R replications: mean +- conf, conf = 1.96 * std(ddof=0) / sqrt(R)."""

    mean: float
    conf: float
    values: np.ndarray = field(compare=False, repr=False)  # (R,) one value per replication

    @classmethod
    def of(cls, values) -> "Interval":
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.size == 0:
            raise ValueError("values must hold at least one replication")
        return cls(float(v.mean()), float(Z_95 * v.std() / np.sqrt(v.size)), v)

    def format(self, digits: int = 3) -> str:
        return f"{self.mean:.{digits}f}±{self.conf:.{digits}f}"

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class RPrecision:
    """One replication of R-Precision and MM-Dist."""

    top_k: np.ndarray  # (k,) fraction of rows whose own motion is among the k nearest
    mm_dist: float  # mean distance between a text and its own motion over the same rows
    rows: int  # rows scored: groups * group_size (the remainder is dropped)


@dataclass(frozen=True)
class GaussianStats:
    """Mean and covariance (N - 1) of a set of embeddings, for the FID."""

    mean: np.ndarray  # (D,)
    cov: np.ndarray  # (D, D)
    count: int


@dataclass(frozen=True)
class EvalResult:
    r_precision: tuple[Interval, ...]  # R@1 .. R@top_k
    mm_dist: Interval
    fid: Interval
    diversity: Interval
    multimodality: Interval | None  # None when no multimodality embeddings were given
    replications: int
    num_samples: int  # generated samples per replication
    seconds: dict[str, float] = field(compare=False, default_factory=dict)  # wall time per metric

    def row(self, digits: int = 3) -> dict[str, str]:
        """Table cells in the paper's order: R@1, R@2, R@3, FID, MM-Dist, Diversity, MModality."""
        out = {f"R@{k + 1}": iv.format(digits) for k, iv in enumerate(self.r_precision)}
        out |= {"FID": self.fid.format(digits), "MM-Dist": self.mm_dist.format(digits),
                "Diversity": self.diversity.format(digits)}
        if self.multimodality is not None:
            out["MModality"] = self.multimodality.format(digits)
        return out


# ---------------------------------------------------------------------------------------------
# Input checks


def _checked(x, name: str, ndims: tuple[int, ...], finite: bool = True) -> np.ndarray:
    """x as a (finite) numeric array of one of `ndims` dimensions (not copied, not cast: the
    metrics gather the rows they need first and cast those to float64)."""
    a = np.asarray(x)
    if a.ndim not in ndims or a.dtype.kind not in "fiu":
        want = " or ".join(f"{n}-D" for n in ndims)
        raise ValueError(f"{name} must be a {want} numeric array; got {a.dtype} of shape {a.shape}")
    if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _rng(rng) -> np.random.Generator:
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, an int seed or None; got {type(rng).__name__}")
    return rng


def _f64(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64, copy=False)


# ---------------------------------------------------------------------------------------------
# One replication of each metric


def r_precision(text: np.ndarray, motion: np.ndarray, rng=None, group_size: int = 32, top_k: int = 3,
                shuffle: bool = True) -> RPrecision:
    """R-Precision top-1..top_k and MM-Dist of paired rows (text[i] belongs to motion[i]).

    text, motion: (N, D). Rows are shuffled with `rng` (unless shuffle=False), cut into groups of
    `group_size` (the last N % group_size rows are dropped) and ranked within their group.
    """
    text, motion = _checked(text, "text", (2,)), _checked(motion, "motion", (2,))
    if text.shape != motion.shape:
        raise ValueError(f"text and motion must have the same shape (N, D); got {text.shape} and {motion.shape}")
    if not 1 <= top_k <= group_size:
        raise ValueError(f"top_k must be in 1..group_size ({group_size}); got {top_k}")
    if text.shape[0] < group_size:
        raise ValueError(f"R-Precision needs at least group_size={group_size} pairs; got {text.shape[0]}")
    order = _rng(rng).permutation(text.shape[0]) if shuffle else np.arange(text.shape[0])
    return _r_precision(text, motion, order, group_size, top_k)


def _r_precision(text: np.ndarray, motion: np.ndarray, order: np.ndarray, group_size: int,
                 top_k: int) -> RPrecision:
    n, dim = text.shape
    groups = n // group_size
    used = order[: groups * group_size]
    t = _f64(text[used]).reshape(groups, group_size, dim)  # (G, S, D)
    m = _f64(motion[used]).reshape(groups, group_size, dim)  # (G, S, D)
    # squared distances by expansion, one batched product per group, texts as rows
    t2 = np.einsum("gsd,gsd->gs", t, t)  # (G, S)
    m2 = np.einsum("gsd,gsd->gs", m, m)  # (G, S)
    sq = t2[:, :, None] + m2[:, None, :] - 2.0 * (t @ m.transpose(0, 2, 1))  # (G, S, S)
    own = np.diagonal(sq, axis1=1, axis2=2)[..., None]  # (G, S, 1)
    # rank of the own motion: strictly nearer ones, plus ties (pessimistic), minus itself
    rank = (sq < own).sum(-1) + (sq == own).sum(-1) - 1  # (G, S)
    hits = rank.reshape(-1)[:, None] < np.arange(1, top_k + 1)[None, :]  # (G*S, k)
    mm_dist = np.sqrt(np.maximum(own, 0.0)).mean()  # own distances, same expansion
    return RPrecision(top_k=hits.mean(0), mm_dist=float(mm_dist), rows=groups * group_size)


def gaussian_stats(x: np.ndarray, name: str = "embeddings") -> GaussianStats:
    """Mean and covariance (ddof = 1) of x (N, D), in float64 (as np.cov)."""
    x = _checked(x, name, (2,))
    if x.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples for a covariance; got {x.shape[0]}")
    return _gaussian_stats(x)


def _gaussian_stats(x: np.ndarray) -> GaussianStats:
    mean = x.mean(0, dtype=np.float64)  # (D,)
    xc = np.subtract(x, mean, dtype=np.float64)  # (N, D), cast and centred in one pass
    cov = (xc.T @ xc) / (x.shape[0] - 1)  # (D, D); numpy runs a.T @ a as a symmetric rank-k update
    return GaussianStats(mean, (cov + cov.T) / 2.0, int(x.shape[0]))


# MoLIP's retrieval metrics (paper section 5.2, appendix C): the columns of our rows
# (tenderlib.evaluation.metric_row) and of the paper's tables (tenderlib.experiments.paper).
MOLIP_METRICS = ("top1", "top2", "top3", "fid", "mm_dist", "diversity")
ROUNDOFF = 1e-10  # negative eigenvalues within this fraction of the largest are round-off


def _imaginary(eigenvalues: np.ndarray) -> float:
    """Sum of sqrt(-lambda) over the eigenvalues that are negative beyond round-off: the imaginary
    part that the square root of the matrix would have in its trace."""
    floor = -ROUNDOFF * max(float(np.abs(eigenvalues).max()), np.finfo(np.float64).tiny)
    return float(np.sqrt(-eigenvalues[eigenvalues < floor]).sum())


def _sqrt_psd(cov: np.ndarray) -> tuple[np.ndarray, float]:
    """Symmetric square root of a covariance (negative eigenvalues clipped to 0) and the
    imaginary part its trace would have had."""
    w, u = np.linalg.eigh(cov)
    return (u * np.sqrt(np.maximum(w, 0.0))) @ u.T, _imaginary(w)


def _frechet(a: GaussianStats, b: GaussianStats, sqrt_a: tuple[np.ndarray, float] | None,
             imag_tol: float) -> float:
    root, imag_a = sqrt_a if sqrt_a is not None else _sqrt_psd(a.cov)
    inner = root @ b.cov @ root  # (D, D) symmetric, same eigenvalues as a.cov @ b.cov
    lam = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    imag = max(imag_a, _imaginary(lam))  # |Im Tr sqrtm(S1 S2)|
    if imag > imag_tol:
        raise ValueError(
            f"FID: sqrtm(S1 S2) has an imaginary component {imag:.3g} > imag_tol={imag_tol:g}: "
            f"a covariance is not positive semi-definite (were they computed from embeddings?)"
        )
    tr_sqrt = float(np.sqrt(np.maximum(lam, 0.0)).sum())
    diff = a.mean - b.mean
    return float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2.0 * tr_sqrt)


def _attempt(a: GaussianStats, b: GaussianStats, sqrt_a, imag_tol: float) -> float:
    """_frechet, with overflow and a failed eigendecomposition reported as NaN."""
    with np.errstate(all="ignore"):
        try:
            return _frechet(a, b, sqrt_a, imag_tol)
        except np.linalg.LinAlgError:
            return float("nan")


def frechet_distance(a: GaussianStats, b: GaussianStats, eps: float = 1e-6, imag_tol: float = 1e-3,
                     sqrt_a: tuple[np.ndarray, float] | None = None) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr(sqrtm(S_a S_b)), with the reference's guards
    (module docstring). sqrt_a: `_sqrt_psd(a.cov)` when a is reused (the real motions)."""
    for name, s in (("a", a), ("b", b)):
        if s.cov.shape != (s.mean.size, s.mean.size):
            raise ValueError(f"{name}: cov must be (D, D) for a mean of size D; got {s.cov.shape} and {s.mean.shape}")
    if a.mean.shape != b.mean.shape:
        raise ValueError(f"a and b must have the same dimension; got {a.mean.size} and {b.mean.size}")
    value = _attempt(a, b, sqrt_a, imag_tol)
    if not np.isfinite(value):
        log.warning("FID is not finite; adding %g * I to both covariances and retrying", eps)
        offset = eps * np.eye(a.mean.size)
        value = _attempt(GaussianStats(a.mean, a.cov + offset, a.count),
                         GaussianStats(b.mean, b.cov + offset, b.count), None, imag_tol)
        if not np.isfinite(value):
            raise ValueError("FID is not finite even with the eps offset: check the embeddings' scale")
    return value


def fid(real: np.ndarray, generated: np.ndarray, eps: float = 1e-6, imag_tol: float = 1e-3) -> float:
    """FID between real (M, D) and generated (N, D) embeddings."""
    return frechet_distance(gaussian_stats(real, "real"), gaussian_stats(generated, "generated"), eps, imag_tol)


def _warn_fewer(what: str, wanted: int, available: int) -> int:
    if available < wanted:
        log.warning("%s: only %d available, using %d pairs instead of %d", what, available, available, wanted)
        return available
    return wanted


def diversity(motion: np.ndarray, rng=None, pairs: int = 300) -> float:
    """Mean distance between `pairs` random pairs of motion (N, D): two independent index sets
    drawn without replacement (fewer pairs, with a warning, when N < pairs)."""
    motion = _checked(motion, "motion", (2,))
    return _diversity(motion, _rng(rng), _warn_fewer("Diversity: samples", pairs, motion.shape[0]))


def _diversity(motion: np.ndarray, rng: np.random.Generator, n: int) -> float:
    first = rng.choice(motion.shape[0], n, replace=False)
    second = rng.choice(motion.shape[0], n, replace=False)
    diff = _f64(motion[first]) - _f64(motion[second])  # (P, D)
    return float(np.sqrt(np.einsum("pd,pd->p", diff, diff)).mean())


def multimodality(motion: np.ndarray, rng=None, pairs: int = 10) -> float:
    """MultiModality of motion (T, G, D), G generations for each of T texts: one draw of `pairs`
    first and `pairs` second generation indices (without replacement), shared by all texts."""
    motion = _checked(motion, "mm_motion", (3,))
    pairs = _warn_fewer("MultiModality: generations per text", pairs, motion.shape[1])
    return _multimodality(motion, _rng(rng), pairs)


def _multimodality(motion: np.ndarray, rng: np.random.Generator, n: int) -> float:
    gens = motion.shape[1]
    first = rng.choice(gens, n, replace=False)
    second = rng.choice(gens, n, replace=False)
    diff = _f64(motion[:, first]) - _f64(motion[:, second])  # (T, P, D)
    return float(np.sqrt(np.einsum("tpd,tpd->tp", diff, diff)).mean())


# ---------------------------------------------------------------------------------------------
# The whole protocol


def _replications(arrays: dict[str, tuple[np.ndarray | None, int]], default: int) -> int:
    """R from the inputs that carry a replication axis (ndim above their base ndim)."""
    counts = {name: a.shape[0] for name, (a, base) in arrays.items() if a is not None and a.ndim == base + 1}
    if len(set(counts.values())) > 1:
        raise ValueError(f"inputs disagree on the number of replications (leading axis): {counts}")
    return next(iter(counts.values()), default)


def evaluate(text: np.ndarray, motion: np.ndarray, real: np.ndarray, mm_motion: np.ndarray | None = None,
             config: MetricsConfig = MetricsConfig()) -> EvalResult:
    """Score generated motions with the HumanML3D protocol over R replications.

    text:      (N, D) or (R, N, D) text embeddings; row i describes motion row i
    motion:    (N, D) or (R, N, D) generated motion embeddings (per replication if 3-D)
    real:      (M, D) real test motion embeddings (FID reference)
    mm_motion: None, (T, G, D) or (R, T, G, D): G generations for each of T texts (100 x 30)
    R is the leading axis where given (all must agree), else config.replications.
    """
    text = _checked(text, "text", (2, 3), finite=False)  # finiteness: per replication below
    motion = _checked(motion, "motion", (2, 3), finite=False)
    real = _checked(real, "real", (2,))
    if mm_motion is not None:
        mm_motion = _checked(mm_motion, "mm_motion", (3, 4), finite=False)
    reps = _replications({"text": (text, 2), "motion": (motion, 2), "mm_motion": (mm_motion, 3)},
                         config.replications)
    n, dim = motion.shape[-2:]
    if text.shape[-2:] != (n, dim):
        raise ValueError(f"text rows must pair with motion rows: (N, D) = {(n, dim)} expected, got {text.shape[-2:]}")
    if real.shape[1] != dim or (mm_motion is not None and mm_motion.shape[-1] != dim):
        raise ValueError(f"real and mm_motion must have D = {dim}; got {real.shape} and "
                         f"{None if mm_motion is None else mm_motion.shape}")
    if n < config.group_size:
        raise ValueError(f"R-Precision needs at least group_size={config.group_size} samples; got N = {n}")
    if real.shape[0] < 2:
        raise ValueError(f"real needs at least 2 samples for a covariance; got {real.shape[0]}")
    div_pairs = _warn_fewer("Diversity: samples", config.diversity_pairs, n)  # warned once, not R times
    mm_pairs = _warn_fewer("MultiModality: generations per text", config.mm_pairs,
                           config.mm_pairs if mm_motion is None else mm_motion.shape[-2])
    seconds = dict.fromkeys(("checks", "R-Precision+MM-Dist", "FID", "Diversity", "MultiModality"), 0.0)

    def pick(a: np.ndarray | None, base: int, r: int, name: str) -> np.ndarray | None:
        """Replication r of `a`, checked finite; an input without a replication axis serves every
        replication and is checked once, at r = 0."""
        if a is None or (a.ndim == base and r > 0):
            return a
        return _checked(a[r], f"{name}[{r}]", (base,)) if a.ndim > base else _checked(a, name, (base,))

    clock = time.perf_counter()
    real_stats = _gaussian_stats(real)
    real_root = _sqrt_psd(real_stats.cov)  # reused by every replication
    fixed_gen = _gaussian_stats(pick(motion, 2, 0, "motion")) if motion.ndim == 2 else None
    seconds["FID"] += time.perf_counter() - clock

    rp = np.zeros((reps, config.top_k))
    mm_dist, fids, divs, mms = (np.zeros(reps) for _ in range(4))
    for r, seed in enumerate(np.random.SeedSequence(config.seed).spawn(reps)):  # R replications
        rng = np.random.default_rng(seed)
        clock = time.perf_counter()
        t, m = pick(text, 2, r, "text"), pick(motion, 2, r, "motion")  # (N, D) each
        mm = pick(mm_motion, 3, r, "mm_motion")  # (T, G, D) or None
        seconds["checks"] += (lap := time.perf_counter()) - clock
        res = _r_precision(t, m, rng.permutation(n), config.group_size, config.top_k)
        rp[r], mm_dist[r] = res.top_k, res.mm_dist
        seconds["R-Precision+MM-Dist"] += (clock := time.perf_counter()) - lap
        gen = fixed_gen if fixed_gen is not None else _gaussian_stats(m)
        fids[r] = frechet_distance(real_stats, gen, config.fid_eps, config.imag_tol, sqrt_a=real_root)
        seconds["FID"] += (lap := time.perf_counter()) - clock
        divs[r] = _diversity(m, rng, div_pairs)
        seconds["Diversity"] += (clock := time.perf_counter()) - lap
        if mm is not None:
            mms[r] = _multimodality(mm, rng, mm_pairs)
            seconds["MultiModality"] += time.perf_counter() - clock
    log.info("scored %d samples x %d replications in %.2f s", n, reps, sum(seconds.values()))
    return EvalResult(
        r_precision=tuple(Interval.of(rp[:, k]) for k in range(config.top_k)),
        mm_dist=Interval.of(mm_dist), fid=Interval.of(fids), diversity=Interval.of(divs),
        multimodality=Interval.of(mms) if mm_motion is not None else None,
        replications=reps, num_samples=int(n), seconds=seconds,
    )
