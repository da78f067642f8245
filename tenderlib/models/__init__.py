"""The models wing: nn.Modules and their configs, nothing that knows profiles or run folders.

    layers      transformer blocks, skip transformers, positional tables
    losses      the VAE's reconstruction, velocity and KL terms
    text        frozen text encoders (MiniLM, CLIP) with their caches
    vae         the part-aware VAE (PA-VAE) and the naive VAE of Table 5
    scheduler   the diffusion schedule and DDIM sampling steps
    denoiser    the latent denoiser and its text conditionings
    molip       MoLIP, the motion-language evaluator
"""
