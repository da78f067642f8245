"""Notebook 05: the paper's ablations at generation level (Tables 5-8 and 12-17), a verdict per claim.

Every row is a whole Tender trained with one variant: its VAE (or the clips it learns from) -> a
denoiser on that VAE's latents -> motions generated for the test captions -> MoLIP's metrics
(tenderlib.experiments.generation.TableRun), beside the paper's row, with the VAE's reconstruction
error per part as extra columns.

    s = configs(globals(), _before)          # notebook 05's parameters; the VAE, MoLIP and denoiser of 02/04/03
    rows = plan(s, store)                    # every Row of every table, the seeds of the headline rows
    results = run_rows(rows, jobs)           # each run trained once by config, side by side; cached scores
    frame = table_frame(rows, results, "5")  # one table: a line per variant, mean over seeds, intervals
    verdicts(frame_by_table)                 # the paper's claims: replicates / contradicts / inconclusive

The tables, what varies and the subset each trains on (the paper's):

    5/14  the VAE's spatial design: the naive VAE, PA-VAE-<s>-<p>                          D2
    6/15  the training clips: high quality only, or also those the quality rule rejects for
          unreliable keypoints (long enough, too few confident keypoints); each scored by MoLIP
          and by a MoLIP trained with the confidence (the paper's highlighted rows)       D1
    7/16  the VAE's objective: none, velocity, weighted, cag and their combinations       D2
    8/17  the sources: D2 alone, and D2 with each other kind of source (upper body, face,
          hands, the 3D-capture-like source), for the PA-VAE and the naive VAE (MLD's)    D2
    12    the latent, "<l>-<n>-<d>" (temporal layers, tokens, width), skip connections    D3
    13    how the text enters the denoiser, on notebook 02's main VAE (notebook 03's runs) D1

Rows other than Table 13's train the VAE `vae_steps` and the denoiser `denoiser_steps` steps (the
notebook's budget per row); the paper's headline comparisons (HEADLINE: PA-VAE-2-4 vs the naive
VAE, velocity+cag vs none, the four conditionings) are trained with `seeds` seeds each, and their
intervals are those of the seed mean. MoLIP, the evaluator, is notebook 04's, trained on D1's
training clips, for every row.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from tenderlib import params
from tenderlib.data.selection import D2_SOURCES, QualityRule, Selection, selection as named_selection
from tenderlib.experiments import generation, molip_runs, paper, vae_runs
from tenderlib.models.denoiser import CONDITIONINGS
from tenderlib.models.vae import VAEConfig

TABLES = ("5", "6", "7", "8", "12", "13")
SUBSETS = {"5": "D2", "6": "D1", "7": "D2", "8": "D2", "12": "D3", "13": "D1"}  # the paper's, per table
KEYS = {"5": ["method"], "6": ["data", "evaluator"], "7": ["method"], "8": ["method", "source"],
        "12": ["setting", "paper_setting", "skip"], "13": ["conditioning"]}  # the columns that name a row
PAPER_KEYS = {**KEYS, "12": ["paper_setting", "skip"]}  # those that pair it with the paper's (paper_table)
HEADLINE = {"5": ("VAE", "PA-VAE-2-4"), "7": ("none", "velocity+cag"), "13": CONDITIONINGS}  # rows trained with seeds
FLOOR = "untrained denoiser"  # each table's floor: its first row's denoiser at its initial weights
ONLY_HIGH, WITH_UNRELIABLE = "Only high", "With unreliable"  # Table 6's training clips
EVALUATORS = ("molip", "confidence")  # Table 6: MoLIP as notebook 04 trains it, and with the confidence as input
METRICS = ("top1", "top2", "top3", "fid", "mm_dist", "diversity", "multimodality")
MOVEMENT = tuple(f"{p}_{c}" for p in generation.MOVEMENT_PARTS for c in generation.MOVEMENT_COLUMNS)
RECONSTRUCTION = ("recon_body", "recon_foot", "recon_face", "recon_hand")  # normalised L2 error of the test clips
PARTS_RE = re.compile(r"(\d+)-(\d+)-(\d+)")


@dataclass(frozen=True)
class AblationStudyConfig:
    """What notebook 05 trains and scores beyond the configs of notebooks 02-04."""

    ablation_tables: tuple[str, ...] = TABLES  # which tables to run
    part_variants: tuple[str, ...] = ("VAE", "PA-VAE-3-4", "PA-VAE-2-4", "PA-VAE-2-3", "PA-VAE-2-2", "PA-VAE-1-4",
                                      "PA-VAE-1-2")  # Tables 5/14 (vae_runs.ablation_config names)
    objective_variants: tuple[str, ...] = vae_runs.OBJECTIVES  # Tables 7/16
    ablation_velocity_weight: float = 1.0  # velocity-loss weight of the "velocity" rows
    source_variants: tuple[str, ...] = ("syn-ubody", "syn-dfew", "syn-sthv2", "syn-idea400")  # Tables 8/17: added to D2
    source_methods: tuple[str, ...] = ("VAE", "PA-VAE-2-4")  # Tables 8/17: the VAE designs trained on each
    latent_variants: tuple[str, ...] = ("5-1-128", "5-2-128", "5-4-128", "5-16-64", "5-16-32", "3-8-128",
                                        "9-8-128")  # Table 12 "<l>-<n>-<d>" rows beside the main VAE and its no-skip twin
    conditionings: tuple[str, ...] = CONDITIONINGS  # Table 13
    seeds: int = 3  # the HEADLINE rows are trained with seeds seed, seed + 1, ...
    vae_steps: int = 0  # VAE steps of every row but Table 13's; 0: notebook 02's main run's
    denoiser_steps: int = 0  # denoiser steps of every row but Table 13's; 0: notebook 03's ablation_steps
    test_clips: int = 0  # test clips scored per row, evenly spaced over the split; 0: all
    test_subset: str = ""  # whose test split every table is scored on; "": each table's own subset
    sample_sets: int = 1  # the test captions generated this many times anew (intervals with sampling)
    mm_texts: int = 32  # MultiModality: test captions ...
    mm_repeats: int = 4  # ... each generated this many times
    torch_threads: int = 1  # CPU threads (1: the same numbers on every machine); 0 = torch's default

    def __post_init__(self):
        for name in ("ablation_tables", "part_variants", "objective_variants", "source_variants", "source_methods",
                     "latent_variants", "conditionings"):
            object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)))
        bad = [t for t in self.ablation_tables if t not in TABLES]
        if bad:
            raise ValueError(f"ablation_tables must be among {TABLES}, got {bad}")
        for name in ("part_variants", "objective_variants", "source_methods", "latent_variants"):
            for v in getattr(self, name):
                try:
                    vae_runs.ablation_config(VAEConfig(), v)
                except ValueError as err:
                    raise ValueError(f"{name}: {err}") from None
        bad = [v for v in self.latent_variants if not PARTS_RE.fullmatch(v)]
        if bad:
            raise ValueError(f"latent_variants must be '<l>-<n>-<d>' names, got {bad}")
        bad = [c for c in self.conditionings if c not in CONDITIONINGS]
        if bad:
            raise ValueError(f"conditionings must be among {CONDITIONINGS}, got {bad}")
        if self.test_subset not in ("", "D1", "D2", "D3"):
            raise ValueError(f"test_subset must be '', 'D1', 'D2' or 'D3', got {self.test_subset!r}")
        if self.mm_repeats < 2:
            raise ValueError(f"mm_repeats must be >= 2 (MultiModality compares generations), got {self.mm_repeats}")
        for name in ("seeds", "sample_sets", "mm_texts"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        for name in ("vae_steps", "denoiser_steps", "test_clips", "torch_threads"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be an int >= 0, got {getattr(self, name)!r}")
        if self.test_clips and self.test_clips < 32:
            raise ValueError(f"test_clips must be 0 (all) or >= 32 (R-Precision draws groups of 32), got {self.test_clips}")
        if self.ablation_velocity_weight <= 0:
            raise ValueError(f"ablation_velocity_weight must be > 0, got {self.ablation_velocity_weight!r}")


class Setup(NamedTuple):
    """What notebook 05 runs with (unpacks in this order)."""

    run: params.RunConfig
    data: Any  # notebook 03's store
    vae: VAEConfig  # notebook 02's main VAE: the variants change it
    vae_train: Any  # notebook 02's main run (Table 13's VAE)
    vae_ablation: Any  # every other row's VAE training: vae_steps
    molip: Any  # notebook 04's MoLIP: the evaluator
    molip_train: Any
    denoiser: Any  # notebook 03's DenoiserConfig (its latent shape follows each row's VAE)
    den_ablation: Any  # every other row's denoiser training: denoiser_steps
    den_table13: Any  # Table 13's: notebook 03's ablation training, so its runs are shared
    sampling: dict  # TableRun's sampling fields: notebook 03's DDIM, this notebook's MultiModality
    metrics: Any  # notebook 03's MetricsConfig
    train_frac: float  # notebook 03's data_frac (Table 13's training clips)
    study: AblationStudyConfig


def configs(namespace, before: params.Snapshot) -> Setup:
    """Notebook 05's configs from its parameters (the names bound in `namespace` since `before`); the
    VAE, MoLIP, denoiser, data, sampling and metrics of notebooks 02, 04 and 03 under the same
    profile (their parameters cells and params files), so that the rows they share are their runs."""
    run, study = params.collect(namespace, before, params.RunConfig, AblationStudyConfig)
    g = generation.notebook_configs(run.profile)
    vae_steps = study.vae_steps or g.vae_train.max_steps
    vae_ablation = dataclasses.replace(g.vae_train, max_steps=vae_steps, log_every=max(1, vae_steps // 4),
                                       checkpoint_every=min(g.vae_train.checkpoint_every, vae_steps))
    den_steps = study.denoiser_steps or g.ablation.max_steps
    den_ablation = dataclasses.replace(g.ablation, max_steps=den_steps, log_every=max(1, den_steps // 4),
                                       checkpoint_every=den_steps)
    sampling = dict(steps=g.study.steps, eta=g.study.eta, mm_texts=study.mm_texts, mm_repeats=study.mm_repeats)
    return Setup(run, g.data, g.vae, g.vae_train, vae_ablation, g.molip, g.molip_train, g.denoiser, den_ablation,
                 g.ablation, sampling, g.metrics, g.study.data_frac, study)


def notebook_configs(profile: str) -> Setup:
    """What notebook 05 runs with under `profile` (its parameters cell, params/<profile>/05_ablations.yaml)."""
    return configs(params.notebook_parameters("05_ablations", profile), params.snapshot({}))


# --------------------------------------------------------------------------------------------
# The rows


@dataclass(frozen=True)
class Row:
    """One line of one table (before the mean over seeds): its naming columns, seed and run."""

    table: str  # one of TABLES
    key: tuple  # ((column, value), ...): KEYS[table] and their values
    seed: int
    run: generation.TableRun

    @property
    def columns(self) -> dict:
        return dict(self.key)


def with_unreliable() -> Selection:
    """Table 6's other training clips: D1's rule without its confidence condition, so the long
    clips the rule rejects for too few confident keypoints are kept (short clips stay out: a
    96-frame crop cannot come from them either)."""
    return Selection(split="train", high_quality_only=True, quality=QualityRule(min_fraction=0.0))


def source_selection(source: str) -> Selection:
    """Tables 8/17: D2's training clips, and the high-quality clips of `source` ("": none)."""
    return Selection(split="train", high_quality_only=True, sources=D2_SOURCES + ((source,) if source else ()))


