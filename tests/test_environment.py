"""The environment and repository plumbing: pins, kernel, pytest collection, Makefile, paths."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from tenderlib import paths

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([A-Za-z0-9.+!-]+)$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: list[str], where: str) -> dict[str, str]:
    pins = {}
    for req in requirements:
        m = PIN.match(req.strip())
        assert m, f"{where}: {req!r} is not pinned as name==version"
        name = _normalise(m.group(1))
        assert name not in pins, f"{where}: {name} listed twice"
        pins[name] = m.group(3)
    return pins


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pyproject_pins() -> dict[str, str]:
    project = _pyproject()["project"]
    return _pins(project["dependencies"] + project["optional-dependencies"]["dev"], "pyproject.toml")


def _environment_yml() -> tuple[list, list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert len(pip) == 1 and list(pip[0]) == ["pip"], "environment.yml needs exactly one `pip:` section"
    return conda, pip[0]["pip"]


# --- pins -----------------------------------------------------------------------------------


def test_every_dependency_is_pinned_exactly():
    pins = _pyproject_pins()  # asserts name==version for each
    assert {"numpy", "torch", "pytest", "nbval", "papermill", "ipykernel"} <= set(pins)


def test_torch_is_pinned_to_an_exact_release():
    torch = _pyproject_pins()["torch"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", torch), f"torch must be pinned to an exact X.Y.Z release, got {torch!r}"


def test_environment_yml_matches_pyproject():
    conda, pip = _environment_yml()
    assert "python=3.11" in conda and "pip" in conda
    assert "-e ." in pip, "environment.yml must install the project itself (`-e .`)"
    yml_pins = _pins([r for r in pip if r != "-e ."], "environment.yml")
    py_pins = _pyproject_pins()
    only_py = {k: v for k, v in py_pins.items() if yml_pins.get(k) != v}
    only_yml = {k: v for k, v in yml_pins.items() if py_pins.get(k) != v}
    assert not only_py and not only_yml, f"pyproject only: {only_py}; environment.yml only: {only_yml}"


def test_installed_versions_match_the_pins():
    """The running environment is the pinned one (run `make env` after editing pyproject.toml)."""
    wrong = {}
    for name, version in _pyproject_pins().items():
        installed = metadata.version(name).split("+")[0]  # torch 2.13.0+cpu
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"pinned vs installed: {wrong}"


def test_requires_python_311():
    assert _pyproject()["project"]["requires-python"] == ">=3.11,<3.12"
    assert sys.version_info[:2] == (3, 11)


# --- kernel, package import -----------------------------------------------------------------


def test_python3_kernel_runs_this_interpreter():
    """nbval and papermill start kernelspec `python3`: it must be the venv's python."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    exe = spec.argv[0]
    # jupyter_client replaces a bare "python" by the interpreter that starts the kernel
    assert exe in {"python", "python3", sys.executable} or Path(exe).resolve() == Path(sys.executable).resolve(), spec.argv
    assert spec.argv[1:3] == ["-m", "ipykernel_launcher"]


