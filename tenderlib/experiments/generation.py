"""Notebook 03: Tender's denoiser trained by config on a VAE's latents, scored with MoLIP, the tables.

    study = TenderExperimentConfig(...)                      # data, tables, sampling; the VAE and MoLIP
    run = fit_pipeline(vae_run, den_cfg, train_cfg, store, selection, profile)   # load or train
    scores = score(run.pipe, molip_model, store, test, MetricsConfig(...), reference)
    result_row(scores)                                       # a table row: metrics + movement ratios
    table_row(TableRun(...))                                 # one row of Tables 3 / 11 / 13, cached
    find_run(profile=...)                                    # the run `tender generate` uses

Denoiser runs live in outputs/<profile>/checkpoints/tender-<hash of the configs and the latents>/,
named by the weight identity of the config (the sampling default guidance_scale left out); the
latents are the VAE's posterior means of the training clips, encoded once per VAE run
(tenderlib.experiments.vae_runs.training_latents).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch

from tenderlib import checkpoints, datasets, distributed, evaluation, params, paths, synthetic, training
from tenderlib.data.dataset import MotionDataset, collate
from tenderlib.data.selection import selection as named_selection
from tenderlib.evaluation import movement
from tenderlib.evaluation.metrics import MetricsConfig
from tenderlib.experiments import molip_runs, vae_runs
from tenderlib.models import denoiser
from tenderlib.models.denoiser import CONDITIONINGS, DenoiserConfig, LatentBatch
from tenderlib.models.layers import count_parameters
from tenderlib.models.molip import MoLIPConfig
from tenderlib.models.pipeline import Generation, LengthSampler, PIPELINE_FILE, Tender
from tenderlib.models.text import TextEncoder
from tenderlib.models.vae import VAEConfig
from tenderlib.models.windows import Windows
from tenderlib.training import TrainConfig

SMOKE_PROFILE = "smoke"  # the profile `make test` trains in seconds: found last when no profile is named


def find_run(root=None, profile: str | None = None, method: str = "tender") -> Path:
    """The run `tender generate --model METHOD` uses: among outputs/<profile>/checkpoints/<method>-*/
    (every profile when None) that hold pipeline.json and a finished checkpoint, the one whose
    pipeline.json was written last; with no profile named, a smoke run (what `make test` trains in
    seconds) only when no other profile has one, so the committed default model is found after
    the tests ran. FileNotFoundError naming notebook 03 when there is none."""
    from tenderlib.models import METHODS

    if method not in METHODS:
        raise ValueError(f"model must be one of {METHODS}, got {method!r}")
    base = Path(root) / "outputs" if root is not None else paths.outputs_root()
    pattern = f"{paths.check_profile(profile) if profile else '*'}/checkpoints/{method}-*"
    runs = [p for p in base.glob(pattern)
            if (p / PIPELINE_FILE).is_file() and checkpoints.latest_checkpoint(p) is not None]
    if not runs:
        where = f"outputs/{profile}/checkpoints" if profile else "outputs/*/checkpoints"
        raise FileNotFoundError(f"no trained {method} model under {where}: run notebook 03 (papermill "
                                f"notebooks/03_diffusion.ipynb out.ipynb [-f params/default/03_diffusion.yaml]) "
                                f"to train one, or pass --checkpoint PATH")
    if profile is None and any(p.parent.parent.name != SMOKE_PROFILE for p in runs):
        runs = [p for p in runs if p.parent.parent.name != SMOKE_PROFILE]
    return max(runs, key=lambda p: ((p / PIPELINE_FILE).stat().st_mtime, p.name))


# --------------------------------------------------------------------------------------------
# Denoiser runs


def paper_train_config(num_train_clips: int, num_processes: int = 4, **changes) -> training.TrainConfig:
    """The paper's diffusion training (appendix B.1): batch 256 per GPU on `num_processes` GPUs (the
    paper: 4), AdamW 2e-4 without weight decay, 2,000 epochs of `num_train_clips` clips."""
    if not (isinstance(num_train_clips, int) and num_train_clips >= 1):
        raise ValueError(f"num_train_clips must be an int >= 1, got {num_train_clips!r}")
    steps = 2000 * training.steps_per_epoch(num_train_clips, 256 * num_processes)
    return training.TrainConfig(**{"batch_size": 256, "lr": 2e-4, "weight_decay": 0.0, "max_steps": steps,
                                   "num_processes": num_processes, **changes})


class LatentDataset(torch.utils.data.Dataset):
    """The VAE latents of the training clips (N, n, d) float, or their tokenizer codes (N, L) int64
    (T2M-GPT, padded; lengths then count codes), each with its captions; one caption per item,
    drawn from (seed, epoch, item) (call set_epoch, as tenderlib.training does)."""

    def __init__(self, latents: torch.Tensor, captions: Sequence[Sequence[str]], lengths, seed: int = 0):
        latents = torch.as_tensor(latents)
        latents = latents if latents.dtype == torch.int64 else latents.float()
        lengths = torch.as_tensor(lengths, dtype=torch.int64).reshape(-1)
        if latents.ndim != (2 if latents.dtype == torch.int64 else 3):
            raise ValueError(f"latents must be (N, n, d) float or (N, L) int64 codes, got {tuple(latents.shape)} "
                             f"{latents.dtype}")
        if not (len(captions) == latents.shape[0] == lengths.shape[0]):
            raise ValueError(f"latents ({latents.shape[0]}), captions ({len(captions)}) and lengths "
                             f"({lengths.shape[0]}) must be as many")
        captions = [[c] if isinstance(c, str) else list(c) for c in captions]
        empty = [i for i, c in enumerate(captions) if not c]
        if empty:
            raise ValueError(f"items {empty[:10]} have no caption")
        self.latents, self.captions, self.lengths, self.seed, self.epoch = latents, captions, lengths, int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.latents.shape[0]

    def __getitem__(self, k: int):
        texts = self.captions[k]
        pick = np.random.default_rng((self.seed, self.epoch, int(k))).integers(len(texts)) if len(texts) > 1 else 0
        return self.latents[k], texts[pick], self.lengths[k]


def collate_latents(items) -> LatentBatch:
    """LatentDataset items -> LatentBatch (tenderlib.training.train's collate_fn)."""
    if not items:
        raise ValueError("collate_latents needs at least one item")
    return LatentBatch(torch.stack([it[0] for it in items]), [it[1] for it in items],
                       torch.stack([it[2] for it in items]))



RUN_NAME = "tender"  # run folders: outputs/<profile>/checkpoints/tender-<hash>/


@dataclass(frozen=True)
class LatentKey:
    """Which latents a denoiser trained on (hashed into its run folder with the configs)."""

    vae_run: str  # the VAE's run folder name: vae-<hash of its configs and data>
    store: str  # the store's folder name
    selection: Any = None  # which clips were encoded (a tenderlib.data.selection.Selection)


def load_or_train_denoiser(config: DenoiserConfig, train_config: training.TrainConfig, latents: LatentDataset, profile: str,
                  data_key: LatentKey, *, text_encoder: TextEncoder | None = None,
                  name: str = RUN_NAME) -> training.ModelRun:
    """The denoiser trained with these configs on `latents` (named by `data_key`), loaded from its run
    folder when a finished run is there, else trained (resuming a killed run)."""
    model = denoiser.build(config, train_config.seed, text_encoder)
    model.set_latent_stats(latents.latents)

    def make_dataset():
        model.text_encoder.encode(sorted({t for texts in latents.captions for t in texts}))  # warm the cache
        return latents

    # the run is named by the config's weight identity (the sampling default guidance_scale left out)
    return training.run_by_config(name, model, config.weight_identity(), train_config, profile, data_key,
                                  make_dataset, len(latents), collate_fn=collate_latents,
                                  relaunch=(load_or_train_denoiser, (config, train_config, latents, profile, data_key,
                                                                     None, name)))


# --------------------------------------------------------------------------------------------
# The study


@dataclass(frozen=True)
class TenderExperimentConfig:
    """What notebook 03 does beyond one denoiser: data, tables, sampling. The VAE and MoLIP are
    notebook 02's and 04's, read from their parameters (`configs`), never restated here."""

    subset: str = "D1"  # named selection trained and tested on (paper: D1)
    data_frac: float = 1.0  # share of the subset's training clips of the main run (nested subsets)
    data_fracs: tuple[float, ...] = (0.2, 0.5, 0.8, 1.0)  # Tables 3 / 11 rows
    scaling_layers: tuple[int, ...] = (5, 9)  # Tables 3 / 11: denoiser depths
    conditionings: tuple[str, ...] = ("concat", "add", "text_transformer", "cross_attention")  # Table 13
    ablation_steps: int = 0  # steps of every table run but the main one; 0 = max_steps
    steps: int = 50  # DDIM steps at sampling
    eta: float = 0.0  # DDIM eta
    guidance_scales: tuple[float, ...] = (0.0, 1.0, 2.5, 7.5)  # the guidance figure and table
    mm_texts: int = 8  # MultiModality: test captions ...
    mm_repeats: int = 5  # ... generated this many times each
    num_examples: int = 3  # captions in the figure of generated motions
    torch_threads: int = 1  # CPU threads (1: the same numbers on every machine); 0 = torch's default
    baseline_methods: tuple[str, ...] = ("t2m-gpt", "mdm", "mld")  # Table 2's other methods (experiments.baselines)
    baseline_size: str = "smoke"  # their size: smoke | default | paper (baselines.SIZES)
    baseline_steps: int = 0  # training steps of the baselines' motion stages (MDM, MLD's VAE, the VQ-VAE); 0 = max_steps
    baseline_latent_steps: int = 0  # ... of their stages on latents or codes (MLD's denoiser, the GPT); 0 = baseline_steps
    mdm_steps: int = 50  # DDIM steps MDM is scored with (its own sampler, 1000 ancestral steps, is timed)
    sample_sets: int = 1  # Table 2: the test captions generated this many times anew (intervals with sampling)
    speed_motions: int = 2  # the speed table: motions timed per method (batch 1)
    speed_paper_size: bool = False  # the speed table also times each method at its published size

    def __post_init__(self):
        from tenderlib.experiments.baselines import BASELINES, SIZES

        object.__setattr__(self, "baseline_methods", tuple(self.baseline_methods))
        bad = [b for b in self.baseline_methods if b not in BASELINES]
        if bad:
            raise ValueError(f"baseline_methods must be among {BASELINES}, got {bad}")
        if self.baseline_size not in SIZES:
            raise ValueError(f"baseline_size must be one of {SIZES}, got {self.baseline_size!r}")
        for name in ("baseline_steps", "baseline_latent_steps"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be an int >= 0 (0: see its comment), got {getattr(self, name)!r}")
        for name in ("mdm_steps", "sample_sets", "speed_motions"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")

        if self.subset not in ("D1", "D2", "D3"):
            raise ValueError(f"subset must be one of ('D1', 'D2', 'D3'), got {self.subset!r}")
        if not 0 < self.data_frac <= 1:
            raise ValueError(f"data_frac must be in (0, 1], got {self.data_frac!r}")
        fracs = tuple(float(f) for f in self.data_fracs)
        if not fracs or any(not 0 < f <= 1 for f in fracs) or list(fracs) != sorted(set(fracs)):
            raise ValueError(f"data_fracs must be increasing fractions in (0, 1], got {self.data_fracs!r}")
        object.__setattr__(self, "data_fracs", fracs)
        object.__setattr__(self, "scaling_layers", tuple(int(v) for v in self.scaling_layers))
        object.__setattr__(self, "conditionings", tuple(self.conditionings))
        object.__setattr__(self, "guidance_scales", tuple(float(v) for v in self.guidance_scales))
        bad = [c for c in self.conditionings if c not in CONDITIONINGS]
        if bad:
            raise ValueError(f"conditionings must be among {CONDITIONINGS}, got {bad}")
        if any(s < 0 for s in self.guidance_scales):
            raise ValueError(f"guidance_scales must be >= 0, got {self.guidance_scales}")
        if any(v < 1 for v in self.scaling_layers):
            raise ValueError(f"scaling_layers must be ints >= 1, got {self.scaling_layers}")
        for name in ("steps", "mm_texts", "mm_repeats", "num_examples"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        for name in ("ablation_steps", "torch_threads"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be an int >= 0, got {getattr(self, name)!r}")
        if self.mm_repeats < 2:
            raise ValueError(f"mm_repeats must be >= 2 (MultiModality compares generations), got {self.mm_repeats}")
        if self.eta < 0:
            raise ValueError(f"eta must be >= 0, got {self.eta!r}")



@dataclass
class TenderRun:
    """A trained pipeline and how it came to be."""

    pipe: Tender
    run_dir: Path  # the denoiser's run folder (pipeline.json inside)
    trained_now: bool
    step: int
    seconds: float
    history: list
    train_clips: int


def latent_dataset(vae_run, store, selection, seed: int = 0, windows: Windows = Windows()):
    """The training latents of `selection` (VAE posterior means of centre crops, cut into `windows`,
    encoded once per VAE run: vae_runs.training_latents) with every caption of each clip ->
    (LatentDataset, LatentKey)."""

    indices, (mu, lengths) = vae_runs.training_latents(vae_run, store, selection, windows)
    if indices.size == 0:
        raise ValueError(f"selection {selection} holds no clip")
    captions = [store.texts(int(i)) for i in indices]
    key = LatentKey(Path(vae_run.run_dir).name, store.identity, selection)
    return LatentDataset(mu, captions, lengths, seed), key


def fit_pipeline(vae_run, config, train_config, store, selection, profile: str, *, text_encoder=None,
                 publish: bool = True, method: str = "tender") -> TenderRun:
    """Load or train the denoiser `config` on the latents of `selection` under `vae_run`'s VAE.
    Lengths and fps come from the training clips. publish: write the run's pipeline.json, which
    makes it the model `tender generate` finds (find_run: the newest pipeline.json); notebook 03
    publishes its main model only, not the table runs. method "mld": the same on a naive VAE with
    an epsilon-predicting denoiser (tenderlib.experiments.baselines), filed as mld-<hash>."""
    t0 = time.perf_counter()
    data, key = latent_dataset(vae_run, store, selection, train_config.seed, config.windowing())
    run = load_or_train_denoiser(config, train_config, data, profile, key, text_encoder=text_encoder, name=method)
    indices = store.select(selection)
    lengths = LengthSampler.fit(store.index.length[indices], config.windowing().max_length(vae_run.model.cfg.max_frames))
    fps = float(np.median(store.index.fps[indices]))
    pipe = Tender(vae_run.model, run.model, lengths, fps, annotated_regions(store, indices), method)
    vae_ckpt = checkpoints.latest_checkpoint(vae_run.run_dir)
    if publish and vae_ckpt is not None and distributed.is_main():
        pipe.save(run.run_dir, vae_ckpt)
    return TenderRun(pipe, run.run_dir, run.trained_now, run.step, time.perf_counter() - t0, run.history, len(data))


def annotated_regions(store, indices) -> tuple[str, ...]:
    """The regions (tenderlib.data.skeleton.REGIONS) that some of the clips `indices` annotate: where a
    pipeline trained on them may give confidence (tenderlib.models.pipeline)."""
    parts = np.asarray(store.index.parts, dtype=np.int64)[np.asarray(indices, dtype=np.int64)]  # (N,) region bits
    bits = int(np.bitwise_or.reduce(parts)) if parts.size else 0
    return tuple(name for r, (name, _) in enumerate(store.regions) if bits >> r & 1)


def prompts_for(store, indices, max_length: int) -> tuple[list[str], list[int]]:
    """(first caption, length capped at max_length) of each test clip: what a generation table generates."""
    captions = [store.texts(int(i))[0] for i in indices]
    lengths = [int(min(store.index.length[int(i)], max_length)) for i in indices]
    return captions, lengths


def lengths_for(pipe, lengths: list[int]) -> list[int]:
    """The lengths `pipe` can produce nearest below `lengths` (T2M-GPT: multiples of 4 frames)."""
    m = pipe.length_multiple
    return [max(m, n // m * m) for n in lengths]


def score(pipe, molip_model, store, indices, metrics_config, reference: np.ndarray, *, steps: int = 50,
          eta: float = 0.0, guidance_scale: float | None = None, mm_texts: int = 8, mm_repeats: int = 5,
          seed: int = 0, batch_size: int = 64, sample_sets: int = 1):
    """Generate for the test clips `indices` (their first caption and the nearest length the method
    makes) and score with MoLIP against `reference` (tenderlib.evaluation.real_reference);
    MultiModality from the first mm_texts captions generated mm_repeats times. sample_sets > 1:
    the test captions generated that many times anew, replication r scoring set r % sample_sets
    (intervals that hold the sampling's variance). pipe: any tenderlib.models.pipeline.MotionPipeline.
    Returns Scores (the EvalResult and the movement of the first set)."""
    if not (isinstance(sample_sets, int) and sample_sets >= 1):
        raise ValueError(f"sample_sets must be an int >= 1, got {sample_sets!r}")
    captions, lengths = prompts_for(store, indices, pipe.max_length)
    lengths = lengths_for(pipe, lengths)
    g = torch.Generator().manual_seed(seed)
    kw = dict(steps=steps, eta=eta, guidance_scale=guidance_scale, batch_size=batch_size)
    gens = [pipe.generate(captions, lengths, generator=g, **kw) for _ in range(sample_sets)]
    gen = gens[0]
    P = min(mm_texts, len(captions))
    mm = pipe.generate([c for c in captions[:P] for _ in range(mm_repeats)],
                       [n for n in lengths[:P] for _ in range(mm_repeats)], generator=g, **kw)
    mm_features, mm_mask = mm.grouped(mm_repeats)
    result = evaluation.score_generated(molip_model, captions, [x.features for x in gens], [x.mask for x in gens],
                                        reference, mm_features, mm_mask, metrics_config)
    return Scores(result, generated_movement(gen, mm, store, indices, pipe.max_length))


@dataclass
class Scores:
    """What `score` returns: the MoLIP metrics and how much the generations move."""

    result: Any  # tenderlib.evaluation.metrics.EvalResult
    movement: dict  # tenderlib.evaluation.movement.generation_movement rows: 'generated', 'real', 'ratio'


def generated_movement(gen: Generation, mm: Generation, store, indices, max_length: int) -> dict:
    """tenderlib.evaluation.movement.generation_movement of the motions generated for the test clips `indices`
    (gen: one per clip, its first caption) against those clips, centre-cropped to max_length as
    the VAE sees them; the spread of one caption's samples is read from `mm` (several generations
    of each caption) against the spread of test clips sharing a first caption."""

    real_ds = MotionDataset(store, indices, max_frames=max_length, crop="center", caption="first")
    real = collate([real_ds[k] for k in range(len(real_ds))])
    real_clips = movement.clips_from_features(real.features, real.mask, store.index.fps[real.indices.numpy()])
    return movement.generation_movement(movement.clips_from_features(gen.features, gen.mask, gen.fps), gen.captions,
                                        real_clips, real.captions,
                                        movement.clips_from_features(mm.features, mm.mask, mm.fps), mm.captions)


def result_row(scores: Scores) -> dict[str, float]:
    """Scores as paper.table2's columns (+ '<metric>_conf'), MultiModality included, and the movement
    ratios against the real clips of the same captions: '<part>_disp', '<part>_std', '<part>_spread'
    for body, face and hand (tenderlib.evaluation.movement)."""

    result = scores.result
    row = evaluation.metric_row(result)
    if result.multimodality is not None:
        row["multimodality"], row["multimodality_conf"] = result.multimodality.mean, result.multimodality.conf
    ratio = scores.movement["ratio"]
    row.update({f"{part}_{col}": ratio[f"{part}_{col}"] for part in MOVEMENT_PARTS for col in MOVEMENT_COLUMNS})
    return row


MOVEMENT_PARTS = ("body", "face", "hand")
MOVEMENT_COLUMNS = ("disp", "std", "spread")


# --------------------------------------------------------------------------------------------
# One table row as a run of its own (tenderlib.parallel): notebook 03's Tables 3/11 and 13


@dataclass(frozen=True)
class TableRun:
    """Everything one row of a generation table depends on, picklable for a worker process: the
    data, the VAE and MoLIP (loaded from their runs, trained if missing), the denoiser and its
    training clips, the test clips and how they are scored. untrained=True scores the same
    denoiser at its initial weights (with the trained one's latent statistics): Table 2's floor."""

    profile: str
    data: Any  # tenderlib.datasets.Data: the store
    vae: Any  # tenderlib.models.vae.VAEConfig
    vae_train: Any  # its TrainConfig
    molip: Any  # tenderlib.models.molip.MoLIPConfig
    molip_train: Any  # its TrainConfig
    vae_selection: Any  # tenderlib.data.selection.Selection the VAE and MoLIP trained on
    test_selection: Any  # the clips generated for and scored
    denoiser: Any  # tenderlib.models.denoiser.DenoiserConfig
    train: Any  # the denoiser's TrainConfig
    selection: Any  # the denoiser's training clips
    metrics: Any  # tenderlib.evaluation.metrics.MetricsConfig
    steps: int = 50
    eta: float = 0.0
    mm_texts: int = 8
    mm_repeats: int = 5
    seed: int = 0
    sample_sets: int = 1
    guidance_scale: float | None = None  # None: the denoiser config's
    untrained: bool = False
    molip_selection: Any = params.added_field(None)  # the clips MoLIP trained on; None: vae_selection
    test_clips: int = params.added_field(0)  # score this many test clips, evenly spaced over the split; 0: all


SCORE_DIR = "scores"  # inside a denoiser's run folder: <hash of how it was scored>.json


@functools.lru_cache(maxsize=4)
def _models(profile, data, vae_cfg, vae_train, molip_cfg, molip_train, selection, molip_selection):
    """(store, VAE run, MoLIP) loaded once per process for the rows that share them."""

    store = datasets.open_store(data)
    vae_run = vae_runs.load_or_train(vae_cfg, vae_train, store, selection, profile)
    evaluator = molip_runs.load_or_train_molip(molip_cfg, molip_train, store, molip_selection, profile).model
    return store, vae_run, evaluator


def table_models(run: TableRun):
    """(store, VAE run, MoLIP) of a table run, loaded once per process for the rows that share them."""
    return _models(run.profile, run.data, run.vae, run.vae_train, run.molip, run.molip_train, run.vae_selection,
                   run.vae_selection if run.molip_selection is None else run.molip_selection)


def test_indices(store, run: TableRun) -> np.ndarray:
    """The test clips a table run scores: its test selection, or run.test_clips of them evenly spaced
    over it (every source and length represented, not the first ones the store holds)."""
    test = store.select(run.test_selection)
    if run.test_clips and run.test_clips < test.size:
        test = test[np.linspace(0, test.size - 1, run.test_clips).round().astype(np.int64)]
    return test


def scored_row(run: TableRun, run_dir, pipe, parameters: int, train_clips: int) -> dict:
    """{'train_clips', 'parameters', 'run_dir', 'movement', **result_row} of `pipe` (any
    MotionPipeline) generating for run.test_selection and scored as `run` says. Kept in the run
    folder (scores/<hash of `run`>.json: the evaluator, the test clips, the metrics and the
    sampling, among the rest), so a second call, or a killed notebook run again, reads it."""
    path = Path(run_dir) / SCORE_DIR / f"{params.config_hash(run)}.json"
    if path.is_file():
        row = json.loads(path.read_text())
    else:
        store, _, evaluator = table_models(run)
        test = test_indices(store, run)
        reference = evaluation.real_reference(evaluator, store, test)
        res = score(pipe, evaluator, store, test, run.metrics, reference, steps=run.steps, eta=run.eta,
                    guidance_scale=run.guidance_scale, mm_texts=run.mm_texts, mm_repeats=run.mm_repeats,
                    seed=run.seed, sample_sets=run.sample_sets)
        row = {"train_clips": train_clips, "parameters": parameters, **result_row(res), "movement": res.movement}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        tmp.write_text(json.dumps(row, indent=1) + "\n")
        tmp.replace(path)
    return {**row, "run_dir": str(run_dir)}


def table_row(run: TableRun) -> dict:
    """Train (or load) the denoiser of `run` and score it (`scored_row`, cached in its run folder);
    untrained=True: the same architecture at its initial weights, scored beside the trained run."""

    store, vae_run, evaluator = table_models(run)
    fitted = fit_pipeline(vae_run, run.denoiser, run.train, store, run.selection, run.profile,
                          text_encoder=evaluator.text_encoder, publish=False)
    pipe = fitted.pipe
    if run.untrained:  # only the weights differ: the trained model's latent standardisation
        fresh = denoiser.build(run.denoiser, run.seed, evaluator.text_encoder).eval()
        fresh.latent_mean.copy_(pipe.denoiser.latent_mean)
        fresh.latent_std.copy_(pipe.denoiser.latent_std)
        pipe = Tender(pipe.vae, fresh, pipe.length_sampler, pipe.fps)
    return scored_row(run, fitted.run_dir, pipe, count_parameters(pipe.denoiser), fitted.train_clips)


# --------------------------------------------------------------------------------------------
# Notebook 03's configs


class Setup(NamedTuple):
    """What notebook 03 runs with (unpacks in this order)."""

    run: params.RunConfig
    data: datasets.Data  # the synthetic dataset's config, or an imported store
    vae: VAEConfig  # notebook 02's, under the same profile
    vae_train: TrainConfig  # notebook 02's main run
    molip: MoLIPConfig  # notebook 04's, under the same profile
    molip_train: TrainConfig  # notebook 04's
    denoiser: DenoiserConfig  # its latent shape is the VAE's
    train: TrainConfig  # the main denoiser run
    ablation: TrainConfig  # every table run
    metrics: MetricsConfig
    study: TenderExperimentConfig


_FROM_THE_VAE = ("latent_tokens", "latent_dim")  # DenoiserConfig fields notebook 03 takes from notebook 02's VAE


def configs(namespace, before: params.Snapshot) -> Setup:
    """Notebook 03's configs from its parameters (the names bound in `namespace` since `before`); the
    VAE and MoLIP those notebooks 02 and 04 run with under the same profile (their parameters cells
    and params files), so notebook 03 reuses their runs and cannot silently train others."""
    given = [n for n in before.changed_names(namespace) if n in _FROM_THE_VAE]
    if given:
        raise ValueError(f"{', '.join(given)}: notebook 03 takes the latent shape from notebook 02's VAE; set "
                         f"latent_tokens / latent_dim among notebook 02's parameters (params/<profile>/02_vae.yaml)")
    run, store_cfg, synthetic_cfg, den_cfg, train_cfg, metrics_cfg, study = params.collect(
        namespace, before, params.RunConfig, datasets.StoreConfig, synthetic.SyntheticConfig, DenoiserConfig,
        TrainConfig, MetricsConfig, TenderExperimentConfig)
    data = datasets.choose(store_cfg, synthetic_cfg)
    _, _, vae_cfg, vae_train, _, _ = vae_runs.notebook_configs(run.profile)
    _, _, molip_cfg, molip_train, _, _ = molip_runs.notebook_configs(run.profile)
    den_cfg = den_cfg.on_vae(vae_cfg)
    train_cfg = dataclasses.replace(train_cfg, progress="off", log_every=max(1, train_cfg.max_steps // 6),
                                    checkpoint_every=min(train_cfg.checkpoint_every, train_cfg.max_steps))
    steps = study.ablation_steps or train_cfg.max_steps
    ablation_cfg = dataclasses.replace(train_cfg, max_steps=steps, log_every=max(1, steps // 6), checkpoint_every=steps)
    return Setup(run, data, vae_cfg, vae_train, molip_cfg, molip_train, den_cfg, train_cfg, ablation_cfg, metrics_cfg,
                 study)


def notebook_configs(profile: str) -> Setup:
    """What notebook 03 runs with under `profile` (its parameters cell, params/<profile>/03_diffusion.yaml)."""
    return configs(params.notebook_parameters("03_diffusion", profile), params.snapshot({}))


def main_models(s: Setup):
    """Notebook 03's main Tender pipeline and the MoLIP that scores it, loaded or trained by config as the
    notebook does: (TenderRun, MoLIP ModelRun, the store)."""
    store = datasets.open_store(s.data)
    vae_sel = named_selection(s.study.subset, "train")
    vae_run = vae_runs.load_or_train(s.vae, s.vae_train, store, vae_sel, s.run.profile)
    molip_run = molip_runs.load_or_train_molip(s.molip, s.molip_train, store, vae_sel, s.run.profile)
    tender = fit_pipeline(vae_run, s.denoiser, s.train, store, dataclasses.replace(vae_sel, data_frac=s.study.data_frac),
                          s.run.profile, text_encoder=molip_run.model.text_encoder)
    return tender, molip_run, store

