"""Experiments with the PA-VAE (notebook 02, and the notebooks that need a trained VAE):
reconstruction scores per part, the ablations of Tables 5/14, 12 and 7/16 by name, runs by
config, latents and reconstructions of a dataset.

    run = load_or_train(config, train_config, store, selection, profile)   # training.ModelRun; trained once
        under outputs/<profile>/checkpoints/vae-<hash of configs and data>/, loaded afterwards
    mu, lengths = encode_dataset(run.model, eval_dataset(store, indices, config))  # latents
    indices, latents = training_latents(run, store, selection)   # cached in the run folder, shared
        by every denoiser trained on this VAE (data_frac subsets are rows of the full selection's)
    report = evaluate_reconstruction(run.model, dataset)                 # per-part errors
    ablation_config(config, "PA-VAE-2-3" | "VAE" | "5-8-256" | "velocity+cag")  # Tables 5/12/7
"""
from __future__ import annotations

import dataclasses
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from tenderlib import datasets, params, seeding, synthetic, training
from tenderlib.data.skeleton import REGIONS
from tenderlib.models.losses import PartErrors, part_errors
from tenderlib.models.vae import PAVAE, VAEConfig, frame_mask
from tenderlib.models.windows import Windows

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class ReconstructionReport:
    """Reconstruction quality of a VAE on a dataset (z = mu, no sampling)."""

    errors: PartErrors  # per-part L2 errors (normalised units and pixels)
    confidence_mae: float  # mean |decoded - true| confidence over annotated keypoints (NaN without CAG)
    num_clips: int
    velocity_norm: float = float("nan")  # mean L2 error of frame-to-frame displacements, normalised units
    velocity_px: float = float("nan")  # the same in pixels (jitter the reconstruction adds or removes)

    def as_dict(self) -> dict[str, float]:
        """One table row: '<part>_norm', '<part>_px', 'all_norm', 'all_px', 'conf_mae'."""
        e = self.errors
        row = e.as_dict()
        total = max(int(e.count.sum()), 1)
        row["all_norm"] = float(e.sum_norm.sum() / total)
        row["all_px"] = float(e.sum_pixels.sum() / total)
        row["vel_norm"] = self.velocity_norm
        row["vel_px"] = self.velocity_px
        row["conf_mae"] = self.confidence_mae
        return row


@torch.no_grad()
def evaluate_reconstruction(model: PAVAE, dataset, batch_size: int = 32, num_parts: int = 4,
                            min_confidence: float = 0.0, device: str | torch.device | None = None
                            ) -> ReconstructionReport:
    """Reconstruct every clip of `dataset` (a MotionDataset, in order) and measure the error per part.

    num_parts: grouping of the report (4: body, foot, face, hand), independent of the model's.
    min_confidence: count keypoints whose true confidence exceeds this (0: all annotated ones).
    The velocity error counts keypoints counted in both frames t and t + 1.
    """
    from tenderlib.data.dataset import collate

    if len(dataset) == 0:
        raise ValueError("dataset is empty: nothing to evaluate")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, conf_sum, conf_n = None, 0.0, 0
    vel = torch.zeros(3, dtype=torch.float64)  # sum normalised, sum pixels, count
    try:
        for start in range(0, len(dataset), batch_size):
            batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]).to(device)
            pred = model(batch.features, batch.mask, sample=False).features  # (B, T, K, C_out)
            errs = part_errors(pred[..., :2], batch.features, batch.mask, batch.scale, num_parts, min_confidence)
            total = errs if total is None else total + errs
            vel += _velocity_error(pred[..., :2], batch, min_confidence).cpu()
            if model.cfg.cag:
                ok = batch.mask[:, :, None] & (batch.features[..., 2] > min_confidence)  # (B, T, K)
                conf_sum += float((pred[..., 2] - batch.features[..., 2]).abs()[ok].double().sum())
                conf_n += int(ok.sum())
    finally:
        model.train(was_training)
    conf_mae = conf_sum / conf_n if conf_n else float("nan")
    n = float(vel[2])
    return ReconstructionReport(total, conf_mae, len(dataset), float(vel[0] / n) if n else float("nan"),
                                float(vel[1] / n) if n else float("nan"))