def plan(s: Setup, store) -> list[Row]:
    """Every row of the tables s.study.ablation_tables asks for, in table order: the variants, a floor per
    table (its first row's denoiser untrained), the HEADLINE rows once per seed. A source of
    Tables 8/17 that the store lacks, or whose clips all fail the quality rule, has no row (a
    warning says which)."""
    st, out = s.study, []
    molip_sel = named_selection("D1", "train")

    def row(table, columns, vae_cfg, train_sel, seed, *, vae_train=None, vae_sel=None, den_cfg=None, den_train=None,
            molip=None):
        den_cfg = (den_cfg or s.denoiser).on_vae(vae_cfg)
        run = generation.TableRun(
            s.run.profile, s.data, vae_cfg, vae_train or dataclasses.replace(s.vae_ablation, seed=seed),
            molip or s.molip, s.molip_train, vae_sel or train_sel,
            named_selection(st.test_subset or SUBSETS[table], "test"),
            den_cfg, dataclasses.replace(den_train or s.den_ablation, seed=seed), train_sel, s.metrics, **s.sampling,
            seed=seed, sample_sets=st.sample_sets, molip_selection=molip_sel, test_clips=st.test_clips)
        return Row(table, tuple(columns.items()), seed, run)

    def seeds(table, name):
        return range(s.run.seed, s.run.seed + (st.seeds if name in HEADLINE.get(table, ()) else 1))

    def variants(table, names, **kw):
        d = named_selection(SUBSETS[table], "train")
        return [row(table, {"method": n}, vae_runs.ablation_config(s.vae, n, **kw), d, seed)
                for n in names for seed in seeds(table, n)]

    for table in st.ablation_tables:
        if table == "5":
            rows = variants("5", st.part_variants)
        elif table == "7":
            rows = variants("7", st.objective_variants, velocity_weight=st.ablation_velocity_weight)
        elif table == "6":
            confident = dataclasses.replace(s.molip, use_confidence=True)
            rows = [row("6", {"data": name, "evaluator": ev}, s.vae, sel, s.run.seed, molip=confident if ev != "molip" else None)
                    for name, sel in ((ONLY_HIGH, named_selection("D1", "train")), (WITH_UNRELIABLE, with_unreliable()))
                    for ev in EVALUATORS]
        elif table == "8":
            d2 = store.select(source_selection(""))
            sources = [""]
            for src in st.source_variants:
                if src in D2_SOURCES:
                    continue
                try:
                    clips = store.select(source_selection(src)).size
                except ValueError:  # Store.select names the sources it has
                    warnings.warn(f"Table 8: the store has no source {src!r}; its rows are left out", stacklevel=2)
                    continue
                if clips == d2.size:
                    warnings.warn(f"Table 8: no clip of {src!r} passes the quality rule; its rows are left out",
                                  stacklevel=2)
                else:
                    sources.append(src)
            rows = [row("8", {"method": m, "source": src}, vae_runs.ablation_config(s.vae, m), source_selection(src),
                        s.run.seed) for m in st.source_methods for src in sources]
        elif table == "12":
            d3 = named_selection("D3", "train")
            shapes = [(latent_name(s.vae), s.vae)] + [(n, vae_runs.ablation_config(s.vae, n)) for n in st.latent_variants]
            shapes = list(dict((name, cfg) for name, cfg in shapes).items())  # the main shape once
            rows = [row("12", {"setting": name, "paper_setting": paper_setting(cfg, s.vae), "skip": True}, cfg, d3,
                        s.run.seed) for name, cfg in shapes]
            rows.append(row("12", {"setting": latent_name(s.vae), "paper_setting": paper_setting(s.vae, s.vae),
                                   "skip": False}, dataclasses.replace(s.vae, skip=False), d3, s.run.seed))
        else:  # "13": notebook 03's runs (main VAE, its ablation training), the extra seeds beside them
            d1 = dataclasses.replace(named_selection("D1", "train"), data_frac=s.train_frac)
            rows = [row("13", {"conditioning": c}, s.vae, d1, seed, vae_train=s.vae_train,
                        vae_sel=named_selection("D1", "train"), den_train=s.den_table13,
                        den_cfg=dataclasses.replace(s.denoiser, conditioning=c))
                    for c in st.conditionings for seed in seeds("13", c)]
        first = rows[0]
        floor_key = {k: (FLOOR if k == KEYS[table][0] else v) for k, v in first.key}
        out += rows + [Row(table, tuple(floor_key.items()), first.seed, dataclasses.replace(first.run, untrained=True))]
    return out


