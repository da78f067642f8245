"""MDM (Tevet et al. 2023), a baseline of Table 2: diffusion on the motion itself, in 2D whole-body.

    model = MDM(MDMConfig(...))                  # builds (or takes) the frozen text encoder
    model.set_data_stats(features, mask)         # per-feature standardisation (buffers, saved)
    x0 = model(x_t, t, text_vectors, mask)       # (B, T, F), (B,), (B, C_text), (B, T) -> (B, T, F)
    model.training_loss(batch)                   # tenderlib.training.train on tenderlib.data.dataset batches
    pipe = MDMPipeline(model, lengths, fps)      # text -> motion (tenderlib.models.pipeline.MotionPipeline)

Network (MDM; facts in the project's reference notes): every frame's 133 x (x, y, confidence)
features (F = 399, the features the PA-VAE reads) are standardised per feature and projected to
`dim`; ONE condition token, MLP(sinusoidal timestep) + linear(the caption's frozen sentence
vector), is put in front; sinusoidal positions; a plain transformer encoder (`num_layers` pre-norm
blocks, padding-masked); the frame positions are projected back to F: the prediction of the clean
motion x0. Loss: masked MSE over real frames in standard units, the x, y of keypoints the clip does
not annotate left out (as the PA-VAE's reconstruction loss), their confidence taught 0.

Diffusion: cosine schedule of 1000 steps (tenderlib.models.scheduler). Sampling: the full
ancestral chain (steps=1000, MDM's, slow: every step is one pass over the whole motion), or
respaced DDIM with fewer steps (eta 0 by default). Classifier-free guidance as MDM: in training the
text vector is zeroed with probability `cond_drop_prob`; at sampling out = u + s (c - u), s = 2.5.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tenderlib import checkpoints, params, seeding
from tenderlib.checks import MAX_HEADS, MAX_LAYERS, MAX_WIDTH, int_in, need
from tenderlib.data.motion import NUM_KEYPOINTS
from tenderlib.models.losses import channel_weights
from tenderlib.models.layers import PositionalEmbedding, SkipTransformer, sinusoidal_table
from tenderlib.models.pipeline import LengthSampler, MotionPipeline, guidance
from tenderlib.models.scheduler import NoiseScheduler, SchedulerConfig
from tenderlib.models.text import (KINDS as TEXT_KINDS, TextEncoder, TextEncoderConfig, attach_text_encoder,
                                   generator_text_config, unit_rms)
from tenderlib.models.vae import frame_mask

CHANNELS = 3  # x, y, confidence per keypoint
FEATURES = NUM_KEYPOINTS * CHANNELS  # F = 399 per frame


@dataclass(frozen=True)
class MDMConfig:
    """MDM's architecture, diffusion and guidance. Defaults: a small CPU model; `paper()` MDM's own."""

    dim: int = 128  # transformer width (MDM: 512)
    num_layers: int = 4  # transformer layers (MDM: 8)
    num_heads: int = 4  # attention heads (MDM: 4)
    ff_dim: int = 256  # feed-forward width (MDM: 1024)
    dropout: float = 0.1
    max_frames: int = 96  # frames per training crop and the longest motion generated
    cond_drop_prob: float = 0.1  # training: text vector zeroed (classifier-free guidance)
    guidance_scale: float = 2.5  # sampling default (MDM: 2.5)
    num_train_timesteps: int = 1000
    text_kind: str = "minilm"  # frozen text encoder (tenderlib.models.text)
    text_model: str | None = None
    text_rms: bool = params.added_field(False)  # the sentence vector scaled to unit RMS (tenderlib.models.text.unit_rms)

    def __post_init__(self):
        caps = dict(dim=MAX_WIDTH, num_layers=MAX_LAYERS, num_heads=MAX_HEADS, ff_dim=MAX_WIDTH, max_frames=100_000)
        for name, cap in caps.items():
            need(self, int_in(getattr(self, name), 1, cap), name, f"an int in [1, {cap}]")
        need(self, self.dim % self.num_heads == 0 and self.dim % 2 == 0, "dim",
             f"even and divisible by num_heads={self.num_heads}")
        need(self, 0 <= self.dropout < 1, "dropout", "in [0, 1)")
        need(self, 0 <= self.cond_drop_prob < 1, "cond_drop_prob", "in [0, 1)")
        need(self, math.isfinite(self.guidance_scale) and self.guidance_scale >= 0, "guidance_scale", ">= 0 and finite")
        need(self, self.text_kind in TEXT_KINDS, "text_kind", f"one of {TEXT_KINDS}")
        self.scheduler_config()

    @classmethod
    def paper(cls, **changes) -> "MDMConfig":
        """MDM's published size: 8 layers of width 512, 4 heads, FFN 1024; CLIP text; 196 frames."""
        return cls(**{**dict(dim=512, num_layers=8, num_heads=4, ff_dim=1024, max_frames=196, text_kind="clip"),
                      **changes})

    def scheduler_config(self) -> SchedulerConfig:
        return SchedulerConfig(num_train_timesteps=self.num_train_timesteps, beta_schedule="cosine")

    def text_encoder_config(self) -> TextEncoderConfig:
        return generator_text_config(self.text_kind, self.text_model)


