"""The allow-list unpickler: plain data round-trips, anything that imports, calls, forges a dtype or
claims more than its budget is refused cleanly (in a child process where a regression could crash)."""
from __future__ import annotations

import base64
import collections
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from tenderlib.readers.safe_pickle import (
    ALLOWED_GLOBALS, CorruptPickleError, PickleLimitError, PickleLimits, SafeUnpickler, UnsafePickleError,
    allowed_names, safe_load, safe_loads,
)

ROOT = Path(__file__).resolve().parents[2]


class _WritesMarker:
    """Unpickling this with plain pickle would run os.system and create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def _plain_sample():
    return {
        "keypoints": np.arange(24, dtype=np.float32).reshape(2, 4, 3),
        "scores": np.linspace(0, 1.2, 8).reshape(2, 4),
        "be": np.array([1.5, -2.0], dtype=">f8"), "flags": np.array([True, False]),
        "ints": [np.array([100, 1, 0], dtype=t) for t in ("i1", "i2", ">i4", "i8", "u1", "u2", "u4", "<u8")],
        "neg": np.array([-5, 7], ">i2"), "half": np.array([0.5, -65504], dtype="f2"),
        "complex": np.array([1 + 2j], dtype="c8"),
        "c16be": np.array([1 - 2j], dtype=">c16"), "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "strided": np.arange(12.0).reshape(3, 4)[:, ::2], "transposed": np.arange(12, dtype="i4").reshape(3, 4).T,
        "empty": np.zeros((0, 133, 3)), "zero_d": np.array(3.5), "readonly": np.frombuffer(b"\x00" * 8, "f8"),
        "scalar": np.float32(1.25), "i": np.int64(-3), "b": np.bool_(True), "c": np.complex128(1j),
        "dtype": np.dtype("f2"), "dtype_be": np.dtype(">i4"),
        "py": [1, 2.5, "ü", b"\x00\xff", b"", None, True, (1, 2), {3, 4}, frozenset({5}), bytearray(b"x"),
               bytearray(), 1 + 2j, slice(1, 9, 2), range(3, 12, 4), -(2**70)],
        "ordered": collections.OrderedDict(a=1, b=[2]), "fps": 29.97,
    }


def _assert_same(back, ref, byte_order=True):
    """Equal values, types and (for arrays) dtypes, shapes and memory order; and byte order, unless
    `byte_order` is False (numpy turns non-native arrays native when it reads protocols 0-4)."""
    assert type(back) is type(ref), (type(back), type(ref))
    if isinstance(ref, np.ndarray):
        assert back.dtype.newbyteorder("=") == ref.dtype.newbyteorder("=") and back.shape == ref.shape
        assert back.dtype.isnative == ref.dtype.isnative or not byte_order, (back.dtype, ref.dtype)
        assert back.flags.f_contiguous == ref.flags.f_contiguous and np.array_equal(back, ref)
    elif isinstance(ref, dict):
        assert list(back) == list(ref)
        for k in ref:
            _assert_same(back[k], ref[k], byte_order)
    elif isinstance(ref, (list, tuple)):
        assert len(back) == len(ref)
        for x, y in zip(back, ref):
            _assert_same(x, y, byte_order)
    elif isinstance(ref, np.dtype):
        assert back == ref and back.byteorder == ref.byteorder
    else:
        assert back == ref


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_round_trips_exactly(protocol):
    obj = _plain_sample()
    data = pickle.dumps(obj, protocol=protocol)
    back, ref = safe_loads(data), pickle.loads(data)  # parity with the plain unpickler on trusted data
    _assert_same(back, ref)
    _assert_same(back, obj, byte_order=protocol >= 5)
    assert back["readonly"].flags.writeable == ref["readonly"].flags.writeable


def _numpy1_sample():
    return {
        "f4": np.arange(6, dtype="<f4").reshape(2, 3) / 7, "f8be": np.array([1.5, -2.0, 1e-300], dtype=">f8"),
        "i8": np.array([-(2**62), 3], dtype="i8"), "u1": np.array([0, 255], dtype="u1"), "b": np.array([True, False]),
        "f2": np.array([0.5, 65504], dtype="f2"), "c16": np.array([1 + 2j]),
        "F": np.asfortranarray(np.arange(6.).reshape(2, 3)), "T": np.arange(12, dtype="i4").reshape(3, 4).T,
        "empty": np.zeros((0, 133, 3)), "s": np.float64(0.25), "d": np.dtype(">i2"),
    }


_NUMPY1_PICKLES = (  # numpy 1.26.4, protocols 0-5, of _numpy1_sample(); zlib + base64
    "eNqtWN1zE9cVl2QZ2wsB40AgCQFCAhUkOLurlbRKiG0wcWKUOOHGcSFAHEv+WAV/6NirJA7QurSWcau2KRG85LnvnelD8hYGt8/N"
    "e/4JZvrCTB/cc+7du7vWrmyZQTMrr3fvPb/f+fqday/F780ei/DPtVriXEyJRBLjJVUZmTSUkqYUZsszpcXuwtz8RPdMedoujs3P"
    "jy0qo/MThbnZBXu+XLCVkq4kxDpldly8LyWVxKCq2CVDKYwW5sYnCgvKxCzdKKWUkhjJK6W0MjI9ZhdnNaWUwYWmwkpZ/KmpeKNp"
    "uJ0uXRlM0kPdIaKM24sltKGhfcHQUAZVFS+NlqVobxr3JZWRM/gyowwNDQ2e1hR+ER/NVPK0YYpYXC2r+Al+Hx/s6jk+eLfnh5lf"
    "8GdX7+wv6V60llWmiKlODHXC03UlvzAyaeaRkZ5UpjAOU9Jx3VCmyB+dOOlpxx9yRs8oU4K/idtMH389i2uTquDfg0HUAvyTuo9/"
    "7+NGHvi/HzSzSHxH/z575OHj/15G6KRwNmkQpRTdpcnZInJOZja6mjSFq0mib6hu6jD7muMqbTN0n6tGktYa3NWpkDwZqSbyFOJr"
    "S/NrkVFaOGlkiIxJd1lysow1mVI3OpnShJMpHdemkj4nU4bjJN+W8jmZStPajMjnTXxpBvxMZQN+rmNvqIJYWkMDaQJJJ4kYtY2x"
    "kVc6JXilCSud8fFKmw6vPPJKZ328MlTBGVGPUyGkMv4ii8poZZySyFBJZKgkMrwkJnV8V1cSGackMlQSpr8kTFkStM30l4RJJWE2"
    "LgkzWBLm+g004mTRpCyalEWTZ7GASlDK1qUx66QxS2nMyjQSfFamUezz5zFLsc1mGjLLmtss1ke9zZdpH5JxlEdTuTgKrVO5+Ayg"
    "Lql10qOpjvZoKhdENV2npqpfgTTVL0GamuX6qzZ0VkNxztPibbZm89/tfU8vhp1924h0M4v2YT40nEciIVqSR8vg9ylKyDC9Ttcl"
    "BMMoEqKZfH3WSYghx5sqdZJGmq75E6JTpWp6snFCcNRsnZBo8FEs+ChEPuPBR63BRzuCj9pCMht81NGA8Fjw+c4wDddwwIpc6Gke"
    "KHFvUi4mZkr2Ii3J1uUDZ6zIR5IEVsOhKvKBQddw8omk0AikRqBcFEZH8+UiHn9mR0eV/KI9sUBnENQqm7an+HIuhvx5ptGxaaEw"
    "Nj02T0tMpEPGm26in+kEkpRCYHAhMHiBGLxAcKAujIzTgUjqWFGn3/w6phk8RIajZCHHC82gwHXXzh3dEYncgkjiUgwPhpMGRJs5"
    "CEKs/hwILYlcxIZ4/SEQWhOXomg5DzsuIVJEnAShzYZ2Bh02KAx2JnLRRC6Wa7Fh14bDHzzjstrt+gZ7GHQmci3c6hnYi45dWMcP"
    "/yIKXVyhLcQ9JE67EXHKe3i35+EPM2vfi4Pe2vfpXnjWQh77GOy34bn8pThB4REPDlixhCX8OWghx+cZvMA5IsMXLUnKhEMeqZcY"
    "HJakeuBIgNRRl9RhXNG79qNgtrbkUIw+xAPZ2u21H9f+eRleJlrHGLxiw6t5DlY04bhH6gSR+hWDhAicDSclKVx3yiP1GoPXkZQV"
    "jNFpl87eiPtZW2px7qCbGLzBQLVBEwzKGugegyQxMBikJIO0ZIDrMh4Dk0FWhuUmvBng8ZbLg0Ov/QRnCPltBj029OadyunzgM8S"
    "8DkG/RL4vATOa/COBzzA4F1yPQj5ngtJu6IRGCTECwxyNrwvfJ3U4QMPcoggP2TwkYS86JaADsyD/JjBcHi0P3EhW8lLc+2nGzBC"
    "qL9mcMmGy3nuPZ5G4FMP9grBXmVwjcNGbfiMYOXCUQ/3cwZj4bj5kCyv/aPXueuDAnEYZzBhw6SI9QBMeQwsYlBk8IXXn9d91T/t"
    "UZhhMBtOYY7PK6KgReo/7X11lDr7JDXxY18flIgiMJi3YUFQHAbbo1gmil8y+IpTjBPFr91eMGDRo/gNgxvhFG+6FFXZjHiRBQo2"
    "iQJljbSrjUjj1YEX/vUc2UmtcosY/obBb21YyvME82EEv/NY3iaWv2fwB84yklsmnsvWbIN5A5WTDFZsuCMcXoDVzYcM/DFhzRL/"
    "Di/L3/bCn4hYlcGfbfgLg79yW+PwrRseHf7mhecug+8oPEHlquXLOCVq6NhS7AnmRGBM5CLLYVMidEhU+JBYkUOCarASmBHuiFi9"
    "s9LEcFi1WpsaDJXwwWBxB3AsrMixkGtZpqngDgWisfU4IBrNjYJK2CgQNE4QDWcQ5GLLNAfcMUA0NhsARKCh+FfCxF9gJgnTkX7C"
    "TDuYJPyEubXkE7JP7ishci+gzhKUI/YEdd6BIqknqM1EnkA8ga+ECbwAGSIQR94J5KJMJYo7gWwm6wSyQdIroZIugK4QkCPouegy"
    "6bkn54S0mZBvzFadiFdCRFxgWoTpSLjonutepU4T6GbSfQdBn1i2KyGyLUiViZQj2qTZFdJsV7KJ1GZiTaSeVKgrDYRa8LpNvByZ"
    "Fiq9Qiq9+lQkmhQ6KNAVLtCVOoF29ZlisZUy/xsdX2p5asrcH81D6wrsYNDm1kz7RsXtkEAK8dvJYJenuM8EWO7Or/Yf9MR24/9a"
    "YY8NnT6B3Stz0WUhiWcZ7HMEdr/VIcv2OUI9wOCgJ7DPB1BfINTexyLYD2S5OP/0hBdtOOSq6UsS8zBhHmFw1FGClx1MXHOMMF9h"
    "8CplIujjcUTrdEAeuDp6Ag/prn4mJMpJQjnF4DUH5XUHBdecJpRuBm94+qkGsDTEikXWQcdTuFRMQxpPkfE0g4xj3HSMo2Jmyfib"
    "DN4iF4Jmz5BZFMu3behxRbJX2u0ju2cZnHPs9st06HCe7L7DYCA8NO+i3XjEXL8B79kw6MniBWk6R6bfZ/CBI4uox+6iD8n2Rwwu"
    "httmXtgfeYL4sQ3DUgg/kSgjhELa7Bb1Za+iPiWYKwyuhsNcy9/pV8M18FFjCfzMhlEpfZ9LGmNEI8+g4ErfuCwyAyaIxiSDqXAa"
    "lqSxLdUr2vCFX+2uSyrTREWov6t2c9bV1f4IlPDILYVtfgthW7Cu9rcLp3/uBbsCZQZfOlL2lfRNh6/Jt0UG35BvwXa9waXsf+jR"
    "UvzeI6eDbtUS1dikUavuD6VQq+7yK1rtu1q1lS+sVdscUcNn6GoNNa22UmM1mfua1Vpt5WJGmwgC2fH3LdXomVo9u9pmClbD19U4"
    "iVfNilttBIdjxAFrwV92I4DpB+gJB2gkVhwgVjRDzMeE+aLPvNUVZjygTcJoWWtsFN/5ON8M5YwyxA1heBvayfvsWKlQK1GHzqTe"
    "2Ay+28JHLjLcUAtKR4ilKLfEXzYXLk9ThJcDYfR4OdXlOMzqE0iIQB0OQY1L1KLRFOp2FIOjtnKxCEEWQlGzxlAnBL+FmhWr7hBy"
    "gO1kjXlyUKvgrmp0XFD1Z/BwkCoJwH9IAFrv/ateALp8AoC3E/PFQq26c3Ryfm4mX56cnCDgxP2DvuiGtqqrD9tqfpHjarQf/UV3"
    "ZK97eA0712pvpve5SuzhtkWbJ+53biwVr23J4oZ23xXG17PHOzxxPyYtrXMLW/e2zwZvbs9EVJDY0NanNifB+zpxPy5JUJ/y0OhN"
    "O+K0dH1kfB2KButaO8xi1HNrgNtTI2GfJnqzPrfhDvA+vSAAhwOA22pLnnpjC8C4D9Dt4cT9iFs/Q24HO2FYaDxefU09FNbU7XVN"
    "fSC0qSe6/w+HTxX5"
)


@pytest.mark.parametrize("protocol", range(6))
def test_numpy1_pickles_load_exactly(protocol):
    blobs = safe_loads(zlib.decompress(base64.b64decode("".join(_NUMPY1_PICKLES))))
    data = blobs[protocol]
    assert b"numpy.core" in data and b"numpy._core" not in data  # written by numpy 1
    _assert_same(safe_loads(data), _numpy1_sample(), byte_order=protocol >= 5)


def test_python2_pickles_with_str_data_load():
    """Python 2 wrote an array's bytes (and a scalar's) as a str, the dtype flags as ints."""
    raw = np.array([1.5, -2.0], "<f8").tobytes()  # has bytes >= 0x80: read back through latin-1
    dtype = (b"cnumpy\ndtype\nq\x07U\x02f8q\x08K\x00K\x01\x87q\tRq\n"
             b"(K\x03U\x01<q\x0bNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x0cb")
    array = (b"cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01K\x00\x85q\x02U\x01bq\x03\x87q\x04Rq\x05"
             b"(K\x01K\x02\x85q\x06" + dtype + b"\x89U\x10" + raw + b"q\rtq\x0eb")
    scalar = b"cnumpy.core.multiarray\nscalar\nq\x0f" + dtype.replace(b"q\x07", b"q\x10") + b"U\x08" + raw[:8] + b"\x86R"
    data = b"\x80\x02(" + array + scalar + b"c__builtin__\nset\n]K\x01a\x85Rt."
    back, ref = safe_loads(data), pickle.loads(data, encoding="latin1")
    _assert_same(back, ref)
    assert np.array_equal(back[0], [1.5, -2.0]) and back[1] == 1.5 and back[2] == {1}


def test_a_long_clip_loads_under_the_default_limits():
    clip = np.random.default_rng(0).normal(300, 50, (10_000, 133, 3))  # 32 MB of float64
    for protocol in (2, 5):
        back = safe_loads(pickle.dumps({"keypoints": clip, "fps": 30.0}, protocol=protocol))
        assert back["keypoints"].dtype == np.float64 and np.array_equal(back["keypoints"], clip)
    frames = [{"frame_id": t, "instances": [{"keypoints": clip[t, :, :2].tolist(), "keypoint_scores": clip[t, :, 2].tolist(),
                                             "bbox": [[0.0, 0.0, 10.0, 10.0]]}]} for t in range(300)]
    assert safe_loads(pickle.dumps(frames, protocol=4)) == frames  # the per-frame list layout


def test_shared_and_cyclic_references_still_load():
    frame = {"instances": []}
    row = (1, 2)
    assert safe_loads(pickle.dumps([frame] * 3 + [[row, row]])) == [frame] * 3 + [[row, row]]
    loop = [1]
    loop.append(loop)
    back = safe_loads(pickle.dumps(loop))
    assert back[0] == 1 and back[1] is back


def test_a_stream_of_pickles_reads_one_at_a_time():
    f = io.BytesIO(pickle.dumps({"a": np.arange(3)}) + pickle.dumps("second", protocol=0))
    assert np.array_equal(SafeUnpickler(f).load()["a"], np.arange(3))
    assert SafeUnpickler(f).load() == "second"


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("what, value", [
    ("strings", np.array(["a", "bc"])), ("bytes", np.array([b"a"])),
    ("records", np.zeros(2, dtype=[("x", "f4"), ("y", "i2")])),
    ("objects", np.array([{"a": 1}, None], dtype=object)), ("dates", np.array(["2020-01-01"], dtype="M8[D]")),
    ("void", np.zeros(2, dtype="V8")), ("long double", np.zeros(2, np.longdouble)), ("object dtype", np.dtype("O")),
    ("string scalar", np.str_("abc")),
])
def test_arrays_of_anything_but_plain_numbers_are_refused(what, value, protocol):
    with pytest.raises(UnsafePickleError, match="not a plain numeric dtype"):
        safe_loads(pickle.dumps({"x": value}, protocol=protocol), name="odd.pkl")


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
    assert all(not isinstance(v, type) for v in ALLOWED_GLOBALS.values())  # checked stand-ins, not the classes
    assert ALLOWED_GLOBALS[("numpy", "dtype")]("<f4") == np.dtype("<f4")  # usable directly, with default limits
    with pytest.raises(UnsafePickleError):
        ALLOWED_GLOBALS[("numpy", "dtype")]("O")


@pytest.mark.parametrize("data,what", [
    (b"\x80\x02X\x03\x00\x00\x00abcQ.", "persistent id"),  # PROTO 2, BINUNICODE 'abc', BINPERSID, STOP
    (b"Pabc\n.", "persistent id"),
    (b"\x80\x02\x82\x01.", "extension registry"),
    (b"\x80\x02\x8c\x01a\x8c\x01b\x86}b.", "BUILD"),  # setting the state of a tuple
    (b"\x80\x02cbuiltins\nset\n)\x81.", "NEWOBJ"),
    (b"\x80\x02cnumpy\nndarray\nK\x01\x85R.", "only pass to _reconstruct"),
    (b"\x80\x02cbuiltins\nset\ncbuiltins\nrange\nJ\x00\x00\x00\x40\x85R\x85R.", "builtins.set of a range"),
    (b"\x80\x02c_codecs\nencode\nC\x01a\x8c\x03hex\x86R.", "latin-1"),
])
def test_instructions_plain_data_never_needs_are_refused(data, what):
    with pytest.raises(UnsafePickleError, match=what):
        safe_loads(data)


@pytest.mark.parametrize("data,what", [
    (pickle.dumps({"a": np.zeros(100)})[:-40], "truncated"),
    (b"this is not a pickle at all", "not a readable pickle"),
    (b"\x80\x05\x95", "truncated"),
    (b"\x80\x05\x97.", "out-of-band"),
    (b"\x80\x04N\x96\x00\x00\x00\x00\x00\x01\x00\x00xx.", "truncated"),  # BYTEARRAY8 claiming 2**40 bytes
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


# ---------------------------------------------------------------------------------------------
# Payloads written opcode by opcode


def _u(s: str) -> bytes:  # SHORT_BINUNICODE
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def _i(n: int) -> bytes:  # BININT, or LONG1 beyond 32 bits
    if -(2**31) <= n < 2**31:
        return b"J" + struct.pack("<i", n)
    b = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(b)]) + b


def _b(raw: bytes) -> bytes:  # BINBYTES
    return b"B" + struct.pack("<I", len(raw)) + raw


def _t(*items: bytes) -> bytes:  # MARK ... TUPLE
    return b"(" + b"".join(items) + b"t"


def _g(module: str, name: str) -> bytes:  # GLOBAL
    return b"c" + f"{module}\n{name}\n".encode()


def _call(func: bytes, *args: bytes) -> bytes:  # func(*args) by REDUCE
    return func + _t(*args) + b"R"


def _p(body: bytes) -> bytes:  # PROTO 4 ... STOP
    return b"\x80\x04" + body + b"."


def _memo(op: bytes, i: int) -> bytes:  # LONG_BINPUT / LONG_BINGET
    return op + struct.pack("<I", i)


RECONSTRUCT = _g("numpy._core.multiarray", "_reconstruct")
NDARRAY = _g("numpy", "ndarray")
FROMBUFFER = _g("numpy._core.numeric", "_frombuffer")
SCALAR = _g("numpy._core.multiarray", "scalar")
BYTEARRAY, RANGE = _g("builtins", "bytearray"), _g("builtins", "range")


def _state(order="|", subarray=b"N", names=b"N", fields=b"N", elsize=-1, align=-1, flags=0) -> bytes:
    """A dtype's pickled state (version 3, byteorder, subarray, names, fields, elsize, alignment, flags)."""
    return _t(_i(3), _u(order), subarray, names, fields, _i(elsize), _i(align), _i(flags))


