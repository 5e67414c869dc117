"""The search's selection: rankings worked out by hand, read from validation figures only."""

import copy
import json

from search_common import _rung0, _trial

from siamese_mnist.config import MODELS
from siamese_mnist.studies.search.selection import markdown, rank, summarise
from siamese_mnist.studies.search.spec import draw


def test_ranking_by_validation_worked_out_by_hand(spec):
    found = _rung0(spec)
    trials = list(found[0].values())
    assert [t.slot for t in rank(trials, "cnn", "val_logreg_acc")] == [2, 3, 1]
    assert [t.slot for t in rank(trials, "siamese", "val_logreg_acc")] == [3, 1, 2]
    assert [t.slot for t in rank(trials, "triplet", "val_logreg_acc")] == [1, 3, 2]
    report = summarise(spec, found)
    assert report["rungs"][0]["kept"] == {"cnn": [2, 3], "siamese": [3, 1], "triplet": [1, 3]}
    assert report["rungs"][1] | {"trials": []} == {"rung": 1, "epochs": 4, "runs": 2, "finished": 0, "trials": [],
                                                    "complete": False}
    assert report["budget"]["epochs_per_model"] == 3 * 2 + 2 * 4 and "winners" not in report


def test_the_selection_never_reads_a_test_figure(spec):
    """Scrambled test figures give the same search.json, byte for byte; scrambled validation ones do not
    (so the comparison can fail)."""
    found = _rung0(spec)
    before = json.dumps(summarise(spec, found), sort_keys=True)
    scrambled = copy.deepcopy(found)
    for t in scrambled[0].values():
        for m in MODELS:
            for k in t.metrics[m]:
                if k != "val":
                    t.metrics[m][k] = -t.metrics[m][k] if isinstance(t.metrics[m][k], float) else "x"
    assert json.dumps(summarise(spec, scrambled), sort_keys=True) == before
    for t in scrambled[0].values():
        t.metrics["cnn"]["val"]["logreg_acc"] = 1.0 - t.metrics["cnn"]["val"]["logreg_acc"]
    assert summarise(spec, scrambled)["rungs"][0]["kept"]["cnn"] == [1, 3]


def test_the_last_rung_picks_the_winners_and_the_table_shows_them(spec):
    found = _rung0(spec)
    kept = summarise(spec, found)["rungs"][0]["kept"]
    # rung 1: slot k runs each model's k-th kept trial; the second-kept CNN (trial 3) now beats the first (2)
    val = {1: {"cnn": (0.96, 0.9), "siamese": (0.99, 0.9), "triplet": (0.98, 0.9)},
           2: {"cnn": (0.98, 0.9), "siamese": (0.97, 0.9), "triplet": (0.97, 0.9)}}
    found[1] = {k: _trial(spec, 1, k, {m: kept[m][k - 1] for m in MODELS}, val[k], {m: 0.5 for m in MODELS})
                for k in (1, 2)}
    report = summarise(spec, found)
    assert report["rungs"][1]["ranking"] == {"cnn": [3, 2], "siamese": [3, 1], "triplet": [1, 3]}
    assert {m: w["trial"] for m, w in report["winners"].items()} == {"cnn": 3, "siamese": 3, "triplet": 1}
    assert report["winners"]["cnn"]["experiment"] == "search-r1-k2"
    assert report["winners"]["cnn"]["settings"] == draw(spec, 3)["cnn"]
    text = markdown(report)
    assert "## Winners" in text and "| cnn | 3 | lr=" in text and "| 2 (kept) |" in text
    assert "test" not in text.replace("no test figure", "")
