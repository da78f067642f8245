"""The data wing: what a clip is and how clips are kept.

    motion      Motion, the data contract every reader and the generator produce
    skeleton    the COCO-WholeBody layout: keypoint names, regions, limbs
    normalize   pixels <-> a person-centred unit scale (and back)
    mirror      left/right mirroring of a clip
    store       the packed store: build, open, select (splits, data_frac, quality rule)
    dataset     training crops of stored clips as model features
    datastats   per-source and per-split statistics of a store

Nothing here imports from the wings above it (models, evaluation, experiments).
"""
