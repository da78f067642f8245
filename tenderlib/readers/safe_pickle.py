"""Unpickling with an allow-list and a budget: pickle is code, so a keypoint file may only build plain data.

A pickle is a small program for a stack machine; its GLOBAL / STACK_GLOBAL instructions import
any attribute of any module (``os.system``, ``builtins.eval``, ``subprocess.Popen`` ...) and its
REDUCE instruction calls it. `pickle.load` on a file from the internet therefore runs whatever
the file says. The Holistic-Motion2D release ships its keypoints as pickles, so every pickle this
project reads goes through `SafeUnpickler`. It runs the pickle's instructions itself (in Python:
the C unpickler allocates what an instruction asks for before any hook could look at it), and
its `find_class` hands out only checked stand-ins for the callables needed to rebuild numpy
arrays, dtypes and scalars, and builtins containers and scalars:

    numpy  ndarray, dtype, core.multiarray._reconstruct / scalar, core.numeric._frombuffer
           (the numpy 1 names ``numpy.core.*`` and the numpy 2 names ``numpy._core.*``)
    builtins  set, frozenset, bytearray, bytes, complex, slice, range  (lists, dicts, tuples,
              str, bytes, int, float, bool and None need no global: they are opcodes)
    collections.OrderedDict, and _codecs.encode (latin-1 only: protocol 0-2 pickles store bytes
    through it)

Everything else is refused before it is imported, with `UnsafePickleError` naming the file and
the global. The allowed names resolve to fixed objects of this module (`ALLOWED_GLOBALS`), never
through an import of the name found in the file. Persistent ids, the copyreg extension registry
and out-of-band buffers are refused too; BUILD (an object's __setstate__) is accepted only on a
dtype or an array that the pickle has just created and not yet set.

Arrays hold plain numbers only. A dtype comes out of a pickle only if it is bool, int8-64,
uint8-64, float16/32/64 or complex64/128 (any byte order); object, string, bytes, void,
structured, subarray and datetime dtypes are refused (`UnsafePickleError`). A dtype is rebuilt
from its descriptor string ('f8', '<i4', 'b1'), checked first; the state numpy pickles with it
(byte order, subarray, names, fields, item size, alignment, flags) must be exactly that of the
plain dtype, and only its byte order is applied: a forged state (object flags on a float or void
dtype) would make numpy read bytes of the file as object pointers and crash the process. An
array's state (version, shape, dtype, fortran order, raw bytes) is checked the same way: a plain
dtype, and raw data exactly shape x itemsize bytes long; `_frombuffer` and `scalar` likewise.

Budget: `PickleLimits` bounds what one input may cost, each size checked before anything is
allocated: the file's size; the memo (entries and index); the bytes and elements of the arrays
(and of the bytes / bytearrays that calls build), in total and in proportion to the file; the
items, about 32 bytes of memory each, that the instructions create, calls copy and hashing
walks, in total and in proportion to the file; the loaded value walked as a tree, where an
object reached twice counts twice (a few hundred bytes of memo references cannot describe a
billion-element list for a reader to turn into an array); and the nesting of marks, tuples and
slices (Python hashes these recursively: a deep one would crash it). Integers are at most 4096
bytes (4300 digits in text). Going over a limit raises `PickleLimitError` naming the limit and
how to raise it, e.g. ``safe_load(path, limits=PickleLimits(max_bytes_total=2**31))``. The
defaults read a clip of 10,000 frames x 133 keypoints x 3 float64 (32 MB) with room to spare,
and let a file of N bytes build at most 4 N bytes of arrays and 4 N items, plus 1 MiB and 2**20
items, and never more than 512 MiB of arrays and 2**25 items (about 1 GiB).

Errors: `UnsafePickleError` (refused global, dtype or instruction), `CorruptPickleError` (not a
pickle, truncated, inconsistent) and its subclass `PickleLimitError`. All are ValueErrors.

Known limits: CPU time is bounded only through these counts (a dict of many integer keys with
equal hashes is still slow to build); lists and dicts nested deep are accepted (Python raises
RecursionError, not a crash, where they are walked), and readers still check the shapes they
get. This unpickler is Python, several times slower than the C one on pickles of many small
objects (per-frame lists of floats); arrays load as fast.
"""
from __future__ import annotations

import codecs
import collections
import io
import logging
import pickle
import re
import struct
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from numpy._core import multiarray as _multiarray
from numpy._core import numeric as _numeric

logger = logging.getLogger(__name__)


class UnsafePickleError(ValueError):
    """The pickle asks for something plain data never needs (a global off the allow-list, an
    object / string / structured dtype, a forged dtype state ...); nothing it named was run."""


class CorruptPickleError(ValueError):
    """The file is not a readable pickle (truncated, corrupt, or not a pickle at all)."""


class PickleLimitError(CorruptPickleError):
    """The pickle would cost more than its `PickleLimits` allow; raise the named limit to read it."""


@dataclass(frozen=True)
class PickleLimits:
    """What one pickle may cost, checked before allocating. Raise a field to read a larger file.

    max_file_bytes      size of the pickle itself
    max_bytes_total     bytes of the arrays, bytes and bytearrays that calls in the pickle build,
                        all together (the raw bytes in the file are bounded by max_file_bytes)
    max_expansion       those bytes at most this many times the pickle's own size plus 1 MiB,
                        and those items at most this many per byte of it plus 2**20: numpy builds
                        each array from bytes in the file (protocols 0-2 twice: a bytes object,
                        then the array) and plain data takes well under one item per byte, so a
                        few bytes asking for bytearray(2**28), a large array or a million empty
                        sets are refused whatever max_bytes_total and max_items allow
    max_array_elements  elements of all arrays together
    max_items           items (about 32 bytes of memory each: an empty list counts 2, a set 8)
                        that the instructions create, calls copy and hashing walks; and, apart,
                        the loaded value's size walked as a tree (each object 1, shared ones
                        counted each time they are reached)
    max_memo            memo entries, and the highest memo index
    max_depth           nesting of marks, of tuples and slices, and of the value if it shares parts
    """

    max_file_bytes: int = 1 << 30
    max_bytes_total: int = 1 << 29
    max_expansion: int = 4
    max_array_elements: int = 1 << 26
    max_items: int = 1 << 25
    max_memo: int = 1 << 22
    max_depth: int = 1000

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or value < 1:
                raise ValueError(f"PickleLimits.{f.name} must be a positive int, got {value!r}")


_MAX_INT_BYTES = 4096  # LONG1/LONG4; text INT/LONG are held to Python's default of 4300 digits
_MAX_INT_DIGITS = 4300
_MAX_DIMS = 64

# --------------------------------------------------------------------------------------------
# Plain dtypes

