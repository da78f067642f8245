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
the global. The allowed names resolve to fixed objects (`ALLOWED_GLOBALS`), never through an
import of the name found in the file. Persistent ids, the copyreg extension registry
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

Layout: `pickle_guards` holds the errors, `PickleLimits`, the plain-dtype checks, the allow-listed
stand-ins (`ALLOWED_GLOBALS`) and the checked BUILD of dtypes and arrays; `pickle_opcodes` holds the
opcode handlers (the `Opcodes` mixin); this module holds the machine (`SafeUnpickler`: state,
budget, reading, the loop) and the entry points `safe_load` / `safe_loads`, and re-exports the
public names of the other two.
"""
from __future__ import annotations

import logging
import pickle
import struct
from pathlib import Path

import numpy as np

from tenderlib.readers.pickle_guards import (ALLOWED_GLOBALS, CorruptPickleError, PickleLimitError, PickleLimits,
                                             UnsafePickleError, _Guard, _MODULE_ALIASES, _NAME_ALIASES,
                                             allowed_names)
from tenderlib.readers.pickle_opcodes import Opcodes, _CONTAINERS, _F8, _HASH_WALKED, _UNITS, _truncated

__all__ = [
    "ALLOWED_GLOBALS", "CorruptPickleError", "PickleLimitError", "PickleLimits", "SafeUnpickler",
    "UnsafePickleError", "allowed_names", "safe_load", "safe_loads",
]

logger = logging.getLogger(__name__)


class SafeUnpickler(Opcodes):
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


_Guard.machine = SafeUnpickler  # direct calls of an allow-listed global run under a fresh budget

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
