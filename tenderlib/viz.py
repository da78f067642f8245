"""Pictures of 133-keypoint poses, drawn one way everywhere: GIFs, stills and close-ups.

One renderer: PIL.ImageDraw draws into a palette ("P") image, so a GIF needs no colour
quantisation (100 frames at 256 x 256 take a small fraction of a second and the bytes are
identical run to run). The style is DWPose/ControlNet's OpenPose map (reference section 6.2:
OpenPose-18 body limbs as ellipses at 60 % colour, joints in full colour, rainbow hand edges with
blue points, white face points, on black) plus the feet, which DWPose leaves out (`feet=False`
leaves them out too). Hand and face dots keep DWPose's sizes unless the part is small in the
frame, where they shrink so that fingers stay readable.
- `render_frame` / `animate` / `animate_grid`: arrays and GIFs; `animate_grid(closeups=True)`
  adds the hands and face enlarged under each clip, `same_scale=True` draws every clip at one scale.
- `pose_image` / `draw_frame` / `plot_grid`: the same pictures on matplotlib Axes, placed at
  their source pixels (overlays, keyframe markers, stills with close-up panels).
- style="mmpose" (render_frame, animate): mmpose's colours with face contours, for comparison.
- `tenderlib.posemap` draws the OpenPose map for pose-guided video models at DWPose's literal
  pixel sizes and without the feet (`openpose_map_frames`).

A keypoint is visible when its confidence is > `threshold` (0.3 in DWPose and in the paper's
quality rule); links touching a hidden keypoint are not drawn. Pixels: x right, y down.
"""
from __future__ import annotations

import io
import logging
import math
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

from tenderlib.data import skeleton as sk
from tenderlib.data.motion import Motion

logger = logging.getLogger(__name__)

STYLES = ("openpose", "mmpose")
FITS = ("bbox", "image")
PADS = ("loop", "hold")
DEFAULT_FPS = 30.0     # used when the input carries no fps
MAX_GIF_FPS = 50.0     # GIF delays are in 1/100 s and viewers slow down delays below 20 ms
_REF_SIDE = 512.0      # DWPose's stroke sizes are given for a 512-pixel canvas
_TEXT_LEVELS = 16      # grey levels reserved in the palette for anti-aliased captions
_LIMB_DIM = 0.6        # DWPose multiplies the limb layer by 0.6
_ELLIPSE_POINTS = 24   # vertices of a limb ellipse


# ---- Input handling ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Clip:
    keypoints: np.ndarray          # (T, 133, 2) float64
    confidence: np.ndarray         # (T, 133) float64
    fps: float | None
    image_size: tuple[int, int] | None
    caption: str | None


