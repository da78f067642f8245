"""T2M-GPT's motion tokenizer (Zhang et al. 2023): a 1D-convolutional VQ-VAE, in 2D whole-body.

    model = VQVAE(VQVAEConfig(...))
    out = model(features, mask)          # (B, T, K, 3), (B, T) -> VQOutput (features, codes, commit loss)
    codes = model.encode(features, mask) # (B, T / 4) int64 code indices
    feats = model.decode(codes)          # (B, L) -> (B, 4 L, K, 3)
    model.training_loss(batch)           # tenderlib.training.train on tenderlib.data.dataset batches

Network (T2M-GPT; the project's reference notes): every frame's 133 x (x, y, confidence) features
(F = 399, the PA-VAE's input) are a 1D signal over time. Encoder: conv 3 -> ReLU, then `down_t`
levels of (conv 4 stride 2, `depth` residual blocks of dilated conv 3 with dilation growth
`dilation_growth`), conv 3 to the code width: one code vector per 2^down_t = 4 frames. Decoder:
the mirror, nearest-neighbour upsampling x2 per level. A motion's length must be a multiple of 4.

Quantiser: nearest code of a codebook of `codebook_size` vectors; the codebook is not learned by
gradient but by exponential moving averages (decay `ema_decay`) of the encoder outputs assigned to
each code; a code that has fallen out of use (its average count under 1) is reset to a random
encoder output of the batch. Straight-through estimator. Initialised from the first batch's
encoder outputs. The EMA statistics are buffers: under DDP the buffers of rank 0 are broadcast
to the others every step (torch's default), so rank 0's batches drive the codebook.

Loss: smooth L1 reconstruction over real frames, x and y where the keypoint is annotated and the
confidence everywhere (as the PA-VAE's CAG with supervision of the unannotated), plus
`commit_weight` x the commitment loss ||z - sg(q)||^2 over real code positions.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tenderlib import checkpoints, seeding
from tenderlib.checks import MAX_LAYERS, MAX_WIDTH, int_in, need
from tenderlib.data.motion import NUM_KEYPOINTS
from tenderlib.models.losses import channel_weights

CHANNELS = 3
FEATURES = NUM_KEYPOINTS * CHANNELS  # F = 399 per frame


@dataclass(frozen=True)
class VQVAEConfig:
    """The tokenizer's size. Defaults: a small CPU model; `paper()` T2M-GPT's."""

    width: int = 128  # channels of the convolutions (T2M-GPT: 512)
    code_dim: int = 128  # width of a code vector (T2M-GPT: 512)
    codebook_size: int = 256  # number of codes (T2M-GPT: 512)
    down_t: int = 2  # stride-2 downsamplings: one code per 2^down_t frames (T2M-GPT: 2)
    depth: int = 2  # residual blocks per level (T2M-GPT: 3)
    dilation_growth: int = 3  # dilation of residual block i: growth^i (T2M-GPT: 3)
    ema_decay: float = 0.99
    commit_weight: float = 0.02
    max_frames: int = 64  # frames of a training crop (a multiple of 2^down_t)

    def __post_init__(self):
        for name, cap in dict(width=MAX_WIDTH, code_dim=MAX_WIDTH, codebook_size=1 << 16, depth=MAX_LAYERS,
                              dilation_growth=9).items():
            need(self, int_in(getattr(self, name), 1, cap), name, f"an int in [1, {cap}]")
        need(self, int_in(self.down_t, 0, 6), "down_t", "an int in [0, 6]")
        need(self, 0 < self.ema_decay < 1, "ema_decay", "in (0, 1)")
        need(self, self.commit_weight >= 0, "commit_weight", ">= 0")
        need(self, int_in(self.max_frames, 1, 100_000) and self.max_frames % self.stride == 0, "max_frames",
             f"a positive multiple of {self.stride} (2^down_t)")

    @property
    def stride(self) -> int:
        """Frames per code."""
        return 2 ** self.down_t

    @classmethod
    def paper(cls, **changes) -> "VQVAEConfig":
        """T2M-GPT's tokenizer: width 512, codebook 512 x 512, 4x downsampling, depth 3."""
        return cls(**{**dict(width=512, code_dim=512, codebook_size=512, depth=3, max_frames=64), **changes})


