"""Hostile and careless inputs: every folder entry is stored or rejected with its reason, one bad
file never costs more than itself (no aborted import, no unbounded allocation), absurd values are
refused, stores and selections say what is wrong."""
from __future__ import annotations

import json
import os
import pickle
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from test_readers_holistic import _write as write_release

from tenderlib.data.motion import Motion
from tenderlib.readers import HolisticConfig, MMPoseConfig, build, read_holistic, read_mmpose
from tenderlib.readers.files import Limits, list_files, regular_file
from tenderlib.readers.report import Outcome, Reading, ReaderError
from tenderlib.data.skeleton import NUM_KEYPOINTS
from tenderlib.data.store import Store, build_store
from tenderlib.data.selection import Selection

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="links, pipes and byte file names are POSIX")


def _clip(rng, T=6, K=NUM_KEYPOINTS):
    kp = rng.normal(300, 30, (T, K, 2))
    sc = rng.uniform(0.3, 1.0, (T, K))
    return np.concatenate([kp, sc[..., None]], -1).astype(np.float32)  # (T, K, 3)


def _write(root, clip, obj, caption="a person waves\n", source="K400", suffix=".pkl") -> Path:
    """test_readers_holistic's release writer, one caption by default, the pkl's Path back."""
    return Path(write_release(root, source, clip, obj, caption, suffix=suffix))


def _kinds(report) -> dict[str, str]:
    return {os.path.basename(r.path): r.kind for r in report.rejected}


# ---------------------------------------------------------------------------------------------
# Every entry accounted for; nothing special opened; no link leaves the root


