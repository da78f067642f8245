"""The paper's own numbers, as data (Holistic-Motion2D, https://holistic-motion2d.github.io).

One function per table, each returning a fresh DataFrame with snake_case columns, so that a
notebook can write it beside ours: `tables.write_table(ours, "table1", run.profile,
paper=paper.table1(), on="dataset")`. Numbers are transcribed as printed (thousands separators
removed, bracketed citation numbers dropped from names); "Yes"/"No" become booleans. Later
issues add the other tables here, one function each, in the same shape.
"""
from __future__ import annotations

import pandas as pd

from tenderlib.evaluation.metrics import MOLIP_METRICS

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


# The PA-VAE ablations (section 5.4, appendix C). They are generation metrics of the whole model
# (PA-VAE + latent diffusion, scored by MoLIP); notebook 02 shows them beside reconstruction
# errors of the VAE alone, and notebook 03 beside generation metrics. `method` uses our names
# (tenderlib.models.vae.VAEConfig.name, tenderlib.experiments.vae_runs.OBJECTIVES) so that rows pair with ours.
GENERATION_METRICS = ("top1", "top2", "top3", "fid", "mm_dist", "diversity", "multimodality")


def table5() -> pd.DataFrame:
    """Table 5: PA-VAE configurations on D2 (R@1, FID, Diversity).

    Columns: method ("VAE" is the paper's "Naive VAE"; "PA-VAE-<s>-<p>": s spatial layers, p
    parts), spatial_layers, num_parts, top1, fid, diversity. PA-VAE-1-2's FID reads 10.0147 here
    and 20.0147 in Table 14; both are transcribed as printed.
    """
    columns = ["method", "spatial_layers", "num_parts", "top1", "fid", "diversity"]
    rows = [
        ("VAE", 0, 1, 0.3120, 6.2446, 37.78),
        ("PA-VAE-3-4", 3, 4, 0.3159, 5.7189, 37.39),
        ("PA-VAE-2-4", 2, 4, 0.3250, 4.4032, 37.86),
        ("PA-VAE-2-3", 2, 3, 0.3215, 7.0700, 37.64),
        ("PA-VAE-2-2", 2, 2, 0.2636, 6.3866, 37.81),
        ("PA-VAE-1-4", 1, 4, 0.2821, 6.4368, 36.99),
        ("PA-VAE-1-2", 1, 2, 0.2524, 10.0147, 37.70),
    ]
    return _frame(columns, rows)


def table14() -> pd.DataFrame:
    """Table 14 (appendix C): Table 5 with every metric (no PA-VAE-3-4 row there).

    Columns: method, spatial_layers, num_parts, then GENERATION_METRICS.
    """
    columns = ["method", "spatial_layers", "num_parts", *GENERATION_METRICS]
    rows = [
        ("VAE", 0, 1, 0.3120, 0.5079, 0.6317, 6.2446, 16.1876, 37.78, 37.23),
        ("PA-VAE-2-4", 2, 4, 0.3250, 0.5210, 0.6509, 4.4032, 14.7318, 37.86, 38.49),
        ("PA-VAE-2-3", 2, 3, 0.3215, 0.5088, 0.6255, 7.0700, 15.9443, 37.64, 37.83),
        ("PA-VAE-2-2", 2, 2, 0.2636, 0.4384, 0.5568, 6.3866, 18.7368, 37.81, 37.05),
        ("PA-VAE-1-4", 1, 4, 0.2821, 0.4547, 0.5859, 6.4368, 18.2543, 36.99, 37.60),
        ("PA-VAE-1-2", 1, 2, 0.2524, 0.4335, 0.5569, 20.0147, 18.7878, 37.70, 37.11),
    ]
    return _frame(columns, rows)


