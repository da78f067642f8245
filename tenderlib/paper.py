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


# MoLIP's retrieval metrics (paper section 5.2, appendix C): columns shared by table4, table10 and
# real_motions, and by our rows (tenderlib.evaluation.metric_row): mean, then its +- half-width.
MOLIP_METRICS = ("top1", "top2", "top3", "fid", "mm_dist", "diversity")


def table4() -> pd.DataFrame:
    """Table 4: MoLIP trained on 20/50/80/100% of D1 (R@1, FID, Diversity).

    Columns: data_frac (fraction of D1), top1, fid, diversity. The FID of the 50% row reads
    0.0075 here and 0.0086 in Table 10; both are transcribed as printed.
    """
    columns = ["data_frac", "top1", "fid", "diversity"]
    rows = [
        (0.2, 0.2538, 0.0165, 43.29),
        (0.5, 0.4895, 0.0075, 41.80),
        (0.8, 0.6023, 0.0099, 41.96),
        (1.0, 0.6710, 0.0025, 39.87),
    ]
    return _frame(columns, rows)


def table10() -> pd.DataFrame:
    """Table 10 (appendix C): Table 4 with every metric and its +- (95% interval half-width).

    Columns: data_frac, then for each of top1, top2, top3, fid, mm_dist, diversity the mean and
    `<metric>_conf`.
    """
    columns = ["data_frac"] + [c for m in MOLIP_METRICS for c in (m, f"{m}_conf")]
    rows = [
        (0.2, 0.2538, 0.0005, 0.3982, 0.0005, 0.5018, 0.0006, 0.0165, 0.0011, 19.7802, 0.0074, 43.29, 0.3216),
        (0.5, 0.4895, 0.0007, 0.6527, 0.0006, 0.7352, 0.0005, 0.0086, 0.0005, 13.0567, 0.0058, 41.80, 0.2908),
        (0.8, 0.6023, 0.0008, 0.7809, 0.0005, 0.8606, 0.0004, 0.0099, 0.0008, 7.2429, 0.0055, 41.96, 0.2619),
        (1.0, 0.6710, 0.0005, 0.8620, 0.0005, 0.9381, 0.0003, 0.0025, 0.0003, 5.5754, 0.0029, 39.87, 0.1759),
    ]
    return _frame(columns, rows)


def real_motions() -> pd.DataFrame:
    """Table 2's "Real Motions" row: real test motions scored by MoLIP as if generated (the
    ceiling of every generation table). Same numbers as Table 10's 100% row; no +- printed.

    Columns: method, top1, top2, top3, fid, mm_dist, diversity.
    """
    columns = ["method", *MOLIP_METRICS]
    return _frame(columns, [("Real motions", 0.6710, 0.8620, 0.9381, 0.0025, 5.5754, 39.87)])
