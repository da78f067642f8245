"""Checkpoints: a model's weights and config in a folder, written atomically, read without trust.

    save_checkpoint(folder, model, step, config=cfg, optimizer=opt, train_config=tc, state={...})
    latest_checkpoint(run_folder) -> Path | None        checkpoints(run_folder) -> [Path, ...]
    load_weights(model, checkpoint, config=cfg)          read_config(checkpoint, ConfigClass)
    weights_hash(checkpoint) -> sha256 of model.safetensors

A checkpoint is `run_folder/step_<8 digits>/`:
      model.safetensors        the weights (metadata: format, version, step, config class and JSON)
      optimizer.safetensors    AdamW's state tensors (no pickle anywhere: loading runs no code)
      model_config.json        the model's config (tenderlib.params.to_json)
      train_config.json        the TrainConfig (tenderlib.training)
      state.json               step, loss history, the partial loss sums since the last log
It is written into a hidden folder and renamed into place, so a kill while writing leaves the
previous one intact.

Loading trusts nothing in a checkpoint folder: model_config.json must repeat the config stored in
model.safetensors' metadata (an edited copy would silently change the model that is built), the
config must pass its class's checks (plausible sizes), the weights must be readable, fit the model
and be finite. Anything else raises CheckpointMismatchError naming the file (and the fields or
tensors). The config of a checkpoint whose weights carry none in their metadata is refused
(read_config, check_config): every checkpoint written with a config stores it there.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from tenderlib import params

FORMAT = "tender-checkpoint"
FORMAT_VERSION = 1
MODEL_FILE = "model.safetensors"  # the weights; metadata: format, version, step, config_class, config
CONFIG_FILE = "model_config.json"  # the readable copy of the model's config
_STEP_DIR = re.compile(r"step_(\d{8})")


class CheckpointMismatchError(ValueError):
    """A checkpoint cannot be trusted: unreadable (missing, empty, truncated), edited (model_config.json
    disagrees with the weights' metadata), with an implausible config or non-finite weights, or not
    fitting the model or run it is loaded into. A ValueError: the command line reports it as a user error."""



def checkpoints(folder: str | os.PathLike) -> list[Path]:
    """Complete checkpoint folders of a run (those with state.json), oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and _STEP_DIR.fullmatch(p.name) and (p / "state.json").is_file()]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of a run folder, or None."""
    found = checkpoints(folder)
    return found[-1] if found else None


def _config_record(config) -> dict:
    return {"class": type(config).__qualname__, "config": json.loads(params.to_json(config))}


def config_mismatch(saved: dict, wanted: dict, names=("checkpoint", "requested")) -> list[str]:
    keys = list(dict.fromkeys([*saved, *wanted]))
    return [f"{k}: {names[0]} {saved.get(k, '<absent>')!r}, {names[1]} {wanted.get(k, '<absent>')!r}"
            for k in keys if saved.get(k, object()) != wanted.get(k, object())]


def _read_metadata(path: Path) -> dict[str, str]:
    """The metadata of a safetensors file (its header only is read)."""
    try:
        with safe_open(path, "pt") as f:
            return f.metadata() or {}
    except (OSError, SafetensorError) as err:
        raise CheckpointMismatchError(f"cannot read {path}: {err}") from None


def _read_tensors(path: Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    try:
        return load_file(path, device=device)
    except (OSError, SafetensorError) as err:
        raise CheckpointMismatchError(f"cannot read {path}: {err}") from None


def _parse_json(text: str | bytes, where) -> Any:
    try:
        return json.loads(text)
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise CheckpointMismatchError(f"{where} is not valid JSON ({err})") from None


def _saved_record(checkpoint: Path) -> dict:
    """{'class', 'config'} of a checkpoint's model, from model.safetensors' metadata, which
    model_config.json must repeat (module docstring)."""
    path, weights = checkpoint / CONFIG_FILE, checkpoint / MODEL_FILE
    if not path.is_file():
        raise CheckpointMismatchError(f"{checkpoint} is not a checkpoint folder (no {CONFIG_FILE})")
    copy = _parse_json(path.read_bytes(), path)
    meta = _read_metadata(weights)
    if "config_class" not in meta or "config" not in meta:
        raise CheckpointMismatchError(f"{weights} stores no model config in its metadata: {path} cannot be "
                                      f"checked (not a checkpoint written by tenderlib.training.save_checkpoint)")
    record = {"class": meta["config_class"], "config": _parse_json(meta["config"], f"the config in {weights}")}
    for where, r in ((weights, record), (path, copy)):
        if not (isinstance(r, dict) and isinstance(r.get("class"), str) and isinstance(r.get("config"), dict)):
            raise CheckpointMismatchError(f"{where} holds no model config record ({{'class': ..., 'config': ...}})")
    diff = config_mismatch({"class": record["class"], **record["config"]}, {"class": copy["class"], **copy["config"]},
                     ("weights", CONFIG_FILE))
    if diff:
        raise CheckpointMismatchError(f"{path} disagrees with the config stored in {weights} (edited?): "
                                      + "; ".join(diff))
    return record


def read_config(checkpoint: str | os.PathLike, cls: type):
    """The model config saved in a checkpoint folder, as an instance of `cls` (to rebuild the model);
    checked as the module docstring says."""
    checkpoint = Path(checkpoint)
    record = _saved_record(checkpoint)
    if record["class"] != cls.__qualname__:
        raise CheckpointMismatchError(f"checkpoint {checkpoint} holds a {record['class']}, "
                                      f"not a {cls.__qualname__}")
    try:
        return params.from_dict(cls, record["config"])
    except ValueError as err:
        raise CheckpointMismatchError(f"{checkpoint / MODEL_FILE} holds an unusable {cls.__qualname__}: "
                                      f"{err}") from None


def check_config(checkpoint: str | os.PathLike, config) -> None:
    """Raise CheckpointMismatchError naming every field where the checkpoint's model config differs."""
    saved, wanted = _saved_record(Path(checkpoint)), _config_record(config)
    if saved.get("class") != wanted["class"]:
        raise CheckpointMismatchError(f"checkpoint {checkpoint} was trained with a {saved.get('class')}, "
                                      f"the requested model has a {wanted['class']}")
    added = params.added_defaults(type(config))
    diff = config_mismatch({**added, **saved.get("config", {})}, wanted["config"])  # saved before a field: its default
    if diff:
        raise CheckpointMismatchError(f"checkpoint {checkpoint} does not match the requested {wanted['class']}: "
                                      + "; ".join(diff))


