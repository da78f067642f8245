"""Holistic-Motion2D release reader: every supported layout, the main person, partial sources, rejections."""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from tenderlib.readers import HolisticConfig, build, read_holistic
from tenderlib.readers.holistic import to_whole_body
from tenderlib.readers.report import ReaderError
from tenderlib.data.skeleton import NUM_KEYPOINTS, REGIONS
from tenderlib.data.store import Store

T = 6


def _pose(rng, K=NUM_KEYPOINTS, T=T, center=(300.0, 200.0), size=100.0):
    kp = rng.normal(0, size / 4, (T, K, 2)) + center  # (T, K, 2)
    sc = rng.uniform(0.2, 1.1, (T, K))                # (T, K)
    return kp, sc


def _write(root, source, clip, obj, captions="a person waves\nsomeone waves the right hand\n", suffix=".pkl"):
    pkl = root / "kpfiles" / source / f"{clip}{suffix}"
    pkl.parent.mkdir(parents=True, exist_ok=True)
    pkl.write_bytes(obj if isinstance(obj, bytes) else pickle.dumps(obj))
    if captions is not None:
        txt = root / "texts" / source / f"{clip}.txt"
        txt.parent.mkdir(parents=True, exist_ok=True)
        txt.write_bytes(captions if isinstance(captions, bytes) else captions.encode("utf-8"))
    return str(pkl)


def _read(root, **cfg):
    reading = read_holistic(root, HolisticConfig(**cfg))
    motions = {m.clip_id: m for m in reading}
    return motions, reading.report


@pytest.mark.parametrize("layout", ["array", "dict", "dict-person-axis", "dict-xys", "frames-instances",
                                    "frames-arrays", "single-frame"])
def test_whole_body_layouts_are_read_exactly(tmp_path, layout):
    rng = np.random.default_rng(0)
    kp, sc = _pose(rng)
    obj = {
        "array": np.concatenate([kp, sc[..., None]], -1).astype(np.float32),
        "dict": {"keypoints": kp, "keypoint_scores": sc, "fps": 25, "width": 640, "height": 360},
        "dict-person-axis": {"keypoints": kp[:, None], "keypoint_scores": sc[:, None], "img_shape": (360, 640, 3)},
        "dict-xys": {"keypoints": np.concatenate([kp, sc[..., None]], -1), "fps": 25.0},
        "frames-instances": [{"frame_id": t, "instances": [{"keypoints": kp[t].tolist(),
                                                             "keypoint_scores": sc[t].tolist()}]} for t in range(T)],
        "frames-arrays": [{"keypoints": kp[t][None], "keypoint_scores": sc[t][None]} for t in range(T)],
        "single-frame": np.concatenate([kp[0], sc[0, :, None]], -1),
    }[layout]
    _write(tmp_path, "K400", "clip", obj)
    motions, report = _read(tmp_path)
    assert report.num_accepted == 1 and report.num_rejected == 0, report.rejected
    m = motions["K400/clip"]
    n = 1 if layout == "single-frame" else T
    assert m.source == "K400" and m.texts == ["a person waves", "someone waves the right hand"]
    np.testing.assert_array_equal(m.keypoints, kp[:n].astype(np.float32))
    np.testing.assert_array_equal(m.confidence, sc[:n].astype(np.float32))
    if layout in ("dict", "dict-person-axis"):
        assert m.image_size == (640, 360) and "image_size" not in m.labels
    else:  # estimated from the keypoints, and labelled so
        assert m.labels == {"image_size": "estimated"}
        assert m.image_size[0] > kp[:n, :, 0].max() and m.image_size[1] > kp[:n, :, 1].max()
    assert m.fps == (25.0 if layout in ("dict", "dict-xys") else 30.0)


