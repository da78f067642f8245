"""RTMPose / MMPose JSON predictions: the inferencer and demo formats, several people, sidecar captions."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tenderlib.readers import MMPoseConfig, read_mmpose
from tenderlib.data.skeleton import NUM_KEYPOINTS, REGIONS

T = 5


def _person(rng, center, size, T=T, K=NUM_KEYPOINTS):
    kp = np.round(rng.normal(0, size / 4, (T, K, 2)) + center, 3)  # JSON-exact values
    sc = np.round(rng.uniform(0.3, 1.1, (T, K)), 4)
    return kp, sc


def _instance(kp, sc, box=None, nested=True, **extra):
    inst = {"keypoints": kp.tolist(), "keypoint_scores": sc.tolist(), **extra}
    if box is not None:
        inst["bbox"] = [list(box)] if nested else list(box)  # mmpose's split_instances nests the box
        inst["bbox_score"] = 0.9
    return inst


def _write(folder, name, obj, caption="a person claps\n"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    if caption is not None:
        (folder / f"{name}.txt").write_text(caption)
    return str(path)


def test_inferencer_video_format_with_several_people_and_a_gap(tmp_path):
    rng = np.random.default_rng(0)
    mk, ms = _person(rng, (400, 300), 200)
    ok, os_ = _person(rng, (900, 100), 50)
    frames = []
    for t in range(T):
        if t == 2:
            continue  # no prediction written for frame 2: an empty frame in the clip
        people = [_instance(ok[t], os_[t], (850, 50, 950, 150)), _instance(mk[t], ms[t], (300, 200, 500, 400))]
        frames.append({"frame_id": t, "instances": people[::1 if t % 2 else -1]})
    _write(tmp_path / "videos", "clap", frames)
    reading = read_mmpose(tmp_path / "videos", MMPoseConfig(fps=25.0, image_size=(1280, 720)))
    (m,) = list(reading)
    assert m.clip_id == "rtmpose/clap" and m.source == "rtmpose" and m.fps == 25.0 and m.image_size == (1280, 720)
    assert m.texts == ["a person claps"] and m.labels == {}
    keep = [0, 1, 3, 4]
    np.testing.assert_allclose(m.keypoints[keep], mk[keep], rtol=1e-6)
    np.testing.assert_allclose(m.confidence[keep], ms[keep], rtol=1e-6)
    assert not m.confidence[2].any()
    assert reading.report.num_inputs == 1 and reading.report.unmatched == []


def test_demo_wrapper_track_ids_flat_boxes_and_score_channel(tmp_path):
    rng = np.random.default_rng(1)
    mk, ms = _person(rng, (400, 300), 200)
    ok, os_ = _person(rng, (420, 310), 190)
    frames = [{"frame_id": t, "instances": [
        _instance(ok[t], os_[t] * 0.5, (300, 200, 500, 400), nested=False, track_id=3),
        _instance(mk[t], ms[t], (310, 210, 510, 410), nested=False, track_id=8)]} for t in range(T)]
    _write(tmp_path, "demo", {"meta_info": {"dataset_name": "coco_wholebody", "num_keypoints": 133},
                              "instance_info": frames})
    xys = [{"frame_id": t, "instances": [{"keypoints": np.concatenate([mk[t], ms[t][:, None]], 1).tolist()}]}
           for t in range(T)]
    _write(tmp_path, "xys", xys)
    _write(tmp_path, "image", {"instances": [_instance(mk[0], ms[0])]})
    motions = {m.clip_id: m for m in read_mmpose(tmp_path)}
    for name in ("demo", "xys"):
        np.testing.assert_allclose(motions[f"rtmpose/{name}"].keypoints, mk, rtol=1e-6)
        np.testing.assert_allclose(motions[f"rtmpose/{name}"].confidence, ms, rtol=1e-6)
    assert motions["rtmpose/image"].num_frames == 1
    assert motions["rtmpose/demo"].labels == {"image_size": "estimated"}


def test_hand_only_predictions_and_captions_dir(tmp_path):
    rng = np.random.default_rng(2)
    kp, sc = _person(rng, (200, 200), 80, K=42)
    _write(tmp_path / "preds" / "day1", "hands", [{"frame_id": t, "instances": [_instance(kp[t], sc[t])]}
                                                   for t in range(T)], caption=None)
    caps = tmp_path / "caps" / "day1"
    caps.mkdir(parents=True)
    (caps / "hands.txt").write_text("two hands make a heart\n")
    (m,) = list(read_mmpose(tmp_path / "preds", MMPoseConfig(source="phone", captions_dir=str(tmp_path / "caps"))))
    assert m.clip_id == "phone/day1/hands" and m.texts == ["two hands make a heart"]
    hands = np.arange(REGIONS["left_hand"].start, REGIONS["right_hand"].stop)
    np.testing.assert_allclose(m.keypoints[:, hands], kp, rtol=1e-6)
    assert not m.confidence[:, :REGIONS["left_hand"].start].any()


def test_bad_predictions_are_rejected_with_reasons(tmp_path):
    rng = np.random.default_rng(3)
    kp, sc = _person(rng, (200, 200), 80)
    good = [{"frame_id": t, "instances": [_instance(kp[t], sc[t])]} for t in range(T)]
    paths = {
        "broken": (_write(tmp_path, "broken", '[{"frame_id": 0, "instances": [}'), "corrupt-json",
                   "not valid JSON (line 1"),
        "empty": (_write(tmp_path, "empty", []), "empty", "empty sequence"),
        "body17": (_write(tmp_path, "body17", [{"frame_id": 0, "instances": [_instance(kp[0, :17], sc[0, :17])]}]),
                   "keypoint-count", "17 keypoints"),
        "nocap": (_write(tmp_path, "nocap", good, caption=None), "caption-missing", "missing caption file"),
        "dupes": (_write(tmp_path, "dupes", [good[0], good[0]]), "layout", "duplicate frame_id"),
        "nokp": (_write(tmp_path, "nokp", [{"frame_id": 0, "instances": [{"bbox": [[0, 0, 1, 1]]}]}]), "layout",
                 "instance without keypoints"),
    }
    _write(tmp_path, "good", good)
    (tmp_path / "notes.md").write_text("not a prediction")
    reading = read_mmpose(tmp_path)
    motions = list(reading)
    rep = reading.report
    assert [m.clip_id for m in motions] == ["rtmpose/good"]
    assert rep.num_inputs == rep.num_accepted + rep.num_rejected == len(paths) + 1
    got = {r.path: r for r in rep.rejected}
    for name, (path, kind, words) in paths.items():
        assert got[path].kind == kind and words in got[path].reason and path in got[path].reason, (name, got[path])
    assert str(tmp_path / "notes.md") in rep.unmatched


def test_config_and_root_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_mmpose(tmp_path / "nope")
    with pytest.raises(ValueError, match="captions_dir must be an existing folder"):
        read_mmpose(tmp_path, MMPoseConfig(captions_dir=str(tmp_path / "nope")))
    with pytest.raises(ValueError, match="source must be a non-empty string"):
        MMPoseConfig(source=" ")
    with pytest.raises(ValueError, match="nonfinite must be"):
        MMPoseConfig(nonfinite="drop")
