"""Notebook 05's rows, intervals and verdicts (tenderlib.experiments.ablations)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tenderlib import params
from tenderlib.data.selection import D2_SOURCES, selection
from tenderlib.experiments import ablations, generation, paper
from tenderlib.models.vae import VAEConfig


class FakeStore:
    """What plan() asks of a store: its sources and how many clips a selection holds."""

    sources = ("syn-k400", "syn-k700", "syn-dfew", "syn-sthv2")

    def select(self, sel):
        if set(sel.sources or ()) - set(self.sources):
            raise ValueError(f"Selection.sources: not in this store (sources {list(self.sources)})")
        extra = {"syn-dfew": 5, "syn-sthv2": 0}  # syn-sthv2's clips all fail the quality rule
        return np.arange(20 + sum(extra.get(s, 0) for s in (sel.sources or ())))


def setup(**study) -> ablations.Setup:
    values = {**params.notebook_parameters("05_ablations", "smoke"), **study}
    return ablations.configs(values, params.snapshot({}))


def test_plan_builds_every_table_with_floors_and_seeded_headline_rows():
    s = setup(ablation_tables=["5", "6", "7", "8", "12", "13"], part_variants=["VAE", "PA-VAE-2-4", "PA-VAE-1-4"],
              objective_variants=["none", "cag", "velocity+cag"],
              source_variants=["syn-dfew", "syn-sthv2", "syn-k400", "syn-haa500"],
              source_methods=["VAE", "PA-VAE-2-4"], latent_variants=["2-1-32"], seeds=3)
    with pytest.warns(UserWarning) as caught:
        rows = ablations.plan(s, FakeStore())
    assert [str(w.message) for w in caught] == [
        "Table 8: no clip of 'syn-sthv2' passes the quality rule; its rows are left out",
        "Table 8: the store has no source 'syn-haa500'; its rows are left out"]
    by = lambda t: [r for r in rows if r.table == t]  # noqa: E731
    # Table 5: the headline rows once per seed (seed 0, 1, 2), the others once, the floor last
    t5 = [(r.columns["method"], r.seed) for r in by("5")]
    assert t5 == [("VAE", 0), ("VAE", 1), ("VAE", 2), ("PA-VAE-2-4", 0), ("PA-VAE-2-4", 1), ("PA-VAE-2-4", 2),
                  ("PA-VAE-1-4", 0), (ablations.FLOOR, 0)]
    first, floor = by("5")[0].run, by("5")[-1].run
    assert floor == dataclasses.replace(first, untrained=True)
    assert first.vae.num_parts == 1 and first.vae_train.max_steps == s.study.vae_steps
    assert first.train.max_steps == s.study.denoiser_steps and first.selection == selection("D2", "train")
    assert by("5")[1].run.vae_train.seed == 1 and by("5")[1].run.train.seed == 1 and by("5")[1].run.seed == 1
    # every row is scored by notebook 04's MoLIP on D1's training clips, on the test subset asked for
    assert all(r.run.molip_selection == selection("D1", "train") for r in rows if r.table != "6")
    assert all(r.run.test_selection == selection(s.study.test_subset, "test") for r in rows)
    # Table 6: two trainings, each scored by two evaluators, the second with the confidence as input
    t6 = by("6")
    assert [(r.columns["data"], r.columns["evaluator"]) for r in t6[:4]] == [
        (ablations.ONLY_HIGH, "molip"), (ablations.ONLY_HIGH, "confidence"),
        (ablations.WITH_UNRELIABLE, "molip"), (ablations.WITH_UNRELIABLE, "confidence")]
    assert [r.run.molip.use_confidence for r in t6[:4]] == [False, True, False, True]
    assert t6[2].run.vae_selection == t6[2].run.selection == ablations.with_unreliable()
    # Table 7: the main objective is cag, so its "cag" row is Table 5's PA-VAE-2-4 run (seed 0)
    cag = next(r for r in by("7") if r.columns["method"] == "cag")
    assert cag.run == by("5")[3].run
    # Table 8: D2's own sources and those without a passing clip have no row
    assert [(r.columns["method"], r.columns["source"]) for r in by("8")[:-1]] == [
        ("VAE", ""), ("VAE", "syn-dfew"), ("PA-VAE-2-4", ""), ("PA-VAE-2-4", "syn-dfew")]
    assert by("8")[1].run.selection.sources == D2_SOURCES + ("syn-dfew",)
    # Table 12: the main latent with and without skips, the variants, mapped to the paper's rows
    t12 = [(r.columns["setting"], r.columns["paper_setting"], r.columns["skip"]) for r in by("12")[:-1]]
    assert t12 == [("2-2-32", "Ours-9-8-256", True), ("2-1-32", "Ours-9-4-256", True), ("2-2-32", "Ours-9-8-256", False)]
    assert by("12")[0].run.selection == selection("D3", "train") and not by("12")[2].run.vae.skip
    # Table 13: notebook 03's runs for the first seed (same VAE, denoiser and training)
    g = generation.notebook_configs("smoke")
    t13 = by("13")
    assert [r.columns["conditioning"] for r in t13[:-1]] == [c for c in s.study.conditionings for _ in range(3)]
    nb03 = t13[0].run
    assert (nb03.vae, nb03.vae_train, nb03.train) == (g.vae, g.vae_train, g.ablation)
    assert nb03.denoiser == dataclasses.replace(g.denoiser, conditioning=s.study.conditionings[0])
    assert nb03.selection == dataclasses.replace(selection("D1", "train"), data_frac=g.study.data_frac)


def test_paper_setting_maps_our_latents_to_the_paper_rows():
    main = VAEConfig(num_layers=5, latent_tokens=8, latent_dim=128)
    cases = {(5, 8, 128): "Ours-9-8-256", (5, 1, 128): "Ours-9-1-256", (5, 4, 128): "Ours-9-4-256",
             (5, 16, 64): "Ours-9-16-128", (5, 16, 32): "Ours-9-16-64", (3, 8, 128): "Ours-5-8-256",
             (9, 8, 128): "Ours-13-8-256"}
    for (l, n, d), name in cases.items():
        cfg = dataclasses.replace(main, num_layers=l, latent_tokens=n, latent_dim=d)
        assert ablations.paper_setting(cfg, main) == name
        assert ablations.latent_name(cfg) == f"{l}-{n}-{d}"


@pytest.mark.parametrize("better, worse, higher, expected", [
    ((0.50, 0.02), (0.40, 0.02), True, "replicates"),
    ((0.40, 0.02), (0.50, 0.02), True, "contradicts"),
    ((0.50, 0.06), (0.40, 0.05), True, "inconclusive"),   # 0.10 apart, intervals reach 0.11
    ((1.0, 0.1), (2.0, 0.1), False, "replicates"),         # FID: lower is better
    ((2.0, 0.1), (1.0, 0.1), False, "contradicts"),
])
def test_verdict(better, worse, higher, expected):
    assert ablations.verdict(*better, *worse, higher) == expected


def test_seed_interval_is_the_t_interval_of_the_mean():
    values = np.array([0.30, 0.36, 0.33])
    expected = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / np.sqrt(3)
    assert ablations.seed_interval(values) == pytest.approx(expected)
    assert ablations.seed_interval([0.2, 0.2]) == 0.0


def _result(top3, conf=0.01, fid=1.0):
    row = {m: 0.5 for m in ablations.METRICS}
    row.update({f"{m}_conf": conf for m in ablations.METRICS}, top3=top3, fid=fid)
    row.update({c: 1.0 for c in ablations.MOVEMENT + ablations.RECONSTRUCTION}, train_clips=100)
    return row


def _rows(spec):
    """[(table, method, seed, result)] -> rows and results (runs are not needed here)."""
    return ([ablations.Row(t, (("method", m),), seed, None) for t, m, seed, _ in spec], [r for *_, r in spec])


def test_table_frame_means_seeds_and_widens_single_runs_by_the_pooled_seed_spread():
    rows, results = _rows([("5", "A", 0, _result(0.30)), ("5", "A", 1, _result(0.36)), ("5", "A", 2, _result(0.33)),
                           ("5", "B", 0, _result(0.20, conf=0.5)), ("5", "C", 0, _result(0.25)),
                           ("7", "D", 0, _result(0.10)), ("7", "D", 1, _result(0.14))])
    frame = ablations.table_frame(rows, results, "5").set_index("method")
    assert list(frame.index) == ["A", "B", "C"] and frame.loc["A", "seeds"] == 3
    assert frame.loc["A", "top3"] == pytest.approx(0.33)
    assert frame.loc["A", "top3_conf"] == pytest.approx(ablations.seed_interval([0.30, 0.36, 0.33]))
    pooled = np.sqrt(np.mean([np.var([0.30, 0.36, 0.33], ddof=1), np.var([0.10, 0.14], ddof=1)]))
    assert frame.loc["C", "top3_conf"] == pytest.approx(1.96 * pooled)  # a single run: its seed varies too
    assert frame.loc["B", "top3_conf"] == 0.5  # never narrower than the row's own sampling interval
    assert frame.loc["A", "recon_body"] == 1.0 and frame.loc["A", "train_clips"] == 100


def test_paper_tables_six_and_eight_are_fifteen_and_seventeen():
    t6, t15 = paper.table6(), paper.table15()
    np.testing.assert_array_equal(t6[["top3", "fid"]], t15[["top3", "fid"]])
    assert t6.loc[0, "diversity"] == 38.42 and t15.loc[0, "diversity"] == 38.34  # as printed
    assert t15.loc[0, "top1"] == paper.table2().set_index("method").loc["Tender", "top1"]  # Only high is Tender
    t8, t17 = paper.table8(), paper.table17()
    np.testing.assert_array_equal(t8[["top1", "fid", "diversity"]], t17[["top1", "fid", "diversity"]])
    naive = paper.table14().set_index("method").loc["VAE"]
    assert t17.loc[0, "top1"] == naive["top1"] and t17.loc[0, "fid"] == naive["fid"]  # MLD, whole-body = naive VAE


@pytest.mark.parametrize("table", ablations.TABLES)
def test_paper_table_has_our_key_columns(table):
    theirs = ablations.paper_table(table)
    assert set(ablations.PAPER_KEYS[table]) <= set(theirs.columns)
    assert {"top3", "fid"} <= set(theirs.columns)
    assert not theirs.duplicated(ablations.PAPER_KEYS[table]).any()


def test_verdicts_pair_our_rows_with_the_papers():
    frames = {"5": pd.DataFrame([
        {"method": "PA-VAE-2-4", "top3": 0.40, "top3_conf": 0.01, "fid": 0.5, "fid_conf": 0.01, "seeds": 3},
        {"method": "VAE", "top3": 0.30, "top3_conf": 0.01, "fid": 0.4, "fid_conf": 0.2, "seeds": 3}])}
    v = ablations.verdicts(frames)
    assert list(v["claim"]) == ["the part-aware VAE beats the naive VAE"] * 2  # the other Table 5 rows are absent
    assert list(v["verdict"]) == ["replicates", "inconclusive"]
    assert v.loc[0, "paper"] == "0.6509 vs 0.6317" and v.loc[0, "seeds"] == "3 / 3"
    frames = {"6": pd.DataFrame([
        {"data": d, "evaluator": e, "top3": t, "top3_conf": 0.01, "fid": f, "fid_conf": 0.01, "seeds": 1}
        for d, e, t, f in ((ablations.ONLY_HIGH, "molip", 0.3, 1.0), (ablations.ONLY_HIGH, "confidence", 0.4, 0.2),
                           (ablations.WITH_UNRELIABLE, "molip", 0.2, 2.0))])}
    v = ablations.verdicts(frames)
    assert v.loc[0, "paper"] == "0.6774 vs 0.6674"  # our unreliable clips stand beside the paper's Argument-1
    evaluator = v[v["claim"].str.contains("MoLIP trained with confidence")]
    assert list(evaluator["metric"]) == ["top3"]  # FIDs of two evaluators are in two embedding spaces


@pytest.mark.parametrize("bad, word", [
    (dict(ablation_tables=["9"]), "ablation_tables"),
    (dict(part_variants=["PA-VAE-9"]), "part_variants"),
    (dict(latent_variants=["VAE"]), "latent_variants"),
    (dict(conditionings=["film"]), "conditionings"),
    (dict(test_clips=10), "test_clips"),
    (dict(test_subset="D4"), "test_subset"),
    (dict(seeds=0), "seeds"),
    (dict(vae_steps=-1), "vae_steps"),
])
def test_study_config_rejects_bad_values(bad, word):
    with pytest.raises(ValueError, match=word):
        ablations.AblationStudyConfig(**bad)


CALLS = []


def record_row(run):
    """Stands in for ablations.row_result: notes the run, trains nothing."""
    CALLS.append((run.molip.use_confidence, run.untrained, run.vae_selection, run.test_selection))
    return {"untrained": run.untrained}


def test_run_rows_trains_each_denoiser_once_before_the_rows_that_reuse_it(monkeypatch):
    calls = CALLS
    calls.clear()
    monkeypatch.setattr(ablations, "row_result", record_row)
    monkeypatch.setattr("tenderlib.parallel.train_ahead", lambda specs, jobs: calls.append(("ahead", len(specs))))
    s = setup(ablation_tables=["6"])
    rows = ablations.plan(s, FakeStore())
    results = ablations.run_rows(rows, jobs=1)
    assert calls[0] == ("ahead", 2 * len(rows))
    order = calls[1:]
    assert len(order) == len(set(order)) == len(rows)  # every distinct run once
    # the two trainings first (scored by the first evaluator), then their other evaluator and the floor
    assert [c[:3] for c in order[:2]] == [(False, False, selection("D1", "train")),
                                          (False, False, ablations.with_unreliable())]
    assert all(confidence or untrained for confidence, untrained, *_ in order[2:])
    assert [res["untrained"] for res in results] == [r.run.untrained for r in rows]


def test_test_indices_are_evenly_spaced_and_new_fields_keep_old_score_names():
    class Store:
        def select(self, sel):
            return np.arange(100, 200)

    g = generation.notebook_configs("smoke")
    base = generation.TableRun("smoke", g.data, g.vae, g.vae_train, g.molip, g.molip_train, selection("D1", "train"),
                               selection("D1", "test"), g.denoiser, g.ablation, selection("D1", "train"), g.metrics)
    assert generation.test_indices(Store(), base).tolist() == list(range(100, 200))
    picked = generation.test_indices(Store(), dataclasses.replace(base, test_clips=34))
    assert picked[0] == 100 and picked[-1] == 199 and len(set(picked.tolist())) == 34
    assert np.diff(picked).min() >= 2 and np.diff(picked).max() <= 4
    # runs filed before these fields existed keep their score files
    hashed = params._hashed(base)
    assert "molip_selection" not in hashed and "test_clips" not in hashed
    assert params.config_hash(dataclasses.replace(base, test_clips=34)) != params.config_hash(base)


def test_run_rows_trains_a_denoiser_once_whatever_its_rows_score_on(monkeypatch):
    from tenderlib import parallel

    batches = []
    monkeypatch.setattr(parallel, "map_runs", lambda fn, tasks, jobs, name: batches.append(list(tasks)) or [{}] * len(tasks))
    monkeypatch.setattr(parallel, "train_ahead", lambda specs, jobs: None)
    s = setup(ablation_tables=["5"], part_variants=["PA-VAE-2-4"], seeds=1)
    first, floor = ablations.plan(s, FakeStore())
    other_test = dataclasses.replace(first, run=dataclasses.replace(first.run, test_selection=selection("D2", "test")))
    ablations.run_rows([first, other_test, floor], jobs=2)
    # side by side: only the first row trains; the row scored on other clips and the floor load what it left
    assert batches == [[first.run], [other_test.run, floor.run]]
