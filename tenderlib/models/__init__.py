"""The models wing: nn.Modules and their configs, nothing that knows profiles or run folders.

    layers      transformer blocks, skip transformers, positional tables
    losses      the VAE's reconstruction, velocity and KL terms; the baselines' channel weights
    text        frozen text encoders (MiniLM, CLIP) with their caches
    vae         the part-aware VAE (PA-VAE) and the naive VAE of Table 5 (and MLD's)
    scheduler   the diffusion schedules and the DDIM / ancestral sampling steps
    denoiser    the latent denoiser and its text conditionings (Tender's; MLD's with prediction="epsilon")
    pipeline    text -> motion: what every method shares, and Tender (MLD) itself
    mdm         MDM, diffusion on the motion features (a baseline of Table 2)
    vqvae       T2M-GPT's motion tokenizer
    t2m_gpt     T2M-GPT's GPT over the tokenizer's codes
    molip       MoLIP, the motion-language evaluator
"""

METHODS = ("tender", "mld", "mdm", "t2m-gpt")  # the text-to-motion methods of Table 2 (pipeline.json's "method")
