"""Notebook parameters -> frozen dataclass configs (docs/design.md, section 4).

Parameters flow one way: params/<profile>/*.yaml -> papermill -> the notebook's `parameters`
cell -> tenderlib dataclasses (unknown names rejected; papermill itself only warns) -> saved as
JSON beside every checkpoint. A notebook's first three code cells are:

    from tenderlib import params                      # cell 1
    from tenderlib.models.vae import VAEConfig
    _before = params.snapshot(globals())

    profile = "smoke"   # outputs/<profile>/ ...      # cell 2, tagged `parameters`: flat,
    seed = 0            # master seed                  # typed, commented scalars
    latent_dim = 64     # width of the latent

    run, vae = params.collect(globals(), _before, params.RunConfig, VAEConfig)   # cell 3

papermill injects its own cell right after cell 2, so `-p latent_dim 32` or `-f file.yaml`
lands between the snapshot and `collect`. `collect` always returns a tuple, one config per
class given (write `(run,) = params.collect(...)` for a single class).

Values are coerced to the annotated field types: papermill sends `-p x 0.5x` (anything it
cannot parse) as a string, and YAML reads `1e-3` as a string, so '1e-3' -> 0.001 for a float
field; an int is fine for a float; a value that cannot be coerced raises ValueError naming the
parameter, the expected type and the value. The dataclasses' own __post_init__ then validates.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
import math
import numbers
import types
import typing
from pathlib import PurePath
from typing import Any, Literal, Mapping, Union

from tenderlib.paths import check_profile, notebooks_dir, params_file, relative_to_root

log = logging.getLogger(__name__)

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What every notebook takes: where its outputs go, the master seed, how many runs at once."""

    profile: str = "smoke"  # outputs/<profile>/ and params/<profile>/; characters [a-z0-9_-]
    seed: int = 0  # master seed; numpy/torch generators and data splits derive from it (>= 0)
    jobs: int = 1  # independent runs side by side, one process each (tenderlib.parallel); no effect on results

    def __post_init__(self) -> None:
        check_profile(self.profile)
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise ValueError(f"jobs must be an int >= 1, got {self.jobs!r}")


class Snapshot:
    """The names bound in a namespace at one moment (holds references, so identity is exact)."""

    def __init__(self, namespace: Mapping[str, Any]):
        self._values = dict(namespace)

    def changed_names(self, namespace: Mapping[str, Any]) -> list[str]:
        """Names bound since the snapshot, or re-bound to another object, in namespace order."""
        missing = object()
        return [n for n, v in namespace.items() if self._values.get(n, missing) is not v]

    def __repr__(self) -> str:
        return f"Snapshot({len(self._values)} names)"


def snapshot(namespace: Mapping[str, Any]) -> Snapshot:
    """Record the names bound in `namespace` (a notebook's `globals()`) before the parameters."""
    return Snapshot(namespace)


def _is_parameter(name: str, value: Any) -> bool:
    """Names that are not parameters: private ones (_x, IPython's _i1, _3) and imports."""
    if name.startswith("_"):
        return False
    return not isinstance(value, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType))


def _check_config_class(cls: Any) -> None:
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ValueError(f"config classes must be dataclass types, got {cls!r}")
    if not cls.__dataclass_params__.frozen:
        raise ValueError(f"config class {cls.__name__} must be a frozen dataclass (@dataclass(frozen=True))")


def _init_fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return repr(tp).replace("typing.", "")


def _fail(name: str, tp: Any, value: Any, detail: str = "") -> ValueError:
    extra = f" ({detail})" if detail else ""
    return ValueError(
        f"parameter {name!r}: expected {_type_name(tp)}, got {value!r} of type {type(value).__name__}{extra}"
    )