_PLAIN_CHARS = "?bBhHiIlLqQefdFD"  # bool, int8-64, uint8-64, float16/32/64, complex64/128
_PLAIN_TYPES = frozenset(type(np.dtype(c)) for c in _PLAIN_CHARS)
_DESCR = re.compile(r"[<>=|]?(?:b1|[iu][1248]|f[248]|c(?:8|16)|[" + re.escape(_PLAIN_CHARS) + r"])")
_BYTE_ORDERS = ("<", ">", "=", "|")


def _is_plain(dt) -> bool:
    """A genuine numpy dtype of plain numbers: no objects, fields, subarray, metadata or flags."""
    return (isinstance(dt, np.dtype) and type(dt) in _PLAIN_TYPES and dt.fields is None
            and dt.names is None and dt.subdtype is None and not dt.hasobject and dt.flags == 0
            and dt.metadata is None and dt.byteorder in _BYTE_ORDERS and dt.kind in "biufc")


def _refuse_dtype(vm, what) -> UnsafePickleError:
    return UnsafePickleError(
        f"{vm.name}: refused to unpickle: {what} is not a plain numeric dtype (bool, int, uint, "
        "float16/32/64, complex64/128): arrays of Python objects, strings, records, voids or dates "
        "are refused")


def _plain_descr(vm, descr) -> np.dtype:
    """A fresh, unshared dtype from a checked descriptor string such as 'f8', '<i4', 'b1'."""
    if isinstance(descr, bytes):
        descr = descr.decode("latin-1")
    if type(descr) is not str or len(descr) > 4 or not _DESCR.fullmatch(descr):
        raise _refuse_dtype(vm, f"dtype {descr!r}" if isinstance(descr, str) else
                            f"a dtype given as {type(descr).__name__}")
    dt = np.dtype(descr, align=False, copy=True)
    if not _is_plain(dt):
        raise _refuse_dtype(vm, f"dtype {descr!r}")
    return dt


def _dtype_arg(vm, dt, what) -> np.dtype:
    """A dtype argument: a checked descriptor, or a plain dtype, which no BUILD may change after."""
    if isinstance(dt, (str, bytes)):
        return _plain_descr(vm, dt)
    if not _is_plain(dt):
        raise _refuse_dtype(vm, f"the dtype given to {what} ({dt!r:.80})")
    if vm._fresh.get(id(dt)) is dt:
        del vm._fresh[id(dt)]
    return dt


def _shape(vm, shape, what) -> tuple[tuple[int, ...], int]:
    """(shape as a tuple of ints, element count), the count checked before any allocation."""
    if type(shape) is int:
        shape = (shape,)
    if type(shape) not in (tuple, list) or len(shape) > _MAX_DIMS:
        raise CorruptPickleError(f"{vm.name}: not a readable pickle: {what} has shape {shape!r:.80}")
    dims = []
    for d in shape:
        if type(d) not in (int, bool) or d < 0:
            raise CorruptPickleError(f"{vm.name}: not a readable pickle: {what} has shape {shape!r:.80}")
        dims.append(int(d))
    count = 0 if 0 in dims else 1
    for d in dims:
        count *= d
        if count > vm.limits.max_array_elements:
            vm._over("max_array_elements", f"an array of shape {tuple(dims)!r:.80} ({what})")
    return tuple(dims), count


# --------------------------------------------------------------------------------------------
# The allowed globals: checked stand-ins. Each takes the running unpickler first.


class _Guard:
    """An allow-listed global. Called by an unpickler with its budget; called directly, with the
    default limits."""

    __slots__ = ("qualname", "_fn")

    def __init__(self, qualname: str, fn):
        self.qualname = qualname
        self._fn = fn

    def __call__(self, *args):
        return self._fn(SafeUnpickler(io.BytesIO(b""), name=f"<{self.qualname}>"), *args)

    def __repr__(self):
        return f"<allow-listed {self.qualname}>"


def _arity(vm, what, args, lo, hi):
    if not lo <= len(args) <= hi:
        raise UnsafePickleError(f"{vm.name}: refused to unpickle: it calls {what} with {len(args)} "
                                "arguments, which plain data never does")


def _g_dtype(vm, *args):
    _arity(vm, "numpy.dtype", args, 1, 3)
    if any(type(a) not in (bool, int) or a not in (0, 1) for a in args[1:]):
        raise UnsafePickleError(f"{vm.name}: refused to unpickle: numpy.dtype called with {args[1:]!r:.80}")
    dt = _plain_descr(vm, args[0])
    vm._fresh[id(dt)] = dt  # its BUILD may set the byte order, once
    return dt


def _g_ndarray(vm, *args):
    raise UnsafePickleError(f"{vm.name}: refused to unpickle: it calls numpy.ndarray, which numpy's "
                            "pickles only pass to _reconstruct")


def _g_reconstruct(vm, *args):
    _arity(vm, "numpy _reconstruct", args, 3, 3)
    subtype, shape, dt = args
    if subtype is not _NDARRAY and subtype is not np.ndarray:
        raise UnsafePickleError(f"{vm.name}: refused to unpickle: _reconstruct of {subtype!r:.80}, "
                                "not of numpy.ndarray")
    dt = _dtype_arg(vm, dt, "_reconstruct")
    shape, count = _shape(vm, shape, "_reconstruct")
    vm._charge_array(count, count * dt.itemsize, "_reconstruct")
    arr = np.zeros(shape, dtype=dt)
    vm._fresh[id(arr)] = arr  # its BUILD sets shape, dtype and data, once
    return arr


def _g_scalar(vm, *args):
    _arity(vm, "numpy scalar", args, 2, 2)
    dt, data = args
    dt = _dtype_arg(vm, dt, "scalar")
    if isinstance(data, str):  # a Python 2 str, read as latin-1
        if len(data) != dt.itemsize:
            raise CorruptPickleError(f"{vm.name}: not a readable pickle: a {dt} scalar of {len(data)} bytes")
        data = data.encode("latin-1")
    if type(data) is not bytes or len(data) != dt.itemsize:
        raise CorruptPickleError(f"{vm.name}: not a readable pickle: a {dt} scalar from "
                                 f"{type(data).__name__} of {len(data) if hasattr(data, '__len__') else '?'} bytes")
    return _multiarray.scalar(dt, data)