@torch.no_grad()
def evaluate_movement(model: PAVAE, dataset, batch_size: int = 32, min_confidence: float | None = None,
                      ) -> dict[str, dict[str, float]]:
    """tenderlib.evaluation.movement.reconstruction_movement of the reconstructions (z = mu) of every clip of
    `dataset` (a MotionDataset, in order), counted where the truth's confidence > min_confidence
    (default: tenderlib.evaluation.movement.MIN_CONFIDENCE)."""
    from tenderlib.evaluation import movement
    from tenderlib.data.dataset import collate

    if len(dataset) == 0:
        raise ValueError("dataset is empty: nothing to evaluate")
    min_confidence = movement.MIN_CONFIDENCE if min_confidence is None else min_confidence
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    preds, truths = [], []
    try:
        for start in range(0, len(dataset), batch_size):
            batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
            pred = model(batch.features.to(device), batch.mask.to(device), sample=False).features.float().cpu()
            fps = dataset.store.index.fps[batch.indices.numpy()]
            clips = movement.clips_from_features(batch.features, batch.mask, fps, min_confidence)
            truths += clips
            preds += [movement.Clip(pred[b, :len(c.xy), :, :2], c.valid, c.fps) for b, c in enumerate(clips)]
    finally:
        model.train(was_training)
    return movement.reconstruction_movement(preds, truths)


def _velocity_error(pred_xy: torch.Tensor, batch, min_confidence: float) -> torch.Tensor:
    """(3,) float64: sums of |v_pred - v_true| in normalised units and pixels, and their count."""
    ok = batch.mask[:, :, None] & (batch.features[..., 2] > min_confidence)  # (B, T, K)
    both = (ok[:, 1:] & ok[:, :-1]).double()  # (B, T-1, K)
    v_pred = pred_xy[:, 1:].double() - pred_xy[:, :-1].double()  # (B, T-1, K, 2)
    v_true = batch.features[:, 1:, :, :2].double() - batch.features[:, :-1, :, :2].double()
    dist = (v_pred - v_true).norm(dim=-1) * both  # (B, T-1, K)
    return torch.stack([dist.sum(), (dist * batch.scale.double()[:, None, None]).sum(), both.sum()])


# --------------------------------------------------------------------------------------------
# Ablation variants (Tables 5/14, 12, 7/16)

OBJECTIVES = ("none", "velocity", "weighted", "cag", "velocity+weighted", "velocity+cag", "velocity+weighted+cag")
_PART_NAME = re.compile(r"PA-VAE-(\d+)-(\d+)(-part)?")
_LATENT_NAME = re.compile(r"(\d+)-(\d+)-(\d+)")


def ablation_config(base: VAEConfig, name: str, velocity_weight: float = 1.0) -> VAEConfig:
    """`base` changed as a paper ablation row names it:

    - "VAE" (the naive VAE) or "PA-VAE-<s>-<p>" (s spatial layers, p parts; "-part": part tokens),
      Tables 5 and 14;
    - "<l>-<n>-<d>": l temporal layers, an n x d latent, Table 12 ("Ours-l-n-d");
    - "none" or "+"-joined "velocity", "weighted", "cag" (OBJECTIVES), Tables 7 and 16: the
      velocity loss with `velocity_weight` (base's own weight when it has one), the
      confidence-weighted reconstruction loss, confidence-aware modelling.
    """
    if name == "VAE":
        return dataclasses.replace(base, num_parts=1)
    if m := _PART_NAME.fullmatch(name):
        return dataclasses.replace(base, spatial_layers=int(m[1]), num_parts=int(m[2]),
                                   spatial_tokens="part" if m[3] else "keypoint")
    if m := _LATENT_NAME.fullmatch(name):
        return dataclasses.replace(base, num_layers=int(m[1]), latent_tokens=int(m[2]), latent_dim=int(m[3]))
    if name in OBJECTIVES:
        flags = set(name.split("+"))
        return dataclasses.replace(base, cag="cag" in flags, conf_weighted="weighted" in flags,
                                   velocity_weight=(base.velocity_weight or velocity_weight) if "velocity" in flags
                                   else 0.0)
    raise ValueError(f"ablation name must be 'VAE', 'PA-VAE-<s>-<p>[-part]', '<l>-<n>-<d>' or one of "
                     f"{OBJECTIVES}, got {name!r}")


