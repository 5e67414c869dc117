"""The unseen-classes report: intervals over seeds, paired with the pixels, numbers worked out by hand."""

import pandas as pd
import pytest

from siamese_mnist.plotting import unseen_picture as picture
from siamese_mnist.studies.replicates import ReportError, Run, read_replicates, write_replicates
from siamese_mnist.studies.unseen import METRICS, markdown, queue_sets, summarise

MODELS = ("cnn", "siamese", "triplet")


def _run(seed, oneshot, pixels):
    """A run whose final epoch scores ``oneshot[m]`` on every held-out metric of model m, the pixels ``pixels``."""
    tables = {m: pd.DataFrame({"epoch": [0, 1], **{k: [0.2, oneshot[m]] for k in METRICS}}) for m in MODELS}
    return Run(f"unseen-s{seed}", "f" * 40, seed, tables, {}, {k: pixels for k in METRICS})


RUNS = [_run(0, {"cnn": 0.50, "siamese": 0.60, "triplet": 0.70}, 0.55),
        _run(1, {"cnn": 0.54, "siamese": 0.66, "triplet": 0.72}, 0.57),
        _run(2, {"cnn": 0.52, "siamese": 0.63, "triplet": 0.71}, 0.56)]


def test_summary_worked_out_by_hand():
    report = summarise(RUNS, [5, 6, 7, 8, 9])
    s = report["final"]["siamese"]["oneshot_holdout_acc"]
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.63) and s["sd"] == pytest.approx(0.03)  # 0.60, 0.66, 0.63
    # 95 % t-interval: 0.63 ± 4.303 × 0.03 / √3 = 0.63 ± 0.0745
    assert s["ci95"] == pytest.approx([0.63 - 0.07453, 0.63 + 0.07453], abs=1e-4)
    assert report["final"]["pixels"]["holdout_map_at_r"]["mean"] == pytest.approx(0.56)
    d = report["paired"]["siamese - pixels"]["oneshot_holdout_acc"]  # 0.05, 0.09, 0.07
    assert d["mean"] == pytest.approx(0.07) and d["sd"] == pytest.approx(0.02)
    d = report["paired"]["triplet - cnn"]["holdout_roc_auc"]  # 0.20, 0.18, 0.19
    assert d["mean"] == pytest.approx(0.19) and d["sd"] == pytest.approx(0.01)
    assert set(report["paired"]) == {"cnn - pixels", "siamese - pixels", "triplet - pixels", "siamese - cnn",
                                     "triplet - cnn"}
    text = markdown(report)
    assert "| 5-way one-shot accuracy | 52.00 ± 2.00" in text and "| verification ROC-AUC |" in text
    assert "scored on 5, 6, 7, 8, 9 alone" in text


def test_runs_without_the_pixels_held_out_figures_are_refused():
    runs = [_run(0, {m: 0.5 for m in MODELS}, 0.5), _run(1, {m: 0.5 for m in MODELS}, 0.5)]
    runs[1].pixels = {"map_at_r": 0.3}  # a run of a baseline stage without held-out classes
    with pytest.raises(ReportError, match="unseen-s1: metrics/pixels.json has no held-out figures"):
        summarise(runs, [5, 6])


def test_the_replicate_files_keep_the_pixels_and_give_the_same_report(tmp_path):
    write_replicates(RUNS, tmp_path)
    back = read_replicates(tmp_path)
    assert [r.pixels for r in back] == [r.pixels for r in RUNS]
    assert summarise(back, [5, 6, 7, 8, 9]) == summarise(RUNS, [5, 6, 7, 8, 9])


def test_the_picture_and_the_queue_command(monkeypatch):
    import numpy as np

    from siamese_mnist import plotting

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20)
    emb = {m: (rng.normal(size=(200, 2)) + labels[:, None], labels) for m in MODELS}
    png = picture(emb, [5, 6, 7, 8, 9])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert queue_sets(3, [5, 6]) == ["seed=3", "data.holdout_classes=[5,6]"]
    assert queue_sets(3, [5, 6], 64) == ["seed=3", "data.holdout_classes=[5,6]", "model.embedding_dim=64"]
    # at D = 64 the picture draws two of the 64 dimensions, and each panel says which
    titles = []
    close = plotting.plt.close
    monkeypatch.setattr(plotting.plt, "close", lambda fig: (titles.extend(ax.get_title() for ax in fig.axes), close(fig)))
    picture({m: (np.pad(x, ((0, 0), (0, 62))), y) for m, (x, y) in emb.items()}, [5, 6, 7, 8, 9])
    assert {"cnn: seen digits · dims 1–2 of 64", "triplet: unseen digits · dims 1–2 of 64"} <= set(titles)
    assert len(titles) == 6 and all(t.endswith(" · dims 1–2 of 64") for t in titles)