def _dtype(descr: str, state: bytes | None = None) -> bytes:
    """numpy.dtype(descr, False, True), then BUILD with `state`: how numpy pickles a dtype."""
    made = _call(_g("numpy", "dtype"), _u(descr), b"\x89", b"\x88")
    return made + (state + b"b" if state is not None else b"")


F8 = _dtype("f8", _state("<"))  # a plain float64, as numpy pickles it


def _array(dtype: bytes, shape=(1,), raw: bytes = b"A" * 8, rawop: bytes | None = None) -> bytes:
    """_reconstruct(ndarray, (0,), b'b'), then BUILD (1, shape, dtype, False, raw): how numpy pickles an array."""
    made = _call(RECONSTRUCT, NDARRAY, _t(_i(0)), b"C\x01b")
    return made + _t(_i(1), _t(*(_i(d) for d in shape)), dtype, b"\x89", rawop or _b(raw)) + b"b"


def test_limits_are_named_in_the_error_and_can_be_raised(tmp_path):
    clip = np.ones((100, 133, 3))  # 319,200 bytes
    path = tmp_path / "clip.pkl"
    path.write_bytes(pickle.dumps(clip))
    for field, value in [("max_bytes_total", 100_000), ("max_array_elements", 1000), ("max_file_bytes", 1000)]:
        with pytest.raises(PickleLimitError, match=rf"PickleLimits\.{field} = .*limits=PickleLimits\({field}=") as info:
            safe_load(path, limits=PickleLimits(**{field: value}))
        assert isinstance(info.value, CorruptPickleError) and str(path) in str(info.value)
    assert np.array_equal(safe_load(path, limits=PickleLimits(max_bytes_total=400_000)), clip)
    nested = [[i, [i]] for i in range(1000)]
    with pytest.raises(PickleLimitError, match="max_items"):
        safe_loads(pickle.dumps(nested), limits=PickleLimits(max_items=2000))
    with pytest.raises(PickleLimitError, match="max_memo"):
        safe_loads(pickle.dumps(nested), limits=PickleLimits(max_memo=500))
    assert safe_loads(pickle.dumps(nested), limits=PickleLimits(max_items=20_000, max_memo=2001)) == nested
    three = _p(b"(" + _call(BYTEARRAY, _i(400)) * 3 + b"l")  # the budget is for all calls together
    assert safe_loads(three, limits=PickleLimits(max_bytes_total=1200)) == [bytearray(400)] * 3
    with pytest.raises(PickleLimitError, match="max_bytes_total"):
        safe_loads(three, limits=PickleLimits(max_bytes_total=1000))
    big = _p(_call(BYTEARRAY, _i(2**21)))  # 2 MiB asked for by 40 bytes
    with pytest.raises(PickleLimitError, match="max_expansion"):
        safe_loads(big)
    assert len(safe_loads(big, limits=PickleLimits(max_expansion=100_000))) == 2**21
    with pytest.raises(ValueError, match="positive int"):
        PickleLimits(max_memo=0)


