"""The `tender` command line.

    tender data build  --num-clips 20000 [--seed 0] [--workers 2]   pack the synthetic dataset (cached by config)
    tender data info   STORE                                        per-source table and quality rule of a store
    tender data show   STORE --index 3 --out clip.gif               animate stored clips to a GIF
    tender data import holistic|mmpose|bvh|bandai ROOT --out STORE  pack real data (with a build report)

    tender train vae|molip|tender --profile default [--store STORE] [-p NAME=VALUE ...]
                                                                    train (or load) the main run of notebook
                                                                    02 / 04 / 03 with that profile's parameters;
                                                                    under torchrun on several processes (DDP)

    tender generate "a person waves with the right hand" --seconds 3 --out wave [--pose-video]
                                                                    text to motion: wave.json (RTMPose/MMPose
                                                                    layout) + wave.txt, wave.npz, wave.gif
                                                                    (and the pose video wave_pose.mp4)
    tender render wave.npz --pose-video wave.mp4 [--pose-frames DIR] [--motionbert wave_mb.npz]
                                                                    a motion file as DWPose/ControlNet pose maps
                                                                    (MP4, PNGs) or MotionBERT's 2D input

A user error (a bad argument, a missing or untrustworthy file, an output path that cannot be
written) is one line on stderr, `tender: error: <what is wrong>`, with exit code 2 (argparse's
convention); a traceback means a bug.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
from collections import Counter
from pathlib import Path

from tenderlib.models import METHODS

MAX_GIF_SIZE = 1024  # `data show --size`: pixels of one cell (a grid is up to 4 cells wide)
MAX_IMAGE_SIZE = 16_384  # `generate --image-size`: pixels of the frame the keypoints are placed in
MAX_THREADS = 1024


# --------------------------------------------------------------------------------------------
# Argument types: a bad value is an argparse error naming the option


def _typed(convert, ok, allowed: str):
    """An argparse type: convert(text), refused unless ok(value), with 'must be <allowed>, got <text>'."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
        return value
    return parse


