"""The paper's own numbers, as data (reference/holistic-motion2d-paper.txt in ../shared).

One function per table, each returning a fresh DataFrame with snake_case columns, so that a
notebook can write it beside ours: `tables.write_table(ours, "table1", run.profile,
paper=paper.table1(), on="dataset")`. Numbers are transcribed as printed (thousands separators
removed, bracketed citation numbers dropped from names); "Yes"/"No" become booleans. Later
issues add the other tables here, one function each, in the same shape.
"""
from __future__ import annotations

import pandas as pd

_YES, _NO = True, False


def _frame(columns: list[str], rows: list[tuple]) -> pd.DataFrame:
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"row {row!r} has {len(row)} values for {len(columns)} columns {columns}")
    return pd.DataFrame.from_records(rows, columns=columns)


def table1() -> pd.DataFrame:
    """Table 1: Holistic-Motion2D against existing text-motion datasets.

    Columns: dataset; motion annotation: clips, holistic (whole-body), hours; text annotation:
    motion_texts (number of texts), holistic_text; scene: indoor, outdoor; rgb (RGB images).
    """
    columns = ["dataset", "clips", "holistic", "hours", "motion_texts", "holistic_text", "indoor", "outdoor", "rgb"]
    rows = [
        ("KIT-ML", 3_911, _NO, 11.2, 6_278, _NO, _YES, _NO, _NO),
        ("AMASS", 11_265, _NO, 40.0, 0, _NO, _YES, _NO, _NO),
        ("BABEL", 13_220, _NO, 43.5, 91_408, _NO, _YES, _NO, _NO),
        ("HumanAct12", 1_191, _NO, 6.0, 1_191, _NO, _YES, _NO, _NO),
        ("HumanML3D", 14_616, _NO, 28.6, 44_970, _NO, _YES, _NO, _NO),
        ("Motion-X", 95_642, _NO, 127.1, 95_642, _YES, _YES, _YES, _YES),
        ("Holistic-Motion2D", 1_002_463, _YES, 1_614.5, 1_002_463, _YES, _YES, _YES, _YES),
    ]
    return _frame(columns, rows)


def table9() -> pd.DataFrame:
    """Table 9 (appendix A.1): the sub-datasets of Holistic-Motion2D.

    Columns: dataset, clips, frames, motion (annotated parts: Whole-Body / Hand / Face),
    text (Caption = textual descriptions, Semantic = semantic labels). The last row,
    "Holistic-Motion2D (sum)", is the paper's "Ours sum"; its clips and frames equal the
    column sums of the ten sub-datasets.
    """
    columns = ["dataset", "clips", "frames", "motion", "text"]
    rows = [
        ("UCF101", 11_387, 1_692_772, "Whole-Body", "Caption"),
        ("K400", 215_476, 28_792_274, "Whole-Body", "Caption"),
        ("K700", 228_508, 38_116_834, "Whole-Body", "Caption"),
        ("UBody", 5_194, 809_180, "Whole-Body", "Caption"),
        ("InternVid", 310_260, 39_285_981, "Whole-Body", "Caption"),
        ("HAA500", 7_989, 403_515, "Whole-Body", "Caption"),
        ("IDEA400", 12_025, 2_129_917, "Whole-Body", "Semantic"),
        ("Sthv2", 192_558, 3_808_216, "Hand", "Semantic"),
        ("DFEW", 15_524, 1_104_717, "Face", "Semantic"),
        ("CARE", 3_542, 98_376, "Face", "Semantic"),
        ("Holistic-Motion2D (sum)", 1_002_463, 116_241_782, "Whole-Body", "Semantic, Caption"),
    ]
    return _frame(columns, rows)