def _g_frombuffer(vm, *args):
    _arity(vm, "numpy _frombuffer", args, 4, 5)
    buf, dt, shape, order = args[:4]
    axis_order = args[4] if len(args) == 5 else None
    if type(buf) not in (bytes, bytearray, memoryview):
        raise UnsafePickleError(f"{vm.name}: refused to unpickle: _frombuffer of a {type(buf).__name__}")
    if type(buf) is memoryview and not buf.c_contiguous:
        raise CorruptPickleError(f"{vm.name}: not a readable pickle: _frombuffer of a non-contiguous buffer")
    nbytes = buf.nbytes if type(buf) is memoryview else len(buf)
    dt = _dtype_arg(vm, dt, "_frombuffer")
    if type(shape) is not tuple:
        raise CorruptPickleError(f"{vm.name}: not a readable pickle: _frombuffer shape {shape!r:.80}")
    shape, count = _shape(vm, shape, "_frombuffer")
    if order == "K" and axis_order is not None:
        if type(axis_order) is not tuple or sorted(axis_order) != list(range(len(shape))) or \
                any(type(i) is not int for i in axis_order):
            raise CorruptPickleError(f"{vm.name}: not a readable pickle: _frombuffer axis order {axis_order!r:.80}")
    elif order not in ("C", "F") or axis_order is not None:
        raise CorruptPickleError(f"{vm.name}: not a readable pickle: _frombuffer order {order!r:.20}")
    if nbytes != count * dt.itemsize:
        raise CorruptPickleError(f"{vm.name}: not a readable pickle: an array of shape {shape} and dtype "
                                 f"{dt} needs {count * dt.itemsize} bytes, the buffer has {nbytes}")
    vm._charge_array(count, nbytes, "_frombuffer")
    if axis_order is not None:
        return _numeric._frombuffer(buf, dt, shape, order, axis_order)
    return _numeric._frombuffer(buf, dt, shape, order)


_LATIN1 = frozenset({"latin1", "latin-1", "latin_1", "iso-8859-1", "iso8859-1", "iso_8859_1", "l1"})


def _bytes_from(vm, what, args):
    """The bytes that bytes(*args) / bytearray(*args) would hold, sized before they are made."""
    _arity(vm, what, args, 0, 3)
    if not args:
        return b""
    src = args[0]
    if len(args) == 1 and type(src) in (bytes, bytearray, memoryview):
        vm._charge_bytes(memoryview(src).nbytes, what)
        return src
    if len(args) == 1 and type(src) is int and src >= 0:
        vm._charge_bytes(src, what)
        return src
    if type(src) is str and len(args) >= 2 and type(args[1]) is str and args[1].lower() in _LATIN1 and \
            (len(args) == 2 or args[2] == "strict"):
        vm._charge_bytes(len(src), what)
        return src.encode("latin-1")
    raise UnsafePickleError(f"{vm.name}: refused to unpickle: {what} called with "
                            f"{', '.join(type(a).__name__ for a in args)}, which plain data never does")


def _g_bytearray(vm, *args):
    return bytearray(_bytes_from(vm, "builtins.bytearray", args))


def _g_bytes(vm, *args):
    return bytes(_bytes_from(vm, "builtins.bytes", args))


def _g_encode(vm, *args):
    _arity(vm, "_codecs.encode", args, 1, 3)
    obj = args[0]
    encoding = args[1] if len(args) > 1 else "utf-8"
    errors = args[2] if len(args) > 2 else "strict"
    if type(obj) is not str or type(encoding) is not str or encoding.lower() not in _LATIN1 or errors != "strict":
        raise UnsafePickleError(f"{vm.name}: refused to unpickle: _codecs.encode of a {type(obj).__name__} "
                                f"as {encoding!r:.40}; pickles only encode str as latin-1")
    vm._charge_bytes(len(obj), "_codecs.encode")
    return codecs.encode(obj, "latin-1")


def _items_arg(vm, what, args, pairs=False):
    _arity(vm, what, args, 0, 1)
    if not args:
        return ()
    src = args[0]
    kinds = (list, tuple, dict, collections.OrderedDict) if pairs else (list, tuple, set, frozenset)
    if type(src) not in kinds:
        raise UnsafePickleError(f"{vm.name}: refused to unpickle: {what} of a {type(src).__name__}, "
                                "which plain data never does")
    vm._charge_items(2 * len(src), what)
    if pairs and type(src) in (list, tuple):
        for pair in src:
            if type(pair) not in (list, tuple) or len(pair) != 2:
                raise CorruptPickleError(f"{vm.name}: not a readable pickle: {what} item {pair!r:.80}")
            vm._charge_hash(pair[0], what)
    elif not pairs:
        for x in src:
            vm._charge_hash(x, what)
    return src


def _g_set(vm, *args):
    return set(_items_arg(vm, "builtins.set", args))


def _g_frozenset(vm, *args):
    return frozenset(_items_arg(vm, "builtins.frozenset", args))


def _g_ordereddict(vm, *args):
    return collections.OrderedDict(_items_arg(vm, "collections.OrderedDict", args, pairs=True))


def _g_complex(vm, *args):
    _arity(vm, "builtins.complex", args, 0, 2)
    if any(type(a) not in (int, float, complex, bool) and not (type(a) is str and len(a) < 100)
           for a in args):
        raise UnsafePickleError(f"{vm.name}: refused to unpickle: builtins.complex of "
                                f"{', '.join(type(a).__name__ for a in args)}")
    return complex(*args)


def _g_slice(vm, *args):
    _arity(vm, "builtins.slice", args, 1, 3)
    value = slice(*args)
    return vm._record(value, (value.start, value.stop, value.step))


def _g_range(vm, *args):
    _arity(vm, "builtins.range", args, 1, 3)
    if any(type(a) is not int for a in args):
        raise UnsafePickleError(f"{vm.name}: refused to unpickle: builtins.range of "
                                f"{', '.join(type(a).__name__ for a in args)}")
    return range(*args)


_NDARRAY = _Guard("numpy.ndarray", _g_ndarray)


def _allowed() -> dict[tuple[str, str], _Guard]:
    table: dict[tuple[str, str], _Guard] = {}
    reconstruct = _Guard("numpy._core.multiarray._reconstruct", _g_reconstruct)
    scalar = _Guard("numpy._core.multiarray.scalar", _g_scalar)
    frombuffer = _Guard("numpy._core.numeric._frombuffer", _g_frombuffer)
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(mod, "_reconstruct")] = reconstruct
        table[(mod, "scalar")] = scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        table[(mod, "_frombuffer")] = frombuffer
    table[("numpy", "ndarray")] = _NDARRAY
    table[("numpy", "dtype")] = _Guard("numpy.dtype", _g_dtype)
    for name, fn in (("set", _g_set), ("frozenset", _g_frozenset), ("bytearray", _g_bytearray),
                     ("bytes", _g_bytes), ("complex", _g_complex), ("slice", _g_slice), ("range", _g_range)):
        table[("builtins", name)] = _Guard(f"builtins.{name}", fn)
    table[("collections", "OrderedDict")] = _Guard("collections.OrderedDict", _g_ordereddict)
    table[("_codecs", "encode")] = _Guard("_codecs.encode", _g_encode)
    return table