positive_float = _typed(float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
non_negative_float = _typed(float, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")


def int_in(lo: int, hi: int):
    return _typed(int, lambda v: lo <= v <= hi, f"an int in [{lo}, {hi}]")


def output_path(text: str) -> str:
    """A path to write (a file, a file stem or a folder): non-empty, with a name, and under a folder
    that exists or can be made (its nearest existing ancestor is a folder, not a file)."""
    path = Path(text)
    if not text.strip() or path.name in ("", ".", ".."):
        raise argparse.ArgumentTypeError(f"must be a path ending in a name, got {text!r}")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text!r}: {str(parent)!r} is a file, not a folder")
    return text


def pose_size(text: str) -> tuple[int, int]:
    """WxH in pixels, e.g. 512x768: even, 8 to posemap.MAX_SIDE (an H.264 video in yuv420p needs even sizes)."""
    from tenderlib.posemap import PoseMapConfig

    w, sep, h = text.lower().partition("x")
    try:
        return PoseMapConfig(width=int(w), height=int(h)).size
    except ValueError as e:
        numbers = sep and w.strip().isdigit() and h.strip().isdigit()
        raise argparse.ArgumentTypeError(str(e) if numbers else f"must be WxH in pixels, e.g. 512x768, got {text!r}") from None


def torch_device(text: str) -> str:
    """cpu, cuda, cuda:<n> or mps, available on this machine."""
    import torch

    try:
        device = torch.device(text)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"must be cpu, cuda, cuda:<n> or mps, got {text!r}")
    if device.type == "cuda" and not (torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()):
        raise argparse.ArgumentTypeError(f"{text!r}: no such CUDA device on this machine "
                                         f"({torch.cuda.device_count()} found)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: MPS is not available on this machine")
    return text


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, `tender: error: <message> (see `<prog> --help`)`, exit 2."""

    def error(self, message: str):
        self.exit(2, f"tender: error: {message} (see `{self.prog} --help`)\n")


# --------------------------------------------------------------------------------------------
# Commands


def _build(args) -> int:
    from tenderlib import synthetic

    cfg = synthetic.SyntheticConfig(num_clips=args.num_clips, seed=args.seed, sources=tuple(args.source or ()))
    store = synthetic.get_store(cfg, workers=args.workers, rebuild=args.rebuild)
    print(f"{store.path}\n{len(store)} clips, {store.manifest['num_frames']} frames")
    return 0


def _open(path: str):
    from tenderlib.data.store import Store

    return Store(Path(path))


def _info(args) -> int:
    from tenderlib.data import datastats

    store = _open(args.store)
    if len(store) == 0:
        raise ValueError(f"store {args.store} holds no clip (its build_report.md says why)")
    print(datastats.source_table(store).to_string(index=False))
    print()
    print(datastats.quality_report(store).per_source.round(3).to_string(index=False))
    return 0


def _show(args) -> int:
    from tenderlib import viz

    store = _open(args.store)
    n = len(store)
    if n == 0:
        raise ValueError(f"store {args.store} holds no clip: nothing to show")
    bad = [i for i in args.index if not -n <= i < n]
    if bad:
        raise ValueError(f"--index {' '.join(map(str, bad))} out of range: store {args.store} holds {n} clip(s), "
                         f"indices 0 to {n - 1} (or -{n} to -1 from the end)")
    motions = [store.clip(i) for i in args.index]
    if len(motions) == 1:
        viz.animate(motions[0], path=args.out, caption=motions[0].texts[0], size=(args.size, args.size))
    else:
        viz.animate_grid(motions, path=args.out, cols=min(4, len(motions)), size=(args.size, args.size))
    print(args.out)
    return 0


def _import(args) -> int:
    from tenderlib import readers

    kind, root = args.format, Path(args.root)
    if Path(args.out).exists() and not args.overwrite:  # checked before the (long) reading
        raise ValueError(f"--out {args.out} already exists; pass --overwrite to replace a store")
    if kind in ("holistic", "mmpose") and any(v is not None for v in (args.source, args.vocabulary, args.captions)):
        raise ValueError("--source, --vocabulary and --captions are for `data import bvh` and `data import bandai`")
    if kind == "holistic":
        reading = readers.read_holistic(root, readers.HolisticConfig())
    elif kind == "mmpose":
        reading = readers.read_mmpose(root, readers.MMPoseConfig())
    elif kind == "bandai":
        if args.captions is not None:
            raise ValueError("--captions is for `data import bvh`; a bandai collection is captioned from its labels "
                             "(--vocabulary FILE words them)")
        cfg = readers.MocapConfig(views=args.views, seed=args.seed, source=args.source or readers.mocap.BANDAI_SOURCE,
                                  vocabulary=args.vocabulary)
        reading = readers.read_bandai(root, cfg)
    else:
        if args.vocabulary is not None:
            raise ValueError("--vocabulary is for `data import bandai`; a BVH folder takes --captions FILE.csv")
        cfg = readers.MocapConfig(views=args.views, seed=args.seed, source=args.source or "mocap",
                                  captions_csv=args.captions)
        reading = readers.read_bvh_folder(root, cfg)
    store, reports = readers.build(reading, Path(args.out), meta={"imported_from": kind}, overwrite=args.overwrite)
    for report in reports:
        print(report.summary())
    print(f"{store.path}\n{len(store)} clips, {store.manifest['num_frames']} frames")
    if len(store) == 0:
        inputs = sum(r.num_inputs for r in reports)
        top = sum((r.reasons() for r in reports), Counter()).most_common(3)
        why = ", ".join(f"{kind} ({n})" for kind, n in top) or "no input found"
        raise ValueError(f"nothing was stored: {inputs} input(s) under {args.root}, all rejected; most common "
                         f"reasons: {why} (every rejection: {store.path / readers.report.REPORT_MD})")
    return 0


def _keyframes(path: str, num_motions: int):
    """The constraints of a --keyframes file (tenderlib.models.constraints: JSON, pixels of --image-size),
    for each of the captions."""
    import json

    from tenderlib.models.constraints import Keyframes

    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"--keyframes {path}: no such file") from None
    except (OSError, ValueError) as err:
        raise ValueError(f"--keyframes {path} is not a readable JSON file: {err}") from None
    try:
        return Keyframes.from_json(body, num_motions)
    except ValueError as err:
        raise ValueError(f"--keyframes {path}: {err}") from None


def _generate(args) -> int:
    import torch

    from tenderlib import export

    from tenderlib.experiments import generation

    from tenderlib.models import pipeline

    if args.checkpoint:
        run = Path(args.checkpoint)
        if not (run / pipeline.PIPELINE_FILE).is_file() and (run.parent / pipeline.PIPELINE_FILE).is_file():
            run = run.parent  # a step_<n> folder: its run
        if not run.exists():
            raise FileNotFoundError(f"--checkpoint {args.checkpoint}: no such folder")
    else:
        run = generation.find_run(profile=args.profile, method=args.model)
    if args.threads:
        torch.set_num_threads(args.threads)
    pipe = pipeline.load_pipeline(run, device=args.device)
    if pipe.method != args.model:
        raise ValueError(f"{run} holds a {pipe.method} model, not {args.model}: pass --model {pipe.method}")
    lengths = None
    if args.seconds is not None or args.frames is not None:
        if args.seconds is not None and args.frames is not None:
            raise ValueError("give --seconds or --frames, not both")
        m = pipe.length_multiple  # --seconds rounds to what the model produces; --frames must be exact
        n = args.frames if args.frames is not None else max(m, round(args.seconds * pipe.fps / m) * m)
        if not 1 <= n <= pipe.max_length:
            raise ValueError(f"{n} frames asked: the model generates 1 to {pipe.max_length} frames "
                             f"(up to {pipe.max_length / pipe.fps:.1f} s at {pipe.fps:g} fps)")
        lengths = [n] * len(args.captions)
    constraints = _keyframes(args.keyframes, len(args.captions)) if args.keyframes else None
    out = pipe.generate(args.captions, lengths, generator=torch.Generator().manual_seed(args.seed), steps=args.steps,
                        eta=args.eta, guidance_scale=args.guidance, image_size=tuple(args.image_size),
                        constraints=constraints)
    stems = [Path(args.out)] if len(out) == 1 else [Path(f"{args.out}_{i}") for i in range(len(out))]
    pose = _pose_config(args) if args.pose_video else None
    for i, stem in enumerate(stems):
        for path in export.write_outputs(out, i, stem, pose=pose):
            print(path)
    return 0


def _pose_config(args):
    from tenderlib.posemap import PoseMapConfig

    return PoseMapConfig(width=args.pose_size[0], height=args.pose_size[1], placement=args.placement)


def _render(args) -> int:
    from tenderlib import export, posemap

    if not (args.pose_video or args.pose_frames or args.motionbert):
        raise ValueError("nothing to write: give --pose-video OUT.mp4, --pose-frames DIR and/or --motionbert OUT.npz")
    for path in (args.pose_video, args.motionbert):
        if path:
            posemap.writable_file(path)  # before anything is read or written
    motion = export.read_motion(args.input, fps=args.fps, image_size=args.image_size)
    cfg = _pose_config(args)
    if args.pose_video:
        written = export.write_pose_video(motion, args.pose_video, cfg, frames_dir=args.pose_frames)
        if args.pose_frames:
            print(f"{args.pose_frames} ({len(written) - 1} frames)")
        print(written[-1])
    elif args.pose_frames:
        frames = posemap.write_png_sequence(posemap.iter_pose_maps(motion, cfg), args.pose_frames)
        print(f"{args.pose_frames} ({len(frames)} frames)")
    if args.motionbert:
        print(export.write_motionbert(motion, args.motionbert))
    return 0


TRAINED_BY = {"vae": "02_vae", "molip": "04_molip", "tender": "03_diffusion"}  # `tender train` kind -> notebook


def parameter(text: str) -> tuple[str, object]:
    """NAME=VALUE, the value read as YAML (as papermill's -y): 8, 0.5, true, [1, 2], "text"."""
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"must be NAME=VALUE (a notebook parameter), got {text!r}")
    try:
        return name.strip(), yaml.safe_load(value)
    except yaml.YAMLError as e:
        raise argparse.ArgumentTypeError(f"{name}: the value {value!r} is not YAML: {e}") from None