@posix_only
def test_every_entry_is_stored_or_rejected_and_special_files_are_never_opened(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "release"
    good = [_write(root, f"ok{i}", _clip(rng)) for i in range(3)]
    src = good[0].parent
    (src / "dangling.pkl").symlink_to(src / "nothing-here.pkl")
    (src / "loop.pkl").symlink_to(src / "loop.pkl")
    (src / "zero.pkl").symlink_to("/dev/zero")  # outside the root, and a device: reading it never ends
    os.mkfifo(src / "fifo.pkl")  # opening a pipe for reading blocks: must not be opened
    (src / "inside.pkl").symlink_to(good[1])  # a link to a file inside the root is an input like any other
    (root / "texts" / "K400" / "inside.txt").write_text("a person waves\n")
    (src / "sub").mkdir()
    (src / "uplink").symlink_to(src)  # a folder link: not followed (the folder is read at its own path)
    bad_name = os.fsencode(str(src)) + b"/caf\xe9.pkl"  # latin-1 bytes: not a UTF-8 name
    with open(bad_name, "wb") as f:
        f.write(pickle.dumps(_clip(rng)))
    reading = read_holistic(root)
    motions = list(reading)
    report = reading.report.check()
    entries = len(os.listdir(src)) - 1  # every entry of the source folder but the empty sub-folder
    assert report.num_inputs == entries and report.complete
    kinds = _kinds(report)
    assert kinds["dangling.pkl"] == "dangling-link" and kinds["loop.pkl"] == "link-loop"
    assert kinds["zero.pkl"] == "link-outside" and kinds["fifo.pkl"] == "special-file"
    assert kinds["uplink"] == "folder-link" and kinds["caf\\xe9.pkl"] == "bad-name"
    assert {m.clip_id for m in motions} == {"K400/ok0", "K400/ok1", "K400/ok2", "K400/inside"}
    json.dumps(report.to_dict())  # the report is writable text (no undecodable name in it)


@posix_only
def test_a_caption_link_out_of_the_dataset_is_refused_unread(tmp_path):
    secret = tmp_path / "secrets.txt"
    secret.write_text("password hunter2\n")
    root = tmp_path / "release"
    rng = np.random.default_rng(1)
    _write(root, "leak", _clip(rng), caption=None)
    (root / "texts" / "K400").mkdir(parents=True)
    (root / "texts" / "K400" / "leak.txt").symlink_to(secret)
    _write(root, "fine", _clip(rng))
    os.mkfifo(root / "texts" / "K400" / "piped.txt")
    _write(root, "piped", _clip(rng), caption=None)
    store, (report,) = build(read_holistic(root), tmp_path / "store")
    assert _kinds(report) == {"leak.pkl": "link-outside", "piped.pkl": "special-file"}
    assert all("hunter2" not in t for i in range(len(store)) for t in store.texts(i))
    with pytest.raises(ReaderError) as e:
        regular_file(root / "texts" / "K400" / "leak.txt", root)
    assert e.value.kind == "link-outside"


def test_list_files_on_a_plain_folder(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.json").write_text("{}")
    (tmp_path / "y.txt").write_text("y")
    files, bad = list_files(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["a/x.json", "y.txt"] and bad == []
    assert [p.name for p in list_files(tmp_path, recursive=False)[0]] == ["y.txt"]
    with pytest.raises(ValueError, match="not a folder"):
        list_files(tmp_path / "y.txt")
    with pytest.raises(ReaderError) as e:
        regular_file(tmp_path / "missing.txt", tmp_path)
    assert e.value.kind == "missing"


# ---------------------------------------------------------------------------------------------
# One file never aborts the import


def test_duplicate_ids_absurd_sizes_and_rates_reject_their_file_only(tmp_path):
    rng = np.random.default_rng(2)
    root = tmp_path / "release"
    _write(root, "x", _clip(rng))
    _write(root, "x", _clip(rng), suffix=".pickle")  # the same clip id, K400/x
    _write(root, "wide", {"keypoints": _clip(rng), "width": 10**20, "height": 480})
    _write(root, "fast", {"keypoints": _clip(rng), "fps": 1e308})
    _write(root, "boolfps", {"keypoints": _clip(rng), "fps": True})
    _write(root, "far", _clip(rng) * np.float32([1e9, 1e9, 1]))  # every point beyond 100,000 px: masked, none left
    _write(root, "ok", _clip(rng))
    store, (report,) = build(read_holistic(root), tmp_path / "store")
    kinds = _kinds(report)
    assert kinds == {"x.pkl": "duplicate-id", "wide.pkl": "implausible", "fast.pkl": "implausible",
                     "boolfps.pkl": "implausible", "far.pkl": "no-confidence"}, report.rejected
    assert sorted(store.clip_id(i) for i in range(len(store))) == ["K400/ok", "K400/x"]
    assert "x.pickle" in next(r.reason for r in report.rejected if r.kind == "duplicate-id")


def test_duplicate_ids_across_readings_of_one_build(tmp_path):
    rng = np.random.default_rng(3)
    for name in ("a", "b"):
        _write(tmp_path / name, "same", _clip(rng))
    store, reports = build([read_holistic(tmp_path / "a"), read_holistic(tmp_path / "b")], tmp_path / "store")
    assert len(store) == 1 and reports[1].reasons() == {"duplicate-id": 1}


def test_an_unforeseen_error_or_memory_error_rejects_the_file(tmp_path, monkeypatch):
    from tenderlib.readers import holistic

    rng = np.random.default_rng(4)
    _write(tmp_path, "boom", _clip(rng))
    _write(tmp_path, "oom", _clip(rng))
    _write(tmp_path, "ok", _clip(rng))
    real = holistic.to_whole_body

    def flaky(obj, cfg, what):
        if what.endswith("boom.pkl"):
            raise KeyError()
        if what.endswith("oom.pkl"):
            raise MemoryError()
        return real(obj, cfg, what)

    monkeypatch.setattr(holistic, "to_whole_body", flaky)
    reading = read_holistic(tmp_path)
    assert len(list(reading)) == 1
    reasons = {os.path.basename(r.path): (r.kind, r.reason) for r in reading.report.rejected}
    assert reasons["oom.pkl"][0] == "too-large" and "memory" in reasons["oom.pkl"][1]
    assert reasons["boom.pkl"][0] == "invalid" and "KeyError" in reasons["boom.pkl"][1]


def test_a_reading_that_yields_a_broken_motion_rejects_it(tmp_path):
    rng = np.random.default_rng(5)
    kp = rng.normal(0, 1, (4, NUM_KEYPOINTS, 2)).astype(np.float32)
    conf = np.ones((4, NUM_KEYPOINTS), np.float32)
    fine = Motion(kp, conf, ["a person waves"], "src", 30.0, (640, 480), "src/fine")
    broken = Motion(kp, conf, ["a person waves"], "src", 30.0, (10**20, 480), "src/broken")
    reading = Reading("test", tmp_path, lambda report: [Outcome("f", [fine]), Outcome("b", [broken])])
    store, (report,) = build(reading, tmp_path / "store")
    assert len(store) == 1 and report.reasons() == {"invalid": 1}


# ---------------------------------------------------------------------------------------------
# Bounded cost


def _peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_frame_id_gaps_and_huge_ids_are_refused_before_allocating(tmp_path):
    rng = np.random.default_rng(6)
    frame = lambda i: {"frame_id": i, "instances": [{"keypoints": rng.normal(300, 30, (NUM_KEYPOINTS, 2)).tolist(),  # noqa: E731
                                                     "keypoint_scores": [0.9] * NUM_KEYPOINTS}]}
    videos = tmp_path / "videos"
    videos.mkdir()
    cases = {"gap": [frame(0), frame(10_000)], "huge": [frame(0), frame(10**12)], "negative": [frame(-5), frame(0)],
             "ok": [frame(0), frame(1), frame(3)]}
    for name, frames in cases.items():
        (videos / f"{name}.json").write_text(json.dumps(frames))
        (videos / f"{name}.txt").write_text("a person claps\n")
    reading = read_mmpose(videos)
    peak = _peak_mb(lambda: list(reading))
    assert _kinds(reading.report) == {"gap.json": "frame-gaps", "huge.json": "too-large", "negative.json": "layout"}
    assert peak < 50, f"{peak:.0f} MB to read four tiny files"
    longer = read_mmpose(videos, MMPoseConfig(limits=Limits(max_missing=0.99999)))
    assert {m.clip_id for m in longer} == {"rtmpose/gap", "rtmpose/ok"}  # a user can raise the limits


def test_shared_frame_references_do_not_become_a_huge_clip(tmp_path):
    rng = np.random.default_rng(7)
    frame = {"keypoints": rng.normal(300, 30, (1, NUM_KEYPOINTS, 2)), "keypoint_scores": np.ones((1, NUM_KEYPOINTS))}
    data = pickle.dumps([frame] * 300_000)  # one frame, referenced 300,000 times: a small file
    assert len(data) < 2_000_000
    _write(tmp_path, "refs", data)
    reading = read_holistic(tmp_path)
    peak = _peak_mb(lambda: list(reading))
    assert _kinds(reading.report) == {"refs.pkl": "too-large"} and peak < 150


def test_a_crowded_frame_is_cut_to_the_most_salient_people(tmp_path):
    rng = np.random.default_rng(8)
    T, crowd = 2000, 400
    main = rng.normal(300, 40, (T, NUM_KEYPOINTS, 2))
    frames = [{"keypoints": main[t][None], "keypoint_scores": np.full((1, NUM_KEYPOINTS), 0.9)} for t in range(T)]
    frames[700] = {"keypoints": np.concatenate([main[700][None], rng.normal(300, 5, (crowd, NUM_KEYPOINTS, 2))]),
                   "keypoint_scores": np.concatenate([np.full((1, NUM_KEYPOINTS), 0.9),
                                                      np.full((crowd, NUM_KEYPOINTS), 0.3)])}
    _write(tmp_path, "crowd", frames)
    reading, got = read_holistic(tmp_path), []
    peak = _peak_mb(lambda: got.extend(reading))
    (m,) = got
    assert m.num_frames == T and np.allclose(m.keypoints[700], main[700], atol=1e-3)
    assert any("most salient" in n for _, n in reading.report.notes)
    assert peak < 400, f"{peak:.0f} MB"


def test_files_beyond_the_byte_limit_are_rejected_unread(tmp_path):
    rng = np.random.default_rng(9)
    _write(tmp_path, "big", _clip(rng, T=200))
    _write(tmp_path, "small", _clip(rng, T=2))
    reading = read_holistic(tmp_path, HolisticConfig(limits=Limits(max_file_bytes=50_000)))
    assert [m.clip_id for m in reading] == ["K400/small"]
    assert _kinds(reading.report) == {"big.pkl": "too-large"}


@pytest.mark.parametrize("frame_time, ok", [("0.0333333", True), ("1e-300", False), ("1e6", False)])
def test_bvh_frame_times_outside_plausible_rates_are_rejected(tmp_path, frame_time, ok):
    from tenderlib.readers import MocapConfig, read_bvh_folder

    text = ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation "
            "Yrotation\n End Site\n {\n  OFFSET 0 10 0\n }\n}\nMOTION\nFrames: 2\nFrame Time: " + frame_time + "\n"
            "0 0 0 0 0 0\n0 0 0 0 0 0\n")
    (tmp_path / "c.bvh").write_text(text)
    (tmp_path / "c.txt").write_text("a person stands\n")
    reading = read_bvh_folder(tmp_path, MocapConfig(views=1))
    list(reading)
    rejected = reading.report.rejected
    if ok:  # this tiny skeleton lacks the joints of the COCO mapping: rejected, but not for its rate
        assert all("fps" not in r.reason for r in rejected)
    else:
        assert len(rejected) == 1 and "fps must be in" in rejected[0].reason


# ---------------------------------------------------------------------------------------------
# The contract, stores and selections


@pytest.mark.parametrize("change, match", [
    (dict(image_size=(10**20, 480)), "image_size"), (dict(image_size=(640.5, 480)), "image_size"),
    (dict(fps=float("inf")), "fps"), (dict(fps=1e308), "fps"), (dict(fps=0.01), "fps"),
    (dict(clip_id="caf\udce9"), "UTF-8"), (dict(texts=["caf\udce9 waves"]), "UTF-8"),
    (dict(labels={"k": 1}), "labels"), (dict(clip_id=""), "clip_id"),
])
def test_motion_contract_refuses_absurd_values(change, match):
    kp = np.zeros((2, NUM_KEYPOINTS, 2), np.float32)
    base = dict(keypoints=kp, confidence=np.ones((2, NUM_KEYPOINTS), np.float32), texts=["a person waves"],
                source="src", fps=30.0, image_size=(640, 480), clip_id="src/a")
    with pytest.raises(ValueError, match=match):
        Motion(**{**base, **change}).validate()


def _small_store(tmp_path, n=4):
    rng = np.random.default_rng(10)
    clips = [Motion(rng.normal(0, 1, (3 + i, NUM_KEYPOINTS, 2)).astype(np.float32),
                    np.ones((3 + i, NUM_KEYPOINTS), np.float32), ["a person waves"], "src", 30.0, (640, 480),
                    f"src/{i}") for i in range(n)]
    return build_store(clips, tmp_path / "store")


@pytest.mark.parametrize("column, edit, match", [
    ("length", lambda a: a * 1000, "offsets do not follow"),
    ("offset", lambda a: a[::-1].copy(), "offsets do not follow"),
    ("source_code", lambda a: a + 7, "source code"),
    ("clip_id_offsets", lambda a: a * 2, "clip_id"),
    ("fps", lambda a: -a, "fps"),
])
def test_an_edited_store_index_is_refused_on_open(tmp_path, column, edit, match):
    store = _small_store(tmp_path)
    path = store.path / f"{column}.npy"
    a = np.load(path)
    np.save(path, edit(a).astype(a.dtype))
    with pytest.raises(ValueError, match=f"inconsistent: .*{match}"):
        Store(store.path)


def test_a_selection_that_holds_nothing_says_which_filter_emptied_it(tmp_path):
    store = _small_store(tmp_path)
    assert len(store.select(Selection(split="all", data_frac=1e-9))) == 0
    with pytest.raises(ValueError, match=r"data_frac 1e-09 left none"):
        store.select(Selection(split="all", data_frac=1e-9), nonempty=True)
    assert len(store.select(Selection(split="all"), nonempty=True)) == 4
