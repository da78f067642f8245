"""The one training loop of every model, and the run folders that make it "load or train".

    train(model, dataset, TrainConfig(...), run_dir, config=model_cfg) -> TrainResult
    load_or_train(model, train_cfg, folder, make_dataset, config=model_cfg) -> TrainResult
    data_run_dir(profile, "vae", model_cfg, train_cfg, store, selection) -> Path   # by config + data

- Seeded: the data order is a permutation drawn from (seed, epoch); the global torch RNG
  (dropout, the VAE's reparameterisation, diffusion noise) is re-seeded from (seed, rank, step)
  before every step, so a step's randomness does not depend on what ran before it.
- AdamW with a constant learning rate after an optional linear warm-up; optional gradient clipping.
- Checkpoints every `checkpoint_every` steps and at the end, in `run_dir/step_<8 digits>/`
  (tenderlib.checkpoints: written atomically, read without trust). `train` resumes from the newest
  one: training 2N steps in one go, or N steps, a kill and a restart, gives bit-identical weights
  (tests/test_training.py). A run whose newest checkpoint is at max_steps returns at once: `train`
  is also "load or train".
- Progress bar (tqdm) when interactive (a terminal or a Jupyter kernel), never when the
  environment variable TQDM_DISABLE is set; otherwise quiet, with a log line every `log_every` steps.
- Precision by the hardware (`autocast="auto"`, tenderlib.precision): bf16 autocast on GPUs and on
  CPUs whose native bf16 matmul is measured faster than fp32, fp32 elsewhere; "bf16" and "off" force it.
- AdamW's fused kernel (one pass over all parameters) on CPU and CUDA.
- DDP under torchrun when WORLD_SIZE > 1 (NCCL on GPUs, gloo on CPUs): `batch_size` per process,
  the epoch's permutation cut into global batches of batch_size x num_processes and sharded across
  ranks (N processes train as one process with N times the batch would, up to rounding:
  tests/test_distributed.py), checkpoints written by rank 0, resumed by every rank.
  `num_processes` names the run (its identity and resume check): `run_by_config` with
  num_processes > 1, called outside torchrun, launches the run on that many processes
  (tenderlib.distributed) and loads the result.

The model's objective: `loss_fn(model, batch)` (default `model.training_loss(batch)`) returns a
scalar tensor, or a dataclass whose field `loss` is minimised and whose other 0-dim tensor
fields are logged (e.g. tenderlib.models.vae.VAELosses).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import torch
from torch import nn

try:
    import fcntl  # run_lock
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

from tenderlib.checks import need
from tenderlib import distributed, params, precision, progress
from tenderlib.checkpoints import (CheckpointMismatchError, check_config, checkpoint_step, config_mismatch,
                                   latest_checkpoint, load_optimizer, load_weights, save_checkpoint)
from tenderlib.seeding import mix_seed
from tenderlib.paths import output_dir

log = logging.getLogger(__name__)

# TrainConfig fields that must match to resume a run (the others may change between restarts)
RESUME_FIELDS = ("seed", "batch_size", "lr", "weight_decay", "betas", "eps", "warmup_steps", "grad_clip", "autocast",
                 "num_processes", "lr_schedule")
LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """How to train (any model). Defaults: the paper's optimiser (appendix B.1, PA-VAE stage)."""

    seed: int = 0  # data order and per-step RNG
    max_steps: int = 1000  # optimiser steps in total (a resumed run continues up to here)
    batch_size: int = 32  # clips per step and per process (paper: 32 per GPU for the VAE)
    lr: float = 2e-4  # AdamW learning rate, constant after warm-up (paper: 2e-4)
    weight_decay: float = 0.0  # AdamW weight decay (paper: none)
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW betas
    eps: float = 1e-8  # AdamW epsilon
    warmup_steps: int = 0  # linear warm-up from 0 to lr over this many steps
    grad_clip: float = 0.0  # max global gradient norm; 0 = no clipping
    checkpoint_every: int = 500  # steps between checkpoints (one is always written at the end)
    keep_last: int = 2  # checkpoints kept in run_dir; 0 = all
    log_every: int = 50  # steps between loss records (history and log line)
    num_workers: int = 0  # DataLoader worker processes
    autocast: Literal["auto", "bf16", "off"] = "auto"  # auto = by the hardware (tenderlib.precision)
    device: str = "auto"  # 'auto' (CUDA if available), 'cpu', 'cuda', 'cuda:1', ...
    progress: Literal["auto", "on", "off"] = "auto"  # progress bar; auto = when interactive
    distributed: Literal["auto", "on", "off"] = "auto"  # DDP: auto = when WORLD_SIZE > 1
    num_processes: int = 1  # processes training the run together (DDP; batch_size each): part of the run's identity
    # after warm-up: constant (paper), or cosine to 0 at max_steps (the baselines settle at short budgets)
    lr_schedule: Literal["constant", "cosine"] = params.added_field("constant")

    def __post_init__(self):
        for name in ("max_steps", "batch_size", "checkpoint_every", "log_every", "num_processes"):
            need(self, isinstance(getattr(self, name), int) and getattr(self, name) >= 1, name, "an int >= 1")
        for name in ("seed", "warmup_steps", "keep_last", "num_workers"):
            need(self, isinstance(getattr(self, name), int) and getattr(self, name) >= 0, name, "an int >= 0")
        need(self, self.lr > 0, "lr", "> 0")
        need(self, self.weight_decay >= 0, "weight_decay", ">= 0")
        need(self, self.eps > 0, "eps", "> 0")
        need(self, self.grad_clip >= 0, "grad_clip", ">= 0 (0 = off)")
        need(self, len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas", "two numbers in [0, 1)")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        need(self, self.autocast in ("auto", "bf16", "off"), "autocast", "one of ('auto', 'bf16', 'off')")
        need(self, self.lr_schedule in LR_SCHEDULES, "lr_schedule", f"one of {LR_SCHEDULES}")
        need(self, self.progress in ("auto", "on", "off"), "progress", "one of ('auto', 'on', 'off')")
        need(self, self.distributed in ("auto", "on", "off"), "distributed", "one of ('auto', 'on', 'off')")
        need(self, self.device == "auto" or re.fullmatch(r"cpu|cuda(:\d+)?|mps", self.device) is not None, "device",
             "'auto', 'cpu', 'cuda', 'cuda:<n>' or 'mps'")

    def lr_at(self, step: int) -> float:
        """Learning rate of (0-based) step `step`."""
        if self.warmup_steps and step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.lr_schedule == "cosine":
            done = (step - self.warmup_steps) / max(1, self.max_steps - self.warmup_steps)
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))
        return self.lr


