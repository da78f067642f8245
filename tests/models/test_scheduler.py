"""The noise scheduler against closed forms computed here by hand (diffusers is not a dependency)."""
from __future__ import annotations

import math

import pytest
import torch

from tenderlib.models.scheduler import NoiseScheduler, SchedulerConfig


def test_betas_and_alphas_cumprod_closed_form():
    s = NoiseScheduler()
    assert s.betas.shape == (1000,)
    assert s.betas[0].item() == pytest.approx(8.5e-4, rel=1e-6)
    assert s.betas[-1].item() == pytest.approx(0.012, rel=1e-6)
    # beta_t = (sqrt(b0) + t / 999 * (sqrt(b1) - sqrt(b0)))^2, abar_t = prod (1 - beta_i)
    for t in (0, 1, 500, 999):
        root = math.sqrt(8.5e-4) + t / 999 * (math.sqrt(0.012) - math.sqrt(8.5e-4))
        assert s.betas[t].item() == pytest.approx(root ** 2, rel=1e-6)
    prod = 1.0
    for t in range(1000):
        root = math.sqrt(8.5e-4) + t / 999 * (math.sqrt(0.012) - math.sqrt(8.5e-4))
        prod *= 1 - root ** 2
        if t in (0, 10, 499, 999):
            assert s.alphas_cumprod[t].item() == pytest.approx(prod, rel=1e-5)
    # a known value of the MLD / Stable Diffusion schedule: abar_999 ~ 0.00466
    assert s.alphas_cumprod[-1].item() == pytest.approx(0.004660, abs=2e-5)


def test_add_noise_per_item():
    s = NoiseScheduler()
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(3, 4, 5, generator=g), torch.randn(3, 4, 5, generator=g)
    t = torch.tensor([0, 400, 999])
    out = s.add_noise(x0, noise, t)
    for b in range(3):
        a = s.alphas_cumprod[t[b]]
        torch.testing.assert_close(out[b], a.sqrt() * x0[b] + (1 - a).sqrt() * noise[b])


def test_ddim_timesteps_leading_spacing():
    s = NoiseScheduler()
    ts = s.set_timesteps(50)
    assert ts.tolist() == [k * 20 + 1 for k in range(49, -1, -1)]  # 981, 961, ..., 1
    assert s.previous_timestep(981) == 961 and s.previous_timestep(1) == -19


def test_ddim_step_by_hand():
    s = NoiseScheduler()
    s.set_timesteps(50)
    g = torch.Generator().manual_seed(1)
    x_t, x0 = torch.randn(2, 3, generator=g), torch.randn(2, 3, generator=g)
    t, p = 501, 481
    a_t, a_p = s.alphas_cumprod[t].double().item(), s.alphas_cumprod[p].double().item()
    eps = (x_t.double() - math.sqrt(a_t) * x0.double()) / math.sqrt(1 - a_t)
    expected = math.sqrt(a_p) * x0.double() + math.sqrt(1 - a_p) * eps
    torch.testing.assert_close(s.step(x0, t, x_t).prev_sample.double(), expected, rtol=1e-5, atol=1e-5)
    # eta = 1: the same mean plus sigma z, z drawn from the generator
    eta = 1.0
    sigma = eta * math.sqrt((1 - a_p) / (1 - a_t) * (1 - a_t / a_p))
    z = torch.randn(2, 3, generator=torch.Generator().manual_seed(7)).double()
    expected = math.sqrt(a_p) * x0.double() + math.sqrt(1 - a_p - sigma ** 2) * eps + sigma * z
    got = s.step(x0, t, x_t, eta=eta, generator=torch.Generator().manual_seed(7)).prev_sample
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5)
    # the last step goes to abar_0 (set_alpha_to_one=False)
    a_1 = s.alphas_cumprod[1].item()
    eps = (x_t - math.sqrt(a_1) * x0) / math.sqrt(1 - a_1)
    expected = math.sqrt(s.final_alpha_cumprod) * x0 + math.sqrt(1 - s.final_alpha_cumprod) * eps
    torch.testing.assert_close(s.step(x0, 1, x_t).prev_sample, expected)


