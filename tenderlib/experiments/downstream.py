"""Notebook 06: what generated 2D motion is for: pose-map video, 2D -> 3D lifting, generation under constraints.

    s = configs(globals(), before)                  # the notebook's configs; Tender and MoLIP are notebook
                                                    # 03's and 04's under the same profile (s.generation)
    views = lifting_views(store, indices, 2, seed)  # clips' 3D truth filmed anew (tenderlib.evaluation.lifting)
    run = load_or_train_lifter(cfg, train_cfg, store, s.study, profile)   # by config, like every model
    lifting_rows(models, {"synthetic": views, ...}) # MPJPE / PA-MPJPE in mm, 23 joints and Human3.6M-17
    keyframes_from(store, indices, max_frames, "keyframes" | "trajectory", image_size)  # real clips' joints
    constraint_rows(pipe, molip, store, indices, reference, metrics, study)           # the constraint table
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from tenderlib import datasets, evaluation, parallel, params, synthetic, training
from tenderlib.data.dataset import MotionDataset
from tenderlib.data.normalize import mid_hips
from tenderlib.data.selection import Selection
from tenderlib.evaluation import lifting
from tenderlib.evaluation.realism import ComparisonConfig, bandai_sample
from tenderlib.experiments import generation
from tenderlib.models import lifter as lifters
from tenderlib.models.constraints import ROOT, GuidanceConfig, Keyframes, joint_index, joints_of
from tenderlib.models.lifter import HIPS, LifterConfig
from tenderlib.models.pipeline import placement
from tenderlib.training import TrainConfig

CONSTRAINT_KINDS = ("keyframes", "trajectory")
KEYFRAME_JOINTS = ("left_wrist", "right_wrist")  # constrained at the first, middle and last frame
MOTIONBERT_H36M_MPJPE = 39.2  # mm, MotionBERT trained from scratch on Human3.6M (2D from a detector; its paper)


@dataclass(frozen=True)
class DownstreamConfig:
    """What notebook 06 does besides training the lifter."""

    num_examples: int = 3  # test captions shown as pose maps, exported and lifted
    pose_width: int = 256  # pose-map video size in pixels (even: H.264 in yuv420p)
    pose_height: int = 384
    lift_clips: int = 400  # training-split clips whose 3D truth trains the lifters (0: all)
    lift_views: int = 2  # cameras per training clip
    lift_test_clips: int = 64  # test-split clips (one camera each) the lifters are measured on
    mlp_width: int = 256  # the per-frame MLP lifter's width (its depth is the transformer's)
    constraint_clips: int = 32  # test clips whose joints constrain generation (the constraint table)
    guidance_lrs: tuple[float, ...] = (0.05, 0.2)  # guidance strengths of the table (GuidanceConfig.lr)
    guidance_iterations: int = 4  # GuidanceConfig.iterations: Adam steps at every DDIM step
    guidance_final_iterations: int = 32  # GuidanceConfig.final_iterations: Adam steps on the sampled latent
    torch_threads: int = 1  # CPU threads (1: the same numbers on every machine); 0 = torch's default

    def __post_init__(self):
        for name in ("mlp_width", "num_examples", "lift_views", "lift_test_clips", "constraint_clips", "guidance_iterations"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        for name in ("lift_clips", "torch_threads", "guidance_final_iterations"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be an int >= 0, got {getattr(self, name)!r}")
        for name in ("pose_width", "pose_height"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v >= 8 and v % 2 == 0):
                raise ValueError(f"{name} must be an even int >= 8 (H.264 in yuv420p), got {v!r}")
        lrs = tuple(float(v) for v in self.guidance_lrs)
        if not lrs or any(not (np.isfinite(v) and v > 0) for v in lrs):
            raise ValueError(f"guidance_lrs must be learning rates > 0, got {self.guidance_lrs!r}")
        object.__setattr__(self, "guidance_lrs", lrs)


class Setup(NamedTuple):
    run: params.RunConfig
    lift_data: synthetic.SyntheticConfig  # the synthetic dataset whose 3D truth trains and tests the lifters
    capture: ComparisonConfig  # the motion capture (mocap, mocap_clips) the lifters are also measured on
    lifter: LifterConfig  # the spatial-temporal transformer
    mlp: LifterConfig  # the per-frame MLP baseline
    lifter_train: TrainConfig  # both lifters'
    study: DownstreamConfig
    generation: generation.Setup  # notebook 03's (its Tender, notebook 02's VAE, notebook 04's MoLIP, the data)


def configs(namespace, before: params.Snapshot) -> Setup:
    """Notebook 06's configs from its parameters; the text-to-motion data and models are notebook 03's
    under the same profile. The lifters learn from the synthetic dataset's 3D truth (`num_clips`),
    whatever store notebook 03 uses: the real release holds no 3D."""
    if "kind" in before.changed_names(namespace):
        raise ValueError("kind: notebook 06 trains both lifters (the transformer and the MLP); leave kind out")
    run, lift_data, capture, lifter_cfg, train_cfg, study = params.collect(
        namespace, before, params.RunConfig, synthetic.SyntheticConfig, ComparisonConfig, LifterConfig, TrainConfig,
        DownstreamConfig)
    mlp = dataclasses.replace(lifter_cfg, kind="mlp", width=study.mlp_width, heads=1)
    train_cfg = dataclasses.replace(train_cfg, progress="off", log_every=max(1, train_cfg.max_steps // 6),
                                    checkpoint_every=min(train_cfg.checkpoint_every, train_cfg.max_steps))
    return Setup(run, lift_data, capture, lifter_cfg, mlp, train_cfg, study, generation.notebook_configs(run.profile))


# --------------------------------------------------------------------------------------------
# 2D -> 3D lifting


def clips_with_3d(store, split: str, count: int) -> np.ndarray:
    """Up to `count` (0: all) clips of `split` that carry 3D truth, spread evenly over the split."""
    indices = store.select(Selection(split=split))
    indices = indices[store.index.offset_3d[indices] >= 0]  # the clips stored with 3D
    if indices.size == 0:
        raise ValueError(f"no {split} clip of {store.identity} carries 3D truth: the lifters need 3D (synthetic "
                         "data keeps it unless SyntheticConfig.keep_3d=False; imported motion capture has it)")
    if count and count < indices.size:
        indices = indices[np.unique(np.linspace(0, indices.size - 1, count).round().astype(np.int64))]
    return indices


def lifting_views(points_3d, views: int, seed: int) -> list[lifting.View]:
    """Each clip's 3D truth (a list of (T, 133, 3)) filmed by `views` cameras, seeded per clip and view."""
    return [lifting.film(p, np.random.default_rng([seed, i, v, 0x11F7])) for i, p in enumerate(points_3d)
            for v in range(views)]


