"""The `tender` command line: build, info, show, and clear errors."""
import numpy as np
import pytest

from tenderlib import cli


def fails(argv, capsys) -> str:
    """Run `tender argv`, which must fail as a user error: exit code 2 and one line on stderr,
    `tender: error: ...`, no traceback. Returns that line."""
    try:
        code = cli.main(argv)
    except SystemExit as exit:  # argparse's errors
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("tender: error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """(a store of 3 clips, an empty store, a plain file)."""
    from tenderlib.data.store import build_store
    from test_training import motion

    root = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    (root / "file").write_text("not a folder\n")
    return (build_store([motion(rng, i) for i in range(3)], root / "three"), build_store([], root / "empty"),
            root / "file")


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
    assert "4 clips" in text                                   # walker and silent (caption from its name) x 2 views
    assert "'rejected': 1" in text and (out / "build_report.md").is_file()


def test_an_import_that_stores_nothing_fails_with_the_reasons(tmp_path, capsys):
    from test_readers_mocap import _folder

    root = _folder(tmp_path, [("a", "HIERARCHY\nROOT Hips\n{\n", "a broken file\n"),
                              ("b", "not a bvh at all\n", "another\n")])
    out = tmp_path / "store"
    err = fails(["data", "import", "bvh", str(root), "--out", str(out)], capsys)
    assert "nothing was stored: 2 input(s)" in err and "bvh-motion (2)" in err and "build_report.md" in err
    assert (out / "build_report.md").is_file()  # the report is kept to read


@pytest.mark.parametrize("argv, message", [
    (["show", "{three}", "--index", "3"], "--index 3 out of range: store {three} holds 3 clip(s), indices 0 to 2"),
    (["show", "{three}", "--index", "0", "-4", "7"], "--index -4 7 out of range"),
    (["show", "{empty}"], "store {empty} holds no clip: nothing to show"),
    (["show", "{three}", "--size", "100000"], "argument --size: must be an int in [16, 1024], got '100000'"),
    (["show", "{three}", "--size", "0"], "argument --size: must be an int in [16, 1024]"),
    (["show", "{three}", "--out", ""], "argument --out: must be a path ending in a name, got ''"),
    (["show", "{three}", "--out", "."], "argument --out: must be a path ending in a name, got '.'"),
    (["show", "{three}", "--out", "{file}/clip.gif"], "is a file, not a folder"),
    (["show", "{three}", "--out", "{file}/deeper/clip.gif"], "is a file, not a folder"),
    (["show", "{three}", "--index", "one"], "argument --index: invalid int value: 'one'"),
    (["import", "bvh", "{three}", "--out", ""], "argument --out: must be a path ending in a name"),
    (["import", "bvh", "{three}", "--out", "{three}"], "--out {three} already exists; pass --overwrite to replace"),
    (["info", "{file}"], "not a folder"),
    (["info", "{empty}"], "store {empty} holds no clip (its build_report.md says why)"),
])
def test_data_user_errors_are_one_line(stores, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)  # where the default --out would be written
    names = dict(three=stores[0].path, empty=stores[1].path, file=stores[2])
    err = fails(["data", *[a.format(**names) for a in argv]], capsys)
    assert message.format(**names) in err
    assert "overwrite=True" not in err
    assert not (tmp_path / "clip.gif").exists()


def test_train_runs_a_notebooks_main_run_then_loads_it(tmp_path, monkeypatch, capsys):
    """`tender train vae` trains notebook 02's main run (here on an imported store, a few steps) and a
    second call loads it; bad -p values and a store that is not one are one-line errors."""
    from test_readers_mocap import _folder, _walker

    root = _folder(tmp_path, [(f"take{k}", _walker(frames=70, step=0.01 * (k + 1)), f"a person walks {k}\n")
                              for k in range(12)])
    assert cli.main(["data", "import", "bvh", str(root), "--out", str(tmp_path / "store"), "--views", "2"]) == 0
    monkeypatch.setenv("TENDER_OUTPUTS", str(tmp_path / "outputs"))
    argv = ["train", "vae", "--profile", "smoke", "--store", str(tmp_path / "store"), "-p", "subset=D1",
            "-p", "max_steps=2", "-p", "batch_size=4", "-p", "latent_dim=8", "-p", "num_layers=1"]
    capsys.readouterr()
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    assert first.startswith("trained: ") and "(2 steps" in first
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.startswith("loaded: " + first.split()[1])
    assert "max_step" in fails(argv + ["-p", "max_step=3"], capsys)  # a typo: named, with the allowed names
    assert "NAME=VALUE" in fails(["train", "vae", "-p", "max_steps"], capsys)
    assert "is not a folder" in fails(["train", "vae", "--store", str(tmp_path / "nowhere")], capsys)
