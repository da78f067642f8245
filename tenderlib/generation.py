"""Text -> motion: the Tender pipeline (latent diffusion + PA-VAE decoder), and what it writes.

    pipe = Tender(vae, denoiser, LengthSampler.fit(train_lengths, max_length), fps=30.0)
    out = pipe.generate(["a person waves with the right hand"], lengths=[90],
                        generator=torch.Generator().manual_seed(0), steps=50, guidance_scale=7.5)
    out.keypoints, out.confidence       # (B, T, 133, 2) pixels, (B, T, 133); padded after out.lengths
    out.features, out.mask              # (B, T, 133, 3) normalised x, y, confidence (MoLIP's input)
    pipe.save(run_dir, vae_checkpoint)  # pipeline.json beside the denoiser's checkpoints
    Tender.load(run_dir)                # what `tender generate` uses (checked: see Saving)
    write_outputs(out, 0, "wave")       # wave.json (RTMPose/MMPose layout) + wave.txt, wave.npz, wave.gif

Sampling: x_T ~ N(0, I) drawn on the CPU from the explicit generator (the same motions on any
device), 50 DDIM steps (eta configurable) of the guided denoiser (cond and uncond as one batch),
un-standardised, decoded by the PA-VAE with a mask of each motion's length. Captions are
processed in batches of `batch_size`; the generator is consumed batch after batch, so the same
seed gives the same motions for the same captions, lengths and batch size.

Lengths: given per caption, or drawn from `LengthSampler`, the empirical distribution of the
training clips' lengths (as cropped for the VAE: at most `max_length` frames). A length must be
in [1, max_length]: the longest the models were trained on.

Pixels. The models work in per-clip normalised units (tenderlib.data.normalize: root at the origin
at the first frame, person about 2 units tall). A generated motion has no source frame, so it is
placed in an image of `image_size` (W, H) (default 512 x 512): pixels = features * 0.4 *
min(W, H) + (W / 2, H / 2), i.e. the root of the first frame at the image centre and the person
about 80% of the shorter side. Confidence is the decoded channel clamped at 0 (CAG), or 1 for a
VAE without CAG.

Bad input: an empty caption list, a caption that is empty (tenderlib.models.text), a length of 0 or
beyond max_length, a guidance scale below 0 or not finite, steps outside [1, 1000], eta below 0
or not finite raise ValueError naming the parameter; captions longer than the text encoder's
context are truncated with one warning (tenderlib.models.text). `write_outputs` refuses a motion with a
non-finite value (strict JSON has no NaN) before writing anything.

Saving. pipeline.json (version 2) records the VAE checkpoint (path relative to the run folder) and
the sha256 of its model.safetensors; `Tender.load` refuses a VAE whose weights hash differently
(pipeline.json edited to point at another VAE, or the VAE's weights replaced), and any pipeline.json
that is not valid JSON, lacks a field or holds an unusable value, with
tenderlib.checkpoints.CheckpointMismatchError naming the files. A version 1 pipeline.json (written
before the hash was recorded) loads with a warning that its VAE is unchecked. The checkpoints
themselves are checked by tenderlib.training (config, readability, finite weights).
"""
from __future__ import annotations

import functools
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from tenderlib import checkpoints
from tenderlib.checks import check_positive
from tenderlib.models.denoiser import Denoiser
from tenderlib.data.motion import Motion
from tenderlib.checkpoints import MODEL_FILE, CheckpointMismatchError, weights_hash
from tenderlib.models.vae import PAVAE, frame_mask

log = logging.getLogger(__name__)

DEFAULT_IMAGE_SIZE = (512, 512)
PERSON_FRACTION = 0.4  # pixels per normalised unit, as a fraction of the shorter image side
PIPELINE_FILE = "pipeline.json"
PIPELINE_VERSION = 2  # 2: records the VAE's weights hash (module docstring, Saving)
PIPELINE_FIELDS = ("vae_checkpoint", "lengths", "max_length", "fps")  # required in every version


def placement(image_size=DEFAULT_IMAGE_SIZE) -> tuple[np.ndarray, float]:
    """(center (2,), scale) that put normalised features into an image of (W, H) pixels (module docstring)."""
    W, H = (int(v) for v in image_size)
    if W < 1 or H < 1:
        raise ValueError(f"image_size must be two positive ints (width, height), got {image_size!r}")
    return np.array([W / 2, H / 2], dtype=np.float64), PERSON_FRACTION * min(W, H)


