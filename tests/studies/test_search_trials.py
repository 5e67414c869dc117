"""The search's trials: the runs read back (and refused where they ran other settings), the committed record,
and the runs recorded as failed."""

import json

import pytest
import yaml
from search_common import APPLY_BEFORE, ROOT, _rung0

from siamese_mnist.config import MODELS
from siamese_mnist.studies.search.cli import queue
from siamese_mnist.studies.search.selection import markdown, summarise
from siamese_mnist.studies.search.spec import SearchError, draw
from siamese_mnist.studies.search.trials import read_trial, recorded


def load_spec_epochs(spec, epochs):
    """``spec`` with rung 1 as long as rung 0 (so one fake file serves both)."""
    from dataclasses import replace

    return replace(spec, epochs=(epochs, epochs))


class FakeReader:
    def __init__(self, files):
        self.files = files

    def read(self, path, rev):
        return self.files[path]


def test_a_trial_that_ran_other_settings_than_the_file_draws_is_refused(spec):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for m in MODELS:
        params[m].update(draw(spec, 1)[m])
    params["train"]["epochs"] = 2
    files = {"params.yaml": yaml.safe_dump(params), "plots/eval/cnn.csv": "epoch\n0\n1\n2\n"}
    for m in MODELS:
        files[f"metrics/{m}.json"] = json.dumps({m: {"val": {"logreg_acc": 0.9, "map_at_r": 0.8, "roc_auc": 0.9}}})
        files[f"plots/eval/{m}.csv"] = "epoch\n0\n1\n2\n"
    plan = {1: {m: 1 for m in MODELS}}
    assert read_trial(FakeReader(files), "search-r0-t01", "a" * 40, spec, plan).settings == draw(spec, 1)
    cut = dict(files, **{"plots/eval/siamese.csv": "epoch\n0\n1\n"})  # stopped after epoch 1: not finished
    assert read_trial(FakeReader(cut), "search-r0-t01", "a" * 40, spec, plan) is None
    params["cnn"]["lr"] = 0.5
    files["params.yaml"] = yaml.safe_dump(params)
    # a rung-1 run of a setting the rung before no longer keeps is skipped, not fatal
    assert read_trial(FakeReader(files), "search-r1-k1", "a" * 40, load_spec_epochs(spec, 2), plan) is None
    with pytest.raises(SearchError, match=r"search-r0-t01 \(aaaaaaa\) ran cnn.lr=0.5, but search.yaml draws"):
        read_trial(FakeReader(files), "search-r0-t01", "a" * 40, spec, plan)


def test_the_committed_record_stands_in_for_experiments_this_clone_lacks(spec, tmp_path):
    found = _rung0(spec)
    saved = json.loads(json.dumps(summarise(spec, found)))  # metrics/search.json as committed
    again = recorded(spec, saved, {})
    assert sorted(again[0]) == [1, 2, 3]
    assert json.dumps(summarise(spec, again), sort_keys=True) == json.dumps(saved, sort_keys=True)
    saved["rungs"][0]["trials"][1]["settings"]["cnn"]["lr"] = 0.5  # recorded under another space: not taken
    assert sorted(recorded(spec, saved, {})[0]) == [1, 3]


def test_a_fresh_clone_writes_the_committed_tables_byte_for_byte(spec):
    # metrics/search.json is written with sorted keys (batch_size before lr); the tables' columns follow
    # search.yaml (lr, batch_size), whether a trial is read from an experiment or from the committed file
    found = _rung0(spec)
    saved = json.loads(json.dumps(summarise(spec, found), sort_keys=True))
    assert list(saved["rungs"][0]["trials"][0]["settings"]["cnn"]) == ["batch_size", "lr"]
    assert markdown(summarise(spec, recorded(spec, saved, {}))) == markdown(summarise(spec, found))
    assert "| trial | lr | batch_size | val logreg % |" in markdown(summarise(spec, found))