@dataclass
class TrainResult:
    """What `train` returns."""

    model: nn.Module  # the trained model (unwrapped, on the training device, in eval mode)
    step: int  # optimiser steps done in total
    history: list[dict[str, float]] = field(default_factory=list)  # {'step': s, 'loss': ..., <terms>} per log
    checkpoint: Path | None = None  # the newest checkpoint folder (None without run_dir)
    resumed_from: int = 0  # step of the checkpoint the run started from (0 = fresh)
    seconds: float = 0.0  # wall time of this call
    trained_now: bool = True  # False when load_or_train found a finished run and only loaded it


@dataclass
class ModelRun:
    """What the models' `load_or_train` return (vae_runs, molip, denoiser): a trained model by config."""

    model: nn.Module  # trained, in eval mode
    run_dir: Path  # outputs/<profile>/checkpoints/<name>-<hash of the configs and the data>/
    trained_now: bool  # False when loaded from an existing run with the same configs
    step: int
    seconds: float  # wall time of this call (training or loading)
    history: list = field(default_factory=list)  # loss terms every log_every steps
    train_clips: int = 0  # training items (clips or latents) the run saw


# --------------------------------------------------------------------------------------------
# Run folders


def run_dir(profile: str, name: str, *configs) -> Path:
    """outputs/<profile>/checkpoints/<name>-<hash of configs>: where the run of these configs lives."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"name must be made of [A-Za-z0-9_.-], got {name!r}")
    return output_dir(profile, "checkpoints") / f"{name}-{params.config_hash(*configs)}"


# --------------------------------------------------------------------------------------------
# Process setup: device, distributed, progress


@dataclass
class _Context:
    device: torch.device
    rank: int = 0
    world: int = 1
    owns_group: bool = False  # we initialised the process group (and destroy it at the end)


def _setup(cfg: TrainConfig) -> _Context:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world != cfg.num_processes and (world > 1 or cfg.num_processes > 1):
        raise ValueError(f"TrainConfig.num_processes={cfg.num_processes} but this process is one of WORLD_SIZE={world}: "
                         f"a run trains on the number of processes it is named by; launch it with "
                         f"torchrun --nproc_per_node {cfg.num_processes} (tenderlib.distributed), or set num_processes")
    use_ddp = cfg.distributed == "on" or (cfg.distributed == "auto" and world > 1)
    if cfg.device == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    else:
        kind = cfg.device
    if not use_ddp:
        return _Context(torch.device(kind))
    import torch.distributed as dist

    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise ValueError("TrainConfig.distributed='on' needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT "
                         "in the environment (run under torchrun)")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if kind.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device(kind)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    ctx = _Context(device, dist.get_rank(), dist.get_world_size(), owns)
    log.info("DDP: rank %d of %d on %s", ctx.rank, ctx.world, device)
    return ctx


def _barrier(ctx: _Context) -> None:
    if ctx.world > 1 or ctx.owns_group:
        torch.distributed.barrier()


def _interactive() -> bool:
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def _show_progress(cfg: TrainConfig, ctx: _Context) -> bool:
    if ctx.rank != 0 or os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    return cfg.progress == "on" or (cfg.progress == "auto" and _interactive())


# --------------------------------------------------------------------------------------------
# Data order


def steps_per_epoch(num_items: int, global_batch: int) -> int:
    return max(1, num_items // global_batch)


def batch_indices(num_items: int, step: int, cfg: TrainConfig, rank: int = 0, world: int = 1) -> list[int]:
    """Dataset positions of this process's batch at `step`: epoch permutation from (seed, epoch),
    cut into global batches of batch_size * world (incomplete tail dropped), sharded by rank."""
    gb = cfg.batch_size * world
    per_epoch = steps_per_epoch(num_items, gb)
    epoch, k = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(mix_seed(cfg.seed, epoch, 0x5EED))
    perm = torch.randperm(num_items, generator=g)
    return perm[k * gb:(k + 1) * gb][rank::world].tolist()


class _StepSampler(torch.utils.data.Sampler):
    """Batches of steps [start, stop) of one epoch, for a DataLoader's batch_sampler."""

    def __init__(self, num_items: int, start: int, stop: int, cfg: TrainConfig, rank: int, world: int):
        self.args = (num_items, cfg, rank, world)
        self.start, self.stop = start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __iter__(self):
        n, cfg, rank, world = self.args
        for step in range(self.start, self.stop):
            yield batch_indices(n, step, cfg, rank, world)