ALLOWED_GLOBALS: dict[tuple[str, str], _Guard] = _allowed()
_MODULE_ALIASES = {"__builtin__": "builtins"}  # Python 2 names found in protocol 0-2 pickles
_NAME_ALIASES = {("builtins", "xrange"): ("builtins", "range")}  # what Python 3 writes for range at protocol 0-2


def allowed_names() -> list[str]:
    """The allow-list as sorted 'module.name' strings (for messages and docs)."""
    return sorted(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)


# --------------------------------------------------------------------------------------------
# BUILD: only a dtype or array just made by the guards above, once each


def _build_dtype(vm, dt: np.dtype, state) -> None:
    """Apply the byte order of numpy's dtype state, after checking the rest is the plain dtype's.

    numpy pickles a dtype as dtype('f8', False, True) and then the state (version, byteorder,
    subarray, names, fields, elsize, alignment, flags[, metadata]); a forged one can turn a float
    or void dtype into one that 'holds objects', so nothing but the byte order is taken from it.
    """
    def forged(why):
        return UnsafePickleError(f"{vm.name}: refused to unpickle: the state given to dtype {dt} ({why}) "
                                 "is not that of a plain numeric dtype: a forged dtype state")
    if type(state) is not tuple or len(state) not in (8, 9):
        raise forged(f"{type(state).__name__} of length {len(state) if hasattr(state, '__len__') else '?'}")
    version, order, subarray, names, fields_, elsize, alignment, flags = state[:8]
    metadata = state[8] if len(state) == 9 else None
    if type(version) is not int or version not in (3, 4):
        raise forged(f"version {version!r:.20}")
    if type(order) is not str or order not in _BYTE_ORDERS:
        raise forged(f"byte order {order!r:.20}")
    if subarray is not None or names is not None or fields_ is not None or metadata is not None:
        raise forged("subarray, names, fields or metadata")
    if type(elsize) is not int or elsize not in (-1, dt.itemsize):
        raise forged(f"item size {elsize!r:.20}")
    if type(alignment) is not int or alignment not in (-1, dt.alignment):
        raise forged(f"alignment {alignment!r:.20}")
    if type(flags) is not int or flags != 0:
        raise forged(f"flags {flags!r:.20}")
    if dt.itemsize == 1:
        order = "|"
    elif order == "|":
        raise forged(f"byte order '|' for a {dt.itemsize}-byte type")
    kind, size = dt.kind, dt.itemsize
    dt.__setstate__((3, order, None, None, None, -1, -1, 0))  # built here, from checked values only
    if not _is_plain(dt) or dt.kind != kind or dt.itemsize != size:
        raise forged("numpy did not keep it plain")


def _build_array(vm, arr: np.ndarray, state) -> None:
    """ndarray.__setstate__((version, shape, dtype, is_fortran, rawdata)), checked first."""
    if type(state) is not tuple or len(state) not in (4, 5):
        raise CorruptPickleError(f"{vm.name}: not a readable pickle: array state {type(state).__name__}")
    version, (shape, dt, fortran, raw) = (state[0], state[1:]) if len(state) == 5 else (0, state)
    if type(version) is not int or version not in (0, 1):
        raise CorruptPickleError(f"{vm.name}: not a readable pickle: array state version {version!r:.20}")
    if not isinstance(dt, np.dtype):
        raise _refuse_dtype(vm, f"the array dtype {dt!r:.80}")
    dt = _dtype_arg(vm, dt, "an array state")
    if type(shape) is not tuple:
        raise CorruptPickleError(f"{vm.name}: not a readable pickle: array shape {shape!r:.80}")
    shape, count = _shape(vm, shape, "an array state")
    if type(fortran) not in (bool, int) or fortran not in (0, 1):
        raise CorruptPickleError(f"{vm.name}: not a readable pickle: array order flag {fortran!r:.20}")
    nbytes = count * dt.itemsize
    if type(raw) is str:  # a Python 2 str, read as latin-1
        if len(raw) != nbytes:
            raise CorruptPickleError(f"{vm.name}: not a readable pickle: an array of shape {shape} and dtype "
                                     f"{dt} needs {nbytes} bytes, the data has {len(raw)}")
        raw = raw.encode("latin-1")
    if type(raw) is not bytes:
        raise UnsafePickleError(f"{vm.name}: refused to unpickle: array data given as {type(raw).__name__} "
                                "(an array of Python objects)")
    if len(raw) != nbytes:
        raise CorruptPickleError(f"{vm.name}: not a readable pickle: an array of shape {shape} and dtype "
                                 f"{dt} needs {nbytes} bytes, the data has {len(raw)}")
    vm._charge_array(count, nbytes, "an array")
    arr.__setstate__((1, shape, dt, bool(fortran), raw))  # rebuilt from checked values only


# --------------------------------------------------------------------------------------------
# The machine

_CONTAINERS = (list, tuple, dict, set, frozenset, collections.OrderedDict, slice)
# What a new value counts in items: about one per 32 bytes it takes (numpy arrays and dtypes: 4;
# a dict entry adds 1, a set element 2). Each opcode is a byte or more, so a file of N bytes
# creates at most about 8 N items: max_items bounds what the smallest instructions can pile up.
_UNITS = {list: 2, tuple: 2, dict: 3, set: 8, frozenset: 8, collections.OrderedDict: 8, slice: 2, complex: 1}
_HASH_WALKED = (tuple, slice)  # hashed by walking their parts each time (a frozenset keeps its hash)
_U1, _U2, _I4, _U4, _U8, _F8 = (struct.Struct(f) for f in ("<B", "<H", "<i", "<I", "<Q", ">d"))


def _truncated(detail: str) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(f"pickle data was truncated: {detail}")


