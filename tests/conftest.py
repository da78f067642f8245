"""Shared pytest setup for the unit tests and `pytest --nbval` on the notebooks.

- nbval compares stored outputs after the substitutions in tests/nbval_sanitize.cfg (memory
  addresses, absolute paths); this file points nbval at it from wherever pytest is started.
- Images are never compared (png, jpeg and also gif), and a cell marked `# NBVAL_TOLERANCE x`
  compares its numbers within x (tests/nbval_tolerance.py): trained models print numbers whose
  last digits depend on the CPU's kernels and the thread count.
- Progress bars are switched off (TQDM_DISABLE) for the kernels nbval starts, so that stored
  outputs compare equal.
- Fixture `tender_root`: a temporary repository root (TENDER_ROOT), so tests that write
  outputs never touch the real outputs/ folder.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SANITIZE_FILE = Path(__file__).resolve().parent / "nbval_sanitize.cfg"

os.environ.setdefault("TQDM_DISABLE", "1")


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "nbval_sanitize_with", "absent") is None:  # nbval loaded, no file given
        config.option.nbval_sanitize_with = str(SANITIZE_FILE)
    if config.pluginmanager.hasplugin("nbval"):
        import nbval.plugin

        from nbval_tolerance import install

        install(nbval.plugin)


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
