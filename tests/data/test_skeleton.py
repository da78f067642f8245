"""tenderlib.data.skeleton against the facts of docs/conventions.md and hand-computed cases."""
import numpy as np
import pytest

from tenderlib.data import motion
from tenderlib.data import skeleton as sk

# Section 3 of the reference, transcribed independently of the pair list the module uses
REFERENCE_FLIP = (
    [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 20, 21, 22, 17, 18, 19,
     39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23,
     49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 50, 51, 52, 53, 58, 57, 56, 55, 54,
     68, 67, 66, 65, 70, 69, 62, 61, 60, 59, 64, 63,
     77, 76, 75, 74, 73, 72, 71, 82, 81, 80, 79, 78, 87, 86, 85, 84, 83, 90, 89, 88]
    + list(range(112, 133)) + list(range(91, 112)))
REFERENCE_SELF_FLIP = {0, 31, 50, 51, 52, 53, 56, 74, 80, 85, 89}


# ---------------------------------------------------------------- names and regions

def test_names_unique_and_anchored():
    assert sk.NUM_KEYPOINTS == 133 == motion.NUM_KEYPOINTS
    assert len(sk.KEYPOINT_NAMES) == len(set(sk.KEYPOINT_NAMES)) == 133
    expected = {0: "nose", 5: "left_shoulder", 16: "right_ankle", 17: "left_big_toe", 22: "right_heel",
                23: "face-0", 90: "face-67", 91: "left_hand_root", 95: "left_thumb4",
                111: "left_pinky_finger4", 112: "right_hand_root", 121: "right_middle_finger1",
                132: "right_pinky_finger4"}
    assert {i: sk.KEYPOINT_NAMES[i] for i in expected} == expected


def test_regions_partition_the_keypoints():
    sizes = {name: s.stop - s.start for name, s in sk.REGIONS.items()}
    assert sizes == {"body": 17, "foot": 6, "face": 68, "left_hand": 21, "right_hand": 21}
    covered = np.concatenate([np.arange(133)[s] for s in sk.REGIONS.values()])
    np.testing.assert_array_equal(covered, np.arange(133))
    assert [sk.region_of(i) for i in (0, 16, 17, 22, 23, 90, 91, 111, 112, 132)] == [
        "body", "body", "foot", "foot", "face", "face", "left_hand", "left_hand", "right_hand", "right_hand"]


@pytest.mark.parametrize("bad", [-1, 133, 1.5, "3", True])
def test_region_of_rejects_bad_index(bad):
    with pytest.raises(ValueError, match="index"):
        sk.region_of(bad)


def test_constants_are_read_only():
    with pytest.raises(ValueError):
        sk.LINKS[0, 0] = 3
    with pytest.raises(ValueError):
        sk.FLIP_PERMUTATION[0] = 1


# ---------------------------------------------------------------- part groupings

@pytest.mark.parametrize("num_parts,sizes,names", [
    (4, [17, 6, 68, 42], ("body", "foot", "face", "hand")),
    (3, [23, 68, 42], ("body+foot", "face", "hand")),
    (2, [23, 110], ("body+foot", "face+hand")),
    (1, [133], ("whole",)),
])
def test_part_groupings_cover_every_keypoint_once(num_parts, sizes, names):
    ids = sk.part_ids(num_parts)
    assert ids.shape == (133,) and ids.dtype == np.int64
    parts = sk.part_indices(num_parts)
    assert [len(p) for p in parts] == sizes
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(133))
    for p, idx in enumerate(parts):
        assert (ids[idx] == p).all()
    assert sk.part_names(num_parts) == names


def test_four_parts_follow_the_regions():
    ids = sk.part_ids(4)
    assert set(ids[sk.REGIONS["left_hand"]]) == set(ids[sk.REGIONS["right_hand"]]) == {3}
    assert set(ids[sk.REGIONS["foot"]]) == {1}