# ---------------------------------------------------------------------------------------------
# Hostile payloads, run in a child process: a crash (segfault) or an allocation over the child's
# memory limit fails the test instead of ending the test run.

_RUNNER = r"""
import json, resource, sys
from tenderlib.readers.safe_pickle import CorruptPickleError, UnsafePickleError, safe_loads
payloads = json.load(sys.stdin)
if sys.platform == "linux":  # room for this much more address space than the imports took, no more
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + int(sys.argv[1]) * 2**20, resource.getrlimit(resource.RLIMIT_AS)[1]))
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {}
for name, hexdata in payloads.items():
    print("running", name, file=sys.stderr, flush=True)  # the last one named is the one that crashed
    try:
        value = safe_loads(bytes.fromhex(hexdata), name="payload")
        out[name] = ["loaded", repr(value)[:200]]
    except (UnsafePickleError, CorruptPickleError) as e:
        out[name] = [type(e).__name__, str(e)]
out["__grew_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
print(json.dumps(out))
"""


def _run_in_child(payloads: dict[str, bytes], mem_mb: int = 300) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", _RUNNER, str(mem_mb)], capture_output=True, text=True,
                          input=json.dumps({k: v.hex() for k, v in payloads.items()}), timeout=240, cwd=ROOT, env=env)
    assert proc.returncode == 0, f"child exited {proc.returncode}: {proc.stderr[-1500:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


