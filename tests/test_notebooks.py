"""The committed notebooks: structure, and papermill runs that must stop on bad parameters.

(`pytest --nbval` re-executes the notebooks themselves and compares their stored outputs.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

from tenderlib import notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
NB01 = ROOT / "notebooks" / "01_data_exploration.ipynb"
NB02 = ROOT / "notebooks" / "02_vae.ipynb"
NB03 = ROOT / "notebooks" / "03_diffusion.ipynb"
NB05 = ROOT / "notebooks" / "05_ablations.ipynb"
NB06 = ROOT / "notebooks" / "06_downstream.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert any(c.outputs for c in code), "committed without outputs: nbval would compare nothing"
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in code)
    # the cell after the parameters turns them into configs (params.collect, or the library's
    # configs(globals(), _before) of that notebook, which calls it)
    after = code[code.index(tagged[0]) + 1]
    assert "params.collect(" in after.source or ".configs(globals(), _before)" in after.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_profile_files_name_only_known_parameters(path):
    """Every params/<profile>/<notebook>.yaml sets only names of the notebook's parameters cell."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    known = {line.split("=")[0].strip() for line in cell.source.splitlines() if "=" in line and not line.startswith("#")}
    for f in sorted((ROOT / "params").glob(f"*/{path.stem}.yaml")):
        names = set(yaml.safe_load(f.read_text()))
        assert names <= known, f"{f.relative_to(ROOT)}: unknown {sorted(names - known)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_papermill_infers_every_parameter(path):
    """`papermill --help-notebook` lists the whole parameters cell (a comment holding '=' once hid
    the names from papermill's parser, which then warned 'unknown parameter' on every run)."""
    import ast

    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    names = {t.id for node in ast.parse(cell.source).body for t in node.targets}
    assert set(papermill.inspect_notebook(str(path))) == names


BAD_PARAMETERS = [
    (NB01, {"data_frac": 1.5}, "data_frac"),
    (NB01, {"data_frac": 1e-9}, "data_frac 1e-09 left none"),     # a valid share that selects no clip
    (NB01, {"num_clips": -5}, "num_clips"),
    (NB01, {"example_action": "moonwalk"}, "example_action"),
    (NB01, {"sources": ["syn-youtube"]}, "syn-k400"),               # the error lists the allowed sources
    (NB02, {"num_part": 4}, "num_part"),                              # a typo: papermill alone would only warn
    (NB02, {"num_parts": 5}, "num_parts"),
    (NB02, {"part_variants": ["PA-VAE-2-4", "PA-VAE-9"]}, "PA-VAE-9"),  # the error names the bad row
    (NB03, {"conditioning": "film"}, "conditioning"),              # Table 13's variants are listed in the error
    (NB03, {"data_frac": 1.5}, "data_frac"),
    (NB03, {"guidance_scale": -1.0}, "guidance_scale"),
    (NB03, {"max_step": 10}, "max_step"),                           # a typo: papermill alone would only warn
    (NB03, {"latent_dim": 64}, "latent_dim: notebook 03 takes the latent shape from notebook 02"),  # never dropped
    (NB05, {"ablation_table": ["5"]}, "ablation_table"),           # a typo: papermill alone would only warn
    (NB05, {"part_variants": ["PA-VAE-9"]}, "PA-VAE-9"),
    (NB05, {"test_clips": 10}, "test_clips"),
    (NB06, {"kind": "mlp"}, "kind: notebook 06 trains both lifters"),
    (NB06, {"pose_width": 255}, "pose_width must be an even int"),
]


@pytest.fixture(scope="module")
def bad_parameter_errors(tmp_path_factory) -> list:
    """The first error of each BAD_PARAMETERS case, every case run in one process by
    tests/notebook_cells.py (its cells in an IPython shell, as a kernel runs them)."""
    cases = tmp_path_factory.mktemp("cases") / "cases.json"
    cases.write_text(json.dumps([[str(path), parameters] for path, parameters, _ in BAD_PARAMETERS]))
    env = {**os.environ, "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "notebook_cells.py"), str(cases)], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", range(len(BAD_PARAMETERS)),
                         ids=[f"{path.stem}-{'-'.join(parameters)}" for path, parameters, _ in BAD_PARAMETERS])
def test_notebook_stops_on_bad_parameters(bad_parameter_errors, case):
    path, parameters, message = BAD_PARAMETERS[case]
    error = bad_parameter_errors[case]
    assert error is not None, f"{path.name} ran to its end with {parameters}"
    assert message in error


def test_papermill_run_stops_on_a_misspelt_parameter(tmp_path):
    """The same through papermill and a Jupyter kernel, as `make reproduce` runs a notebook: a typo,
    which papermill alone would only warn about."""
    with pytest.raises(papermill.PapermillExecutionError) as err:
        notebooks.execute_notebook(NB01, tmp_path / "out.ipynb", parameters={"num_clip": 10}, timeout=120)
    assert "num_clip" in str(err.value)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_nbval_markers_are_ones_nbval_reads(path):
    """nbval reads a marker only when the comment is the marker alone (`# NBVAL_IGNORE_OUTPUT`): with
    words after it the cell's output would be compared after all, and fail on another machine."""
    for cell in nbformat.read(path, as_version=4).cells:
        for line in cell.source.splitlines():
            words = line.strip().lstrip("#").split()
            if line.strip().startswith("#") and words and words[0].startswith("NBVAL_") and words[0] != "NBVAL_TOLERANCE":
                assert len(words) == 1, f"{path.name}: {line.strip()!r} is not read by nbval (put the words on their own line)"
