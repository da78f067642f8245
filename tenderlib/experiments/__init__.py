"""The experiments wing: what the notebooks run, by config, and the tables they write.

    vae_runs    notebook 02: VAEs trained by config, reconstruction and movement evaluation
    paper       the paper's published numbers, to print beside ours
    tables      writing result tables (markdown + CSV) under outputs/<profile>/tables

The only code that knows profiles and run folders.
"""
