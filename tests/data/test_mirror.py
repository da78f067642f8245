"""tenderlib.data.mirror (caption side swap) and MotionDataset's mirror augmentation."""
from __future__ import annotations

import numpy as np
import pytest

from tenderlib.data.dataset import MotionDataset, to_pixels, collate
from tenderlib.data.mirror import mirror_caption, swap_sides
from tenderlib.data.motion import NUM_KEYPOINTS, Motion
from tenderlib.data.skeleton import KEYPOINT_INDEX, flip_keypoints
from tenderlib.data.store import build_store

L_WRIST, R_WRIST = KEYPOINT_INDEX["left_wrist"], KEYPOINT_INDEX["right_wrist"]
CAPTIONS = ["A man waves his left hand.", "a person claps", "Right hand up, then the LEFT"]


def test_swap_sides():
    assert swap_sides("A man waves his left hand.") == "A man waves his right hand."
    assert swap_sides("Right hand up, then the left") == "Left hand up, then the right"
    assert swap_sides("turning to the left") == "turning to the right"
    assert swap_sides("LEFT") == "RIGHT"
    assert swap_sides("a person claps") is None
    assert swap_sides("leftover brightness") is None  # whole words only


def test_mirror_caption_is_an_involution():
    for c in CAPTIONS + ["leftover brightness", ""]:
        assert mirror_caption(mirror_caption(c)) == c
    assert mirror_caption("a person claps") == "a person claps"
    assert mirror_caption(CAPTIONS[0]) == "A man waves his right hand."


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(0)
    motions = []
    for i in range(40):
        kp = (rng.random((30, NUM_KEYPOINTS, 2)) * [640, 480]).astype(np.float32)
        conf = (0.3 + 0.7 * rng.random((30, NUM_KEYPOINTS))).astype(np.float32)
        motions.append(Motion(keypoints=kp, confidence=conf, texts=[CAPTIONS[i % 3], CAPTIONS[(i + 1) % 3]],
                              source="syn-k400", fps=30.0, image_size=(640, 480), clip_id=f"m{i}"))
    return build_store(motions, tmp_path_factory.mktemp("mirror") / "store")


def test_mirrored_item_is_the_flipped_clip_with_swapped_captions(store):
    plain = MotionDataset(store, max_frames=20, caption="all")
    mirrored = MotionDataset(store, max_frames=20, caption="all", mirror=1.0)
    for k in range(len(plain)):
        a, b = plain[k], mirrored[k]
        assert not a.mirrored and b.mirrored and a.start == b.start
        np.testing.assert_array_equal(b.features, flip_keypoints(a.features, None))
        assert b.caption == [mirror_caption(c) for c in a.caption]
        # in pixels: the left wrist of the mirror is the right wrist reflected about the clip's centre
        pa, pb = (to_pixels(collate([it])) for it in (a, b))
        cx = a.stats.center[0]
        np.testing.assert_allclose(pb[0, :, L_WRIST, 0], 2 * cx - pa[0, :, R_WRIST, 0], rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(pb[0, :, L_WRIST, 1], pa[0, :, R_WRIST, 1], rtol=1e-6)
    one = MotionDataset(store, max_frames=20, caption="random", mirror=1.0)
    assert one[2].caption == mirror_caption(MotionDataset(store, max_frames=20, caption="random")[2].caption)


def test_mirror_draw_is_seeded_per_epoch_and_near_the_probability(store):
    ds = MotionDataset(store, max_frames=20, mirror=0.5, generator_seed=3)
    first = [ds[k].mirrored for k in range(len(ds))]
    assert first == [MotionDataset(store, max_frames=20, mirror=0.5, generator_seed=3)[k].mirrored for k in range(len(ds))]
    ds.set_epoch(1)
    second = [ds[k].mirrored for k in range(len(ds))]
    assert first != second
    draws = []
    for epoch in range(25):
        ds.set_epoch(epoch)
        draws += [ds.mirrored(i) for i in range(len(store))]
    assert 0.4 < np.mean(draws) < 0.6  # 1,000 seeded draws of p = 0.5
    assert not any(MotionDataset(store, max_frames=20).mirrored(i) for i in range(len(store)))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_mirror_probability_out_of_range_raises(store, p):
    with pytest.raises(ValueError, match="mirror must be a probability"):
        MotionDataset(store, mirror=p)