def table12() -> pd.DataFrame:
    """Table 12 (appendix C): latent shape, depth and skip connections of the PA-VAE on D3.

    Columns: setting ("Ours-l-n-d" as printed, ", w/ skip" / ", w/o skip" for the last two),
    num_layers (l), latent_tokens (n), latent_dim (d), skip, then GENERATION_METRICS. The row
    "Ours-9-8-256" is printed three times with different MM-Dist (20.1603, 19.0618, 20.1603),
    Diversity and MModality; all three are transcribed as printed.
    """
    columns = ["setting", "num_layers", "latent_tokens", "latent_dim", "skip", *GENERATION_METRICS]
    rows = [
        ("Ours-9-1-256", 9, 1, 256, _YES, 0.2704, 0.4381, 0.5497, 12.9417, 22.7567, 37.64, 37.51),
        ("Ours-9-2-256", 9, 2, 256, _YES, 0.2750, 0.4318, 0.5328, 18.1709, 24.1560, 36.99, 38.09),
        ("Ours-9-4-256", 9, 4, 256, _YES, 0.3272, 0.5053, 0.6213, 9.2707, 20.9216, 36.69, 38.81),
        ("Ours-9-8-256", 9, 8, 256, _YES, 0.3379, 0.5267, 0.6381, 6.6322, 20.1603, 37.51, 34.79),
        ("Ours-9-16-128", 9, 16, 128, _YES, 0.2946, 0.4693, 0.5748, 15.6112, 22.2540, 37.33, 38.14),
        ("Ours-9-16-64", 9, 16, 64, _YES, 0.2287, 0.3594, 0.4578, 22.8346, 27.0285, 36.43, 37.37),
        ("Ours-5-8-256", 5, 8, 256, _YES, 0.3351, 0.5163, 0.6265, 8.5869, 20.1136, 38.70, 38.35),
        ("Ours-9-8-256", 9, 8, 256, _YES, 0.3379, 0.5267, 0.6381, 6.6322, 19.0618, 38.61, 38.30),
        ("Ours-13-8-256", 13, 8, 256, _YES, 0.3227, 0.5071, 0.6184, 9.1692, 20.6883, 36.93, 37.84),
        ("Ours-9-8-256, w/ skip", 9, 8, 256, _YES, 0.3379, 0.5267, 0.6381, 6.6322, 20.1603, 37.51, 34.79),
        ("Ours-9-8-256, w/o skip", 9, 8, 256, _NO, 0.3224, 0.5196, 0.6361, 11.0998, 20.4429, 37.43, 38.19),
    ]
    return _frame(columns, rows)


def table16() -> pd.DataFrame:
    """Table 16 (appendix C): ways of using the confidence, on D2, every metric.

    Columns: method ("none" or the "+"-joined flags, tenderlib.experiments.vae_runs.OBJECTIVES), velocity
    (velocity loss in the PA-VAE's training), weighted (confidence-weighted reconstruction loss),
    cag (confidence-aware generation), then GENERATION_METRICS. The first row is PA-VAE-2-4
    without any of the three.
    """
    columns = ["method", "velocity", "weighted", "cag", *GENERATION_METRICS]
    rows = [
        ("none", _NO, _NO, _NO, 0.3250, 0.5210, 0.6509, 4.4032, 15.5090, 37.86, 38.49),
        ("velocity", _YES, _NO, _NO, 0.3453, 0.5536, 0.6734, 6.4038, 14.4277, 37.16, 37.70),
        ("weighted", _NO, _YES, _NO, 0.3131, 0.5196, 0.6498, 8.5602, 15.7625, 38.03, 37.18),
        ("cag", _NO, _NO, _YES, 0.3285, 0.5253, 0.6519, 3.5675, 15.2033, 36.13, 37.06),
        ("velocity+weighted", _YES, _YES, _NO, 0.3244, 0.5249, 0.6475, 10.1125, 14.7794, 37.40, 37.69),
        ("velocity+cag", _YES, _NO, _YES, 0.3531, 0.5568, 0.6843, 3.6970, 14.0919, 40.17, 38.81),
        ("velocity+weighted+cag", _YES, _YES, _YES, 0.3476, 0.5418, 0.6635, 5.8864, 14.6718, 38.59, 35.98),
    ]
    return _frame(columns, rows)


def table7() -> pd.DataFrame:
    """Table 7: Table 16's rows with the main text's three metrics (R@1, FID, Diversity), as printed."""
    return table16()[["method", "velocity", "weighted", "cag", "top1", "fid", "diversity"]]


