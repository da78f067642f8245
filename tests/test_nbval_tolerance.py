"""The notebook check tolerates what the hardware moves and nothing else (tests/nbval_tolerance.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nbval_tolerance import agree, cell_tolerance, reconcile

HERE = Path(__file__).resolve().parent


def test_directive_is_read_and_checked():
    assert cell_tolerance("x = 1\nprint(x)") is None
    assert cell_tolerance("# NBVAL_TOLERANCE 0.02\nprint(1)") == 0.02
    assert cell_tolerance("#NBVAL_TOLERANCE   0.5  \n") == 0.5
    assert cell_tolerance("# NBVAL_TOLERANCE 0.03  (trained numbers)\nx = 1") == 0.03
    for bad in ("# NBVAL_TOLERANCE abc", "# NBVAL_TOLERANCE 0", "# NBVAL_TOLERANCE 2",
                "# NBVAL_TOLERANCE 0.1\n# NBVAL_TOLERANCE 0.2"):
        with pytest.raises(ValueError, match="NBVAL_TOLERANCE"):
            cell_tolerance(bad)


@pytest.mark.parametrize("stored, fresh", [
    ("R@3 0.652, FID 0.441", "R@3 0.655, FID 0.439"),          # absolute below 1
    ("46.031 px", "46.032 px"),                                 # relative above 1
    ("  top1   fid\n0  0.31  0.44", "  top1   fid\n0  0.312 0.44"),  # a column one digit wider
    ("loss 1.2e-03", "loss 1.25e-03"),
    ("-0.500", "-0.495"),
])
def test_hardware_noise_agrees(stored, fresh):
    assert agree(stored, fresh, 0.01)


@pytest.mark.parametrize("stored, fresh, why", [
    ("R@3 0.652", "R@3 0.700", "a metric moved by more than the tolerance"),
    ("46.031 px", "47.000 px", "1 px is 2% of 46"),
    ("0.31\n0.44\n", "0.31\n", "a row lost"),
    ("37 clips", "38 clips", "integers are exact"),
    ("R@3 0.652", "R@2 0.652", "text differs (a digit inside a word is text)"),
    ("Tender 0.5", "Tender 0.5 0.1", "an extra column"),
    ("ok 0.5", "not ok 0.5", "a word"),
])
def test_real_changes_still_fail(stored, fresh, why):
    assert not agree(stored, fresh, 0.01), why


def test_reconcile_replaces_only_what_agrees():
    stored = [nbformat.v4.new_output("stream", name="stdout", text="R@1 0.500\n"),
              nbformat.v4.new_output("execute_result", data={"text/plain": "a 0.10", "text/html": "<td>0.10</td>"},
                                     execution_count=1)]
    fresh = [nbformat.v4.new_output("stream", name="stdout", text="R@1 0.503\n"),
             nbformat.v4.new_output("execute_result", data={"text/plain": "a 0.30", "text/html": "<td>0.101</td>"},
                                    execution_count=1)]
    out = reconcile(fresh, stored, 0.01)
    assert out[0]["text"] == "R@1 0.500\n"
    assert out[1]["data"]["text/plain"] == "a 0.30"  # too far: left for nbval to report
    assert out[1]["data"]["text/html"] == "<td>0.10</td>"
    assert fresh[0]["text"] == "R@1 0.503\n", "the fresh outputs themselves are not modified"


def _notebook(path: Path, stored_value: str, source: str) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"value {stored_value}\n")]
    gif = nbformat.v4.new_code_cell("from IPython.display import Image, display\n"
                                    "import base64\n"
                                    "display(Image(data=base64.b64decode('R0lGODlhAQABAAAAACw='), format='gif'))",
                                    execution_count=2)
    gif.outputs = [nbformat.v4.new_output("display_data", data={"image/gif": "R0lGODlhAgACAAAAACw=",
                                                                "text/plain": "<IPython.core.display.Image object>"})]
    nb.cells = [cell, gif]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.mark.slow
@pytest.mark.parametrize("stored, directive, passes", [
    ("0.500", "# NBVAL_TOLERANCE 0.01\n", True),     # 0.503 within 0.01
    ("0.500", "", False),                            # no directive: verbatim
    ("0.600", "# NBVAL_TOLERANCE 0.01\n", False),    # 0.503 is 0.097 away
])
def test_nbval_honours_the_directive_and_skips_gif(tmp_path, stored, directive, passes):
    _notebook(tmp_path / "t.ipynb", stored, directive + "print('value 0.503')")
    (tmp_path / "conftest.py").write_text("import nbval.plugin\nfrom nbval_tolerance import install\n"
                                          "install(nbval.plugin)\n")
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-q", "-p", "no:cacheprovider", "t.ipynb"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert (proc.returncode == 0) == passes, proc.stdout[-3000:]
    if passes:
        assert "2 passed" in proc.stdout  # the gif cell too, although its bytes differ