@dataclass(frozen=True)
class LiftingKey:
    """The lifters' training data: which clips' 3D, filmed how often, cut how."""

    store: str  # Store.identity
    clips: tuple[int, ...]  # store indices
    views: int
    window: int
    seed: int


class _Windows(torch.utils.data.Dataset):
    def __init__(self, data: dict[str, np.ndarray]):
        self.inputs, self.targets = torch.from_numpy(data["inputs"]), torch.from_numpy(data["targets"])

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int):
        return self.inputs[i], self.targets[i]


def load_or_train_lifter(config: LifterConfig, train_config: TrainConfig, store, study: DownstreamConfig,
                         profile: str) -> training.ModelRun:
    """The lifter `config` trained on `study.lift_clips` training clips filmed `study.lift_views` times
    (loaded when a finished run of these configs and data exists)."""
    indices = clips_with_3d(store, "train", study.lift_clips)
    key = LiftingKey(store.identity, tuple(int(i) for i in indices), study.lift_views, config.window,
                     train_config.seed)

    def make_dataset():
        views = lifting_views([store.keypoints_3d(int(i)) for i in indices], study.lift_views, train_config.seed)
        return _Windows(lifting.training_windows(views, config.window))

    model = lifters.build(config, train_config.seed)
    return training.run_by_config(f"lifter-{config.kind}", model, config, train_config, profile, key, make_dataset,
                                  len(indices) * study.lift_views, collate_fn=torch.utils.data.default_collate)


@dataclass(frozen=True)
class LifterTask:
    """One lifter run, picklable for a worker process (tenderlib.parallel)."""

    config: LifterConfig
    train_config: TrainConfig
    data: synthetic.SyntheticConfig
    study: DownstreamConfig
    profile: str


def lifter_task(task: LifterTask) -> training.ModelRun:
    """Load or train one lifter (in a worker: the result's model travels back to the caller)."""
    store = datasets.open_store(task.data)
    return load_or_train_lifter(task.config, task.train_config, store, task.study, task.profile)


def lifters_of(s: Setup) -> dict[str, training.ModelRun]:
    """Both lifters of notebook 06, side by side with s.run.jobs processes: {"transformer": ..., "MLP": ...}."""
    tasks = [LifterTask(c, s.lifter_train, s.lift_data, s.study, s.run.profile) for c in (s.lifter, s.mlp)]
    return dict(zip(("transformer", "MLP"), parallel.map_runs(lifter_task, tasks, jobs=s.run.jobs, name="lifter")))


def lift_views(model, views: list[lifting.View]) -> list[np.ndarray]:
    """(T, 23, 3) root-relative metres predicted for each view."""
    return [lifters.lift(model, v.keypoints, v.confidence) for v in views]


