"""Generation under constraints: keyframes and trajectories that a generated motion must meet.

    kf = Keyframes.from_json(json.loads(text), num_motions=3)   # the same constraints for 3 captions
    kf = Keyframes(motion, frame, joint, xy)                     # (N,) (N,) (N,) (N, 2) pixels
    pipe.generate(captions, lengths, constraints=kf, image_size=(512, 512))
    kf.errors(generation.keypoints)                              # (N,) pixel distance per constraint

A constraint is one joint of one motion at one frame, at a point in pixels of the generated image
(`image_size`, tenderlib.models.pipeline.placement). The joint is a COCO-WholeBody keypoint (index
or name, tenderlib.data.skeleton.KEYPOINT_INDEX) or "root", the mid-hip point. A trajectory is a
joint constrained at every frame (one point per frame).

How a sampler meets them (`guide`, used by tenderlib.models.pipeline.Tender): at every DDIM step
the denoiser's estimate of the clean latent is decoded by the VAE, the squared distance of the
constrained joints to their targets (in the normalised units the models work in) is differentiated
through the decoder, and the estimate moves down that gradient for a few Adam steps before the
DDIM update uses it; the sampled latent then takes `final_iterations` more such steps (on the smoke
model they cut the keyframe error by 2-4x with no loss in FID: notebook 06). This is reconstruction guidance on the predicted clean sample (as OmniControl's
spatial guidance and diffusion posterior sampling, here without differentiating the denoiser: Tender
predicts the clean latent directly, so the decoder alone links the latent to the joints), cheap
enough for a CPU. Early steps shape the motion towards the constraints, late ones place the joints.

JSON (what `tender generate --keyframes FILE` reads), pixels of the generated image:
    {"keyframes": [{"frame": 0, "joint": "right_wrist", "x": 300, "y": 180}, ...],
     "trajectory": {"joint": "root", "points": [[256, 300], [257, 300], ...]}}     (either or both)

Bad input: a frame beyond the motion's length, a point outside the image, an unknown joint, a
trajectory longer than the motion, an empty set: ValueError naming what is wrong.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tenderlib.data.normalize import mid_hips
from tenderlib.data.skeleton import KEYPOINT_INDEX, NUM_KEYPOINTS

ROOT = -1  # joint index of the mid-hip point


def joint_index(joint) -> int:
    """A COCO-WholeBody index or name, or "root" -> index (ROOT for the mid-hip point)."""
    if isinstance(joint, str):
        if joint == "root":
            return ROOT
        if joint not in KEYPOINT_INDEX:
            raise ValueError(f"unknown joint {joint!r}: a COCO-WholeBody keypoint name (e.g. 'right_wrist'), "
                             f"an index 0-{NUM_KEYPOINTS - 1} or 'root'")
        return KEYPOINT_INDEX[joint]
    if isinstance(joint, (int, np.integer)) and not isinstance(joint, bool) and 0 <= joint < NUM_KEYPOINTS:
        return int(joint)
    raise ValueError(f"joint must be a keypoint name, an index 0-{NUM_KEYPOINTS - 1} or 'root', got {joint!r}")


def joints_of(points):
    """(..., 133, C) -> (..., 134, C): the keypoints and the root (mid-hips) last, numpy or torch,
    so that index ROOT = -1 picks the root."""
    root = mid_hips(points)
    cat = torch.cat if isinstance(points, torch.Tensor) else np.concatenate
    return cat([points, root[..., None, :]], -2)


@dataclass(frozen=True)
class Keyframes:
    """N constraints: joint[i] of motion[i] at frame[i] goes to xy[i] (pixels)."""

    motion: np.ndarray  # (N,) int64 index of the motion in the batch
    frame: np.ndarray  # (N,) int64
    joint: np.ndarray  # (N,) int64 COCO-WholeBody index, ROOT = mid-hips
    xy: np.ndarray  # (N, 2) float64 pixels

    def __post_init__(self):
        arrays = [np.asarray(getattr(self, n)) for n in ("motion", "frame", "joint")]
        xy = np.asarray(self.xy, dtype=np.float64).reshape(-1, 2) if np.size(self.xy) else np.zeros((0, 2))
        n = len(xy)
        if n == 0:
            raise ValueError("constraints must hold at least one keyframe or trajectory point")
        if any(a.shape != (n,) for a in arrays):
            raise ValueError(f"motion, frame and joint must each hold one value per point ({n}), got "
                             f"{[a.shape for a in arrays]}")
        if not np.isfinite(xy).all():
            raise ValueError("constraint points must be finite pixels")
        motion, frame, joint = (a.astype(np.int64) for a in arrays)
        if motion.min() < 0 or frame.min() < 0:
            raise ValueError("motion and frame indices must be >= 0")
        if not np.all((joint == ROOT) | ((joint >= 0) & (joint < NUM_KEYPOINTS))):
            raise ValueError(f"joint indices must be 0-{NUM_KEYPOINTS - 1} or ROOT ({ROOT})")
        for name, v in (("motion", motion), ("frame", frame), ("joint", joint), ("xy", xy)):
            object.__setattr__(self, name, v)

    def __len__(self) -> int:
        return len(self.xy)

    @classmethod
    def from_json(cls, body: dict, num_motions: int = 1) -> "Keyframes":
        """The JSON layout of the module docstring, applied to each of `num_motions` motions."""
        if not isinstance(body, dict) or not ({"keyframes", "trajectory"} & set(body)):
            raise ValueError('constraints must be a JSON object with "keyframes" and/or "trajectory"')
        frames, joints, points = [], [], []
        for i, k in enumerate(body.get("keyframes") or []):
            try:
                f, j, x, y = k["frame"], k["joint"], float(k["x"]), float(k["y"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f'keyframes[{i}] must be {{"frame": int, "joint": name, "x": px, "y": px}}, '
                                 f"got {k!r}") from None
            if not (isinstance(f, int) and not isinstance(f, bool)):
                raise ValueError(f"keyframes[{i}]: frame must be an int, got {f!r}")
            frames.append(f), joints.append(joint_index(j)), points.append((x, y))
        traj = body.get("trajectory")
        if traj is not None:
            try:
                pts = np.asarray(traj["points"], dtype=np.float64)
                j = joint_index(traj.get("joint", "root"))
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f'trajectory must be {{"joint": name, "points": [[x, y], ...]}}: {err}') from None
            if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
                raise ValueError(f"trajectory points must be a list of [x, y] pixels, got shape {pts.shape}")
            frames += range(len(pts))
            joints += [j] * len(pts)
            points += [tuple(p) for p in pts]
        n = len(points)
        if n == 0:
            raise ValueError("constraints hold no keyframe and no trajectory point")
        return cls(np.repeat(np.arange(num_motions), n), np.tile(frames, num_motions), np.tile(joints, num_motions),
                   np.tile(np.asarray(points, dtype=np.float64), (num_motions, 1)))

    def check(self, lengths, image_size) -> None:
        """ValueError unless every point is inside the image (W, H) and before its motion's length."""
        lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        W, H = image_size
        if self.motion.max() >= len(lengths):
            raise ValueError(f"constraints name motion {int(self.motion.max())}, but {len(lengths)} are generated")
        late = self.frame >= lengths[self.motion]
        if late.any():
            i = int(np.flatnonzero(late)[0])
            raise ValueError(f"a keyframe at frame {int(self.frame[i])} is beyond motion {int(self.motion[i])}'s "
                             f"length of {int(lengths[self.motion[i]])} frames")
        out = (self.xy[:, 0] < 0) | (self.xy[:, 0] > W) | (self.xy[:, 1] < 0) | (self.xy[:, 1] > H)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise ValueError(f"a keyframe at ({self.xy[i, 0]:g}, {self.xy[i, 1]:g}) px is outside the {W} x {H} image")

    def select(self, start: int, stop: int) -> "Keyframes | None":
        """The constraints of motions start..stop-1, renumbered from 0 (None if there are none)."""
        keep = (self.motion >= start) & (self.motion < stop)
        if not keep.any():
            return None
        return Keyframes(self.motion[keep] - start, self.frame[keep], self.joint[keep], self.xy[keep])

    def errors(self, keypoints) -> np.ndarray:
        """(N,) pixel distance of each constrained joint of `keypoints` (B, T, 133, 2) to its target."""
        got = joints_of(np.asarray(keypoints, dtype=np.float64))[self.motion, self.frame, self.joint]  # (N, 2)
        return np.linalg.norm(got - self.xy, axis=-1)


