"""The noise scheduler of the latent diffusion, separate from the network (docs/design.md, section 3).

    sched = NoiseScheduler(SchedulerConfig())          # 1000 steps, scaled-linear betas
    x_t = sched.add_noise(x0, noise, t)                # DDPM forward process (training)
    sched.set_timesteps(50)                            # DDIM timesteps, high to low
    for t in sched.timesteps:
        x0_hat = model(x_t, t)                         # the network predicts the clean sample
        x_t = sched.step(x0_hat, t, x_t, eta=0.0, generator=g).prev_sample
    sched.step_ddpm(x0_hat, t, x_t, generator=g)       # one ancestral (DDPM) step, all 1000 steps

Schedule (paper appendix B.1, MLD; docs/conventions.md, Diffusion): betas =
linspace(sqrt(beta_start), sqrt(beta_end), T)^2 ("scaled_linear"), alphas = 1 - betas,
alphas_cumprod = cumprod(alphas) (written abar below), computed in float64 and kept in float32.
"cosine" (Nichol and Dhariwal, MDM's): abar(t) = f(t) / f(0), f(t) = cos^2((t / T + 0.008) / 1.008
* pi / 2), betas_t = min(1 - abar(t + 1) / abar(t), 0.999); beta_start and beta_end are not used.

A network that predicts the noise (MLD) instead of x0: `x0_from_eps(x_t, t, eps)` gives the x0
the steps take, x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t).

DDIM (Song et al., eq. 12), for a network that predicts x0 (paper eq. 5), from t to the previous
timestep p = t - T / steps:
    eps   = (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t)
    sigma = eta * sqrt((1 - abar_p) / (1 - abar_t)) * sqrt(1 - abar_t / abar_p)
    x_p   = sqrt(abar_p) x0 + sqrt(1 - abar_p - sigma^2) eps + sigma z,   z ~ N(0, I)
Timesteps follow diffusers' DDIMScheduler as MLD configures it ("leading" spacing,
steps_offset=1, set_alpha_to_one=False): t_k = k * (T // steps) + 1, k = steps-1 .. 0, and the
last step's "previous" abar is abar_0. With eta = 0 and the true x0, every step is exact: the
chain returns x0 (tests/models/test_scheduler.py).

DDPM ancestral step (Ho et al., posterior q(x_{t-1} | x_t, x0), "fixed small" variance):
    mean = beta_t sqrt(abar_{t-1}) / (1 - abar_t) x0 + (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t) x_t
    var  = beta_t (1 - abar_{t-1}) / (1 - abar_t),  no noise at t = 0.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from tenderlib.checks import int_in

log = logging.getLogger(__name__)

BETA_SCHEDULES = ("scaled_linear", "linear", "cosine")
MAX_TRAIN_TIMESTEPS = 100_000  # a plausible upper bound (the paper: 1000); tables of this length are allocated


@dataclass(frozen=True)
class SchedulerConfig:
    """The diffusion's noise schedule. Defaults: the paper's (appendix B.1, as MLD)."""

    num_train_timesteps: int = 1000  # T, diffusion steps in training
    beta_start: float = 8.5e-4  # beta_1
    beta_end: float = 0.012  # beta_T
    beta_schedule: str = "scaled_linear"  # "scaled_linear" (sqrt-linear, squared) or "linear"
    steps_offset: int = 1  # added to every DDIM timestep (diffusers' "leading" spacing, MLD: 1)

    def __post_init__(self):
        if not int_in(self.num_train_timesteps, 2, MAX_TRAIN_TIMESTEPS):
            raise ValueError(f"num_train_timesteps must be an int in [2, {MAX_TRAIN_TIMESTEPS}], "
                             f"got {self.num_train_timesteps!r}")
        if not (0 < self.beta_start < self.beta_end < 1):
            raise ValueError(f"betas must satisfy 0 < beta_start < beta_end < 1, got "
                             f"beta_start={self.beta_start!r}, beta_end={self.beta_end!r}")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule must be one of {BETA_SCHEDULES}, got {self.beta_schedule!r}")
        if not (isinstance(self.steps_offset, int) and 0 <= self.steps_offset < self.num_train_timesteps):
            raise ValueError(f"steps_offset must be an int in [0, num_train_timesteps), got {self.steps_offset!r}")


@dataclass
class SchedulerOutput:
    """What a sampling step returns."""

    prev_sample: torch.Tensor  # x at the previous (less noisy) timestep, same shape as x_t
    pred_original_sample: torch.Tensor  # the x0 the step used


def make_betas(cfg: SchedulerConfig) -> torch.Tensor:
    """(T,) float64 betas of the configured schedule."""
    T = cfg.num_train_timesteps
    if cfg.beta_schedule == "scaled_linear":
        return torch.linspace(cfg.beta_start ** 0.5, cfg.beta_end ** 0.5, T, dtype=torch.float64) ** 2
    if cfg.beta_schedule == "cosine":
        s = 0.008
        f = torch.cos((torch.arange(T + 1, dtype=torch.float64) / T + s) / (1 + s) * torch.pi / 2) ** 2  # (T + 1,)
        return (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.linspace(cfg.beta_start, cfg.beta_end, T, dtype=torch.float64)


class NoiseScheduler:
    """DDPM forward process, DDIM and ancestral DDPM sampling steps, for x0-predicting networks."""

    def __init__(self, config: SchedulerConfig = SchedulerConfig()):
        self.config = config
        betas = make_betas(config)  # (T,) float64
        abar = torch.cumprod(1.0 - betas, dim=0)
        self.betas = betas.float()
        self.alphas = (1.0 - betas).float()
        self.alphas_cumprod = abar.float()  # (T,)
        self._betas64, self._abar64 = betas, abar  # float64: the sampling steps' scalar coefficients
        self.final_alpha_cumprod = float(abar[0])  # abar of the "previous" step after t_min (set_alpha_to_one=False)
        self.num_inference_steps: int | None = None
        self.timesteps = torch.arange(config.num_train_timesteps - 1, -1, -1)  # all steps until set_timesteps

    @property
    def num_train_timesteps(self) -> int:
        return self.config.num_train_timesteps

    # ---- training ---------------------------------------------------------------------------

    def _abar(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """abar_t per batch item, shaped (B, 1, ..., 1) to broadcast over `like` (B, ...)."""
        t = torch.as_tensor(t, device=self.alphas_cumprod.device).long().reshape(-1)
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.num_train_timesteps):
            raise ValueError(f"timesteps must be in [0, {self.num_train_timesteps}), got min {int(t.min())} "
                             f"max {int(t.max())}")
        a = self.alphas_cumprod[t].to(like.device, like.dtype)  # (B,)
        if a.numel() == 1:
            return a.reshape(())
        if a.shape[0] != like.shape[0]:
            raise ValueError(f"{a.shape[0]} timesteps for a batch of {like.shape[0]}")
        return a.reshape(-1, *([1] * (like.ndim - 1)))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """q(x_t | x0): sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; t (B,) or a scalar."""
        if noise.shape != x0.shape:
            raise ValueError(f"noise {tuple(noise.shape)} must have the shape of x0 {tuple(x0.shape)}")
        a = self._abar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def x0_from_eps(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """The clean sample a noise prediction implies: (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)."""
        a = self._abar(t, x_t)
        return (x_t - (1 - a).sqrt() * eps) / a.sqrt()

    def sample_timesteps(self, batch: int, device=None, generator: torch.Generator | None = None) -> torch.Tensor:
        """(batch,) int64 timesteps uniform in [0, T) (training)."""
        return torch.randint(0, self.num_train_timesteps, (batch,), device=device, generator=generator)

    # ---- DDIM -------------------------------------------------------------------------------

    def set_timesteps(self, num_inference_steps: int) -> torch.Tensor:
        """DDIM timesteps for `num_inference_steps` steps, high to low (module docstring)."""
        T = self.num_train_timesteps
        if not (isinstance(num_inference_steps, int) and not isinstance(num_inference_steps, bool)
                and 1 <= num_inference_steps <= T):
            raise ValueError(f"steps (num_inference_steps) must be an int in [1, {T}], got {num_inference_steps!r}")
        ratio = T // num_inference_steps
        ts = torch.arange(num_inference_steps - 1, -1, -1) * ratio + self.config.steps_offset
        self.timesteps = ts.clamp(max=T - 1).long()
        self.num_inference_steps = num_inference_steps
        return self.timesteps

    def previous_timestep(self, t: int) -> int:
        """The DDIM timestep after t (may be negative: then abar_prev = final_alpha_cumprod)."""
        if self.num_inference_steps is None:
            raise ValueError("call set_timesteps(steps) before step()")
        return int(t) - self.num_train_timesteps // self.num_inference_steps

    def step(self, x0: torch.Tensor, t: int, x_t: torch.Tensor, eta: float = 0.0,
             generator: torch.Generator | None = None) -> SchedulerOutput:
        """One DDIM step from timestep t (an int) given the network's x0; eta = 0: deterministic."""
        if eta < 0:
            raise ValueError(f"eta must be >= 0, got {eta!r}")
        t = int(t)
        p = self.previous_timestep(t)
        a_t = float(self._abar64[t])
        a_p = float(self._abar64[p]) if p >= 0 else self.final_alpha_cumprod
        eps = (x_t - a_t ** 0.5 * x0) / (1 - a_t) ** 0.5
        var = (1 - a_p) / (1 - a_t) * (1 - a_t / a_p)
        sigma = eta * max(var, 0.0) ** 0.5
        prev = a_p ** 0.5 * x0 + max(1 - a_p - sigma ** 2, 0.0) ** 0.5 * eps
        if sigma > 0:
            z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
            prev = prev + sigma * z
        return SchedulerOutput(prev, x0)

    # ---- DDPM (ancestral) -------------------------------------------------------------------

    def step_ddpm(self, x0: torch.Tensor, t: int, x_t: torch.Tensor,
                  generator: torch.Generator | None = None) -> SchedulerOutput:
        """One ancestral step t -> t - 1 of the full 1000-step chain (module docstring)."""
        t = int(t)
        if not 0 <= t < self.num_train_timesteps:
            raise ValueError(f"t must be in [0, {self.num_train_timesteps}), got {t}")
        a_t = float(self._abar64[t])
        a_p = float(self._abar64[t - 1]) if t > 0 else 1.0
        beta = float(self._betas64[t])
        alpha = 1.0 - beta
        mean = beta * a_p ** 0.5 / (1 - a_t) * x0 + (1 - a_p) * alpha ** 0.5 / (1 - a_t) * x_t
        if t == 0:
            return SchedulerOutput(mean, x0)
        var = beta * (1 - a_p) / (1 - a_t)
        z = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        return SchedulerOutput(mean + var ** 0.5 * z, x0)