def lifting_rows(models: dict, test_sets: dict[str, list[lifting.View]]) -> list[dict]:
    """One row per (data, model): clips, frames and the errors in mm, over the 23 body and foot joints
    and over Human3.6M-17 (derived: lifting.h36m_joints), averaged over every frame."""
    rows = []
    for data, views in test_sets.items():
        truth = np.concatenate([v.truth for v in views])  # (F, 23, 3)
        for name, model in models.items():
            pred = np.concatenate(lift_views(model, views))
            h_pred, h_truth = lifting.h36m_joints(pred), lifting.h36m_joints(truth)  # pelvis = the root: at 0
            rows.append({"data": data, "lifter": name, "clips": len(views), "frames": len(truth),
                         "MPJPE (mm)": 1000 * float(lifting.mpjpe(pred, truth).mean()),
                         "PA-MPJPE (mm)": 1000 * float(lifting.pa_mpjpe(pred, truth).mean()),
                         "H36M-17 MPJPE (mm)": 1000 * float(lifting.mpjpe(h_pred, h_truth).mean()),
                         "H36M-17 PA-MPJPE (mm)": 1000 * float(lifting.pa_mpjpe(h_pred, h_truth).mean())})
    return rows


# --------------------------------------------------------------------------------------------
# Generation under constraints


def keyframes_from(store, indices, max_frames: int, kind: str, image_size) -> Keyframes:
    """Constraints taken from real test clips (clip k of `indices` constrains motion k), each as the
    models see it (centre crop of at most `max_frames` frames, normalised: MotionDataset) with its root
    moved to the origin at the crop's first frame, as a generated motion starts, and placed in the
    generated image as a generated motion is (pipeline.placement): "keyframes" = both wrists at the
    first, middle and last frame; "trajectory" = the root at every frame. Points the clip does not
    show reliably (confidence <= 0.3 at either hip for the root, at the wrist for a wrist) or that
    fall outside the image are left out."""
    if kind not in CONSTRAINT_KINDS:
        raise ValueError(f"kind must be one of {CONSTRAINT_KINDS}, got {kind!r}")
    center, scale = placement(image_size)
    W, H = image_size
    clips = MotionDataset(store, indices, max_frames=max_frames, crop="center", caption="first")
    motion, frame, joint, xy = [], [], [], []
    for k in range(len(clips)):
        item = clips[k]
        feats, conf = item.features[..., :2], item.features[..., 2]  # (n, 133, 2), (n, 133)
        pix = joints_of((feats - mid_hips(feats[:1])) * scale + center)  # (n, 134, 2), the root last
        conf = np.concatenate([conf, conf[:, list(HIPS)].min(1, keepdims=True)], 1)  # (n, 134)
        n = item.length
        if kind == "keyframes":
            picks = [(t, joint_index(j)) for t in (0, (n - 1) // 2, n - 1) for j in KEYFRAME_JOINTS]
        else:
            picks = [(t, ROOT) for t in range(n)]
        for t, j in picks:
            p = pix[t, j]
            if conf[t, j] > 0.3 and 0 <= p[0] <= W and 0 <= p[1] <= H:
                motion.append(k), frame.append(t), joint.append(j), xy.append(p)
    return Keyframes(np.array(motion), np.array(frame), np.array(joint), np.array(xy))


def constraint_rows(pipe, molip_model, store, indices, reference, metrics_config, study: DownstreamConfig,
                    seed: int = 0, image_size=(512, 512)) -> tuple[list[dict], dict]:
    """The constraint table: for each kind of constraint, unconstrained generation and guided generation
    at each strength, scored by the constraint error in pixels (mean and 90th percentile) and MoLIP
    (R@3, FID, MM-Dist) against the real test clips. Returns (rows, {(kind, lr): Generation})."""
    captions, lengths = generation.prompts_for(store, indices, pipe.max_length)
    rows, generations = [], {}

    def run(constraints, lr):
        g = torch.Generator().manual_seed(seed)
        return pipe.generate(captions, lengths, generator=g, image_size=image_size, constraints=constraints,
                             guidance_config=GuidanceConfig(study.guidance_iterations, lr or 1.0,
                                                            study.guidance_final_iterations))

    free = run(None, None)
    for kind in CONSTRAINT_KINDS:
        kf = keyframes_from(store, indices, pipe.max_length, kind, image_size)
        for lr in (0.0,) + study.guidance_lrs:
            gen = free if lr == 0.0 else run(kf, lr)
            generations[(kind, lr)] = gen
            err = kf.errors(gen.keypoints)
            result = evaluation.score_generated(molip_model, captions, gen.features, gen.mask, reference,
                                                config=metrics_config)
            r3 = result.r_precision[min(2, len(result.r_precision) - 1)]
            rows.append({"constraint": kind, "guidance lr": lr, "points": len(kf), "error (px)": float(err.mean()),
                         "error p90 (px)": float(np.percentile(err, 90)), "R@3": r3.mean, "FID": result.fid.mean,
                         "MM-Dist": result.mm_dist.mean})
    return rows, generations


def mocap_views(capture: ComparisonConfig, seed: int) -> list[lifting.View]:
    """The motion capture `capture.mocap` (Bandai-Namco layout; up to mocap_clips clips spread over its
    contents) filmed once per clip like the synthetic test clips; [] without a collection."""
    root = capture.mocap_root()
    if root is None:
        return []
    motions = bandai_sample(root, capture.mocap_clips or None, seed=seed)
    return lifting_views([m.keypoints_3d for m in motions if m.keypoints_3d is not None], 1, seed + 1)
