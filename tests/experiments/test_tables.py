"""Tables as CSV + Markdown with the paper's numbers beside ours; the paper's own tables."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tenderlib.experiments import paper, tables

ROWS = [
    {"method": "MLD", "top1": 0.31204, "fid": 6.2446, "runs": 3},
    {"method": "Tender", "top1": np.float32(0.5), "fid": float("nan"), "runs": np.int64(4)},
]
PAPER = [
    {"method": "Tender", "top1": 0.325, "fid": 4.4032},
    {"method": "MDM", "top1": 0.28, "fid": 7.0},
    {"method": "MLD", "top1": 0.312, "fid": 6.2446},
]


def test_write_table_exact_content(tender_root):
    paths = tables.write_table(ROWS, "t1", "smoke", caption="Hand-made | case", float_format={"fid": ".2f"})
    assert paths.csv == tender_root.resolve() / "outputs" / "smoke" / "tables" / "t1.csv"
    assert paths.csv.read_text() == "method,top1,fid,runs\nMLD,0.3120,6.24,3\nTender,0.5000,,4\n"
    assert paths.markdown.read_text() == (
        "Table: Hand-made | case\n"
        "\n"
        "| method | top1 | fid | runs |\n"
        "|:---|---:|---:|---:|\n"
        "| MLD | 0.3120 | 6.24 | 3 |\n"
        "| Tender | 0.5000 |  | 4 |\n"
    )
    assert repr(paths) == "TablePaths(csv='outputs/smoke/tables/t1.csv', markdown='outputs/smoke/tables/t1.md')"


def test_write_table_with_paper_side_by_side(tender_root):
    paths = tables.write_table(ROWS, "t2", "default", paper=PAPER, on="method")
    assert paths.csv.read_text() == (
        "method,origin,top1,fid,runs\n"
        "Tender,paper,0.3250,4.4032,\n"
        "Tender,ours,0.5000,,4\n"
        "MDM,paper,0.2800,7.0000,\n"
        "MLD,paper,0.3120,6.2446,\n"
        "MLD,ours,0.3120,6.2446,3\n"
    )
    md = paths.markdown.read_text().splitlines()
    assert md[0] == "Table: t2"
    assert md[2:4] == ["| method | origin | top1 | fid | runs |", "|:---|:---|---:|---:|---:|"]
    assert md[5] == "| Tender | ours | 0.5000 |  | 4 |"


def test_write_table_paper_block_first_without_key(tender_root):
    paths = tables.write_table(pd.DataFrame(ROWS), "t3", "default", paper=pd.DataFrame(PAPER))
    lines = paths.csv.read_text().splitlines()
    assert lines[0] == "origin,method,top1,fid,runs"
    assert [line.split(",")[0] for line in lines[1:]] == ["paper"] * 3 + ["ours"] * 2


def test_write_table_accepts_dataclass_rows_and_reads_back(tender_root):
    @dataclasses.dataclass
    class Row:
        name: str
        value: float
        ok: bool

    tables.write_table([Row("a", -0.00001, True), Row("b", 2.0, False)], "t4", "smoke")
    df = tables.read_table("t4", "smoke")
    assert list(df.columns) == ["name", "value", "ok"]
    assert df["value"].tolist() == [0.0, 2.0] and df["ok"].tolist() == [True, False]
    assert "-0.0000" not in (tender_root / "outputs/smoke/tables/t4.csv").read_text()


def test_write_table_is_deterministic(tender_root):
    first = tables.write_table(ROWS, "t5", "smoke", paper=PAPER, on="method")
    a = (first.csv.read_bytes(), first.markdown.read_bytes())
    second = tables.write_table(ROWS, "t5", "smoke", paper=PAPER, on="method")
    assert (second.csv.read_bytes(), second.markdown.read_bytes()) == a


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "../evil"}, "name must be a file stem"),
        ({"profile": "Smoke"}, r"profile must be"),
        ({"float_format": ".4q"}, "not a valid format spec"),
        ({"float_format": {"fdi": ".2f"}}, r"unknown column\(s\) \['fdi'\]"),
        ({"on": "method"}, "needs paper="),
        ({"paper": PAPER, "on": "runs"}, "on='runs' must be a column of both"),
        ({"paper": [{"origin": "x"}]}, "already has a column 'origin'"),
        ({"rows": []}, "no columns"),
        ({"rows": [1, 2]}, "row 0 is int"),
    ],
)
def test_write_table_bad_input(tender_root, kwargs, match):
    args = {"rows": ROWS, "name": "bad", "profile": "smoke", **kwargs}
    with pytest.raises(ValueError, match=match):
        tables.write_table(args.pop("rows"), args.pop("name"), args.pop("profile"), **args)


def test_read_table_missing(tender_root):
    with pytest.raises(FileNotFoundError, match="outputs/smoke/tables/nope.csv"):
        tables.read_table("nope", "smoke")


# --- the paper's tables ---------------------------------------------------------------------


def test_table9_sum_row_is_the_sum_of_the_sub_datasets():
    t9 = paper.table9()
    assert list(t9.columns) == ["dataset", "clips", "frames", "motion", "text"]
    assert len(t9) == 11 and t9.iloc[-1]["dataset"] == "Holistic-Motion2D (sum)"
    parts, total = t9.iloc[:-1], t9.iloc[-1]
    assert parts["clips"].sum() == total["clips"] == 1_002_463
    assert parts["frames"].sum() == total["frames"] == 116_241_782
    assert set(parts["motion"]) == {"Whole-Body", "Hand", "Face"}
    assert t9.set_index("dataset").loc["Sthv2", "text"] == "Semantic"


def test_table1_transcription():
    t1 = paper.table1().set_index("dataset")
    assert list(t1.columns) == ["clips", "holistic", "hours", "motion_texts", "holistic_text", "indoor", "outdoor", "rgb"]
    assert t1.loc["Motion-X", "hours"] == 127.1 and t1.loc["BABEL", "motion_texts"] == 91_408
    ours = t1.loc["Holistic-Motion2D"]
    assert ours["clips"] == paper.table9()["clips"].iloc[-1]  # Table 1 and Table 9 agree
    assert ours[["holistic", "holistic_text", "indoor", "outdoor", "rgb"]].tolist() == [True] * 5
    assert t1["holistic"].sum() == 1  # only ours is holistic
    assert t1["clips"].dtype == np.int64 and t1["rgb"].dtype == bool


def test_paper_table_written_beside_itself(tender_root):
    paths = tables.write_table(paper.table1().iloc[:2], "table1", "default", paper=paper.table1(), on="dataset",
                               float_format={"hours": ".1f"})
    lines = paths.csv.read_text().splitlines()
    assert lines[1] == "KIT-ML,paper,3911,False,11.2,6278,False,True,False,False"
    assert lines[2] == "KIT-ML,ours,3911,False,11.2,6278,False,True,False,False"
    assert len(lines) == 1 + 7 + 2
