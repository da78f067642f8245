"""Pictures of lifted 3D poses (body and feet, tenderlib.models.lifter): matplotlib 3D stills and GIFs.

    fig = plot_poses_3d([points, ...], titles)         # (T, 23, 3) camera-space metres; one frame each
    gif = animate_3d([points, ...], titles, path, fps)  # every frame, side by side, as GIF bytes

Camera space is x right, y down, z forward (away from the camera); the plots show x across, z into
the picture and -y up, so the person stands upright as the camera saw them. Links and colours are
mmpose's (tenderlib.data.skeleton: left side green, right side orange, midline blue).
"""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tenderlib.data import skeleton as sk

JOINTS = sk.REGIONS["foot"].stop  # 23
_KEEP = (sk.LINKS < JOINTS).all(1)
LINKS = sk.LINKS[_KEEP]  # (L, 2) body and foot links
COLORS = sk.LINK_COLORS[_KEEP] / 255.0  # (L, 3)


def _check(clips) -> list[np.ndarray]:
    out = [np.asarray(c, dtype=np.float64) for c in clips]
    if not out:
        raise ValueError("give at least one clip of 3D poses")
    for c in out:
        if c.ndim != 3 or c.shape[1:] != (JOINTS, 3) or len(c) == 0:
            raise ValueError(f"3D poses must have shape (T>0, {JOINTS}, 3), got {c.shape}")
    return out


def _axes(fig, n: int, clips: list[np.ndarray], titles):
    """n 3D axes with one cube-shaped box that holds every clip (the same scale in each)."""
    pts = np.concatenate([c.reshape(-1, 3) for c in clips])
    mid, half = (pts.max(0) + pts.min(0)) / 2, (pts.max(0) - pts.min(0)).max() / 2 + 0.05
    axes = []
    for i in range(n):
        ax = fig.add_subplot(1, n, i + 1, projection="3d")
        ax.set_xlim(mid[0] - half, mid[0] + half)
        ax.set_ylim(mid[2] - half, mid[2] + half)
        ax.set_zlim(-mid[1] - half, -mid[1] + half)
        ax.set_xlabel("x (m)")
        ax.set_ylabel("depth (m)")
        ax.set_zlabel("up (m)")
        ax.view_init(elev=12, azim=-70)
        if titles is not None and titles[i]:
            ax.set_title(titles[i], fontsize=8)
        axes.append(ax)
    return axes


def _lines(ax, p: np.ndarray) -> list:
    return [ax.plot(*_plotted(p[[a, b]]), color=c, lw=2)[0] for (a, b), c in zip(LINKS, COLORS)]


def _plotted(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return p[:, 0], p[:, 2], -p[:, 1]  # x across, depth into the picture, up


def plot_poses_3d(clips: Sequence, titles: Sequence[str | None] | None = None, frame: int | None = None):
    """One frame (default: the middle) of each clip side by side; returns the figure."""
    import matplotlib.pyplot as plt

    clips = _check(clips)
    fig = plt.figure(figsize=(3.2 * len(clips), 3.4))
    for ax, c in zip(_axes(fig, len(clips), clips, titles), clips):
        _lines(ax, c[len(c) // 2 if frame is None else min(frame, len(c) - 1)])
    fig.tight_layout()
    return fig


def animate_3d(clips: Sequence, titles: Sequence[str | None] | None = None, path=None, fps: float = 15.0,
               size_inches: float = 2.6, dpi: int = 64, stride: int = 1) -> bytes:
    """Every `stride`-th frame of each clip side by side (shorter clips hold their last frame) as a
    looping GIF at fps / stride; returns the bytes and writes them to `path`."""
    import matplotlib.pyplot as plt
    from matplotlib import animation

    clips = _check(clips)
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be > 0, got {fps!r}")
    if not (isinstance(stride, int) and stride >= 1):
        raise ValueError(f"stride must be an int >= 1, got {stride!r}")
    fig = plt.figure(figsize=(size_inches * len(clips), size_inches + 0.3), dpi=dpi)
    axes = _axes(fig, len(clips), clips, titles)
    lines = [_lines(ax, c[0]) for ax, c in zip(axes, clips)]
    fig.tight_layout()

    def draw(t: int):
        for ls, c in zip(lines, clips):
            p = c[min(t, len(c) - 1)]
            for line, (a, b) in zip(ls, LINKS):
                x, y, z = _plotted(p[[a, b]])
                line.set_data_3d(x, y, z)
        return [line for ls in lines for line in ls]

    anim = animation.FuncAnimation(fig, draw, frames=range(0, max(len(c) for c in clips), stride), blit=False)
    with tempfile.TemporaryDirectory() as tmp:  # PillowWriter writes to a file
        out = Path(tmp) / "anim.gif"
        anim.save(out, writer=animation.PillowWriter(fps=fps / stride), dpi=dpi)
        data = out.read_bytes()
    plt.close(fig)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    return data
