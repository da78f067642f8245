"""Notebook parameters: collect/coerce, JSON and hash, and real papermill runs."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import subprocess
import sys
import unittest.mock as mock
from typing import Literal

import nbformat
import pytest
import torch

from tenderlib import notebooks, params
from tenderlib.params import RunConfig


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-4  # learning rate
    steps: int = 10  # optimisation steps
    use_conf: bool = True  # confidence channel
    text_mode: Literal["concat", "add"] = "concat"  # text conditioning
    latent: tuple[int, ...] = (8, 256)  # latent shape
    note: str | None = None  # free text
    seed: int = 0  # also in RunConfig: goes to both

    def __post_init__(self):
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


def _collect(values: dict, *classes, before: dict | None = None):
    ns = {"__name__": "__main__", "params": params, "math": math, **(before or {})}
    snap = params.snapshot(ns)
    ns.update(values)
    return params.collect(ns, snap, *classes)


# --- collect --------------------------------------------------------------------------------


def test_collect_builds_each_config_from_its_fields():
    run, train = _collect({"profile": "default", "seed": 3, "lr": 0.01}, RunConfig, TrainConfig)
    assert run == RunConfig(profile="default", seed=3)
    assert train == TrainConfig(lr=0.01, seed=3)  # seed is a field of both
    (only,) = _collect({}, RunConfig)
    assert only == RunConfig()


def test_collect_rejects_unknown_names_and_lists_allowed():
    with pytest.raises(ValueError) as err:
        _collect({"seed": 1, "lrr": 0.1, "epochs": 2}, RunConfig, TrainConfig)
    msg = str(err.value)
    assert "unknown parameter(s) 'lrr', 'epochs'" in msg
    assert "RunConfig, TrainConfig" in msg
    assert "profile, seed, jobs, lr, steps, use_conf, text_mode, latent, note" in msg


def test_collect_ignores_private_names_and_imports():
    import os

    def helper():
        pass

    run, train = _collect({"_tmp": 1, "os": os, "helper": helper, "Cfg": TrainConfig, "steps": 5}, RunConfig, TrainConfig)
    assert train.steps == 5


def test_collect_sees_a_rebound_name():
    with pytest.raises(ValueError, match="unknown parameter.*'x'"):
        _collect({"x": 2.0}, RunConfig, before={"x": 1.0})


@pytest.mark.parametrize(
    "name, given, expected",
    [
        ("lr", 1, 1.0),  # int for float
        ("lr", "0.5", 0.5),  # papermill -p sends strings it cannot parse
        ("lr", "1e-3", 0.001),  # YAML reads 1e-3 as a string
        ("steps", "12", 12),
        ("steps", 3.0, 3),
        ("steps", "1e3", 1000),
        ("use_conf", "false", False),
        ("use_conf", "Yes", True),
        ("text_mode", "add", "add"),
        ("latent", [4, "64"], (4, 64)),
        ("latent", "[2, 32]", (2, 32)),  # -p latent '[2, 32]'
        ("note", None, None),
        ("note", "hi", "hi"),
        ("note", 2024, "2024"),
    ],
)
def test_collect_coerces_to_annotations(name, given, expected):
    (train,) = _collect({name: given}, TrainConfig)
    value = getattr(train, name)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "name, given, expected_type",
    [
        ("lr", "fast", "float"),
        ("lr", True, "float"),
        ("steps", 2.5, "int"),
        ("steps", "ten", "int"),
        ("steps", False, "int"),
        ("use_conf", "maybe", "bool"),
        ("use_conf", 1, "bool"),
        ("latent", "oops", "tuple[int, ...]"),
    ],
)
def test_collect_bad_type_names_parameter_type_and_value(name, given, expected_type):
    with pytest.raises(ValueError) as err:
        _collect({name: given}, TrainConfig)
    msg = str(err.value)
    assert f"parameter {name!r}" in msg and f"expected {expected_type}" in msg and repr(given) in msg


def test_collect_literal_lists_allowed_values():
    with pytest.raises(ValueError, match=r"parameter 'text_mode': expected one of \['concat', 'add'\], got 'cross'"):
        _collect({"text_mode": "cross"}, TrainConfig)


def test_collect_runs_post_init_validation():
    with pytest.raises(ValueError, match="lr must be > 0"):
        _collect({"lr": "-1"}, TrainConfig)
    with pytest.raises(ValueError, match=r"profile must be .*\[a-z0-9_-\].*'Paper!'"):
        _collect({"profile": "Paper!"}, RunConfig)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        _collect({"seed": -1}, RunConfig)


def test_collect_requires_frozen_dataclasses():
    @dataclasses.dataclass
    class Loose:
        a: int = 1

    with pytest.raises(ValueError, match="frozen"):
        _collect({}, Loose)
    with pytest.raises(ValueError, match="dataclass"):
        _collect({}, dict)


# --- JSON and hash --------------------------------------------------------------------------


def test_json_round_trip():
    cfg = TrainConfig(lr=3e-4, latent=(4, 128), note="x", text_mode="add")
    text = params.to_json(cfg)
    assert json.loads(text)["latent"] == [4, 128]
    assert params.from_json(TrainConfig, text) == cfg
    with pytest.raises(ValueError, match="unknown field.*'bogus'"):
        params.from_json(TrainConfig, '{"bogus": 1}')


def test_config_hash_matches_reference_formula():
    cfgs = (RunConfig(seed=2), TrainConfig())
    payload = [["RunConfig", {"profile": "smoke", "seed": 2, "jobs": 1}], ["TrainConfig", dataclasses.asdict(TrainConfig())]]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    assert params.config_hash(*cfgs) == hashlib.sha256(text.encode()).hexdigest()[:12]
    # pinned: a change here re-keys every cache and checkpoint
    assert params.config_hash(RunConfig()) == hashlib.sha256(b'[["RunConfig",{"jobs":1,"profile":"smoke","seed":0}]]').hexdigest()[:12]
    assert params.config_hash(RunConfig(seed=1)) != params.config_hash(RunConfig())
    with pytest.raises(ValueError):
        params.config_hash()


# --- metadata stripping ---------------------------------------------------------------------


def test_strip_notebook_removes_noise_keeps_outputs():
    nb = nbformat.v4.new_notebook()
    nb.metadata.update({"papermill": {"duration": 1.2}, "widgets": {"state": {}}, "kernelspec": {"name": "tender-venv"},
                        "language_info": {"name": "python", "version": "3.11.7"}})
    c1 = nbformat.v4.new_code_cell("1 + 1", execution_count=7, metadata={"papermill": {}, "execution": {"iopub.status.idle": "2026-01-01T00:00:00Z"}, "tags": []})
    c1.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=7)]
    c2 = nbformat.v4.new_code_cell("x = 1", execution_count=9, metadata={"tags": ["parameters"], "collapsed": True})
    c3 = nbformat.v4.new_code_cell("y = 2")  # never executed
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), c1, c2, c3]
    notebooks.strip_notebook(nb)
    assert set(nb.metadata) == {"kernelspec", "language_info"}
    assert nb.metadata.kernelspec.name == "python3" and "version" not in nb.metadata.language_info
    assert c1.metadata == {} and c1.execution_count == 1 and c1.outputs[0]["execution_count"] == 1
    assert c1.outputs[0]["data"] == {"text/plain": "2"}
    assert c2.metadata == {"tags": ["parameters"]} and c2.execution_count == 2
    assert c3.execution_count is None


def test_execute_notebook_rejects_bad_input(tmp_path):
    nb_path = tmp_path / "n.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), nb_path)
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        notebooks.execute_notebook(nb_path, parameters={"x": 2})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping of parameter names"):
        notebooks.execute_notebook(nb_path, param_file=bad)
    with pytest.raises(ValueError, match=r"\.ipynb"):
        notebooks.execute_notebook(tmp_path / "n.py")


# --- real papermill runs --------------------------------------------------------------------

CELLS = [
    ("from tenderlib import params\n_before = params.snapshot(globals())", []),
    ('profile = "smoke"  # output profile\nseed = 0  # master seed\njobs = 1  # runs at once', ["parameters"]),
    ("(run,) = params.collect(globals(), _before, params.RunConfig)\nprint(run)", []),
]


def _tiny_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(notebooks.KERNELSPEC)
    nb.cells = [nbformat.v4.new_code_cell(src, metadata={"tags": tags} if tags else {}) for src, tags in CELLS]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _printed(path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow
def test_papermill_cli_with_known_parameters(tmp_path):
    nb, out = _tiny_notebook(tmp_path / "tiny.ipynb"), tmp_path / "out.ipynb"
    res = subprocess.run(
        [sys.executable, "-m", "papermill", str(nb), str(out), "-p", "profile", "default", "-r", "seed", "7",
         "-k", "python3", "--cwd", str(tmp_path)],  # -r: raw string "7", coerced by collect
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "RunConfig(profile='default', seed=7, jobs=1)" in _printed(out)


@pytest.mark.slow
def test_papermill_run_fails_naming_unknown_parameter(tmp_path):
    import papermill

    nb = _tiny_notebook(tmp_path / "tiny.ipynb")
    with pytest.raises(papermill.PapermillExecutionError) as err:
        notebooks.execute_notebook(nb, tmp_path / "out.ipynb", parameters={"seeed": 1}, timeout=120)
    assert err.value.ename == "ValueError"
    assert "unknown parameter(s) 'seeed'" in err.value.evalue and "profile, seed" in err.value.evalue


@pytest.mark.slow
def test_reproduce_uses_yaml_param_file_and_strips(tender_root, capsys):
    _tiny_notebook(tender_root / "notebooks" / "01_tiny.ipynb")
    (tender_root / "params" / "default").mkdir(parents=True)
    (tender_root / "params" / "default" / "01_tiny.yaml").write_text("seed: 5  # from the yaml file\n")
    (out,) = notebooks.reproduce("default", timeout=120, jobs=3)
    assert out == tender_root / "outputs" / "default" / "notebooks" / "01_tiny.ipynb"
    assert "RunConfig(profile='default', seed=5, jobs=3)" in _printed(out)
    times = json.loads((tender_root / "outputs" / "default" / "reproduce_times.json").read_text())
    assert set(times) == {"01_tiny"} and times["01_tiny"] >= 0
    err = capsys.readouterr().err
    assert "notebook 1/1 01_tiny (3 job(s))" in err and "reproduce summary:" in err and "01_tiny" in err.split("summary")[1]
    nb = nbformat.read(out, as_version=4)
    assert "papermill" not in nb.metadata and all("papermill" not in c.metadata for c in nb.cells)
    assert [c.execution_count for c in nb.cells] == [1, 2, 3, 4]  # with papermill's injected cell
    assert notebooks.strip_metadata(out) is False  # already clean: stripping is idempotent


def test_reproduce_refuses_bad_input_before_running_anything(tender_root):
    _tiny_notebook(tender_root / "notebooks" / "01_tiny.ipynb")
    _tiny_notebook(tender_root / "notebooks" / "02_tiny.ipynb")
    (tender_root / "params" / "default").mkdir(parents=True)
    (tender_root / "params" / "default" / "02_tiny.yaml").write_text("seed: 1\nseeed: 2\n")
    out = tender_root / "outputs" / "default" / "notebooks"
    with pytest.raises(ValueError, match="jobs must be an int >= 1"):
        notebooks.reproduce("default", jobs=0)
    with pytest.raises(ValueError, match="unknown profile 'nope'.*known: smoke, default"):
        notebooks.reproduce("nope")
    with pytest.raises(ValueError, match=r"02_tiny.yaml names unknown parameter\(s\) 'seeed'.*profile, seed, jobs"):
        notebooks.reproduce("default")
    assert not out.exists() or not any(out.iterdir()), "nothing ran: the first notebook was not executed either"
    assert notebooks.main(["reproduce", "--jobs", "0"]) == 1


def test_parameter_names_reads_the_parameters_cell(tmp_path):
    assert notebooks.parameter_names(_tiny_notebook(tmp_path / "t.ipynb")) == ["profile", "seed", "jobs"]


@dataclasses.dataclass(frozen=True)
class _Later:
    a: int = 1
    b: str = params.added_field("old")


@dataclasses.dataclass(frozen=True)
class _Outer:
    inner: _Later = _Later()
    items: tuple = (_Later(),)


def test_added_field_is_hashed_only_when_set():
    @dataclasses.dataclass(frozen=True)
    class _Later:  # the same class as it was before the field existed
        a: int = 1

    @dataclasses.dataclass(frozen=True)
    class _Outer:
        inner: _Later = _Later()
        items: tuple = (_Later(),)

    _Later.__qualname__, _Outer.__qualname__ = "_Later", "_Outer"  # hashed by class name: the same names
    before = (params.config_hash(_Later()), params.config_hash(_Outer()))
    assert (params.config_hash(globals()["_Later"]()), params.config_hash(globals()["_Outer"]())) == before
    set_b = globals()["_Later"](b="new")
    assert params.config_hash(set_b) != before[0]
    assert params.config_hash(globals()["_Outer"](items=(set_b,))) != before[1]
    assert json.loads(params.to_json(set_b)) == {"a": 1, "b": "new"}  # saved configs keep every field


def test_a_checkpoint_saved_before_a_field_was_added_matches_its_default(tmp_path):
    from tenderlib import checkpoints
    from tenderlib.models.denoiser import DenoiserConfig

    cfg = DenoiserConfig(dim=16, num_layers=1, num_heads=2, ff_dim=16)
    model = torch.nn.Linear(2, 2)
    ckpt = checkpoints.save_checkpoint(tmp_path / "run", model, 1, config=cfg)
    assert params.added_defaults(DenoiserConfig) == {"windows": 1, "window_overlap": 0.25}
    # the same checkpoint as written before the fields existed: its record lacks them
    record = checkpoints._saved_record(ckpt)
    trimmed = {**record, "config": {k: v for k, v in record["config"].items() if k not in ("windows", "window_overlap")}}
    with mock.patch.object(checkpoints, "_saved_record", lambda path: trimmed):
        checkpoints.check_config(ckpt, cfg)  # at their defaults: a match
        with pytest.raises(checkpoints.CheckpointMismatchError, match="windows: checkpoint 1, requested 2"):
            checkpoints.check_config(ckpt, dataclasses.replace(cfg, windows=2, latent_tokens=8))
