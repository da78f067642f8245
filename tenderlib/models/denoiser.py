"""Tender's latent denoiser (paper 4.3, eq. 5-6): a skip transformer that predicts the clean latent.

    model = Denoiser(DenoiserConfig(...))                 # builds (or takes) the frozen text encoder
    model.set_latent_stats(latents)                       # standardisation of the VAE latents (buffers)
    x0 = model(x_t, t, text)                              # (B, n, d), (B,), TextFeatures -> (B, n, d)
    x0 = model.guided(x_t, t, cond, null, scale=7.5)      # classifier-free guidance, one batch of 2B
    model.training_loss(batch)                            # tenderlib.training.train, on a LatentBatch
    load(checkpoint)                                      # a saved denoiser, built from its own config
(trained by config on a VAE's latents: tenderlib.experiments.generation)

Network. The noisy latent's n tokens (VAE latent width d_z) are projected to the width `dim`;
the timestep goes through a sinusoidal table and an MLP to one token; the caption's frozen
sentence vector (tenderlib.models.text, pooled) is projected to one token. The token sequence runs
through tenderlib.models.layers.SkipTransformer (long skips, MLD's denoiser) with learned positions,
and the latent positions are projected back to d_z: the prediction of x0 (paper eq. 5; MDM's
parameterisation), or of the noise with prediction="epsilon" (MLD's; `predict_x0` turns it into x0). Text conditioning variants (Table 13):

    concat            [time, text, z_1..z_n]: the text is a token (the paper's default, best)
    add               [time, z_1 + text, ..., z_n + text]: the text vector added to every latent token
    text_transformer  as concat, the text token being the masked mean of `text_layers` trainable
                      transformer layers over the frozen token features
    cross_attention   [time, z_1..z_n] self-attend and cross-attend to the projected token features

Classifier-free guidance (MLD; docs/conventions.md, Diffusion). In training each caption is
replaced by the empty caption (the encoder's embedding of "", `TextEncoder.null_features`) with
probability `cond_drop_prob`. At sampling, the conditional and unconditional passes run as one
batch of 2B and out = s * cond + (1 - s) * uncond (paper eq. 6); s = 1 is the conditional model
alone, s = 0 the unconditional one.

Latents are standardised per element (mean and std over the training latents, buffers saved with
the weights): the denoiser's x0 lives in standard units; `unstandardise` maps a sample back to
the VAE's latent space.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tenderlib import checkpoints, params, seeding
from tenderlib.checks import MAX_HEADS, MAX_LAYERS, MAX_TOKENS, MAX_WIDTH, int_in, need
from tenderlib.models.layers import PositionalEmbedding, SkipTransformer, sinusoidal_table
from tenderlib.models.scheduler import NoiseScheduler, SchedulerConfig
from tenderlib.models.windows import Windows
from tenderlib.models.text import (KINDS as TEXT_KINDS, TextEncoder, TextEncoderConfig, TextFeatures,
                                   attach_text_encoder, generator_text_config)

log = logging.getLogger(__name__)

CONDITIONINGS = ("concat", "add", "text_transformer", "cross_attention")
PREDICTIONS = ("x0", "epsilon")  # what the network predicts: the clean latent (the paper, MDM) or the noise (MLD)


@dataclass(frozen=True)
class DenoiserConfig:
    """Architecture, diffusion and guidance of the latent denoiser. Defaults: a small CPU model;
    `paper()` the paper's (appendix B.1)."""

    latent_tokens: int = 4  # n, tokens of the VAE latent (VAEConfig.latent_tokens)
    latent_dim: int = 128  # d_z, width of a latent token (VAEConfig.latent_dim)
    dim: int = 128  # transformer width
    num_layers: int = 5  # transformer layers (long skips: layers // 2 pairs + a middle one)
    num_heads: int = 4  # attention heads
    ff_dim: int = 512  # hidden width of the feed-forward blocks
    dropout: float = 0.1  # dropout of the transformer
    skip: bool = True  # long skip connections (MLD's denoiser)
    conditioning: str = "concat"  # one of CONDITIONINGS (Table 13)
    text_layers: int = 2  # trainable layers of the "text_transformer" conditioning
    cond_drop_prob: float = 0.1  # training: caption replaced by the empty caption (classifier-free guidance)
    guidance_scale: float = 7.5  # sampling default s of eq. 6
    num_train_timesteps: int = 1000  # diffusion steps in training (SchedulerConfig)
    beta_start: float = 8.5e-4  # scaled-linear betas (SchedulerConfig)
    beta_end: float = 0.012
    text_kind: str = "minilm"  # frozen text encoder: "minilm" (default, offline) or "clip" (the paper's)
    text_model: str | None = None  # hub name or local folder; None = the kind's default
    text_max_length: int | None = None  # token context; None = the encoder's own
    prediction: str = "x0"  # one of PREDICTIONS: "x0" (the paper's eq. 5) or "epsilon" (MLD)
    windows: int = params.added_field(1)  # VAE windows a motion is cut into; latent_tokens = windows x the VAE's
    window_overlap: float = params.added_field(0.25)  # share of a window neighbours cross-fade over (models.windows)

    def __post_init__(self):
        caps = dict(latent_tokens=MAX_TOKENS, latent_dim=MAX_WIDTH, dim=MAX_WIDTH, num_layers=MAX_LAYERS,
                    num_heads=MAX_HEADS, ff_dim=MAX_WIDTH, text_layers=MAX_LAYERS)
        for name, cap in caps.items():
            need(self, int_in(getattr(self, name), 1, cap), name, f"an int in [1, {cap}]")
        need(self, self.dim % self.num_heads == 0 and self.dim % 2 == 0, "dim",
             f"even and divisible by num_heads={self.num_heads}")
        need(self, 0 <= self.dropout < 1, "dropout", "in [0, 1)")
        need(self, self.conditioning in CONDITIONINGS, "conditioning", f"one of {CONDITIONINGS}")
        need(self, 0 <= self.cond_drop_prob < 1, "cond_drop_prob", "in [0, 1)")
        need(self, math.isfinite(self.guidance_scale) and self.guidance_scale >= 0, "guidance_scale", ">= 0 and finite")
        need(self, self.text_kind in TEXT_KINDS, "text_kind", f"one of {TEXT_KINDS}")
        need(self, self.prediction in PREDICTIONS, "prediction", f"one of {PREDICTIONS}")
        self.windowing()  # validates windows and window_overlap
        need(self, self.latent_tokens % self.windows == 0, "latent_tokens",
             f"a multiple of windows={self.windows} (each window holds the VAE's latent tokens)")
        self.scheduler_config()  # validates the schedule

    @classmethod
    def paper(cls, **changes) -> "DenoiserConfig":
        """Appendix B.1: 9 layers, width 256, latent 8 x 256, CLIP ViT-L/14@336 text, s = 7.5."""
        sizes = dict(latent_tokens=8, latent_dim=256, dim=256, num_layers=9, num_heads=4, ff_dim=1024,
                     dropout=0.1, skip=True, conditioning="concat", text_kind="clip")
        return cls(**{**sizes, **changes})

    @classmethod
    def for_vae(cls, vae_config, **changes) -> "DenoiserConfig":
        """A config whose latent shape is that of a tenderlib.models.vae.VAEConfig (times `windows`, if given)."""
        tokens = vae_config.latent_tokens * changes.get("windows", 1)
        return cls(**{"latent_tokens": tokens, "latent_dim": vae_config.latent_dim, **changes})

    def on_vae(self, vae_config) -> "DenoiserConfig":
        """This config with the latent shape of a tenderlib.models.vae.VAEConfig: its tokens once per window."""
        return dataclasses.replace(self, latent_tokens=vae_config.latent_tokens * self.windows,
                                   latent_dim=vae_config.latent_dim)

    def windowing(self) -> Windows:
        """How a motion is cut into VAE windows for this denoiser's latent."""
        return Windows(self.windows, self.window_overlap)

    def scheduler_config(self) -> SchedulerConfig:
        return SchedulerConfig(num_train_timesteps=self.num_train_timesteps, beta_start=self.beta_start,
                               beta_end=self.beta_end)

    def text_encoder_config(self) -> TextEncoderConfig:
        return generator_text_config(self.text_kind, self.text_model, self.text_max_length)

    def weight_identity(self) -> "DenoiserConfig":
        """This config without what does not change the weights (the sampling default guidance_scale):
        what names a run folder and is stored with its checkpoints, so that two configs that differ
        only in guidance share one trained denoiser."""
        return dataclasses.replace(self, guidance_scale=DenoiserConfig.guidance_scale)


