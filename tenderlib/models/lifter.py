"""2D -> 3D lifting of body and feet: a small spatio-temporal transformer, and a per-frame MLP.

    model = Lifter(LifterConfig(kind="transformer"))
    x = lifter_input(keypoints, confidence)   # (..., T, 133, 2), (..., T, 133) -> (..., T, 23, 3)
    pred = model(x)                           # (B, W, 23, 3) -> (B, W, 23, 3) metres, root-relative
    model.training_loss((inputs, targets))    # MPJPE (tenderlib.training.train)
    lift(model, keypoints, confidence)        # a whole clip (T, 133, 2) -> (T, 23, 3), window by window
(training pairs, MPJPE / PA-MPJPE: tenderlib.evaluation.lifting; trained by config, notebook 06:
tenderlib.experiments.downstream)

What is lifted: the 23 COCO-WholeBody body and foot keypoints (0-22). The input of a frame is each
joint's (x, y, confidence), x and y normalised as MotionBERT's in-the-wild input (`crop_scale`: the
square around the joints detected in the window, mapped to [-1, 1]); joints of confidence 0 are at
0. The output is camera-space 3D (x right, y down, z forward, metres) relative to the root, the
mid-hip point (as Human3.6M's pelvis): a lifter cannot know the distance to the camera from a
cropped 2D pose, so it predicts the pose, not its place.

kind="transformer" (PoseFormer's spatial-then-temporal design, as small as a CPU wants): every joint
of a frame is a token (its 3 inputs projected to `joint_width`, plus a learned embedding of the joint)
and one pre-norm transformer layer attends across the joints of the frame (spatial); the frame's
joint tokens are flattened into one frame token of `width`, to which the frame's raw inputs are
added through a residual MLP block (a per-frame path: on the smoke data it cut the error by 3-4 mm
MPJPE and PA-MPJPE against the spatial path alone), plus a learned embedding of the frame's place in
the window; `depth` layers attend across the frames (temporal); a residual MLP head gives the
23 x (x, y, z) of each frame. Attention over joints x frames at once (MotionBERT's DSTformer) costs
about 20 times more per step at these sizes, too much to train on a CPU.
kind="mlp" (Martinez et al. 2017's simple baseline): each frame alone, its 23 x 3 inputs through
`depth` residual blocks of width `width`; it sees no time.

Bad input: features of another joint count or channel count, or a window longer than the
config's, raise ValueError.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tenderlib import seeding
from tenderlib.checks import MAX_FRAMES, MAX_HEADS, MAX_LAYERS, MAX_WIDTH, check_choice, int_in, need
from tenderlib.data.normalize import LEFT_HIP, RIGHT_HIP, crop_scale, mid_hips
from tenderlib.data.skeleton import NUM_KEYPOINTS, REGIONS

JOINTS = REGIONS["foot"].stop  # 23: COCO body 0-16 and feet 17-22
HIPS = (LEFT_HIP, RIGHT_HIP)  # the root is their midpoint (tenderlib.data.normalize.mid_hips)
KINDS = ("transformer", "mlp")


@dataclass(frozen=True)
class LifterConfig:
    """A lifter's shape. Defaults: a CPU-sized spatial-temporal transformer."""

    kind: str = "transformer"  # "transformer" (spatial, then temporal) | "mlp" (per frame)
    width: int = 128  # frame-token width (transformer) or hidden width (mlp)
    depth: int = 2  # temporal layers (transformer) or residual blocks (mlp)
    heads: int = 4  # attention heads of the temporal layers (the spatial layer has joint_width // 8)
    joint_width: int = 16  # joint-token width of the spatial layer (transformer)
    window: int = 27  # frames lifted together; a clip is lifted window by window
    dropout: float = 0.1

    def __post_init__(self):
        check_choice("LifterConfig.kind", self.kind, KINDS)
        need(self, int_in(self.width, 8, MAX_WIDTH), "width", f"an int in [8, {MAX_WIDTH}]")
        need(self, int_in(self.depth, 1, MAX_LAYERS), "depth", f"an int in [1, {MAX_LAYERS}]")
        need(self, int_in(self.heads, 1, MAX_HEADS) and self.width % self.heads == 0, "heads",
             "an int that divides width")
        need(self, int_in(self.joint_width, 8, MAX_WIDTH) and self.joint_width % 8 == 0, "joint_width",
             f"a multiple of 8 in [8, {MAX_WIDTH}]")
        need(self, int_in(self.window, 1, MAX_FRAMES), "window", f"an int in [1, {MAX_FRAMES}]")
        need(self, 0.0 <= self.dropout < 1.0, "dropout", "in [0, 1)")


def lifter_input(keypoints, confidence) -> np.ndarray:
    """(..., T, 133, 2) pixels and (..., T, 133) confidence -> (..., T, 23, 3) float32 lifter input:
    x, y of body and feet by `crop_scale` over the T frames (per leading index), then confidence
    in [0, 1]; joints of confidence 0 at 0."""
    kp = np.asarray(keypoints, dtype=np.float64)[..., :JOINTS, :]
    conf = np.asarray(confidence, dtype=np.float64)[..., :JOINTS]
    xy = crop_scale(kp, conf)  # (..., T, 23, 2) in [-1, 1]
    c = np.clip(conf, 0.0, 1.0)[..., None]
    return np.concatenate([np.where(c > 0, xy, 0.0), c], axis=-1).astype(np.float32)


