"""The statistics of the seed and unseen reports against values worked out by hand."""

import math

import pytest

from siamese_mnist.studies.stats import interval, paired


T_975_2DF = 4.302652729911275  # Student's t, 97.5th percentile, 2 degrees of freedom (tables: 4.303)
T_975_1DF = 12.706204736174698  # the same, 1 degree of freedom (tables: 12.706)


def test_interval_of_three_values():
    s = interval([1.0, 2.0, 3.0])
    # mean 2, sample sd sqrt(((1-2)² + 0 + (3-2)²) / 2) = 1, half-width t·sd/√3
    half = T_975_2DF / math.sqrt(3)
    assert s["n"] == 3 and s["mean"] == 2.0 and s["sd"] == pytest.approx(1.0)
    assert s["ci95"] == pytest.approx([2 - half, 2 + half])
    assert interval([0.5]) == {"n": 1, "mean": 0.5, "sd": None, "ci95": None}


def test_paired_difference_pairs_each_replicate_with_itself():
    # per-seed differences 2, 3, 1: mean 2, sd 1. Unpaired (or misaligned) they would spread far wider.
    s = paired([3.0, 5.0, 4.0], [1.0, 2.0, 3.0])
    assert s["mean"] == pytest.approx(2.0) and s["sd"] == pytest.approx(1.0)
    assert s["ci95"][0] == pytest.approx(2 - T_975_2DF / math.sqrt(3))


def test_an_interval_is_clipped_to_the_range_of_its_metric():
    # 0.97, 0.98, 0.99: mean 0.98, sd 0.01, half-width 4.3027 · 0.01 / √3 = 0.02484: [0.95516, 1.00484] -> high end 1
    s = interval([0.97, 0.98, 0.99], (0.0, 1.0))
    assert s["ci95"] == pytest.approx([0.98 - 0.0248414, 1.0]) and s["clipped"] == [False, True]
    assert interval([0.97, 0.98, 0.99])["clipped"] == [False, False]  # unbounded: the t-interval as it is