def _batches(dataset, collate_fn, cfg: TrainConfig, start: int, ctx: _Context):
    """Yield the batches of steps start .. max_steps - 1, one DataLoader per epoch (after set_epoch)."""
    n = len(dataset)
    per_epoch = steps_per_epoch(n, cfg.batch_size * ctx.world)
    step = start
    while step < cfg.max_steps:
        epoch = step // per_epoch
        stop = min((epoch + 1) * per_epoch, cfg.max_steps)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=_StepSampler(n, step, stop, cfg, ctx.rank, ctx.world), collate_fn=collate_fn,
            num_workers=cfg.num_workers, pin_memory=ctx.device.type == "cuda")
        yield from loader
        step = stop


def _to_device(batch, device: torch.device):
    if hasattr(batch, "to"):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    return batch


# --------------------------------------------------------------------------------------------
# The loop


class _Objective(nn.Module):
    """model + loss_fn as one module, so that DDP's forward sees the whole step."""

    def __init__(self, model: nn.Module, loss_fn: Callable):
        super().__init__()
        self.model, self.loss_fn = model, loss_fn

    def forward(self, batch):
        return self.loss_fn(self.model, batch)


def _terms(out) -> dict[str, torch.Tensor]:
    """{'loss': ..., other 0-dim tensor fields} of a loss function's output."""
    if isinstance(out, torch.Tensor):
        return {"loss": out}
    if not (dataclasses.is_dataclass(out) and hasattr(out, "loss")):
        raise TypeError("loss_fn must return a scalar tensor or a dataclass with a field `loss`, "
                        f"got {type(out).__name__}")
    return {f.name: v for f in dataclasses.fields(out)
            if isinstance(v := getattr(out, f.name), torch.Tensor) and v.ndim == 0}


