"""Training on several processes: DDP under torchrun, launched from a notebook or run by hand.

    distributed.launch(vae_runs.load_or_train, (config, train_cfg, store, selection, profile), num_processes=4)
    distributed.is_rank()     # True inside a torchrun process (WORLD_SIZE is set)
    distributed.is_main()     # True outside torchrun and on its rank 0 (who publishes)

A run is named by its TrainConfig, `num_processes` included (N processes of batch_size clips train
one run, tenderlib.training). A notebook asks for its runs by config as always; when
`num_processes` > 1 and the run is not finished, the by-config call (`training.run_by_config`)
hands itself to `launch`, which starts

    python -m torch.distributed.run --standalone --nproc_per_node N -m tenderlib.distributed TASK

on this machine and waits: every process makes the same call, fn(*args), so every rank builds the
same model and data and `tenderlib.training.train` runs DDP (NCCL on GPUs, one GPU per process;
gloo on CPUs), rank 0 writing the checkpoints. The notebook's own call then finds the run finished
and loads it. Nothing else changes: the same seeds, the same run folders, resumable (a killed
launch resumes from the newest checkpoint on the next call).

Several machines: start the same task on each node by hand (README, "Several GPUs"); `tender
train` is the command line of one notebook's main run, so

    torchrun --nnodes 2 --nproc_per_node 4 --rdzv_backend c10d --rdzv_endpoint HOST:29500 \\
        -m tenderlib.cli train vae --profile paper -p num_processes=8

trains notebook 02's PA-VAE of the paper profile on 8 GPUs of two machines; the notebook, run
afterwards, loads it.

The task file is a pickle of (module, function name, args) written by `launch` into a private
temporary folder and read back by the processes it starts: our own objects (configs, a Store,
which pickles as its path), never data from elsewhere.
"""
from __future__ import annotations

import importlib
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

_TAIL = 4000  # characters of a failed launch's output quoted in the error


def is_rank() -> bool:
    """Whether this process is one of a torchrun group (torchrun sets WORLD_SIZE for each process)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def is_main() -> bool:
    """Whether this process writes what a run publishes: not a torchrun process, or its rank 0."""
    return os.environ.get("RANK", "0") == "0"


def launch(fn: Callable, args: tuple, num_processes: int, label: str = "run", timeout: float | None = None) -> None:
    """fn(*args) in each of `num_processes` torchrun processes on this machine; returns when all have
    ended, raises RuntimeError with the end of their output when one failed. fn must be a
    module-level function (importable by name) and args picklable."""
    if isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 1:
        raise ValueError(f"num_processes must be an int >= 1, got {num_processes!r}")
    if "<" in fn.__qualname__ or fn.__module__ == "__main__":
        raise ValueError(f"fn must be a module-level function importable by name, got {fn!r}")
    from tenderlib import progress

    with tempfile.TemporaryDirectory(prefix="tender-ddp-") as tmp:
        task = Path(tmp) / "task.pkl"
        task.write_bytes(pickle.dumps((fn.__module__, fn.__qualname__, args), protocol=pickle.HIGHEST_PROTOCOL))
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={num_processes}",
               "-m", "tenderlib.distributed", str(task)]
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")  # torchrun's own default, without its warning
        progress.report(f"{label}: training on {num_processes} processes (torchrun)")
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{label}: training on {num_processes} processes failed (torchrun exit "
                               f"{done.returncode}); the end of its output:\n{done.stdout[-_TAIL:]}")
        progress.report(f"{label}: {num_processes} processes done in {time.perf_counter() - t0:.0f} s")


def main(argv: list[str] | None = None) -> int:
    """What each torchrun process runs: the task file's fn(*args)."""
    import torch

    from tenderlib import seeding

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not is_rank():
        raise SystemExit("usage: torchrun --nproc_per_node N -m tenderlib.distributed TASK (written by "
                         "tenderlib.distributed.launch)")
    module, name, args = pickle.loads(Path(argv[0]).read_bytes())
    fn = importlib.import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    seeding.make_deterministic()
    logging.basicConfig(level=logging.WARNING, format=f"[rank {os.environ['RANK']}] %(levelname)s %(name)s: %(message)s")
    fn(*args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
