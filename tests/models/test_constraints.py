"""Generation under constraints: the keyframe format, its checks, and guidance that meets it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from fakes import WordEncoder

from tenderlib.data.skeleton import KEYPOINT_INDEX
from tenderlib.experiments import vae_runs
from tenderlib.models import denoiser, vae
from tenderlib.models.constraints import ROOT, GuidanceConfig, Keyframes, Targets, joint_index, joints_of
from tenderlib.models.denoiser import DenoiserConfig
from tenderlib.models.pipeline import LengthSampler, Tender, placement

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VAE_TINY = vae.VAEConfig(spatial_layers=1, spatial_dim=4, latent_tokens=2, latent_dim=8, num_layers=1, num_heads=2,
                         ff_dim=16, max_frames=24, dropout=0.0)
DEN_TINY = DenoiserConfig.for_vae(VAE_TINY, dim=16, num_layers=2, num_heads=2, ff_dim=32, dropout=0.0)
BODY = {"keyframes": [{"frame": 0, "joint": "right_wrist", "x": 300, "y": 180},
                      {"frame": 9, "joint": 9, "x": 200.5, "y": 181}],
        "trajectory": {"joint": "root", "points": [[256, 300], [257, 301], [258, 302]]}}


@pytest.fixture(scope="module")
def pipe():
    v = vae_runs.build(VAE_TINY, 0).eval()
    d = denoiser.build(DEN_TINY, 0, WordEncoder(dim=12, context=16)).eval()
    d.set_latent_stats(torch.randn(10, 2, 8, generator=torch.Generator().manual_seed(0)))
    return Tender(v, d, LengthSampler.fit([10, 20], max_length=20), fps=10.0)


def test_json_layout_gives_every_point_for_every_motion():
    kf = Keyframes.from_json(BODY, num_motions=2)
    assert len(kf) == 2 * 5
    assert kf.motion.tolist() == [0] * 5 + [1] * 5
    assert kf.frame.tolist()[:5] == [0, 9, 0, 1, 2]
    assert kf.joint.tolist()[:5] == [KEYPOINT_INDEX["right_wrist"], 9, ROOT, ROOT, ROOT]
    np.testing.assert_allclose(kf.xy[:5], [[300, 180], [200.5, 181], [256, 300], [257, 301], [258, 302]])
    assert len(Keyframes.from_json({"trajectory": {"points": [[1, 2]]}})) == 1  # the root by default


def test_errors_measure_pixel_distance_and_the_root_is_mid_hips():
    kp = np.zeros((2, 4, 133, 2))
    kp[1, 3, KEYPOINT_INDEX["left_hip"]] = (10, 0)
    kp[1, 3, KEYPOINT_INDEX["right_hip"]] = (20, 0)
    kp[0, 1, 5] = (3, 4)
    kf = Keyframes(np.array([1, 0]), np.array([3, 1]), np.array([ROOT, 5]), np.array([[15.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(kf.errors(kp), [0.0, 5.0])
    np.testing.assert_allclose(joints_of(kp)[1, 3, ROOT], (15, 0))
    sub = kf.select(1, 2)
    assert sub.motion.tolist() == [0] and sub.joint.tolist() == [ROOT] and kf.select(5, 9) is None


def test_targets_are_normalised_like_the_pipeline_places_motions():
    center, scale = placement((512, 256))
    kf = Keyframes(np.array([0]), np.array([0]), np.array([5]), np.array([[300.0, 100.0]]))
    t = Targets.of(kf, center, scale)
    feats = torch.zeros(1, 2, 133, 3)
    feats[0, 0, 5, :2] = t.xy[0]
    assert float(t.loss(feats)) == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_allclose(feats[0, 0, 5, :2].numpy() * scale + center, [300, 100], rtol=1e-5)


@pytest.mark.parametrize("body, message", [
    ({}, "keyframes"),
    ({"keyframes": []}, "no keyframe"),
    ({"keyframes": [{"frame": 0, "joint": "left_ear_lobe", "x": 1, "y": 1}]}, "unknown joint"),
    ({"keyframes": [{"frame": 0.5, "joint": 3, "x": 1, "y": 1}]}, "frame must be an int"),
    ({"keyframes": [{"frame": 0, "x": 1, "y": 1}]}, "keyframes\\[0\\]"),
    ({"keyframes": [{"frame": 0, "joint": 133, "x": 1, "y": 1}]}, "joint must be"),
    ({"trajectory": {"joint": "root", "points": [1, 2, 3]}}, "trajectory points"),
])
def test_bad_json_is_refused_clearly(body, message):
    with pytest.raises(ValueError, match=message):
        Keyframes.from_json(body)


def test_points_outside_the_image_or_beyond_the_length_are_refused(pipe):
    g = torch.Generator().manual_seed(0)
    late = Keyframes(np.array([0]), np.array([15]), np.array([9]), np.array([[10.0, 10.0]]))
    with pytest.raises(ValueError, match="frame 15 is beyond motion 0's length of 12 frames"):
        pipe.generate(["a person waves"], [12], generator=g, steps=2, constraints=late)
    outside = Keyframes(np.array([0]), np.array([1]), np.array([9]), np.array([[600.0, 10.0]]))
    with pytest.raises(ValueError, match="outside the 512 x 512 image"):
        pipe.generate(["a person waves"], [12], generator=g, steps=2, constraints=outside)
    with pytest.raises(ValueError, match="motion 3"):
        pipe.generate(["a person waves"], [12], generator=g, steps=2,
                      constraints=Keyframes(np.array([3]), np.array([1]), np.array([9]), np.array([[1.0, 1.0]])))
    with pytest.raises(ValueError, match="iterations"):
        GuidanceConfig(iterations=0)
    with pytest.raises(ValueError, match="unknown joint"):
        joint_index("tail")


def test_guidance_brings_the_joints_to_their_keyframes(pipe):
    caps, lengths = ["a person waves the right hand", "someone jumps"], [12, 20]
    free = pipe.generate(caps, lengths, generator=torch.Generator().manual_seed(0), steps=5)
    targets = np.array([[200.0, 150.0], [320.0, 260.0], [250.0, 300.0]])
    kf = Keyframes(np.array([0, 0, 1]), np.array([0, 11, 5]),
                   np.array([KEYPOINT_INDEX["right_wrist"], KEYPOINT_INDEX["right_wrist"], ROOT]), targets)
    guided = pipe.generate(caps, lengths, generator=torch.Generator().manual_seed(0), steps=5, constraints=kf,
                           guidance_config=GuidanceConfig(iterations=10, lr=0.2))
    before, after = kf.errors(free.keypoints).mean(), kf.errors(guided.keypoints).mean()
    assert after < 0.5 * before, (before, after)
    # the same seed and constraints give the same motions; batches of one give the same as one batch
    again = pipe.generate(caps, lengths, generator=torch.Generator().manual_seed(0), steps=5, constraints=kf,
                          guidance_config=GuidanceConfig(iterations=10, lr=0.2))
    np.testing.assert_array_equal(guided.keypoints, again.keypoints)


def test_methods_without_guidance_refuse_constraints(pipe):
    kf = Keyframes.from_json(BODY)

    class NoGuidance(Tender):
        supports_constraints = False

    other = NoGuidance(pipe.vae, pipe.denoiser, pipe.length_sampler, pipe.fps)
    with pytest.raises(ValueError, match="does not generate under constraints"):
        other.generate(["a person waves"], [12], steps=2, constraints=kf)
