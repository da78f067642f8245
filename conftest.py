"""How `pytest --nbval` compares the committed notebooks, from the repository root, whatever is collected
(the whole suite or one notebook alone):

- stored and fresh outputs go through the substitutions in tests/nbval_sanitize.cfg (memory
  addresses, absolute paths) unless another file is given;
- images are never compared (png, jpeg and gif), and a cell marked `# NBVAL_TOLERANCE x` compares
  its numbers within x (tests/nbval_tolerance.py): trained models print numbers whose last
  digits depend on the CPU's kernels and the thread count.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent / "tests"
SANITIZE_FILE = TESTS / "nbval_sanitize.cfg"


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "nbval_sanitize_with", "absent") is None:  # nbval loaded, no file given
        config.option.nbval_sanitize_with = str(SANITIZE_FILE)
    if config.pluginmanager.hasplugin("nbval"):
        import nbval.plugin

        if str(TESTS) not in sys.path:
            sys.path.insert(0, str(TESTS))
        from nbval_tolerance import install

        install(nbval.plugin)
