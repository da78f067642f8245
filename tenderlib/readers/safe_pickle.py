"""Unpickling with an allow-list: pickle is code, so a keypoint file may only build plain data.

A pickle is a small program for a stack machine; its GLOBAL / STACK_GLOBAL instructions import
any attribute of any module (``os.system``, ``builtins.eval``, ``subprocess.Popen`` ...) and its
REDUCE instruction calls it. `pickle.load` on a file from the internet therefore runs whatever
the file says. The Holistic-Motion2D release ships its keypoints as pickles, so every pickle this
project reads goes through `SafeUnpickler`, whose `find_class` hands out only the callables needed
to rebuild numpy arrays, numpy dtypes and scalars, and builtins containers and scalars:

    numpy  ndarray, dtype, core.multiarray._reconstruct / scalar, core.numeric._frombuffer
           (the numpy 1 names ``numpy.core.*`` and the numpy 2 names ``numpy._core.*``)
    builtins  set, frozenset, bytearray, complex, slice, range  (lists, dicts, tuples, str,
              bytes, int, float, bool and None need no global: they are opcodes)
    collections.OrderedDict, and _codecs.encode (protocol 0-2 pickles store bytes through it)

Everything else is refused before it is imported, with `UnsafePickleError` naming the file and
the global. The allowed names resolve to fixed objects of this module, never through an import
of the name found in the file. A file that is not a pickle, or is truncated, raises
`CorruptPickleError`. Both are ValueErrors.

Known limit: the allow-list stops code execution, not resource exhaustion (a pickle can still
describe a huge array); readers check shapes after loading.
"""
from __future__ import annotations

import builtins
import codecs
import collections
import io
import logging
import pickle
from pathlib import Path

import numpy as np
from numpy._core import multiarray as _multiarray
from numpy._core import numeric as _numeric

logger = logging.getLogger(__name__)


class UnsafePickleError(ValueError):
    """The pickle tried to load a global that is not on the allow-list (nothing was run)."""


class CorruptPickleError(ValueError):
    """The file is not a readable pickle (truncated, corrupt, or not a pickle at all)."""


def _allowed() -> dict[tuple[str, str], object]:
    table: dict[tuple[str, str], object] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = _multiarray._reconstruct
        table[(mod, "scalar")] = _multiarray.scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        table[(mod, "_frombuffer")] = _numeric._frombuffer
    table[("numpy", "ndarray")] = np.ndarray
    table[("numpy", "dtype")] = np.dtype
    for name in ("set", "frozenset", "bytearray", "complex", "slice", "range"):
        table[("builtins", name)] = getattr(builtins, name)
    table[("collections", "OrderedDict")] = collections.OrderedDict
    table[("_codecs", "encode")] = codecs.encode
    return table


ALLOWED_GLOBALS: dict[tuple[str, str], object] = _allowed()
_MODULE_ALIASES = {"__builtin__": "builtins"}  # Python 2 names found in protocol 0-2 pickles


def allowed_names() -> list[str]:
    """The allow-list as sorted 'module.name' strings (for messages and docs)."""
    return sorted(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)


class SafeUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` that resolves only `ALLOWED_GLOBALS`; `name` labels error messages."""

    def __init__(self, file, *, name: str = "<pickle>"):
        super().__init__(file, fix_imports=False, encoding="latin1")  # latin1: numpy 1 / py2 arrays
        self.name = name

    def find_class(self, module: str, name: str):
        key = (_MODULE_ALIASES.get(module, module), name)
        obj = ALLOWED_GLOBALS.get(key)
        if obj is None:
            logger.warning("refused pickle %s: global %s.%s", self.name, module, name)
            raise UnsafePickleError(
                f"{self.name}: refused to unpickle: it loads the global {module}.{name}, which is not on "
                "the allow-list (numpy arrays, dtypes and scalars; builtins containers and scalars). "
                "Pickle is code: nothing from this file was run.")
        return obj

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.name}: refused to unpickle: it uses a persistent id ({pid!r}), "
                                "which plain data never needs")


def safe_loads(data: bytes, *, name: str = "<bytes>") -> object:
    """Unpickle `data` with the allow-list. Raises UnsafePickleError or CorruptPickleError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"data must be bytes, got {type(data).__name__}")
    try:
        return SafeUnpickler(io.BytesIO(data), name=name).load()
    except UnsafePickleError:
        raise
    except RecursionError:
        raise CorruptPickleError(f"{name}: not a readable pickle: nesting too deep") from None
    except Exception as e:  # UnpicklingError, EOFError, ValueError, TypeError, ... from a bad stream
        kind = "truncated pickle" if isinstance(e, EOFError) else "not a readable pickle"
        raise CorruptPickleError(f"{name}: {kind}: {type(e).__name__}: {e}") from None


def safe_load(path) -> object:
    """Unpickle the file at `path` with the allow-list (the file is read whole, then parsed)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorruptPickleError(f"{path}: cannot read file: {e.strerror or e}") from None
    if not data:
        raise CorruptPickleError(f"{path}: empty file (0 bytes), not a pickle")
    return safe_loads(data, name=str(path))
