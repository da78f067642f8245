"""Which store a notebook trains and scores on: the embedded synthetic dataset, or any imported one.

    data = datasets.choose(StoreConfig(store=""), SyntheticConfig(num_clips=600))  # -> the SyntheticConfig
    data = datasets.choose(StoreConfig(store="stores/release"), ...)               # -> ImportedStore(path)
    store = datasets.open_store(data)   # tenderlib.data.store.Store (the synthetic one built on first use)

Every notebook takes the parameter `store`: empty, it generates (once) and reads the embedded
synthetic Holistic-Motion2D of its SyntheticConfig; a path, it reads the store built there by
`tender data import` (the Holistic-Motion2D release, MMPose predictions, motion capture) and the
SyntheticConfig parameters are not used. The subsets (D1 / D2 / D3, the quality rule, the splits)
apply to any store; runs trained on it are filed under its identity (Store.identity), so the runs
of two stores never mix. A relative path is taken from the repository root, where make and
papermill are run (tenderlib.paths.repo_root), not from the notebook's folder.

Both kinds of `data` are frozen dataclasses, picklable and hashable: worker processes
(tenderlib.parallel) and torchrun ranks (tenderlib.distributed) reopen the same store from them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Union

from tenderlib.synthetic import SyntheticConfig


@dataclass(frozen=True)
class StoreConfig:
    """The notebooks' `store` parameter."""

    store: str = ""  # a store folder built by `tender data import` (relative: to the repository root); "": synthetic

    def __post_init__(self):
        if hasattr(self.store, "manifest") and hasattr(self.store, "path"):  # an opened Store (a notebook's re-run)
            object.__setattr__(self, "store", str(self.store.path))
        if not isinstance(self.store, str):
            raise ValueError(f"store must be a path (a string) or '' for the embedded synthetic dataset, "
                             f"got {self.store!r}")


@dataclass(frozen=True, repr=False)
class ImportedStore:
    """A store built by `tender data import`, by its absolute path."""

    path: str

    def __post_init__(self):
        if not Path(self.path).is_absolute():
            raise ValueError(f"ImportedStore.path must be absolute, got {self.path!r} (use datasets.choose)")

    def __repr__(self) -> str:  # the path from the repository root where it lies inside it (no machine paths)
        from tenderlib.paths import relative_to_root

        return f"ImportedStore({relative_to_root(self.path)!r})"


Data = Union[SyntheticConfig, ImportedStore]


def choose(store_cfg: StoreConfig, synthetic_cfg: SyntheticConfig) -> Data:
    """What a notebook reads: the imported store of `store_cfg.store`, else the synthetic dataset.
    The store is opened (and checked) by open_store: the configs of a profile whose store is not on
    this machine still build (notebook 03 reads notebook 02's and 04's)."""
    if not store_cfg.store.strip():
        return synthetic_cfg
    from tenderlib.paths import repo_root

    path = Path(store_cfg.store).expanduser()
    return ImportedStore(str((path if path.is_absolute() else repo_root() / path).resolve()))


def open_store(data: Data):
    """The Store of `data` (the synthetic one is generated and packed on first use)."""
    from tenderlib import synthetic
    from tenderlib.data.store import Store
    from tenderlib.paths import relative_to_root

    if isinstance(data, ImportedStore):
        if not Path(data.path).is_dir():
            raise ValueError(f"store {relative_to_root(data.path)!r} is not a folder (the store parameter: relative "
                             f"paths are taken from the repository root); build one with "
                             f"`tender data import ... --out PATH`")
        return Store(data.path)
    if isinstance(data, SyntheticConfig):
        return synthetic.get_store(data)
    raise TypeError(f"data must be a SyntheticConfig or an ImportedStore (datasets.choose), got {type(data).__name__}")

