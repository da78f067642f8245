"""Readers: real data formats -> `Motion`s (docs/design.md, section 2), with a report of every input.

    read_holistic(root, HolisticConfig())   the Holistic-Motion2D release (kpfiles/ + texts/)
    read_mmpose(root, MMPoseConfig())       RTMPose / MMPose JSON predictions + caption sidecars
    read_bandai(root, MocapConfig())        bandai-namco-1 BVH clips through virtual cameras
    read_bvh_folder(root, MocapConfig())    any BVH folder with caption sidecars
    build(readings, path)                   pack readings into a store + build_report.json/.md

Each returns a `Reading`: iterate it for Motions; `reading.report` (a `BuildReport`) lists every
input as accepted (with its clip ids) or `Rejected(path, reason, kind)`; counts add up.
Pickles are only ever loaded through `safe_pickle.safe_load` (an allow-list unpickler). Every
entry of an input folder is an input or a rejection, and what one input may cost is bounded by
`Limits` (tenderlib.readers.files), a field of every reader's config.
"""
from tenderlib.readers.files import Limits
from tenderlib.readers.holistic import HolisticConfig, read_holistic
from tenderlib.readers.mmpose_json import MMPoseConfig, read_mmpose
from tenderlib.readers.mocap import MocapConfig, read_bandai, read_bvh_folder
from tenderlib.readers.report import BuildReport, Reading, ReaderError, Rejected, build
from tenderlib.readers.safe_pickle import (CorruptPickleError, PickleLimitError, PickleLimits, UnsafePickleError,
                                          safe_load)

__all__ = [
    "BuildReport", "CorruptPickleError", "HolisticConfig", "Limits", "MMPoseConfig", "MocapConfig", "PickleLimitError",
    "PickleLimits", "Reading", "ReaderError", "Rejected", "UnsafePickleError", "build", "read_bandai",
    "read_bvh_folder", "read_holistic", "read_mmpose", "safe_load",
]
