"""Where things live: the repository root and the output folders (docs/design.md, section 4).

Everything resolves from the repository root, never from the current directory: nbval starts
each notebook's kernel in the notebook's own folder, papermill in whatever folder it was called
from, and a notebook must write to the same `outputs/<profile>/<kind>/` either way.

    repo_root()                      the folder holding the pyproject.toml that names tenderlib
    outputs_root()                   <root>/outputs, or $TENDER_OUTPUTS (any folder, e.g. on a scratch disk)
    output_dir("smoke", "tables")    <outputs>/smoke/tables/, created on demand
    params_file("default", "02_vae") <root>/params/default/02_vae.yaml, or None if absent

The environment variable TENDER_ROOT overrides the search (tests point it at a temporary folder);
TENDER_OUTPUTS moves every output (tables, figures, checkpoints, caches, stores) out of the
checkout, e.g. to a cluster's scratch disk, while notebooks and params are read from the root.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import tomllib
from pathlib import Path

log = logging.getLogger(__name__)

ROOT_ENV_VAR = "TENDER_ROOT"
OUTPUTS_ENV_VAR = "TENDER_OUTPUTS"
PACKAGE_NAME = "tenderlib"  # the [project] name that marks our pyproject.toml

# A profile names a folder under params/ and outputs/: smoke (the notebooks' own defaults),
# default (the embedded benchmark), paper (paper hyperparameters, real data, GPU), or any other.
PROFILE_PATTERN = re.compile(r"[a-z0-9_-]+")

# The kinds of output folder under outputs/<profile>/ (checkpoints and cache are git-ignored).
OUTPUT_KINDS = ("tables", "figures", "notebooks", "checkpoints", "cache", "downstream")


def check_profile(profile: str) -> str:
    """Return `profile` if it is a valid profile name, else raise ValueError."""
    if not isinstance(profile, str) or PROFILE_PATTERN.fullmatch(profile) is None:
        raise ValueError(
            f"profile must be a non-empty name of characters [a-z0-9_-] "
            f"(e.g. 'smoke', 'default', 'paper'), got {profile!r}"
        )
    return profile


@functools.lru_cache(maxsize=64)
def _is_our_pyproject(path: Path) -> bool:
    """True if `path` is a readable pyproject.toml whose [project] name is tenderlib."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return data.get("project", {}).get("name") == PACKAGE_NAME


def _search_up(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and _is_our_pyproject(candidate):
            return folder
    return None


def repo_root() -> Path:
    """The repository root, as an absolute path.

    Order: $TENDER_ROOT if set (must be an existing folder); else the first folder at or above
    the tenderlib package folder holding a pyproject.toml that names tenderlib (an editable
    install); else the same search upward from the current directory.
    """
    override = os.environ.get(ROOT_ENV_VAR)
    if override:
        root = Path(override).expanduser().resolve()
        if not root.is_dir():
            raise ValueError(f"{ROOT_ENV_VAR}={override!r} is not an existing folder")
        return root
    package_dir = Path(__file__).resolve().parent
    for start in (package_dir, Path.cwd().resolve()):
        found = _search_up(start)
        if found is not None:
            return found
    raise FileNotFoundError(
        f"cannot find the Tender repository root: no pyproject.toml naming {PACKAGE_NAME!r} "
        f"at or above {package_dir} or the current directory {Path.cwd()}; "
        f"set {ROOT_ENV_VAR} to the repository folder"
    )


def outputs_root() -> Path:
    """Where outputs go: $TENDER_OUTPUTS if set (created if missing), else <repository root>/outputs."""
    override = os.environ.get(OUTPUTS_ENV_VAR)
    if override:
        root = Path(override).expanduser().resolve()
        if root.exists() and not root.is_dir():
            raise ValueError(f"{OUTPUTS_ENV_VAR}={override!r} is a file, not a folder")
        root.mkdir(parents=True, exist_ok=True)
        return root
    return repo_root() / "outputs"


def output_dir(profile: str, kind: str) -> Path:
    """<outputs>/<profile>/<kind>/ (outputs_root()), created if missing.

    kind: one of OUTPUT_KINDS (tables, figures, notebooks, checkpoints, cache, downstream: the files notebook 06
    writes for other models: pose videos and frames, MotionBERT input).
    """
    check_profile(profile)
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(OUTPUT_KINDS)}; got {kind!r}")
    path = outputs_root() / profile / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def notebooks_dir() -> Path:
    """notebooks/ under the repository root (it may not exist yet)."""
    return repo_root() / "notebooks"


def params_dir(profile: str) -> Path:
    """params/<profile>/ under the repository root (it may not exist)."""
    return repo_root() / "params" / check_profile(profile)


def params_file(profile: str, notebook_stem: str) -> Path | None:
    """params/<profile>/<notebook_stem>.yaml if that file exists, else None."""
    path = params_dir(profile) / f"{notebook_stem}.yaml"
    return path if path.is_file() else None


def relative_to_root(path: str | os.PathLike) -> str:
    """`path` relative to the repository root when it lies inside it (for logs and reprs that
    must not carry this machine's absolute paths), else the path unchanged."""
    p = Path(path)
    try:
        return p.resolve().relative_to(repo_root()).as_posix()
    except ValueError:
        return str(p)