def table15() -> pd.DataFrame:
    """Table 15 (appendix C): low-quality motions on D1, every metric.

    Columns: method ("Only high": high-quality clips only; "Finetune": pre-trained on the low-quality
    clips, fine-tuned on the high-quality ones; "Argument-<x>": the high-quality data augmented x
    times with low-quality clips, as the paper spells it), evaluator ("molip", or "confidence" for
    the paper's highlighted rows: scored by a MoLIP trained with the keypoints' confidence), then
    GENERATION_METRICS. Table 6 prints the same rows with R@3, FID and Diversity; its first "Only
    High" Diversity reads 38.42 there and 38.34 here, both transcribed as printed.
    """
    columns = ["method", "evaluator", *GENERATION_METRICS]
    rows = [
        ("Only high", "molip", 0.3761, 0.5664, 0.6774, 3.9038, 17.7588, 38.34, 37.73),
        ("Only high", "confidence", 0.3892, 0.5872, 0.6950, 2.4440, 17.0250, 41.38, 41.28),
        ("Finetune", "molip", 0.3505, 0.5431, 0.6442, 8.0525, 19.6852, 41.56, 37.46),
        ("Argument-1", "molip", 0.3658, 0.5584, 0.6674, 7.9846, 19.2769, 40.99, 37.86),
        ("Argument-2", "molip", 0.3728, 0.5783, 0.6995, 6.5995, 18.8519, 41.24, 38.16),
        ("Argument-4", "molip", 0.3897, 0.5811, 0.6901, 4.8562, 16.2715, 41.52, 41.68),
        ("Argument-4", "confidence", 0.3838, 0.5907, 0.7077, 3.7428, 16.1444, 42.08, 38.54),
    ]
    return _frame(columns, rows)


def table6() -> pd.DataFrame:
    """Table 6: Table 15's rows with the main text's three metrics (R@3, FID, Diversity), as printed."""
    frame = table15()[["method", "evaluator", "top3", "fid", "diversity"]].copy()
    frame.loc[0, "diversity"] = 38.42
    return frame


def table17() -> pd.DataFrame:
    """Table 17 (appendix C): multi-source data on D2, every metric.

    Columns: method ("MLD", the naive VAE's model; "Ours", Tender), data ("whole-body": D2 alone;
    "w/ face": D2 and the facial-expression sources; "w/ IDEA400": D2 and the 3D-capture source),
    then GENERATION_METRICS. Table 8 prints R@1, FID and Diversity of the same rows.
    """
    columns = ["method", "data", *GENERATION_METRICS]
    rows = [
        ("MLD", "whole-body", 0.3120, 0.5079, 0.6317, 6.2446, 17.4381, 37.78, 37.23),
        ("Ours", "whole-body", 0.3250, 0.5210, 0.6509, 4.4032, 15.5090, 37.86, 38.49),
        ("MLD", "w/ face", 0.3299, 0.5228, 0.6412, 7.2927, 15.7578, 41.20, 39.92),
        ("Ours", "w/ face", 0.3443, 0.5432, 0.6731, 4.1074, 15.1652, 38.81, 38.23),
        ("MLD", "w/ IDEA400", 0.3279, 0.5278, 0.6493, 7.9774, 15.2824, 38.28, 37.92),
        ("Ours", "w/ IDEA400", 0.3388, 0.5338, 0.6541, 3.6376, 15.8301, 39.17, 40.15),
    ]
    return _frame(columns, rows)


def table8() -> pd.DataFrame:
    """Table 8: Table 17's rows with the main text's three metrics (R@1, FID, Diversity)."""
    return table17()[["method", "data", "top1", "fid", "diversity"]]


# Tender's generation tables (sections 5.1, 5.2; appendix C). Columns: MoLIP's metrics and MultiModality.
TENDER_METRICS = (*MOLIP_METRICS, "multimodality")