def latent_name(cfg: VAEConfig) -> str:
    """A VAE's latent as Table 12 names it: "<temporal layers>-<tokens>-<width>"."""
    return f"{cfg.num_layers}-{cfg.latent_tokens}-{cfg.latent_dim}"


def paper_setting(cfg: VAEConfig, main: VAEConfig) -> str:
    """The paper's Table 12 setting a latent of ours stands for: our `main` VAE stands for the
    paper's main 9-8-256, so layers, tokens and width are scaled by the paper's main over ours
    and the nearest of the paper's rows (by the log ratio of each number) is taken."""
    theirs = paper.table12().drop_duplicates("setting")
    scaled = np.log([cfg.num_layers * 9 / main.num_layers, cfg.latent_tokens * 8 / main.latent_tokens,
                     cfg.latent_dim * 256 / main.latent_dim])
    options = np.log(theirs[["num_layers", "latent_tokens", "latent_dim"]].to_numpy(dtype=float))
    return str(theirs["setting"].iloc[int(np.abs(options - scaled).sum(1).argmin())])


# --------------------------------------------------------------------------------------------
# Running them


def run_rows(rows: list[Row], jobs: int) -> list[dict]:
    """row_result of every row, `jobs` processes at a time, in row order: the VAEs and evaluators
    first (parallel.train_ahead), then each trained denoiser once, then the rows that reuse one
    (another evaluator, the untrained floors); each a run by config, so a second call loads."""
    from tenderlib import parallel

    runs = [r.run for r in rows]
    specs = [parallel.ModelSpec(vae_runs.load_or_train, r.vae, r.vae_train, r.data, r.vae_selection, r.profile)
             for r in runs]
    specs += [parallel.ModelSpec(molip_runs.load_or_train_molip, r.molip, r.molip_train, r.data, r.molip_selection,
                                 r.profile) for r in runs]
    parallel.train_ahead(specs, jobs)
    seen, first = set(), []
    for r in dict.fromkeys(runs):  # one row per denoiser to train (its VAE, latents, config, training)
        key = (r.profile, r.data, r.vae, r.vae_train, r.vae_selection, r.denoiser, r.train, r.selection)
        if not r.untrained and key not in seen:
            seen.add(key)
            first.append(r)
    rest = [r for r in dict.fromkeys(runs) if r not in set(first)]
    done = dict(zip(first, parallel.map_runs(row_result, first, jobs, name="ablation row")))
    done.update(zip(rest, parallel.map_runs(row_result, rest, jobs, name="ablation row")))
    return [done[r] for r in runs]


