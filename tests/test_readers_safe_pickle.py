"""The allow-list unpickler: plain data round-trips, anything that imports or calls is refused."""
from __future__ import annotations

import collections
import os
import pickle

import numpy as np
import pytest

from tenderlib.readers.safe_pickle import (
    CorruptPickleError, UnsafePickleError, allowed_names, safe_load, safe_loads,
)


class _WritesMarker:
    """Unpickling this with plain pickle would run os.system and create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_round_trips_exactly(protocol):
    obj = {
        "keypoints": np.arange(24, dtype=np.float32).reshape(2, 4, 3),
        "scores": np.linspace(0, 1.2, 8).reshape(2, 4),
        "be": np.array([1.5, -2.0], dtype=">f8"), "flags": np.array([True, False]), "names": np.array(["a", "bc"]),
        "rec": np.zeros(2, dtype=[("x", "f4"), ("y", "i2")]), "objects": np.array([{"a": 1}, None], dtype=object),
        "scalar": np.float32(1.25), "i": np.int64(-3), "dtype": np.dtype("f2"),
        "py": [1, 2.5, "ü", b"\x00\xff", None, True, (1, 2), {3, 4}, frozenset({5}), bytearray(b"x"), 1 + 2j],
        "ordered": collections.OrderedDict(a=1), "fps": 29.97,
    }
    data = pickle.dumps(obj, protocol=protocol)
    back, ref = safe_loads(data), pickle.loads(data)  # parity with the plain unpickler on trusted data
    assert set(back) == set(obj)
    for key in ("keypoints", "scores", "be", "flags", "names", "rec"):
        assert back[key].dtype == ref[key].dtype and np.array_equal(back[key], obj[key])
    assert back["objects"][0] == {"a": 1} and back["objects"][1] is None
    assert back["scalar"] == obj["scalar"] and type(back["scalar"]) is np.float32
    assert back["dtype"] == np.dtype("f2") and back["py"] == obj["py"] and back["ordered"] == obj["ordered"]


def test_malicious_payload_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    payload = tmp_path / "evil.pkl"
    payload.write_bytes(pickle.dumps({"keypoints": _WritesMarker(marker)}))
    with pytest.raises(UnsafePickleError) as info:
        safe_load(payload)
    msg = str(info.value)
    assert str(payload) in msg and ".system" in msg  # names the file and the global (posix.system / nt.system)
    assert not marker.exists()
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("module,name", [
    ("builtins", "eval"), ("builtins", "exec"), ("builtins", "getattr"), ("builtins", "__import__"),
    ("__builtin__", "eval"), ("subprocess", "Popen"), ("os", "system"), ("copyreg", "_reconstructor"),
    ("numpy", "load"), ("numpy.testing._private.utils", "runstring"), ("torch._utils", "_rebuild_tensor_v2"),
])
def test_every_other_global_is_refused(module, name):
    data = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b")R."  # PROTO 2, GLOBAL, EMPTY_TUPLE, REDUCE, STOP
    with pytest.raises(UnsafePickleError, match=rf"{module}\.{name}"):
        safe_loads(data, name="crafted.pkl")


def test_allow_list_is_small_and_named():
    names = allowed_names()
    assert "numpy._core.multiarray._reconstruct" in names and "numpy.core.multiarray._reconstruct" in names
    assert not any(n.startswith(("os.", "posix.", "subprocess.")) or n.endswith((".eval", ".exec", ".getattr"))
                   for n in names)


def test_persistent_ids_are_refused():
    data = b"\x80\x02X\x03\x00\x00\x00abcQ."  # PROTO 2, BINUNICODE 'abc', BINPERSID, STOP
    with pytest.raises(UnsafePickleError, match="persistent id"):
        safe_loads(data)


@pytest.mark.parametrize("data,what", [
    (pickle.dumps({"a": np.zeros(100)})[:-40], "truncated"),
    (b"this is not a pickle at all", "not a readable pickle"),
    (b"\x80\x05\x95", "truncated"),
])
def test_corrupt_and_truncated_files_raise_clearly(tmp_path, data, what):
    path = tmp_path / "bad.pkl"
    path.write_bytes(data)
    with pytest.raises(CorruptPickleError, match=what) as info:
        safe_load(path)
    assert str(path) in str(info.value)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(CorruptPickleError, match="empty file"):
        safe_load(tmp_path / "empty.pkl")
    with pytest.raises(CorruptPickleError, match="cannot read"):
        safe_load(tmp_path / "missing.pkl")
    with pytest.raises(ValueError, match="data must be bytes"):
        safe_loads("not bytes")