@pytest.mark.parametrize("K,extra,regions", [
    (68, {}, ("face",)),
    (42, {}, ("left_hand", "right_hand")),
    (21, {"hand_side": "left"}, ("left_hand",)),
    (21, {}, ("right_hand",)),  # HolisticConfig.single_hand
])
def test_partial_sources_land_at_their_global_indices(tmp_path, K, extra, regions):
    rng = np.random.default_rng(1)
    kp, sc = _pose(rng, K=K)
    _write(tmp_path, "part", "clip", {"keypoints": kp, "keypoint_scores": sc, **extra})
    m = _read(tmp_path)[0]["part/clip"]
    idx = np.concatenate([np.arange(REGIONS[r].start, REGIONS[r].stop) for r in regions])
    rest = np.setdiff1d(np.arange(NUM_KEYPOINTS), idx)
    np.testing.assert_array_equal(m.keypoints[:, idx], kp.astype(np.float32))
    np.testing.assert_array_equal(m.confidence[:, idx], sc.astype(np.float32))
    assert not m.confidence[:, rest].any() and not m.keypoints[:, rest].any()


def _people(rng):
    """Main person (large, confident) and a bystander (small), plus a spurious detection in frame 2."""
    main_kp, main_sc = _pose(rng, center=(300, 200), size=160)
    other_kp, other_sc = _pose(rng, center=(600, 150), size=40)
    other_sc *= 0.5
    return main_kp, main_sc, other_kp, other_sc


def test_main_person_is_one_track_by_iou(tmp_path):
    rng = np.random.default_rng(2)
    mk, ms, ok, os_ = _people(rng)
    frames = []
    for t in range(T):
        people = [{"keypoints": mk[t].tolist(), "keypoint_scores": ms[t].tolist()},
                  {"keypoints": ok[t].tolist(), "keypoint_scores": os_[t].tolist()}]
        if t % 2:  # order changes from frame to frame
            people.reverse()
        if t == 2:  # a large, confident one-frame detection: wins the frame, not the clip
            people.append({"keypoints": (mk[t] + 700).tolist(), "keypoint_scores": np.ones(NUM_KEYPOINTS).tolist(),
                           "bbox": [[650, 0, 1200, 900]]})
        frames.append({"frame_id": 10 + t, "instances": people})
    _write(tmp_path, "K700", "crowd", frames)
    m = _read(tmp_path)[0]["K700/crowd"]
    np.testing.assert_allclose(m.keypoints, mk, rtol=1e-6)
    np.testing.assert_allclose(m.confidence, ms, rtol=1e-6)


def test_main_person_by_track_ids_and_absent_frames(tmp_path):
    rng = np.random.default_rng(3)
    mk, ms, ok, os_ = _people(rng)
    P = 2
    kp = np.stack([ok, mk], axis=1)      # (T, P, K, 2): the main person is person 1
    sc = np.stack([os_, ms], axis=1)     # (T, P, K)
    sc[3, 1] = 0.0                       # main person not detected in frame 3
    sc[0, 1] = 0.0                       # ... nor in frame 0: cut from the clip
    tracks = np.tile([4, 9], (T, 1))
    _write(tmp_path, "K400", "tracked", {"keypoints": kp, "keypoint_scores": sc, "track_ids": tracks,
                                         "bboxes": np.zeros((T, P, 4)) + [[500, 100, 700, 200], [100, 0, 500, 400]]})
    motions, report = _read(tmp_path)
    m = motions["K400/tracked"]
    assert m.num_frames == T - 1
    np.testing.assert_allclose(m.keypoints[[0, 1, 3, 4]], mk[[1, 2, 4, 5]], rtol=1e-6)
    assert not m.confidence[2].any()  # frame 3 of the file: present in the clip, confidence 0
    assert any("kept frames 1-5" in note for _, note in report.notes)