def root_relative(points: np.ndarray) -> np.ndarray:
    """(..., 23 or 133, 3) -> (..., 23, 3) body and feet minus the mid-hip point."""
    p = np.asarray(points, dtype=np.float64)
    return (p[..., :JOINTS, :] - mid_hips(p)[..., None, :]).astype(np.float32)


def _layer(width: int, heads: int, dropout: float) -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(width, heads, 2 * width, dropout, batch_first=True, norm_first=True)


class _Residual(nn.Module):
    def __init__(self, c: LifterConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(c.width, c.width), nn.LayerNorm(c.width), nn.ReLU(), nn.Dropout(c.dropout),
                                 nn.Linear(c.width, c.width), nn.LayerNorm(c.width), nn.ReLU(), nn.Dropout(c.dropout))

    def forward(self, h):
        return h + self.net(h)


class Lifter(nn.Module):
    """Body-and-feet 2D -> root-relative camera-space 3D (module docstring)."""

    def __init__(self, config: LifterConfig = LifterConfig()):
        super().__init__()
        self.config = c = config
        if c.kind == "transformer":
            self.embed = nn.Linear(3, c.joint_width)
            self.joint = nn.Parameter(torch.randn(JOINTS, c.joint_width) * 0.02)  # (J, Cj)
            self.spatial = _layer(c.joint_width, c.joint_width // 8, c.dropout)
            self.to_frame = nn.Linear(JOINTS * c.joint_width, c.width)
            self.frame_in = nn.Sequential(nn.Linear(JOINTS * 3, c.width), _Residual(c))  # the frame's inputs, per frame
            self.frame = nn.Parameter(torch.randn(c.window, c.width) * 0.02)  # (W, C)
            self.blocks = nn.ModuleList(_layer(c.width, c.heads, c.dropout) for _ in range(c.depth))
            self.head = nn.Sequential(nn.LayerNorm(c.width), _Residual(c), nn.Linear(c.width, JOINTS * 3))
        else:
            self.embed = nn.Linear(JOINTS * 3, c.width)
            self.blocks = nn.ModuleList(_Residual(c) for _ in range(c.depth))
            self.head = nn.Linear(c.width, JOINTS * 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, W, 23, 3) lifter input (W <= window) -> (B, W, 23, 3) root-relative metres."""
        c = self.config
        if x.ndim != 4 or x.shape[2:] != (JOINTS, 3):
            raise ValueError(f"lifter input must have shape (B, W, {JOINTS}, 3), got {tuple(x.shape)}")
        B, W = x.shape[:2]
        if W > c.window:
            raise ValueError(f"the lifter takes at most {c.window} frames at a time, got {W}; use lift() for a clip")
        if c.kind == "transformer":
            h = self.spatial((self.embed(x) + self.joint).reshape(B * W, JOINTS, -1))  # (B W, J, Cj) across joints
            h = self.to_frame(h.reshape(B, W, -1)) + self.frame_in(x.reshape(B, W, -1)) + self.frame[:W]  # (B, W, C)
            for block in self.blocks:
                h = block(h)  # across frames
        else:
            h = self.embed(x.reshape(B, W, JOINTS * 3))  # (B, W, C)
            for block in self.blocks:
                h = block(h)
        out = self.head(h).reshape(B, W, JOINTS, 3)
        return out - mid_hips(out)[:, :, None]  # root at the origin

    def training_loss(self, batch) -> torch.Tensor:
        """MPJPE in metres over the 23 joints of every frame; batch = (inputs, targets), (B, W, 23, 3) each."""
        inputs, targets = batch
        return (self(inputs) - targets).norm(dim=-1).mean()


def window_starts(num_frames: int, window: int) -> list[int]:
    """Starts of the windows that cover T frames: 0, w, 2w, ... and a last one ending at T (T >= w)."""
    if num_frames <= window:
        return [0]
    starts = list(range(0, num_frames - window + 1, window))
    if starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return starts


@torch.no_grad()
def lift(model: Lifter, keypoints, confidence) -> np.ndarray:
    """A whole clip: (T, 133, 2) pixels, (T, 133) confidence -> (T, 23, 3) root-relative metres.

    The clip is cut into windows of the model's length (the last one ends at the clip's end; where
    windows overlap the later one is kept); a clip shorter than a window repeats its last frame.
    Each window is normalised on its own (`lifter_input`), as in training."""
    kp, conf = np.asarray(keypoints), np.asarray(confidence)
    if kp.ndim != 3 or kp.shape[1:] != (NUM_KEYPOINTS, 2) or conf.shape != kp.shape[:2] or len(kp) == 0:
        raise ValueError(f"keypoints must be (T>0, {NUM_KEYPOINTS}, 2) and confidence (T, {NUM_KEYPOINTS}), got "
                         f"{kp.shape} and {conf.shape}")
    T, W = len(kp), model.config.window
    if T < W:  # repeat the last frame
        pad = np.r_[np.arange(T), np.full(W - T, T - 1)]
        return lift(model, kp[pad], conf[pad])[:T]
    starts = window_starts(T, W)
    x = np.stack([lifter_input(kp[s:s + W], conf[s:s + W]) for s in starts])  # (N, W, 23, 3)
    device = next(model.parameters()).device
    pred = model.eval()(torch.from_numpy(x).to(device)).float().cpu().numpy()  # (N, W, 23, 3)
    out = np.zeros((T, JOINTS, 3), dtype=np.float32)
    for s, p in zip(starts, pred):
        out[s:s + W] = p
    return out


def build(config: LifterConfig, seed: int = 0) -> Lifter:
    seeding.seed_everything(seed)
    return Lifter(config)
