"""The embedded synthetic Holistic-Motion2D: determinism, sources, captions vs programs, quality spread."""
import re

import numpy as np
import pytest

from tenderlib import params, synthetic
from tenderlib.data.skeleton import REGIONS
from tenderlib.data.store import build_store
from tenderlib.data.selection import QualityRule

CFG = synthetic.SyntheticConfig(num_clips=240, seed=3)


@pytest.fixture(scope="module")
def clips():
    return list(synthetic.generate(CFG, workers=1))


def test_clip_is_deterministic_and_independent_of_dataset_size():
    small = synthetic.SyntheticConfig(num_clips=5, seed=3)
    big = synthetic.SyntheticConfig(num_clips=100_000, seed=3)
    for i in (0, 4):
        a, b = synthetic.make_clip(small, i), synthetic.make_clip(big, i)
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        np.testing.assert_array_equal(a.confidence, b.confidence)
        np.testing.assert_array_equal(a.keypoints_3d, b.keypoints_3d)
        assert a.texts == b.texts and a.clip_id == b.clip_id and a.labels == b.labels
    other_seed = synthetic.make_clip(synthetic.SyntheticConfig(num_clips=5, seed=4), 0)
    assert not np.array_equal(other_seed.keypoints_3d[:1], synthetic.make_clip(small, 0).keypoints_3d[:1])


def test_parallel_generation_matches_serial():
    cfg = synthetic.SyntheticConfig(num_clips=10, seed=1)
    serial = list(synthetic.generate(cfg, workers=1))
    parallel = list(synthetic.generate(cfg, workers=2, chunk=3))
    assert [m.clip_id for m in serial] == [m.clip_id for m in parallel]
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)


def test_every_clip_honours_the_contract(clips):
    for m in clips:
        m.validate()
        assert m.keypoints_3d is not None and m.keypoints.shape[0] == m.keypoints_3d.shape[0]
        w, h = m.image_size
        assert w > 0 and h > 0 and len(m.texts) == CFG.captions_per_clip
    sources = {m.source for m in clips}
    assert sources == set(synthetic.SOURCE_NAMES), set(synthetic.SOURCE_NAMES) - sources


def test_partial_sources_annotate_only_their_parts(clips):
    annotated = {"syn-dfew": ("face",), "syn-caer": ("face",), "syn-sthv2": ("left_hand", "right_hand")}
    for m in clips:
        if m.source not in annotated:
            continue
        keep = np.zeros(133, bool)
        for r in annotated[m.source]:
            keep[REGIONS[r]] = True
        assert (m.confidence[:, ~keep] == 0).all() and (m.keypoints[:, ~keep] == 0).all()
        assert (m.confidence[:, keep] > 0).mean() > 0.5


def test_upper_body_source_loses_the_legs(clips):
    ub = [m for m in clips if m.source == "syn-ubody"]
    wb = [m for m in clips if m.source == "syn-haa500"]
    assert ub and wb
    legs = np.r_[13:17, 17:23]
    ub_legs = np.mean([(m.confidence[:, legs] > 0.3).mean() for m in ub])
    wb_legs = np.mean([(m.confidence[:, legs] > 0.3).mean() for m in wb])
    assert ub_legs < 0.4 < wb_legs


def test_quality_rule_keeps_a_majority_and_rejects_a_real_minority(clips, tmp_path):
    store = build_store(iter(clips), tmp_path / "s")
    kept = store.high_quality(QualityRule())
    assert 0.5 < kept.mean() < 0.85, kept.mean()   # a majority kept, a real minority rejected
    # short label-only sources are where the length rule bites, as with Sthv2 in the paper (~20 frames a clip)
    sth = np.array([store.source(i) == "syn-sthv2" for i in range(len(store))])
    assert kept[sth].mean() < kept[~sth].mean()


def test_hands_and_face_are_noisier_than_the_body(clips):
    err = {"body": [], "face": [], "hand": []}
    for m in clips:
        if m.source not in ("syn-k400", "syn-k700", "syn-haa500"):
            continue
        # error relative to the clean projection is not stored; use jitter: second differences over person size
        size = np.ptp(m.keypoints[:, :17][m.confidence[:, :17] > 0.3], axis=0).max() if (m.confidence[:, :17] > 0.3).any() else 0
        if size <= 0:
            continue
        acc = np.linalg.norm(np.diff(m.keypoints, 2, axis=0), axis=-1) / size      # (T-2, 133)
        err["body"].append(np.median(acc[:, REGIONS["body"]]))
        err["face"].append(np.median(acc[:, REGIONS["face"]]))
        err["hand"].append(np.median(acc[:, np.r_[REGIONS["left_hand"], REGIONS["right_hand"]]]))
    body, face, hand = (np.median(err[k]) for k in ("body", "face", "hand"))
    assert hand > body and face > 0


_SIDE = re.compile(r"\b(left|right)\b")


def test_captions_agree_with_programs(clips):
    checked = 0
    for m in clips:
        if m.labels.get("text") != "caption":
            continue
        lab = m.labels
        used_sides = set(lab["sides"].split("+")) | ({lab["gesture_side"]} if lab["gesture"] != "relaxed" else set())
        if "both" in used_sides:
            used_sides |= {"left", "right"}
        if lab["head"] in ("turn_left", "turn_right"):
            used_sides.add(lab["head"].split("_")[1])
        for t in m.texts:
            for side in _SIDE.findall(t.lower()):
                assert side in used_sides, (t, lab)
                checked += 1
    assert checked > 20


def test_bad_config_values_name_the_parameter():
    with pytest.raises(ValueError, match="num_clips"):
        synthetic.SyntheticConfig(num_clips=-3)
    with pytest.raises(ValueError, match="syn-k400"):          # the message lists the allowed sources
        synthetic.SyntheticConfig(sources=("youtube",))
    with pytest.raises(ValueError, match="length_scale"):
        synthetic.SyntheticConfig(length_scale=0)


def test_sources_can_be_restricted():
    cfg = synthetic.SyntheticConfig(num_clips=6, sources=("syn-dfew",))
    assert {m.source for m in synthetic.generate(cfg, workers=1)} == {"syn-dfew"}


def test_generator_modules_cover_everything_the_generator_imports():
    import subprocess
    import sys

    code = "import sys, tenderlib.synthetic; print(' '.join(sorted(m for m in sys.modules if m.startswith('tenderlib.'))))"
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert sorted(m.removeprefix("tenderlib.") for m in loaded) == sorted(synthetic.GENERATOR_MODULES)


def test_store_cache_is_keyed_by_config_and_generator_code(tender_root, monkeypatch):
    cfg = synthetic.SyntheticConfig(num_clips=6, seed=1, sources=("syn-sthv2",))
    s = synthetic.get_store(cfg, workers=1)
    assert s.path == synthetic.store_path(cfg) and s.path.is_relative_to(tender_root)
    assert s.path.name == f"synthetic-{params.config_hash(cfg)}-{synthetic.generator_fingerprint()}"
    assert s.manifest["meta"]["generator"] == synthetic.generator_fingerprint()
    assert synthetic.get_store(cfg, workers=1).path == s.path  # reused
    assert synthetic.store_path(synthetic.SyntheticConfig(num_clips=7, seed=1, sources=("syn-sthv2",))) != s.path
    monkeypatch.setattr(synthetic, "generator_fingerprint", lambda: "0123abcd")  # the generator's code changed
    assert synthetic.store_path(cfg) != s.path and synthetic.store_path(cfg).name.endswith("-0123abcd")