def table2() -> pd.DataFrame:
    """Table 2: text-to-motion generation on the D1 test set (Real motions, three baselines, Tender).

    Columns: method, top1, top2, top3, fid, mm_dist, diversity, multimodality (NaN for Real
    motions: "—" in the paper). Tender's row differs from Table 11's 100% / 9-layer row in R@2, R@3,
    Diversity and MultiModality; both are transcribed as printed.
    """
    nan = float("nan")
    columns = ["method", *TENDER_METRICS]
    rows = [
        ("Real motions", 0.6710, 0.8620, 0.9381, 0.0025, 5.5754, 39.87, nan),
        ("T2M-GPT", 0.1434, 0.2438, 0.3186, 27.8674, 29.9663, 36.73, 35.59),
        ("MDM", 0.3355, 0.5074, 0.6109, 6.8437, 21.2664, 38.64, 38.18),
        ("MLD", 0.3639, 0.5597, 0.6676, 4.1184, 17.4303, 37.37, 36.21),
        ("Tender", 0.3761, 0.5736, 0.6902, 3.9038, 16.8211, 38.42, 38.36),
    ]
    return _frame(columns, rows)


def table3() -> pd.DataFrame:
    """Table 3: Tender trained on 20/50/80/100% of D1 with a 9- and a 5-layer denoiser (R@1, FID,
    Diversity). Columns: data_frac, layers, top1, fid, diversity. The 100% / 9-layer Diversity reads
    38.42 here and 38.34 in Table 11; both are transcribed as printed."""
    columns = ["data_frac", "layers", "top1", "fid", "diversity"]
    rows = [
        (0.2, 9, 0.3379, 7.7581, 37.54),
        (0.5, 9, 0.3664, 7.0489, 37.29),
        (0.8, 9, 0.3697, 6.5420, 37.40),
        (1.0, 9, 0.3761, 3.9038, 38.42),
        (0.2, 5, 0.2965, 22.4394, 37.39),
        (0.5, 5, 0.3234, 12.4010, 37.54),
        (0.8, 5, 0.3277, 8.9618, 37.67),
        (1.0, 5, 0.3375, 10.5134, 37.71),
    ]
    return _frame(columns, rows)


def table11() -> pd.DataFrame:
    """Table 11 (appendix C): Table 3 with every metric (no +- printed).

    Columns: data_frac, layers, top1, top2, top3, fid, mm_dist, diversity, multimodality.
    """
    columns = ["data_frac", "layers", *TENDER_METRICS]
    rows = [
        (0.2, 9, 0.3379, 0.5276, 0.6381, 7.7581, 20.1603, 37.54, 38.17),
        (0.5, 9, 0.3664, 0.5649, 0.6889, 7.0489, 17.3070, 37.29, 36.77),
        (0.8, 9, 0.3697, 0.5736, 0.6902, 6.5420, 17.0101, 37.40, 38.01),
        (1.0, 9, 0.3761, 0.5775, 0.6932, 3.9038, 16.8211, 38.34, 38.63),
        (0.2, 5, 0.2965, 0.4881, 0.6127, 22.4394, 20.6333, 37.39, 38.20),
        (0.5, 5, 0.3234, 0.5179, 0.6422, 12.4010, 18.8811, 37.54, 36.06),
        (0.8, 5, 0.3277, 0.5226, 0.6466, 8.9618, 19.1121, 37.67, 36.99),
        (1.0, 5, 0.3375, 0.5384, 0.6593, 10.5134, 18.4968, 37.71, 36.41),
    ]
    return _frame(columns, rows)


def table13() -> pd.DataFrame:
    """Table 13 (appendix C): text conditioning of the denoiser.

    Columns: conditioning (tenderlib.models.denoiser.CONDITIONINGS: concat, add, text_transformer,
    cross_attention), method (the paper's name), then the metrics. The concatenate row equals
    Table 11's 20% / 9-layer row: the ablation seems to have trained on 20% of D1.
    """
    columns = ["conditioning", "method", *TENDER_METRICS]
    rows = [
        ("concat", "Concatenate", 0.3379, 0.5276, 0.6381, 7.7581, 20.1603, 37.54, 38.17),
        ("add", "Add", 0.3070, 0.4888, 0.6101, 11.5309, 20.5131, 37.52, 37.57),
        ("text_transformer", "Text transformers", 0.2662, 0.4326, 0.5444, 12.1292, 22.7878, 37.59, 37.35),
        ("cross_attention", "Cross Attention", 0.2900, 0.4612, 0.5719, 19.6397, 21.6411, 37.53, 36.27),
    ]
    return _frame(columns, rows)
