"""Motion capture from any collection: the Bandai-Namco layout with another prefix and other labels,
a user's caption vocabulary, plain captions for unknown labels, and captions from a CSV."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_readers_bvh import humanoid_bvh

from tenderlib import cli
from tenderlib.data.store import Store
from tenderlib.readers import MocapConfig, build, read_bandai, read_bvh_folder
from tenderlib.readers.mocap import (BUILTIN, Vocabulary, _rng, bandai_captions, collection_labels, label_captions,
                                     name_caption, read_caption_csv)

BANDAI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bandai-namco-1"

PREFIX = "motion_set-2_"  # a prefix that itself holds a '_'
CONTENTS = ["walk", "stagger", "raise-up-both-hands"]
STYLES = ["happy", "sneaky", "elated"]
CLIPS = {  # clip name -> (content index, style index) in its JSON; None: no JSON (labels from the name)
    f"{PREFIX}walk_happy_001": (0, 0),
    f"{PREFIX}stagger_sneaky_001": (1, 1),
    f"{PREFIX}raise-up-both-hands_elated_002": (2, 2),
    f"{PREFIX}stagger_happy_003": None,
}
VOCABULARY = """\
# phrases for this collection's labels
[contents]
stagger: staggers | lurches forward
walk: strolls along

[styles]
sneaky: -; sneakily | on tiptoe
"""
PLAIN_NOTE = "plain wording from the label"


def _collection(tmp_path) -> Path:
    root = tmp_path / "set-2"
    (root / "cfg").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "cfg" / "content_label.txt").write_text("".join(f"{PREFIX}{c}\n" for c in CONTENTS))
    (root / "cfg" / "style_label.txt").write_text("".join(f"{PREFIX}{s}\n" for s in STYLES))
    for name, labels in CLIPS.items():
        (root / "data" / f"{name}.bvh").write_text(humanoid_bvh(frames=8))
        if labels is not None:
            (root / "data" / f"{name}.json").write_text(json.dumps({"content": labels[0], "style": labels[1]}))
    return root


def _check_collection_captions(texts: dict[str, list[str]], n: int):
    """texts: clip name -> captions, as read with VOCABULARY on top of the built-in vocabulary."""
    assert set(texts) == set(CLIPS)
    assert all(len(t) == len(set(t)) == n for t in texts.values())
    walk = texts[f"{PREFIX}walk_happy_001"]  # the file replaces the built-in 'walk', the built-in 'happy' stays
    assert all("strolls along" in t for t in walk)
    assert all(any(w in t for w in ("happy", "happily", "cheerfully")) for t in walk)
    sneaky = texts[f"{PREFIX}stagger_sneaky_001"]  # both from the file; 'sneaky' has manners, no adjective
    assert all(("staggers" in t or "lurches forward" in t) and ("sneakily" in t or "on tiptoe" in t) for t in sneaky)
    assert not any("neutral" in t or "'" in t for t in sneaky)
    plain = texts[f"{PREFIX}raise-up-both-hands_elated_002"]  # neither label known: plain wording
    assert all("the motion 'raise up both hands'" in t and "'elated' style" in t for t in plain)
    from_name = texts[f"{PREFIX}stagger_happy_003"]
    assert all("staggers" in t or "lurches forward" in t for t in from_name)


def test_another_collection_in_the_bandai_layout_is_stored_and_captioned(tmp_path):
    root = _collection(tmp_path)
    assert collection_labels(root) == (CONTENTS, STYLES, PREFIX)
    (tmp_path / "vocabulary.txt").write_text(VOCABULARY)
    cfg = MocapConfig(source="mocap-set2", views=2, captions=3, vocabulary=str(tmp_path / "vocabulary.txt"))
    reading = read_bandai(root, cfg)
    store, (report,) = build(reading, tmp_path / "store")
    assert report.num_inputs == report.num_accepted == 4 and report.num_rejected == 0 and report.unmatched == []
    assert len(store) == 8 and store.sources == ("mocap-set2",)
    clips = [store.clip(i) for i in range(len(store))]
    texts = {m.labels["take"]: m.texts for m in clips}
    _check_collection_captions(texts, 3)
    labels = {m.labels["take"]: (m.labels["action"], m.labels["style"]) for m in clips}
    assert labels == {f"{PREFIX}walk_happy_001": ("walk", "happy"), f"{PREFIX}stagger_sneaky_001": ("stagger", "sneaky"),
                      f"{PREFIX}raise-up-both-hands_elated_002": ("raise-up-both-hands", "elated"),
                      f"{PREFIX}stagger_happy_003": ("stagger", "happy")}  # the last from its name (no JSON)
    # the views of a clip share its captions; the captions are the seeded ones of label_captions
    vocab = cfg.vocabulary_table()
    for m in clips:
        content, style = m.labels["action"], m.labels["style"]
        assert m.texts == label_captions(content, style, _rng(0, m.labels["take"]), 3, vocab)[0]
    # the build report notes the labels without a phrase, on the clip that has them only
    notes = {Path(p).stem: n for p, n in report.notes}
    assert set(notes) == {f"{PREFIX}raise-up-both-hands_elated_002"}
    assert "content 'raise-up-both-hands', style 'elated'" in notes[f"{PREFIX}raise-up-both-hands_elated_002"]
    assert PLAIN_NOTE in (store.path / "build_report.md").read_text()


def test_without_a_vocabulary_file_unknown_labels_are_worded_plainly(tmp_path):
    root = _collection(tmp_path)
    reading = read_bandai(root, MocapConfig(views=1, captions=2))
    ms = {m.labels["take"]: m for m in reading}
    assert len(ms) == 4 and reading.report.num_rejected == 0
    assert all("walks" in t or "takes a walk" in t for t in ms[f"{PREFIX}walk_happy_001"].texts)  # built-in
    for t in ms[f"{PREFIX}stagger_sneaky_001"].texts:
        assert "the motion 'stagger'" in t and "'sneaky' style" in t
    noted = sorted(Path(p).stem for p, n in reading.report.notes if PLAIN_NOTE in n)
    assert noted == sorted(n for n in CLIPS if "walk_happy" not in n)


def test_bandai_import_through_the_cli(tmp_path, capsys):
    root = _collection(tmp_path)
    (tmp_path / "vocabulary.txt").write_text(VOCABULARY)
    out = tmp_path / "store"
    assert cli.main(["data", "import", "bandai", str(root), "--out", str(out), "--views", "1",
                     "--vocabulary", str(tmp_path / "vocabulary.txt"), "--source", "mocap-set2"]) == 0
    assert "4 clips" in capsys.readouterr().out
    store = Store(out)
    assert store.sources == ("mocap-set2",)
    _check_collection_captions({store.clip(i).labels["take"]: store.clip(i).texts for i in range(len(store))}, 4)


def test_bvh_folder_captions_from_a_csv(tmp_path, capsys):
    root = tmp_path / "bvh"
    (root / "sub").mkdir(parents=True)
    for name in ("sub/jump_high_02", "spin", "plain_wave-03", "side"):
        (root / f"{name}.bvh").write_text(humanoid_bvh(frames=8))
    (root / "side.txt").write_text("a person steps aside\n")      # no row in the CSV: the .txt is read
    (root / "spin.txt").write_text("ignored: the CSV has spin\n")  # a row in the CSV: the .txt is not used
    table = root / "captions.csv"
    table.write_text('file,caption,annotator\n'
                     'sub/jump_high_02.bvh,a person jumps high,x\n'
                     './sub/jump_high_02.bvh,"someone leaps up,\n high",y\n'
                     'sub/jump_high_02.bvh,a person jumps high,z\n'
                     'spin,a person spins around,x\n'
                     'ghost.bvh,a person who is not there,x\n')
    reading = read_bvh_folder(root, MocapConfig(source="mocap-csv", views=1, captions_csv=table))
    texts = {m.labels["take"]: m.texts for m in reading}
    report = reading.report
    assert texts == {"sub/jump_high_02": ["a person jumps high", "someone leaps up, high"],
                     "spin": ["a person spins around"],
                     "side": ["a person steps aside"],
                     "plain_wave-03": ["a person performs the motion 'plain wave'"]}
    assert report.num_inputs == report.num_accepted == 4 and report.num_rejected == 0
    assert [n for p, n in report.notes] == ["no caption (no plain_wave-03.txt and no row in the captions CSV): "
                                            "caption made from the file name: \"a person performs the motion "
                                            "'plain wave'\""]
    assert report.unmatched[0] == str(root / "spin.txt") and len(report.unmatched) == 2
    assert "captions.csv line 7: 'ghost.bvh'" in report.unmatched[1]  # line 3's caption spans lines 3-4
    # the same through the command line
    out = tmp_path / "store"
    assert cli.main(["data", "import", "bvh", str(root), "--out", str(out), "--views", "2",
                     "--captions", str(table)]) == 0
    assert "8 clips" in capsys.readouterr().out
    store = Store(out)
    stored = {store.clip(i).labels["take"]: store.clip(i).texts for i in range(len(store))}
    assert stored == texts and store.sources == ("mocap",)


@pytest.mark.parametrize("text, message", [
    ("path,text\nspin.bvh,a person spins\n", "needs a header row with the columns 'file' and 'caption'"),
    ("spin.bvh,a person spins\n", "found 'spin.bvh', 'a person spins'"),
    ("", "found an empty first line"),
    ("file,caption\n", "no row with a file and a caption"),
    ("file,caption\n,a person spins\n", "line 2: the 'file' column is empty"),
    ("file,caption\nspin.bvh,a person spins\nspin.bvh,\"a person\" spins\n", "line 3: ',' expected after '\"'"),
    ("file,caption\nspin.bvh,\"a person\nspins\n", "line 2: unexpected end of data"),
])
def test_an_unusable_captions_csv_is_a_clear_error(tmp_path, capsys, text, message):
    root = tmp_path / "bvh"
    root.mkdir()
    (root / "spin.bvh").write_text(humanoid_bvh(frames=8))
    table = tmp_path / "captions.csv"
    table.write_text(text)
    with pytest.raises(ValueError, match="captions CSV") as err:
        read_bvh_folder(root, MocapConfig(captions_csv=table))
    assert message in str(err.value) and str(table) in str(err.value)
    code = cli.main(["data", "import", "bvh", str(root), "--out", str(tmp_path / "store"), "--captions", str(table)])
    err_line = capsys.readouterr().err
    assert code == 2 and err_line.startswith("tender: error: captions CSV") and message in err_line
    assert not (tmp_path / "store").exists()


def test_import_options_of_the_other_format_are_refused(tmp_path, capsys):
    root = _collection(tmp_path)
    for argv, message in ((["bandai", str(root), "--captions", "c.csv"], "--captions is for `data import bvh`"),
                          (["bvh", str(root), "--vocabulary", "v.txt"], "--vocabulary is for `data import bandai`"),
                          (["holistic", str(root), "--source", "x"], "are for `data import bvh` and"),
                          (["bandai", str(root), "--vocabulary", str(tmp_path / "none.txt")], "no such file")):
        assert cli.main(["data", "import", *argv, "--out", str(tmp_path / "store")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tender: error: ") and message in err, err
    with pytest.raises(ValueError, match="captions_csv must be None or a path"):
        MocapConfig(captions_csv=3)
    with pytest.raises(ValueError, match="vocabulary must be None or a path"):
        MocapConfig(vocabulary="  ")


def test_a_bandai_import_that_stores_nothing_fails_with_the_reasons(tmp_path, capsys):
    root = _collection(tmp_path)
    for name in CLIPS:
        (root / "data" / f"{name}.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    (root / "data" / "stray_take.bvh").write_text(humanoid_bvh(frames=8))  # no JSON and no readable name
    out = tmp_path / "store"
    assert cli.main(["data", "import", "bandai", str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tender: error: nothing was stored: 5 input(s)") and err.count("\n") == 1
    assert "bvh-motion (4)" in err and "labels (1)" in err and "build_report.md" in err
    rejected = json.loads((out / "build_report.json").read_text())["rejected"]
    assert any("stray_take.bvh: no label JSON and the name is not <prefix>_<content>_<style>_<nnn>" in r["reason"]
               for r in rejected)


def test_labels_that_disagree_or_point_nowhere_are_rejected(tmp_path):
    root = _collection(tmp_path)
    data = root / "data"
    (data / f"{PREFIX}walk_happy_001.json").write_text('{"content": 1, "style": 0}')  # the name says walk
    (data / f"{PREFIX}stagger_sneaky_001.json").write_text('{"content": -1, "style": 0}')
    (data / f"{PREFIX}raise-up-both-hands_elated_002.json").write_text('{"content": 0, "style": 9}')
    reading = read_bandai(root, MocapConfig(views=1))
    assert [m.labels["take"] for m in reading] == [f"{PREFIX}stagger_happy_003"]
    reasons = sorted(r.reason for r in reading.report.rejected)
    assert len(reasons) == 3 and all(r.kind == "labels" for r in reading.report.rejected)
    assert "file name says ('walk', 'happy'), motion_set-2_walk_happy_001.json says ('stagger', 'happy')" in reasons[2]
    assert "negative label index" in reasons[1] and "IndexError" in reasons[0]


@pytest.mark.parametrize("content, style, message", [
    ("dataset-3_walk\n", "dataset-3_\n", "label 'dataset-3_' has no name after the collection's prefix"),
    ("a_b_c\nd_e\n", "normal\n", "label 'a_b_c' (after the prefix '') holds a '_'"),
    ("\n\n", "normal\n", "content_label.txt: no label"),
])
def test_label_files_that_cannot_be_read_are_clear_errors(tmp_path, content, style, message):
    root = _collection(tmp_path)
    (root / "cfg" / "content_label.txt").write_text(content)
    (root / "cfg" / "style_label.txt").write_text(style)
    with pytest.raises(ValueError, match="label") as err:
        read_bandai(root)
    assert message in str(err.value)


def test_vocabulary_format_round_trips_and_refuses_bad_lines(tmp_path):
    assert Vocabulary.parse(BUILTIN.to_text()) == BUILTIN
    assert BUILTIN.content("bye")[0] == "waves the right hand goodbye" and BUILTIN.style("normal") == (None, ())
    assert BUILTIN.style("tired") == ("tired", ("wearily", "as if exhausted", "tiredly"))
    v = Vocabulary.parse(VOCABULARY)
    assert v.content("stagger") == ("staggers", "lurches forward") and v.style("sneaky") == (None, ("sneakily", "on tiptoe"))
    merged = BUILTIN.merged(v)
    assert merged.content("walk") == ("strolls along",) and merged.content("run") == BUILTIN.content("run")
    assert len(merged.contents) == len(BUILTIN.contents) + 1
    for text, message in [
        ("walk: walks\n", "line 1: 'walk: walks' comes before a [contents] or [styles] section"),
        ("[moves]\n", "line 1: unknown section '[moves]'"),
        ("[contents]\nwalk walks\n", "line 2: expected '<label>: <phrase> | <phrase> ...'"),
        ("[contents]\nwalk: |\n", "line 2: content 'walk' has no phrase"),
        ("[styles]\nsad: sad;\n\nsad: blue;\n", "line 4: style 'sad' is given twice"),
    ]:
        with pytest.raises(ValueError, match="my.txt") as err:
            Vocabulary.parse(text, "my.txt")
        assert message in str(err.value)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"[contents]\nwalk: walks \xff\n")
    with pytest.raises(ValueError, match="not valid UTF-8"):
        Vocabulary.load(bad)
    with pytest.raises(ValueError, match="must not contain '|'"):
        Vocabulary(contents=(("walk", ("walks | runs",)),))
    with pytest.raises(ValueError, match="give None for no adjective"):
        Vocabulary(styles=(("normal", "-", ()),))


def test_builtin_captions_are_unchanged_and_unknown_labels_are_worded_plainly():
    # the exact wording for bandai-namco-1's labels: stores built before keep their captions
    assert bandai_captions("bye", "tired", np.random.default_rng(0), n=4) == [
        "the person waves the right hand goodbye wearily", "the person waves the right hand goodbye as if exhausted",
        "a person waves goodbye with the right hand, tired", "the person says goodbye with a wave of the right hand, "
        "tired"]
    assert bandai_captions("walk-back", "normal", np.random.default_rng(2), n=4) == [
        "a performer steps backwards", "someone walks backward a few steps in a neutral way",
        "the person walks backward a few steps", "a performer walks backward a few steps"]
    caps, missing = label_captions("juggle_balls", "not-confident", np.random.default_rng(1), n=30)
    assert missing == ["content 'juggle_balls'"] and len(caps) == len(set(caps)) == 30
    assert all("the motion 'juggle balls'" in c for c in caps) and any(c.startswith("a timid person") for c in caps)
    caps, missing = label_captions("bow", "sleepy", np.random.default_rng(1))
    assert missing == ["style 'sleepy'"] and all("bow" in c and "'sleepy' style" in c for c in caps)
    with pytest.raises(ValueError, match="content must be one of"):
        bandai_captions("juggle", "normal", np.random.default_rng(0), vocabulary=BUILTIN)
    assert name_caption("sub/jump_high_02") == "a person performs the motion 'jump high'"
    assert name_caption("take_001") == "a person performs the motion 'take'"
    assert name_caption("007") == "a person performs the motion '007'" and name_caption("__") == "a person moves"


def test_captions_csv_keys(tmp_path):
    table = tmp_path / "c.csv"
    table.write_text("File , Caption\nsub\\a.BVH,one\n./sub/a,two\nsub//a.bvh,one\nb.bvh.bvh,three\n")
    captions, rows = read_caption_csv(table)
    assert captions == {"sub/a": ["one", "two"], "b.bvh": ["three"]}
    assert rows == {"sub/a": (2, "sub\\a.BVH"), "b.bvh": (5, "b.bvh.bvh")}


@pytest.mark.skipif(not BANDAI.is_dir(), reason=f"bandai-namco-1 data not found at {BANDAI} (../shared is absent)")
def test_real_bandai_labels_have_the_prefix_taken_away_and_a_phrase_each():
    contents, styles, prefix = collection_labels(BANDAI)
    assert prefix == "dataset-1_" and len(contents) == 17 and len(styles) == 15
    assert all(BUILTIN.content(c) is not None for c in contents) and all(BUILTIN.style(s) is not None for s in styles)