def _default_loss(model: nn.Module, batch):
    return model.training_loss(batch)


def train(model: nn.Module, dataset, cfg: TrainConfig, run_dir: str | os.PathLike | None = None, *,
          config=None, loss_fn: Callable | None = None, collate_fn: Callable | None = None) -> TrainResult:
    """Train `model` on `dataset` for cfg.max_steps steps, resuming from run_dir's newest checkpoint.

    dataset: a map-style dataset (e.g. tenderlib.data.dataset.MotionDataset); collate_fn defaults to
        tenderlib.data.dataset.collate. config: the model's config, saved with every checkpoint and
        checked on resume. loss_fn(model, batch): default model.training_loss(batch).
    Seed the model's initial weights yourself (seed_everything) before building it.
    """
    if len(dataset) == 0:
        raise ValueError("dataset is empty: nothing to train on")
    if collate_fn is None:
        from tenderlib.data.dataset import collate as collate_fn
    loss_fn = loss_fn or _default_loss
    t0 = time.perf_counter()
    ctx = _setup(cfg)
    try:
        return _train(model, dataset, cfg, Path(run_dir) if run_dir is not None else None, config, loss_fn,
                      collate_fn, ctx, t0)
    finally:
        if ctx.owns_group:
            torch.distributed.destroy_process_group()


def _check_resume(checkpoint: Path, cfg: TrainConfig, config) -> None:
    if config is not None:
        check_config(checkpoint, config)
    path = checkpoint / "train_config.json"
    saved = json.loads(path.read_text()) if path.is_file() else {}
    wanted = json.loads(params.to_json(cfg))
    added = params.added_defaults(TrainConfig)
    diff = config_mismatch({k: saved.get(k, added.get(k)) for k in RESUME_FIELDS},  # added fields: their default
                           {k: wanted[k] for k in RESUME_FIELDS})
    if diff:
        raise CheckpointMismatchError(f"cannot resume from {checkpoint}: the TrainConfig differs in "
                                      + "; ".join(diff) + " (use another run_dir to start afresh)")