RECON_DIR = "reconstruction"  # inside a VAE run folder: <hash of the test clips>.json


def row_result(run: generation.TableRun) -> dict:
    """generation.table_row of `run` (trained if missing, scored once) and its VAE's reconstruction
    error per part on the same test clips (RECONSTRUCTION columns, kept in the VAE's run folder)."""
    result = generation.table_row(run)
    store, vae_run, _ = generation.table_models(run)
    test = generation.test_indices(store, run)
    clips = hashlib.sha256(json.dumps([store.identity, test.tolist()]).encode()).hexdigest()[:12]
    path = Path(vae_run.run_dir) / RECON_DIR / f"{clips}.json"
    if path.is_file():
        recon = json.loads(path.read_text())
    else:
        report = vae_runs.evaluate_reconstruction(vae_run.model, vae_runs.eval_dataset(store, test, vae_run.model.cfg))
        errors = report.as_dict()
        recon = {f"recon_{p}": errors[f"{p}_norm"] for p in ("body", "foot", "face", "hand")}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        tmp.write_text(json.dumps(recon, indent=1) + "\n")
        tmp.replace(path)
    return {**result, **recon}


# --------------------------------------------------------------------------------------------
# Tables and verdicts


def seed_interval(values: np.ndarray) -> float:
    """Half-width of the 95% t-interval of the mean of `values` (one per seed)."""
    values = np.asarray(values, dtype=float)
    return float(stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))


