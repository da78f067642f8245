"""Notebook 04: MoLIP trained by config, and what the notebook does with it beyond one model.

    run = load_or_train_molip(config, train_config, store, selection, profile)   # by config, under
                                                      # outputs/<profile>/checkpoints/molip-<hash>/
    MoLIPExperimentConfig(...)                        # subset, scaling fractions, retrieval examples
    configs(globals(), before)                        # the notebook's configs from its parameters
    notebook_configs(profile)                         # the same, read from the notebook (for notebook 03)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from tenderlib import datasets, params, synthetic, training
from tenderlib.data.dataset import MotionDataset
from tenderlib.data.store import Store
from tenderlib.data.selection import Selection
from tenderlib.evaluation.metrics import MetricsConfig
from tenderlib.models import molip
from tenderlib.models.molip import MoLIPConfig
from tenderlib.models.text import TextEncoder

@dataclass(frozen=True)
class MoLIPExperimentConfig:
    """What notebook 04 does with MoLIP beyond training one model."""

    subset: str = "D1"  # named selection trained and tested on: D1 | D2 | D3 (tenderlib.data.store)
    data_fracs: tuple[float, ...] = (0.2, 0.5, 0.8, 1.0)  # scaling table (paper Tables 4 and 10)
    num_queries: int = 3  # text -> motion retrieval examples
    retrieval_k: int = 3  # motions shown per query
    torch_threads: int = 1  # CPU threads for torch; 1 = the same numbers on every machine and, on a
    #                         busy 2-core machine, about 10x faster than 2 (no spinning); 0 = torch's default

    def __post_init__(self):
        if self.subset not in ("D1", "D2", "D3"):
            raise ValueError(f"subset must be one of ('D1', 'D2', 'D3'), got {self.subset!r}")
        fracs = tuple(float(f) for f in self.data_fracs)
        if not fracs or any(not 0 < f <= 1 for f in fracs) or list(fracs) != sorted(set(fracs)):
            raise ValueError(f"data_fracs must be increasing fractions in (0, 1], got {self.data_fracs!r}")
        object.__setattr__(self, "data_fracs", fracs)
        if not (isinstance(self.torch_threads, int) and self.torch_threads >= 0):
            raise ValueError(f"torch_threads must be an int >= 0 (0 = torch's default), got {self.torch_threads!r}")
        for name in ("num_queries", "retrieval_k"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")


def run_dir_for(config: MoLIPConfig, train_config: training.TrainConfig, store: Store, selection: Selection,
                profile: str) -> Path:
    """outputs/<profile>/checkpoints/molip-<hash of the model, training and data configs>/."""
    return training.data_run_dir(profile, "molip", config, train_config, store, selection)


def load_or_train_molip(config: MoLIPConfig, train_config: training.TrainConfig, store: Store, selection: Selection,
                  profile: str, *, text_encoder: TextEncoder | None = None) -> training.ModelRun:
    """The MoLIP trained with these configs on `selection` of `store`: loaded from its run folder if a
    finished run is there (checked against the config), else trained (resuming a killed run)."""
    indices = store.select(selection)
    model = molip.build(config, train_config.seed, text_encoder)

    def make_dataset() -> MotionDataset:
        dataset = MotionDataset(store, indices, max_frames=config.max_frames, crop="random", caption="random",
                                generator_seed=train_config.seed, mirror=config.mirror_augment)
        model.text_encoder.encode(sorted({t for i in dataset.indices for t in store.texts(int(i))}))  # warm cache
        return dataset

    return training.run_by_config("molip", model, config, train_config, profile,
                                  training.DataKey(store.identity, selection), make_dataset, len(indices),
                                  relaunch=(load_or_train_molip, (config, train_config, store, selection, profile)))


def configs(namespace, before: params.Snapshot):
    """Notebook 04's configs from its parameters (the names bound in `namespace` since `before`):
    (run, data, model, train, metrics, study). Trainings log every 25 steps, without a bar."""
    run, store_cfg, synthetic_cfg, model_cfg, train_cfg, metrics_cfg, study = params.collect(
        namespace, before, params.RunConfig, datasets.StoreConfig, synthetic.SyntheticConfig, MoLIPConfig,
        training.TrainConfig, MetricsConfig, MoLIPExperimentConfig)
    data = datasets.choose(store_cfg, synthetic_cfg)
    train_cfg = dataclasses.replace(train_cfg, progress="off", log_every=25,
                                    checkpoint_every=min(train_cfg.checkpoint_every, train_cfg.max_steps))
    return run, data, model_cfg, train_cfg, metrics_cfg, study


def notebook_configs(profile: str):
    """What notebook 04 runs with under `profile` (its parameters cell, params/<profile>/04_molip.yaml)."""
    return configs(params.notebook_parameters("04_molip", profile), params.snapshot({}))
