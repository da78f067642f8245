"""The opcode handlers of the safe unpickler: one `_op_*` method per pickle instruction that
`SafeUnpickler._run` does not run inline, with their small helpers.

`Opcodes` is a mixin: the stack, memo, reading helpers, budget and allow-list it calls
(`_push`, `_pop`, `_unpack`, `_line`, `_take`, `_charge_*`, `_over`, `find_class`, `_call` ...)
and all state live in `tenderlib.readers.safe_pickle.SafeUnpickler`, which dispatches to these
methods by name.
"""
from __future__ import annotations

import codecs
import collections
import pickle
import struct

import numpy as np

from tenderlib.readers.pickle_guards import (ALLOWED_GLOBALS, PickleLimitError, UnsafePickleError, _build_array,
                                             _build_dtype)

_MAX_INT_BYTES = 4096  # LONG1/LONG4; text INT/LONG are held to Python's default of 4300 digits
_MAX_INT_DIGITS = 4300

_CONTAINERS = (list, tuple, dict, set, frozenset, collections.OrderedDict, slice)
# What a new value counts in items: about one per 32 bytes it takes (numpy arrays and dtypes: 4;
# a dict entry adds 1, a set element 2). Each opcode is a byte or more, so a file of N bytes
# creates at most about 8 N items: max_items bounds what the smallest instructions can pile up.
_UNITS = {list: 2, tuple: 2, dict: 3, set: 8, frozenset: 8, collections.OrderedDict: 8, slice: 2, complex: 1}
_HASH_WALKED = (tuple, slice)  # hashed by walking their parts each time (a frozenset keeps its hash)
_U1, _U2, _I4, _U4, _U8, _F8 = (struct.Struct(f) for f in ("<B", "<H", "<i", "<I", "<Q", ">d"))


def _truncated(detail: str) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(f"pickle data was truncated: {detail}")


class Opcodes:
    """The opcode handlers of SafeUnpickler; state and budget live in SafeUnpickler."""

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