def test_a_run_recorded_as_failed_ranks_last_and_lets_its_rung_complete(spec):
    from siamese_mnist.studies.search.trials import add_failed

    found = _rung0(spec)
    del found[0][2]  # trial 2 diverged: no experiment; without --failed the rung waits for it forever
    assert not summarise(spec, found)["rungs"][0]["complete"]
    add_failed(spec, found, ["search-r0-t02"], {}, final=True)
    report = summarise(spec, found)
    # the hand ranking of the other two (see _rung0) with trial 2 last for every model, cnn's best included
    assert report["rungs"][0]["ranking"] == {"cnn": [3, 1, 2], "siamese": [3, 1, 2], "triplet": [1, 3, 2]}
    assert report["rungs"][0]["kept"] == {"cnn": [3, 1], "siamese": [3, 1], "triplet": [1, 3]}
    entry = report["rungs"][0]["trials"][1]
    assert entry["failed"] is True and entry["val"] is None and entry["settings"] == draw(spec, 2)
    assert "| 2 | " in markdown(report) and "| failed | failed | failed |" in markdown(report)
    saved = json.loads(json.dumps(report))  # committed: every clone sees the failure and queues nothing for it
    assert json.dumps(summarise(spec, recorded(spec, saved, {})), sort_keys=True) == json.dumps(saved, sort_keys=True)
    assert [n for n, _ in queue(spec, 0, saved, {t.name for t in recorded(spec, saved, {})[0].values()}, set(),
                                [0])] == []
    with pytest.raises(SearchError, match=r"--failed search-r0-t01: it finished"):
        add_failed(spec, found, ["search-r0-t01"], {}, final=True)
    with pytest.raises(SearchError, match=r"--failed search-r0-t09: rung 0 has no run 9"):
        add_failed(spec, found, ["search-r0-t09"], {}, final=True)
    with pytest.raises(SearchError, match=r"--failed search-r1-k1: .*rung 1 needs rung 0 finished"):
        add_failed(spec, {}, ["search-r1-k1"], {}, final=True)


def test_a_failed_run_is_never_kept_and_a_recorded_failure_can_be_taken_back(spec):
    from siamese_mnist.studies.search.apply import apply_winners
    from siamese_mnist.studies.search.trials import add_failed, retry

    found = _rung0(spec)
    del found[0][2], found[0][3]
    add_failed(spec, found, ["search-r0-t02", "search-r0-t03"], {}, final=True)
    report = summarise(spec, found)  # rung 1 keeps 2 per model; only trial 1 finished: nothing kept, said so
    assert "kept" not in report["rungs"][0] and "only 1 run(s) of rung 0 finished" in report["rungs"][0]["note"]
    with pytest.raises(SearchError, match=r"rung 0: rung 1 keeps 2, but only 1"):
        queue(spec, 1, report, set(), set(), [0])
    assert "**rung 1 keeps 2, but only 1" in markdown(report)
    saved = json.loads(json.dumps(report))
    again = retry(saved, ["search-r0-t03"])  # taken back: its record is gone, so `queue` runs it again
    done = {t.name for rung in recorded(spec, again, {}).values() for t in rung.values()}
    assert done == {"search-r0-t01", "search-r0-t02"}
    assert [n for n, _ in queue(spec, 0, again, done, set(), [0])] == ["search-r0-t03"]
    with pytest.raises(SearchError, match=r"--retry search-r0-t01: metrics/search.json records no failed run"):
        retry(saved, ["search-r0-t01"])
    with pytest.raises(SearchError, match=r"--failed search-r0-t2: the run is named search-r0-t02"):
        add_failed(spec, {}, ["search-r0-t2"], {}, final=True)
    # every run of the last rung failed: no winners, and apply says why
    found = _rung0(spec)
    kept = summarise(spec, found)["rungs"][0]["kept"]
    add_failed(spec, found, ["search-r1-k1", "search-r1-k2"], {0: kept}, final=True)
    report = summarise(spec, found)
    assert report["rungs"][1]["complete"] and "winners" not in report
    with pytest.raises(SearchError, match="no winners: every run of the last rung failed"):
        apply_winners(APPLY_BEFORE, report)
