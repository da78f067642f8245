"""Text -> motion: the Tender pipeline (latent diffusion + PA-VAE decoder).

    pipe = Tender(vae, denoiser, LengthSampler.fit(train_lengths, max_length), fps=30.0)
    out = pipe.generate(["a person waves with the right hand"], lengths=[90],
                        generator=torch.Generator().manual_seed(0), steps=50, guidance_scale=7.5)
    out.keypoints, out.confidence       # (B, T, 133, 2) pixels, (B, T, 133); padded after out.lengths
    out.features, out.mask              # (B, T, 133, 3) normalised x, y, confidence (MoLIP's input)
    pipe.save(run_dir, vae_checkpoint)  # pipeline.json beside the denoiser's checkpoints
    Tender.load(run_dir)                # what `tender generate` uses (checked: see Saving)
(tenderlib.export.write_outputs writes a generation as MMPose JSON, npz and GIF; the runs by config
of notebook 03: tenderlib.experiments.generation)

Sampling: x_T ~ N(0, I) drawn on the CPU from the explicit generator (the same motions on any
device), 50 DDIM steps (eta configurable) of the guided denoiser (cond and uncond as one batch),
un-standardised, decoded by the PA-VAE with a mask of each motion's length (window by window and
blended when the denoiser models several VAE windows: DenoiserConfig.windows, tenderlib.models.windows). Captions are
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
VAE without CAG, and 0 on the regions (body, foot, face, hands: tenderlib.data.skeleton.REGIONS)
that no training clip annotates: a model trained on motion capture (body and feet) never learned
what a face or a hand does, and no loss taught its decoder's confidence there (CAG supervises the
confidence only where a clip annotates, unless VAEConfig.conf_supervise_unannotated), so those
points would be drawn and written as if detected. `annotated` names the regions the training data has; None (the
default for a pipeline built by hand): all.

Bad input: an empty caption list, a caption that is empty (tenderlib.models.text), a length of 0 or
beyond max_length, a guidance scale below 0 or not finite, steps outside [1, 1000], eta below 0
or not finite raise ValueError naming the parameter; captions longer than the text encoder's
context are truncated with one warning (tenderlib.models.text).

Saving. pipeline.json (version 2) records the VAE checkpoint (path relative to the run folder) and
the sha256 of its model.safetensors (and the annotated regions, absent in older files: all); `Tender.load` refuses a VAE whose weights hash differently
(pipeline.json edited to point at another VAE, or the VAE's weights replaced), and any pipeline.json
that is not valid JSON, lacks a field or holds an unusable value, with
tenderlib.checkpoints.CheckpointMismatchError naming the files. A version 1 pipeline.json (written
before the hash was recorded) loads with a warning that its VAE is unchecked. The checkpoints
themselves are checked by tenderlib.checkpoints (config, readability, finite weights).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from tenderlib import checkpoints
from tenderlib.models import METHODS
from tenderlib.checks import check_positive
from tenderlib.models.constraints import GuidanceConfig, Keyframes, Targets, guide
from tenderlib.models.denoiser import Denoiser
from tenderlib.data.motion import NUM_KEYPOINTS, Motion
from tenderlib.data.skeleton import REGIONS
from tenderlib.checkpoints import MODEL_FILE, CheckpointMismatchError, weights_hash
from tenderlib.models.vae import PAVAE, frame_mask

log = logging.getLogger(__name__)

DEFAULT_IMAGE_SIZE = (512, 512)
PERSON_FRACTION = 0.4  # pixels per normalised unit, as a fraction of the shorter image side
PIPELINE_FILE = "pipeline.json"
PIPELINE_VERSION = 2  # 2: records the VAE's weights hash (module docstring, Saving)
PIPELINE_FIELDS = ("lengths", "max_length", "fps")  # required in every version and method
STAGED = ("tender", "mld", "t2m-gpt")  # methods whose sampler decodes with a first-stage model (VAE, VQ-VAE)


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


def guidance(default: float, guidance_scale: float | None, eta: float) -> float:
    """The guidance scale a sampler uses (`default`, the model's, when None), with eta, checked:
    both >= 0 and finite (ValueError naming them)."""
    if not (math.isfinite(eta) and eta >= 0):
        raise ValueError(f"eta must be >= 0 and finite, got {eta!r}")
    scale = default if guidance_scale is None else float(guidance_scale)
    if not (math.isfinite(scale) and scale >= 0):
        raise ValueError(f"guidance_scale must be >= 0 and finite, got {guidance_scale!r}")
    return scale


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


class MotionPipeline:
    """What every text-to-motion method shares (Tender and the baselines, tenderlib.models.mdm and
    tenderlib.models.t2m_gpt): lengths drawn from the training clips or checked, captions in
    batches, the sampled features placed in pixels, confidence 0 where no training clip annotates.
    A method implements `sample_features`."""

    method = "tender"  # one of METHODS: the name `tender generate --model` and pipeline.json use
    length_multiple = 1  # lengths the method can produce are multiples of this (T2M-GPT: 4 frames a code)

    def __init__(self, lengths: LengthSampler, fps: float = 30.0, annotated: Sequence[str] | None = None):
        check_positive("fps", fps)
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if annotated is not None:
            annotated = tuple(annotated)
            unknown = [r for r in annotated if r not in REGIONS]
            if unknown or not annotated:
                raise ValueError(f"annotated must name some of the regions {tuple(REGIONS)}, got {annotated!r}")
        self.length_sampler, self.fps = lengths, float(fps)
        self.annotated = annotated  # regions the training data annotates (None: all)
        self.keep = torch.zeros(NUM_KEYPOINTS)  # (K,) 1 where confidence may be non-zero
        for r in annotated or REGIONS:
            self.keep[REGIONS[r]] = 1.0

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
        odd = [int(v) for v in lengths if int(v) % self.length_multiple]
        if odd:
            raise ValueError(f"lengths must be multiples of {self.length_multiple} frames for {self.method} (its "
                             f"tokenizer codes {self.length_multiple} frames at a time), got {odd[:5]}")
        return lengths

    def saved_fields(self) -> dict:
        """What a method adds to pipeline.json (e.g. its sampling default guidance scale)."""
        return {}

    def save(self, run_dir, first_stage=None) -> Path:
        """Write run_dir/pipeline.json (the model's own checkpoints live in run_dir, tenderlib.training):
        the method, the length distribution, fps, the annotated regions, the method's fields, and
        for a staged method the first stage's checkpoint (relative to run_dir) and its weights' hash."""
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        body = {"format": "tender-pipeline", "version": PIPELINE_VERSION, "method": self.method,
                "lengths": list(self.length_sampler.lengths), "max_length": self.max_length, "fps": self.fps,
                "annotated": self.annotated, **self.saved_fields()}
        if (first_stage is None) == (self.method in STAGED):
            raise ValueError(f"{self.method}: first_stage is the checkpoint of its "
                             f"{'VAE / VQ-VAE' if self.method in STAGED else 'nothing (give None)'}")
        if first_stage is not None:
            body.update(vae_checkpoint=Path(os.path.relpath(Path(first_stage), run_dir)).as_posix(),
                        vae_sha256=weights_hash(first_stage))
        path = run_dir / PIPELINE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body) + "\n")
        os.replace(tmp, path)
        return path

    def sample_features(self, captions: list[str], lengths: torch.Tensor, frames: int, generator: torch.Generator,
                        steps: int, eta: float, guidance_scale: float | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (b, frames, K, C) normalised x, y [, confidence], latents (b, ...)) for one batch."""
        raise NotImplementedError

    supports_constraints = False  # whether `generate` takes keyframes (tenderlib.models.constraints)

    @torch.no_grad()
    def generate(self, captions: Sequence[str], lengths=None, *, generator: torch.Generator | None = None,
                 steps: int = 50, eta: float = 0.0, guidance_scale: float | None = None, batch_size: int = 64,
                 image_size=DEFAULT_IMAGE_SIZE, constraints: Keyframes | None = None,
                 guidance_config: GuidanceConfig = GuidanceConfig()) -> Generation:
        """Motions for `captions` (module docstring). generator: a CPU torch.Generator (default: seed 0).
        constraints: keyframes in pixels of `image_size` the motions must meet (latent diffusion only)."""
        captions = check_captions(captions)
        if constraints is not None and not self.supports_constraints:
            raise ValueError(f"{self.method} does not generate under constraints; tender and mld do")
        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        center, scale = placement(image_size)
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        lengths = self.length_sampler.sample(len(captions), generator) if lengths is None else \
            self.check_lengths(lengths, len(captions))
        if constraints is not None:
            constraints.check(lengths, image_size)
        T = int(lengths.max())
        feats, latents = [], []
        for a in range(0, len(captions), batch_size):
            guided = {}
            if constraints is not None and (kf := constraints.select(a, a + batch_size)) is not None:
                guided = dict(targets=Targets.of(kf, center, scale), guidance_config=guidance_config)
            out, z = self.sample_features(captions[a:a + batch_size], lengths[a:a + batch_size], T, generator, steps,
                                          eta, guidance_scale, **guided)  # (b, T, K, C_out), (b, ...)
            feats.append(out.float().cpu())
            latents.append(z.cpu())
        out = torch.cat(feats)  # (B, T, K, C_out)
        mask = frame_mask(lengths, T)  # (B, T)
        if out.shape[-1] > 2:
            conf = out[..., 2].clamp(min=0)  # (B, T, K)
        else:
            conf = torch.ones(out.shape[:-1])
        conf = conf * mask[:, :, None] * self.keep  # (B, T, K): 0 after each length and where no clip annotates
        features = torch.cat([out[..., :2], conf[..., None]], dim=-1)  # (B, T, K, 3)
        pixels = (out[..., :2].double().numpy() * scale + center).astype(np.float32)  # (B, T, K, 2)
        return Generation(captions, lengths, mask, features, pixels, conf.numpy().astype(np.float32),
                          torch.cat(latents), self.fps, tuple(int(v) for v in image_size))


class Tender(MotionPipeline):
    """The text-to-motion pipeline: a trained Denoiser, the PA-VAE whose latents it models, lengths.
    With a naive VAE (MLD's n x d latent, n = 1 or 7) and MLD's denoiser it is MLD."""

    def __init__(self, vae: PAVAE, denoiser: Denoiser, lengths: LengthSampler, fps: float = 30.0,
                 annotated: Sequence[str] | None = None, method: str = "tender"):
        if method not in ("tender", "mld"):
            raise ValueError(f"a latent diffusion pipeline is 'tender' or 'mld', got {method!r}")
        self.method = method
        dc, vc = denoiser.config, vae.cfg
        if (dc.latent_tokens, dc.latent_dim) != (vc.latent_tokens * dc.windows, vc.latent_dim):
            raise ValueError(f"the denoiser models {dc.latent_tokens} x {dc.latent_dim} latents over {dc.windows} "
                             f"window(s), the VAE has {vc.latent_tokens} x {vc.latent_dim} a window")
        self.windows = dc.windowing()
        longest = self.windows.max_length(vc.max_frames)
        if lengths.max_length > longest:
            raise ValueError(f"lengths.max_length={lengths.max_length} exceeds the {longest} frames of "
                             f"{dc.windows} window(s) of the VAE's max_frames={vc.max_frames}")
        super().__init__(lengths, fps, annotated)
        self.vae, self.denoiser = vae.eval(), denoiser.eval()

    supports_constraints = True

    @torch.no_grad()
    def sample_latents(self, captions: Sequence[str], generator: torch.Generator, steps: int = 50,
                       eta: float = 0.0, guidance_scale: float | None = None, meet=None) -> torch.Tensor:
        """(B, n, d) VAE latents for B captions: DDIM from noise with classifier-free guidance.
        meet: x0 (B, n, d) -> x0, applied to the clean-latent estimate of every step (constraints)."""
        model, sched = self.denoiser, self.denoiser.scheduler
        scale = guidance(model.config.guidance_scale, guidance_scale, eta)
        timesteps = sched.set_timesteps(steps)
        device = model.latent_mean.device
        B, c = len(captions), model.config
        cond, null = model.encode_text(captions), model.null_text(1)
        x = torch.randn(B, c.latent_tokens, c.latent_dim, generator=generator).to(device)  # (B, n, d) x_T
        for t in timesteps.tolist():
            x0 = model.predict_x0(x, torch.full((B,), t, device=device), cond, null, scale)  # (B, n, d)
            if meet is not None:
                x0 = meet(x0)
            if eta > 0:  # noise drawn on the CPU from the explicit generator: the same on every device
                x = sched.step(x0.cpu(), t, x.cpu(), eta=eta, generator=generator).prev_sample.to(device)
            else:
                x = sched.step(x0, t, x).prev_sample
        return model.unstandardise(x)  # (B, n, d) in the VAE's latent space

    def decode(self, z: torch.Tensor, lengths: torch.Tensor, frames: int) -> torch.Tensor:
        """z (b, windows * n, d) latents of motions of `lengths` -> features (b, frames, K, C_out): each
        window decoded by the VAE, the windows blended (tenderlib.models.windows), zeros after each length."""
        vae_device = next(self.vae.parameters()).device
        z = z.to(vae_device)
        if self.windows.count == 1:
            return self.vae.decode(z, frame_mask(lengths, frames).to(vae_device))
        size, _ = self.windows.plan(lengths)  # (b,) window length
        F = int(size.max())
        pieces = self.vae.decode(z.reshape(z.shape[0] * self.windows.count, -1, z.shape[-1]),
                                 frame_mask(size.repeat_interleave(self.windows.count), F).to(vae_device))
        return self.windows.blend(pieces, lengths, frames)  # (b, frames, K, C_out)

    def sample_features(self, captions, lengths, frames, generator, steps, eta, guidance_scale, targets=None,
                        guidance_config: GuidanceConfig = GuidanceConfig()):
        meet = None
        if targets is not None:  # reconstruction guidance through the decoder (tenderlib.models.constraints)
            den = self.denoiser
            decode = lambda x: self.decode(den.unstandardise(x), lengths, frames)  # noqa: E731
            meet = lambda x0: guide(x0, decode, targets, guidance_config).to(x0.device)  # noqa: E731
        z = self.sample_latents(captions, generator, steps, eta, guidance_scale, meet)  # (b, n, d)
        if targets is not None and guidance_config.final_iterations:  # then on the sampled latent itself
            x = guide((z - den.latent_mean) / den.latent_std, decode, targets,
                      dataclasses.replace(guidance_config, iterations=guidance_config.final_iterations))
            z = den.unstandardise(x)
        return self.decode(z, lengths, frames), z  # (b, T, K, C_out), (b, windows * n, d)

    # ---- saving: pipeline.json beside the denoiser's run ------------------------------------

    def saved_fields(self) -> dict:
        return {"guidance_scale": self.denoiser.config.guidance_scale}

    @classmethod
    def load(cls, run_dir, device: str | torch.device = "cpu", text_encoder=None) -> "Tender":
        """The Tender (or MLD) pipeline saved in a denoiser run folder, checked (module docstring, Saving)."""
        pipe = load_pipeline(run_dir, device, text_encoder)
        if not isinstance(pipe, cls):
            raise CheckpointMismatchError(f"{run_dir} holds a {pipe.method} model, not a latent diffusion (Tender, MLD)")
        return pipe

    @classmethod
    def from_saved(cls, body: dict, last: Path, first_stage: Path, device, text_encoder) -> "Tender":
        from tenderlib.models import denoiser as dn

        vae = PAVAE.load(first_stage, device)
        model = dn.load(last, device, text_encoder, body.get("guidance_scale"))
        return cls(vae, model, LengthSampler.fit(body["lengths"], body["max_length"]), body["fps"],
                   body.get("annotated"), body.get("method", "tender"))


def load_pipeline(run_dir, device: str | torch.device = "cpu", text_encoder=None) -> MotionPipeline:
    """The pipeline saved in a run folder (pipeline.json + the newest checkpoint there), of whichever
    method pipeline.json names, checked (module docstring, Saving)."""
    from tenderlib.models import mdm, t2m_gpt

    run_dir = Path(run_dir)
    path = run_dir / PIPELINE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder of a text-to-motion model (no {PIPELINE_FILE}); "
                                f"notebook 03 (notebooks/03_diffusion.ipynb) writes one")
    body = read_pipeline(path)
    last = checkpoints.latest_checkpoint(run_dir)
    if last is None:
        raise FileNotFoundError(f"{run_dir} holds no finished checkpoint; run notebook 03 to train one")
    method = body.get("method", "tender")
    first_stage = None
    if method in STAGED:
        first_stage = (run_dir / body["vae_checkpoint"]).resolve()
        if not (first_stage / MODEL_FILE).is_file():
            raise FileNotFoundError(f"the first-stage checkpoint of {run_dir} is missing ({body['vae_checkpoint']})")
        check_vae(path, body, first_stage)
    kind = {"tender": Tender, "mld": Tender, "mdm": mdm.MDMPipeline, "t2m-gpt": t2m_gpt.T2MGPTPipeline}[method]
    try:  # the values of pipeline.json, checked by what they build
        return kind.from_saved(body, last, first_stage, device, text_encoder)
    except CheckpointMismatchError:
        raise  # a checkpoint, named by tenderlib.checkpoints
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
    method = body.get("method", "tender")
    if method not in METHODS:
        raise CheckpointMismatchError(f"{path}: method must be one of {METHODS}, got {method!r}")
    required = PIPELINE_FIELDS
    if method in STAGED:
        required += ("vae_checkpoint",) + (("vae_sha256",) if body["version"] == PIPELINE_VERSION else ())
    missing = [k for k in required if k not in body]
    if missing:
        raise CheckpointMismatchError(f"{path} lacks {missing}")
    if method in STAGED and not isinstance(body["vae_checkpoint"], str):
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