UNSAFE, CORRUPT = "UnsafePickleError", "CorruptPickleError"
_FORGED = {  # name -> (payload, the error it must end in); with plain pickle several crash the process
    "object dtype with flags 0": (_array(_dtype("O8", _state(elsize=8, flags=0))), UNSAFE),
    "object dtype, genuine": (_array(_dtype("O8", _state(flags=63)), rawop=b"]" + _u("x") + b"a"), UNSAFE),
    "void with object flags": (_array(_dtype("V8", _state(elsize=8, align=1, flags=63))), UNSAFE),
    "float with refcount flag": (_array(_dtype("f8", _state("<", flags=1))), UNSAFE),
    "float with all flags, elsize 8": (_array(_dtype("f8", _state("<", elsize=8, flags=63))), UNSAFE),
    "float with hasobject|needs-init": (_array(_dtype("f8", _state("<", flags=1 | 8))), UNSAFE),
    "float claiming 16 bytes": (_array(_dtype("f8", _state("<", elsize=16))), UNSAFE),
    "float with fields": (_array(_dtype("f8", _state("<", names=_t(_u("a")),
                                                     fields=b"}" + _u("a") + _t(_dtype("O8"), _i(0)) + b"s"))), UNSAFE),
    "float with a subarray": (_array(_dtype("f8", _state("<", subarray=_t(_dtype("O8"), _t(_i(2)))))), UNSAFE),
    "float with metadata": (_dtype("f8", _t(_i(4), _u("<"), b"NNN", _i(-1), _i(-1), _i(0), b"}")), UNSAFE),
    "dtype built twice": (_array(F8 + _state("<", flags=63) + b"b"), UNSAFE),
    "dtype built after use": (b"(" + _dtype("f8") + b"\x94" + _array(_memo(b"j", 0))
                              + _memo(b"j", 0) + _state("<", flags=1) + b"bl", UNSAFE),
    "record descriptor": (_call(_g("numpy", "dtype"), b"]" + _t(_u("a"), _u("O")) + b"a"), UNSAFE),
    "datetime descriptor": (_dtype("M8", _state("<")), UNSAFE),
    "str descriptor": (_dtype("U4", _state("<")), UNSAFE),
    "object typecode to _reconstruct": (_call(_g("numpy.core.multiarray", "_reconstruct"), NDARRAY, _t(_i(0)), b"C\x01O"),
                                        UNSAFE),
    "_reconstruct of another class": (_call(RECONSTRUCT, _g("builtins", "set"), _t(_i(0)), b"C\x01b"), UNSAFE),
    "array state with list data": (_array(F8, rawop=b"]" + _u("x") + b"a"), UNSAFE),
    "array data too short": (_array(F8, shape=(2,)), CORRUPT),
    "array set twice": (_array(F8) + _t(_i(1), _t(_i(1)), _dtype("O8"), b"\x89", _b(b"A" * 8)) + b"b", UNSAFE),
    "state on a _frombuffer array": (_call(FROMBUFFER, _b(b"A" * 8), F8, _t(_i(1)), _u("C"))
                                     + _t(_i(1), _t(_i(1)), F8, b"\x89", _b(b"B" * 8)) + b"b", UNSAFE),
    "_frombuffer with a forged dtype": (_call(_g("numpy.core.numeric", "_frombuffer"), _b(b"A" * 8),
                                              _dtype("f8", _state("<", flags=1)), _t(_i(1)), _u("C")), UNSAFE),
    "_frombuffer with an object dtype": (_call(FROMBUFFER, _b(b"A" * 8), _dtype("O8"), _t(_i(1)), _u("C")), UNSAFE),
    "scalar of an object dtype": (_call(SCALAR, _dtype("O8", _state(flags=0)), _b(b"A" * 8)), UNSAFE),
    "scalar of a forged dtype": (_call(SCALAR, _dtype("f8", _state("<", flags=1)), _b(b"A" * 8)), UNSAFE),
    "scalar with short data": (_call(SCALAR, F8, _b(b"A" * 4)), CORRUPT),
}