# --------------------------------------------------------------------------------------------
# Text features: mixing captions with the null condition


def pad_tokens(feats: TextFeatures, length: int) -> TextFeatures:
    """Token features padded (zeros, mask False) to `length` tokens."""
    extra = length - feats.tokens.shape[1]
    if extra <= 0:
        return feats
    return TextFeatures(F.pad(feats.tokens, (0, 0, 0, extra)), F.pad(feats.mask, (0, extra), value=False),
                        feats.pooled)


def select_text(cond: TextFeatures, null: TextFeatures, use_null: torch.Tensor) -> TextFeatures:
    """Per item: `null` where use_null (B,) is True, else `cond` (null may hold 1 row: broadcast)."""
    B = cond.pooled.shape[0]
    if null.pooled.shape[0] == 1 and B > 1:
        null = TextFeatures(null.tokens.expand(B, -1, -1), null.mask.expand(B, -1), null.pooled.expand(B, -1))
    L = max(cond.tokens.shape[1], null.tokens.shape[1])
    cond, null = pad_tokens(cond, L), pad_tokens(null, L)
    u = use_null.to(cond.pooled.device)
    return TextFeatures(torch.where(u[:, None, None], null.tokens, cond.tokens),  # (B, L, C)
                        torch.where(u[:, None], null.mask, cond.mask),  # (B, L)
                        torch.where(u[:, None], null.pooled, cond.pooled))  # (B, C)