@pytest.mark.parametrize("num_parts", [1, 2, 3, 4])
def test_part_mask_is_block_structured(num_parts):
    mask = sk.part_mask(num_parts)
    ids = sk.part_ids(num_parts)
    assert mask.shape == (133, 133) and mask.dtype == np.float32
    same = ids[:, None] == ids[None, :]
    assert (mask[same] == 0).all()
    assert np.isneginf(mask[~same]).all()
    # hand-checked entries: nose-vs-big-toe shares a part from 3 parts down, face-vs-hand from 2
    assert (mask[0, 17] == 0) == (num_parts <= 3)
    assert (mask[30, 100] == 0) == (num_parts <= 2)
    # an attention row over the mask must keep at least its own part
    assert (mask == 0).sum(1).min() >= 6


@pytest.mark.parametrize("bad", [0, 5, "4", None, True])
def test_bad_num_parts_raises_naming_allowed_values(bad):
    for fn in (sk.part_ids, sk.part_mask, sk.part_indices):
        with pytest.raises(ValueError, match=r"num_parts.*\(1, 2, 3, 4\)"):
            fn(bad)


# ---------------------------------------------------------------- flip

def test_flip_permutation_matches_reference_and_is_an_involution():
    np.testing.assert_array_equal(sk.FLIP_PERMUTATION, REFERENCE_FLIP)
    np.testing.assert_array_equal(sk.FLIP_PERMUTATION[sk.FLIP_PERMUTATION], np.arange(133))
    fixed = set(np.flatnonzero(sk.FLIP_PERMUTATION == np.arange(133)).tolist())
    assert fixed == REFERENCE_SELF_FLIP


def test_flip_swaps_left_and_right_names():
    names = sk.KEYPOINT_NAMES
    checked = 0
    for i, name in enumerate(names):
        for a, b in (("left_", "right_"), ("right_", "left_")):
            if name.startswith(a):
                assert names[sk.FLIP_PERMUTATION[i]] == b + name[len(a):]
                checked += 1
    assert checked == 2 * (8 + 3 + 21)  # body pairs, feet pairs, hand pairs


def test_flip_face_sides_as_the_reference_says():
    f = sk.FACE_OFFSET
    perm = sk.FLIP_PERMUTATION
    assert perm[f + 0] == f + 16 and perm[f + 8] == f + 8              # jaw ends swap, chin fixed
    assert perm[f + 36] == f + 45 and perm[f + 39] == f + 42          # eye corners
    assert perm[f + 40] == f + 47 and perm[f + 41] == f + 46          # lower lids run the other way
    assert perm[f + 48] == f + 54 and perm[f + 62] == f + 62          # mouth corners; inner-lip centre
    for left, right in (("right_brow", "left_brow"), ("right_eye", "left_eye")):
        assert set(perm[sk.FACE_GROUPS[left]]) == set(sk.FACE_GROUPS[right].tolist())


def test_flip_keypoints_mirrors_and_round_trips():
    rng = np.random.default_rng(0)
    kp = (rng.integers(0, 1280, size=(4, 5, 133, 2)) / 2).astype(np.float32)  # exact in float32
    once = sk.flip_keypoints(kp, 640)
    np.testing.assert_array_equal(sk.flip_keypoints(once, 640), kp)
    frac = rng.uniform(0, 640, size=(133, 2))
    np.testing.assert_allclose(sk.flip_keypoints(sk.flip_keypoints(frac, 640), 640), frac, rtol=0, atol=1e-9)
    # x of the new left eye = W - 1 - x of the old right eye; y unchanged
    assert once[1, 2, 1, 0] == pytest.approx(639 - kp[1, 2, 2, 0])
    assert once[1, 2, 1, 1] == kp[1, 2, 2, 1]
    assert once[0, 0, 0, 0] == pytest.approx(639 - kp[0, 0, 0, 0])   # nose stays the nose
    # extra channels (confidence) travel with their keypoint, unmirrored
    with_conf = np.concatenate([kp, rng.uniform(size=kp.shape[:-1] + (1,))], -1)
    flipped = sk.flip_keypoints(with_conf, 640)
    np.testing.assert_array_equal(flipped[..., 2], with_conf[..., sk.FLIP_PERMUTATION, 2])


