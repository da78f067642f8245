"""MotionBERT export: H36M-17 joints made as its coco2h36m makes them, its in-the-wild crop_scale
normalisation, 243-frame windows, and the .npz read back the way its wild loader feeds the model."""
import numpy as np
import pytest

from tenderlib import export
from tenderlib.data import skeleton as sk
from tenderlib.data.motion import Motion

C = sk.KEYPOINT_INDEX
J = {name: i for i, name in enumerate(sk.H36M_NAMES)}


def clip(num_frames=3, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Body joints spread over x in [100, 300], y in [200, 600] (corners included), hands/face/feet
    at confidence 0 (so they do not count), RTMPose-like scores in [0.5, 0.9]."""
    rng = np.random.default_rng(seed)
    kp = np.zeros((num_frames, 133, 2))
    kp[:, :17] = rng.uniform([120, 220], [280, 580], size=(num_frames, 17, 2))
    kp[0, C["left_ankle"]], kp[0, C["right_ankle"]] = (300, 600), (100, 600)   # the box's bottom corners
    kp[0, C["left_eye"]], kp[0, C["right_eye"]] = (300, 200), (100, 200)       # its top corners (head = mid-eyes)
    conf = np.zeros((num_frames, 133))
    conf[:, :17] = rng.uniform(0.5, 0.9, size=(num_frames, 17))
    kp[:, 17:] = rng.uniform(-5000, 5000, size=(num_frames, 116, 2))          # outside the box, but confidence 0
    return kp, conf


def test_joints_follow_coco2h36m():
    kp, conf = clip()
    (x,) = export.motionbert_input((kp, conf))
    assert x.shape == (3, 17, 3) and x.dtype == np.float32
    side, centre = 400.0, np.array([200.0, 400.0])           # max(200, 400), the box's middle
    px = x[..., :2] * side / 2 + centre                      # back to pixels (nothing is clipped here)
    mid = lambda a, b: (kp[:, C[a]] + kp[:, C[b]]) / 2       # noqa: E731
    np.testing.assert_allclose(px[:, J["root"]], mid("left_hip", "right_hip"), atol=1e-3)
    np.testing.assert_allclose(px[:, J["neck"]], mid("left_shoulder", "right_shoulder"), atol=1e-3)
    np.testing.assert_allclose(px[:, J["belly"]], (mid("left_hip", "right_hip") + mid("left_shoulder", "right_shoulder")) / 2,
                               atol=1e-3)
    np.testing.assert_allclose(px[:, J["head"]], mid("left_eye", "right_eye"), atol=1e-3)
    for h36m, coco in (("right_hip", "right_hip"), ("left_knee", "left_knee"), ("nose", "nose"),
                       ("right_wrist", "right_wrist"), ("left_shoulder", "left_shoulder")):
        np.testing.assert_allclose(px[:, J[h36m]], kp[:, C[coco]], atol=1e-3)
        np.testing.assert_allclose(x[:, J[h36m], 2], conf[:, C[coco]], atol=1e-6)
    np.testing.assert_allclose(x[:, J["root"], 2], (conf[:, C["left_hip"]] + conf[:, C["right_hip"]]) / 2, atol=1e-6)


def test_square_crop_maps_known_points_and_clips():
    kp, conf = clip()
    (x,) = export.motionbert_input((kp, conf))
    # the square of side 400 centred on (200, 400): x in [0, 400], y in [200, 600] -> [-1, 1]
    np.testing.assert_allclose(x[0, J["left_ankle"], :2], [0.5, 1.0], atol=1e-6)   # (300, 600)
    np.testing.assert_allclose(x[0, J["right_ankle"], :2], [-0.5, 1.0], atol=1e-6)  # (100, 600)
    np.testing.assert_allclose(x[0, J["head"], :2], [0.0, -1.0], atol=1e-6)         # mid-eyes (200, 200)
    (x2,) = export.motionbert_input((kp, conf), scale=2.0)                          # a square twice as big
    np.testing.assert_allclose(x2[0, J["left_ankle"], :2], [0.25, 0.5], atol=1e-6)
    # confidence is clipped with the rest (RTMPose scores above 1 become 1); a far point is clipped
    conf[1, C["nose"]] = 1.7
    (x,) = export.motionbert_input((kp, conf))
    assert x[1, J["nose"], 2] == 1.0 and np.abs(x).max() <= 1.0


def test_missing_points_do_not_count_and_too_few_give_zeros():
    kp, conf = clip()
    conf[:, C["left_hip"]] = 0.0                             # missing: no box, half the pelvis' confidence
    kp[2, C["nose"]] = (np.nan, 5.0)                         # non-finite: missing too
    (x,) = export.motionbert_input((kp, conf))
    assert x[0, J["left_hip"], 2] == 0.0
    np.testing.assert_allclose(x[:, J["root"], 2], conf[:, C["right_hip"]] / 2, atol=1e-6)
    assert np.isfinite(x).all() and x[2, J["nose"], 2] == 0.0
    few = np.zeros_like(conf)
    few[0, :3] = 0.9                                         # 3 points: MotionBERT gives up (zeros)
    (x,) = export.motionbert_input((kp, few))
    assert not x.any()
    (x,) = export.motionbert_input((np.full_like(kp, 50.0), conf))  # every point in one place: a box of size 0
    assert not x.any()


def test_windows_of_at_most_243_frames():
    kp, conf = clip(500)
    windows = export.motionbert_input((kp, conf))
    assert [w.shape[0] for w in windows] == [243, 243, 14]
    whole = np.concatenate(windows)                          # one normalisation for the whole clip
    by_100 = export.motionbert_input((kp, conf), window=100)
    assert [w.shape[0] for w in by_100] == [100] * 5
    np.testing.assert_array_equal(np.concatenate(by_100), whole)
    assert [w.shape[0] for w in export.motionbert_input((kp[:243], conf[:243]))] == [243]
    assert np.stack(export.motionbert_input((kp[:486], conf[:486]))).shape == (2, 243, 17, 3)


def load_like_motionbert(path) -> list[np.ndarray]:
    """What MotionBERT's wild loader yields with batch size 1: [1, t <= 243, 17, 3] float32 in [-1, 1]."""
    z = np.load(path)
    return [z["windows"][i, :n][None] for i, n in enumerate(z["lengths"])]


def test_written_file_reads_back_as_motionbert_batches(tmp_path):
    kp, conf = clip(300)
    m = Motion(kp.astype(np.float32), conf.astype(np.float32), ["a person stands"], "test", 30.0, (640, 480),
               "stand").validate()
    path = export.write_motionbert(m, tmp_path / "sub" / "stand_mb.npz")
    assert path == tmp_path / "sub" / "stand_mb.npz" and path.is_file()
    batches = load_like_motionbert(path)
    assert [b.shape for b in batches] == [(1, 243, 17, 3), (1, 57, 17, 3)]
    for b, w in zip(batches, export.motionbert_input(m)):
        assert b.dtype == np.float32 and np.abs(b).max() <= 1.0
        np.testing.assert_array_equal(b[0], w)
    z = np.load(path)
    assert list(z["joint_names"]) == list(sk.H36M_NAMES) and float(z["fps"]) == 30.0
    assert tuple(z["image_size"]) == (640, 480)
    # the crop box brings pixels back
    np.testing.assert_allclose(z["crop_center"], [200.0, 400.0])
    assert float(z["crop_side"]) == 400.0
    px = batches[0][0, :, J["right_wrist"], :2] * z["crop_side"] / 2 + z["crop_center"]
    np.testing.assert_allclose(px, kp[:243, C["right_wrist"]], atol=1e-3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(window=244), r"window must be an int in \[1, 243\]"),
    (dict(window=0), "window"),
    (dict(window=True), "window"),
    (dict(window=12.0), "window"),
    (dict(scale=0.0), "scale must be a finite number > 0"),
    (dict(scale=float("nan")), "scale"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        export.motionbert_input(clip(), **kwargs)


def test_bad_shapes():
    kp, conf = clip()
    with pytest.raises(ValueError, match="keypoints must have shape"):
        export.motionbert_input((kp[:, :17], conf[:, :17]))
    with pytest.raises(ValueError, match="confidence must have shape"):
        export.motionbert_input((kp, conf[:, :17]))
    with pytest.raises(ValueError, match="keypoints must have shape"):
        export.motionbert_input((kp[:0], conf[:0]))