class ResBlock(nn.Module):
    def __init__(self, width: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.proj = nn.Conv1d(width, width, 1)

    def forward(self, x):  # (B, W, L)
        return x + self.proj(F.relu(self.conv(F.relu(x))))


def _resnet(cfg: VQVAEConfig, reverse: bool = False) -> nn.Sequential:
    dilations = [cfg.dilation_growth ** i for i in range(cfg.depth)]
    return nn.Sequential(*(ResBlock(cfg.width, d) for d in (dilations[::-1] if reverse else dilations)))


@dataclass
class VQOutput:
    features: torch.Tensor  # (B, T, K, 3) reconstruction
    codes: torch.Tensor  # (B, L) int64, L = T / stride
    commit: torch.Tensor  # () commitment loss over real code positions


class VQVAE(nn.Module):
    """Encoder, EMA codebook and decoder of a VQVAEConfig (module docstring)."""

    def __init__(self, config: VQVAEConfig = VQVAEConfig()):
        super().__init__()
        self.config = c = config
        enc = [nn.Conv1d(FEATURES, c.width, 3, padding=1), nn.ReLU()]
        for _ in range(c.down_t):
            enc += [nn.Conv1d(c.width, c.width, 4, stride=2, padding=1), _resnet(c)]
        self.encoder = nn.Sequential(*enc, nn.Conv1d(c.width, c.code_dim, 3, padding=1))
        dec = [nn.Conv1d(c.code_dim, c.width, 3, padding=1), nn.ReLU()]
        for _ in range(c.down_t):
            dec += [_resnet(c, reverse=True), nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv1d(c.width, c.width, 3, padding=1)]
        self.decoder = nn.Sequential(*dec, nn.Conv1d(c.width, c.width, 3, padding=1), nn.ReLU(),
                                     nn.Conv1d(c.width, FEATURES, 3, padding=1))
        self.register_buffer("codebook", torch.zeros(c.codebook_size, c.code_dim))  # (N_codes, C)
        self.register_buffer("code_count", torch.zeros(c.codebook_size))  # EMA of assignments per code
        self.register_buffer("code_sum", torch.zeros(c.codebook_size, c.code_dim))  # EMA of assigned vectors
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    # ---- shapes -----------------------------------------------------------------------------

    def _check(self, features: torch.Tensor, mask: torch.Tensor) -> None:
        B, T = features.shape[:2]
        if features.ndim != 4 or tuple(features.shape[2:]) != (NUM_KEYPOINTS, CHANNELS) or tuple(mask.shape) != (B, T):
            raise ValueError(f"features must be (B, T, {NUM_KEYPOINTS}, {CHANNELS}) with a (B, T) mask, got "
                             f"{tuple(features.shape)} and {tuple(mask.shape)}")
        if T % self.config.stride:
            raise ValueError(f"{T} frames: the VQ-VAE codes {self.config.stride} frames at a time, so a length "
                             f"must be a multiple of {self.config.stride}")

    def code_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """(B, T) frame mask -> (B, T / stride): a code position is real when all its frames are."""
        return mask.reshape(mask.shape[0], -1, self.config.stride).all(-1)

    # ---- quantiser --------------------------------------------------------------------------

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """(N, C) vectors -> (N,) indices of their nearest codes."""
        d = (z.pow(2).sum(1, keepdim=True) - 2 * z @ self.codebook.t() + self.codebook.pow(2).sum(1)[None])
        return d.argmin(1)

    @torch.no_grad()
    def _update(self, z: torch.Tensor, idx: torch.Tensor) -> None:
        """EMA update of the codebook from the real positions' vectors z (N, C) and their codes (N,)."""
        c = self.config
        if not bool(self.initialised):  # the first batch's encoder outputs (repeated if too few)
            pick = torch.randint(0, z.shape[0], (c.codebook_size,), device=z.device)
            self.codebook.copy_(z[pick])
            self.code_sum.copy_(z[pick])
            self.code_count.fill_(1.0)
            self.initialised.fill_(True)
            idx = self.nearest(z)
        onehot = F.one_hot(idx, c.codebook_size).to(z.dtype)  # (N, N_codes)
        self.code_count.mul_(c.ema_decay).add_(onehot.sum(0), alpha=1 - c.ema_decay)
        self.code_sum.mul_(c.ema_decay).add_(onehot.t() @ z, alpha=1 - c.ema_decay)
        n = self.code_count.sum()
        count = (self.code_count + 1e-5) / (n + c.codebook_size * 1e-5) * n  # Laplace smoothing
        self.codebook.copy_(self.code_sum / count[:, None])
        dead = self.code_count < 1.0  # codes out of use: reset to random encoder outputs of this batch
        if dead.any():
            pick = torch.randint(0, z.shape[0], (int(dead.sum()),), device=z.device)
            self.codebook[dead] = z[pick]
            self.code_sum[dead] = z[pick]
            self.code_count[dead] = 1.0

    # ---- forward ----------------------------------------------------------------------------

    def _encode(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, K, 3) -> (B, L, C) encoder outputs."""
        x = features.reshape(*features.shape[:2], FEATURES).transpose(1, 2)  # (B, F, T)
        return self.encoder(x.float()).transpose(1, 2)  # (B, L, C)

    def encode(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, K, 3), (B, T) -> (B, T / stride) int64 codes (padded positions coded too)."""
        self._check(features, mask)
        z = self._encode(features * mask[:, :, None, None])
        return self.nearest(z.reshape(-1, z.shape[-1])).reshape(z.shape[:2])

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, L) int64 codes -> (B, L * stride, K, 3) features."""
        if codes.ndim != 2 or codes.dtype != torch.int64:
            raise ValueError(f"codes must be (B, L) int64, got {tuple(codes.shape)} {codes.dtype}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.config.codebook_size):
            raise ValueError(f"codes must be in [0, {self.config.codebook_size})")
        q = self.codebook[codes].transpose(1, 2)  # (B, C, L)
        y = self.decoder(q).transpose(1, 2)  # (B, T, F)
        return y.reshape(*y.shape[:2], NUM_KEYPOINTS, CHANNELS)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> VQOutput:
        self._check(features, mask)
        z = self._encode(features * mask[:, :, None, None])  # (B, L, C)
        real = self.code_mask(mask)  # (B, L)
        flat = z.reshape(-1, z.shape[-1])
        if self.training:
            self._update(flat[real.reshape(-1)].detach().float(), self.nearest(flat.detach())[real.reshape(-1)])
        idx = self.nearest(flat.detach()).reshape(z.shape[:2])  # (B, L)
        q = self.codebook[idx]  # (B, L, C)
        err = (z - q.detach()).pow(2).mean(-1)  # (B, L)
        commit = (err * real).sum() / real.sum().clamp(min=1)
        st = z + (q - z).detach()  # straight-through
        y = self.decoder(st.transpose(1, 2)).transpose(1, 2)  # (B, T, F)
        return VQOutput(y.reshape(*y.shape[:2], NUM_KEYPOINTS, CHANNELS), idx, commit)

    def training_loss(self, batch) -> torch.Tensor:
        """Reconstruction (module docstring) + commit_weight x commitment, on a tenderlib.data.dataset batch."""
        out = self(batch.features, batch.mask)
        return reconstruction(out.features, batch.features, batch.mask) + self.config.commit_weight * out.commit


def reconstruction(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Smooth L1 over real frames, weighted by tenderlib.models.losses.channel_weights."""
    w = channel_weights(target, mask)  # (B, T, K, 3)
    err = F.smooth_l1_loss(pred.float(), target.float(), reduction="none")
    return (err * w).sum() / w.sum().clamp(min=1)


def build(config: VQVAEConfig, seed: int = 0) -> VQVAE:
    seeding.seed_everything(seed)
    return VQVAE(config)


def load(checkpoint, device: str | torch.device = "cpu") -> VQVAE:
    """A saved VQ-VAE, built from the config stored with its weights (checked: tenderlib.checkpoints)."""
    config = checkpoints.read_config(checkpoint, VQVAEConfig)
    return checkpoints.load_weights(VQVAE(config).to(device), checkpoint, config).eval()