def test_forged_dtypes_and_object_arrays_are_refused_without_crashing():
    results = _run_in_child({name: _p(body) for name, (body, _) in _FORGED.items()})
    for name, (_, expected) in _FORGED.items():
        assert results[name][0] == expected, (name, results[name])
    assert "forged dtype state" in results["float with refcount flag"][1]
    assert "not a plain numeric dtype" in results["object dtype with flags 0"][1]


def _list_dag(levels: int) -> bytes:
    """[x, x] where x = [y, y] ... through memo references: 2**levels leaves in a few hundred bytes."""
    body = b"]" + _i(7) + b"a" + _memo(b"r", 0)
    for k in range(levels):
        body += b"](" + _memo(b"j", k) + _memo(b"j", k) + b"e" + _memo(b"r", k + 1)
    return body


def _tuple_dag(levels: int, reuse: int = 0) -> bytes:
    """(x, x) where x = (y, y) ...; then the top one `reuse` times as a dict key."""
    body = _i(1) + _memo(b"r", 0)
    for k in range(levels):
        body += _memo(b"j", k) + _memo(b"j", k) + b"\x86" + _memo(b"r", k + 1)
    if reuse:
        body += b"}(" + b"".join(_memo(b"j", levels) + _i(n) for n in range(reuse)) + b"u"
    return body