@dataclass(frozen=True)
class VAEExperimentConfig:
    """What notebook 02 does beyond training one VAE: data, ablation rows, evaluation."""

    subset: str = "D1"  # named selection trained and tested on: D1 | D2 | D3 (tenderlib.data.store)
    part_variants: tuple[str, ...] = ("VAE", "PA-VAE-1-4", "PA-VAE-2-4", "PA-VAE-2-3", "PA-VAE-2-2")  # Tables 5/14
    latent_variants: tuple[str, ...] = ()  # "<l>-<n>-<d>" rows of Table 12 (the skip rows are always added)
    objective_variants: tuple[str, ...] = OBJECTIVES  # rows of Tables 7/16
    ablation_velocity_weight: float = 1.0  # velocity-loss weight of the "velocity" rows
    ablation_steps: int = 0  # optimiser steps of every ablation run; 0 = the main run's max_steps
    eval_clips: int = 0  # test clips evaluated (the first ones); 0 = all
    min_confidence: float = 0.3  # "confident" keypoints: true confidence above this
    num_examples: int = 2  # test clips animated against their reconstruction
    torch_threads: int = 1  # CPU threads for torch (1: the same numbers on every machine); 0 = torch's default

    def __post_init__(self):
        if self.subset not in ("D1", "D2", "D3"):
            raise ValueError(f"subset must be one of ('D1', 'D2', 'D3'), got {self.subset!r}")
        for name in ("part_variants", "latent_variants", "objective_variants"):
            values = tuple(str(v) for v in getattr(self, name))
            object.__setattr__(self, name, values)
            for v in values:
                try:
                    ablation_config(VAEConfig(), v)
                except ValueError as err:
                    raise ValueError(f"{name}: {err}") from None
        for name in ("ablation_steps", "eval_clips", "torch_threads"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be an int >= 0, got {getattr(self, name)!r}")
        if not (isinstance(self.num_examples, int) and self.num_examples >= 1):
            raise ValueError(f"num_examples must be an int >= 1, got {self.num_examples!r}")
        if self.ablation_velocity_weight <= 0:
            raise ValueError(f"ablation_velocity_weight must be > 0, got {self.ablation_velocity_weight!r}")
        if self.min_confidence < 0:
            raise ValueError(f"min_confidence must be >= 0, got {self.min_confidence!r}")


# --------------------------------------------------------------------------------------------
# Load or train by config; latents and reconstructions of a dataset


def build(config: VAEConfig, seed: int = 0) -> PAVAE:
    """A freshly initialised PAVAE, its weights fixed by `seed`."""
    seeding.seed_everything(seed)
    return PAVAE(config)


def train_dataset(store, indices, config: VAEConfig, seed: int = 0):
    """The clips `indices` as the VAE trains on them: random crops of config.max_frames frames."""
    from tenderlib.data.dataset import MotionDataset

    return MotionDataset(store, indices, max_frames=config.max_frames, crop="random", caption="first",
                         generator_seed=seed)


def eval_dataset(store, indices, config: VAEConfig, max_frames: int | None = None):
    """The clips `indices` as the VAE is evaluated and encoded: centre crops of config.max_frames
    (or of `max_frames`: the longest motion over several windows, tenderlib.models.windows)."""
    from tenderlib.data.dataset import MotionDataset

    return MotionDataset(store, indices, max_frames=max_frames or config.max_frames, crop="center", caption="first")


def run_dir_for(config: VAEConfig, train_config, store, selection, profile: str) -> Path:
    """outputs/<profile>/checkpoints/vae-<hash of the model, training and data configs>/."""
    return training.data_run_dir(profile, "vae", config, train_config, store, selection)


def load_or_train(config: VAEConfig, train_config, store, selection, profile: str) -> training.ModelRun:
    """The VAE trained with these configs on `selection` of `store`: loaded from its run folder if a
    finished run is there (checked against the config: CheckpointMismatchError names the fields),
    else trained, resuming a killed run from its last checkpoint."""
    indices = store.select(selection)
    return training.run_by_config("vae", build(config, train_config.seed), config, train_config, profile,
                                  training.DataKey(store.identity, selection),
                                  lambda: train_dataset(store, indices, config, train_config.seed), len(indices),
                                  relaunch=(load_or_train, (config, train_config, store, selection, profile)))


class Latents(NamedTuple):
    """What encode_dataset returns (unpacks as `mu, lengths = ...`)."""

    mu: torch.Tensor  # (N, n, d) float32 on the CPU: the posterior means, the diffusion model's data
    lengths: torch.Tensor  # (N,) int64: frames of each clip as encoded (decode with frame_mask(lengths))


@torch.no_grad()
def encode_dataset(model: PAVAE, dataset, batch_size: int = 64, windows: Windows = Windows()) -> Latents:
    """Posterior means of every item of `dataset` (a MotionDataset, in order; see eval_dataset); with
    several windows, each clip is cut into them and their latents concatenated: (N, windows * n, d)."""
    from tenderlib.data.dataset import collate

    if len(dataset) == 0:
        raise ValueError("dataset is empty: nothing to encode")
    was_training, device = model.training, next(model.parameters()).device
    model.eval()
    mus, lengths = [], []
    try:
        for a in range(0, len(dataset), batch_size):
            batch = collate([dataset[k] for k in range(a, min(a + batch_size, len(dataset)))]).to(device)
            if windows.count == 1:
                mu = model.encode(batch.features, batch.mask)[0]  # (B, n, d)
            else:
                pieces, sizes = windows.cut(batch.features, batch.lengths, model.cfg.max_frames)  # (B*W, F, K, C)
                mu = model.encode(pieces, frame_mask(sizes, model.cfg.max_frames).to(device))[0]  # (B*W, n, d)
                mu = mu.reshape(batch.features.shape[0], -1, mu.shape[-1])  # (B, W*n, d)
            mus.append(mu.float().cpu())
            lengths.append(batch.lengths.cpu())
    finally:
        model.train(was_training)
    return Latents(torch.cat(mus), torch.cat(lengths))


LATENT_DIR = "latents"  # inside a VAE run folder: <store>-<hash of the selection>.safetensors


def training_latents(run: training.ModelRun, store, selection, windows: Windows = Windows()
                     ) -> tuple[np.ndarray, Latents]:
    """(clip indices, Latents) of the clips of `selection` (sorted, as store.select), encoded once
    per VAE run: the latents of the whole selection (its data_frac set to 1) are written to
    run_dir/latents/ the first time and read afterwards, and a data_frac subset takes its rows
    from them, so every denoiser trained on this VAE shares one encoding. windows: the clips
    centre-cropped to the windows' longest motion and cut into them (encode_dataset)."""
    from safetensors.torch import load_file, save_file

    from tenderlib import params

    full = dataclasses.replace(selection, data_frac=1.0)
    cut = "" if windows.count == 1 else f"-{params.config_hash(windows)}"
    path = Path(run.run_dir) / LATENT_DIR / f"{store.identity}-{params.config_hash(full)}{cut}.safetensors"
    if path.is_file():
        saved = load_file(path)
        indices, latents = saved["indices"].numpy(), Latents(saved["mu"], saved["lengths"])
    else:
        indices = store.select(full)
        if indices.size == 0:
            raise ValueError(f"selection {full} holds no clip")
        longest = windows.max_length(run.model.cfg.max_frames)
        latents = encode_dataset(run.model, eval_dataset(store, indices, run.model.cfg, longest), windows=windows)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")  # one per process: torchrun's ranks encode alike
        save_file({"indices": torch.from_numpy(np.ascontiguousarray(indices, dtype=np.int64)), "mu": latents.mu,
                   "lengths": latents.lengths}, tmp)
        tmp.replace(path)  # complete or absent, never half-written
    wanted = store.select(selection)
    keep = np.isin(indices, wanted)
    if int(keep.sum()) != wanted.size:
        raise ValueError(f"the cached latents {path} do not cover selection {selection}: delete the file")
    rows = torch.from_numpy(np.flatnonzero(keep))
    return indices[keep], Latents(latents.mu[rows], latents.lengths[rows])


@dataclass
class Reconstruction:
    """One clip and its reconstruction, in pixels of the source frame (for drawing)."""

    truth: np.ndarray  # (T, K, 2) pixels
    truth_confidence: np.ndarray  # (T, K)
    pred: np.ndarray  # (T, K, 2) pixels
    pred_confidence: np.ndarray  # (T, K): decoded (CAG), 0 on the regions the clip does not annotate; else the true
    caption: str
    index: int  # store index


def annotated_mask(confidence: np.ndarray) -> np.ndarray:
    """(B, T, K) confidence -> (B, K) 1.0 on the regions (tenderlib.data.skeleton.REGIONS) a clip
    annotates anywhere, 0.0 elsewhere: where its reconstruction may show keypoints (a face-only
    clip's decoded body is the decoder's guess, not the clip)."""
    out = np.zeros((confidence.shape[0], confidence.shape[-1]), dtype=confidence.dtype)
    for part in REGIONS.values():
        out[:, part] = (confidence[..., part] > 0).any(axis=(1, 2))[:, None]
    return out


@torch.no_grad()
def reconstruct(model: PAVAE, dataset, positions) -> list[Reconstruction]:
    """Reconstructions (z = mu) of the dataset items at `positions`."""
    from tenderlib.data.dataset import collate, to_pixels

    items = [dataset[int(k)] for k in positions]
    if not items:
        raise ValueError("positions is empty: nothing to reconstruct")
    device = next(model.parameters()).device
    batch = collate(items).to(device)
    was_training = model.training
    model.eval()
    try:
        pred = model(batch.features, batch.mask, sample=False).features.float()  # (B, T, K, C_out)
    finally:
        model.train(was_training)
    truth_px, pred_px = to_pixels(batch).cpu().numpy(), to_pixels(pred, batch.center, batch.scale).cpu().numpy()
    conf = batch.features[..., 2].cpu().numpy()  # (B, T, K)
    pred_conf = pred[..., 2].cpu().numpy() * annotated_mask(conf)[:, None] if model.cfg.cag else conf
    return [Reconstruction(truth_px[b, :n], conf[b, :n], pred_px[b, :n], pred_conf[b, :n], it.caption, it.index)
            for b, (it, n) in enumerate(zip(items, batch.lengths.tolist()))]


# --------------------------------------------------------------------------------------------
# Notebook 02's configs, for notebook 02 and for those that reuse its VAE


def configs(namespace, before: params.Snapshot):
    """Notebook 02's configs from its parameters (the names bound in `namespace` since `before`):
    (run, data, model, train, ablation train, study). Trainings log 8 times, without a bar."""
    run, store_cfg, synthetic_cfg, model_cfg, train_cfg, study = params.collect(
        namespace, before, params.RunConfig, datasets.StoreConfig, synthetic.SyntheticConfig, VAEConfig,
        training.TrainConfig, VAEExperimentConfig)
    data = datasets.choose(store_cfg, synthetic_cfg)
    train_cfg = dataclasses.replace(train_cfg, progress="off", log_every=max(1, train_cfg.max_steps // 8),
                                    checkpoint_every=min(train_cfg.checkpoint_every, train_cfg.max_steps))
    steps = study.ablation_steps or train_cfg.max_steps
    ablation_cfg = dataclasses.replace(train_cfg, max_steps=steps, checkpoint_every=min(train_cfg.checkpoint_every, steps))
    return run, data, model_cfg, train_cfg, ablation_cfg, study


def notebook_configs(profile: str):
    """What notebook 02 runs with under `profile` (its parameters cell, params/<profile>/02_vae.yaml)."""
    return configs(params.notebook_parameters("02_vae", profile), params.snapshot({}))
