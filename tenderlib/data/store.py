"""Packed, memory-mapped clip store: build, open, index, select.

docs/design.md, section 2. Motions are packed once; afterwards a million clips open in milliseconds
because every array is a memory-mapped .npy and strings are concatenated utf-8 bytes plus offsets.

Layout of a store folder (every file is a .npy; `manifest.json` is written last):

    manifest.json         format, version, counts, file dtypes/shapes, sources, regions, meta
    frames.npy            (total_frames, K, 3) float32: x, y, confidence of all clips, concatenated
    frames_3d.npy         (total_frames_3d, K, 3) float32: 3D ground truth of the clips that have
                          it (`offset_3d`, `has_3d`), each distinct 3D clip once: the views of one
                          motion-capture take (same 3D, several cameras) point at the same rows
    <column>.npy          one per field of `StoreIndex`, one row per clip
    clip_id.npy, texts.npy, labels.npy  uint8 utf-8 blobs, with <name>_offsets.npy (N + 1,) int64;
                          texts is a JSON list of captions per clip, labels a JSON object per clip

A build streams: each clip is validated, appended to the open files and forgotten, so memory does
not grow with the dataset (the per-column writers hold at most a few thousand rows). It is atomic
(tenderlib.data.building): an interrupted build never leaves a folder that `Store` accepts, and the
leftovers of a killed one are removed by the next build of the path.

Splits, the quality rule and selections are in tenderlib.data.selection; `Store.select` applies
them. The quality rule's fraction is taken over the regions the clip annotates (a region counts as
annotated when any of its confidences is > 0), so a face-only clip is judged on its face and a
hand-only clip on its hands, instead of being rejected for the body it never had.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from tenderlib.data.motion import NUM_KEYPOINTS, Motion
from tenderlib.data.building import BuildLock, building_folder, check_target, clean_stale_builds
from tenderlib.data.normalize import NORM_VERSION, NormStats, norm_stats
from tenderlib.data.selection import (_HASH_PERSON, DEFAULT_SPLIT_FRACTIONS, SPLITS, QualityRule, Selection, clip_keys,
                                      source_key, split_codes, split_group)
from tenderlib.data.skeleton import REGIONS

log = logging.getLogger(__name__)

FORMAT = "tender-store"
FORMAT_VERSION = 3  # 2: split/frac keys from the split group, id_key for look-ups; 3: 3D stored once per take
READ_VERSIONS = (2, 3)  # versions this code opens (a version 2 store is a version 3 one without shared 3D)
_HEADER_LEN = 128  # bytes of the .npy header we reserve and rewrite on close (64-byte aligned)
_ROWS_PER_WRITE = 4096  # per-column rows buffered before a write
_STRINGS = ("clip_id", "texts", "labels")


# ---------------------------------------------------------------------------------------------
# Regions, quality rule, selections


def _regions() -> tuple[tuple[str, np.ndarray], ...]:
    """Regions of tenderlib.data.skeleton as (name, keypoint indices)."""
    return tuple((name, np.arange(NUM_KEYPOINTS)[where]) for name, where in REGIONS.items())


def _onehot(regions) -> np.ndarray:
    """(K, R) bool: keypoint k belongs to region r."""
    out = np.zeros((NUM_KEYPOINTS, len(regions)), dtype=bool)
    for r, (_, idx) in enumerate(regions):
        out[idx, r] = True
    return out


# ---------------------------------------------------------------------------------------------
# Index columns


@dataclass(frozen=True, eq=False)
class StoreIndex:
    """Per-clip numeric columns (memory-mapped). N clips, R regions."""

    offset: np.ndarray  # (N,) int64, first row of the clip in frames.npy
    length: np.ndarray  # (N,) int64, number of frames
    fps: np.ndarray  # (N,) float64
    image_size: np.ndarray  # (N, 2) int64, (width, height)
    source_code: np.ndarray  # (N,) int32, index into Store.sources
    parts: np.ndarray  # (N,) uint16, bit r set = region r annotated (some confidence > 0)
    has_3d: np.ndarray  # (N,) bool
    offset_3d: np.ndarray  # (N,) int64, first row in frames_3d.npy; -1 without 3D
    n_annotated: np.ndarray  # (N,) int64, keypoint-frames in the annotated regions
    n_confident: np.ndarray  # (N,) int64, of those, confidence > manifest's conf_threshold
    region_conf: np.ndarray  # (N, R) float32, mean confidence per region over the clip
    split_key: np.ndarray  # (N,) float64 in [0, 1), from the split group (split_group)
    frac_key: np.ndarray  # (N,) float64 in [0, 1), from the split group
    id_key: np.ndarray  # (N,) float64 in [0, 1), from clip_id (look-ups by id)
    norm_center: np.ndarray  # (N, 2) float64, tenderlib.data.normalize centre of the clip (pixels)
    norm_scale: np.ndarray  # (N,) float64, tenderlib.data.normalize scale of the clip (pixels)

    @property
    def confident_fraction(self) -> np.ndarray:
        """(N,) float64: fraction of annotated keypoint-frames above the build threshold."""
        return self.n_confident / np.maximum(self.n_annotated, 1)


def _column_dtypes(num_regions: int) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    return {"offset": (np.int64, ()), "length": (np.int64, ()), "fps": (np.float64, ()),
            "image_size": (np.int64, (2,)), "source_code": (np.int32, ()), "parts": (np.uint16, ()),
            "has_3d": (np.bool_, ()), "offset_3d": (np.int64, ()), "n_annotated": (np.int64, ()),
            "n_confident": (np.int64, ()), "region_conf": (np.float32, (num_regions,)),
            "split_key": (np.float64, ()), "frac_key": (np.float64, ()), "id_key": (np.float64, ()),
            "norm_center": (np.float64, (2,)), "norm_scale": (np.float64, ())}


# ---------------------------------------------------------------------------------------------
# Writing


def _npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """A version 1.0 .npy header padded to exactly _HEADER_LEN bytes."""
    body = ("{'descr': %r, 'fortran_order': False, 'shape': %r, }"
            % (np.lib.format.dtype_to_descr(np.dtype(dtype)), tuple(shape))).encode("latin1")
    pad = _HEADER_LEN - 10 - len(body) - 1
    if pad < 0:
        raise ValueError(f"array shape {shape} too large for the reserved .npy header")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", _HEADER_LEN - 10) + body + b" " * pad + b"\n"


class _NpyWriter:
    """Appends rows to a .npy file; the header, with the final row count, is written on close."""

    def __init__(self, path: Path, dtype, row_shape: tuple[int, ...] = ()):
        self.dtype, self.row_shape, self.rows = np.dtype(dtype), tuple(row_shape), 0
        self._pending: list = []
        self._file = open(path, "wb", buffering=1 << 20)
        self._file.write(b"\0" * _HEADER_LEN)

    def append(self, rows: np.ndarray) -> None:  # rows: (n, *row_shape), already self.dtype
        self._flush()
        assert rows.dtype == self.dtype and rows.shape[1:] == self.row_shape, (rows.dtype, rows.shape)
        self._file.write(memoryview(np.ascontiguousarray(rows)).cast("B"))
        self.rows += rows.shape[0]

    def append_row(self, row) -> None:
        self._pending.append(row)
        if len(self._pending) >= _ROWS_PER_WRITE:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            rows = np.asarray(self._pending, dtype=self.dtype).reshape((-1,) + self.row_shape)
            self._pending = []
            self.append(rows)

    def close(self) -> dict:
        self._flush()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.seek(0)
        shape = (self.rows,) + self.row_shape
        self._file.write(_npy_header(self.dtype, shape))
        self._file.close()
        return {"dtype": np.lib.format.dtype_to_descr(self.dtype), "shape": list(shape)}

    def abort(self) -> None:
        self._file.close()


class _StringWriter:
    """Concatenated utf-8 strings (uint8 .npy) plus (N + 1,) int64 offsets."""

    def __init__(self, folder: Path, name: str):
        self.blob = _NpyWriter(folder / f"{name}.npy", np.uint8)
        self.offsets = _NpyWriter(folder / f"{name}_offsets.npy", np.int64)
        self.offsets.append_row(0)

    def append(self, text: str) -> None:
        data = text.encode("utf-8")
        self.blob.append(np.frombuffer(data, dtype=np.uint8))
        self.offsets.append_row(self.blob.rows)

    def writers(self, name: str) -> dict[str, _NpyWriter]:
        return {name: self.blob, f"{name}_offsets": self.offsets}


class _Builder:
    """Streams Motions into the files of one (temporary) store folder."""

    def __init__(self, folder: Path, conf_threshold: float):
        self.folder, self.conf_threshold = folder, conf_threshold
        self.regions = _regions()
        self.onehot = _onehot(self.regions)  # (K, R)
        self.region_size = self.onehot.sum(0)  # (R,)
        self.sources: dict[str, int] = {}
        self.frames = _NpyWriter(folder / "frames.npy", np.float32, (NUM_KEYPOINTS, 3))
        self.frames_3d: _NpyWriter | None = None  # opened at the first clip with 3D
        self.seen_3d: dict[bytes, int] = {}  # digest of a 3D clip -> its first row (each 3D clip stored once)
        self.columns = {name: _NpyWriter(folder / f"{name}.npy", dt, shape)
                        for name, (dt, shape) in _column_dtypes(len(self.regions)).items()}
        self.strings = {name: _StringWriter(folder, name) for name in _STRINGS}

    def writers(self) -> dict[str, _NpyWriter]:
        out = {"frames": self.frames, **self.columns}
        if self.frames_3d is not None:
            out["frames_3d"] = self.frames_3d
        for name, s in self.strings.items():
            out.update(s.writers(name))
        return out

    def add(self, m: Motion) -> None:
        m.validate()
        T, conf = m.num_frames, m.confidence
        packed = np.empty((T, NUM_KEYPOINTS, 3), dtype=np.float32)  # (T, K, 3)
        packed[..., :2] = m.keypoints
        packed[..., 2] = conf
        col = self.columns
        col["offset"].append_row(self.frames.rows)
        self.frames.append(packed)
        if m.keypoints_3d is not None:
            if self.frames_3d is None:
                self.frames_3d = _NpyWriter(self.folder / "frames_3d.npy", np.float32, (NUM_KEYPOINTS, 3))
            k3 = np.ascontiguousarray(m.keypoints_3d, dtype=np.float32)  # (T, K, 3)
            digest = hashlib.blake2b(k3.tobytes(), digest_size=32, person=b"tender-3d").digest() + struct.pack("<q", T)
            if digest not in self.seen_3d:  # a new 3D clip; the other views of a take reuse its rows
                self.seen_3d[digest] = self.frames_3d.rows
                self.frames_3d.append(k3)
            col["offset_3d"].append_row(self.seen_3d[digest])
        else:
            col["offset_3d"].append_row(-1)
        col["has_3d"].append_row(m.keypoints_3d is not None)
        # quality statistics
        annotated = (self.onehot & (conf.max(axis=0) > 0)[:, None]).any(axis=0)  # (R,)
        kp_in = self.onehot[:, annotated].any(axis=1)  # (K,) keypoints of annotated regions
        col["parts"].append_row(int((annotated.astype(np.int64) << np.arange(annotated.size)).sum()))
        col["n_annotated"].append_row(T * int(kp_in.sum()))
        col["n_confident"].append_row(int(np.count_nonzero(conf[:, kp_in] > self.conf_threshold)))
        col["region_conf"].append_row((conf.mean(axis=0, dtype=np.float64) @ self.onehot) / self.region_size)
        # identity and metadata
        code = self.sources.setdefault(m.source, len(self.sources))
        col["source_code"].append_row(code)
        col["length"].append_row(T)
        col["fps"].append_row(float(m.fps))
        col["image_size"].append_row([int(v) for v in m.image_size])
        split_k, frac_k = clip_keys(split_group(m))
        col["split_key"].append_row(split_k)
        col["frac_key"].append_row(frac_k)
        col["id_key"].append_row(clip_keys(m.clip_id)[0])
        stats = norm_stats(m.keypoints, conf)  # precomputed: reading a clip then costs a subtraction
        col["norm_center"].append_row(stats.center)
        col["norm_scale"].append_row(stats.scale)
        self.strings["clip_id"].append(m.clip_id)
        self.strings["texts"].append(json.dumps(list(m.texts), ensure_ascii=False))
        self.strings["labels"].append(json.dumps(dict(m.labels), ensure_ascii=False))

    def finish(self, meta: dict, build_id: str) -> None:
        if len(self.sources) > np.iinfo(np.int32).max:
            raise ValueError("too many sources")
        files = {name: w.close() for name, w in self.writers().items()}
        n = files["length"]["shape"][0]
        self._check_unique_ids()
        manifest = {
            "format": FORMAT, "version": FORMAT_VERSION, "num_clips": n,
            "num_frames": files["frames"]["shape"][0],
            "num_frames_3d": files["frames_3d"]["shape"][0] if "frames_3d" in files else 0,
            "num_keypoints": NUM_KEYPOINTS, "conf_threshold": self.conf_threshold,
            "sources": list(self.sources), "regions": [[name, idx.tolist()] for name, idx in self.regions],
            "hash": {"algorithm": "blake2b-128", "person": _HASH_PERSON.decode()},
            "norm_version": NORM_VERSION, "build_id": build_id,
            "files": files, "meta": meta,
        }
        with open(self.folder / "manifest.json", "w", encoding="utf-8") as f:  # written last
            json.dump(manifest, f, indent=1)
            f.flush()
            os.fsync(f.fileno())

    def abort(self) -> None:
        for w in self.writers().values():
            w.abort()

    def _check_unique_ids(self) -> None:
        ids = np.load(self.folder / "id_key.npy")
        order = np.argsort(ids, kind="stable")
        blob = np.load(self.folder / "clip_id.npy")
        offs = np.load(self.folder / "clip_id_offsets.npy")
        for k in np.flatnonzero(ids[order][1:] == ids[order][:-1]):  # equal hashes: compare the ids themselves
            a, b = (bytes(blob[offs[i]:offs[i + 1]]).decode() for i in (int(order[k]), int(order[k + 1])))
            if a == b:
                raise ValueError(f"clip_id must be unique: {a!r} appears more than once")


def build_store(motions: Iterable[Motion], path, *, meta: dict | None = None, overwrite: bool = False) -> Store:
    """Pack `motions` into a store folder at `path` (streaming, atomic) and open it.

    meta: JSON-serialisable facts kept in the manifest, e.g. the dataset config and its hash.
    overwrite: replace an existing store at `path` (never a folder that is not a store).
    Leftovers of killed builds of the same path are removed first (`clean_stale_builds`).
    """
    path = Path(path)
    meta = dict(meta or {})
    try:
        json.dumps(meta)
    except TypeError as e:
        raise ValueError(f"meta must be JSON-serialisable: {e}") from None
    check_target(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_builds(path)
    build_id = uuid.uuid4().hex[:12]
    lock = BuildLock(path, build_id)
    tmp = building_folder(path, build_id)
    builder = None
    try:
        tmp.mkdir()
        builder = _Builder(tmp, QualityRule().conf_threshold)
        for i, m in enumerate(motions):
            builder.add(m)
            if (i + 1) % 100_000 == 0:
                log.info("store %s: %d clips packed", path.name, i + 1)
        builder.finish(meta, build_id)
        check_target(path, overwrite)
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{build_id}"
            os.rename(path, old)
        os.rename(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if builder is not None:
            builder.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        lock.release()
    store = Store(path)
    log.info("store %s: %d clips, %d frames", path, len(store), store.manifest["num_frames"])
    return store


# ---------------------------------------------------------------------------------------------
# Reading


def _read_manifest(path: Path) -> dict:
    if not path.is_dir():
        raise ValueError(f"store path {str(path)!r} is not a folder")
    mf = path / "manifest.json"
    if not mf.is_file():
        raise ValueError(f"{str(path)!r} is not a complete store: no manifest.json (an interrupted build leaves none)")
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{str(mf)!r} is not valid JSON: {e}") from None
    if manifest.get("format") != FORMAT or manifest.get("version") not in READ_VERSIONS:
        raise ValueError(f"{str(mf)!r}: expected format {FORMAT!r} version {' or '.join(map(str, READ_VERSIONS))}, "
                         f"got {manifest.get('format')!r} version {manifest.get('version')!r}")
    for name, spec in manifest["files"].items():
        f = path / f"{name}.npy"
        expected = _HEADER_LEN + int(np.prod(spec["shape"])) * np.dtype(spec["dtype"]).itemsize
        if not f.is_file() or f.stat().st_size != expected:
            got = f.stat().st_size if f.is_file() else "missing"
            raise ValueError(f"store {str(path)!r} is incomplete: {f.name} is {got} bytes, manifest says {expected}")
    return manifest


def _load(path: Path, spec: dict) -> np.ndarray:
    if int(np.prod(spec["shape"])) == 0:  # mmap cannot map an empty range
        return np.zeros(spec["shape"], dtype=spec["dtype"])
    return np.asarray(np.load(path, mmap_mode="r"))  # plain ndarray view of the map: faster indexing


class Store:
    """Read side of a packed store. `len(store)`, `store.clip(i)`, `store.frames(i)`, `store.select(...)`."""

    def __init__(self, path):
        self.path = Path(path)
        self.manifest = _read_manifest(self.path)
        arrays = {name: _load(self.path / f"{name}.npy", spec) for name, spec in self.manifest["files"].items()}
        self._frames = arrays["frames"]  # (total_frames, K, 3)
        self._frames_3d = arrays.get("frames_3d")  # (total_frames_3d, K, 3) or None
        self._strings = {n: (arrays[n], arrays[f"{n}_offsets"]) for n in _STRINGS}
        self.index = StoreIndex(**{f.name: arrays[f.name] for f in dataclasses.fields(StoreIndex)})
        self.sources: tuple[str, ...] = tuple(self.manifest["sources"])
        self.regions: tuple[tuple[str, np.ndarray], ...] = tuple(
            (name, np.asarray(idx, dtype=np.int64)) for name, idx in self.manifest["regions"])
        self._id_order: np.ndarray | None = None
        self._check_index()

    def _check_index(self) -> None:
        """Raise ValueError if the index columns disagree with each other or with the frame files
        (an edited or damaged store would otherwise hand out other clips' frames, or too many)."""
        ix, N = self.index, len(self)

        def need(ok, what: str) -> None:
            if not ok:
                raise ValueError(f"store {str(self.path)!r} is inconsistent: {what}; rebuild it")

        for f in dataclasses.fields(StoreIndex):
            need(len(getattr(ix, f.name)) == N, f"column {f.name} has {len(getattr(ix, f.name))} rows for {N} clips")
        length, offset = np.asarray(ix.length), np.asarray(ix.offset)
        need(N == 0 or length.min() >= 1, "a clip has fewer than 1 frame")
        ends = np.cumsum(length)
        need(np.array_equal(offset, ends - length), "clip offsets do not follow the clip lengths")
        need((ends[-1] if N else 0) == len(self._frames), f"the clips hold {int(ends[-1]) if N else 0} frames, "
                                                          f"frames.npy {len(self._frames)}")
        has, off3 = np.asarray(ix.has_3d), np.asarray(ix.offset_3d)
        need(np.all(off3[~has] == -1), "offset_3d is set for a clip without 3D")
        rows3 = 0 if self._frames_3d is None else len(self._frames_3d)
        need(np.all((off3[has] >= 0) & (off3[has] + length[has] <= rows3)),
             f"a 3D clip lies outside frames_3d.npy ({rows3} frames)")
        # each stored 3D row belongs to some clip (rows are shared by the views of a take, never left over)
        spans = (np.bincount(off3[has], minlength=rows3 + 1)
                 - np.bincount(off3[has] + length[has], minlength=rows3 + 1))  # +1 where a 3D clip starts, -1 after it
        need(rows3 == 0 or np.all(np.cumsum(spans)[:rows3] > 0), "frames_3d.npy holds rows that no clip uses")

        need(N == 0 or (0 <= ix.source_code.min() and ix.source_code.max() < len(self.sources)),
             "a source code is out of range")
        need(np.all(np.isfinite(ix.fps)) and np.all(ix.fps > 0), "an fps is not a positive number")
        for name, (blob, offs) in self._strings.items():
            offs = np.asarray(offs)
            need(len(offs) == N + 1 and offs[0] == 0 and np.all(np.diff(offs) >= 0)
                 and offs[-1] == len(blob), f"the offsets of {name} do not fit its blob")

    def __reduce__(self):  # DataLoader workers reopen the files instead of copying the arrays
        return (Store, (str(self.path),))

    def __len__(self) -> int:
        return self.manifest["num_clips"]

    def __getitem__(self, i: int) -> Motion:
        return self.clip(i)

    def __repr__(self) -> str:
        m = self.manifest
        return f"Store({str(self.path)!r}, clips={len(self)}, frames={m['num_frames']}, sources={self.sources})"

    @property
    def meta(self) -> dict:
        return self.manifest["meta"]

    @property
    def identity(self) -> str:
        """The name runs trained on this store are filed under (tenderlib.training.DataKey): the
        builder's `meta["identity"]` when it names the content itself (the synthetic stores: their
        folder name holds the hash of their config and generator code), else the folder name and a
        hash of the manifest, which holds a fresh build id: a store imported again under the same
        name is other data, and runs of the earlier one are not reused for it."""
        named = self.meta.get("identity")
        if isinstance(named, str) and named:
            return named
        digest = hashlib.sha256(json.dumps(self.manifest, sort_keys=True).encode()).hexdigest()[:12]  # as opened
        return f"{self.path.name}-{digest}"

    def _check(self, i) -> int:
        n = len(self)
        if not isinstance(i, (int, np.integer)) or not -n <= i < n:
            raise IndexError(f"clip index must be an int in [{-n}, {n}), got {i!r}")
        return int(i) % n

    def frames(self, i: int) -> np.ndarray:
        """(T, K, 3) float32 x, y, confidence: a read-only view into the memory map (no copy)."""
        i = self._check(i)
        o = int(self.index.offset[i])
        return self._frames[o:o + int(self.index.length[i])]

    def keypoints_3d(self, i: int) -> np.ndarray | None:
        """(T, K, 3) float32 view of the clip's 3D ground truth, or None."""
        i = self._check(i)
        o = int(self.index.offset_3d[i])
        return None if o < 0 else self._frames_3d[o:o + int(self.index.length[i])]

    def _string(self, name: str, i: int) -> str:
        blob, offs = self._strings[name]
        return bytes(blob[offs[i]:offs[i + 1]]).decode("utf-8")

    def clip_id(self, i: int) -> str:
        return self._string("clip_id", self._check(i))

    def texts(self, i: int) -> list[str]:
        return json.loads(self._string("texts", self._check(i)))

    def labels(self, i: int) -> dict[str, str]:
        return json.loads(self._string("labels", self._check(i)))

    def source(self, i: int) -> str:
        return self.sources[int(self.index.source_code[self._check(i)])]

    def norm_stats(self, i: int) -> NormStats:
        """tenderlib.data.normalize statistics of clip i: precomputed, or recomputed for an older store."""
        i = self._check(i)
        if self.manifest.get("norm_version") != NORM_VERSION:
            f = self.frames(i)
            return norm_stats(f[..., :2], f[..., 2])
        c = self.index.norm_center[i]
        return NormStats(center=(float(c[0]), float(c[1])), scale=float(self.index.norm_scale[i]))

    def clip(self, i: int) -> Motion:
        """The stored clip as a Motion (copies; bit-exact with what was packed)."""
        i = self._check(i)
        f = self.frames(i)
        k3 = self.keypoints_3d(i)
        w, h = self.index.image_size[i]
        return Motion(keypoints=np.array(f[..., :2]), confidence=np.array(f[..., 2]), texts=self.texts(i),
                      source=self.source(i), fps=float(self.index.fps[i]), image_size=(int(w), int(h)),
                      clip_id=self.clip_id(i), keypoints_3d=None if k3 is None else np.array(k3),
                      labels=self.labels(i))

    def index_of(self, clip_id: str) -> int:
        """Position of `clip_id` in the store (binary search on its hash keys)."""
        if self._id_order is None:
            self._id_order = np.argsort(self.index.id_key, kind="stable")
        key = clip_keys(clip_id)[0]
        keys = self.index.id_key
        lo = int(np.searchsorted(keys, key, side="left", sorter=self._id_order))
        while lo < len(self) and keys[self._id_order[lo]] == key:
            i = int(self._id_order[lo])
            if self.clip_id(i) == clip_id:
                return i
            lo += 1
        raise KeyError(f"clip_id {clip_id!r} is not in the store")

    # --- splits, quality, selections ------------------------------------------------------

    def splits(self, fractions=DEFAULT_SPLIT_FRACTIONS) -> np.ndarray:
        """(N,) int: 0 = train, 1 = val, 2 = test (SPLITS order)."""
        return split_codes(self.index.split_key, fractions)

    def confident_counts(self, conf_threshold: float) -> np.ndarray:
        """(N,) int64 keypoint-frames of annotated regions with confidence > conf_threshold."""
        if conf_threshold == self.manifest["conf_threshold"]:
            return np.asarray(self.index.n_confident)
        log.info("recounting confident keypoints at threshold %s from the frames", conf_threshold)
        bits = (self.index.parts[:, None].astype(np.int64) >> np.arange(len(self.regions))) & 1  # (N, R)
        kp_in = (bits @ _onehot(self.regions).T) > 0  # (N, K) keypoints of each clip's annotated regions
        out = np.zeros(len(self), dtype=np.int64)
        step = 1 + 1_000_000 // (1 + (int(self.index.length.mean()) if len(self) else 0))
        for a in range(0, len(self), step):  # chunks of about a million frames
            b = min(a + step, len(self))
            lengths = self.index.length[a:b]
            start = int(self.index.offset[a])
            conf = self._frames[start:start + int(lengths.sum()), :, 2]  # (F, K)
            clip_of_frame = np.repeat(np.arange(b - a), lengths)
            per_frame = ((conf > conf_threshold) & kp_in[a:b][clip_of_frame]).sum(axis=1)  # (F,)
            out[a:b] = np.bincount(clip_of_frame, weights=per_frame, minlength=b - a).astype(np.int64)
        return out

    def high_quality(self, rule: QualityRule = QualityRule()) -> np.ndarray:
        """(N,) bool: the paper's rule, judged on each clip's annotated regions (module docstring)."""
        n_annot = np.asarray(self.index.n_annotated)
        frac = self.confident_counts(rule.conf_threshold) / np.maximum(n_annot, 1)
        return (np.asarray(self.index.length) > rule.min_frames) & (n_annot > 0) & (frac > rule.min_fraction)

    def select(self, sel: Selection, *, nonempty: bool = False) -> np.ndarray:
        """Sorted int64 clip indices matching `sel`. nonempty: raise ValueError saying which
        filter emptied it (with the clips left after each) instead of returning no clip."""
        if not isinstance(sel, Selection):
            raise ValueError("select expects a Selection (e.g. tenderlib.data.selection.selection('D1', split)), "
                             f"got {type(sel).__name__}")
        keep = np.ones(len(self), dtype=bool)
        steps = [("the store", len(self))]  # (filter, clips left after it)
        if sel.split != "all":
            keep &= self.splits(sel.split_fractions) == SPLITS.index(sel.split)
            steps.append((f"split {sel.split!r}", int(keep.sum())))
        if sel.data_frac < 1:
            keep &= np.asarray(self.index.frac_key) < sel.data_frac
            steps.append((f"data_frac {sel.data_frac:g}", int(keep.sum())))
        if sel.sources is not None:  # by name, else by source_key ('syn-k400' = 'K400' = 'kinetics-400')
            keys = [source_key(s) for s in self.sources]
            codes = [[self.sources.index(s)] if s in self.sources else
                     [c for c, k in enumerate(keys) if k == source_key(s)] for s in sel.sources]
            unknown = sorted(s for s, c in zip(sel.sources, codes) if not c)
            if unknown:
                raise ValueError(f"Selection.sources: {unknown} not in this store (sources {list(self.sources)}); "
                                 f"D2 needs K400 and K700 sources: choose D1 or D3 for another store")
            codes = sorted({c for cs in codes for c in cs})
            keep &= np.isin(self.index.source_code, codes)
            steps.append((f"sources {list(sel.sources)}", int(keep.sum())))
        if sel.high_quality_only:
            keep &= self.high_quality(sel.quality)
            steps.append(("the quality rule", int(keep.sum())))
        if nonempty and not keep.any():
            trail = " -> ".join(f"{name}: {n:,}" for name, n in steps)
            raise ValueError(f"the selection holds no clip ({trail}); {steps[-1][0]} left none: choose a "
                             f"larger share or another split, source or rule")
        return np.flatnonzero(keep).astype(np.int64)

    def to_frame(self, rule: QualityRule = QualityRule()):
        """A pandas DataFrame, one row per clip, for exploration (decodes every clip id)."""
        import pandas as pd

        idx = self.index
        return pd.DataFrame({
            "clip_id": [self._string("clip_id", i) for i in range(len(self))],
            "source": pd.Categorical.from_codes(np.asarray(idx.source_code), categories=list(self.sources)),
            "length": idx.length, "fps": idx.fps, "width": idx.image_size[:, 0], "height": idx.image_size[:, 1],
            "parts": idx.parts, "has_3d": idx.has_3d, "confident_fraction": idx.confident_fraction,
            "split": pd.Categorical.from_codes(self.splits(), categories=list(SPLITS)),
            "high_quality": self.high_quality(rule),
        })
