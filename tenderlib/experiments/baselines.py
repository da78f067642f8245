"""The baselines of Table 2, trained by config on a store in 2D whole-body: MDM, MLD and T2M-GPT.

    stages = baselines.stages("mld", "default", max_frames=96, steps=2000)   # the configs of each stage
    fitted = baselines.fit("mld", stages, store, selection, profile)       # load or train -> Fitted
    fitted.pipe.generate(captions, lengths)                                # a MotionPipeline, as Tender's

Every method is made of stages, each a (model config, TrainConfig) trained by the one training loop
(tenderlib.training: seeded, resumable, safetensors checkpoints, several processes), filed by
config under outputs/<profile>/checkpoints/:

    mdm      mdm-<hash>       MDM on the motion features (tenderlib.models.mdm)
    mld      vae-<hash>       the naive VAE (one part, zero decoder queries: MLD's; a 1 x d latent at
                              the paper size, MLD's 7 x d variant below it: CPU_LATENT_TOKENS)
             mld-<hash>       a latent denoiser (epsilon-predicting at the paper size, x0 below it:
                              CPU_PREDICTION), time and text as tokens,
                              scaled-linear betas, DDIM 50, guidance 7.5 (tenderlib.models.denoiser)
    t2m-gpt  vqvae-<hash>     the 1D-conv VQ-VAE tokenizer (tenderlib.models.vqvae)
             t2m-gpt-<hash>   the GPT over its codes (tenderlib.models.t2m_gpt)

The last stage's folder holds pipeline.json (written by `fit` with publish=True), so `tender
generate --model mdm|mld|t2m-gpt` finds it. Sizes: "smoke" (seconds on a CPU), "default" (the
width of the default profile's Tender, on 96-frame crops), "paper" (each method's published size).
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tenderlib import checkpoints, distributed, training
from tenderlib.data.dataset import MotionDataset, collate
from tenderlib.experiments import generation, vae_runs
from tenderlib.models import mdm, t2m_gpt, vqvae
from tenderlib.models.denoiser import DenoiserConfig
from tenderlib.models.pipeline import LengthSampler
from tenderlib.models.vae import VAEConfig

BASELINES = ("mdm", "mld", "t2m-gpt")
SIZES = ("smoke", "default", "paper")
STAT_CLIPS = 1024  # MDM: training clips the feature mean and std are measured on
# MLD's denoiser below the paper size predicts x0, not MLD's epsilon: at CPU budgets an epsilon
# network is not yet precise enough for its DDIM chain (default size, the same latents: after 1,000
# steps of 32 its samples spread 5.1x as wide as the standardised latents, after 3,000 of 128 still
# 2.2x, and guidance 7.5 leaves them as they are; predicting x0, 1,000 steps of 32: 0.93x, and the
# caption moves them). The paper size keeps epsilon.
CPU_PREDICTION = "x0"
# MLD's VAE below the paper size has MLD's 7-token latent (its paper: 7 x 256 reconstructs better
# than its default 1 x 256, and generates worse), not one token: one token did not learn the clips
# at CPU budgets (default size, 1 x 128, 400-1,000 steps of 16, zero or latent queries, lr 3e-4 or
# 1e-3: body error 0.195-0.233 against 0.147 for each clip's mean pose held, 0.08-0.24 of the
# clips' within-clip spread kept); 7 x 128, 1,000 steps: 0.167, 0.61 of the spread, 0.52 of the
# half-second displacement. The paper size keeps 1 x 256.
CPU_LATENT_TOKENS = 7


@dataclass(frozen=True)
class Stage:
    """One trained model of a method: its config and how it is trained."""

    name: str  # run folder prefix (module docstring)
    config: Any
    train: training.TrainConfig


def stages(method: str, size: str, max_frames: int, steps: int, *, latent_steps: int | None = None,
           text_kind: str = "minilm", seed: int = 0, batch_size: int | None = None, autocast: str = "auto",
           num_processes: int = 1) -> tuple[Stage, ...]:
    """The stages of `method` at `size` on crops of `max_frames` frames: the stages that read motion
    (MDM, MLD's VAE, the VQ-VAE) trained `steps` steps, those that read latents or codes (MLD's
    denoiser, the GPT: a fraction of the cost of a step) `latent_steps` (None: `steps`); batch_size:
    per stage default when None."""
    if method not in BASELINES:
        raise ValueError(f"method must be one of {BASELINES}, got {method!r}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    small, paper = size == "smoke", size == "paper"

    def train(batch: int, lr: float, latent: bool = False) -> training.TrainConfig:
        n = latent_steps if latent and latent_steps is not None else steps
        return training.TrainConfig(seed=seed, max_steps=n, batch_size=batch_size or batch, lr=lr,
                                    warmup_steps=min(50, n // 10), checkpoint_every=min(500, n),
                                    log_every=max(1, n // 6), progress="off", autocast=autocast,
                                    num_processes=num_processes, lr_schedule="cosine")

    if method == "mdm":
        cfg = (mdm.MDMConfig.paper(max_frames=max_frames, text_rms=True) if paper else
               mdm.MDMConfig(dim=32 if small else 128, num_layers=2 if small else 4, num_heads=2 if small else 4,
                             ff_dim=64 if small else 256, max_frames=max_frames, text_kind=text_kind, text_rms=True))
        return (Stage("mdm", cfg, train(64 if paper else 16 if small else 32, 1e-4 if paper else 5e-4)),)
    if method == "mld":
        width = 256 if paper else (32 if small else 128)
        tokens = 1 if paper else CPU_LATENT_TOKENS
        vae_cfg = VAEConfig(num_parts=1, spatial_layers=1, latent_tokens=tokens, latent_dim=width,
                            num_layers=9 if paper else (2 if small else 5), num_heads=4 if paper else 2 if small else 4,
                            ff_dim=1024 if paper else 4 * width, dropout=0.1 if paper else 0.0, skip=True,
                            decoder_queries="zeros", max_frames=max_frames, cag=True)
        den_cfg = (DenoiserConfig.paper(latent_tokens=1, latent_dim=width, prediction="epsilon") if paper else
                   DenoiserConfig(latent_tokens=tokens, latent_dim=width, dim=width, num_layers=2 if small else 5,
                                  num_heads=2 if small else 4, ff_dim=4 * width, prediction=CPU_PREDICTION,
                                  text_kind=text_kind))
        return (Stage("vae", vae_cfg, train(32 if paper else 16, 1e-4 if paper else 3e-4)),
                Stage("mld", den_cfg, train(256 if paper else 32, 1e-4 if paper else 1e-3, latent=True)))
    stride_frames = max_frames // 4 * 4
    vq = (vqvae.VQVAEConfig.paper(max_frames=min(64, stride_frames)) if paper else
          vqvae.VQVAEConfig(width=32 if small else 128, code_dim=32,
                            codebook_size=64 if small else 512, depth=1 if small else 2,
                            max_frames=min(64, stride_frames)))
    gpt = (t2m_gpt.T2MGPTConfig.paper(codebook_size=vq.codebook_size, max_codes=stride_frames // 4, text_rms=True)
           if paper else
           t2m_gpt.T2MGPTConfig(codebook_size=vq.codebook_size, max_codes=stride_frames // 4,
                                dim=32 if small else 128, num_layers=2 if small else 4, num_heads=2 if small else 4,
                                ff_dim=64 if small else 512, text_kind=text_kind, text_rms=True))
    return (Stage("vqvae", vq, train(256 if paper else 32, 2e-4 if paper else 1e-3)),
            Stage("t2m-gpt", gpt, train(128 if paper else 32, 1e-4 if paper else 5e-4, latent=True)))


@dataclass
class Fitted:
    """A baseline loaded or trained: its pipeline and its runs (first stage first)."""

    pipe: Any  # tenderlib.models.pipeline.MotionPipeline
    runs: list  # tenderlib.training.ModelRun / generation.TenderRun per stage
    seconds: float

    @property
    def run_dir(self) -> Path:
        return Path(self.runs[-1].run_dir)

    @property
    def trained_now(self) -> bool:
        return any(r.trained_now for r in self.runs)

    @property
    def parameters(self) -> int:
        from tenderlib.models.layers import count_parameters

        return sum(count_parameters(m) for m in models_of(self.pipe))


def models_of(pipe) -> list:
    """The trained networks of a pipeline (for parameter counts)."""
    return [m for m in (getattr(pipe, n, None) for n in ("model", "vae", "denoiser", "vqvae", "gpt")) if m is not None]


def fit(method: str, method_stages: tuple[Stage, ...], store, selection, profile: str, *, text_encoder=None,
        publish: bool = True) -> Fitted:
    """Load or train every stage of `method` on `selection` of `store`; the pipeline of the result,
    its lengths and fps from the training clips, confidence only on the regions they annotate."""
    t0 = time.perf_counter()
    indices = store.select(selection)
    fps = float(np.median(store.index.fps[indices]))
    annotated = generation.annotated_regions(store, indices)
    if method == "mld":
        vae_stage, den_stage = method_stages
        vae_run = vae_runs.load_or_train(vae_stage.config, vae_stage.train, store, selection, profile)
        den = generation.fit_pipeline(vae_run, den_stage.config, den_stage.train, store, selection, profile,
                                      text_encoder=text_encoder, publish=publish, method="mld")
        return Fitted(den.pipe, [vae_run, den], time.perf_counter() - t0)
    if method == "mdm":
        (stage,) = method_stages
        run = load_or_train_mdm(stage.config, stage.train, store, selection, profile, text_encoder=text_encoder)
        lengths = LengthSampler.fit(store.index.length[indices], stage.config.max_frames)
        pipe = mdm.MDMPipeline(run.model, lengths, fps, annotated)
        runs, first_stage = [run], None
    else:
        vq_stage, gpt_stage = method_stages
        vq_run = load_or_train_vqvae(vq_stage.config, vq_stage.train, store, selection, profile)
        gpt_run = load_or_train_gpt(gpt_stage.config, gpt_stage.train, vq_run, store, selection, profile,
                                    text_encoder=text_encoder)
        stride = vq_stage.config.stride
        longest = gpt_stage.config.max_codes * stride
        lengths = LengthSampler.fit(np.minimum(store.index.length[indices], longest) // stride * stride, longest)
        pipe = t2m_gpt.T2MGPTPipeline(vq_run.model, gpt_run.model, lengths, fps, annotated)
        runs, first_stage = [vq_run, gpt_run], checkpoints.latest_checkpoint(vq_run.run_dir)
    if publish and distributed.is_main():
        pipe.save(runs[-1].run_dir, first_stage)
    return Fitted(pipe, runs, time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# The stages by config (tenderlib.training.run_by_config: load or train, resumable, torchrun)


def motion_dataset(store, indices, max_frames: int, seed: int):
    """Random crops of `max_frames` frames with a random caption per epoch (MDM, the VQ-VAE)."""
    return MotionDataset(store, indices, max_frames=max_frames, crop="random", caption="random", generator_seed=seed)


def load_or_train_mdm(config: mdm.MDMConfig, train_config, store, selection, profile: str, *,
                      text_encoder=None) -> training.ModelRun:
    """The MDM of these configs on `selection` of `store`, loaded from its run or trained there."""
    indices = store.select(selection)
    model = mdm.build(config, train_config.seed, text_encoder)

    def make_dataset():
        dataset = motion_dataset(store, indices, config.max_frames, train_config.seed)
        sample = MotionDataset(store, indices[:: max(1, len(indices) // STAT_CLIPS)], max_frames=config.max_frames,
                               crop="center", caption="first")
        batch = collate([sample[k] for k in range(len(sample))])
        model.set_data_stats(batch.features, batch.mask)
        model.text_encoder.encode(sorted({t for i in indices for t in store.texts(int(i))}))  # warm the cache
        return dataset

    return training.run_by_config("mdm", model, config, train_config, profile,
                                  training.DataKey(store.identity, selection), make_dataset, len(indices),
                                  relaunch=(load_or_train_mdm, (config, train_config, store, selection, profile)))


def load_or_train_vqvae(config: vqvae.VQVAEConfig, train_config, store, selection, profile: str) -> training.ModelRun:
    """The VQ-VAE of these configs on `selection` of `store` (crops padded to max_frames)."""
    indices = store.select(selection)
    return training.run_by_config(
        "vqvae", vqvae.build(config, train_config.seed), config, train_config, profile,
        training.DataKey(store.identity, selection),
        lambda: motion_dataset(store, indices, config.max_frames, train_config.seed), len(indices),
        collate_fn=functools.partial(collate, pad_to=config.max_frames),
        relaunch=(load_or_train_vqvae, (config, train_config, store, selection, profile)))


@torch.no_grad()
def training_codes(vq_run, store, indices, max_codes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes (N, max_codes) int64, code counts (N,)) of the clips' centre crops of max_codes x 4 frames."""
    model = vq_run.model.eval()
    stride = model.config.stride
    ds = MotionDataset(store, indices, max_frames=max_codes * stride, crop="center", caption="first")
    codes, counts = [], []
    for a in range(0, len(ds), 256):
        batch = collate([ds[k] for k in range(a, min(a + 256, len(ds)))], pad_to=max_codes * stride)
        codes.append(model.encode(batch.features, batch.mask).cpu())
        counts.append(batch.lengths // stride)
    return torch.cat(codes), torch.cat(counts)


@dataclass(frozen=True)
class CodeKey:
    """Which codes a GPT trained on (hashed into its run folder with the configs)."""

    vqvae_run: str  # the tokenizer's run folder name
    store: str  # the store's identity
    selection: Any


def load_or_train_gpt(config: t2m_gpt.T2MGPTConfig, train_config, vq_run, store, selection, profile: str, *,
                      text_encoder=None) -> training.ModelRun:
    """The GPT of these configs on the codes of `selection` under `vq_run`'s tokenizer."""
    indices = store.select(selection)
    key = CodeKey(Path(vq_run.run_dir).name, store.identity, selection)
    model = t2m_gpt.build(config, train_config.seed, text_encoder)

    def make_dataset():
        codes, counts = training_codes(vq_run, store, indices, config.max_codes)
        captions = [store.texts(int(i)) for i in indices]
        model.text_encoder.encode(sorted({t for texts in captions for t in texts}))  # warm the cache
        return generation.LatentDataset(codes, captions, counts, train_config.seed)

    return training.run_by_config("t2m-gpt", model, config, train_config, profile, key, make_dataset, len(indices),
                                  collate_fn=generation.collate_latents,
                                  relaunch=(load_or_train_gpt, (config, train_config, vq_run, store, selection,
                                                                profile)))


# --------------------------------------------------------------------------------------------
# Notebook 03's uses: Table 2 rows, speed, the paper's ranking


@dataclass(frozen=True)
class BaselineRun:
    """One baseline's row of Table 2, picklable for a worker process: the method and its stages,
    trained on table.selection and scored as `table` says (its denoiser fields are Tender's and
    name nothing here)."""

    method: str  # one of BASELINES
    stages: tuple  # stages(method, ...)
    table: Any  # tenderlib.experiments.generation.TableRun


def table_row(run: BaselineRun) -> dict:
    """Train (or load) every stage of the baseline and score it (`generation.scored_row`, cached in
    its last stage's run folder); the same row as generation.table_row gives Tender."""
    store, _, evaluator = generation.table_models(run.table)
    fitted = fit(run.method, run.stages, store, run.table.selection, run.table.profile,
                 text_encoder=evaluator.text_encoder)
    return generation.scored_row(run.table, fitted.run_dir, fitted.pipe, fitted.parameters,
                                 len(store.select(run.table.selection)))


def untrained(method: str, method_stages: tuple[Stage, ...], max_frames: int, text_encoder, fps: float = 30.0):
    """The pipeline of `method` with freshly initialised weights (what its size costs: parameters,
    time per motion); every motion `max_frames` long."""
    from tenderlib.models import denoiser
    from tenderlib.models.pipeline import Tender

    lengths = LengthSampler.fit([max_frames // 4 * 4], max_frames // 4 * 4)
    if method == "mdm":
        return mdm.MDMPipeline(mdm.build(method_stages[0].config, 0, text_encoder), lengths, fps)
    if method == "t2m-gpt":
        vq, gpt = (s.config for s in method_stages)
        return t2m_gpt.T2MGPTPipeline(vqvae.build(vq), t2m_gpt.build(gpt, 0, text_encoder), lengths, fps)
    vae_cfg, den_cfg = (s.config for s in method_stages)
    return Tender(vae_runs.build(vae_cfg, 0), denoiser.build(den_cfg, 0, text_encoder), lengths, fps, method=method)


def seconds_per_motion(pipe, captions: list[str], steps: int) -> float:
    """AITS as MLD reports it: wall seconds to generate one motion, batch 1, averaged over `captions`
    (each at the pipeline's longest length), after one untimed warm-up."""
    n = pipe.max_length
    pipe.generate(captions[:1], [n], generator=torch.Generator().manual_seed(0), steps=min(steps, 2))  # warm-up
    t0 = time.perf_counter()
    for k, caption in enumerate(captions):
        pipe.generate([caption], [n], generator=torch.Generator().manual_seed(k), steps=steps, batch_size=1)
    return (time.perf_counter() - t0) / len(captions)


PAPER_RANKING = ("Tender", "MLD", "MDM", "T2M-GPT")  # the paper's order on R-Precision and FID (Table 2)


def ranking_verdict(rows: dict[str, dict]) -> tuple[str, str]:
    """(verdict, explanation) of the paper's claim Tender > MLD > MDM > T2M-GPT on R@3 (higher is
    better) and FID (lower), from our rows {method: {'top3', 'top3_conf', 'fid', 'fid_conf'}}: "holds"
    when both orders are ours, "holds within the intervals" when every pair our numbers put the other
    way overlaps in its 95% intervals, else "does not hold" naming the pairs that are reversed."""
    present = [m for m in PAPER_RANKING if m in rows]
    reversed_pairs, overlapping = [], []
    for key, better in (("top3", max), ("fid", min)):
        for a, b in zip(present, present[1:]):  # the paper says a beats b
            va, vb = rows[a][key], rows[b][key]
            if better(va, vb) == va and va != vb:
                continue
            gap = abs(va - vb)
            bucket = overlapping if gap <= rows[a][f"{key}_conf"] + rows[b][f"{key}_conf"] else reversed_pairs
            bucket.append(f"{key}: {a} {va:.3f} vs {b} {vb:.3f}")
    order = lambda key, better: " > ".join(sorted(present, key=lambda m: rows[m][key], reverse=better is max))  # noqa: E731
    ours = f"ours by R@3: {order('top3', max)}; by FID: {order('fid', min)}"
    if reversed_pairs:
        return "does not hold", f"{ours}; reversed beyond the intervals: {'; '.join(reversed_pairs)}"
    if overlapping:
        return "holds within the intervals", f"{ours}; reversed but within the 95% intervals: {'; '.join(overlapping)}"
    return "holds", ours