def cat_text(a: TextFeatures, b: TextFeatures) -> TextFeatures:
    """Two batches of text features as one (tokens padded to the longer)."""
    L = max(a.tokens.shape[1], b.tokens.shape[1])
    a, b = pad_tokens(a, L), pad_tokens(b, L)
    return TextFeatures(torch.cat([a.tokens, b.tokens]), torch.cat([a.mask, b.mask]), torch.cat([a.pooled, b.pooled]))


# --------------------------------------------------------------------------------------------
# The batch the denoiser trains on


@dataclass(eq=False)
class LatentBatch:
    """B latents with their captions (one each)."""

    latents: torch.Tensor  # (B, n, d_z) VAE posterior means
    captions: list  # B captions
    lengths: torch.Tensor  # (B,) int64 frames of each encoded clip

    def __len__(self) -> int:
        return len(self.captions)

    def to(self, device, non_blocking: bool = False) -> "LatentBatch":
        return LatentBatch(self.latents.to(device, non_blocking=non_blocking), self.captions,
                           self.lengths.to(device, non_blocking=non_blocking))


# --------------------------------------------------------------------------------------------
# The network


class Denoiser(nn.Module):
    """The latent denoiser of a DenoiserConfig (module docstring). The frozen text encoder is held
    outside the parameters and the state dict (rebuilt from the config, as MoLIP's)."""

    def __init__(self, config: DenoiserConfig = DenoiserConfig(), text_encoder: TextEncoder | None = None):
        super().__init__()
        self.config = c = config
        encoder = attach_text_encoder(self, text_encoder, config.text_encoder_config())
        self.scheduler = NoiseScheduler(c.scheduler_config())
        n, D = c.latent_tokens, c.dim
        self.latent_in = nn.Linear(c.latent_dim, D)
        self.latent_out = nn.Linear(D, c.latent_dim)
        self.register_buffer("time_table", sinusoidal_table(c.num_train_timesteps, D), persistent=False)  # (T, D)
        self.time_mlp = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        if c.conditioning in ("concat", "add"):
            self.text_in = nn.Linear(encoder.dim, D)
        else:  # token features
            self.token_in = nn.Linear(encoder.token_dim, D)
        if c.conditioning == "text_transformer":
            self.text_pos = PositionalEmbedding(encoder.context_length, D)
            self.text_tf = SkipTransformer(D, c.text_layers, c.num_heads, c.ff_dim, c.dropout, skip=False)
        self.prefix = 2 if c.conditioning in ("concat", "text_transformer") else 1  # time [+ text] tokens
        self.pos = PositionalEmbedding(self.prefix + n, D, "learned")
        self.transformer = SkipTransformer(D, c.num_layers, c.num_heads, c.ff_dim, c.dropout, c.skip,
                                           cross=c.conditioning == "cross_attention")
        self.register_buffer("latent_mean", torch.zeros(n, c.latent_dim))  # (n, d_z), saved with the weights
        self.register_buffer("latent_std", torch.ones(n, c.latent_dim))

    # ---- latent standardisation ------------------------------------------------------------

    @torch.no_grad()
    def set_latent_stats(self, latents: torch.Tensor) -> None:
        """Mean and std per latent element over training latents (N, n, d_z), N >= 2."""
        if latents.ndim != 3 or tuple(latents.shape[1:]) != tuple(self.latent_mean.shape) or latents.shape[0] < 2:
            raise ValueError(f"latents must be (N >= 2, {self.config.latent_tokens}, {self.config.latent_dim}), "
                             f"got {tuple(latents.shape)}")
        self.latent_mean.copy_(latents.float().mean(0))
        self.latent_std.copy_(latents.float().std(0).clamp(min=1e-4))

    def standardise(self, z: torch.Tensor) -> torch.Tensor:
        return (z - self.latent_mean) / self.latent_std

    def unstandardise(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.latent_std + self.latent_mean

    # ---- text -------------------------------------------------------------------------------

    def encode_text(self, captions: Sequence[str]) -> TextFeatures:
        """Frozen features of the captions (on the model's device); empty captions raise (tenderlib.models.text)."""
        return self.text_encoder.encode(captions).to(self.latent_mean.device)

    def null_text(self, batch: int = 1) -> TextFeatures:
        """The null condition: the embedding of the empty caption."""
        return self.text_encoder.null_features(batch).to(self.latent_mean.device)

    # ---- forward ----------------------------------------------------------------------------

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, text: TextFeatures) -> torch.Tensor:
        """x_t (B, n, d_z) standardised noisy latents, t (B,) int timesteps, text of B captions
        -> (B, n, d_z) predicted clean (standardised) latents."""
        c = self.config
        B = x_t.shape[0]
        if x_t.ndim != 3 or tuple(x_t.shape[1:]) != (c.latent_tokens, c.latent_dim):
            raise ValueError(f"x_t must be (B, {c.latent_tokens}, {c.latent_dim}), got {tuple(x_t.shape)}")
        t = torch.as_tensor(t, device=x_t.device).long().reshape(-1).expand(B)
        h = self.latent_in(x_t)  # (B, n, D)
        time = self.time_mlp(self.time_table[t].to(h.dtype))[:, None]  # (B, 1, D)
        context = context_mask = None
        if c.conditioning in ("concat", "add"):
            txt = self.text_in(text.pooled.to(h.dtype))[:, None]  # (B, 1, D)
        else:
            tokens = self.token_in(text.tokens.to(h.dtype))  # (B, L, D)
            if c.conditioning == "text_transformer":
                tokens = self.text_tf(self.text_pos(tokens), mask=text.mask)  # (B, L, D)
                m = text.mask[..., None].to(h.dtype)
                txt = ((tokens * m).sum(1) / m.sum(1).clamp(min=1))[:, None]  # (B, 1, D) masked mean
            else:
                context, context_mask = tokens, text.mask
        if c.conditioning == "add":
            seq = torch.cat([time, h + txt], dim=1)  # (B, 1 + n, D)
        elif c.conditioning == "cross_attention":
            seq = torch.cat([time, h], dim=1)  # (B, 1 + n, D)
        else:
            seq = torch.cat([time, txt, h], dim=1)  # (B, 2 + n, D)
        out = self.transformer(self.pos(seq), context=context, context_mask=context_mask)
        return self.latent_out(out[:, self.prefix:])  # (B, n, d_z)

    def guided(self, x_t: torch.Tensor, t, cond: TextFeatures, null: TextFeatures,
               scale: float | None = None) -> torch.Tensor:
        """Classifier-free guidance (eq. 6): s * cond + (1 - s) * uncond, both passes as one batch of 2B.
        null: the null condition, 1 or B rows. scale: default config.guidance_scale; 1 = one pass."""
        s = self.config.guidance_scale if scale is None else float(scale)
        if not (math.isfinite(s) and s >= 0):
            raise ValueError(f"guidance scale must be >= 0 and finite, got {scale!r}")
        B = x_t.shape[0]
        if s == 1.0:
            return self(x_t, t, cond)
        if null.pooled.shape[0] == 1 and B > 1:
            null = select_text(cond, null, torch.ones(B, dtype=torch.bool))
        t = torch.as_tensor(t, device=x_t.device).long().reshape(-1).expand(B)
        out = self(torch.cat([x_t, x_t]), torch.cat([t, t]), cat_text(cond, null))  # (2B, n, d_z)
        c, u = out[:B], out[B:]
        return s * c + (1 - s) * u

    def predict_x0(self, x_t: torch.Tensor, t, cond: TextFeatures, null: TextFeatures,
                   scale: float | None = None) -> torch.Tensor:
        """The guided clean latent (standardised) at (x_t, t), whatever the network predicts: an
        epsilon prediction is guided as epsilon (MLD) and turned into x0 by the schedule."""
        out = self.guided(x_t, t, cond, null, scale)  # (B, n, d_z)
        if self.config.prediction == "x0":
            return out
        t = torch.as_tensor(t, device=x_t.device).long().reshape(-1).expand(x_t.shape[0])
        return self.scheduler.x0_from_eps(x_t, t, out)

    # ---- objective --------------------------------------------------------------------------

    def training_loss(self, batch: LatentBatch) -> torch.Tensor:
        """MSE between the prediction and its target, the true standardised latent (eq. 5) or the
        noise (prediction="epsilon"), captions dropped to the null condition with probability
        cond_drop_prob. Randomness from the global torch RNG, which tenderlib.training seeds per step."""
        x0 = self.standardise(batch.latents)  # (B, n, d_z)
        B = x0.shape[0]
        t = torch.randint(0, self.scheduler.num_train_timesteps, (B,), device=x0.device)
        noise = torch.randn_like(x0)
        x_t = self.scheduler.add_noise(x0, noise, t)
        drop = torch.rand(B, device=x0.device) < self.config.cond_drop_prob
        text = select_text(self.encode_text(batch.captions), self.null_text(1), drop)
        return F.mse_loss(self(x_t, t, text), x0 if self.config.prediction == "x0" else noise)


def build(config: DenoiserConfig, seed: int = 0, text_encoder: TextEncoder | None = None) -> Denoiser:
    """A freshly initialised Denoiser, its weights fixed by `seed`."""
    seeding.seed_everything(seed)
    return Denoiser(config, text_encoder)


def load(checkpoint, device: str | torch.device = "cpu", text_encoder: TextEncoder | None = None,
         guidance_scale: float | None = None) -> Denoiser:
    """The denoiser saved in a checkpoint folder, built from its own config, in eval mode;
    guidance_scale: the sampling default to give it (None: the stored config's)."""
    stored = checkpoints.read_config(checkpoint, DenoiserConfig)
    cfg = stored if guidance_scale is None else dataclasses.replace(stored, guidance_scale=float(guidance_scale))
    model = Denoiser(cfg, text_encoder).to(device)
    return checkpoints.load_weights(model, checkpoint, stored).eval()