def test_another_dimension_is_another_study_with_its_own_files(tmp_path, monkeypatch, capsys):
    from siamese_mnist.studies.unseen import experiment_name, main, varied

    assert experiment_name(2) == "unseen-s2" and experiment_name(2, 64) == "unseen-d64-s2"
    assert varied([5, 6], 64) == {"data.holdout_classes": [5, 6], "model.embedding_dim": 64}
    assert varied([5, 6], None) == {"data.holdout_classes": [5, 6]}
    # the D = 64 report reads its own replicate folder, none of the 2-D study's files
    from siamese_mnist.studies.replicates import write_replicates

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("render: {epochs: [0]}\n")
    write_replicates(RUNS, tmp_path / "metrics/unseen")
    assert main(["report", "--from-files"]) == 0 and f"{len(RUNS)} " in capsys.readouterr().out
    assert main(["report", "--dim", "64", "--from-files"]) == 2
    assert "0 unseen-classes run(s) found" in capsys.readouterr().err


def test_a_dimension_is_paired_seed_by_seed_with_the_2d_runs(tmp_path, monkeypatch, capsys):
    from siamese_mnist.studies.replicates import write_replicates
    from siamese_mnist.studies.unseen import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("render: {epochs: [0]}\n")
    write_replicates(RUNS, tmp_path / "metrics/unseen")  # 2-D: CNN 0.50, 0.54, 0.52
    wide = [_run(2, {"cnn": 0.62, "siamese": 0.63, "triplet": 0.70}, 0.56),  # seeds 1 and 2 of the 2-D study's 0-2
            _run(1, {"cnn": 0.64, "siamese": 0.66, "triplet": 0.72}, 0.57)]
    write_replicates(wide, tmp_path / "metrics/unseen-d64")
    assert main(["report", "--dim", "64", "--from-files"]) == 0
    text = capsys.readouterr().out
    # CNN, seed by seed: 0.64 - 0.54, 0.62 - 0.52 = +0.10 each (by position, 0.64 - 0.50: +0.14); Siamese 0, 0
    assert "## Against `metrics/unseen/` (these runs − those, same seed: 1, 2)" in text
    assert "| 5-way one-shot accuracy | 10.00 ± 0.00 [10.00, 10.00] | 0.00 ± 0.00 [0.00, 0.00] |" in text
    assert "(`metrics/unseen-d64.json`; each run's tables: `metrics/unseen-d64/`)" in text
    assert "Arm: `--set data.holdout_classes=[5, 6, 7, 8, 9] --set model.embedding_dim=64`" in text
    write_replicates(RUNS[:2], tmp_path / "metrics/unseen-2d")
    assert main(["report", "--dim", "64", "--from-files", "--against", "metrics/unseen-2d"]) == 2
    err = capsys.readouterr().err
    assert "--against metrics/unseen-2d: no replicate of seed 2 to pair with (it holds seeds 0, 1)" in err
    assert main(["report", "--dim", "64", "--from-files", "--against", "nowhere"]) == 2
    assert "--against nowhere: no replicate file (seed-<N>.json) there" in capsys.readouterr().err
    assert "Against" not in markdown(summarise(RUNS, [5, 6, 7, 8, 9]))  # the 2-D report as it was


def test_too_few_runs_say_how_to_get_them():
    with pytest.raises(ReportError, match=r"^1 unseen-classes run\(s\) found \(held out: \[5, 6, 7, 8, 9\]\); the report "
                                          r"needs at least 2 seeds: python -m siamese_mnist unseen queue, then"):
        summarise(RUNS[:1], [5, 6, 7, 8, 9])


def test_a_bad_holdout_list_is_one_line_naming_the_value(capsys):
    from siamese_mnist.studies.unseen import main
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--holdout", "5,x"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert exit_.value.code == 2
    assert err.endswith("argument --holdout: '5,x' is not a comma-separated list of class numbers, e.g. 5,6,7,8,9")


@pytest.mark.parametrize("args, message", [
    (["--seeds", "-1"], "unseen: --seeds: seed: -1 is out of range; allowed 0..4294967295"),
    (["--seeds", "1", "1"], "unseen: --seeds 1 1: a seed twice; each is one replicate"),
    (["--holdout", "10"], "unseen: --holdout: data.holdout_classes: class 10 is out of range; allowed 0..9"),
    (["--dim", "0"], "unseen: --dim: model.embedding_dim: 0 is out of range; allowed >= 1"),
])
def test_what_check_would_refuse_is_refused_when_planning(args, message, capsys, monkeypatch):
    from pathlib import Path

    from siamese_mnist.studies.unseen import main

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the project's params.yaml; nothing is queued
    assert main(["queue", "--dry-run", *args]) == 2
    assert capsys.readouterr().err.strip() == message


def test_a_fresh_clone_plans_no_seed_the_committed_files_hold(capsys, monkeypatch):
    # the report takes the five committed replicates (metrics/unseen/seed-*.json) in a clone without the
    # experiments: the queue must count them as done too, not plan five full runs again
    from pathlib import Path

    from siamese_mnist.studies.unseen import main

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    assert main(["queue", "--dry-run"]) == 0
    assert capsys.readouterr().err.strip().splitlines()[-1] == "0 run(s) to queue"