def test_flip_centred_coordinates_and_bad_input():
    pose = sk.t_pose()
    np.testing.assert_allclose(sk.flip_keypoints(pose, None), pose, atol=1e-7)  # the T-pose is symmetric
    with pytest.raises(ValueError, match="kp"):
        sk.flip_keypoints(np.zeros((17, 2)), 100)
    with pytest.raises(ValueError, match="image_width"):
        sk.flip_keypoints(pose, 0)


# ---------------------------------------------------------------- links and face groups

def test_links_are_valid():
    links = sk.LINKS
    assert links.shape == (65, 2) and sk.LINK_COLORS.shape == (65, 3) and sk.LINK_COLORS.dtype == np.uint8
    assert ((links >= 0) & (links < 133)).all()
    assert (links[:, 0] != links[:, 1]).all()
    assert len({tuple(sorted(l)) for l in links.tolist()}) == 65
    reached = set(links.ravel().tolist())
    assert set(range(23)) <= reached                       # every body and foot keypoint
    assert set(range(91, 133)) <= reached                  # and every hand keypoint
    assert not reached & set(range(23, 91))                # mmpose has no face links
    assert {9, 10}.isdisjoint(links[links[:, 1] >= 91].ravel().tolist())  # fingers start at hand roots
    regions = [sk.region_of(int(a)) + "/" + sk.region_of(int(b)) for a, b in links]
    assert regions.count("body/body") == 19 and regions.count("body/foot") == 6
    # colours: left leg green, right leg orange, torso blue, index finger pink
    colors = {tuple(l): tuple(c) for l, c in zip(links.tolist(), sk.LINK_COLORS.tolist())}
    assert colors[(15, 13)] == (0, 255, 0) and colors[(16, 14)] == (255, 128, 0)
    assert colors[(5, 6)] == (51, 153, 255) and colors[(91, 96)] == (255, 153, 255)
    assert sk.KEYPOINT_COLORS.shape == (133, 3) and tuple(sk.KEYPOINT_COLORS[9]) == (0, 255, 0)
    assert tuple(sk.KEYPOINT_COLORS[50]) == (255, 255, 255)


def test_hand_links_are_finger_chains():
    for side, offset in (("left_hand", 91), ("right_hand", 112)):
        links = sk.HAND_LINKS[side]
        assert links.shape == (20, 2)
        np.testing.assert_array_equal(links - offset, sk.HAND_LINKS_LOCAL)
        children = links[:, 1] - offset
        np.testing.assert_array_equal(np.sort(children), np.arange(1, 21))  # a tree rooted at 0
        tips = {4, 8, 12, 16, 20}
        assert tips.isdisjoint((links[:, 0] - offset).tolist())
    np.testing.assert_array_equal(sk.HAND_LINKS_LOCAL[:4], [[0, 1], [1, 2], [2, 3], [3, 4]])
    np.testing.assert_array_equal(sk.HAND_LINKS_LOCAL[16], [0, 17])


def test_face_groups_cover_the_face():
    allidx = np.sort(np.concatenate(list(sk.FACE_GROUPS.values())))
    np.testing.assert_array_equal(allidx, np.arange(23, 91))
    np.testing.assert_array_equal(sk.FACE_GROUPS["right_eye"], np.arange(59, 65))
    np.testing.assert_array_equal(sk.FACE_GROUPS["inner_lips"], np.arange(83, 91))
    # open polylines have n-1 edges, loops n: 16 + 4 + 4 + 3 + 4 + 6 + 6 + 12 + 8
    assert sk.FACE_LINKS.shape == (63, 2)
    assert [64, 59] in sk.FACE_LINKS.tolist() and [39, 23] not in sk.FACE_LINKS.tolist()


# ---------------------------------------------------------------- sigmas

def test_oks_sigmas_match_the_reference_summary():
    s = sk.OKS_SIGMAS
    assert s.shape == (133,)
    summary = {"body": (0.025, 0.107, 0.067), "foot": (0.066, 0.094, 0.080), "face": (0.007, 0.045, 0.017),
               "left_hand": (0.017, 0.047, 0.026), "right_hand": (0.017, 0.047, 0.026)}
    for region, (lo, hi, mean) in summary.items():
        part = s[sk.REGIONS[region]]
        assert (part.min(), part.max(), round(part.mean(), 3)) == pytest.approx((lo, hi, mean))
    assert s[[0, 5, 11, 17, 20, 31, 70, 95]].tolist() == [0.026, 0.079, 0.107, 0.068, 0.092, 0.020, 0.034, 0.047]


