"""The `tender` command line: build, info, show, and clear errors."""
import pytest

from tenderlib import cli


def test_build_info_show(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TENDER_ROOT", str(tmp_path))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "tenderlib"\n')
    assert cli.main(["data", "build", "--num-clips", "6", "--workers", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    store = out[0]
    assert out[1].startswith("6 clips")
    assert cli.main(["data", "info", store]) == 0
    out = capsys.readouterr().out
    assert "kept_share" in out and "dataset" in out
    gif = tmp_path / "c.gif"
    assert cli.main(["data", "show", store, "--index", "0", "1", "--out", str(gif), "--size", "64"]) == 0
    assert gif.read_bytes()[:6] == b"GIF89a"


def test_errors_are_reported_not_raised(tmp_path, capsys):
    assert cli.main(["data", "info", str(tmp_path / "missing")]) == 2
    assert "error" in capsys.readouterr().err
    assert cli.main(["data", "build", "--num-clips", "-1"]) == 2
    assert "num_clips" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["data", "frobnicate"])


def test_import_bvh_folder_with_report(tmp_path, capsys):
    from test_readers_mocap import _folder, _walker

    root = _folder(tmp_path, [("walker", _walker(), "a person glides forward\n"), ("silent", _walker(), None),
                              ("broken", "HIERARCHY\nROOT Hips\n{\n", "a broken file\n")])
    out = tmp_path / "store"
    assert cli.main(["data", "import", "bvh", str(root), "--out", str(out), "--views", "2"]) == 0
    text = capsys.readouterr().out
    assert "2 clips" in text                                   # walker x 2 views; the other two are in the report
    assert "'rejected': 2" in text and (out / "build_report.md").is_file()
