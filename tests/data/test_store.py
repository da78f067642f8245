"""Store: bit-exact round trip, atomic builds, stable splits, nested subsets, quality rule, presets."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tenderlib.data.motion import NUM_KEYPOINTS, Motion
from tenderlib.data.skeleton import REGIONS
from tenderlib.data.store import Store, build_store
from tenderlib.data.selection import QualityRule, Selection, clip_keys, frac_key, selection, split_of

FACE = np.arange(NUM_KEYPOINTS)[REGIONS["face"]]  # 23-90
HANDS = np.arange(REGIONS["left_hand"].start, REGIONS["right_hand"].stop)  # 91-132
SOURCES = ("syn-ucf101", "syn-k400", "syn-k700", "syn-sthv2", "syn-dfew")


def random_motion(rng, clip_id, *, T=None, kind="whole", with_3d=False, source=None, conf=None):
    """A valid random clip; kind 'face' / 'hand' leaves confidence 0 outside the face / hands."""
    T = int(rng.integers(3, 40)) if T is None else T
    kp = (rng.random((T, NUM_KEYPOINTS, 2)) * [640, 480]).astype(np.float32)
    c = (rng.random((T, NUM_KEYPOINTS)) * 1.2).astype(np.float32) if conf is None else conf
    if kind != "whole":
        keep = FACE if kind == "face" else HANDS
        outside = np.setdiff1d(np.arange(NUM_KEYPOINTS), keep)
        c[:, outside] = 0
    return Motion(keypoints=kp, confidence=c, texts=[f"caption {clip_id}", "a person does ünïcode things"],
                  source=source or SOURCES[int(rng.integers(len(SOURCES)))], fps=float(rng.choice([25, 29.97, 30])),
                  image_size=(640, 480), clip_id=clip_id,
                  keypoints_3d=rng.standard_normal((T, NUM_KEYPOINTS, 3)).astype(np.float32) if with_3d else None,
                  labels={"action": "wave", "index": clip_id})


def mixed_motions(n, seed=0, prefix="c"):
    rng = np.random.default_rng(seed)
    kinds = ("whole", "whole", "face", "hand")
    return [random_motion(rng, f"{prefix}{i:05d}", kind=kinds[i % 4], with_3d=(i % 3 == 0)) for i in range(n)]


def assert_same(a: Motion, b: Motion):
    for name in ("keypoints", "confidence"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
    assert (a.keypoints_3d is None) == (b.keypoints_3d is None)
    if a.keypoints_3d is not None:
        assert a.keypoints_3d.dtype == np.float32 and a.keypoints_3d.tobytes() == b.keypoints_3d.tobytes()
    assert (a.texts, a.source, a.fps, tuple(a.image_size), a.clip_id, a.labels) == \
        (b.texts, b.source, b.fps, tuple(b.image_size), b.clip_id, b.labels)


def test_round_trip_bit_exact(tmp_path):
    motions = mixed_motions(40)
    store = build_store(iter(motions), tmp_path / "s", meta={"config_hash": "abc"})
    assert len(store) == 40 and store.meta == {"config_hash": "abc"}
    assert store.manifest["num_frames"] == sum(m.num_frames for m in motions)
    for i, m in enumerate(motions):
        assert_same(store.clip(i), m)
        view = store.frames(i)
        assert view.shape == (m.num_frames, NUM_KEYPOINTS, 3) and not view.flags.owndata and not view.flags.writeable
        assert bool(store.index.has_3d[i]) == (m.keypoints_3d is not None)
    reopened = Store(tmp_path / "s")  # a fresh process would see the same
    assert_same(reopened.clip(39), motions[39])
    assert np.load(tmp_path / "s" / "frames.npy").shape == (store.manifest["num_frames"], NUM_KEYPOINTS, 3)
    assert store.index_of("c00017") == 17
    with pytest.raises(KeyError):
        store.index_of("nope")
    with pytest.raises(IndexError):
        store.frames(40)


def test_region_statistics(tmp_path):
    rng = np.random.default_rng(1)
    face = random_motion(rng, "face", T=10, kind="face")
    hand = random_motion(rng, "hand", T=10, kind="hand")
    whole = random_motion(rng, "whole", T=10)
    store = build_store([face, hand, whole], tmp_path / "s")
    names = [name for name, _ in store.regions]
    bit = {name: 1 << r for r, name in enumerate(names)}
    assert store.index.parts[0] == bit["face"]
    assert store.index.parts[1] == bit["left_hand"] | bit["right_hand"]
    assert store.index.parts[2] == sum(bit.values())
    assert store.index.n_annotated[0] == 10 * FACE.size
    assert store.index.n_confident[0] == np.count_nonzero(face.confidence[:, FACE] > 0.3)
    np.testing.assert_allclose(store.index.region_conf[0, names.index("face")], face.confidence[:, FACE].mean(), rtol=1e-6)
    assert store.index.region_conf[0, names.index("body")] == 0
    # recounting at another threshold from the frames agrees with the direct count
    direct = [np.count_nonzero(m.confidence[:, idx] > 0.5) for m, idx in
              ((face, FACE), (hand, HANDS), (whole, np.arange(NUM_KEYPOINTS)))]
    assert store.confident_counts(0.5).tolist() == direct


def test_interrupted_build_leaves_nothing_loadable(tmp_path):
    motions = mixed_motions(20)

    def stream():
        for i, m in enumerate(motions):
            if i == 10:
                raise RuntimeError("killed half-way")
            yield m

    with pytest.raises(RuntimeError, match="half-way"):
        build_store(stream(), tmp_path / "s")
    assert list(tmp_path.iterdir()) == []  # no store, no temporary folder left behind
    with pytest.raises(ValueError, match="store path"):
        Store(tmp_path / "s")
    store = build_store(iter(motions), tmp_path / "s")
    assert len(store) == 20


def test_incomplete_folder_is_refused(tmp_path):
    store = build_store(mixed_motions(5), tmp_path / "s")
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "frames.npy").write_bytes(b"\0" * 200)
    with pytest.raises(ValueError, match="no manifest.json"):
        Store(tmp_path / "partial")
    frames = store.path / "frames.npy"
    frames.write_bytes(frames.read_bytes()[:-4])  # truncated data file
    with pytest.raises(ValueError, match="incomplete: frames.npy"):
        Store(store.path)


def test_overwrite_rules(tmp_path):
    build_store(mixed_motions(3), tmp_path / "s")
    with pytest.raises(ValueError, match="overwrite=True"):
        build_store(mixed_motions(4), tmp_path / "s")
    assert len(build_store(mixed_motions(4), tmp_path / "s", overwrite=True)) == 4
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "precious.txt").write_text("x")
    with pytest.raises(ValueError, match="not a store"):
        build_store(mixed_motions(2), tmp_path / "data", overwrite=True)
    assert (tmp_path / "data" / "precious.txt").exists()


def test_bad_clips_raise_and_leave_nothing(tmp_path):
    rng = np.random.default_rng(2)
    bad = random_motion(rng, "bad")
    bad.keypoints = bad.keypoints.astype(np.float64)
    with pytest.raises(ValueError, match="float32"):
        build_store([random_motion(rng, "ok"), bad], tmp_path / "a")
    nan3d = random_motion(rng, "nan", with_3d=True)
    nan3d.keypoints_3d[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="keypoints_3d contains NaN"):
        build_store([nan3d], tmp_path / "b")
    with pytest.raises(ValueError, match="clip_id must be unique: 'twice'"):
        build_store([random_motion(rng, "twice"), random_motion(rng, "x"), random_motion(rng, "twice")], tmp_path / "c")
    labels = random_motion(rng, "labels")
    labels.labels = {"n": 3}
    with pytest.raises(ValueError, match="labels must be a dict of str"):
        build_store([labels], tmp_path / "d")
    with pytest.raises(ValueError, match="meta must be JSON"):
        build_store([], tmp_path / "e", meta={"x": object()})
    assert list(tmp_path.iterdir()) == []


def test_splits_stable_across_store_sizes(tmp_path):
    rng = np.random.default_rng(3)
    ids = [f"vid-{i}" for i in range(1000)]
    tiny = lambda cid: random_motion(rng, cid, T=2)  # noqa: E731
    big = build_store((tiny(c) for c in ids), tmp_path / "big")
    small_ids = list(rng.permutation(ids)[:100])  # another size and another order
    small = build_store((tiny(c) for c in small_ids), tmp_path / "small")
    big_split = dict(zip(ids, big.splits()))
    assert all(big_split[c] == s for c, s in zip(small_ids, small.splits()))
    assert [split_of(c) for c in ids] == [("train", "val", "test")[s] for s in big.splits()]
    counts = np.bincount(big.splits(), minlength=3) / 1000
    np.testing.assert_allclose(counts, [0.8, 0.1, 0.1], atol=0.04)
    # configurable fractions, still a function of the id alone
    assert (big.splits((0.5, 0.25, 0.25)) == 0).mean() == pytest.approx(0.5, abs=0.05)
    assert split_of("vid-1", (0.0, 0.0, 1.0)) == "test"
    # data_frac subsets are nested and about the right size
    subsets = {f: set(big.select(Selection(split="all", data_frac=f)).tolist()) for f in (0.2, 0.5, 1.0)}
    assert subsets[0.2] <= subsets[0.5] <= subsets[1.0] and len(subsets[1.0]) == 1000
    assert len(subsets[0.2]) == pytest.approx(200, abs=40) and len(subsets[0.5]) == pytest.approx(500, abs=50)
    assert {small.clip_id(i) for i in small.select(Selection(split="all", data_frac=0.2))} == \
        {c for c in small_ids if frac_key(c) < 0.2}
    split_k, frac_k = clip_keys("vid-7")
    assert 0 <= split_k < 1 and 0 <= frac_k < 1 and split_k != frac_k


def quality_clip(clip_id, T, n_confident, kind="whole"):
    """T frames; exactly n_confident keypoint-frames (of the annotated part) at 0.9, the rest at 0.1."""
    keep = {"whole": np.arange(NUM_KEYPOINTS), "face": FACE}[kind]
    conf = np.zeros((T, NUM_KEYPOINTS), dtype=np.float32)
    flat = np.full(T * keep.size, 0.1, dtype=np.float32)
    flat[:n_confident] = 0.9
    conf[:, keep] = flat.reshape(T, keep.size)
    return random_motion(np.random.default_rng(0), clip_id, T=T, kind="whole", conf=conf, source="syn-k400")


def test_quality_rule_on_constructed_cases(tmp_path):
    n = 100 * NUM_KEYPOINTS  # keypoint-frames of a 100-frame whole-body clip
    clips = [
        quality_clip("len64", 64, 64 * NUM_KEYPOINTS),  # all confident but not longer than 64
        quality_clip("len65", 65, 65 * NUM_KEYPOINTS),
        quality_clip("frac69", 100, n * 69 // 100),
        quality_clip("frac71", 100, n * 71 // 100),
        quality_clip("frac70", 100, n * 70 // 100),  # exactly 70%: not "more than 70%"
        quality_clip("face", 100, 100 * FACE.size, kind="face"),  # 51% of all 133, 100% of its face
        quality_clip("face60", 100, int(0.6 * 100 * FACE.size), kind="face"),
    ]
    store = build_store(clips, tmp_path / "s")
    hq = dict(zip((m.clip_id for m in clips), store.high_quality().tolist()))
    assert hq == {"len64": False, "len65": True, "frac69": False, "frac71": True, "frac70": False,
                  "face": True, "face60": False}
    assert store.high_quality(QualityRule(min_frames=63)).tolist()[:2] == [True, True]
    assert not store.high_quality(QualityRule(conf_threshold=0.95)).any()  # recounted from frames
    assert store.index.confident_fraction[3] == pytest.approx(0.71, abs=1e-4)
    with pytest.raises(ValueError, match="min_fraction"):
        QualityRule(min_fraction=1.5)


def test_presets_d1_d2_d3(tmp_path):
    rng = np.random.default_rng(4)
    sources = ("syn-k400", "syn-k700", "syn-ucf101", "syn-dfew")
    motions = []
    for i in range(200):
        good = i % 2 == 0
        conf = np.full((66, NUM_KEYPOINTS), 0.9 if good else 0.2, dtype=np.float32)
        motions.append(random_motion(rng, f"p{i}", T=66, conf=conf, source=sources[i % 4]))
    store = build_store(motions, tmp_path / "s")
    hq = set(np.flatnonzero(store.high_quality()).tolist())
    d1 = set(store.select(selection("D1", "all")).tolist())
    assert d1 == hq and len(d1) == 100
    d2 = store.select(selection("D2", "all"))
    assert {store.source(i) for i in d2} == {"syn-k400"}  # the good clips of K400/K700 are all K400 here
    assert set(d2.tolist()) == {i for i in hq if store.source(i) in ("syn-k400", "syn-k700")}
    d3 = set(store.select(selection("D3", "all")).tolist())
    assert d3 <= d1 and d3 == {i for i in d1 if store.index.frac_key[i] < 0.2}
    assert len(d3) == pytest.approx(20, abs=12)
    train = store.select(selection("D1", "train"))
    assert np.all(np.diff(train) > 0) and set(train.tolist()) <= d1
    assert set(train.tolist()) == {i for i in d1 if split_of(store.clip_id(i)) == "train"}
    parts = [set(store.select(selection("D1", s)).tolist()) for s in ("train", "val", "test")]
    assert set.union(*parts) == d1 and sum(map(len, parts)) == len(d1)


def test_selection_bad_values(tmp_path):
    store = build_store(mixed_motions(8), tmp_path / "s")
    for kwargs, word in [(dict(data_frac=0), "data_frac"), (dict(data_frac=1.5), "data_frac"),
                         (dict(split="training"), "split"), (dict(sources="syn-k400"), "sources"),
                         (dict(split_fractions=(0.8, 0.1, 0.2)), "split_fractions")]:
        with pytest.raises(ValueError, match=word):
            Selection(**kwargs)
    with pytest.raises(ValueError, match=r"Selection.sources: \['syn-nope'\] not in this store"):
        store.select(Selection(sources=("syn-k400", "syn-nope")))
    with pytest.raises(ValueError, match="one of \\('D1', 'D2', 'D3'\\)"):
        selection("D4")
    with pytest.raises(ValueError, match="split"):
        selection("D1", "dev")
    manifest = json.loads((store.path / "manifest.json").read_text())
    assert manifest["num_clips"] == 8 and set(manifest["sources"]) == set(store.sources)


def test_split_group_keeps_views_of_one_take_together(tmp_path):
    rng = np.random.default_rng(5)
    motions = []
    for take in range(40):
        for view in range(3):
            m = random_motion(rng, f"cap/take{take}/view{view}")
            m.labels = {"split_group": f"cap/take{take}"}
            motions.append(m)
    store = build_store(iter(motions), tmp_path / "s")
    splits, frac = store.splits(), np.asarray(store.index.frac_key)
    for take in range(40):
        rows = [3 * take + v for v in range(3)]
        assert len(set(splits[rows].tolist())) == 1 and len(set(frac[rows].tolist())) == 1
    assert len(set(splits.tolist())) > 1                                 # different takes still spread out
    assert store.index_of("cap/take7/view2") == 23                      # look-up by id is unaffected


def test_3d_of_the_views_of_a_take_is_stored_once(tmp_path):
    rng = np.random.default_rng(11)
    motions = []
    for take in range(4):
        shared = rng.standard_normal((20 + take, NUM_KEYPOINTS, 3)).astype(np.float32)
        for view in range(3):
            m = random_motion(rng, f"cap/take{take}/view{view}", T=20 + take)
            m.keypoints_3d = shared.copy()  # equal content, another array: found by content, not by identity
            motions.append(m)
    other = random_motion(rng, "cap/single", T=20 + 1, with_3d=True)  # same length as take 1, other 3D
    motions.append(other)
    store = build_store(iter(motions), tmp_path / "s")
    assert store.manifest["num_frames_3d"] == sum(20 + t for t in range(4)) + 21
    for i, m in enumerate(motions):
        assert_same(store.clip(i), m)
    off = np.asarray(store.index.offset_3d)
    assert len(set(off[:3].tolist())) == 1 and len(set(off[3:6].tolist())) == 1 and off[-1] not in off[:-1]


def test_damaged_3d_offsets_are_refused(tmp_path):
    rng = np.random.default_rng(12)
    store = build_store(iter([random_motion(rng, f"c{i}", T=10, with_3d=True) for i in range(3)]), tmp_path / "s")
    path = store.path / "offset_3d.npy"
    off = np.load(path)
    for bad, message in ((np.array([0, 10, 25]), "outside frames_3d"), (np.array([0, 0, 20]), "rows that no clip uses")):
        arr = np.lib.format.open_memmap(path, mode="r+")
        arr[:] = bad
        arr.flush()
        del arr
        with pytest.raises(ValueError, match=message):
            Store(store.path)
    arr = np.lib.format.open_memmap(path, mode="r+")
    arr[:] = off
    del arr
    Store(store.path)


def test_identity_names_the_content(tmp_path):
    rng = np.random.default_rng(13)
    motions = [random_motion(rng, f"c{i}") for i in range(3)]
    imported = build_store(iter(motions), tmp_path / "mine")
    assert imported.identity.startswith("mine-") and Store(imported.path).identity == imported.identity
    again = build_store(iter(motions), tmp_path / "mine", overwrite=True)
    assert again.identity != imported.identity  # a new build is new data: runs of the old one are not reused
    named = build_store(iter(motions), tmp_path / "syn", meta={"identity": "synthetic-abc-def"})
    assert named.identity == "synthetic-abc-def"