def _lines(rows: list[Row], results: list[dict], table: str | None = None) -> dict[tuple, list[dict]]:
    """{(table, key): [result per seed]} in plan order."""
    lines: dict[tuple, list[dict]] = {}
    for r, res in zip(rows, results):
        if table is None or r.table == table:
            lines.setdefault((r.table, r.key), []).append(res)
    return lines


def seed_spread(rows: list[Row], results: list[dict]) -> dict[str, float]:
    """{metric: the standard deviation between training seeds}, pooled over every line trained
    with several seeds (the mean of their variances); NaN where no line has several seeds."""
    multi = [res for res in _lines(rows, results).values() if len(res) > 1]
    return {m: float(np.sqrt(np.mean([np.var([r[m] for r in res], ddof=1) for res in multi]))) if multi else float("nan")
            for m in METRICS}


def table_frame(rows: list[Row], results: list[dict], table: str) -> pd.DataFrame:
    """Table `table`: one line per variant (its KEYS columns) in plan order, each metric the mean
    over its seeds with `<metric>_conf` a 95% interval: of a line trained with several seeds, the
    t-interval of their mean; of a single run, 1.96 x the seed spread pooled over the multi-seed
    lines of every table (seed_spread: a single run varies with its seed too); never narrower
    than the line's own interval over MoLIP replications and sample sets. Then the movement
    ratios, the reconstruction errors, `seeds` and `train_clips`."""
    spread = seed_spread(rows, results)
    out = []
    for (_, key), res in _lines(rows, results, table).items():
        line = dict(key)
        for m in METRICS:
            values = np.array([r.get(m, np.nan) for r in res], dtype=float)
            own = float(np.mean([r.get(f"{m}_conf", np.nan) for r in res]))
            training = seed_interval(values) if values.size > 1 else 1.96 * spread[m]
            line[m], line[f"{m}_conf"] = float(values.mean()), float(np.nanmax([own, training]))
        for c in MOVEMENT + RECONSTRUCTION:
            line[c] = float(np.mean([r[c] for r in res]))
        line["seeds"] = len(res)
        line["train_clips"] = res[0]["train_clips"]
        out.append(line)
    return pd.DataFrame(out)