def test_import_tenderlib_is_light():
    code = (
        "import sys, time; t = time.perf_counter(); import tenderlib, tenderlib.paths, tenderlib.params; "
        "print(time.perf_counter() - t); print(sorted(m for m in ('torch', 'pandas', 'matplotlib', 'papermill') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[1] == "[]", f"importing tenderlib pulled in {out[1]}"
    assert float(out[0]) < 1.0


def test_version_is_single_sourced():
    import tenderlib

    assert "version" in _pyproject()["project"]["dynamic"]
    assert metadata.version("tenderlib") == tenderlib.__version__


# --- pytest collection ----------------------------------------------------------------------


def _nb(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cell = {"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {}, "outputs": [], "source": "1"}
    nb = {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


def test_pytest_collects_tests_and_notebooks_only(tmp_path):
    """Bare `pytest --nbval` with our pytest config: tests/ and notebooks/*.ipynb, never outputs/,
    .venv, .ipynb_checkpoints or the benchmark scripts."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    test_body = "def test_ok():\n    pass\n"
    for rel in ["tests/test_a.py", "tests/benchmarks/bench_b.py", "tests/benchmarks/test_c.py", ".venv/lib/test_d.py",
                "outputs/default/test_e.py"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(test_body)
    for rel in ["notebooks/01_x.ipynb", "outputs/default/notebooks/01_x.ipynb", ".venv/share/y.ipynb",
                "notebooks/.ipynb_checkpoints/01_x-checkpoint.ipynb"]:
        _nb(tmp_path / rel)
    res = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "--collect-only", "-q", "-p", "no:cacheprovider"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    files = sorted({line.split("::")[0] for line in res.stdout.splitlines() if "::" in line})
    assert files == ["notebooks/01_x.ipynb", "tests/test_a.py"], res.stdout


# --- Makefile, CI, README -------------------------------------------------------------------


def top_make(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """`make ARGS` in CWD as a top-level make, even when the suite itself runs under `make test`:
    a sub-make inherits the parent's flags (MAKEFLAGS may carry -w, -n, -k), and the environment may
    set any variable the Makefile takes from it (`NAME ?= ...`: JOBS, CELL_TIMEOUT, TEST_JOBS, ...)."""
    settable = set(re.findall(r"^([A-Z_]+) \?=", (ROOT / "Makefile").read_text(), re.MULTILINE))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS")) and k not in settable}
    return subprocess.run(["make", *args], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_env_reinstalls_only_when_pyproject_changes(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)

    def up_to_date() -> bool:
        return top_make(["-q", "env"], tmp_path).returncode == 0

    assert not up_to_date()  # no environment yet
    dry = top_make(["-n", "env"], tmp_path).stdout
    assert "-m venv .venv" in dry and "pip install" in dry and "-e '.[dev]'" in dry
    stamp = tmp_path / ".venv" / ".tender-installed"
    stamp.parent.mkdir()
    stamp.touch()
    now = time.time()
    os.utime(tmp_path / "pyproject.toml", (now - 100, now - 100))
    assert up_to_date()
    os.utime(tmp_path / "pyproject.toml", (now + 100, now + 100))
    assert not up_to_date()


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_make_reproduce_runs_the_notebooks_asked_for(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / ".tender-installed").touch()  # newer than pyproject.toml: no install
    (tmp_path / "pyproject.toml").touch()
    os.utime(tmp_path / "pyproject.toml", (time.time() - 100, time.time() - 100))

    def dry(*args) -> str:
        return top_make(["-n", "reproduce", *args], tmp_path).stdout

    assert dry().strip().endswith("--timeout 0")  # every notebook
    some = dry("NOTEBOOKS=notebooks/01_data_exploration.ipynb notebooks/04_molip.ipynb", "JOBS=2")
    assert "reproduce --profile default --timeout 0 --jobs 2 notebooks/01_data_exploration.ipynb notebooks/04_molip.ipynb" in some


def test_ci_script_runs_make_test():
    ci = ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK), ".ci/run must be executable"
    text = ci.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    assert re.search(r"^make test\b", text, re.MULTILINE)


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n## ")[0]
    assert "make reproduce" in head and "make test" in head


def test_no_machine_paths_in_infrastructure_files():
    for rel in ["Makefile", ".ci/run", "environment.yml", "pyproject.toml", "README.md", ".gitignore"]:
        text = (ROOT / rel).read_text()
        assert str(ROOT) not in text and not re.search(r"/(work|root|tmp)/", text), rel


# --- paths ----------------------------------------------------------------------------------


def test_repo_root_found_from_package_and_from_any_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ROOT_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)  # nbval starts kernels in notebooks/; resolution must not depend on cwd
    assert paths.repo_root() == ROOT


def test_repo_root_env_override(tender_root):
    assert paths.repo_root() == tender_root.resolve()
    out = paths.output_dir("smoke", "tables")
    assert out == tender_root.resolve() / "outputs" / "smoke" / "tables" and out.is_dir()


def test_repo_root_env_must_exist(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ROOT_ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="TENDER_ROOT"):
        paths.repo_root()


def test_output_dir_rejects_bad_kind_and_profile(tender_root):
    with pytest.raises(ValueError, match="kind must be one of tables, figures, notebooks, checkpoints, cache"):
        paths.output_dir("smoke", "plots")
    for bad in ["Smoke", "", "../x", "a/b", "a b"]:
        with pytest.raises(ValueError, match=r"profile .*\[a-z0-9_-\]"):
            paths.output_dir(bad, "tables")
    assert not (tender_root / "outputs").exists()


def test_params_file_only_when_present(tender_root):
    assert paths.params_file("default", "02_vae") is None
    f = tender_root / "params" / "default" / "02_vae.yaml"
    f.parent.mkdir(parents=True)
    f.write_text("seed: 1\n")
    assert paths.params_file("default", "02_vae") == f.resolve()
    assert paths.relative_to_root(f) == "params/default/02_vae.yaml"