@dataclass(frozen=True)
class GuidanceConfig:
    """How hard a sampler pulls towards the constraints."""

    iterations: int = 4  # Adam steps on the clean-latent estimate at every DDIM step
    lr: float = 0.1  # their learning rate (the standardised latent has unit spread)
    final_iterations: int = 32  # Adam steps on the sampled latent after the last DDIM step

    def __post_init__(self):
        if not (isinstance(self.iterations, int) and self.iterations >= 1):
            raise ValueError(f"GuidanceConfig.iterations must be an int >= 1, got {self.iterations!r}")
        if not (isinstance(self.final_iterations, int) and self.final_iterations >= 0):
            raise ValueError(f"GuidanceConfig.final_iterations must be an int >= 0, got {self.final_iterations!r}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"GuidanceConfig.lr must be > 0, got {self.lr!r}")


def guide(x0: torch.Tensor, decode, targets: "Targets", cfg: GuidanceConfig) -> torch.Tensor:
    """Move the clean-latent estimate x0 (B, n, d) so that decode(x0) (B, T, K, C normalised features)
    meets the constraints better (module docstring); returns the new estimate, detached."""
    z = x0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=cfg.lr)
    with torch.enable_grad():
        for _ in range(cfg.iterations):
            opt.zero_grad()
            targets.loss(decode(z)).backward()
            opt.step()
    return z.detach()


@dataclass(frozen=True)
class Targets:
    """Keyframes in the normalised units of the models (pixels = features * scale + center)."""

    motion: torch.Tensor  # (N,) int64
    frame: torch.Tensor  # (N,) int64
    joint: torch.Tensor  # (N,) int64, ROOT = -1
    xy: torch.Tensor  # (N, 2) normalised

    @classmethod
    def of(cls, keyframes: Keyframes, center, scale: float, device=None) -> "Targets":
        xy = (keyframes.xy - np.asarray(center, dtype=np.float64)) / scale
        as_long = lambda a: torch.as_tensor(a, dtype=torch.int64, device=device)  # noqa: E731
        return cls(as_long(keyframes.motion), as_long(keyframes.frame), as_long(keyframes.joint),
                   torch.as_tensor(xy, dtype=torch.float32, device=device))

    def loss(self, features: torch.Tensor) -> torch.Tensor:
        """Sum over motions of the mean squared distance of their constrained joints (normalised units)."""
        d = features.device
        got = joints_of(features[..., :2])[self.motion.to(d), self.frame.to(d), self.joint.to(d)]  # (N, 2)
        return ((got.float() - self.xy.to(d)) ** 2).sum(-1).mean() * (int(self.motion.max()) + 1)
