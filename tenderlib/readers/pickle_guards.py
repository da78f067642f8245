"""What may come out of a pickle: the allow-list of globals, the plain dtypes, and the checked
BUILD of a dtype or array; also the errors and the `PickleLimits` of the safe unpickler.

Every allowed global is a `_Guard`: a checked stand-in that takes the running unpickler (its
name, budget and the dtypes / arrays awaiting their one BUILD) before the pickle's arguments,
checks those arguments and only then builds the value. `ALLOWED_GLOBALS` maps (module, name)
to these stand-ins; nothing named in a file is ever imported. The machine that runs the pickle
and charges the budget is `tenderlib.readers.safe_pickle.SafeUnpickler`.
"""
from __future__ import annotations

import codecs
import collections
import io
import re
from dataclasses import dataclass, fields

import numpy as np
from numpy._core import multiarray as _multiarray
from numpy._core import numeric as _numeric


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
    default limits of a fresh `machine` (tenderlib.readers.safe_pickle sets it to SafeUnpickler)."""

    __slots__ = ("qualname", "_fn")
    machine = None  # the unpickler class whose budget a direct call runs under

    def __init__(self, qualname: str, fn):
        self.qualname = qualname
        self._fn = fn

    def __call__(self, *args):
        return self._fn(type(self).machine(io.BytesIO(b""), name=f"<{self.qualname}>"), *args)

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