def _train(args) -> int:
    """The main run of notebook 02 (vae), 04 (molip) or 03 (tender), as the notebook trains it, under
    the profile's parameters (its parameters cell, params/<profile>/<notebook>.yaml, then -p)."""
    from tenderlib import datasets, distributed, params
    from tenderlib.data.selection import selection
    from tenderlib.experiments import generation, molip_runs, vae_runs

    given = dict(args.param or [])
    if args.store is not None:
        given["store"] = args.store
    values = {**params.notebook_parameters(TRAINED_BY[args.kind], args.profile), **given}
    before = params.snapshot({})
    if args.kind in ("vae", "molip"):  # one model on the training split of the notebook's subset
        configs, load = ((vae_runs.configs, vae_runs.load_or_train) if args.kind == "vae" else
                         (molip_runs.configs, molip_runs.load_or_train_molip))
        run, data, model_cfg, train_cfg, _, study = configs(values, before)
        result = load(model_cfg, train_cfg, datasets.open_store(data), selection(study.subset, "train"), run.profile)
    else:
        result = generation.main_models(generation.configs(values, before))[0]
    if distributed.is_main():
        print(f"{'trained' if result.trained_now else 'loaded'}: {result.run_dir} ({result.step} steps, "
              f"{result.seconds:.0f} s)")
    return 0