def paper_table(table: str, main: VAEConfig | None = None) -> pd.DataFrame:
    """The paper's table in the shape of ours (KEYS columns, every metric it prints): 14 for 5
    (Table 5's PA-VAE-3-4 row added from there), 15 for 6, 16 for 7, 17 for 8 (its "MLD" rows are
    the naive VAE's model, "Ours" PA-VAE-2-4), 12 with `paper_setting` keys (main: our main VAE),
    13."""
    if table == "5":
        t14 = paper.table14()
        extra = paper.table5()[~paper.table5()["method"].isin(t14["method"])]
        return pd.concat([t14, extra], ignore_index=True).drop(columns=["spatial_layers", "num_parts"])
    if table == "6":
        return paper.table15().rename(columns={"method": "data"})
    if table == "7":
        return paper.table16().drop(columns=["velocity", "weighted", "cag"])
    if table == "8":
        t = paper.table17()
        sources = {"whole-body": "", "w/ face": "syn-dfew", "w/ IDEA400": "syn-idea400"}
        return t.assign(method=t["method"].map({"MLD": "VAE", "Ours": "PA-VAE-2-4"}),
                        source=t["data"].map(sources)).drop(columns=["data"])[["method", "source", *METRICS]]
    if table == "12":
        t = paper.table12()
        t = t[~t["setting"].str.contains(", w/ skip")].drop_duplicates(["setting"], keep="first")
        t = t.assign(setting=t["setting"].str.replace(", w/o skip", "", regex=False))
        return t.rename(columns={"setting": "paper_setting"}).drop(columns=["num_layers", "latent_tokens", "latent_dim"])
    if table == "13":
        return paper.table13().drop(columns=["method"])
    raise ValueError(f"table must be one of {TABLES}, got {table!r}")


@dataclass(frozen=True)
class Claim:
    """A comparison the paper makes: the row `better` beats the row `worse` (KEYS values)."""

    table: str
    text: str
    better: dict
    worse: dict
    paper_worse: dict | None = None  # the paper's row for `worse` where its name differs from ours
    metrics: tuple[str, ...] = ("top3", "fid")  # VERDICT_METRICS compared