class MDM(nn.Module):
    """The network of an MDMConfig (module docstring); the frozen text encoder is held outside the
    parameters and the state dict (rebuilt from the config)."""

    def __init__(self, config: MDMConfig = MDMConfig(), text_encoder: TextEncoder | None = None):
        super().__init__()
        self.config = c = config
        encoder = attach_text_encoder(self, text_encoder, config.text_encoder_config())
        self.scheduler = NoiseScheduler(c.scheduler_config())
        D = c.dim
        self.frame_in = nn.Linear(FEATURES, D)
        self.frame_out = nn.Linear(D, FEATURES)
        self.register_buffer("time_table", sinusoidal_table(c.num_train_timesteps, D), persistent=False)  # (T, D)
        self.time_mlp = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        self.text_in = nn.Linear(encoder.dim, D)
        self.pos = PositionalEmbedding(c.max_frames + 1, D)
        self.transformer = SkipTransformer(D, c.num_layers, c.num_heads, c.ff_dim, c.dropout, skip=False)
        self.register_buffer("data_mean", torch.zeros(FEATURES))  # (F,), saved with the weights
        self.register_buffer("data_std", torch.ones(FEATURES))

    # ---- standardisation --------------------------------------------------------------------

    @torch.no_grad()
    def set_data_stats(self, features: torch.Tensor, mask: torch.Tensor) -> None:
        """Mean and std per feature over the real frames of training clips: features (B, T, K, 3), mask (B, T)."""
        x = features.reshape(*features.shape[:2], FEATURES)[mask]  # (N, F)
        if x.shape[0] < 2:
            raise ValueError(f"set_data_stats needs at least 2 real frames, got {x.shape[0]}")
        self.data_mean.copy_(x.float().mean(0))
        self.data_std.copy_(x.float().std(0).clamp(min=1e-2))

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, K, 3) -> (B, T, F) in standard units."""
        return (features.reshape(*features.shape[:2], FEATURES) - self.data_mean) / self.data_std

    def unstandardise(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, T, K, 3) features."""
        return (x * self.data_std + self.data_mean).reshape(*x.shape[:2], NUM_KEYPOINTS, CHANNELS)

    # ---- forward ----------------------------------------------------------------------------

    def text_vectors(self, captions: Sequence[str]) -> torch.Tensor:
        """(B, C_text) frozen sentence vectors of the captions, on the model's device."""
        pooled = self.text_encoder.encode(captions).pooled.to(self.data_mean.device)  # (B, C_text)
        return unit_rms(pooled) if self.config.text_rms else pooled

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x_t (B, T, F) noisy standardised motion, t (B,) timesteps, text (B, C_text) sentence vectors
        (zeros: the null condition), mask (B, T) real frames -> (B, T, F) predicted clean motion."""
        B, T = x_t.shape[:2]
        if x_t.ndim != 3 or x_t.shape[2] != FEATURES:
            raise ValueError(f"x_t must be (B, T, {FEATURES}), got {tuple(x_t.shape)}")
        if T > self.config.max_frames:
            raise ValueError(f"{T} frames: this MDM was built for at most max_frames={self.config.max_frames}")
        t = torch.as_tensor(t, device=x_t.device).long().reshape(-1).expand(B)
        h = self.frame_in(x_t)  # (B, T, D)
        cond = self.time_mlp(self.time_table[t].to(h.dtype)) + self.text_in(text.to(h.dtype))  # (B, D)
        seq = self.pos(torch.cat([cond[:, None], h], dim=1))  # (B, 1 + T, D)
        keys = torch.cat([torch.ones(B, 1, dtype=torch.bool, device=mask.device), mask], dim=1)  # (B, 1 + T)
        return self.frame_out(self.transformer(seq, mask=keys)[:, 1:])  # (B, T, F)

    def guided(self, x_t: torch.Tensor, t, text: torch.Tensor, mask: torch.Tensor, scale: float) -> torch.Tensor:
        """Classifier-free guidance as MDM: u + s (c - u), the unconditional pass with the text zeroed;
        both passes as one batch of 2B; s = 1: the conditional pass alone."""
        if scale == 1.0:
            return self(x_t, t, text, mask)
        B = x_t.shape[0]
        t = torch.as_tensor(t, device=x_t.device).long().reshape(-1).expand(B)
        out = self(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([text, torch.zeros_like(text)]),
                   torch.cat([mask, mask]))  # (2B, T, F)
        c, u = out[:B], out[B:]
        return u + scale * (c - u)

    # ---- objective --------------------------------------------------------------------------

    def training_loss(self, batch) -> torch.Tensor:
        """Masked MSE between the predicted and the true standardised motion (module docstring); the
        text vector zeroed with probability cond_drop_prob. Randomness from the global torch RNG,
        which tenderlib.training seeds per step."""
        x0 = self.standardise(batch.features)  # (B, T, F)
        B = x0.shape[0]
        t = torch.randint(0, self.scheduler.num_train_timesteps, (B,), device=x0.device)
        noise = torch.randn_like(x0)
        x_t = self.scheduler.add_noise(x0, noise, t)
        keep = (torch.rand(B, device=x0.device) >= self.config.cond_drop_prob).to(x0.dtype)
        text = self.text_vectors(batch.captions) * keep[:, None]  # (B, C_text)
        pred = self(x_t, t, text, batch.mask)
        w = channel_weights(batch.features, batch.mask).reshape(pred.shape)  # (B, T, F)
        return (F.mse_loss(pred, x0, reduction="none") * w).sum() / w.sum().clamp(min=1)


def build(config: MDMConfig, seed: int = 0, text_encoder: TextEncoder | None = None) -> MDM:
    """A freshly initialised MDM, its weights a function of `seed`."""
    seeding.seed_everything(seed)
    return MDM(config, text_encoder)


def load(checkpoint, device: str | torch.device = "cpu", text_encoder: TextEncoder | None = None) -> MDM:
    """A saved MDM, built from the config stored with its weights (checked: tenderlib.checkpoints)."""
    config = checkpoints.read_config(checkpoint, MDMConfig)
    model = MDM(config, text_encoder).to(device)
    return checkpoints.load_weights(model, checkpoint, config).eval()


class MDMPipeline(MotionPipeline):
    """Text -> motion with a trained MDM: full ancestral sampling (steps = num_train_timesteps) or
    respaced DDIM (fewer steps), classifier-free guidance (module docstring)."""

    method = "mdm"

    def __init__(self, model: MDM, lengths: LengthSampler, fps: float = 30.0, annotated: Sequence[str] | None = None):
        if lengths.max_length > model.config.max_frames:
            raise ValueError(f"lengths.max_length={lengths.max_length} exceeds MDM's max_frames={model.config.max_frames}")
        super().__init__(lengths, fps, annotated)
        self.model = model.eval()

    def sample_features(self, captions, lengths, frames, generator, steps, eta, guidance_scale):
        model, sched = self.model, self.model.scheduler
        scale = guidance(model.config.guidance_scale, guidance_scale, eta)
        device = model.data_mean.device
        B = len(captions)
        mask = frame_mask(lengths, frames).to(device)  # (B, T)
        text = model.text_vectors(captions)  # (B, C_text)
        x = torch.randn(B, frames, FEATURES, generator=generator).to(device)  # (B, T, F) x_T
        ancestral = steps == sched.num_train_timesteps
        timesteps = torch.arange(sched.num_train_timesteps - 1, -1, -1) if ancestral else sched.set_timesteps(steps)
        for t in timesteps.tolist():
            x0 = model.guided(x, torch.full((B,), t, device=device), text, mask, scale)  # (B, T, F)
            if ancestral:  # noise drawn on the CPU from the explicit generator: the same on every device
                x = sched.step_ddpm(x0.cpu(), t, x.cpu(), generator=generator).prev_sample.to(device)
            elif eta > 0:
                x = sched.step(x0.cpu(), t, x.cpu(), eta=eta, generator=generator).prev_sample.to(device)
            else:
                x = sched.step(x0, t, x).prev_sample
        return model.unstandardise(x), torch.zeros(B, 0)  # (B, T, K, 3); MDM has no latent

    def saved_fields(self) -> dict:
        return {"guidance_scale": self.model.config.guidance_scale}

    @classmethod
    def from_saved(cls, body: dict, last, first_stage, device, text_encoder) -> "MDMPipeline":
        model = load(last, device, text_encoder)
        if body.get("guidance_scale") is not None:
            model.config = dataclasses.replace(model.config, guidance_scale=float(body["guidance_scale"]))
        return cls(model, LengthSampler.fit(body["lengths"], body["max_length"]), body["fps"], body.get("annotated"))
