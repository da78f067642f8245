"""Motion capture through virtual cameras: determinism, confidence, captions, and the real bandai-namco-1 clips."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_readers_bvh import TINY, humanoid_bvh

from tenderlib.synthetic import camera
from tenderlib.readers import MocapConfig, build, read_bandai, read_bvh_folder
from tenderlib.readers.mocap import bandai_captions
from tenderlib.data.skeleton import KEYPOINT_INDEX, NUM_KEYPOINTS, REGIONS

BANDAI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bandai-namco-1"
BODY_FEET = np.arange(REGIONS["foot"].stop)


def _walker(frames=40, step=0.02):
    """The test humanoid translating along +z (a walk without legs moving)."""
    lines = humanoid_bvh(frames=frames).splitlines()
    start = lines.index("Frame Time: 0.0333333") + 1
    for i in range(frames):
        vals = lines[start + i].split()
        vals[2] = f"{i * step:.6f}"
        lines[start + i] = " ".join(vals)
    return "\n".join(lines) + "\n"


def _folder(tmp_path, clips):
    root = tmp_path / "bvh"
    root.mkdir(exist_ok=True)
    for name, text, caption in clips:
        (root / f"{name}.bvh").write_text(text)
        if caption is not None:
            (root / f"{name}.txt").write_text(caption)
    return root


def test_views_are_seeded_clean_and_independent_of_other_clips(tmp_path):
    root = _folder(tmp_path, [("walker", _walker(), "a person glides forward\n")])
    cfg = MocapConfig(source="mocap-test", views=3, seed=7)
    ms = list(read_bvh_folder(root, cfg))
    assert [m.clip_id for m in ms] == [f"mocap-test/walker/view{v}" for v in range(3)]
    for m in ms:
        assert m.texts == ["a person glides forward"] and m.fps == 30.0
        assert m.labels == {"take": "walker", "view": m.clip_id[-1], "split_group": "mocap-test/walker"}
        assert m.keypoints_3d.shape == (40, NUM_KEYPOINTS, 3)
        assert (m.confidence[:, BODY_FEET] == 1).all() and not m.confidence[:, BODY_FEET.size:].any()
        assert not m.keypoints[:, BODY_FEET.size:].any()
        kp = m.keypoints[:, BODY_FEET]
        assert (kp >= 0).all() and (kp[..., 0] < m.image_size[0]).all() and (kp[..., 1] < m.image_size[1]).all()
    assert len({m.image_size for m in ms} | {float(m.keypoints[0, 0, 0]) for m in ms}) > 3  # views differ
    # the same clip beside another one, read again: identical views (seeded by clip name, not order)
    _folder(tmp_path, [("another", humanoid_bvh(), "a person stands\n")])
    again = {m.clip_id: m for m in read_bvh_folder(root, cfg)}
    assert len(again) == 6
    for m in ms:
        np.testing.assert_array_equal(again[m.clip_id].keypoints, m.keypoints)
    other_seed = list(read_bvh_folder(root, MocapConfig(source="mocap-test", views=3, seed=8)))
    assert not np.array_equal(other_seed[0].keypoints, again[ms[0].clip_id].keypoints)


def test_follow_keeps_a_walking_subject_in_frame(tmp_path):
    root = _folder(tmp_path, [("walker", _walker(frames=60, step=0.1), "x")])  # 6 m of travel
    fixed = camera.CameraConfig(yaw_deg=(90, 90), pitch_deg=(0, 0), roll_deg=(0, 0), shake_prob=0.0,
                                image_sizes=((1000, 1000),), fill_full=(0.8, 0.8), placement_jitter=0.0)
    height = {}
    for follow in (True, False):
        (m,) = list(read_bvh_folder(root, MocapConfig(views=1, camera=fixed, follow=follow)))
        span = m.keypoints[:, BODY_FEET, 1]
        height[follow] = float(np.median(span.max(1) - span.min(1)))  # the person's height in pixels
        hips_x = m.keypoints[:, KEYPOINT_INDEX["left_hip"], 0]
        if follow:  # filmed from the side, a tracking camera keeps the hips where they were
            assert np.ptp(hips_x) < 1.0
    assert height[True] > 3 * height[False]


def test_bad_clips_are_rejected_and_detector_option(tmp_path):
    root = _folder(tmp_path, [("ok", humanoid_bvh(), "a person stands still\n"),
                              ("tiny", TINY, "no humanoid here\n"),
                              ("broken", TINY.replace("JOINT Arm", "JOINT Arm\n  }"), "x\n"),
                              ("nocap", humanoid_bvh(), None)])
    (root / "notes.txt").write_text("stray")
    from tenderlib.synthetic.detector import DetectorConfig
    reading = read_bvh_folder(root, MocapConfig(views=2, detector=DetectorConfig()))
    ms = list(reading)
    rep = reading.report
    assert [m.clip_id for m in ms] == ["mocap-bandai/nocap/view0", "mocap-bandai/nocap/view1",
                                       "mocap-bandai/ok/view0", "mocap-bandai/ok/view1"]
    assert rep.num_inputs == 4 == rep.num_accepted + rep.num_rejected and rep.num_motions == 4
    kinds = {Path(r.path).stem: r.kind for r in rep.rejected}
    assert kinds == {"tiny": "bvh-skeleton", "broken": "bvh-hierarchy"}
    # a clip without a caption is stored with a plain caption from its file name, and a note says so
    assert ms[0].texts == ["a person performs the motion 'nocap'"]
    assert [n for p, n in rep.notes if Path(p).stem == "nocap"] == [
        "no caption (no nocap.txt): caption made from the file name: \"a person performs the motion 'nocap'\""]
    ms = ms[2:]
    assert str(root / "notes.txt") in rep.unmatched
    conf = ms[0].confidence
    assert 0 < conf[:, BODY_FEET].mean() and not np.all(conf[:, BODY_FEET] == 1)  # detector scores
    assert not conf[:, REGIONS["face"]].any() and not conf[:, REGIONS["left_hand"]].any()


def test_bandai_captions_vary_and_name_the_labels():
    rng = np.random.default_rng(0)
    caps = bandai_captions("bye", "tired", rng, n=4)
    assert len(caps) == len(set(caps)) == 4
    assert all("right hand" in c or "goodbye" in c for c in caps)
    assert all(any(w in c for w in ("tired", "wearily", "exhausted")) for c in caps)
    assert caps == bandai_captions("bye", "tired", np.random.default_rng(0), n=4)
    assert not any(" in a neutral way" in c and "," in c for c in bandai_captions("bow", "normal", rng, 6))
    many = {c for seed in range(20) for c in bandai_captions("walk", "not-confident", np.random.default_rng(seed), 3)}
    assert len(many) > 15 and any(c.startswith("a timid ") for c in many)
    with pytest.raises(ValueError, match="content must be one of"):
        bandai_captions("juggle", "normal", rng)
    with pytest.raises(ValueError, match="style must be one of"):
        bandai_captions("walk", "sleepy", rng)


@pytest.mark.skipif(not BANDAI.is_dir(), reason=f"bandai-namco-1 data not found at {BANDAI} (../shared is absent)")
def test_real_bandai_clips_read_map_and_build(tmp_path):
    reading = read_bandai(BANDAI, MocapConfig(views=2), pattern="dataset-1_b*_normal_001.bvh")
    store, (report,) = build(reading, tmp_path / "store")
    assert report.num_inputs == report.num_accepted == 3 and report.num_rejected == 0 and report.unmatched == []
    assert len(store) == 6 and store.sources == ("mocap-bandai",)
    clips = {store.clip_id(i): store.clip(i) for i in range(len(store))}
    bye = clips["mocap-bandai/dataset-1_bye_normal_001/view0"]
    bow = clips["mocap-bandai/dataset-1_bow_normal_001/view1"]
    assert bye.labels == {"action": "bye", "style": "normal", "take": "dataset-1_bye_normal_001", "view": "0",
                          "split_group": "mocap-bandai/dataset-1_bye_normal_001"}
    splits = store.splits()
    for take in ("dataset-1_bye_normal_001", "dataset-1_bow_normal_001"):  # no take leaks across splits
        assert len({int(splits[i]) for i in range(len(store)) if take in store.clip_id(i)}) == 1
    assert bye.fps == 30.0
    assert any("goodbye" in t for t in bye.texts) and any("bow" in t for t in bow.texts)
    assert clips["mocap-bandai/dataset-1_byebye_normal_001/view0"].num_frames == 121
    for m in clips.values():
        assert (m.confidence[:, BODY_FEET] == 1).all() and not m.confidence[:, BODY_FEET.size:].any()
        k3 = m.keypoints_3d[:, BODY_FEET]
        height = k3[..., 1].max(axis=1) - k3[..., 1].min(axis=1)  # metres, per frame
        assert 1.3 < np.median(height) < 1.9 and abs(k3[..., 1].min()) < 1e-5
    # left and right are the subject's: the 'bye' wave is done with the right hand (high, moving)
    k3 = bye.keypoints_3d
    travel = lambda i: np.linalg.norm(np.diff(k3[:, i], axis=0), axis=-1).sum()  # noqa: E731
    assert travel(KEYPOINT_INDEX["right_wrist"]) > 3 * travel(KEYPOINT_INDEX["left_wrist"])
    assert k3[:, KEYPOINT_INDEX["right_wrist"], 1].max() > k3[:, KEYPOINT_INDEX["right_shoulder"], 1].max() - 0.2
    # the face looks the way the body faces: nose ahead of the ears
    nose, ears = k3[:, 0], 0.5 * (k3[:, 3] + k3[:, 4])
    left = k3[:, KEYPOINT_INDEX["left_hip"]] - k3[:, KEYPOINT_INDEX["right_hip"]]
    facing = np.cross(left, [0, 1, 0])
    assert (np.sum((nose - ears) * facing, -1) > 0).mean() > 0.95


def test_bandai_root_errors(tmp_path):
    with pytest.raises(ValueError, match="folder in the Bandai-Namco layout"):
        read_bandai(tmp_path)
    with pytest.raises(ValueError, match="views must be an int >= 1"):
        MocapConfig(views=0)
