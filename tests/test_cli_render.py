"""`tender render`: a motion file (.npz or mmpose .json, as `tender generate` writes them) as a pose
video, PNG frames and MotionBERT input; one-line errors for what cannot be read or written."""
from __future__ import annotations

import json

import numpy as np
import pytest

from test_cli import fails
from test_posemap import walking_right
from tenderlib import cli, export, posemap


@pytest.fixture
def npz(tmp_path):
    """A 6-frame motion at 10 fps in a 1920 x 1080 frame, saved as `tender generate` saves it."""
    m = walking_right(6)
    path = tmp_path / "walk.npz"
    np.savez(path, keypoints=m.keypoints, confidence=m.confidence, caption=np.array(m.texts[0]),
             fps=np.array(m.fps), image_size=np.array(m.image_size))
    return path


def test_render_npz_to_video_frames_and_motionbert(npz, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["render", str(npz), "--pose-video", str(out / "walk.mp4"), "--pose-frames", str(out / "frames"),
                     "--pose-size", "64x96", "--motionbert", str(out / "walk_mb.npz")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [f"{out / 'frames'} (6 frames)", str(out / "walk.mp4"), str(out / "walk_mb.npz")]
    frames, fps = posemap.read_mp4(out / "walk.mp4")
    assert frames.shape == (6, 96, 64, 3) and fps == pytest.approx(10.0)
    assert sorted(p.name for p in (out / "frames").iterdir()) == [f"frame_{t:05d}.png" for t in range(6)]
    z = np.load(out / "walk_mb.npz")
    assert z["windows"].shape == (1, 6, 17, 3) and list(z["lengths"]) == [6]
    # the same maps as the library draws
    m = export.read_motion(npz)
    assert (m.fps, m.image_size, m.texts) == (10.0, (1920, 1080), ["a person walks"])
    drawn = posemap.pose_maps(m, posemap.PoseMapConfig(width=64, height=96))
    assert np.abs(frames.astype(int) - drawn).mean() < 8


def test_render_mmpose_json_with_placement_and_fps(npz, tmp_path, capsys):
    m = export.read_motion(npz)
    path = tmp_path / "walk.json"
    path.write_text(json.dumps(export.mmpose_frames(m.keypoints, m.confidence)))
    video = tmp_path / "walk.mp4"
    assert cli.main(["render", str(path), "--pose-video", str(video), "--pose-size", "96x64", "--placement", "image",
                     "--image-size", "1920", "1080", "--fps", "25"]) == 0
    assert capsys.readouterr().out.splitlines() == [str(video)]
    frames, fps = posemap.read_mp4(video)
    assert frames.shape == (6, 64, 96, 3) and fps == pytest.approx(25.0)
    m_json = export.read_motion(path, image_size=(1920, 1080))
    assert m_json.texts == ["walk"] and m_json.fps == 30.0      # no caption file, no frame rate in the JSON
    np.testing.assert_allclose(m_json.keypoints, m.keypoints, atol=1e-3)


def test_frames_only(npz, tmp_path, capsys):
    assert cli.main(["render", str(npz), "--pose-frames", str(tmp_path / "f"), "--pose-size", "32x32"]) == 0
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'f'} (6 frames)"
    assert len(list((tmp_path / "f").glob("*.png"))) == 6


@pytest.mark.parametrize("args, message", [
    ([], "nothing to write: give --pose-video OUT.mp4, --pose-frames DIR and/or --motionbert OUT.npz"),
    (["--pose-video", "{tmp}/a.mp4", "--pose-size", "511x512"], "argument --pose-size: width must be an even int"),
    (["--pose-video", "{tmp}/a.mp4", "--pose-size", "0x0"], "argument --pose-size: width must be an even int in [8, 8192]"),
    (["--pose-video", "{tmp}/a.mp4", "--pose-size", "big"], "argument --pose-size: must be WxH in pixels, e.g. 512x768, got 'big'"),
    (["--pose-video", "{tmp}/a.mp4", "--placement", "centre"], "argument --placement: invalid choice: 'centre'"),
    (["--pose-video", "{npz}/a.mp4"], "argument --pose-video: cannot write '{npz}/a.mp4': '{npz}' is a file, not a folder"),
    (["--pose-video", "{tmp}"], "cannot write '{tmp}': it is a folder"),
    (["--pose-video", "{tmp}/a.mp4", "--fps", "0"], "argument --fps: must be a finite number > 0, got '0'"),
])
def test_errors_are_one_line(npz, tmp_path, capsys, args, message):
    err = fails(["render", str(npz), *[a.format(tmp=tmp_path, npz=npz) for a in args]], capsys)
    assert message.format(tmp=tmp_path, npz=npz) in err
    assert not (tmp_path / "a.mp4").exists()


def test_unreadable_inputs(tmp_path, capsys):
    assert "no such motion file" in fails(["render", str(tmp_path / "none.npz"), "--pose-video",
                                           str(tmp_path / "a.mp4")], capsys)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert f"cannot read '{bad}' as an .npz archive" in fails(["render", str(bad), "--pose-video",
                                                              str(tmp_path / "a.mp4")], capsys)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    assert "lacks keypoints and confidence" in fails(["render", str(tmp_path / "other.npz"), "--motionbert",
                                                      str(tmp_path / "m.npz")], capsys)
    (tmp_path / "w.gif").write_bytes(b"GIF89a")
    assert "must be .npz or .json" in fails(["render", str(tmp_path / "w.gif"), "--pose-video",
                                             str(tmp_path / "a.mp4")], capsys)