_ENCODE_10K = (b"X" + struct.pack("<I", 1000) + b"x" * 1000 + b"q\x00" + _g("_codecs", "encode") + b"q\x01"
               + _u("latin1") + b"q\x020(" + b"h\x01h\x00h\x02\x86R" * 10_000 + b"l")
_HEX_30 = b"C\x01a" + b"".join(b"q" + bytes([k]) + _g("_codecs", "encode") + b"h" + bytes([k]) + _u("hex") + b"\x86R"
                               for k in range(30))
_AMPLIFIED = {  # name -> (payload body of a few bytes, what the error must name)
    "memo index 2**26": (b"N" + _memo(b"r", 2**26), "max_memo"),
    "memo index 2**32-1": (b"N" + _memo(b"r", 2**32 - 1), "max_memo"),
    "text memo index": (b"Np99999999999\n", "max_memo"),
    "bytearray(2**30)": (_call(BYTEARRAY, _i(2**30)), "max_bytes_total"),
    "bytes(2**30)": (_call(_g("__builtin__", "bytes"), _i(2**30)), "max_bytes_total"),
    "bytearray(2**28)": (_call(BYTEARRAY, _i(2**28)), "max_expansion"),
    "_reconstruct of 2**25 doubles": (_call(RECONSTRUCT, NDARRAY, _t(_i(2**25)), b"C\x01d"), "max_expansion"),
    "_reconstruct of 2**27 elements": (_call(RECONSTRUCT, NDARRAY, _t(_i(2**27)), b"C\x01d"), "max_array_elements"),
    "array state of 2**27 elements": (_array(F8, shape=(2**27,), raw=b""), "max_array_elements"),
    "array state of 2**25 x 8 bytes": (_array(F8, shape=(2**25,), raw=b""), "needs 268435456 bytes"),
    "array state of 2**80 elements": (_array(F8, shape=(2**40, 2**40), raw=b""), "max_array_elements"),
    "_frombuffer claiming 2**27": (_call(FROMBUFFER, _b(b""), _dtype("f8"), _t(_i(2**27)), _u("C")), "max_array_elements"),
    "set(range(2**30))": (_call(_g("builtins", "set"), _call(RANGE, _i(2**30))), "set of a range"),
    "frozenset(range(2**30))": (_call(_g("builtins", "frozenset"), _call(RANGE, _i(2**30))), "frozenset of a range"),
    "bytearray(range(2**30))": (_call(BYTEARRAY, _call(RANGE, _i(2**30))), "bytearray called with range"),
    "OrderedDict(range)": (_call(_g("collections", "OrderedDict"), _call(RANGE, _i(2**30))), "OrderedDict of a range"),
    "hex codec doubling x 30": (_HEX_30, "latin-1"),
    "one string encoded 10**4 times": (_ENCODE_10K, "max_expansion"),
    "empty sets, a million": (b"(" + b"\x8f" * 1_000_000 + b"l", "max_expansion"),
    "text int of 10**5 digits": (b"I" + b"9" * 100_000 + b"\n", "integer of"),
    "LONG4 claiming 2**31 bytes": (b"\x8b\xff\xff\xff\x7f\x00", "integer of"),
    "BINBYTES8 claiming 2**40": (b"\x8e\x00\x00\x00\x00\x00\x01\x00\x00xx", "truncated"),
    "FRAME claiming 2**62": (b"\x95\x00\x00\x00\x00\x00\x00\x00\x40N", "truncated"),
    "marks nested 10**6 deep": (b"(" * 1_000_000, "max_depth"),
    "tuple 2*10**5 deep as a dict key": (b"}" + b")" + b"\x85" * 200_000 + b"Ns", "max_depth"),  # crashes plain pickle
    "list DAG of 2**40 leaves": (_list_dag(40), "max_items"),
    "tuple DAG of 2**40 leaves": (_tuple_dag(40), "max_items"),
    "tuple of 2**20 hashed 10**4 times": (_tuple_dag(20, reuse=10_000), "max_expansion"),
}


@pytest.mark.skipif(sys.platform != "linux", reason="the child's address-space limit (RLIMIT_AS) is Linux's")
def test_a_few_bytes_cannot_make_the_reader_allocate_much():
    payloads = {name: _p(body) for name, (body, _) in _AMPLIFIED.items()}
    assert all(len(p) < 1_100_000 for p in payloads.values())
    results = _run_in_child(payloads, mem_mb=300)
    for name, (_, expected) in _AMPLIFIED.items():
        kind, message = results[name]
        assert kind in ("UnsafePickleError", "CorruptPickleError", "PickleLimitError"), (name, results[name])
        assert expected in message and "MemoryError" not in message, (name, message)
    assert results["__grew_mb"] < 150, results["__grew_mb"]