BAD = {  # name -> (object or bytes, caption bytes or None, rejection kind, words in the reason)
    "coco17": (np.ones((T, 17, 3)), b"x", "keypoint-count", "17 keypoints per person (COCO-17"),
    "halpe26": ({"keypoints": np.ones((T, 26, 2)), "keypoint_scores": np.ones((T, 26))}, b"x", "keypoint-count", "26"),
    "transposed": (np.ones((T, 3, NUM_KEYPOINTS)), b"x", "keypoint-count", "transposed"),
    "empty": (np.zeros((0, NUM_KEYPOINTS, 3)), b"x", "empty", "empty sequence"),
    "empty-list": ([], b"x", "empty", "empty sequence"),
    "nobody": ([{"instances": []}] * 3, b"x", "empty", "no person"),
    "zero-scores": (np.zeros((T, NUM_KEYPOINTS, 3)), b"x", "no-confidence", "no keypoint has a score"),
    "no-scores": ({"keypoints": np.ones((T, NUM_KEYPOINTS, 2))}, b"x", "layout", "no keypoint scores"),
    "wrong-dict": ({"pose_data": np.ones((T, 133, 3))}, b"x", "layout", "pose_data"),
    "strings": ("just a string", b"x", "layout", "got str"),
    "corrupt": (b"\x80\x04garbage", b"x", "corrupt-pickle", "not a readable pickle"),
    "truncated": (pickle.dumps(np.ones((T, NUM_KEYPOINTS, 3)))[:100], b"x", "corrupt-pickle", "truncated"),
    "no-caption": (np.ones((T, NUM_KEYPOINTS, 3)), None, "caption-missing", "missing caption file"),
    "blank-caption": (np.ones((T, NUM_KEYPOINTS, 3)), b" \n\t\n", "caption-empty", "empty caption file"),
    "latin1-caption": (np.ones((T, NUM_KEYPOINTS, 3)), "une personne salue, très vite".encode("latin-1"),
                       "caption-encoding", "not valid UTF-8 (byte 0xe8"),
}


def test_bad_files_are_listed_with_reasons_and_counts_add_up(tmp_path):
    rng = np.random.default_rng(4)
    kp, sc = _pose(rng)
    good = _write(tmp_path, "K400", "good", np.concatenate([kp, sc[..., None]], -1))
    paths = {name: _write(tmp_path, "K400", name, obj, cap) for name, (obj, cap, _, _) in BAD.items()}
    nan = kp.copy()
    nan[2, 5] = np.nan
    nan[4, 7, 1] = np.inf
    masked = _write(tmp_path, "K400", "nan", {"keypoints": nan, "keypoint_scores": sc})
    marker = tmp_path / "marker"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch '{marker}'",))

    evil = _write(tmp_path, "K400", "evil", {"keypoints": Evil()})
    (tmp_path / "kpfiles" / "K400" / "README.md").write_text("notes")
    (tmp_path / "kpfiles" / "stray.pkl").write_bytes(b"")
    (tmp_path / "texts" / "K400" / "orphan.txt").write_text("a caption without keypoints")

    motions, report = _read(tmp_path)
    assert not marker.exists()
    assert set(motions) == {"K400/good", "K400/nan"}
    assert report.complete  # inputs: BAD + good, nan, evil, README, stray
    assert report.num_inputs == report.num_accepted + report.num_rejected == len(BAD) + 5
    assert set(report.accepted) == {good, masked}
    rejected = {r.path: r for r in report.rejected}
    for name, (_, _, kind, words) in BAD.items():
        r = rejected[paths[name]]
        assert r.kind == kind and words in r.reason and paths[name] in r.reason, (name, r)
    assert rejected[evil].kind == "unsafe-pickle" and ".system" in rejected[evil].reason
    kinds = report.reasons()
    assert kinds["unsupported-file"] == 1 and kinds["layout"] >= 1
    assert report.unmatched == [str(tmp_path / "texts" / "K400" / "orphan.txt")]
    # NaN / inf keypoints: masked (confidence 0, keypoints 0) and noted, the rest kept
    m = motions["K400/nan"]
    assert m.confidence[2, 5] == 0 and m.confidence[4, 7] == 0 and not m.keypoints[2, 5].any()
    assert m.confidence[2, 4] == np.float32(sc[2, 4])
    assert any(p == masked and "2 of" in n and "masked" in n for p, n in report.notes)