def load_weights(model: nn.Module, checkpoint: str | os.PathLike, config=None) -> nn.Module:
    """Load a checkpoint's weights into `model` (strict). With `config`, first check it matches.
    CheckpointMismatchError when the file is unreadable, or its tensors do not fit or are not finite."""
    checkpoint = Path(checkpoint)
    if config is not None:
        check_config(checkpoint, config)
    device = next(model.parameters()).device
    tensors = _read_tensors(checkpoint / MODEL_FILE, str(device))
    own = model.state_dict()
    missing, unexpected = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
    wrong = [f"{k} {tuple(tensors[k].shape)} vs {tuple(own[k].shape)}" for k in own
             if k in tensors and tensors[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        raise CheckpointMismatchError(f"weights in {checkpoint} do not fit the model: missing {missing[:5]}, "
                                      f"unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}")
    broken = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if broken:
        raise CheckpointMismatchError(f"{checkpoint / MODEL_FILE} holds non-finite values (NaN or inf) in "
                                      f"{len(broken)} tensor(s): {broken[:5]}")
    model.load_state_dict(tensors, strict=True)
    return model


def save_checkpoint(folder: str | os.PathLike, model: nn.Module, step: int, *, config=None,
                    optimizer: torch.optim.Optimizer | None = None, train_config: Any = None,
                    state: dict | None = None, keep_last: int = 0) -> Path:
    """Write run folder/step_<step>/ atomically (module docstring); prune to `keep_last` (0 = keep all)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step_{step:08d}"
    tmp = folder / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        meta = {"format": FORMAT, "version": str(FORMAT_VERSION), "step": str(step)}
        if config is not None:
            record = _config_record(config)
            meta.update(config_class=record["class"], config=json.dumps(record["config"]))
            (tmp / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n")
        weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(weights, tmp / MODEL_FILE, metadata=meta)
        if optimizer is not None:
            save_file(_optimizer_tensors(optimizer), tmp / "optimizer.safetensors", metadata=meta)
        if train_config is not None:
            (tmp / "train_config.json").write_text(params.to_json(train_config))
        body = {"format": FORMAT, "version": FORMAT_VERSION, "step": step, "torch": torch.__version__, **(state or {})}
        (tmp / "state.json").write_text(json.dumps(body, indent=1) + "\n")  # last: marks the folder complete
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if keep_last:
        for old in checkpoints(folder)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for index, entry in optimizer.state_dict()["state"].items():
        for name, value in entry.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"optimizer state {index}.{name} is a {type(value).__name__}, not a tensor")
            out[f"{index}.{name}"] = value.detach().contiguous().cpu()
    return out


def load_optimizer(optimizer: torch.optim.Optimizer, checkpoint: str | os.PathLike) -> None:
    """Restore the optimizer's state tensors; its param_groups (hyperparameters) stay as built."""
    tensors = _read_tensors(Path(checkpoint) / "optimizer.safetensors")
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    current = optimizer.state_dict()
    n_params = sum(len(g["params"]) for g in current["param_groups"])
    if state and max(state) >= n_params:
        raise CheckpointMismatchError(f"optimizer state in {checkpoint} has {max(state) + 1} parameters, "
                                      f"the model {n_params}")
    optimizer.load_state_dict({"state": state, "param_groups": current["param_groups"]})


def checkpoint_step(checkpoint: str | os.PathLike) -> int:
    """The step a checkpoint folder was written at (from its model.safetensors metadata)."""
    path = Path(checkpoint) / MODEL_FILE
    step = _read_metadata(path).get("step", "")
    if not step.isdigit():
        raise CheckpointMismatchError(f"{path} records no step in its metadata")
    return int(step)


def weights_hash(checkpoint: str | os.PathLike) -> str:
    """sha256 (hex) of the bytes of a checkpoint's model.safetensors: names that very file (saving the
    same weights again may give other bytes: safetensors writes the metadata in no fixed order)."""
    with open(Path(checkpoint) / MODEL_FILE, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
