"""Build report: every input once, counts add up, re-iteration, several readers into one store."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from tenderlib.data.motion import Motion
from tenderlib.readers import MMPoseConfig, build, read_holistic, read_mmpose
from tenderlib.readers.report import BuildReport, Outcome, Reading, Rejected, map_ordered
from tenderlib.data.skeleton import NUM_KEYPOINTS


def _motion(clip_id):
    kp = np.full((3, NUM_KEYPOINTS, 2), 5.0, np.float32)
    return Motion(kp, np.ones((3, NUM_KEYPOINTS), np.float32), ["a caption"], "src", 30.0, (64, 64), clip_id)


def _square(x):
    return x * x


def test_report_counts_markdown_and_json():
    rep = BuildReport("test", "root")
    rep.add(Outcome("a.pkl", [_motion("src/a")], notes=["repaired something"]))
    rep.add(Outcome("b.bvh", [_motion("src/b/view0"), _motion("src/b/view1")]))
    rep.add(Outcome.reject("c.pkl", "c.pkl: 17 keypoints | bad", "keypoint-count"))
    rep.add(Outcome.reject("d.pkl", "d.pkl: truncated", "corrupt-pickle"))
    rep.unmatched.append("e.txt")
    assert (rep.num_inputs, rep.num_accepted, rep.num_rejected, rep.num_motions) == (4, 2, 2, 3)
    assert rep.check() is rep and rep.reasons() == {"keypoint-count": 1, "corrupt-pickle": 1}
    assert rep.accepted["b.bvh"] == ["src/b/view0", "src/b/view1"]
    md = rep.to_markdown()
    assert "| 4 | 2 | 2 | 3 | 1 | 1 |" in md and "17 keypoints \\| bad" in md and "`e.txt`" in md
    d = rep.to_dict()
    assert d["rejected"][0] == {"path": "c.pkl", "reason": "c.pkl: 17 keypoints | bad", "kind": "keypoint-count"}
    assert json.loads(json.dumps(d))["summary"]["rejected_by_kind"] == {"corrupt-pickle": 1, "keypoint-count": 1}
    with pytest.raises(ValueError, match="recorded twice"):
        rep.add(Outcome.reject("a.pkl", "again"))
    with pytest.raises(ValueError, match="neither motions nor a rejection"):
        rep.add(Outcome("z.pkl"))


def test_reading_reiterates_with_a_fresh_report():
    def produce(report):
        yield Outcome("x", [_motion("src/x")])
        yield Outcome.reject("y", "y: bad")
        report.unmatched.append("z")

    reading = Reading("test", "root", produce)
    assert not reading.report.complete
    first = [m.clip_id for m in reading]
    rep1 = reading.report
    second = [m.clip_id for m in reading]
    assert first == second == ["src/x"] and reading.report is not rep1
    assert reading.report.complete and reading.report.num_inputs == 2 and reading.report.unmatched == ["z"]
    assert reading.report.rejected == [Rejected("y", "y: bad", "invalid")]


def test_map_ordered_keeps_order_with_processes():
    tasks = list(range(50))
    assert list(map_ordered(_square, tasks, workers=2, chunksize=3)) == [t * t for t in tasks]
    with pytest.raises(ValueError, match="workers must be an int >= 1"):
        list(map_ordered(_square, tasks, workers=0))


def test_two_readers_build_one_store_with_a_combined_report(tmp_path):
    rng = np.random.default_rng(0)
    rel = tmp_path / "release"
    for name, obj in (("good", rng.uniform(1, 100, (4, NUM_KEYPOINTS, 3))), ("bad", np.ones((4, 26, 3)))):
        (rel / "kpfiles" / "K400").mkdir(parents=True, exist_ok=True)
        (rel / "texts" / "K400").mkdir(parents=True, exist_ok=True)
        (rel / "kpfiles" / "K400" / f"{name}.pkl").write_bytes(pickle.dumps(obj))
        (rel / "texts" / "K400" / f"{name}.txt").write_text("a person jumps\n")
    preds = tmp_path / "preds"
    preds.mkdir()
    frame = {"keypoints": rng.uniform(1, 100, (NUM_KEYPOINTS, 2)).tolist(), "keypoint_scores": [0.9] * NUM_KEYPOINTS}
    (preds / "v.json").write_text(json.dumps([{"frame_id": 0, "instances": [frame]}]))
    (preds / "v.txt").write_text("a person stands\n")
    (preds / "w.json").write_text("{not json")
    store, reports = build([read_holistic(rel), read_mmpose(preds, MMPoseConfig(source="phone"))], tmp_path / "s")
    assert sorted(store.clip_id(i) for i in range(len(store))) == ["K400/good", "phone/v"]
    saved = json.loads((tmp_path / "s" / "build_report.json").read_text())["summary"]
    assert saved["inputs"] == 4 and saved["accepted"] == 2 and saved["rejected"] == 2 and saved["complete"]
    assert saved["rejected_by_kind"] == {"corrupt-json": 1, "keypoint-count": 1}
    assert [r.num_inputs for r in reports] == [2, 2]
    with pytest.raises(ValueError, match="readings must be a Reading"):
        build([], tmp_path / "t")