class SafeUnpickler:
    """Reads one pickle from `file` with the allow-list and `limits`; `name` labels error messages.

    load() reads the file to its end (up to limits.max_file_bytes); on a seekable file it leaves
    the position just after the pickle's STOP, as pickle.Unpickler does.
    """

    def __init__(self, file, *, name: str = "<pickle>", limits: PickleLimits | None = None):
        if limits is None:
            limits = PickleLimits()
        if not isinstance(limits, PickleLimits):
            raise TypeError(f"limits must be a PickleLimits, got {type(limits).__name__}")
        self._file = file
        self._data = None  # the pickle, while it is read
        self._start = None  # where the pickle began in a seekable file
        self.name = name
        self.limits = limits
        self._reset()

    def _reset(self):
        self._stack, self._marks, self._memo = [], [], []
        self._sparse: dict[int, object] = {}  # memo entries put out of order (Python's picklers never do)
        self._items = self._bytes_total = self._elements = 0
        self._item_cap = self.limits.max_items
        if self._data is not None:
            self._item_cap = min(self._item_cap, self.limits.max_expansion * len(self._data) + (1 << 20))
        self._fresh: dict[int, object] = {}  # dtypes / arrays awaiting their one BUILD
        self._nested: dict[int, tuple[int, int]] = {}  # id(tuple or slice holding some) -> hash walk
        self._shared = False  # a memo GET / DUP handed out a container a second time

    # -- allow-list -------------------------------------------------------------------------

    def find_class(self, module: str, name: str):
        key = (_MODULE_ALIASES.get(module, module), name)
        obj = ALLOWED_GLOBALS.get(_NAME_ALIASES.get(key, key))
        if obj is None:
            logger.warning("refused pickle %s: global %s.%s", self.name, module, name)
            raise UnsafePickleError(
                f"{self.name}: refused to unpickle: it loads the global {module}.{name}, which is not on "
                "the allow-list (numpy arrays, dtypes and scalars; builtins containers and scalars). "
                "Pickle is code: nothing from this file was run.")
        return obj

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.name}: refused to unpickle: it uses a persistent id ({pid!r:.80}), "
                                "which plain data never needs")

    # -- budget -----------------------------------------------------------------------------

    def _over(self, field: str, what: str):
        value = getattr(self.limits, field)
        raise PickleLimitError(
            f"{self.name}: refused to unpickle: {what} goes over PickleLimits.{field} = {value:,}; if the "
            f"file is trusted to be this large, pass limits=PickleLimits({field}=...) (safe_load / safe_loads)")

    def _charge_items(self, n: int, what: str):
        self._items += n
        if self._items > self._item_cap:
            self._over_items(what)

    def _over_items(self, what: str):
        if self._items > self.limits.max_items:
            self._over("max_items", what)
        self._over("max_expansion", f"{what} ({self._items:,} items from a pickle of {len(self._data):,} bytes)")

    def _charge_bytes(self, n: int, what: str):
        total = self._bytes_total + n
        if total > self.limits.max_bytes_total:
            self._over("max_bytes_total", f"{what} of {n:,} bytes")
        if self._data is not None and total > self.limits.max_expansion * len(self._data) + (1 << 20):
            self._over("max_expansion", f"{what} of {n:,} bytes ({total:,} built in all, from a pickle of "
                                        f"{len(self._data):,} bytes)")
        self._bytes_total = total

    def _charge_array(self, count: int, nbytes: int, what: str):
        if count > self.limits.max_array_elements - self._elements:
            self._over("max_array_elements", f"{what} of {count:,} elements")
        self._charge_bytes(nbytes, what)
        self._elements += count

    def _hash_walk(self, x) -> tuple[int, int]:
        """(items, depth) that hashing the tuple or slice `x` walks."""
        return self._nested.get(id(x)) or ((1 + len(x), 1) if type(x) is tuple else (4, 1))

    def _charge_hash(self, key, what: str):
        """Hashing a tuple (or slice) walks it, shared parts again each time: charge that walk."""
        if type(key) in _HASH_WALKED:
            self._charge_items(self._hash_walk(key)[0], what)

    def _record(self, obj, parts):
        """Note the hash walk of a new tuple or slice, refusing one too deep or too costly to hash
        (Python hashes them recursively and unguarded: a deep one crashes the process)."""
        cost, depth = 1, 1
        for x in parts:
            if type(x) in _HASH_WALKED:
                c, d = self._hash_walk(x)
                cost += c
                if d >= depth:
                    depth = d + 1
            else:
                cost += 1
        if depth > self.limits.max_depth:
            self._over("max_depth", f"a {type(obj).__name__} nested {depth} deep")
        if cost > self.limits.max_items:
            self._over("max_items", f"a {type(obj).__name__} of {cost:,} items (counting shared parts each time)")
        # Every tuple and slice is made here, so an entry left by a dead one whose id is reused is
        # dropped or overwritten before it could be read.
        if depth > 1:
            self._nested[id(obj)] = (cost, depth)
            self._items += 4  # the entry
        else:
            self._nested.pop(id(obj), None)
        return obj

    # -- reading ----------------------------------------------------------------------------

    def _read_all(self) -> bytes:
        f, cap = self._file, self.limits.max_file_bytes
        self._start = None
        try:
            if f.seekable():
                self._start = f.tell()
        except (AttributeError, OSError, ValueError):
            pass
        chunks, total = [], 0
        while True:
            chunk = f.read(min(1 << 24, cap + 1 - total))
            if not chunk:
                break
            chunks.append(bytes(chunk))
            total += len(chunk)
            if total > cap:
                self._over("max_file_bytes", "the file")
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _take(self, n: int) -> bytes:
        p = self._pos
        q = p + n
        if n < 0 or q > self._end:
            raise _truncated(f"needs {n} bytes at offset {p}, {self._end - p} left")
        self._pos = q
        return self._data[p:q]

    def _unpack(self, st: struct.Struct):
        p = self._pos
        q = p + st.size
        if q > self._end:
            raise _truncated(f"needs {st.size} bytes at offset {p}")
        self._pos = q
        return st.unpack_from(self._data, p)[0]

    def _line(self) -> bytes:
        p = self._pos
        q = self._data.find(b"\n", p, self._end)
        if q < 0:
            raise _truncated(f"no end of line after offset {p}")
        self._pos = q + 1
        return self._data[p:q]

    # -- stack ------------------------------------------------------------------------------

    def _pop(self):
        stack, marks = self._stack, self._marks
        if len(stack) <= (marks[-1] if marks else 0):
            raise pickle.UnpicklingError("stack underflow")
        return stack.pop()

    def _top(self):
        stack, marks = self._stack, self._marks
        if len(stack) <= (marks[-1] if marks else 0):
            raise pickle.UnpicklingError("stack underflow")
        return stack[-1]

    def _pop_mark(self) -> list:
        if not self._marks:
            raise pickle.UnpicklingError("could not find MARK")
        k = self._marks.pop()
        items = self._stack[k:]
        del self._stack[k:]
        return items

    def _push(self, value, units: int = 1):
        """Push a new value, counted in items (units of about 32 bytes: see _UNITS)."""
        self._items += units
        self._stack.append(value)

    def _tuple(self, items) -> tuple:
        t = tuple(items)
        return self._record(t, t)

    def _call(self, func, args, kwargs=None):
        if type(func) is not _Guard:
            raise UnsafePickleError(f"{self.name}: refused to unpickle: it calls a {type(func).__name__}, "
                                    "not an allow-listed global")
        if type(args) is not tuple or kwargs:
            raise UnsafePickleError(f"{self.name}: refused to unpickle: it calls {func.qualname} with "
                                    f"arguments {type(args).__name__}{' and keywords' if kwargs else ''}")
        value = func._fn(self, *args)
        self._push(value, _UNITS.get(type(value), 1) if not isinstance(value, (np.ndarray, np.dtype)) else 4)

    # -- the loop ---------------------------------------------------------------------------

    def load(self):
        """Read, check and build the pickled value. Raises UnsafePickleError, PickleLimitError,
        or the parse error (safe_loads turns those into CorruptPickleError)."""
        return self._run(self._read_all())

    def _run(self, data: bytes):
        """The loop: the opcodes of plain data (floats, small ints, short strings, lists, marks,
        memo) inline, the others through the _op_* methods; every one bounded as it runs."""
        self._data, self._pos, self._end = data, 0, len(data)
        self._reset()
        dispatch = [getattr(self, _DISPATCH.get(i, "_op_unknown")) for i in range(256)]
        stack, marks, memo, sparse = self._stack, self._marks, self._memo, self._sparse
        append = stack.append
        max_items, max_memo, max_depth = self._item_cap, self.limits.max_memo, self.limits.max_depth
        unpack_float, end, pos, items = _F8.unpack_from, len(data), 0, 0
        while True:
            if pos >= end:
                raise EOFError("Ran out of input: no STOP at the end of the pickle")
            op = data[pos]
            pos += 1
            if op == 0x47:  # BINFLOAT
                if pos + 8 > end:
                    raise _truncated(f"needs 8 bytes at offset {pos}")
                append(unpack_float(data, pos)[0])
                pos += 8
                items += 1
            elif op == 0x94:  # MEMOIZE
                if len(stack) <= (marks[-1] if marks else 0):
                    raise pickle.UnpicklingError("stack underflow")
                if len(memo) >= max_memo or sparse:
                    self._put(len(memo) + len(sparse))
                else:
                    memo.append(stack[-1])
            elif op == 0x5D:  # EMPTY_LIST
                append([])
                items += 2
            elif op == 0x28:  # MARK
                if len(marks) >= max_depth:
                    self._over("max_depth", f"marks nested {len(marks) + 1} deep")
                marks.append(len(stack))
            elif op == 0x65:  # APPENDS
                if not marks:
                    raise pickle.UnpicklingError("could not find MARK")
                k = marks.pop()
                if k <= (marks[-1] if marks else 0):
                    raise pickle.UnpicklingError("stack underflow")
                target = stack[k - 1]
                if type(target) is not list:
                    raise pickle.UnpicklingError(f"APPENDS to a {type(target).__name__}")
                target.extend(stack[k:])
                del stack[k:]
            elif op == 0x68 or op == 0x71:  # BINGET, BINPUT
                if pos >= end:
                    raise _truncated(f"needs 1 byte at offset {pos}")
                i = data[pos]
                pos += 1
                if op == 0x71:
                    self._put(i)
                elif i < len(memo):
                    value = memo[i]
                    if type(value) in _CONTAINERS:
                        self._shared = True
                    append(value)
                else:
                    self._get(i)
            elif op == 0x4B:  # BININT1
                if pos >= end:
                    raise _truncated(f"needs 1 byte at offset {pos}")
                append(data[pos])
                pos += 1
                items += 1
            elif op == 0x8C:  # SHORT_BINUNICODE
                if pos >= end or pos + 1 + data[pos] > end:
                    raise _truncated(f"a short string past the end at offset {pos}")
                q = pos + 1 + data[pos]
                append(str(data[pos + 1:q], "utf-8", "surrogatepass"))
                pos = q
                items += 1
            elif op == 0x2E:  # STOP
                if len(stack) <= (marks[-1] if marks else 0):
                    raise pickle.UnpicklingError("stack underflow")
                value = stack.pop()
                break
            else:
                self._pos, self._items = pos, items
                dispatch[op]()
                pos, items = self._pos, self._items
            if items > max_items:
                self._items = items
                self._over_items("the values this pickle creates")
        self._pos = pos
        if self._file is not None and self._start is not None:
            self._file.seek(self._start + pos)
        shared = self._shared
        self._data = None
        self._reset()  # drop the memo and bookkeeping: the value is all that is kept
        if shared:
            self._check_tree(value)
        return value

    def _check_tree(self, root):
        """The value's size as a tree (shared containers counted each time they are reached) and
        its depth: what any code that walks it, or turns nested lists into an array, will pay."""
        limit, max_depth = self.limits.max_items, self.limits.max_depth
        sizes: dict[int, int] = {}
        on_path: set[int] = set()

        def children(x):
            if isinstance(x, dict):
                return iter([*x.keys(), *x.values()])
            if type(x) is slice:
                return iter((x.start, x.stop, x.step))
            return iter(x)

        path = [(root, children(root), 1)] if type(root) in _CONTAINERS else []
        if path:
            on_path.add(id(root))
        total = 1
        while path:
            obj, it, acc = path[-1]
            for child in it:
                if type(child) in _CONTAINERS:
                    cid = id(child)
                    size = sizes.get(cid)
                    if size is not None:
                        acc += size
                    elif cid in on_path:
                        acc += 1  # a cycle: its members are counted where they are first reached
                    else:
                        if len(path) >= max_depth:
                            self._over("max_depth", f"a value nested {len(path) + 1} deep")
                        path[-1] = (obj, it, acc)
                        path.append((child, children(child), 1))
                        on_path.add(cid)
                        break
                else:
                    acc += 1
                if acc > limit:
                    self._over("max_items", "the value as a tree (shared parts counted each time)")
            else:
                path.pop()
                on_path.discard(id(obj))
                sizes[id(obj)] = acc
                if path:
                    parent, pit, pacc = path[-1]
                    pacc += acc
                    if pacc > limit:
                        self._over("max_items", "the value as a tree (shared parts counted each time)")
                    path[-1] = (parent, pit, pacc)
                else:
                    total = acc
        return total

    # -- opcodes ----------------------------------------------------------------------------

    def _op_unknown(self):
        raise pickle.UnpicklingError(f"invalid load key, {self._data[self._pos - 1:self._pos]!r}")

    def _op_proto(self):
        proto = self._unpack(_U1)
        if proto > pickle.HIGHEST_PROTOCOL:
            raise ValueError(f"unsupported pickle protocol: {proto}")

    def _op_frame(self):
        size = self._unpack(_U8)
        if size > self._end - self._pos:
            raise _truncated(f"a frame of {size} bytes, {self._end - self._pos} left")

    def _op_pop(self):
        if self._marks and len(self._stack) == self._marks[-1]:
            self._marks.pop()
        else:
            self._pop()

    def _op_pop_mark(self):
        self._pop_mark()

    def _op_dup(self):
        value = self._top()
        if type(value) in _CONTAINERS:
            self._shared = True
        self._stack.append(value)

    # numbers

    def _op_none(self):
        self._push(None)

    def _op_false(self):
        self._push(False)

    def _op_true(self):
        self._push(True)

    def _text_int(self, text: bytes) -> int:
        if len(text) > _MAX_INT_DIGITS + 2:
            raise PickleLimitError(f"{self.name}: refused to unpickle: an integer of {len(text):,} digits "
                                   f"(at most {_MAX_INT_DIGITS} are read)")
        return int(text, 0)

    def _op_int(self):
        line = self._line()
        if line == b"00":
            self._push(False)
        elif line == b"01":
            self._push(True)
        else:
            self._push(self._text_int(line))

    def _op_binint(self):
        self._push(self._unpack(_I4))

    def _op_binint2(self):
        self._push(self._unpack(_U2))

    def _op_long(self):
        line = self._line()
        if line.endswith(b"L"):
            line = line[:-1]
        self._push(self._text_int(line))

    def _long(self, n: int):
        if n < 0:
            raise pickle.UnpicklingError("LONG pickle has negative byte count")
        if n > _MAX_INT_BYTES:
            raise PickleLimitError(f"{self.name}: refused to unpickle: an integer of {n:,} bytes "
                                   f"(at most {_MAX_INT_BYTES} are read)")
        self._push(int.from_bytes(self._take(n), "little", signed=True))

    def _op_long1(self):
        self._long(self._unpack(_U1))

    def _op_long4(self):
        self._long(self._unpack(_I4))

    def _op_float(self):
        self._push(float(self._line()))

    # strings

    def _op_string(self):
        data = self._line()
        if len(data) < 2 or data[0] != data[-1] or data[:1] not in (b"'", b'"'):
            raise pickle.UnpicklingError("the STRING opcode argument must be quoted")
        self._push(codecs.escape_decode(data[1:-1])[0].decode("latin-1"))

    def _op_binstring(self):
        n = self._unpack(_I4)
        if n < 0:
            raise pickle.UnpicklingError("BINSTRING pickle has negative byte count")
        self._push(self._take(n).decode("latin-1"))

    def _op_short_binstring(self):
        self._push(self._take(self._unpack(_U1)).decode("latin-1"))

    def _op_binbytes(self):
        self._push(self._take(self._unpack(_U4)))

    def _op_short_binbytes(self):
        self._push(self._take(self._unpack(_U1)))

    def _op_binbytes8(self):
        self._push(self._take(self._unpack(_U8)))

    def _op_bytearray8(self):
        n = self._unpack(_U8)
        if n > self._end - self._pos:
            raise _truncated(f"needs {n} bytes at offset {self._pos}")
        p = self._pos
        self._pos = p + n
        self._push(bytearray(memoryview(self._data)[p:p + n]))

    def _op_next_buffer(self):
        raise pickle.UnpicklingError("the pickle refers to out-of-band buffers, which a file cannot hold")

    def _op_readonly_buffer(self):
        buf = self._top()
        if type(buf) not in (bytes, bytearray, memoryview):
            raise pickle.UnpicklingError(f"READONLY_BUFFER on a {type(buf).__name__}")
        if type(buf) is bytearray:
            self._stack[-1] = memoryview(buf).toreadonly()

    def _op_unicode(self):
        self._push(str(self._line(), "raw-unicode-escape"))

    def _op_binunicode(self):
        self._push(str(self._take(self._unpack(_U4)), "utf-8", "surrogatepass"))

    def _op_binunicode8(self):
        self._push(str(self._take(self._unpack(_U8)), "utf-8", "surrogatepass"))

    # containers

    def _op_empty_tuple(self):
        self._push(self._record((), ()))

    def _op_tuple(self):
        self._push(self._tuple(self._pop_mark()), 2)

    def _op_tuple1(self):
        x = self._pop()
        self._push(self._tuple((x,)), 2)

    def _op_tuple2(self):
        y = self._pop()
        x = self._pop()
        self._push(self._tuple((x, y)), 2)

    def _op_tuple3(self):
        z = self._pop()
        y = self._pop()
        x = self._pop()
        self._push(self._tuple((x, y, z)), 2)

    def _op_list(self):
        self._push(self._pop_mark(), 2)

    def _op_empty_dict(self):
        self._push({}, 3)

    def _op_dict(self):
        items = self._pop_mark()
        if len(items) % 2:
            raise pickle.UnpicklingError("odd number of items for DICT")
        d = {}
        for i in range(0, len(items), 2):
            self._charge_hash(items[i], "a dict key")
            d[items[i]] = items[i + 1]
        self._push(d, 3 + len(d))

    def _op_empty_set(self):
        self._push(set(), 8)

    def _op_frozenset(self):
        items = self._pop_mark()
        for x in items:
            self._charge_hash(x, "a frozenset")
        self._push(frozenset(items), 8 + 2 * len(items))

    def _op_append(self):
        value = self._pop()
        target = self._top()
        if type(target) is not list:
            raise pickle.UnpicklingError(f"APPEND to a {type(target).__name__}")
        target.append(value)

    def _op_setitem(self):
        value = self._pop()
        key = self._pop()
        target = self._top()
        if type(target) not in (dict, collections.OrderedDict):
            raise pickle.UnpicklingError(f"SETITEM on a {type(target).__name__}")
        self._charge_hash(key, "a dict key")
        self._items += 1
        target[key] = value

    def _op_setitems(self):
        items = self._pop_mark()
        target = self._top()
        if type(target) not in (dict, collections.OrderedDict) or len(items) % 2:
            raise pickle.UnpicklingError(f"SETITEMS on a {type(target).__name__}")
        self._items += len(items) // 2
        for i in range(0, len(items), 2):
            key = items[i]
            if type(key) in _HASH_WALKED:
                self._charge_hash(key, "a dict key")
            target[key] = items[i + 1]

    def _op_additems(self):
        items = self._pop_mark()
        target = self._top()
        if type(target) is not set:
            raise pickle.UnpicklingError(f"ADDITEMS on a {type(target).__name__}")
        for x in items:
            self._charge_hash(x, "a set")
        self._items += 2 * len(items)
        target.update(items)

    # memo

    def _put(self, i: int):
        value = self._top()
        memo, sparse = self._memo, self._sparse
        if i < len(memo):
            memo[i] = value
            return
        if i >= self.limits.max_memo or len(memo) + len(sparse) >= self.limits.max_memo:
            self._over("max_memo", f"memo index {i:,}")
        if i == len(memo) and not sparse:
            memo.append(value)
        else:
            self._items += 3  # a dict entry
            sparse[i] = value

    def _get(self, i: int):
        memo = self._memo
        if i < len(memo):
            value = memo[i]
        elif i in self._sparse:
            value = self._sparse[i]
        else:
            raise pickle.UnpicklingError(f"Memo value not found at index {i}")
        if type(value) in _CONTAINERS:
            self._shared = True
        self._stack.append(value)

    def _text_index(self) -> int:
        line = self._line()
        if not line.isdigit() or len(line) > 20:
            raise pickle.UnpicklingError(f"bad memo index {line[:40]!r}")
        return int(line)

    def _op_put(self):
        self._put(self._text_index())

    def _op_long_binput(self):
        self._put(self._unpack(_U4))

    def _op_get(self):
        self._get(self._text_index())

    def _op_long_binget(self):
        self._get(self._unpack(_U4))

    # globals and calls

    def _op_global(self):
        module = self._line().decode("utf-8")
        name = self._line().decode("utf-8")
        self._push(self.find_class(module, name))

    def _op_stack_global(self):
        name = self._pop()
        module = self._pop()
        if type(name) is not str or type(module) is not str:
            raise pickle.UnpicklingError("STACK_GLOBAL requires str")
        self._push(self.find_class(module, name))

    def _op_reduce(self):
        args = self._pop()
        func = self._pop()
        self._call(func, args)

    def _op_inst(self):
        module = self._line().decode("ascii")
        name = self._line().decode("ascii")
        func = self.find_class(module, name)
        self._call(func, tuple(self._pop_mark()))

    def _op_obj(self):
        items = self._pop_mark()
        if not items:
            raise pickle.UnpicklingError("OBJ without a class")
        self._call(items[0], tuple(items[1:]))

    def _op_newobj(self):
        args = self._pop()
        cls = self._pop()
        self._newobj(cls, args, None)

    def _op_newobj_ex(self):
        kwargs = self._pop()
        args = self._pop()
        cls = self._pop()
        self._newobj(cls, args, kwargs)

    def _newobj(self, cls, args, kwargs):
        if cls is not ALLOWED_GLOBALS[("builtins", "complex")]:  # the one allowed type pickled this way
            raise UnsafePickleError(f"{self.name}: refused to unpickle: it creates a {cls!r:.80} with "
                                    "__new__ (NEWOBJ), which plain data never needs")
        self._call(cls, args, kwargs)

    def _op_build(self):
        state = self._pop()
        inst = self._top()
        if self._fresh.get(id(inst)) is not inst:
            raise UnsafePickleError(f"{self.name}: refused to unpickle: it sets the state of a "
                                    f"{type(inst).__name__} (BUILD) that is not a dtype or array it has "
                                    "just made, which plain data never needs")
        del self._fresh[id(inst)]
        if isinstance(inst, np.dtype):
            _build_dtype(self, inst, state)
        else:
            _build_array(self, inst, state)

    def _op_persid(self):
        self._push(self.persistent_load(self._line().decode("ascii", "replace")))

    def _op_binpersid(self):
        self._push(self.persistent_load(self._pop()))

    def _op_ext(self):
        raise UnsafePickleError(f"{self.name}: refused to unpickle: it uses the copyreg extension registry, "
                                "which plain data never needs")