def as_clip(clip, image_size=None) -> _Clip:
    """A Motion, a (keypoints, confidence) pair (confidence may be None) or keypoints alone, checked:
    float64 keypoints (T, 133, 2), confidence (T, 133) (1 where None), fps, image_size, caption."""
    if isinstance(clip, Motion):
        kp, conf, fps = clip.keypoints, clip.confidence, float(clip.fps)
        size, caption = tuple(clip.image_size), (clip.texts[0] if clip.texts else None)
    else:  # (keypoints, confidence) or keypoints alone
        kp, conf = clip if isinstance(clip, (tuple, list)) and len(clip) == 2 else (clip, None)
        fps, size, caption = None, image_size, None
    kp = np.asarray(kp, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (sk.NUM_KEYPOINTS, 2) or kp.shape[0] == 0:
        raise ValueError(f"keypoints must have shape (T>0, {sk.NUM_KEYPOINTS}, 2), got {kp.shape}")
    conf = np.ones(kp.shape[:2]) if conf is None else np.asarray(conf, dtype=np.float64)
    if conf.shape != kp.shape[:2]:
        raise ValueError(f"confidence must have shape {kp.shape[:2]} to match keypoints, got {conf.shape}")
    return _Clip(kp, conf, fps, None if size is None else (int(size[0]), int(size[1])), caption)


def _frame_arrays(keypoints, confidence) -> tuple[np.ndarray, np.ndarray]:
    """One frame: (133, 2) keypoints and (133,) confidence (None: all visible), as float64."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape != (sk.NUM_KEYPOINTS, 2):
        raise ValueError(f"keypoints of one frame must have shape ({sk.NUM_KEYPOINTS}, 2), got {kp.shape}")
    clip = as_clip((kp[None], None if confidence is None else np.asarray(confidence)[None]))
    return clip.keypoints[0], clip.confidence[0]


def _grid_clips(motions, captions, cols, image_size=None) -> tuple[list[_Clip], list, int, int]:
    """Validated clips, captions (default: each Motion's first text), columns and rows."""
    clips = [as_clip(m, image_size) for m in motions]
    if not clips:
        raise ValueError("motions must hold at least one clip")
    if isinstance(cols, bool) or not isinstance(cols, (int, np.integer)) or cols < 1:
        raise ValueError(f"cols must be an int >= 1, got {cols!r}")
    captions = [c.caption for c in clips] if captions is None else list(captions)
    if len(captions) != len(clips):
        raise ValueError(f"captions must have one entry per clip ({len(clips)}), got {len(captions)}")
    cols = min(int(cols), len(clips))
    return clips, captions, cols, math.ceil(len(clips) / cols)


def _visible(kp: np.ndarray, conf: np.ndarray, threshold: float) -> np.ndarray:
    """(..., 133) bool: confidence above threshold and finite coordinates."""
    return (conf > threshold) & np.isfinite(kp).all(-1)


def _check_choice(name: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def _check_size(size) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height) in pixels, got {size!r}") from None
    if w < 8 or h < 8:
        raise ValueError(f"size must be (width, height) with both >= 8 pixels, got {size!r}")
    return w, h


def _fit_transform(kp, vis, size, fit, image_size, margin, scale=None) -> tuple[float, np.ndarray]:
    """Uniform scale and offset mapping source pixels into a canvas of `size` (letterboxed);
    `scale` imposed (pixels per source pixel) centres the box at that scale instead of fitting it."""
    w, h = size
    if fit == "image":
        if image_size is None:
            raise ValueError("fit='image' needs the source image_size (a Motion carries it; pass image_size=)")
        lo, hi, m = np.zeros(2), np.asarray(image_size, dtype=np.float64), 0.0
    else:
        pts = kp[vis]  # (N, 2)
        if len(pts) == 0:
            logger.warning("no keypoint above the confidence threshold; drawing empty frames")
            return 1.0, np.zeros(2)
        lo, hi, m = pts.min(0), pts.max(0), margin
    ext = hi - lo
    ext = np.where(ext > 0, ext, max(ext.max(), 1e-6))  # a single point or a flat line
    if scale is None:
        scale = float(min(w * (1 - 2 * m) / ext[0], h * (1 - 2 * m) / ext[1]))
    offset = np.array([w, h]) / 2.0 - scale * (lo + hi) / 2.0
    return scale, offset


# ---- Palette and drawing layers (PIL) ------------------------------------------------------

def _rgb(color) -> tuple[int, int, int]:
    try:
        rgb = ImageColor.getrgb(color) if isinstance(color, str) else tuple(int(c) for c in color)
    except (ValueError, TypeError):
        rgb = ()
    if len(rgb) < 3:
        raise ValueError(f"background must be a colour name, '#rrggbb' or an (r, g, b) tuple, got {color!r}")
    return rgb[:3]


def _hand_rainbow() -> np.ndarray:
    """(20, 3) uint8: DWPose's hand edge colours, HSV hue = edge / 20 at full saturation."""
    hue = np.arange(len(sk.HAND_LINKS_LOCAL)) / len(sk.HAND_LINKS_LOCAL) * 6.0
    k = (np.array([5.0, 3.0, 1.0])[None, :] + hue[:, None]) % 6.0  # standard HSV -> RGB with s = v = 1
    rgb = 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return np.floor(rgb * 255 + 1e-6).astype(np.uint8)  # truncated like DWPose's cv2 colours


class _Palette:
    """Background at index 0, caption greys at 1..16, then drawing colours by first use."""

    def __init__(self, background):
        self.background = _rgb(background)
        self.foreground = (255, 255, 255) if sum(self.background) / 3 < 128 else (0, 0, 0)
        bg, fg = np.array(self.background, float), np.array(self.foreground, float)
        greys = [tuple(int(v) for v in np.round(bg + (fg - bg) * k / (_TEXT_LEVELS - 1)))
                 for k in range(_TEXT_LEVELS)]
        self.colors: list[tuple[int, int, int]] = [self.background] + greys
        self._index: dict[tuple[int, int, int], int] = {}

    def index(self, colors: np.ndarray) -> np.ndarray:
        """(N, 3) RGB -> (N,) palette indices, adding new colours."""
        out = []
        for c in map(tuple, np.asarray(colors, dtype=np.int64).reshape(-1, 3).tolist()):
            if c not in self._index:
                if len(self.colors) >= 256:
                    raise RuntimeError("more than 256 colours in a GIF palette")
                self._index[c] = len(self.colors)
                self.colors.append(c)
            out.append(self._index[c])
        return np.array(out, dtype=np.int64)

    def flat(self) -> list[int]:  # for Image.putpalette
        return [v for c in self.colors for v in c] + [0] * (3 * (256 - len(self.colors)))


@dataclass(frozen=True)
class _Layer:
    """One kind of PIL draw call over all frames, as plain lists (fast to iterate)."""
    kind: str            # "polygon" | "line" | "dot"
    geometry: list       # (T, N, ...) flat xy list (polygon, line) or box (dot)
    visible: list        # (T, N) bool
    colors: list         # (N,) palette indices
    width: int = 1       # line width


def _layer(kind, geometry: np.ndarray, visible: np.ndarray, colors: np.ndarray, width: int = 1) -> _Layer:
    t, n = visible.shape
    return _Layer(kind, geometry.reshape(t, n, -1).tolist(), visible.tolist(), colors.tolist(), int(width))


def _segments(p: np.ndarray, links: np.ndarray) -> np.ndarray:
    """(T, 133, 2), (L, 2) -> (T, L, 4) x0 y0 x1 y1."""
    return np.concatenate([p[:, links[:, 0]], p[:, links[:, 1]]], -1)


def _dots(p: np.ndarray, r: float) -> np.ndarray:
    """(T, N, 2) centres -> (T, N, 4) boxes."""
    return np.concatenate([p - r, p + r], axis=-1)


def _ellipses(a: np.ndarray, b: np.ndarray, half_width: float) -> np.ndarray:
    """(T, L, 2) end points -> (T, L, K, 2) polygons of DWPose's limb ellipses."""
    mid, d = (a + b) / 2.0, b - a
    half_len = np.linalg.norm(d, axis=-1)[..., None] / 2.0   # (T, L, 1)
    ang = np.arctan2(d[..., 1], d[..., 0])[..., None]        # (T, L, 1)
    phi = np.linspace(0.0, 2 * np.pi, _ELLIPSE_POINTS, endpoint=False)  # (K,)
    u, v = half_len * np.cos(phi), half_width * np.sin(phi)  # (T, L, K)
    x = mid[..., :1] + u * np.cos(ang) - v * np.sin(ang)
    y = mid[..., 1:] + u * np.sin(ang) + v * np.cos(ang)
    return np.stack([x, y], axis=-1)


def _openpose_layers(p, vis, side, pal, feet, literal=False) -> list[_Layer]:
    """DWPose/ControlNet pose map; p (T, 133, 2) canvas pixels, vis (T, 133).

    Stroke sizes are DWPose's pixels scaled by side / 512 with hand and face dots shrunk where
    the part is small (`render_frame`, `animate`), or DWPose's literal pixels with its drawing
    order, each hand's edges then its points (literal=True, `tenderlib.posemap`).
    """
    s = 1.0 if literal else side / _REF_SIDE
    stick, joint_r = max(1.0, 4.0 * s), max(1.5, 4.0 * s)
    kp18, vis18 = sk.coco_to_openpose18(p, vis.astype(np.float64))  # (T, 18, 2), (T, 18)
    vis18 = vis18 > 0.5  # the neck is visible iff both shoulders are
    a, b = sk.OPENPOSE18_LIMBS.T
    limb_colors = sk.OPENPOSE18_COLORS[: len(a)].astype(float)
    layers = [_layer("polygon", _ellipses(kp18[:, a], kp18[:, b], stick), vis18[:, a] & vis18[:, b],
                     pal.index(np.round(limb_colors * _LIMB_DIM)))]
    if feet:  # not drawn by DWPose; coloured like the knee-ankle limb of the same side
        fl = sk.LINKS[np.array(sk.LINK_REGIONS) == "foot"]      # (6, 2) ankle -> toe/heel
        limb_end = sk.OPENPOSE18_FROM_COCO[b]                    # (17,) COCO index each limb ends at
        fc = sk.OPENPOSE18_COLORS[[int(np.flatnonzero(limb_end == i)[0]) for i in fl[:, 0]]].astype(float)
        layers.append(_layer("polygon", _ellipses(p[:, fl[:, 0]], p[:, fl[:, 1]], stick * 0.7),
                             vis[:, fl].all(-1), pal.index(np.round(fc * _LIMB_DIM))))
        layers.append(_layer("dot", _dots(p[:, fl[:, 1]], joint_r * 0.7), vis[:, fl[:, 1]], pal.index(fc)))
    layers.append(_layer("dot", _dots(kp18, joint_r), vis18, pal.index(sk.OPENPOSE18_COLORS)))
    rainbow = pal.index(_hand_rainbow())
    hands = [_layer("line", _segments(p, sk.HAND_LINKS[h]), vis[:, sk.HAND_LINKS[h]].all(-1), rainbow,
                    width=max(1, round(2 * s))) for h in ("left_hand", "right_hand")]
    colors = np.where(sk.REGION_IDS[:, None] == sk.REGION_NAMES.index("face"), 255, [0, 0, 255])  # (133, 3)
    left, right, face = _part_dots(p, vis, s, pal, colors, shrink=not literal)
    if literal:  # DWPose: left hand (edges, points), right hand (edges, points), face
        return layers + [hands[0], left, hands[1], right, face]
    return layers + hands + [left, right, face]


# DWPose's dot radius at 512 px, and its cap as a fraction of the part's size in the frame
_PART_DOTS = (("left_hand", 4.0, 0.04), ("right_hand", 4.0, 0.04), ("face", 3.0, 0.025))


def _part_dots(p, vis, s, pal, colors, shrink=True) -> list[_Layer]:
    """Hand and face dots (radius DWPose's x s), shrunk where the part is small so that fingers
    stay readable unless shrink=False."""
    layers = []
    for region, r_ref, frac in _PART_DOTS:
        idx = np.arange(sk.NUM_KEYPOINTS)[sk.REGIONS[region]]
        r = np.full(p.shape[0], r_ref * s)  # (T,)
        if shrink:
            r = np.minimum(frac * _extent(p[:, idx], vis[:, idx]), r)
        layers.append(_layer("dot", _dots(p[:, idx], r[:, None, None]), vis[:, idx], pal.index(colors[idx])))
    return layers


def _boxes(p: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, N, 2), (T, N) -> (lo, hi) (T, 2) corners of each frame's visible points (inf where none)."""
    return np.where(vis[..., None], p, np.inf).min(1), np.where(vis[..., None], p, -np.inf).max(1)


def _extent(p: np.ndarray, vis: np.ndarray) -> np.ndarray:
    """(T, N, 2), (T, N) -> (T,) largest side of the visible points' box (inf if none)."""
    lo, hi = _boxes(p, vis)
    return np.where(vis.any(1), (hi - lo).max(-1), np.inf)


def _mmpose_layers(p, vis, side, pal) -> list[_Layer]:
    """mmpose colours, thick body, thin hands, face contours; p (T, 133, 2) canvas pixels."""
    s = side / _REF_SIDE
    is_hand = np.isin(np.array(sk.LINK_REGIONS), ["left_hand", "right_hand"])
    white = np.array(pal.foreground)
    face_col = np.tile(np.round((white + np.array(pal.background)) / 2), (len(sk.FACE_LINKS), 1))  # mid grey
    layers = [_layer("line", _segments(p, sk.FACE_LINKS), vis[:, sk.FACE_LINKS].all(-1), pal.index(face_col))]
    for sel, width in ((~is_hand, max(2, round(6 * s))), (is_hand, max(1, round(2 * s)))):
        layers.append(_layer("line", _segments(p, sk.LINKS[sel]), vis[:, sk.LINKS[sel]].all(-1),
                             pal.index(sk.LINK_COLORS[sel]), width=width))
    colors = sk.KEYPOINT_COLORS.astype(np.int64)
    colors[(colors == 255).all(1)] = white  # white points stay visible on light backgrounds
    body = np.arange(sk.REGIONS["foot"].stop)  # body and feet
    layers.append(_layer("dot", _dots(p[:, body], max(1.5, 4.5 * s)), vis[:, body], pal.index(colors[body])))
    return layers + _part_dots(p, vis, s, pal, colors)


def _draw_frames(layers: list[_Layer], num_frames: int, size, pal: _Palette) -> list[Image.Image]:
    """Issue the PIL draw calls; one "P" image per frame."""
    return list(_iter_frames(layers, num_frames, size, pal))


def _iter_frames(layers: list[_Layer], num_frames: int, size, pal: _Palette) -> Iterator[Image.Image]:
    """`_draw_frames` one frame at a time (a long clip at video size need not be held in memory)."""
    flat = pal.flat()
    for t in range(num_frames):
        im = Image.new("P", size, 0)
        im.putpalette(flat)
        draw = ImageDraw.Draw(im)
        for layer in layers:
            geo, vis = layer.geometry[t], layer.visible[t]
            for g, v, c in zip(geo, vis, layer.colors):
                if not v:
                    continue
                if layer.kind == "polygon":
                    draw.polygon(g, fill=c)
                elif layer.kind == "line":
                    draw.line(g, fill=c, width=layer.width)
                elif g[2] - g[0] < 2.0:  # below 1 px radius: a single pixel
                    draw.point(((g[0] + g[2]) / 2, (g[1] + g[3]) / 2), fill=c)
                else:
                    draw.ellipse(g, fill=c)
        yield im


def _style_layers(kp, vis, size, style, pal, feet=True, literal=False, stroke_side=None) -> list[_Layer]:
    """kp (T, 133, 2) canvas pixels, vis (T, 133) -> the drawing layers of `style`; strokes sized
    for a canvas whose shorter side is `stroke_side` (default: this one's)."""
    _check_choice("style", style, STYLES)
    side = min(size) if stroke_side is None else stroke_side
    if style == "openpose":
        return _openpose_layers(kp, vis, side, pal, feet, literal)
    return _mmpose_layers(kp, vis, side, pal)


def _render_clip(kp, vis, size, style, pal, feet=True) -> list[Image.Image]:
    """kp (T, 133, 2) canvas pixels, vis (T, 133) -> T palette images of `size`."""
    return _draw_frames(_style_layers(kp, vis, size, style, pal, feet), kp.shape[0], size, pal)


def render_frame(keypoints, confidence=None, size=(512, 512), threshold: float = 0.3,
                 background="black", style: str = "openpose", image_size=None,
                 feet: bool = True) -> np.ndarray:
    """Draw one pose with PIL; returns (H, W, 3) uint8 RGB.

    keypoints (133, 2) are canvas pixels, or source-image pixels when `image_size` (W, H) is
    given (the image is then scaled uniformly into the canvas and centred). Strokes scale
    with the canvas (DWPose's sizes at 512 px). style: "openpose" (DWPose's map, plus the
    feet unless feet=False) or "mmpose".
    """
    size = _check_size(size)
    kp, conf = _frame_arrays(keypoints, confidence)
    vis = _visible(kp, conf, threshold)[None]  # (1, 133)
    if image_size is not None:
        scale, offset = _fit_transform(kp[None], vis, size, "image", image_size, 0.0)
        kp = kp * scale + offset
    pal = _Palette(background)
    frame = _render_clip(kp[None], vis, size, style, pal, feet)[0]
    return np.asarray(frame.convert("RGB"))


# ---- Captions and GIF writing --------------------------------------------------------------

def _font(width: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=max(9, round(width / 18)))  # Pillow's bundled font


def _wrap(text: str, font, width: int, max_lines: int = 3) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        while lines[-1] and font.getlength(lines[-1] + "...") > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] += "..."
    return lines


def _caption_lines(text: str | None, width: int) -> list[str]:
    return _wrap(text, _font(width), width - 2 * max(2, width // 40)) if text else []


def _caption_strip(lines: list[str], width: int, num_lines: int) -> np.ndarray:
    """(h, width) palette indices of anti-aliased text (greys 1..16), h = 0 without lines."""
    if num_lines == 0:
        return np.zeros((0, width), dtype=np.uint8)
    font, pad = _font(width), max(2, width // 40)
    line_h = round(font.size * 1.25)
    im = Image.new("L", (width, num_lines * line_h + 2 * pad), 0)
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text(((width - font.getlength(line)) / 2, pad + i * line_h), line, fill=255, font=font)
    grey = np.asarray(im, dtype=np.float64)
    return (1 + np.round(grey / 255 * (_TEXT_LEVELS - 1))).astype(np.uint8)  # 1 = background grey


def _save_gif(frames: list[Image.Image], fps: float, path) -> bytes:
    """Encode palette frames (delays follow `fps` on average; GIF stores 1/100 s), write to path."""
    step = max(1, math.ceil(fps / MAX_GIF_FPS - 1e-9))
    if step > 1:
        logger.info("GIF: %.1f fps is above %.0f; keeping every %d-th frame", fps, MAX_GIF_FPS, step)
        frames, fps = frames[::step], fps / step
    ticks = np.round(np.arange(len(frames) + 1) * 100.0 / fps).astype(np.int64)  # centiseconds
    durations = (np.diff(ticks) * 10).tolist()  # ms, multiples of 10
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=durations,
                   loop=0, optimize=False)
    data = buf.getvalue()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
        logger.info("wrote %s (%d bytes)", path, len(data))
    return data


def _check_fps(fps, clip_fps) -> float:
    fps = float(fps if fps is not None else clip_fps if clip_fps is not None else DEFAULT_FPS)
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    return fps


def _clip_layers(clip: _Clip, size, fit, threshold, margin, style, pal, feet, literal=False, *,
                 scale=None) -> list[_Layer]:
    """A whole clip placed in a canvas of `size` (one transform for all frames) -> drawing layers;
    `scale` imposed (`_fit_transform`)."""
    vis = _visible(clip.keypoints, clip.confidence, threshold)  # (T, 133)
    scale, offset = _fit_transform(clip.keypoints, vis, size, fit, clip.image_size, margin, scale)
    kp = clip.keypoints * scale + offset  # (T, 133, 2) canvas pixels
    return _style_layers(np.where(vis[..., None], kp, 0.0), vis, size, style, pal, feet, literal)


# Close-ups: the parts drawn enlarged under a clip, in the order they appear in the image of a
# person facing the camera (their right hand on the image's left); margin of each panel.
CLOSEUPS = ("right_hand", "face", "left_hand")
_CLOSEUP_MARGIN = 0.12
_CLOSEUP_STROKES = 4.0  # close-up strokes as for a canvas this many times the panel's side
_STILL_STROKES = 1.4    # plot_grid: strokes as for a canvas this many times the drawn one (it is shown small)


def _fit_scale(clip: _Clip, size, fit, threshold, margin) -> float:
    """The scale `_fit_transform` gives a clip in a canvas of `size`."""
    vis = _visible(clip.keypoints, clip.confidence, threshold)
    return _fit_transform(clip.keypoints, vis, size, fit, clip.image_size, margin)[0]


def _track(kp: np.ndarray, vis: np.ndarray, side: int, margin: float) -> np.ndarray | None:
    """Canvas pixels (T, 133, 2) of a close-up that follows one part (kp, vis: (T, 133, 2), (T, 133)
    with only that part's keypoints marked visible): each frame centred on the part's box, at one
    scale for the clip (its largest box fills the panel less `margin`); frames where the part is
    hidden keep the nearest visible frame's centre. None when it is never visible."""
    seen = vis.any(1)  # (T,)
    if not seen.any():
        return None
    lo, hi = _boxes(kp, vis)  # (T, 2) each
    scale = side * (1 - 2 * margin) / max(float((hi - lo).max(-1)[seen].max()), 1e-6)
    frames = np.flatnonzero(seen)
    near = frames[np.abs(np.arange(len(seen))[:, None] - frames[None]).argmin(1)]  # (T,) nearest visible frame
    centre = (lo[near] + hi[near]) / 2  # (T, 2)
    return (kp - centre[:, None]) * scale + side / 2.0


def _closeup_frames(clip: _Clip, side: int, threshold, style, pal, feet) -> list[list[Image.Image]]:
    """One list of frames (side x side) per part of CLOSEUPS, each following that part (`_track`);
    a part never visible stays empty."""
    vis = _visible(clip.keypoints, clip.confidence, threshold)  # (T, 133)
    t = clip.keypoints.shape[0]
    out = []
    for region in CLOSEUPS:
        only = np.zeros_like(vis)
        only[:, sk.REGIONS[region]] = vis[:, sk.REGIONS[region]]
        kp = _track(clip.keypoints, only, side, _CLOSEUP_MARGIN)
        if kp is None:
            out.append(_draw_frames([], 1, (side, side), pal) * t)
            continue
        layers = _style_layers(np.where(vis[..., None], kp, 0.0), vis, (side, side), style, pal, feet,
                               stroke_side=_CLOSEUP_STROKES * side)
        out.append(_draw_frames(layers, t, (side, side), pal))
    return out


def openpose_map_frames(clip: _Clip, size, fit: str, threshold: float, margin: float) -> Iterator[np.ndarray]:
    """DWPose's pose map of a clip (`as_clip`) frame by frame, at DWPose's literal pixel sizes and
    without the feet (tenderlib.posemap): (H, W, 3) uint8 RGB arrays on black."""
    pal = _Palette("black")
    layers = _clip_layers(clip, size, fit, threshold, margin, "openpose", pal, feet=False, literal=True)
    lut = np.array(pal.flat(), dtype=np.uint8).reshape(256, 3)  # palette index -> RGB
    for im in _iter_frames(layers, clip.keypoints.shape[0], size, pal):
        yield lut[np.asarray(im)]


def _cell_frames(clip: _Clip, size, fit, threshold, margin, style, pal, feet, scale=None) -> list[Image.Image]:
    layers = _clip_layers(clip, size, fit, threshold, margin, style, pal, feet, scale=scale)
    return _draw_frames(layers, clip.keypoints.shape[0], size, pal)


# ---- Animations ----------------------------------------------------------------------------

def animate(motion_or_arrays, path=None, fps: float | None = None, size=(256, 256), fit: str = "bbox",
            caption: str | None = None, *, threshold: float = 0.3, style: str = "openpose",
            background="black", margin: float = 0.06, image_size=None, feet: bool = True) -> bytes:
    """Animated GIF (loops forever) of one clip; returns the bytes and writes them to `path`.

    motion_or_arrays: a Motion, or (keypoints (T, 133, 2), confidence (T, 133) | None).
    fps: default the Motion's fps (30 for arrays); above 50 fps frames are skipped.
    size: (W, H) of the pose area; a caption adds a strip below it.
    fit: "bbox" scales the person's bounding box over the whole clip (visible keypoints) to
        the canvas with `margin`; "image" shows the whole source frame (needs image_size).
    Consecutive identical frames are merged by the GIF writer (their delays add up).
    """
    return animate_grid([motion_or_arrays], [caption], cols=1, path=path, fps=fps, size=size, fit=fit,
                        threshold=threshold, style=style, background=background, margin=margin,
                        feet=feet, image_size=image_size)


def _compose(template: np.ndarray, cells: list[tuple[Image.Image, int, int]], pal: _Palette) -> Image.Image:
    """Paste palette images into a copy of an (H, W) index array at (x, y)."""
    out = template.copy()
    for im, x, y in cells:
        out[y:y + im.height, x:x + im.width] = np.asarray(im)
    im = Image.frombytes("P", (out.shape[1], out.shape[0]), out.tobytes())
    im.putpalette(pal.flat())
    return im


def animate_grid(motions: Sequence, captions: Sequence[str | None] | None = None, cols: int = 4,
                 path=None, fps: float | None = None, size=(192, 192), fit: str = "bbox", *,
                 threshold: float = 0.3, style: str = "openpose", background="black",
                 margin: float = 0.06, pad: str = "loop", gap: int = 4, feet: bool = True,
                 image_size=None, same_scale: bool = False, closeups: bool = False) -> bytes:
    """Several clips side by side in one GIF; returns the bytes and writes them to `path`.

    Each cell (size (W, H)) is fitted to its own clip; captions (default: each Motion's first
    text; pass a list of None to leave them out) are wrapped under each cell. Shorter clips
    loop (pad="loop") or hold their last frame (pad="hold") until the longest ends.
    fps: default the first clip's fps (30 for arrays). image_size: for array clips with fit="image".
    same_scale: every clip at the scale of the one that needs the smallest (each centred in its
    cell), so sizes compare across cells (truth beside reconstruction).
    closeups: under each cell, the right hand, face and left hand (CLOSEUPS) enlarged in three
    square panels of (W - 2 gap) / 3 pixels, each following its part (one scale per clip).
    """
    _check_choice("fit", fit, FITS)
    _check_choice("pad", pad, PADS)
    size = _check_size(size)
    clips, captions, cols, rows = _grid_clips(motions, captions, cols, image_size)
    fps = _check_fps(fps, clips[0].fps)
    if len({c.fps for c in clips if c.fps is not None}) > 1:
        logger.warning("animate_grid: clips have different fps; all play at %.1f", fps)
    w, h = size
    side = (w - 2 * gap) // 3 if closeups else 0  # close-up panels
    if closeups and side < 8:
        raise ValueError(f"closeups need cells at least {3 * 8 + 2 * gap} pixels wide, got {w}")
    band = side + gap if closeups else 0
    lines = [_caption_lines(c, w) for c in captions]
    strips = [_caption_strip(ln, w, max(map(len, lines))) for ln in lines]
    cell_h = h + band + len(strips[0])
    grid = np.zeros((rows * cell_h + (rows - 1) * gap, cols * w + (cols - 1) * gap), dtype=np.uint8)
    origins = [((i % cols) * (w + gap), (i // cols) * (cell_h + gap)) for i in range(len(clips))]
    for (x, y), strip in zip(origins, strips):
        grid[y + h + band:y + cell_h, x:x + w] = strip
    pal = _Palette(background)
    scale = min(_fit_scale(c, size, fit, threshold, margin) for c in clips) if same_scale else None
    cells = []  # per clip: [(frames, dx, dy), ...] the body, then the close-ups
    for c in clips:
        parts = [(_cell_frames(c, size, fit, threshold, margin, style, pal, feet, scale), 0, 0)]
        if closeups:
            parts += [(f, k * (side + gap), h + gap)
                      for k, f in enumerate(_closeup_frames(c, side, threshold, style, pal, feet))]
        cells.append(parts)
    num_frames = max(len(parts[0][0]) for parts in cells)
    frames = []
    for t in range(num_frames):
        picks = [(f[t % len(f)] if pad == "loop" else f[min(t, len(f) - 1)], x + dx, y + dy)
                 for parts, (x, y) in zip(cells, origins) for f, dx, dy in parts]
        frames.append(_compose(grid, picks, pal))
    return _save_gif(frames, fps, path)


# ---- matplotlib: the same drawing, placed on Axes in source pixels ---------------------------

@dataclass(frozen=True)
class FrameArtists:
    """What draw_frame added to the Axes."""
    image: object        # AxesImage: the pose as drawn by the PIL renderer, transparent elsewhere
    view: tuple          # (x0, y0, x1, y1) the source-pixel window drawn
    border: object       # Rectangle of the image frame, or None


def _check_view(view) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in view)
    except (TypeError, ValueError):
        raise ValueError(f"view must be (x0, y0, x1, y1) in pixels, got {view!r}") from None
    if not (np.isfinite([x0, y0, x1, y1]).all() and x1 > x0 and y1 > y0):
        raise ValueError(f"view must be (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {view!r}")
    return x0, y0, x1, y1


def _box_extent(pts: np.ndarray, margin: float, square: bool = False) -> np.ndarray:
    """(2,) width and height of the window `_box_view` puts around points (N, 2)."""
    if len(pts) == 0:
        return np.ones(2)
    ext = np.maximum(np.ptp(pts, axis=0), 1e-6)
    ext = ext + 2 * margin * ext.max()
    return np.full(2, ext.max()) if square else ext


def _box_view(pts: np.ndarray, margin: float, extent=None, square: bool = False) -> tuple[float, ...]:
    """(x0, y0, x1, y1): a window around points (N, 2), `margin` of their larger side on each side;
    extent (w, h) imposed (the same scale across panels), centred on the points. The unit square
    when there are none."""
    ext = _box_extent(pts, margin, square) if extent is None else np.asarray(extent, dtype=np.float64)
    c = (pts.min(0) + pts.max(0)) / 2 if len(pts) else ext / 2
    return (c[0] - ext[0] / 2, c[1] - ext[1] / 2, c[0] + ext[0] / 2, c[1] + ext[1] / 2)


def _default_view(kp: np.ndarray, conf: np.ndarray, threshold: float, image_size) -> tuple[float, ...]:
    """The window a frame is drawn over: the image when image_size (W, H) is given, else the visible
    keypoints' box with a 6 % margin."""
    if image_size is not None:
        return (0.0, 0.0, float(image_size[0]), float(image_size[1]))
    return _box_view(kp[_visible(kp, conf, threshold)], 0.06)


def pose_image(keypoints, confidence=None, view=None, *, threshold: float = 0.3, resolution: int = 512,
               stroke_side: float | None = None, feet: bool = True, image_size=None) -> np.ndarray:
    """One pose drawn by the PIL renderer (OpenPose map, as the GIFs) over a source-pixel window
    `view` (x0, y0, x1, y1) (default: the image when image_size is given, else the visible
    keypoints' box with a 6 % margin), its longer side `resolution` pixels: (h, w, 4) uint8 RGBA,
    transparent where nothing is drawn. stroke_side: strokes as for a canvas of that side."""
    kp, conf = _frame_arrays(keypoints, confidence)
    vis = _visible(kp, conf, threshold)  # (133,)
    x0, y0, x1, y1 = _check_view(_default_view(kp, conf, threshold, image_size) if view is None else view)
    if not (isinstance(resolution, (int, np.integer)) and resolution >= 8):
        raise ValueError(f"resolution must be an int >= 8, got {resolution!r}")
    span = max(x1 - x0, y1 - y0)
    w, h = max(8, round(resolution * (x1 - x0) / span)), max(8, round(resolution * (y1 - y0) / span))
    p = (kp - [x0, y0]) * [w / (x1 - x0), h / (y1 - y0)]  # (133, 2) canvas pixels
    pal = _Palette("black")
    layers = _style_layers(np.where(vis[:, None], p, 0.0)[None], vis[None], (w, h), "openpose", pal, feet,
                           stroke_side=stroke_side)
    index = np.asarray(_draw_frames(layers, 1, (w, h), pal)[0])  # (h, w) palette indices
    lut = np.array(pal.flat(), dtype=np.uint8).reshape(256, 3)
    return np.concatenate([lut[index], np.where(index > 0, 255, 0).astype(np.uint8)[..., None]], -1)


def draw_frame(ax, keypoints, confidence=None, threshold: float = 0.3, image_size=None, *,
               alpha: float = 1.0, view=None, resolution: int = 512, stroke_side: float | None = None,
               feet: bool = True, background="black", border: bool = True,
               set_limits: bool = True) -> FrameArtists:
    """Draw one pose (133, 2) in image pixels on a matplotlib Axes, as the GIFs draw it.

    The pose is drawn by `pose_image` (the OpenPose map: OpenPose-18 limbs, the feet, rainbow
    hand edges with blue points, white face dots; hidden keypoints (confidence <= threshold)
    and the links touching them left out) and placed on the Axes at its source pixels over the
    window `view` (default: the image when image_size (W, H) is given, else the visible
    keypoints' box). The Axes gets the `background` colour; with image_size and `border`, a
    dashed frame of the image; set_limits: the limits are the image, or the view. y points
    down, the aspect is equal. Several calls overlay (alpha for fading).
    """
    from matplotlib.patches import Rectangle

    kp, conf = _frame_arrays(keypoints, confidence)
    x0, y0, x1, y1 = _check_view(_default_view(kp, conf, threshold, image_size) if view is None else view)
    rgba = pose_image(kp, conf, (x0, y0, x1, y1), threshold=threshold, resolution=resolution,
                      stroke_side=stroke_side, feet=feet)
    limits = (ax.get_xlim(), ax.get_ylim())
    ax.set_facecolor(background)
    image = ax.imshow(rgba, extent=(x0, x1, y1, y0), alpha=alpha, interpolation="antialiased", zorder=2)
    rect = None
    if image_size is not None and border:
        rect = Rectangle((0, 0), image_size[0], image_size[1], fill=False, edgecolor="0.5",
                         linewidth=0.8, linestyle="--", zorder=1)
        ax.add_patch(rect)
    if set_limits:
        xlim, ylim = ((0, image_size[0]), (image_size[1], 0)) if image_size is not None else ((x0, x1), (y1, y0))
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
    elif len(ax.images) > 1:  # the caller's limits stand
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
    if not ax.yaxis_inverted():
        ax.invert_yaxis()
    ax.set_aspect("equal")
    return FrameArtists(image, (x0, y0, x1, y1), rect)


def plot_grid(motions: Sequence, frame_index: int | None = None, captions: Sequence[str | None] | None = None,
              cols: int = 4, *, num_overlay: int = 5, layout: str = "overlay", threshold: float = 0.3,
              cell_size=(2.4, 3.2), background="black", margin: float = 0.06, same_scale: bool = False,
              closeups: bool = False):
    """A still of several clips, drawn as the GIFs are; returns the matplotlib Figure (not shown).

    frame_index: one frame of every clip (negative counts from the end); None shows
    `num_overlay` frames evenly spaced over each clip, as an overlay with fading alpha (the
    last frame opaque; layout="overlay") or side by side (layout="filmstrip").
    captions: default each Motion's first text; wrapped under the clip as the Axes title.
    same_scale: every cell at the scale of the largest clip (truth beside reconstruction).
    closeups: under each cell, the right hand, face and left hand (CLOSEUPS) of the last frame
    shown, enlarged.
    """
    import matplotlib.pyplot as plt

    _check_choice("layout", layout, ("overlay", "filmstrip"))
    clips, captions, cols, rows = _grid_clips(motions, captions, cols)
    if frame_index is None and num_overlay < 1:
        raise ValueError(f"num_overlay must be >= 1, got {num_overlay}")
    strip = layout == "filmstrip" and frame_index is None
    width = cell_size[0] * (num_overlay if strip else 1)
    shown = []  # per clip: (keypoints (F, 133, 2), confidence (F, 133)) as drawn
    for clip in clips:
        t_total = clip.keypoints.shape[0]
        if frame_index is not None:
            if not -t_total <= frame_index < t_total:
                raise ValueError(f"frame_index {frame_index} is out of range for a clip of {t_total} frames")
            frames = np.array([frame_index % t_total])
        else:
            frames = np.unique(np.round(np.linspace(0, t_total - 1, num_overlay)).astype(np.int64))
        kp, conf = clip.keypoints[frames], clip.confidence[frames]  # (F, 133, 2), (F, 133)
        vis = _visible(kp, conf, threshold)
        if strip and len(frames) > 1 and vis.any():
            span = np.ptp(kp[vis][:, 0]) * 1.15
            kp = kp + np.arange(len(frames))[:, None, None] * np.array([span, 0.0])
        shown.append((kp, conf))
    boxes = [kp[_visible(kp, conf, threshold)] for kp, conf in shown]  # (N, 2) visible points of each cell
    extent = np.max([_box_extent(b, margin) for b in boxes], axis=0) if same_scale else None
    heights = [cell_size[1], cell_size[1] * 0.42] if closeups else [cell_size[1]]
    fig = plt.figure(figsize=(width * cols, sum(heights) * rows))
    grid = fig.add_gridspec(rows * len(heights), cols, height_ratios=heights * rows)
    for i, ((kp, conf), box, caption) in enumerate(zip(shown, boxes, captions)):
        r, c = divmod(i, cols)
        ax = fig.add_subplot(grid[r * len(heights), c])
        alphas = np.linspace(0.2, 1.0, len(kp)) if layout == "overlay" else np.ones(len(kp))
        view = _box_view(box, margin, extent)
        for frame_kp, frame_conf, a in zip(kp, conf, alphas):
            draw_frame(ax, frame_kp, frame_conf, threshold, alpha=float(a), view=view, background=background,
                       resolution=512 * (num_overlay if strip else 1), stroke_side=_STILL_STROKES * 512)
        ax.set(xticks=[], yticks=[])
        if caption:
            ax.set_title(textwrap.fill(caption, max(12, int(width * 9))), fontsize=8)
        if closeups:
            sub = grid[r * len(heights) + 1, c].subgridspec(1, len(CLOSEUPS), wspace=0.05)
            for k, region in enumerate(CLOSEUPS):
                cax = fig.add_subplot(sub[0, k])
                cax.set(xticks=[], yticks=[])
                cax.set_title(region.replace("_", " "), fontsize=6, pad=2)
                part = kp[-1, sk.REGIONS[region]][_visible(kp[-1], conf[-1], threshold)[sk.REGIONS[region]]]
                cax.set_facecolor(background)
                if len(part):  # the last frame shown (the opaque one), centred on the part
                    draw_frame(cax, kp[-1], conf[-1], threshold, resolution=256, background=background,
                               view=_box_view(part, _CLOSEUP_MARGIN, square=True),
                               stroke_side=256 * _CLOSEUP_STROKES)
                else:
                    cax.set(xlim=(0, 1), ylim=(1, 0), aspect="equal")
                    cax.text(0.5, 0.5, "not visible", color="0.6", fontsize=6, ha="center", va="center")
    fig.tight_layout()
    return fig
