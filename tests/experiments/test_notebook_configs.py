"""Each value declared once: notebook 03 trains and scores with exactly the VAE notebook 02 builds and
the MoLIP notebook 04 builds, under every profile (read from their parameters cells and params files)."""
from __future__ import annotations

import dataclasses

import pytest

from tenderlib import params
from tenderlib.experiments import generation, molip_runs, vae_runs
from tenderlib.paths import params_dir
from tenderlib.training import weight_identity

PROFILES = ("smoke", "default", "paper")


def _setup(profile: str, **given) -> generation.Setup:
    values = {**params.notebook_parameters("03_diffusion", profile), **given}
    return generation.configs(values, params.snapshot({}))


@pytest.mark.parametrize("profile", PROFILES)
def test_notebook_03_builds_the_vae_and_molip_of_notebooks_02_and_04(profile):
    setup = _setup(profile)
    _, _, vae, vae_train, _, _ = vae_runs.notebook_configs(profile)
    _, _, molip, molip_train, _, _ = molip_runs.notebook_configs(profile)
    assert setup.vae == vae and setup.molip == molip  # every field of the model configs
    # the same runs: the training configs agree on everything that changes the weights
    assert weight_identity(setup.vae_train) == weight_identity(vae_train)
    assert weight_identity(setup.molip_train) == weight_identity(molip_train)
    # the denoiser's latent: the VAE's tokens for each window a motion is cut into
    assert (setup.denoiser.latent_tokens, setup.denoiser.latent_dim) == (vae.latent_tokens * setup.denoiser.windows,
                                                                         vae.latent_dim)


def test_a_change_to_notebook_02s_parameters_reaches_notebook_03(tmp_path, monkeypatch):
    real = params.notebook_parameters

    def edited(stem, profile):
        values = real(stem, profile)
        return {**values, "velocity_weight": 0.5, "kl_weight": 0.01} if stem == "02_vae" else values

    monkeypatch.setattr(params, "notebook_parameters", edited)
    setup = _setup("smoke")
    assert (setup.vae.velocity_weight, setup.vae.kl_weight) == (0.5, 0.01)


@pytest.mark.parametrize("name", ["latent_dim", "latent_tokens"])
def test_the_latent_shape_is_refused_by_name_in_notebook_03(name):
    with pytest.raises(ValueError, match=f"{name}: notebook 03 takes the latent shape from notebook 02"):
        _setup("smoke", **{name: 64})


def test_notebook_03_has_no_vae_or_molip_parameters_of_its_own():
    fields = {f.name for f in dataclasses.fields(generation.TenderExperimentConfig)}
    assert not {n for n in fields if n.startswith(("vae_", "molip_"))}
    for profile in PROFILES[1:]:
        text = (params_dir(profile) / "03_diffusion.yaml").read_text()
        assert "vae_" not in text.replace("vae_runs", "") and "\nmolip_" not in text
