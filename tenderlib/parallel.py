"""Independent runs side by side: one process per job, each on one CPU thread.

    rows = parallel.map_runs(fn, tasks, jobs=2)   # [fn(task) for task in tasks], in task order
    parallel.train_ahead([ModelSpec(vae_runs.load_or_train, cfg, train_cfg, data, sel, profile), ...], jobs=2)
        # trains the runs a notebook loop is about to load (jobs=1: nothing, the loop trains them)

A notebook's table is made of runs that do not depend on each other (a denoiser per data share, a
MoLIP per scaling point, a VAE per ablation row). Each run is a pure function of its configs: it
seeds itself, trains single-threaded (or loads what a finished run left in outputs/), and
returns a small picklable result. So running them in `jobs` worker processes gives exactly the
numbers of running them one after another in the notebook's own process (tests/test_parallel.py).

- `fn` must be importable by name (a module-level function of tenderlib) and `tasks` picklable
  (configs, selections, paths): workers are started with the "spawn" method and import tenderlib
  afresh; the environment (TENDER_ROOT, TENDER_PROGRESS) is inherited.
- jobs=1 runs the tasks in this process, one after another, without starting anything.
- Each worker sets one torch thread and the notebooks' deterministic kernels
  (seeding.make_deterministic), whatever the parent had.
- A failing task raises its exception in the parent once the other tasks have ended;
  the runs that finished have left their checkpoints, so a re-run loads them.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from tenderlib import progress, seeding

log = logging.getLogger(__name__)


def default_jobs() -> int:
    """The CPUs this process may use (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def check_jobs(jobs) -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1 (processes running side by side), got {jobs!r}")
    return jobs


def _init_worker() -> None:
    import torch


    torch.set_num_threads(1)
    seeding.make_deterministic()
    logging.getLogger("tenderlib").setLevel(logging.ERROR)


def _call(fn: Callable, task: Any, label: str) -> Any:
    t0 = time.perf_counter()
    progress.report(f"{label}: started")
    result = fn(task)
    progress.report(f"{label}: done in {time.perf_counter() - t0:.0f} s")
    return result


def map_runs(fn: Callable[[Any], Any], tasks: Sequence[Any], jobs: int = 1, name: str = "run") -> list:
    """[fn(task) for task in tasks] with up to `jobs` processes at once (module docstring)."""
    check_jobs(jobs)
    _check_importable(fn, "fn")
    tasks = list(tasks)
    labels = [f"{name} {k + 1}/{len(tasks)}" for k in range(len(tasks))]
    if jobs == 1 or len(tasks) <= 1:
        return [_call(fn, task, label) for task, label in zip(tasks, labels)]
    workers = min(jobs, len(tasks))
    log.info("%d %ss on %d processes", len(tasks), name, workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
        futures = [pool.submit(_call, fn, task, label) for task, label in zip(tasks, labels)]
        return [f.result() for f in futures]


def call(task: tuple[Callable[[Any], Any], Any]) -> Any:
    """(fn, arg) -> fn(arg): `map_runs(call, [(f, a), (g, b)], jobs)` runs different module-level
    functions side by side."""
    fn, arg = task
    return fn(arg)


@dataclass(frozen=True)
class ModelSpec:
    """A model run by config: `train(config, train_config, store, selection, profile)`, the store
    being that of `data` (tenderlib.datasets: a SyntheticConfig or an ImportedStore); `train` is a
    module-level load-or-train function (vae_runs.load_or_train, molip_runs.load_or_train_molip)."""

    train: Callable
    config: Any
    train_config: Any
    data: Any
    selection: Any
    profile: str

    def __post_init__(self):
        _check_importable(self.train, "ModelSpec.train")


def _check_importable(fn: Any, what: str) -> None:
    """Worker processes import functions by name: a lambda, a local or a __main__ function cannot be sent."""
    if not callable(fn) or getattr(fn, "__module__", "__main__") == "__main__" or "<" in fn.__qualname__:
        raise ValueError(f"{what} must be a module-level function importable by name, got {fn!r}")


def ensure_trained(spec: ModelSpec) -> str:
    """Train the run of `spec` unless it is finished (then it only loads); its run folder."""
    from tenderlib import datasets

    run = spec.train(spec.config, spec.train_config, datasets.open_store(spec.data), spec.selection, spec.profile)
    return str(run.run_dir)


def train_ahead(specs: Sequence[ModelSpec], jobs: int) -> None:
    """Train the runs of `specs`, `jobs` at a time, so that the notebook's own loop, which follows,
    loads them. With jobs=1 this does nothing: the loop trains them one after another itself, with
    the same numbers."""
    from tenderlib import datasets

    check_jobs(jobs)
    specs = list(dict.fromkeys(specs))  # a run asked twice is trained once
    if jobs > 1 and specs:
        for data in dict.fromkeys(s.data for s in specs):
            datasets.open_store(data)  # built here once, never by two workers at the same time
        map_runs(ensure_trained, specs, jobs, name=f"{specs[0].train.__module__.rsplit('.', 1)[-1]} run")
