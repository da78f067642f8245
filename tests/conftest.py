"""Shared pytest setup for the unit tests and `pytest --nbval` on the notebooks.

- The tests mirror the wings of tenderlib: tests/data, tests/readers, tests/synthetic, tests/models,
  tests/evaluation, tests/experiments; the top-level modules' tests (training, params, cli, ...)
  are in tests/ itself.
- How nbval compares the notebooks (sanitizing, images skipped, NBVAL_TOLERANCE) is set up by the
  conftest.py at the repository root, so that it holds for a notebook run alone too.
- Under pytest-xdist (`make test`: one worker per core), each worker's torch threads are its share
  of the cores.
- Progress bars are switched off (TQDM_DISABLE) for the kernels nbval starts, so that stored
  outputs compare equal.
- Fixture `tender_root`: a temporary repository root (TENDER_ROOT), so tests that write
  outputs never touch the real outputs/ folder.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

# `make test` runs the suite on one pytest-xdist worker per core. Each worker gets its share of the
# cores for torch (and, through OMP_NUM_THREADS, for the processes and kernels it starts): torch's
# threads spin while they wait, so two workers of two threads each on two cores ran the training
# tests several times slower than one thread each.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    from tenderlib.parallel import default_jobs

    _threads = max(1, default_jobs() // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(_threads))
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

# The tests mirror tenderlib's wings (tests/data, tests/readers, ...). Their file names are unique,
# and every folder is on sys.path before collection, so that a test may use another's helpers
# (`from test_training import motion`, `from test_readers_bvh import humanoid_bvh`) whatever order
# pytest collects them in.
_HERE = Path(__file__).resolve().parent
for _wing in ("data", "readers", "synthetic", "models", "evaluation", "experiments", ""):
    if str(_HERE / _wing) not in sys.path:
        sys.path.insert(0, str(_HERE / _wing))


@pytest.fixture
def tender_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty temporary repository root: tenderlib.paths.repo_root() returns it."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setenv("TENDER_ROOT", str(root))
    return root


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module's tests (`pytestmark = pytest.mark.usefixtures("one_torch_thread")`):
    tiny models run several times faster than with two on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