def coerce(name: str, value: Any, tp: Any) -> Any:
    """Return `value` converted to the annotation `tp`, or raise ValueError naming `name`.

    Handles bool, int, float, str, X | None, Literal[...], list[X], tuple[X, ...], tuple[X, Y],
    Enum subclasses and Any; other classes accept instances of themselves only.
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return coerce(name, value, option)
            except ValueError:
                continue
        raise _fail(name, tp, value)
    if origin is Literal:
        for allowed in args:  # exact first, so that True does not match 1
            if type(value) is type(allowed) and value == allowed:
                return allowed
        for allowed in args:
            try:
                if coerce(name, value, type(allowed)) == allowed:
                    return allowed
            except ValueError:
                continue
        raise ValueError(f"parameter {name!r}: expected one of {list(args)!r}, got {value!r}")
    if origin in (list, tuple) or tp in (list, tuple):
        return _coerce_sequence(name, value, tp, origin or tp, args)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _fail(name, tp, value, "use true/false")
    if tp is int:
        if isinstance(value, bool):
            raise _fail(name, tp, value)
        if isinstance(value, numbers.Integral):
            return int(value)
        number = value if isinstance(value, numbers.Real) else _parse_number(value)
        if number is not None and math.isfinite(number) and float(number).is_integer():
            return int(number)  # 3.0, '12', '1e3'; not 2.5
        raise _fail(name, tp, value)
    if tp is float:
        if isinstance(value, bool):
            raise _fail(name, tp, value)
        if isinstance(value, numbers.Real):
            return float(value)
        number = _parse_number(value)
        if number is not None:
            return float(number)
        raise _fail(name, tp, value)
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return str(value)  # papermill turns `-p run_name 2024` into an int
        raise _fail(name, tp, value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return value if isinstance(value, tp) else tp(value)
        except ValueError:
            raise ValueError(
                f"parameter {name!r}: expected one of {[m.value for m in tp]!r}, got {value!r}"
            ) from None
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise _fail(name, tp, value)


def _parse_number(value: Any) -> int | float | None:
    """int or float from a numeric string ('3', '1e-3', ' 0.5 '), else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return None


def _coerce_sequence(name: str, value: Any, tp: Any, container: type, args: tuple) -> Any:
    if isinstance(value, str):  # `-p sizes '[1, 2]'` arrives as a string
        import yaml

        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            raise _fail(name, tp, value) from None
    if not isinstance(value, (list, tuple)):
        raise _fail(name, tp, value, "expected a list")
    if container is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise _fail(name, tp, value, f"expected {len(args)} items")
        items = [coerce(f"{name}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args))]
    else:
        item_type = args[0] if args else Any
        items = [coerce(f"{name}[{i}]", v, item_type) for i, v in enumerate(value)]
    return container(items)


def from_dict(cls: type, values: Mapping[str, Any]) -> Any:
    """Build the frozen dataclass `cls` from `values` (coerced); unknown keys raise ValueError."""
    _check_config_class(cls)
    names = _init_fields(cls)
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(map(repr, unknown))} for {cls.__name__}; "
            f"allowed: {', '.join(names)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {n: coerce(n, values[n], hints.get(n, Any)) for n in names if n in values}
    try:
        return cls(**kwargs)
    except ValueError as e:
        e.add_note(f"while building {cls.__name__} from {sorted(kwargs)}")
        raise


def collect(namespace: Mapping[str, Any], before: Snapshot, *config_classes: type) -> tuple:
    """Turn the names bound since `before` into one instance of each of `config_classes`.

    Every such name (except private names and imports) must be a field of at least one class,
    else ValueError naming the unknown parameter(s) and listing the allowed names. A name that
    is a field of several classes goes to each. Returns a tuple in the order of the classes.
    """
    if not isinstance(before, Snapshot):
        raise ValueError(f"before must be the Snapshot returned by params.snapshot(), got {type(before).__name__}")
    if not config_classes:
        raise ValueError("collect needs at least one config class, e.g. params.RunConfig")
    for cls in config_classes:
        _check_config_class(cls)
    given = {n: namespace[n] for n in before.changed_names(namespace) if _is_parameter(n, namespace[n])}
    allowed: list[str] = []
    for cls in config_classes:
        allowed += [n for n in _init_fields(cls) if n not in allowed]
    unknown = [n for n in given if n not in allowed]
    if unknown:
        owners = ", ".join(c.__name__ for c in config_classes)
        raise ValueError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; "
            f"allowed parameters (fields of {owners}): {', '.join(allowed)}"
        )
    configs = tuple(
        from_dict(cls, {n: v for n, v in given.items() if n in _init_fields(cls)}) for cls in config_classes
    )
    log.info("parameters: %s", "; ".join(repr(c) for c in configs))
    return configs