def test_ddim_eta0_with_exact_x0_recovers_x0():
    """With the true x0 and eta 0, every DDIM state is add_noise(x0, eps0, t) for the start's eps0,
    and the chain ends at add_noise(x0, eps0, 0) = sqrt(abar_0) x0 + sqrt(1 - abar_0) eps0, about x0."""
    s = NoiseScheduler()
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(2, 4, 5, generator=g, dtype=torch.float64)
    eps0 = torch.randn(2, 4, 5, generator=g, dtype=torch.float64)
    ts = s.set_timesteps(50)
    x = s.add_noise(x0, eps0, ts[0])
    for t in ts:
        x = s.step(x0, int(t), x).prev_sample
        prev = max(s.previous_timestep(int(t)), 0)
        torch.testing.assert_close(x, s.add_noise(x0, eps0, torch.tensor(prev)), rtol=1e-5, atol=1e-5)
    assert (x - x0).abs().max() < 0.1  # sqrt(1 - abar_0) = 0.029


def test_ddpm_step_closed_form():
    s = NoiseScheduler()
    g = torch.Generator().manual_seed(4)
    x_t, x0 = torch.randn(3, generator=g), torch.randn(3, generator=g)
    t = 300
    a_t, a_p = s.alphas_cumprod[t].item(), s.alphas_cumprod[t - 1].item()
    beta = s.betas[t].item()  # float32-rounded: the step uses float64, so compare at 1e-5
    mean = beta * math.sqrt(a_p) / (1 - a_t) * x0 + (1 - a_p) * math.sqrt(1 - beta) / (1 - a_t) * x_t
    var = beta * (1 - a_p) / (1 - a_t)
    z = torch.randn(3, generator=torch.Generator().manual_seed(9))
    got = s.step_ddpm(x0, t, x_t, generator=torch.Generator().manual_seed(9)).prev_sample
    torch.testing.assert_close(got, mean + math.sqrt(var) * z, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(s.step_ddpm(x0, 0, x_t).prev_sample, x0)  # t = 0: the mean is x0


@pytest.mark.parametrize("kwargs, name", [
    (dict(num_train_timesteps=1), "num_train_timesteps"),
    (dict(num_train_timesteps=10**12), r"num_train_timesteps must be an int in \[2, 100000\]"),
    (dict(beta_start=0.02, beta_end=0.01), "beta_start"),
    (dict(beta_schedule="sigmoid"), "beta_schedule"),
])
def test_bad_config(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SchedulerConfig(**kwargs)


def test_bad_steps_and_timesteps():
    s = NoiseScheduler()
    for steps in (0, -1, 1001, 2.5):
        with pytest.raises(ValueError, match="steps"):
            s.set_timesteps(steps)
    with pytest.raises(ValueError, match="set_timesteps"):
        NoiseScheduler().step(torch.zeros(1), 10, torch.zeros(1))
    with pytest.raises(ValueError, match="timesteps"):
        s.add_noise(torch.zeros(2), torch.zeros(2), torch.tensor([0, 1000]))
    s.set_timesteps(5)
    with pytest.raises(ValueError, match="eta"):
        s.step(torch.zeros(1), 801, torch.zeros(1), eta=-0.1)


def test_cosine_schedule_closed_form_and_exact_ddim():
    s = NoiseScheduler(SchedulerConfig(beta_schedule="cosine"))
    t = torch.arange(1000, dtype=torch.float64)
    f = lambda u: math.cos((u / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    expected = torch.tensor([f(float(u) + 1) / f(0.0) for u in t], dtype=torch.float64)
    torch.testing.assert_close(s.alphas_cumprod.double()[:999], expected[:999], rtol=1e-5, atol=1e-7)
    assert float(s.betas.max()) <= 0.999 + 1e-6 and float(s.alphas_cumprod[-1]) < 1e-3  # the end is nearly pure noise
    g = torch.Generator().manual_seed(4)
    x0, eps0 = torch.randn(2, 3, 4, generator=g, dtype=torch.float64), torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    ts = s.set_timesteps(20)
    x = s.add_noise(x0, eps0, ts[0])
    for step in ts:
        x = s.step(x0, int(step), x).prev_sample
    torch.testing.assert_close(x, s.add_noise(x0, eps0, torch.tensor(0)), rtol=1e-5, atol=1e-5)


def test_x0_from_eps_inverts_add_noise():
    s = NoiseScheduler()
    g = torch.Generator().manual_seed(5)
    x0, eps = torch.randn(4, 3, 2, generator=g), torch.randn(4, 3, 2, generator=g)
    t = torch.tensor([0, 10, 500, 999])
    torch.testing.assert_close(s.x0_from_eps(s.add_noise(x0, eps, t), t, eps), x0, rtol=1e-3, atol=1e-3)