# The opcodes not run inline in SafeUnpickler._run (BINFLOAT, MEMOIZE, EMPTY_LIST, MARK, APPENDS,
# BINGET, BINPUT, BININT1, SHORT_BINUNICODE, STOP) -> their methods; any other byte is refused.
_DISPATCH: dict[int, str] = {ord(code): "_op_" + name for code, name in (
    ("0", "pop"), ("1", "pop_mark"), ("2", "dup"), ("\x80", "proto"), ("\x95", "frame"), ("N", "none"),
    ("\x89", "false"), ("\x88", "true"), ("I", "int"), ("J", "binint"), ("M", "binint2"), ("L", "long"),
    ("\x8a", "long1"), ("\x8b", "long4"), ("F", "float"), ("S", "string"), ("T", "binstring"),
    ("U", "short_binstring"), ("B", "binbytes"), ("C", "short_binbytes"), ("\x8e", "binbytes8"),
    ("\x96", "bytearray8"), ("\x97", "next_buffer"), ("\x98", "readonly_buffer"), ("V", "unicode"),
    ("X", "binunicode"), ("\x8d", "binunicode8"), (")", "empty_tuple"), ("t", "tuple"), ("\x85", "tuple1"),
    ("\x86", "tuple2"), ("\x87", "tuple3"), ("l", "list"), ("}", "empty_dict"), ("d", "dict"),
    ("\x8f", "empty_set"), ("\x91", "frozenset"), ("a", "append"), ("s", "setitem"), ("u", "setitems"),
    ("\x90", "additems"), ("p", "put"), ("r", "long_binput"), ("g", "get"), ("j", "long_binget"),
    ("c", "global"), ("\x93", "stack_global"), ("R", "reduce"), ("i", "inst"), ("o", "obj"),
    ("\x81", "newobj"), ("\x92", "newobj_ex"), ("b", "build"), ("P", "persid"), ("Q", "binpersid"),
    ("\x82", "ext"), ("\x83", "ext"), ("\x84", "ext"))}