def _json_default(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as JSON")


def _checked_dataclass(cfg: Any) -> Any:
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise ValueError(f"expected a dataclass instance, got {cfg!r}")
    return cfg


def _as_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(_checked_dataclass(cfg))


HASHED_WHEN_SET = "hashed_when_set"  # field metadata: see added_field


def added_field(default: Any) -> Any:
    """A config field added after runs were filed by the configs' hash: `config_hash` leaves it
    out while it holds `default`, so the run folders of every earlier config keep their names,
    and counts it once it is set to anything else."""
    return dataclasses.field(default=default, metadata={HASHED_WHEN_SET: True})


def added_defaults(cls: type) -> dict[str, Any]:
    """{name: default} of the added fields of dataclass `cls`: what a config saved before a field was
    added held, in effect (a saved config that lacks one is read with its default)."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.metadata.get(HASHED_WHEN_SET)}


def _hashed(value: Any) -> Any:
    """`value` as config_hash reads it: dataclasses.asdict, less added fields at their default."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _hashed(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (f.metadata.get(HASHED_WHEN_SET) and getattr(value, f.name) == f.default)}
    if isinstance(value, (list, tuple)):
        return type(value)(_hashed(v) for v in value)
    if isinstance(value, dict):
        return {k: _hashed(v) for k, v in value.items()}
    return value


def to_json(cfg: Any) -> str:
    """The config's fields as indented JSON, in field order (saved beside checkpoints)."""
    return json.dumps(_as_dict(cfg), indent=2, default=_json_default) + "\n"


def from_json(cls: type, text: str) -> Any:
    """Inverse of to_json: `from_json(type(cfg), to_json(cfg)) == cfg`."""
    return from_dict(cls, json.loads(text))


def config_hash(*cfgs: Any, length: int = 12) -> str:
    """Stable short hex hash of the configs' class names and contents (keys caches and
    checkpoints by config). Independent of field order, process and machine."""
    if not cfgs:
        raise ValueError("config_hash needs at least one config")
    if not 4 <= length <= 64:
        raise ValueError(f"length must be in 4..64, got {length}")
    payload = [[type(c).__qualname__, _hashed(_checked_dataclass(c))] for c in cfgs]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


# --------------------------------------------------------------------------------------------
# A notebook's parameters, read by another notebook (each value declared once)


PARAMETERS_TAG = "parameters"  # the tag of a notebook's parameters cell (papermill's)


def load_param_file(param_file: str | PurePath) -> dict[str, Any]:
    """The parameters in a YAML file: a mapping of names to values (empty file: none)."""
    from pathlib import Path

    import yaml

    path = Path(param_file)
    if not path.is_file():
        raise FileNotFoundError(f"param_file {str(path)!r} does not exist")
    values = yaml.safe_load(path.read_text(encoding="utf-8"))
    if values is None:
        return {}
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise ValueError(f"param_file {relative_to_root(path)!r} must hold a mapping of parameter names to values")
    return values


def notebook_parameters(stem: str, profile: str) -> dict[str, Any]:
    """The parameters notebooks/<stem>.ipynb runs with under `profile`: the values of its parameters
    cell, then those of params/<profile>/<stem>.yaml (the smoke profile has none), and the profile.
    How notebook 03 takes notebook 02's VAE and notebook 04's MoLIP: by reading their parameters,
    never by copying them."""
    path = notebooks_dir() / f"{stem}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"notebook {relative_to_root(path)!r} does not exist")
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
             if c["cell_type"] == "code" and PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"{relative_to_root(path)} must have one cell tagged {PARAMETERS_TAG!r}, has {len(cells)}")
    values: dict[str, Any] = {}
    exec("".join(cells[0]["source"]), {}, values)  # the repository's own notebook: plain assignments
    pfile = params_file(check_profile(profile), stem) if profile != "smoke" else None
    if pfile is not None:
        values.update(load_param_file(pfile))
    values["profile"] = profile
    return values