def test_strict_and_lenient_options(tmp_path):
    rng = np.random.default_rng(5)
    kp, sc = _pose(rng)
    kp[1, 1] = np.nan
    bad_nan = _write(tmp_path, "K400", "nan", {"keypoints": kp, "keypoint_scores": sc})
    latin = _write(tmp_path, "K400", "latin", np.ones((T, NUM_KEYPOINTS, 3)), "très".encode("latin-1"))
    motions, report = _read(tmp_path, nonfinite="reject", caption_errors="replace")
    assert [r.path for r in report.rejected] == [bad_nan] and report.rejected[0].kind == "nonfinite"
    assert motions["K400/latin"].texts == ["tr\ufffds"]
    assert any(p == latin and "U+FFFD" in n for p, n in report.notes)


def test_sources_filter_captions_and_config_errors(tmp_path):
    _write(tmp_path, "CAER", "a", np.ones((T, 68, 3)), "\ufeffline one#line/NOUN#0.0#0.0\n\nline two\nline two\n")
    _write(tmp_path, "K400", "b", np.ones((T, NUM_KEYPOINTS, 3)))
    motions, _ = _read(tmp_path, sources=("CAER",))
    assert list(motions) == ["CAER/a"] and motions["CAER/a"].texts == ["line one", "line two"]
    with pytest.raises(ValueError, match=r"sources \['UCF'\] not found.*allowed: \['CAER', 'K400'\]"):
        read_holistic(tmp_path, HolisticConfig(sources=("UCF",)))
    with pytest.raises(ValueError, match="no kpfiles folder"):
        read_holistic(tmp_path / "kpfiles")
    for bad, match in [({"single_hand": "middle"}, "single_hand must be one of"), ({"nonfinite": "drop"}, "nonfinite"),
                       ({"caption_errors": "ignore"}, "caption_errors"), ({"fps": 0}, r"fps must be in \[1, 1000\]"),
                       ({"workers": 0}, "workers"), ({"image_size": (0, 10)}, "image_size")]:
        with pytest.raises(ValueError, match=match):
            HolisticConfig(**bad)


def test_to_whole_body_names_what_it_found():
    with pytest.raises(ReaderError, match=r"clip\.pkl: 25 keypoints per person \(OpenPose BODY_25\)"):
        to_whole_body(np.ones((3, 25, 3)), what="clip.pkl")
    with pytest.raises(ReaderError, match="frames disagree on the keypoint count"):
        to_whole_body([np.ones((1, 133, 3)), np.ones((1, 68, 3))])


def test_build_writes_store_and_report(tmp_path):
    rng = np.random.default_rng(6)
    kp, sc = _pose(rng)
    _write(tmp_path / "rel", "K400", "good", np.concatenate([kp, sc[..., None]], -1))
    _write(tmp_path / "rel", "K400", "bad", np.ones((T, 17, 3)))
    reading = read_holistic(tmp_path / "rel", HolisticConfig(workers=2))
    store, reports = build(reading, tmp_path / "store", meta={"from": "test"})
    assert len(Store(tmp_path / "store")) == 1 and store.clip(0).clip_id == "K400/good"
    np.testing.assert_array_equal(store.clip(0).keypoints, kp.astype(np.float32))
    saved = json.loads((tmp_path / "store" / "build_report.json").read_text())
    assert saved["summary"]["inputs"] == 2 and saved["summary"]["rejected_by_kind"] == {"keypoint-count": 1}
    assert "17 keypoints" in (tmp_path / "store" / "build_report.md").read_text()
    assert reports[0].num_motions == 1