@dataclass(frozen=True)
class LengthSampler:
    """The empirical distribution of training clip lengths (frames), capped at max_length."""

    lengths: tuple[int, ...]  # observed lengths, sorted
    max_length: int  # the longest length the models were trained on

    @classmethod
    def fit(cls, lengths, max_length: int) -> "LengthSampler":
        lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        if lengths.size == 0 or lengths.min() < 1:
            raise ValueError("lengths must hold at least one length >= 1")
        if not (isinstance(max_length, (int, np.integer)) and max_length >= 1):
            raise ValueError(f"max_length must be an int >= 1, got {max_length!r}")
        return cls(tuple(int(v) for v in np.sort(np.minimum(lengths, max_length))), int(max_length))

    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(count,) int64 lengths drawn with replacement from the observed ones."""
        pick = torch.randint(0, len(self.lengths), (count,), generator=generator)
        return torch.as_tensor(self.lengths, dtype=torch.int64)[pick]


@dataclass(eq=False)
class Generation:
    """B generated motions, padded to the longest."""

    captions: list[str]
    lengths: torch.Tensor  # (B,) int64 frames
    mask: torch.Tensor  # (B, T) bool, True = real frame
    features: torch.Tensor  # (B, T, K, 3) normalised x, y and confidence; zeros after each length
    keypoints: np.ndarray  # (B, T, K, 2) float32 pixels in an image of image_size
    confidence: np.ndarray  # (B, T, K) float32
    latents: torch.Tensor  # (B, n, d) the sampled VAE latents
    fps: float
    image_size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.captions)

    def motion(self, b: int) -> Motion:
        """Motion b, cut to its length (for tenderlib.viz and the writers)."""
        n = int(self.lengths[b])
        return Motion(keypoints=self.keypoints[b, :n], confidence=self.confidence[b, :n], texts=[self.captions[b]],
                      source="tender", fps=self.fps, image_size=self.image_size, clip_id=f"tender/{b}")

    def grouped(self, repeats: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (P, G, T, K, 3), mask (P, G, T)) of motions generated G = repeats times per caption
        in a row (captions c1 x G, c2 x G, ...): MultiModality's input."""
        B = len(self)
        if repeats < 1 or B % repeats:
            raise ValueError(f"repeats must divide the {B} motions, got {repeats}")
        return (self.features.reshape(B // repeats, repeats, *self.features.shape[1:]),
                self.mask.reshape(B // repeats, repeats, -1))


def check_captions(captions) -> list[str]:
    if isinstance(captions, str):
        raise ValueError(f"captions must be a list of captions, not a single string; wrap it: [{captions!r}]")
    captions = list(captions)
    if not captions:
        raise ValueError("captions must hold at least one caption (got an empty list)")
    for i, c in enumerate(captions):
        if not isinstance(c, str) or not c.strip():
            raise ValueError(f"captions[{i}] must be a non-empty string, got {c!r}")
    return captions


class Tender:
    """The text-to-motion pipeline: a trained Denoiser, the PA-VAE whose latents it models, lengths."""

    def __init__(self, vae: PAVAE, denoiser: Denoiser, lengths: LengthSampler, fps: float = 30.0):
        dc, vc = denoiser.config, vae.cfg
        if (dc.latent_tokens, dc.latent_dim) != (vc.latent_tokens, vc.latent_dim):
            raise ValueError(f"the denoiser models {dc.latent_tokens} x {dc.latent_dim} latents, the VAE has "
                             f"{vc.latent_tokens} x {vc.latent_dim}")
        if lengths.max_length > vc.max_frames:
            raise ValueError(f"lengths.max_length={lengths.max_length} exceeds the VAE's max_frames={vc.max_frames}")
        check_positive("fps", fps)
        self.vae, self.denoiser, self.length_sampler, self.fps = vae.eval(), denoiser.eval(), lengths, float(fps)

    @property
    def max_length(self) -> int:
        return self.length_sampler.max_length

    def check_lengths(self, lengths, count: int) -> torch.Tensor:
        lengths = torch.as_tensor(lengths, dtype=torch.int64).reshape(-1)
        if lengths.numel() != count:
            raise ValueError(f"lengths must give one length per caption ({count}), got {lengths.numel()}")
        bad = [int(v) for v in lengths if not 1 <= int(v) <= self.max_length]
        if bad:
            raise ValueError(f"lengths must be in [1, {self.max_length}] frames (the longest the model was trained "
                             f"on, {self.max_length / self.fps:.1f} s at {self.fps:g} fps), got {bad[:5]}")
        return lengths

    @torch.no_grad()
    def sample_latents(self, captions: Sequence[str], generator: torch.Generator, steps: int = 50,
                       eta: float = 0.0, guidance_scale: float | None = None) -> torch.Tensor:
        """(B, n, d) VAE latents for B captions: DDIM from noise with classifier-free guidance."""
        model, sched = self.denoiser, self.denoiser.scheduler
        if not (math.isfinite(eta) and eta >= 0):
            raise ValueError(f"eta must be >= 0 and finite, got {eta!r}")
        scale = model.config.guidance_scale if guidance_scale is None else float(guidance_scale)
        if not (math.isfinite(scale) and scale >= 0):
            raise ValueError(f"guidance_scale must be >= 0 and finite, got {guidance_scale!r}")
        timesteps = sched.set_timesteps(steps)
        device = model.latent_mean.device
        B, c = len(captions), model.config
        cond, null = model.encode_text(captions), model.null_text(1)
        x = torch.randn(B, c.latent_tokens, c.latent_dim, generator=generator).to(device)  # (B, n, d) x_T
        for t in timesteps.tolist():
            x0 = model.guided(x, torch.full((B,), t, device=device), cond, null, scale)  # (B, n, d)
            if eta > 0:  # noise drawn on the CPU from the explicit generator: the same on every device
                x = sched.step(x0.cpu(), t, x.cpu(), eta=eta, generator=generator).prev_sample.to(device)
            else:
                x = sched.step(x0, t, x).prev_sample
        return model.unstandardise(x)  # (B, n, d) in the VAE's latent space

    @torch.no_grad()
    def generate(self, captions: Sequence[str], lengths=None, *, generator: torch.Generator | None = None,
                 steps: int = 50, eta: float = 0.0, guidance_scale: float | None = None, batch_size: int = 64,
                 image_size=DEFAULT_IMAGE_SIZE) -> Generation:
        """Motions for `captions` (module docstring). generator: a CPU torch.Generator (default: seed 0)."""
        captions = check_captions(captions)
        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        center, scale = placement(image_size)
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        lengths = self.length_sampler.sample(len(captions), generator) if lengths is None else \
            self.check_lengths(lengths, len(captions))
        T = int(lengths.max())
        feats, latents = [], []
        for a in range(0, len(captions), batch_size):
            z = self.sample_latents(captions[a:a + batch_size], generator, steps, eta, guidance_scale)  # (b, n, d)
            mask = frame_mask(lengths[a:a + batch_size], T)  # (b, T)
            vae_device = next(self.vae.parameters()).device
            out = self.vae.decode(z.to(vae_device), mask.to(vae_device))  # (b, T, K, C_out)
            feats.append(out.float().cpu())  # (b, T, K, C_out)
            latents.append(z.cpu())
        out = torch.cat(feats)  # (B, T, K, C_out)
        mask = frame_mask(lengths, T)  # (B, T)
        if out.shape[-1] > 2:
            conf = out[..., 2].clamp(min=0)  # (B, T, K)
        else:
            conf = torch.ones(out.shape[:-1])
        conf = conf * mask[:, :, None]
        features = torch.cat([out[..., :2], conf[..., None]], dim=-1)  # (B, T, K, 3)
        pixels = (out[..., :2].double().numpy() * scale + center).astype(np.float32)  # (B, T, K, 2)
        return Generation(captions, lengths, mask, features, pixels, conf.numpy().astype(np.float32),
                          torch.cat(latents), self.fps, tuple(int(v) for v in image_size))

    # ---- saving: pipeline.json beside the denoiser's run ------------------------------------

    def save(self, run_dir, vae_checkpoint) -> Path:
        """Write run_dir/pipeline.json: where the VAE checkpoint is (relative to run_dir) and the hash of
        its weights, the length distribution, fps and the sampling default guidance scale. The
        denoiser's own checkpoints live in run_dir (tenderlib.training)."""
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        body = {"format": "tender-pipeline", "version": PIPELINE_VERSION,
                "vae_checkpoint": Path(os.path.relpath(Path(vae_checkpoint), run_dir)).as_posix(),
                "vae_sha256": weights_hash(vae_checkpoint),
                "lengths": list(self.length_sampler.lengths), "max_length": self.max_length, "fps": self.fps,
                "guidance_scale": self.denoiser.config.guidance_scale}
        path = run_dir / PIPELINE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, run_dir, device: str | torch.device = "cpu", text_encoder=None) -> "Tender":
        """The pipeline saved in a denoiser run folder (pipeline.json + its newest checkpoint), checked
        (module docstring, Saving)."""
        from tenderlib.models import denoiser as dn

        run_dir = Path(run_dir)
        path = run_dir / PIPELINE_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{run_dir} is not a Tender run folder (no {PIPELINE_FILE}); notebook 03 "
                                    f"(notebooks/03_diffusion.ipynb) writes one")
        body = read_pipeline(path)
        last = checkpoints.latest_checkpoint(run_dir)
        if last is None:
            raise FileNotFoundError(f"{run_dir} holds no finished denoiser checkpoint; run notebook 03 to train one")
        vae_ckpt = (run_dir / body["vae_checkpoint"]).resolve()
        if not (vae_ckpt / MODEL_FILE).is_file():
            raise FileNotFoundError(f"the VAE checkpoint of {run_dir} is missing ({body['vae_checkpoint']})")
        check_vae(path, body, vae_ckpt)
        vae = PAVAE.load(vae_ckpt, device)
        try:  # the values of pipeline.json, checked by what they build
            lengths = LengthSampler.fit(body["lengths"], body["max_length"])
            model = dn.load(last, device, text_encoder, body.get("guidance_scale"))
            return cls(vae, model, lengths, body["fps"])
        except CheckpointMismatchError:
            raise  # the denoiser's checkpoint, named by tenderlib.training
        except (TypeError, ValueError) as err:
            raise CheckpointMismatchError(f"{path} holds an unusable value: {err}") from None


def read_pipeline(path: Path) -> dict:
    """The fields of a pipeline.json; CheckpointMismatchError naming it when it is not valid JSON,
    not a Tender pipeline of a known version or lacks a field."""
    try:
        body = json.loads(path.read_bytes())
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError
        raise CheckpointMismatchError(f"{path} is not valid JSON ({err})") from None
    if not (isinstance(body, dict) and body.get("format") == "tender-pipeline"):
        raise CheckpointMismatchError(f"{path} is not a Tender pipeline file (format 'tender-pipeline')")
    if body.get("version") not in (1, PIPELINE_VERSION):
        raise CheckpointMismatchError(f"{path} has version {body.get('version')!r}; this tenderlib reads 1 "
                                      f"and {PIPELINE_VERSION}")
    required = PIPELINE_FIELDS + (("vae_sha256",) if body["version"] == PIPELINE_VERSION else ())
    missing = [k for k in required if k not in body]
    if missing:
        raise CheckpointMismatchError(f"{path} lacks {missing}")
    if not isinstance(body["vae_checkpoint"], str):
        raise CheckpointMismatchError(f"{path}: vae_checkpoint must be a path, got {body['vae_checkpoint']!r}")
    return body


def check_vae(path: Path, body: dict, vae_checkpoint: Path) -> None:
    """Refuse a VAE checkpoint whose weights are not those pipeline.json (`path`, read as `body`) was
    saved with; warn that a version 1 file, which records no hash, leaves the VAE unchecked."""
    weights = vae_checkpoint / MODEL_FILE
    if "vae_sha256" not in body:
        log.warning("%s records no hash of its VAE (written by an older tenderlib): %s is used unchecked; "
                    "save the pipeline again to record it", path, weights)
        return
    found = weights_hash(vae_checkpoint)
    if found != body["vae_sha256"]:
        raise CheckpointMismatchError(f"{weights} is not the VAE {path} was saved with (sha256 {found[:16]}..., "
                                      f"recorded {str(body['vae_sha256'])[:16]}...)")


def find_run(root=None, profile: str | None = None) -> Path:
    """The Tender run `tender generate` uses: among outputs/<profile>/checkpoints/tender-*/ (every
    profile when None) that hold pipeline.json and a finished checkpoint, the one whose pipeline.json
    was written last. FileNotFoundError naming notebook 03 when there is none."""
    from tenderlib import paths

    base = Path(root) if root is not None else paths.repo_root()
    pattern = f"{paths.check_profile(profile)}/checkpoints/tender-*" if profile else "*/checkpoints/tender-*"
    runs = [p for p in (base / "outputs").glob(pattern)
            if (p / PIPELINE_FILE).is_file() and checkpoints.latest_checkpoint(p) is not None]
    if not runs:
        where = f"outputs/{profile}/checkpoints" if profile else "outputs/*/checkpoints"
        raise FileNotFoundError(f"no trained Tender model under {where}: run notebook 03 (papermill "
                                f"notebooks/03_diffusion.ipynb out.ipynb [-f params/default/03_diffusion.yaml]) "
                                f"to train one, or pass --checkpoint PATH")
    return max(runs, key=lambda p: ((p / PIPELINE_FILE).stat().st_mtime, p.name))


# --------------------------------------------------------------------------------------------
# Writers


def mmpose_frames(keypoints: np.ndarray, confidence: np.ndarray) -> list[dict]:
    """One motion (T, K, 2) + (T, K) as mmpose 1.x video predictions: a list of frames, each with one
    instance {"keypoints", "keypoint_scores", "bbox" [[x1, y1, x2, y2]], "bbox_score"}
    (tenderlib.readers.mmpose_json reads it back)."""
    frames = []
    for t in range(keypoints.shape[0]):
        kp, sc = keypoints[t].astype(float), confidence[t].astype(float)
        lo, hi = kp.min(0), kp.max(0)
        frames.append({"frame_id": t, "instances": [{
            "keypoints": [[round(x, 3), round(y, 3)] for x, y in kp.tolist()],
            "keypoint_scores": [round(s, 4) for s in sc.tolist()],
            "bbox": [[round(float(lo[0]), 3), round(float(lo[1]), 3), round(float(hi[0]), 3), round(float(hi[1]), 3)]],
            "bbox_score": 1.0}]})
    return frames


def write_outputs(gen: Generation, index: int, stem, gif_size=(256, 256)) -> list[Path]:
    """Motion `index` of `gen` as <stem>.json (mmpose layout) + <stem>.txt (its caption, which the
    mmpose reader pairs with the JSON), <stem>.npz (keypoints, confidence, caption, fps, image_size)
    and <stem>.gif. Returns the paths written."""
    from tenderlib import viz

    stem = Path(stem)
    m = gen.motion(index)
    if not (np.isfinite(m.keypoints).all() and np.isfinite(m.confidence).all()):
        raise ValueError(f"motion {index} ({m.texts[0]!r}) holds non-finite values (NaN or inf): nothing written "
                         f"to {stem}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".json"), stem.with_suffix(".txt"), stem.with_suffix(".npz"), stem.with_suffix(".gif")]
    paths[0].write_text(json.dumps(mmpose_frames(m.keypoints, m.confidence), allow_nan=False) + "\n")
    paths[1].write_text(m.texts[0] + "\n")
    np.savez(paths[2], keypoints=m.keypoints, confidence=m.confidence, caption=np.array(m.texts[0]),
             fps=np.array(m.fps), image_size=np.array(m.image_size))
    viz.animate(m, path=paths[3], caption=m.texts[0], size=gif_size)
    return paths


# --------------------------------------------------------------------------------------------
# Notebook 03: train on a VAE's latents, score with MoLIP


@dataclass(frozen=True)
class TenderExperimentConfig:
    """What notebook 03 does beyond one denoiser: data, tables, sampling, and the configs of the VAE
    (notebook 02's parameters, prefixed vae_) and of MoLIP (notebook 04's, prefixed molip_) it loads
    or trains, so that the runs of those notebooks are shared when the values agree."""

    subset: str = "D1"  # named selection trained and tested on (paper: D1)
    data_frac: float = 1.0  # share of the subset's training clips of the main run (nested subsets)
    data_fracs: tuple[float, ...] = (0.2, 0.5, 0.8, 1.0)  # Tables 3 / 11 rows
    scaling_layers: tuple[int, ...] = (5, 9)  # Tables 3 / 11: denoiser depths
    conditionings: tuple[str, ...] = ("concat", "add", "text_transformer", "cross_attention")  # Table 13
    ablation_steps: int = 0  # steps of every table run but the main one; 0 = max_steps
    steps: int = 50  # DDIM steps at sampling
    eta: float = 0.0  # DDIM eta
    guidance_scales: tuple[float, ...] = (0.0, 1.0, 2.5, 7.5)  # the guidance figure and table
    mm_texts: int = 8  # MultiModality: test captions ...
    mm_repeats: int = 5  # ... generated this many times each
    num_examples: int = 3  # captions in the figure of generated motions
    torch_threads: int = 1  # CPU threads (1: the same numbers on every machine); 0 = torch's default
    # the VAE (tenderlib.models.vae.VAEConfig / TrainConfig of notebook 02)
    vae_num_parts: int = 4
    vae_spatial_layers: int = 2
    vae_spatial_dim: int = 16
    vae_latent_tokens: int = 4
    vae_latent_dim: int = 128
    vae_num_layers: int = 5
    vae_num_heads: int = 4
    vae_ff_dim: int = 512
    vae_dropout: float = 0.1
    vae_max_frames: int = 64
    vae_cag: bool = True
    vae_steps: int = 500
    vae_batch_size: int = 16
    vae_lr: float = 1e-3
    vae_warmup_steps: int = 50
    # MoLIP (tenderlib.models.molip.MoLIPConfig / TrainConfig of notebook 04)
    molip_max_frames: int = 64
    molip_frame_stride: int = 2
    molip_dim: int = 128
    molip_motion_layers: int = 2
    molip_ff_dim: int = 256
    molip_embed_dim: int = 128
    molip_heads: int = 4
    molip_dropout: float = 0.1
    molip_mirror_augment: float = 0.0
    molip_side_dims: int = 0
    molip_text_kind: str = "minilm"
    molip_steps: int = 1500
    molip_batch_size: int = 64
    molip_lr: float = 1e-3
    molip_warmup_steps: int = 100

    def __post_init__(self):
        from tenderlib.models.denoiser import CONDITIONINGS

        if self.subset not in ("D1", "D2", "D3"):
            raise ValueError(f"subset must be one of ('D1', 'D2', 'D3'), got {self.subset!r}")
        if not 0 < self.data_frac <= 1:
            raise ValueError(f"data_frac must be in (0, 1], got {self.data_frac!r}")
        fracs = tuple(float(f) for f in self.data_fracs)
        if not fracs or any(not 0 < f <= 1 for f in fracs) or list(fracs) != sorted(set(fracs)):
            raise ValueError(f"data_fracs must be increasing fractions in (0, 1], got {self.data_fracs!r}")
        object.__setattr__(self, "data_fracs", fracs)
        object.__setattr__(self, "scaling_layers", tuple(int(v) for v in self.scaling_layers))
        object.__setattr__(self, "conditionings", tuple(self.conditionings))
        object.__setattr__(self, "guidance_scales", tuple(float(v) for v in self.guidance_scales))
        bad = [c for c in self.conditionings if c not in CONDITIONINGS]
        if bad:
            raise ValueError(f"conditionings must be among {CONDITIONINGS}, got {bad}")
        if any(s < 0 for s in self.guidance_scales):
            raise ValueError(f"guidance_scales must be >= 0, got {self.guidance_scales}")
        if any(v < 1 for v in self.scaling_layers):
            raise ValueError(f"scaling_layers must be ints >= 1, got {self.scaling_layers}")
        for name in ("steps", "mm_texts", "mm_repeats", "num_examples"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        for name in ("ablation_steps", "torch_threads"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be an int >= 0, got {getattr(self, name)!r}")
        if self.mm_repeats < 2:
            raise ValueError(f"mm_repeats must be >= 2 (MultiModality compares generations), got {self.mm_repeats}")
        if self.eta < 0:
            raise ValueError(f"eta must be >= 0, got {self.eta!r}")

    def vae_config(self):
        from tenderlib.models.vae import VAEConfig

        return VAEConfig(num_parts=self.vae_num_parts, spatial_layers=self.vae_spatial_layers,
                         spatial_dim=self.vae_spatial_dim, latent_tokens=self.vae_latent_tokens,
                         latent_dim=self.vae_latent_dim, num_layers=self.vae_num_layers, num_heads=self.vae_num_heads,
                         ff_dim=self.vae_ff_dim, dropout=self.vae_dropout, max_frames=self.vae_max_frames,
                         cag=self.vae_cag)

    def vae_train_config(self, seed: int, autocast: str = "off"):
        """Notebook 02's TrainConfig (autocast: notebook 02's, the same as this notebook's in every profile)."""
        from tenderlib.training import TrainConfig

        return TrainConfig(seed=seed, max_steps=self.vae_steps, batch_size=self.vae_batch_size, lr=self.vae_lr,
                           warmup_steps=self.vae_warmup_steps, autocast=autocast, progress="off",
                           log_every=max(1, self.vae_steps // 8), checkpoint_every=self.vae_steps)

    def molip_config(self):
        from tenderlib.models.molip import MoLIPConfig

        return MoLIPConfig(max_frames=self.molip_max_frames, frame_stride=self.molip_frame_stride, dim=self.molip_dim,
                           motion_layers=self.molip_motion_layers, ff_dim=self.molip_ff_dim,
                           embed_dim=self.molip_embed_dim, heads=self.molip_heads, dropout=self.molip_dropout,
                           mirror_augment=self.molip_mirror_augment, side_dims=self.molip_side_dims,
                           text_kind=self.molip_text_kind)

    def molip_train_config(self, seed: int, autocast: str = "off"):
        """Notebook 04's TrainConfig (autocast: notebook 04's, the same as this notebook's in every profile)."""
        from tenderlib.training import TrainConfig

        return TrainConfig(seed=seed, max_steps=self.molip_steps, batch_size=self.molip_batch_size, lr=self.molip_lr,
                           warmup_steps=self.molip_warmup_steps, autocast=autocast, progress="off", log_every=25,
                           checkpoint_every=self.molip_steps)


@dataclass
class TenderRun:
    """A trained pipeline and how it came to be."""

    pipe: Tender
    run_dir: Path  # the denoiser's run folder (pipeline.json inside)
    trained_now: bool
    step: int
    seconds: float
    history: list
    train_clips: int


def latent_dataset(vae_run, store, selection, seed: int = 0):
    """The training latents of `selection` (VAE posterior means of centre crops, encoded once per VAE
    run: vae_runs.training_latents) with every caption of each clip -> (LatentDataset, LatentKey)."""
    from tenderlib.experiments import vae_runs
    from tenderlib.models.denoiser import LatentDataset, LatentKey

    indices, (mu, lengths) = vae_runs.training_latents(vae_run, store, selection)
    if indices.size == 0:
        raise ValueError(f"selection {selection} holds no clip")
    captions = [store.texts(int(i)) for i in indices]
    key = LatentKey(Path(vae_run.run_dir).name, Path(store.path).name, selection)
    return LatentDataset(mu, captions, lengths, seed), key


def fit_pipeline(vae_run, config, train_config, store, selection, profile: str, *, text_encoder=None,
                 publish: bool = True) -> TenderRun:
    """Load or train the denoiser `config` on the latents of `selection` under `vae_run`'s VAE.
    Lengths and fps come from the training clips. publish: write the run's pipeline.json, which
    makes it the model `tender generate` finds (find_run: the newest pipeline.json); notebook 03
    publishes its main model only, not the table runs."""
    import time

    from tenderlib.models import denoiser as dn

    t0 = time.perf_counter()
    data, key = latent_dataset(vae_run, store, selection, train_config.seed)
    run = dn.load_or_train(config, train_config, data, profile, key, text_encoder=text_encoder)
    indices = store.select(selection)
    lengths = LengthSampler.fit(store.index.length[indices], vae_run.model.cfg.max_frames)
    fps = float(np.median(store.index.fps[indices]))
    pipe = Tender(vae_run.model, run.model, lengths, fps)
    vae_ckpt = checkpoints.latest_checkpoint(vae_run.run_dir)
    if publish and vae_ckpt is not None:
        pipe.save(run.run_dir, vae_ckpt)
    return TenderRun(pipe, run.run_dir, run.trained_now, run.step, time.perf_counter() - t0, run.history, len(data))


def prompts_for(store, indices, max_length: int) -> tuple[list[str], list[int]]:
    """(first caption, length capped at max_length) of each test clip: what a generation table generates."""
    captions = [store.texts(int(i))[0] for i in indices]
    lengths = [int(min(store.index.length[int(i)], max_length)) for i in indices]
    return captions, lengths


def score(pipe: Tender, molip_model, store, indices, metrics_config, reference: np.ndarray, *, steps: int = 50,
          eta: float = 0.0, guidance_scale: float | None = None, mm_texts: int = 8, mm_repeats: int = 5,
          seed: int = 0, batch_size: int = 64):
    """Generate for the test clips `indices` (their first caption and length) and score with MoLIP
    against `reference` (tenderlib.evaluation.real_reference); MultiModality from the first
    mm_texts captions generated mm_repeats times. Returns a tenderlib.evaluation.metrics.EvalResult."""
    from tenderlib import evaluation

    captions, lengths = prompts_for(store, indices, pipe.max_length)
    g = torch.Generator().manual_seed(seed)
    kw = dict(steps=steps, eta=eta, guidance_scale=guidance_scale, batch_size=batch_size)
    gen = pipe.generate(captions, lengths, generator=g, **kw)
    P = min(mm_texts, len(captions))
    mm = pipe.generate([c for c in captions[:P] for _ in range(mm_repeats)],
                       [n for n in lengths[:P] for _ in range(mm_repeats)], generator=g, **kw)
    mm_features, mm_mask = mm.grouped(mm_repeats)
    result = evaluation.score_generated(molip_model, captions, gen.features, gen.mask, reference, mm_features,
                                        mm_mask, metrics_config)
    return Scores(result, generated_movement(gen, mm, store, indices, pipe.max_length))


@dataclass
class Scores:
    """What `score` returns: the MoLIP metrics and how much the generations move."""

    result: Any  # tenderlib.evaluation.metrics.EvalResult
    movement: dict  # tenderlib.evaluation.movement.generation_movement rows: 'generated', 'real', 'ratio'


def generated_movement(gen: Generation, mm: Generation, store, indices, max_length: int) -> dict:
    """tenderlib.evaluation.movement.generation_movement of the motions generated for the test clips `indices`
    (gen: one per clip, its first caption) against those clips, centre-cropped to max_length as
    the VAE sees them; the spread of one caption's samples is read from `mm` (several generations
    of each caption) against the spread of test clips sharing a first caption."""
    from tenderlib.evaluation import movement
    from tenderlib.data.dataset import MotionDataset, collate

    real_ds = MotionDataset(store, indices, max_frames=max_length, crop="center", caption="first")
    real = collate([real_ds[k] for k in range(len(real_ds))])
    real_clips = movement.clips_from_features(real.features, real.mask, store.index.fps[real.indices.numpy()])
    return movement.generation_movement(movement.clips_from_features(gen.features, gen.mask, gen.fps), gen.captions,
                                        real_clips, real.captions,
                                        movement.clips_from_features(mm.features, mm.mask, mm.fps), mm.captions)


def result_row(scores: Scores) -> dict[str, float]:
    """Scores as paper.table2's columns (+ '<metric>_conf'), MultiModality included, and the movement
    ratios against the real clips of the same captions: '<part>_disp', '<part>_std', '<part>_spread'
    for body, face and hand (tenderlib.evaluation.movement)."""
    from tenderlib import evaluation

    result = scores.result
    row = evaluation.metric_row(result)
    if result.multimodality is not None:
        row["multimodality"], row["multimodality_conf"] = result.multimodality.mean, result.multimodality.conf
    ratio = scores.movement["ratio"]
    row.update({f"{part}_{col}": ratio[f"{part}_{col}"] for part in MOVEMENT_PARTS for col in MOVEMENT_COLUMNS})
    return row


MOVEMENT_PARTS = ("body", "face", "hand")
MOVEMENT_COLUMNS = ("disp", "std", "spread")


# --------------------------------------------------------------------------------------------
# One table row as a run of its own (tenderlib.parallel): notebook 03's Tables 3/11 and 13


@dataclass(frozen=True)
class TableRun:
    """Everything one row of a generation table depends on, picklable for a worker process: the
    data, the VAE and MoLIP (loaded from their runs, trained if missing), the denoiser and its
    training clips, the test clips and how they are scored."""

    profile: str
    data: Any  # tenderlib.synthetic.SyntheticConfig: the store
    vae: Any  # tenderlib.models.vae.VAEConfig
    vae_train: Any  # its TrainConfig
    molip: Any  # tenderlib.models.molip.MoLIPConfig
    molip_train: Any  # its TrainConfig
    vae_selection: Any  # tenderlib.data.store.Selection the VAE and MoLIP trained on
    test_selection: Any  # the clips generated for and scored
    denoiser: Any  # tenderlib.models.denoiser.DenoiserConfig
    train: Any  # the denoiser's TrainConfig
    selection: Any  # the denoiser's training clips
    metrics: Any  # tenderlib.evaluation.metrics.MetricsConfig
    steps: int = 50
    eta: float = 0.0
    mm_texts: int = 8
    mm_repeats: int = 5
    seed: int = 0


SCORE_DIR = "scores"  # inside a denoiser's run folder: <hash of how it was scored>.json


@functools.lru_cache(maxsize=4)
def _models(profile, data, vae_cfg, vae_train, molip_cfg, molip_train, selection):
    """(store, VAE run, MoLIP) loaded once per process for the rows that share them."""
    from tenderlib import synthetic
    from tenderlib.experiments import vae_runs
    from tenderlib.models import molip

    store = synthetic.get_store(data)
    vae_run = vae_runs.load_or_train(vae_cfg, vae_train, store, selection, profile)
    evaluator = molip.load_or_train(molip_cfg, molip_train, store, selection, profile).model
    return store, vae_run, evaluator


def table_row(run: TableRun) -> dict:
    """Train (or load) the denoiser of `run` and score it; returns {'train_clips', 'parameters',
    'run_dir', **result_row}. The scores are kept in the denoiser's run folder (scores/<hash>.json,
    keyed by everything that makes them), so a second call reads them instead of generating."""
    from tenderlib import evaluation, params
    from tenderlib.models.layers import count_parameters

    store, vae_run, evaluator = _models(run.profile, run.data, run.vae, run.vae_train, run.molip, run.molip_train,
                                        run.vae_selection)
    fitted = fit_pipeline(vae_run, run.denoiser, run.train, store, run.selection, run.profile,
                          text_encoder=evaluator.text_encoder, publish=False)
    key = params.config_hash(run)  # the evaluator, the test clips, the metrics and the sampling, among the rest
    path = Path(fitted.run_dir) / SCORE_DIR / f"{key}.json"
    if path.is_file():
        row = json.loads(path.read_text())
    else:
        test = store.select(run.test_selection)
        reference = evaluation.real_reference(evaluator, store, test)
        res = score(fitted.pipe, evaluator, store, test, run.metrics, reference, steps=run.steps, eta=run.eta,
                    mm_texts=run.mm_texts, mm_repeats=run.mm_repeats, seed=run.seed)
        row = {"train_clips": fitted.train_clips, "parameters": count_parameters(fitted.pipe.denoiser),
               **result_row(res)}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{path.name}")
        tmp.write_text(json.dumps(row, indent=1) + "\n")
        tmp.replace(path)
    return {**row, "run_dir": str(fitted.run_dir)}