# ---------------------------------------------------------------- format conversions

def _numbered_body(n=17):
    i = np.arange(n, dtype=np.float64)
    return np.stack([i, 10 * i], -1)  # joint i sits at (i, 10 i)


def test_coco_to_h36m_hand_computed():
    h = sk.coco_to_h36m(_numbered_body())
    expected = {0: (11.5, 115), 1: (12, 120), 3: (16, 160), 4: (11, 110), 6: (15, 150), 7: (8.5, 85),
                8: (5.5, 55), 9: (0, 0), 10: (1.5, 15), 11: (5, 50), 13: (9, 90), 14: (6, 60), 16: (10, 100)}
    for j, xy in expected.items():
        assert tuple(h[j]) == pytest.approx(xy), sk.H36M_NAMES[j]
    # whole-body input and batch dims; a confidence channel gets the mean of its sources
    whole = np.concatenate([_numbered_body(133), np.linspace(0, 1, 133)[:, None]], -1)  # (133, 3)
    batch = np.broadcast_to(whole, (2, 3, 133, 3))
    out = sk.coco_to_h36m(batch)
    assert out.shape == (2, 3, 17, 3)
    np.testing.assert_allclose(out[1, 2, :, :2], h)
    assert out[0, 0, 0, 2] == pytest.approx((whole[11, 2] + whole[12, 2]) / 2)
    with pytest.raises(ValueError, match="kp"):
        sk.coco_to_h36m(np.zeros((5, 18, 2)))


def test_coco_to_openpose18_hand_computed():
    kp = _numbered_body(133)
    conf = np.full(133, 0.9)
    kp18, conf18 = sk.coco_to_openpose18(kp, conf)
    assert kp18.shape == (18, 2) and conf18.shape == (18,)
    assert tuple(kp18[1]) == (5.5, 55.0) and conf18[1] == 1.0          # neck = mid-shoulders
    assert tuple(kp18[2]) == (6, 60) and tuple(kp18[14]) == (2, 20)    # R shoulder, R eye
    for j, name in enumerate(sk.OPENPOSE18_NAMES):                      # names agree with the source
        if name != "neck":
            assert sk.KEYPOINT_NAMES[int(sk.OPENPOSE18_FROM_COCO[j])] == name
    conf[5] = 0.3  # DWPose: the neck needs both shoulders strictly above 0.3
    _, conf18 = sk.coco_to_openpose18(kp, conf)
    assert conf18[1] == 0.0 and conf18[5] == pytest.approx(0.3)
    k17, c17 = sk.coco_to_openpose18(np.broadcast_to(kp[:17], (4, 17, 2)), np.ones((4, 17)))
    assert k17.shape == (4, 18, 2) and (c17 == 1).all()
    with pytest.raises(ValueError, match="conf"):
        sk.coco_to_openpose18(kp, np.ones(17))


def test_t_pose_is_anatomically_ordered():
    p = sk.t_pose()
    assert p.shape == (133, 2) and p.dtype == np.float32
    n = sk.KEYPOINT_INDEX
    ys = [p[n[k], 1] for k in ("left_eye", "left_shoulder", "left_hip", "left_knee", "left_ankle")]
    assert ys == sorted(ys)                                        # y grows downwards
    assert p[n["left_wrist"], 0] > p[n["left_shoulder"], 0] > 0 > p[n["right_shoulder"], 0]
    # face eye rings sit on the body eyes (the reference's check on example_gt.json)
    np.testing.assert_allclose(p[sk.FACE_GROUPS["right_eye"]].mean(0), p[n["right_eye"]], atol=1e-6)
    np.testing.assert_allclose(p[sk.FACE_GROUPS["left_eye"]].mean(0), p[n["left_eye"]], atol=1e-6)
