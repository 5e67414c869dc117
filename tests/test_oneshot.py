"""The one-shot protocol's scores, on numbers worked out by hand, and the runs split against Lake's scorer."""

from __future__ import annotations

import numpy as np
import pytest

from siamese_mnist import lake_runs
from siamese_mnist.datasets.omniglot_splits import read_runs, runs_split
from siamese_mnist.oneshot import draw_episodes, episode_accuracy


def test_a_query_goes_to_the_nearest_prototype_the_mean_of_its_supports():
    # class 0's supports at 8 and 0 (prototype 4), class 1's both at 9 (prototype 9); the query of class 1 at 7 is
    # 3 from prototype 0 and 2 from prototype 1: right. Its nearest single support (8, class 0) would be wrong.
    x = np.array([[0.0], [8.0], [9.0], [9.0], [7.0]])
    labels = np.array([0, 0, 1, 1, 1])
    supports, query = np.array([[1, 0], [2, 3]]), np.array([4])
    assert episode_accuracy(x, labels, [(supports, query)]) == 1.0
    one_shot = supports[:, :1]  # the supports at 8 and 9: the query at 7 goes to class 0, wrongly
    assert episode_accuracy(x, labels, [(one_shot, query)]) == 0.0
    assert episode_accuracy(x, labels, [(supports, query), (one_shot, query)]) == 0.5  # episodes average


def test_episodes_are_seeded_disjoint_and_cover_their_classes():
    labels = np.repeat(np.arange(30), 20)
    a = draw_episodes(labels, 5, 3, 50, seed=7)
    b = draw_episodes(labels, 5, 3, 50, seed=7)
    assert all((sa == sb).all() and (qa == qb).all() for (sa, qa), (sb, qb) in zip(a, b))
    assert any((sa != sc).any() for (sa, _), (sc, _) in zip(a, draw_episodes(labels, 5, 3, 50, seed=8)))
    for supports, queries in a:
        classes = labels[supports]
        assert supports.shape == (5, 3) and (classes == classes[:, :1]).all()  # one class per row
        assert len(set(classes[:, 0])) == 5 and len(queries) == 5 * 17  # every other drawing is a query
        assert not set(supports.ravel()) & set(queries)
        assert set(labels[queries]) == set(classes[:, 0])
    with pytest.raises(ValueError, match="need 5 classes of 21\\+ images; 0 have them"):
        draw_episodes(labels, 5, 20, 1, seed=0)  # a 20-shot episode leaves a class of 20 no query


def test_the_runs_error_is_each_test_images_nearest_training_image():
    # one run: training image c at 10c; test image of answer a at 10a + 1, but test images 0 and 1 drawn at
    # 10·5 + 1 and 10·6 + 1 (nearest to classes 5 and 6) while their answers are 0 and 1: 2 wrong of 20 = 10 %
    answers = np.arange(20)[::-1]
    x = np.concatenate([10.0 * np.arange(20), 10.0 * answers + 1])[:, None]
    x[20], x[21] = 51.0, 61.0
    labels = np.concatenate([np.arange(20), answers])
    assert lake_runs.embedding_error(x, labels) == 10.0
    good = np.concatenate([10.0 * np.arange(20), 10.0 * answers + 1])[:, None]
    assert lake_runs.embedding_error(np.concatenate([x, good + 1000]), np.concatenate([labels, labels + 20])) == 5.0


def test_the_runs_split_scores_as_lakes_runs_do(omniglot_dir):
    # the same rule through the split the pipeline embeds (105 x 105, no resampling) and through the reference
    # scorer on the PNGs (tests/test_lake_runs.py holds it to the published figures): the same error, run by run
    runs = read_runs(omniglot_dir / "all_runs.zip")
    images, labels = runs_split(omniglot_dir / "all_runs.zip", 105)
    assert images.shape == (800, 105, 105) and images.max() == 255  # ink bright, as the models see it
    x = images.reshape(800, -1).astype(np.float64)
    assert lake_runs.embedding_error(x, labels) == pytest.approx(lake_runs.score(runs, lake_runs.pixel_costs).mean())
    first = labels[:40]
    assert list(first[:20]) == list(range(20)) and sorted(first[20:]) == list(range(20))  # run 1: 20 + 20
    assert list(labels[40:60]) == list(range(20, 40))  # run 2's classes are 20..39
