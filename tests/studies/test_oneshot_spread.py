"""The Omniglot seeds report, on numbers worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from siamese_mnist.studies.oneshot_spread import against, markdown, summarise
from siamese_mnist.studies.replicates import ReportError, Run

MODELS = ("cnn", "siamese", "triplet")


def run(seed: int, lake: dict[str, float], pixels_lake: float = 79.0) -> Run:
    def table(err):
        return pd.DataFrame({"epoch": [0, 1], "lake_error": [80.0, err], "way5_shot1_acc": [0.5, 0.9],
                             "map_at_r": [0.1, 0.3], "roc_auc": [0.7, 0.95], "transfer_acc": [0.4, 0.6],
                             "val_oneshot_acc": [0.3, 0.8], "val_map_at_r": [0.1, 0.4], "val_roc_auc": [0.7, 0.9]})
    pixels = {"lake_error": pixels_lake, "way5_shot1_acc": 0.4, "map_at_r": 0.03, "roc_auc": 0.65,
              "transfer_acc": 0.43, "hausdorff_lake_error": 38.75}
    return Run(f"seed-{seed}", "f" * 40, seed, {m: table(lake[m]) for m in MODELS}, pixels=pixels)


def test_means_intervals_and_paired_differences_over_seeds():
    runs = [run(0, {"cnn": 20, "siamese": 18, "triplet": 30}), run(1, {"cnn": 22, "siamese": 21, "triplet": 30}),
            run(2, {"cnn": 24, "siamese": 21, "triplet": 30}, pixels_lake=80.0)]
    report = summarise(runs, MODELS)
    cnn = report["final"]["cnn"]["lake_error"]
    # 20, 22, 24: mean 22, sd 2; t(0.975, 2) = 4.303: half-width 4.303 · 2 / √3 = 4.969
    assert cnn["mean"] == pytest.approx(22) and cnn["sd"] == pytest.approx(2)
    assert cnn["ci95"] == pytest.approx([17.031, 26.969], abs=1e-3)
    # siamese - cnn, seed by seed: -2, -1, -3: mean -2, sd 1
    d = report["paired"]["siamese - cnn"]["lake_error"]
    assert d["mean"] == pytest.approx(-2) and d["sd"] == pytest.approx(1)
    # cnn - pixels: 20 - 79, 22 - 79, 24 - 80: mean -57.33
    assert report["paired"]["cnn - pixels"]["lake_error"]["mean"] == pytest.approx(-172 / 3)
    assert report["final"]["hausdorff"]["lake_error"]["mean"] == 38.75
    assert report["final"]["triplet"]["lake_error"]["sd"] == 0.0  # the same figure thrice: a zero-width interval
    text = markdown(report)
    assert "| Lake's 20 runs, error % | 22.0 ± 2.0 [17.0, 27.0] |" in text
    assert "| 5-way 1-shot % | 90.00 ± 0.00 [90.00, 90.00] |" in text
    assert "seeds 0, 1, 2" in text


def test_a_run_without_its_pixel_figures_is_refused():
    runs = [run(0, {"cnn": 20, "siamese": 18, "triplet": 30}), run(1, {"cnn": 22, "siamese": 21, "triplet": 30})]
    del runs[1].pixels["way5_shot1_acc"]
    with pytest.raises(ReportError, match="seed-1: metrics/baselines.json lacks a pixel figure"):
        summarise(runs, MODELS)


def test_against_pairs_each_seed_with_the_other_arms_run_of_that_seed():
    on = [run(0, {"cnn": 20, "siamese": 18, "triplet": 30}), run(2, {"cnn": 24, "siamese": 21, "triplet": 30}),
          run(1, {"cnn": 22, "siamese": 21, "triplet": 30})]
    off = [run(1, {"cnn": 25, "siamese": 21, "triplet": 30}), run(0, {"cnn": 21, "siamese": 18, "triplet": 31}),
           run(2, {"cnn": 27, "siamese": 22, "triplet": 29}), run(3, {"cnn": 90, "siamese": 90, "triplet": 90})]
    a = against(on, off, MODELS, "metrics/replicates")
    # cnn, seed by seed (0, 2, 1): 20 - 21, 24 - 27, 22 - 25 = -1, -3, -3: mean -7/3, sd 2/√3 (seed 3 unused)
    d = a["paired"]["cnn"]["lake_error"]
    assert a["seeds"] == [0, 2, 1] and d["mean"] == pytest.approx(-7 / 3) and d["sd"] == pytest.approx(2 / 3 ** 0.5)
    assert a["paired"]["triplet"]["lake_error"]["mean"] == pytest.approx(0)  # -1, +1, 0
    assert a["paired"]["siamese"]["val_oneshot_acc"]["mean"] == 0.0  # the same validation figure in both arms
    report = {**summarise(on, MODELS), "against": a}
    assert "## Against `metrics/replicates` (this report − those runs, same seed: 0, 2, 1)" in markdown(report)
    # an arm's report names its own files and the params it varied, not the default report's
    text = markdown(report, "metrics/seeds-rot.json", "metrics/replicates-rot", {"cnn.rotations": True})
    assert "`metrics/seeds-rot.json` (their per-epoch tables: `metrics/replicates-rot/`)" in text
    assert "Arm: `--set cnn.rotations=true` — these runs differ from `params.yaml` in these params alone." in text
    assert "Arm:" not in markdown(report) and "`metrics/seeds.json`" in markdown(report)
    with pytest.raises(ReportError, match=r"^--against x: no replicate of seed 2 to pair with \(it holds seeds 0, 1\)"):
        against(on, off[:2], MODELS, "x")


def test_the_report_says_what_each_run_and_each_run_against_trained_with():
    # the precision changes the figures (bf16 where the CPU has it, fp32 elsewhere): a reader must see a mix
    on = [run(0, {"cnn": 20, "siamese": 18, "triplet": 30}), run(1, {"cnn": 22, "siamese": 21, "triplet": 30}),
          run(2, {"cnn": 24, "siamese": 21, "triplet": 30})]
    off = [run(s, {"cnn": 21, "siamese": 19, "triplet": 31}) for s in (0, 1, 2)]
    fp32 = {m: {"precision": "fp32", "cpu": "AMD EPYC"} for m in MODELS}
    for r in on[:2]:
        r.machine = fp32
    on[2].machine = {**fp32, "cnn": {"precision": "bf16-autocast", "cpu": "AMD EPYC"}}
    for r in off:
        r.machine = {m: {"precision": "bf16-autocast", "cpu": "AMD EPYC"} for m in MODELS}
    off[0].machine = {}  # a run that recorded none
    report = {**summarise(on, MODELS), "against": against(on, off, MODELS, "metrics/replicates-off")}
    assert [r["trained_with"] for r in report["runs"]] == ["fp32 on AMD EPYC"] * 2 + [
        "bf16-autocast on AMD EPYC; fp32 on AMD EPYC"]
    text = markdown(report)
    assert ("Trained with: fp32 on AMD EPYC (seeds 0, 1); bf16-autocast on AMD EPYC; fp32 on AMD EPYC (seed 2)."
            in text.splitlines())
    assert "Those runs trained with: unrecorded (seed 0); bf16-autocast on AMD EPYC (seeds 1, 2)." in text.splitlines()


def test_a_clipped_interval_gets_its_footnote_and_only_then():
    # CNN 1 % and 40 % over two seeds: mean 20.5, t(0.975, 1) = 12.71 · 27.58 / √2 reaches far below 0: clipped
    clipped = summarise([run(0, {"cnn": 1, "siamese": 1, "triplet": 1}),
                         run(1, {"cnn": 40, "siamese": 1, "triplet": 1})], MODELS)
    assert clipped["final"]["cnn"]["lake_error"]["ci95"][0] == 0.0
    assert "*: interval clipped to the metric's range" in markdown(clipped)
    steady = summarise([run(0, {"cnn": 20, "siamese": 20, "triplet": 20}),
                        run(1, {"cnn": 21, "siamese": 21, "triplet": 21})], MODELS)
    assert "*: interval clipped" not in markdown(steady, vary={"cnn.rotations": True})