def claims(main: str = "PA-VAE-2-4") -> list[Claim]:
    """The paper's claims notebook 05 tests (sections 5.3-5.4, appendix C), by table."""
    out = [Claim("5", "the part-aware VAE beats the naive VAE", {"method": main}, {"method": "VAE"}),
           Claim("5", "two spatial layers beat one", {"method": main}, {"method": "PA-VAE-1-4"}),
           Claim("5", "four parts beat two", {"method": main}, {"method": "PA-VAE-2-2"}),
           Claim("6", "only high-quality clips beat adding unreliable ones",
                 {"data": ONLY_HIGH, "evaluator": "molip"}, {"data": WITH_UNRELIABLE, "evaluator": "molip"},
                 paper_worse={"data": "Argument-1", "evaluator": "molip"}),
           Claim("6", "a MoLIP trained with confidence scores the model higher",
                 {"data": ONLY_HIGH, "evaluator": "confidence"}, {"data": ONLY_HIGH, "evaluator": "molip"},
                 metrics=("top3",)),  # two evaluators' FIDs are distances in two embedding spaces
           Claim("7", "velocity + CAG beats none", {"method": "velocity+cag"}, {"method": "none"}),
           Claim("7", "CAG beats none", {"method": "cag"}, {"method": "none"}),
           Claim("7", "none beats the confidence-weighted loss", {"method": "none"}, {"method": "weighted"}),
           Claim("8", "adding face data helps Tender", {"method": main, "source": "syn-dfew"}, {"method": main, "source": ""}),
           Claim("8", "adding the 3D-capture source helps Tender", {"method": main, "source": "syn-idea400"},
                 {"method": main, "source": ""}),
           Claim("8", "with face data, Tender beats the naive VAE's model", {"method": main, "source": "syn-dfew"},
                 {"method": "VAE", "source": "syn-dfew"}),
           Claim("12", "skip connections help", {"paper_setting": "Ours-9-8-256", "skip": True},
                 {"paper_setting": "Ours-9-8-256", "skip": False}),
           Claim("12", "8 latent tokens beat 4", {"paper_setting": "Ours-9-8-256", "skip": True},
                 {"paper_setting": "Ours-9-4-256", "skip": True}),
           Claim("12", "8 latent tokens beat 1", {"paper_setting": "Ours-9-8-256", "skip": True},
                 {"paper_setting": "Ours-9-1-256", "skip": True})]
    out += [Claim("13", f"concatenation beats {c}", {"conditioning": "concat"}, {"conditioning": c})
            for c in CONDITIONINGS if c != "concat"]
    return out


VERDICT_METRICS = {"top3": "higher", "fid": "lower"}


def pick_row(frame: pd.DataFrame, where: dict) -> pd.Series | None:
    """The first row of `frame` whose columns hold the values of `where`; None if none does."""
    keep = np.ones(len(frame), dtype=bool)
    for k, v in where.items():
        if k not in frame.columns:
            return None
        keep &= (frame[k] == v).to_numpy()
    return frame[keep].iloc[0] if keep.any() else None


def verdict(better: float, better_conf: float, worse: float, worse_conf: float, higher: bool) -> str:
    """'replicates' when `better` beats `worse` beyond both 95% intervals, 'contradicts' when it
    loses beyond them, else 'inconclusive' (the intervals overlap)."""
    gap = (better - worse) if higher else (worse - better)
    if abs(gap) <= better_conf + worse_conf:
        return "inconclusive"
    return "replicates" if gap > 0 else "contradicts"


def verdicts(frames: dict[str, pd.DataFrame], main: str = "PA-VAE-2-4") -> pd.DataFrame:
    """Each claim of `claims` whose two rows are in `frames` ({table: table_frame with, for Table
    12, a paper_setting column}), on R@3 and FID: the paper's two values, ours with their
    intervals and seeds, and the verdict."""
    out = []
    for claim in claims(main):
        ours = frames.get(claim.table)
        if ours is None:
            continue
        a, b = pick_row(ours, claim.better), pick_row(ours, claim.worse)
        if a is None or b is None:
            continue
        theirs = paper_table(claim.table)
        pa, pb = pick_row(theirs, claim.better), pick_row(theirs, claim.paper_worse or claim.worse)
        for m in claim.metrics:
            direction = VERDICT_METRICS[m]
            out.append({"table": claim.table, "claim": claim.text, "metric": m,
                        "paper": f"{pa[m]:.4g} vs {pb[m]:.4g}" if pa is not None and pb is not None else "",
                        "ours": f"{a[m]:.3f} ± {a[m + '_conf']:.3f} vs {b[m]:.3f} ± {b[m + '_conf']:.3f}",
                        "seeds": f"{int(a['seeds'])} / {int(b['seeds'])}",
                        "verdict": verdict(a[m], a[m + "_conf"], b[m], b[m + "_conf"], direction == "higher")})
    return pd.DataFrame(out, columns=["table", "claim", "metric", "paper", "ours", "seeds", "verdict"])