# --------------------------------------------------------------------------------------------
# The parser and main


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tender", description="Tender: text-driven 2D whole-body motion (Holistic-Motion2D).")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = p.add_subparsers(dest="command", required=True)
    data = sub.add_parser("data", help="build and inspect packed clip stores").add_subparsers(dest="action", required=True)

    b = data.add_parser("build", help="generate and pack the synthetic Holistic-Motion2D (cached by config)")
    b.add_argument("--num-clips", type=int, default=20_000, help="number of clips (default: 20000, the default profile)")
    b.add_argument("--seed", type=int, default=0, help="dataset seed")
    b.add_argument("--source", action="append", help="restrict to a source (repeatable); default: all ten")
    b.add_argument("--workers", type=int, default=2, help="processes (default: 2)")
    b.add_argument("--rebuild", action="store_true", help="rebuild even if a store of this config exists")
    b.set_defaults(func=_build)

    i = data.add_parser("info", help="per-source statistics and the quality rule of a store")
    i.add_argument("store", help="store folder (e.g. outputs/cache/stores/synthetic-<config hash>-<code hash>)")
    i.set_defaults(func=_info)

    s = data.add_parser("show", help="animate clips of a store to a GIF")
    s.add_argument("store", help="store folder")
    s.add_argument("--index", type=int, nargs="+", default=[0], help="clip indices (default: 0)")
    s.add_argument("--out", type=output_path, default="clip.gif", help="GIF path (default: clip.gif)")
    s.add_argument("--size", type=int_in(16, MAX_GIF_SIZE), default=256,
                   help=f"cell size in pixels, 16 to {MAX_GIF_SIZE} (default: 256)")
    s.set_defaults(func=_show)

    m = data.add_parser("import", help="pack real data into a store; every input is stored or listed in a build report")
    m.add_argument("format", choices=("holistic", "mmpose", "bvh", "bandai"),
                   help="holistic: the Holistic-Motion2D release (kpfiles/, texts/); mmpose: RTMPose/MMPose JSON "
                        "predictions with caption .txt files; bvh: a folder of BVH files with captions (a .txt beside "
                        "each, or --captions); bandai: a motion-capture collection in the Bandai-Namco layout "
                        "(cfg/content_label.txt, cfg/style_label.txt, data/*.bvh + .json), e.g. bandai-namco-1")
    m.add_argument("root", help="folder to read")
    m.add_argument("--out", type=output_path, required=True, help="store folder to write")
    m.add_argument("--views", type=int, default=3, help="motion capture: virtual camera views per clip (default: 3)")
    m.add_argument("--seed", type=int, default=0, help="motion capture: seed of the virtual cameras")
    m.add_argument("--source", help="bvh, bandai: source name of the clips (default: mocap; bandai: mocap-bandai)")
    m.add_argument("--captions", metavar="FILE.csv",
                   help="bvh: captions from a CSV with columns file (the .bvh path relative to ROOT) and caption, "
                        "one caption a row, several rows per file allowed; files it lacks use the .txt beside them, "
                        "else a caption made from the file name")
    m.add_argument("--vocabulary", metavar="FILE",
                   help="bandai: caption phrases per content and style label, on top of the built-in ones "
                        "([contents] 'label: phrase | phrase', [styles] 'label: adjective; manner | manner'; "
                        "format in tenderlib/readers/mocap.py); labels without a phrase get plain wording")
    m.add_argument("--overwrite", action="store_true", help="replace an existing store at --out")
    m.set_defaults(func=_import)

    t = sub.add_parser(
        "train", help="train (or load) the main run of a notebook, on this process or under torchrun",
        description="Train the main run of notebook 02 (vae: the PA-VAE), 04 (molip: the evaluator) or 03 (tender: "
                    "the denoiser on notebook 02's VAE, scored by notebook 04's MoLIP, which must be trained) with "
                    "the parameters the notebook runs with under --profile, or load it when it is finished; the "
                    "notebook, run afterwards, loads the same run. On several processes: launch this command with "
                    "torchrun --nproc_per_node N (and --nnodes, --rdzv-endpoint for several machines) and pass "
                    "-p num_processes=<N x nodes>.")
    t.add_argument("kind", choices=tuple(TRAINED_BY), help="which run: vae (notebook 02), molip (04), tender (03)")
    t.add_argument("--profile", default="default", help="params/PROFILE/ and outputs/PROFILE/ (default: default)")
    t.add_argument("--store", help="a store built by `tender data import` (default: the profile's store parameter, "
                                   "else the embedded synthetic dataset)")
    t.add_argument("-p", "--param", type=parameter, action="append", metavar="NAME=VALUE",
                   help="a notebook parameter, e.g. -p max_steps=100000 -p num_processes=8 (repeatable)")
    t.set_defaults(func=_train)

    g = sub.add_parser(
        "generate", help="text to 2D whole-body motion with a trained Tender model",
        description="Generate 2D whole-body motions (133 COCO-WholeBody keypoints with confidence) from captions "
                    "with a trained Tender model (latent diffusion + PA-VAE decoder). Writes, per caption, "
                    "OUT.json (RTMPose/MMPose prediction layout: frames of instances with keypoints and "
                    "keypoint_scores, in pixels of an --image-size frame), OUT.txt (the caption, which "
                    "`tender data import mmpose` pairs with the JSON), OUT.npz (keypoints (T, 133, 2), "
                    "confidence (T, 133), caption, fps, image_size) and OUT.gif (hands and face enlarged under "
                    "the figure). The model: --checkpoint, else the most recently trained one under "
                    "outputs/<profile>/checkpoints/tender-*/ (every profile, or --profile; a smoke run only when "
                    "no other profile has one); the default profile's is committed with the repository.")
    g.add_argument("captions", nargs="+", help="one or more captions, e.g. \"a person waves with the right hand\"")
    g.add_argument("--out", type=output_path, default="motion",
                   help="output path without suffix; with several captions OUT_0, OUT_1, ... (default: motion)")
    g.add_argument("--seconds", type=positive_float, help="duration (default: drawn from the training clips' lengths)")
    g.add_argument("--frames", type=int, help="duration in frames instead of --seconds")
    g.add_argument("--checkpoint", help="a Tender run folder (outputs/<profile>/checkpoints/tender-<hash>, holding "
                                        "pipeline.json) or one of its step_<n> folders")
    g.add_argument("--model", choices=METHODS, default="tender",
                   help="which method: tender (default) or a baseline of Table 2, mld, mdm, t2m-gpt (notebook 03 "
                        "trains them); the newest run of that method is used unless --checkpoint")
    g.add_argument("--profile", help="look for the model under outputs/PROFILE/ only (e.g. smoke, default)")
    g.add_argument("--seed", type=int_in(0, 2**63 - 1), default=0,
                   help="seed of the noise and of drawn lengths (default: 0)")
    g.add_argument("--steps", type=int, default=50, help="DDIM steps (default: 50)")
    g.add_argument("--guidance", type=non_negative_float, default=None,
                   help="classifier-free guidance scale s >= 0 (default: the one the model was saved with; 1 = no guidance)")
    g.add_argument("--eta", type=non_negative_float, default=0.0,
                   help="DDIM eta (default: 0, deterministic given the seed)")
    g.add_argument("--image-size", type=int_in(1, MAX_IMAGE_SIZE), nargs=2, default=[512, 512], metavar=("W", "H"),
                   help="frame the keypoints are placed in (root at the centre, person ~80%% of the shorter "
                        "side; default: 512 512)")
    g.add_argument("--device", type=torch_device, default="cpu",
                   help="torch device: cpu, cuda, cuda:<n> or mps (default: cpu)")
    g.add_argument("--threads", type=int_in(0, MAX_THREADS), default=0, help="torch CPU threads (0 = torch's default)")
    g.add_argument("--keyframes", metavar="FILE",
                   help="JSON of joints to meet, in pixels of --image-size: {\"keyframes\": [{\"frame\": 0, \"joint\": "
                        "\"right_wrist\", \"x\": 300, \"y\": 180}, ...], \"trajectory\": {\"joint\": \"root\", "
                        "\"points\": [[x, y], ...]}} (either or both; tender and mld only), met by guidance through "
                        "the VAE decoder at every DDIM step")
    g.add_argument("--pose-video", action="store_true",
                   help="also write OUT_pose.mp4: DWPose/ControlNet pose maps (the input of pose-guided video "
                        "models) at the model's frame rate, H.264")
    _pose_options(g)
    g.set_defaults(func=_generate)

    r = sub.add_parser(
        "render", help="a motion file as a pose video for pose-guided video models, or as MotionBERT input",
        description="Read a motion file that `tender generate` writes (OUT.npz, or OUT.json in the RTMPose/MMPose "
                    "layout, with OUT.txt as its caption if present) and write: --pose-video, an H.264 MP4 "
                    "(yuv420p) of DWPose/ControlNet OpenPose-style pose maps (black canvas, OpenPose-18 body, "
                    "DWPose hands and face dots, no feet), the input of ControlNet-openpose, AnimateAnyone and "
                    "UniAnimate (MimicMotion draws a variant); --pose-frames, the same maps as DIR/frame_00000.png, ...; "
                    "--motionbert, MotionBERT's 2D input (H36M-17 x, y, confidence in [-1, 1], windows of up "
                    "to 243 frames) as an .npz with the crop box (see tenderlib/export.py).")
    r.add_argument("input", help="a motion file: .npz (keypoints, confidence, fps, image_size) or mmpose .json")
    r.add_argument("--pose-video", type=output_path, metavar="OUT.mp4", help="pose-map video to write")
    r.add_argument("--pose-frames", type=output_path, metavar="DIR", help="folder for one pose-map PNG a frame")
    r.add_argument("--motionbert", type=output_path, metavar="OUT.npz", help="MotionBERT input to write")
    _pose_options(r)
    r.add_argument("--fps", type=positive_float, help="frame rate of the video (default: the file's; .json: 30)")
    r.add_argument("--image-size", type=int_in(1, MAX_IMAGE_SIZE), nargs=2, metavar=("W", "H"),
                   help="source frame of the keypoints (default: the file's; .json: estimated from the keypoints)")
    r.set_defaults(func=_render)
    return p


def _pose_options(parser) -> None:
    parser.add_argument("--pose-size", type=pose_size, default=(512, 768), metavar="WxH",
                        help="pose-map size in pixels, even (default: 512x768)")
    parser.add_argument("--placement", choices=("fit", "image"), default="fit",
                        help="fit: the person's box over the whole clip fills the pose map less a 10%% margin "
                             "(default); image: the source frame, scaled and centred")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, OSError) as err:  # CheckpointMismatchError is a ValueError, FileNotFoundError an OSError
        print(f"tender: error: {_one_line(err)}", file=sys.stderr)
        return 2


def _one_line(err: Exception) -> str:
    """The error's message on one line; an OSError as '<reason>: <path>'."""
    text = str(err)
    if isinstance(err, OSError) and err.strerror and err.filename:
        text = f"{err.strerror}: {err.filename}"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
