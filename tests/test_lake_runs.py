"""lake_runs.py: the 20-run scorer, held to the published figure of its baseline, and its parts worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from siamese_mnist.datasets.omniglot_splits import read_runs
from siamese_mnist.lake_runs import hausdorff_costs, modified_hausdorff, pixel_costs, run_error, score


@pytest.fixture(scope="module")
def runs(omniglot_dir):
    return read_runs(omniglot_dir / "all_runs.zip")


def test_the_runs_are_twenty_within_alphabet_twenty_way_one_shot_tasks(runs):
    assert [r.name for r in runs] == [f"run{i:02d}" for i in range(1, 21)]
    assert all(len(r.train) == len(r.test) == 20 for r in runs)
    assert all(sorted(r.answers) == list(range(20)) for r in runs)  # each character asked once
    # run01's first lines of class_labels.txt: item01 shows class08, item02 class09, item03 class02
    assert runs[0].answers[:3] == [7, 8, 1]


def test_the_modified_hausdorff_distance_gives_lake_et_al_s_38_8_percent(runs):
    # Lake, Salakhutdinov & Tenenbaum 2015 (Science 350:1332), and upstream's demo: 38.8 % error over the 400 trials
    errors = score(runs, hausdorff_costs)
    assert round(float(errors.mean()), 1) == 38.8, errors.mean()


def test_nearest_neighbour_on_raw_pixels_is_near_chance_on_these_runs(runs):
    # published for scale: about 78-81 % (Koch, Zemel & Salakhutdinov 2015: 21.7 % correct, their preprocessing);
    # on the 105 x 105 images, ink 1, Euclidean distance: 81.0 % here (chance is 95 %)
    errors = score(runs, pixel_costs)
    assert 78.0 <= float(errors.mean()) <= 81.0, errors.mean()


def test_the_modified_hausdorff_distance_by_hand():
    a = np.array([[0.0, 0.0], [0.0, 2.0]])
    b = np.array([[0.0, 0.0], [0.0, 2.0], [0.0, 6.0]])
    # a to b: both points lie on b (0, 0); b to a: 0, 0 and 4 (6 - 2): mean 4/3; the larger of the two
    assert modified_hausdorff(a, b) == pytest.approx(4 / 3)
    assert modified_hausdorff(b, a) == pytest.approx(4 / 3)
    assert modified_hausdorff(a, a) == 0.0


def test_a_run_s_error_takes_the_first_of_equal_costs():
    costs = np.array([[1.0, 1.0, 2.0],  # tie between 0 and 1: 0 is taken, the answer 0 is right
                      [3.0, 1.0, 1.0],  # tie between 1 and 2: 1 is taken, the answer 2 is wrong
                      [0.5, 2.0, 0.1]])  # 2, right
    assert run_error(costs, [0, 2, 2]) == pytest.approx(100 / 3)
