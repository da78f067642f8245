"""Speed of Tender and the baselines (MLD's AITS table): parameters and seconds per motion, batch 1.

    .venv/bin/python tests/benchmarks/bench_baselines.py [--sizes default paper] [--motions 2] [--threads 1]

Freshly initialised models (time does not depend on the weights): Tender at the default profile's
size (params/default/02_vae.yaml, 03_diffusion.yaml) or the paper's (VAEConfig.paper(),
DenoiserConfig.paper()), the baselines at the same size names (tenderlib.experiments.baselines), all
with the MiniLM text encoder; every motion as long as the size's frames (96 default, 196 paper).
Samplers as in notebook 03's tables: DDIM 50 (Tender, MLD, MDM respaced) and MDM's own 1000
ancestral steps; T2M-GPT draws its codes one by one. Prints a Markdown table; name the CPU with it.
"""
from __future__ import annotations

import argparse
import platform

import torch

from tenderlib import params
from tenderlib.experiments import baselines, generation, vae_runs
from tenderlib.models import denoiser, pipeline
from tenderlib.models.layers import count_parameters
from tenderlib.models.text import TextEncoderConfig, load_text_encoder

CAPTIONS = ["a person waves with the right hand", "someone jumps twice", "a woman bows slowly",
            "a man kicks with the left leg", "a child claps happily"]


def tender(size: str, encoder) -> pipeline.Tender:
    if size == "paper":
        vae_cfg = vae_runs.VAEConfig.paper()
        den_cfg = denoiser.DenoiserConfig.paper(latent_tokens=vae_cfg.latent_tokens, latent_dim=vae_cfg.latent_dim,
                                                text_kind="minilm")
    else:
        setup = generation.configs(params.notebook_parameters("03_diffusion", "default"), params.snapshot({}))
        vae_cfg, den_cfg = setup.vae, setup.denoiser  # what notebooks 02 and 03 train on the default profile
    n = vae_cfg.max_frames
    return pipeline.Tender(vae_runs.build(vae_cfg, 0), denoiser.build(den_cfg, 0, encoder),
                           pipeline.LengthSampler.fit([n], n))


def cpu_name() -> str:
    """The model name of this CPU (Linux), else the machine type."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["default", "paper"], choices=["smoke", "default", "paper"])
    ap.add_argument("--motions", type=int, default=2, help="motions timed per method (after a warm-up)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    encoder = load_text_encoder(TextEncoderConfig())
    captions = (CAPTIONS * args.motions)[: args.motions]
    print(f"CPU: {cpu_name()}, torch threads {args.threads}, fp32")
    print("| size | method | frames | sampler | parameters | seconds per motion |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        frames = 196 if size == "paper" else 96
        pipes = {"Tender": (tender(size, encoder), 50, "DDIM 50")}
        for m in baselines.BASELINES:
            p = baselines.untrained(m, baselines.stages(m, size, frames, 1, text_kind="minilm"), frames, encoder)
            pipes[{"t2m-gpt": "T2M-GPT", "mdm": "MDM", "mld": "MLD"}[m]] = (
                p, 50, "codes one by one" if m == "t2m-gpt" else "DDIM 50")
        pipes["MDM, 1000 ancestral steps"] = (pipes["MDM"][0], 1000, "ancestral 1000")
        seconds = {}
        for name, (p, steps, sampler) in pipes.items():
            seconds[name] = baselines.seconds_per_motion(p, captions, steps)
            params_ = sum(count_parameters(m) for m in baselines.models_of(p))
            print(f"| {size} | {name} | {p.max_length} | {sampler} | {params_:,} | {seconds[name]:.3f} |", flush=True)
        print(f"| {size} | MDM (1000 steps) / Tender | | | | {seconds['MDM, 1000 ancestral steps'] / seconds['Tender']:.0f}x |")


if __name__ == "__main__":
    main()