def safe_loads(data: bytes, *, name: str = "<bytes>", limits: PickleLimits | None = None) -> object:
    """Unpickle `data` with the allow-list and `limits` (default PickleLimits()).

    Raises UnsafePickleError, or CorruptPickleError (PickleLimitError when over a limit)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"data must be bytes, got {type(data).__name__}")
    unpickler = SafeUnpickler(None, name=name, limits=limits)
    if memoryview(data).nbytes > unpickler.limits.max_file_bytes:
        unpickler._over("max_file_bytes", f"the pickle of {memoryview(data).nbytes:,} bytes")
    return _checked(unpickler, lambda: unpickler._run(bytes(data)))


def safe_load(path, *, limits: PickleLimits | None = None) -> object:
    """Unpickle the file at `path` with the allow-list and `limits` (default PickleLimits()): the
    file is read whole (a regular file larger than limits.max_file_bytes is refused unread, any
    other stops being read there), then parsed."""
    path = Path(path)
    unpickler = SafeUnpickler(None, name=str(path), limits=limits)
    cap = unpickler.limits.max_file_bytes
    try:
        size = path.stat().st_size
        if size > cap:
            unpickler._over("max_file_bytes", f"the file of {size:,} bytes")
        with path.open("rb") as f:
            unpickler._file = f
            data = unpickler._read_all()
    except OSError as e:
        raise CorruptPickleError(f"{path}: cannot read file: {e.strerror or e}") from None
    if not data:
        raise CorruptPickleError(f"{path}: empty file (0 bytes), not a pickle")
    unpickler._file = unpickler._start = None
    return _checked(unpickler, lambda: unpickler._run(data))


def _checked(unpickler: SafeUnpickler, run):
    """run(), with what a malformed stream raises turned into CorruptPickleError."""
    name = unpickler.name
    try:
        return run()
    except (UnsafePickleError, CorruptPickleError):
        raise
    except RecursionError:
        raise CorruptPickleError(f"{name}: not a readable pickle: nesting too deep") from None
    except Exception as e:  # UnpicklingError, EOFError, ValueError, TypeError, ... from a bad stream
        kind = "truncated pickle" if isinstance(e, EOFError) else "not a readable pickle"
        raise CorruptPickleError(f"{name}: {kind}: {type(e).__name__}: {e}") from None