def _train(model, dataset, cfg, folder, config, loss_fn, collate_fn, ctx, t0) -> TrainResult:
    model.to(ctx.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
                                  weight_decay=cfg.weight_decay, fused=ctx.device.type in ("cpu", "cuda"))
    start, history, sums, count = 0, [], {}, 0
    last = latest_checkpoint(folder) if folder is not None else None
    if last is not None:
        _check_resume(last, cfg, config)
        load_weights(model, last)
        load_optimizer(optimizer, last)
        state = json.loads((last / "state.json").read_text())
        start, history = int(state["step"]), list(state.get("history", []))
        sums = {k: torch.tensor(v, dtype=torch.float64, device=ctx.device) for k, v in state.get("sums", {}).items()}
        count = int(state.get("count", 0))
        log.info("resuming from %s (step %d of %d)", last, start, cfg.max_steps)
        if start >= cfg.max_steps:
            if start > cfg.max_steps:
                log.warning("checkpoint %s is at step %d, beyond max_steps=%d", last, start, cfg.max_steps)
            model.eval()
            return TrainResult(model, start, history, last, start, time.perf_counter() - t0)
    objective = _Objective(model, loss_fn)
    if ctx.world > 1 or ctx.owns_group:
        objective = nn.parallel.DistributedDataParallel(
            objective, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    model.train()
    show = _show_progress(cfg, ctx)
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=cfg.max_steps, initial=start, desc="train", dynamic_ncols=True)
    checkpoint = last
    step = start
    t_loop = time.perf_counter()
    try:
        for batch in _batches(dataset, collate_fn, cfg, start, ctx):
            batch = _to_device(batch, ctx.device)
            torch.manual_seed(mix_seed(cfg.seed, ctx.rank, step))  # dropout, sampling: fixed by the step
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr_at(step)
            with precision.autocast(cfg.autocast, ctx.device):
                terms = _terms(objective(batch))
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0) + v.detach().double()
            count += 1
            step += 1
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                record = {"step": step, **{k: float(v) / count for k, v in sums.items()}}
                if not math.isfinite(record["loss"]):
                    raise FloatingPointError(f"training loss is not finite at step {step}: {record}")
                history.append(record)
                sums, count = {}, 0
                log.info("step %d/%d %s", step, cfg.max_steps,
                         " ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "step"))
                if ctx.rank == 0:
                    progress.report(f"train {folder.name if folder is not None else type(model).__name__}: "
                                    f"step {step}/{cfg.max_steps}, loss {record['loss']:.4g} "
                                    + progress.eta(step - start, cfg.max_steps - start, time.perf_counter() - t_loop))
                if bar is not None:
                    bar.set_postfix(loss=f"{record['loss']:.4g}")
            if bar is not None:
                bar.update(1)
            if folder is not None and (step % cfg.checkpoint_every == 0 or step == cfg.max_steps):
                if ctx.rank == 0:
                    state = {"history": history, "sums": {k: float(v) for k, v in sums.items()}, "count": count,
                             "world_size": ctx.world}
                    checkpoint = save_checkpoint(folder, model, step, config=config, optimizer=optimizer,
                                                 train_config=cfg, state=state, keep_last=cfg.keep_last)
                else:
                    checkpoint = folder / f"step_{step:08d}"
                _barrier(ctx)
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    return TrainResult(model, step, history, checkpoint, start, time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# Load or train by config (the notebooks ask for a model by its configs, never by a path)


DATA_FILE = "data.json"  # in a run folder: the data key it was trained on (store identity, selection)
LOCK_FILE = ".lock"  # in a run folder: held while one process loads or trains the run (run_lock)


@dataclass(frozen=True)
class DataKey:
    """Which data a run trained on: the store (its folder name holds its config hash) and the clips."""

    store: str  # the store's identity (Store.identity), e.g. synthetic-<config hash>-<code hash>
    selection: Any  # which clips of it (a tenderlib.data.selection.Selection)


def weight_identity(cfg: TrainConfig) -> TrainConfig:
    """The TrainConfig without the fields that do not change the weights (logging, device, bar)."""
    return dataclasses.replace(cfg, checkpoint_every=1, keep_last=1, log_every=1, num_workers=0, device="auto",
                               progress="auto", distributed="auto")


def data_run_dir(profile: str, name: str, config, train_config: TrainConfig, store, selection) -> Path:
    """outputs/<profile>/checkpoints/<name>-<hash of the model config, the weight-relevant TrainConfig
    and the data (store folder name + selection)>/: where the run of a model on a store lives."""
    key = DataKey(store.identity, selection)
    return run_dir(profile, name, config, weight_identity(train_config), key)


def finished(folder: str | os.PathLike, train_config: TrainConfig) -> bool:
    """Whether the run in `folder` has a checkpoint at train_config.max_steps (then it only loads)."""
    last = latest_checkpoint(Path(folder))
    return last is not None and checkpoint_step(last) >= train_config.max_steps


def load_or_train(model: nn.Module, train_config: TrainConfig, folder: str | os.PathLike,
                  make_dataset: Callable[[], Any], *, config=None, loss_fn: Callable | None = None,
                  collate_fn: Callable | None = None) -> TrainResult:
    """Load the finished run in `folder` into `model`, or train it (resuming a killed run).

    A run is finished when its newest checkpoint is at train_config.max_steps; its weights are
    loaded (checked against `config`) without building the dataset, and the result has
    trained_now=False. Otherwise `make_dataset()` builds the training set (it may be costly:
    only called when training) and `train` runs. `model` must be freshly built (seeded).
    """
    t0 = time.perf_counter()
    folder = Path(folder)
    last = latest_checkpoint(folder)
    if last is not None and checkpoint_step(last) >= train_config.max_steps:
        load_weights(model, last, config)
        model.eval()
        step = checkpoint_step(last)
        history = json.loads((last / "state.json").read_text()).get("history", [])
        log.info("loaded %s from %s", type(model).__name__, last)
        return TrainResult(model, step, history, last, step, time.perf_counter() - t0, trained_now=False)
    dataset = make_dataset()
    if len(dataset) < train_config.batch_size:
        raise ValueError(f"the training set holds {len(dataset)} clips, fewer than "
                         f"TrainConfig.batch_size={train_config.batch_size}")
    result = train(model, dataset, train_config, folder, config=config, loss_fn=loss_fn, collate_fn=collate_fn)
    result.seconds = time.perf_counter() - t0
    return result


def run_by_config(name: str, model: nn.Module, config, train_config: TrainConfig, profile: str, data_key,
                  make_dataset: Callable[[], Any], train_items: int, *, collate_fn: Callable | None = None,
                  loss_fn: Callable | None = None, relaunch: tuple[Callable, tuple] | None = None) -> ModelRun:
    """The one load-or-train by config of every model (VAE, MoLIP, denoiser): `model` (freshly built,
    seeded) in outputs/<profile>/checkpoints/<name>-<hash of config, the weight-relevant TrainConfig
    and data_key>/, loaded when that run finished, else trained there (resuming a killed run).
    data_key names the training data (a DataKey, or what a model's data is named by; written to the
    run folder as data.json); train_items: how many items it holds (reported in the result).
    relaunch = (fn, args): the by-config call itself, fn(*args), which torchrun's processes make
    when train_config.num_processes > 1 and this process is not one of them (tenderlib.distributed)."""
    folder = run_dir(profile, name, config, weight_identity(train_config), data_key)
    with run_lock(folder):
        if train_config.num_processes > 1 and not distributed.is_rank() and not finished(folder, train_config):
            if relaunch is None:
                raise ValueError(f"{name}: num_processes={train_config.num_processes} needs torchrun; this run cannot "
                                 f"be launched from here (run it under torchrun --nproc_per_node "
                                 f"{train_config.num_processes})")
            distributed.launch(*relaunch, num_processes=train_config.num_processes, label=folder.name)
        r = load_or_train(model, train_config, folder, make_dataset, config=config, loss_fn=loss_fn,
                          collate_fn=collate_fn)
        record = folder / DATA_FILE  # which data the run trained on, for a reader of the folder
        if not record.is_file():
            tmp = folder / f".tmp-{os.getpid()}-{DATA_FILE}"
            tmp.write_text(params.to_json(data_key))
            tmp.replace(record)
    return ModelRun(r.model, folder, r.trained_now, r.step, r.seconds, r.history, train_items)


@contextlib.contextmanager
def run_lock(folder: Path):
    """Hold `folder`'s run for this process while it is loaded or trained: two processes asking for
    one run at once (two notebooks, the test suite's parallel workers, the reproduce runner) train
    it once; the second waits, then loads the finished run. An exclusive lock (fcntl.flock) on the
    run folder's file .lock (the folder is made here, as training would make it), released by the
    system if the process dies. torchrun's processes of a run take none: the process that launched
    them holds it. No lock where fcntl is missing (Windows) or the lock file cannot be written (a
    read-only folder of finished runs, which can only be loaded)."""
    if fcntl is None or distributed.is_rank():
        yield
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK_FILE, "a")
    except OSError as e:  # a read-only folder of finished runs: nothing can be trained there, so nothing to hold
        log.debug("run %s not locked: %s", folder.name, e)
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
