"""What the search tests share: a small search file (SPEC; the ``spec`` fixture in this folder's conftest.py
loads it), finished trials whose figures are worked out by hand, and the params text `search apply` edits."""

from pathlib import Path

from siamese_mnist.config import MODELS
from siamese_mnist.studies.search.spec import draw, experiment_name
from siamese_mnist.studies.search.trials import Trial

ROOT = Path(__file__).resolve().parents[2]
SPEC = """
seed: 7
trials: 3
rungs:
- epochs: 2
- epochs: 4
  keep: 2
select: val_logreg_acc
space:
  every_model:
    lr: {log_uniform: [0.0001, 0.01]}
    batch_size: {choice: [64, 128]}
  triplet:
    mining: {choice: [none, hardest]}
"""


def _trial(spec, rung, slot, trial_of, val, test):
    """A finished run whose models all score ``val``/``test`` figures (per model dicts of logreg, map)."""
    metrics = {m: {"logreg_acc": test[m], "map_at_r": test[m], "roc_auc": 0.9,
                   "val": {"logreg_acc": val[m][0], "map_at_r": val[m][1], "roc_auc": 0.99}} for m in MODELS}
    settings = {m: draw(spec, trial_of[m])[m] for m in MODELS}
    return Trial(experiment_name(rung, slot), f"{rung}{slot}" * 20, rung, slot, trial_of, settings, metrics,
                 {m: 60.0 * slot for m in MODELS})


def _rung0(spec):
    # val (logreg, MAP@R): cnn ranks 2 > 3 > 1; siamese 1 and 3 tie on logreg, 3 wins on MAP@R; triplet 3 and 1
    # tie on both, the lower trial first. Test figures rank the other way round.
    val = {1: {"cnn": (0.90, 0.8), "siamese": (0.95, 0.8), "triplet": (0.97, 0.9)},
           2: {"cnn": (0.99, 0.8), "siamese": (0.94, 0.9), "triplet": (0.96, 0.9)},
           3: {"cnn": (0.95, 0.8), "siamese": (0.95, 0.9), "triplet": (0.97, 0.9)}}
    test = {t: {m: 1.0 - v[m][0] for m in MODELS} for t, v in val.items()}
    return {0: {t: _trial(spec, 0, t, {m: t for m in MODELS}, val[t], test[t]) for t in (1, 2, 3)}}


APPLY_BEFORE = """seed: 0                   # one knob
cnn:
  lr: 0.003
  shift: 2                # random translation augmentation, pixels
  block: conv_bn_relu_pool  # | conv_pool_bn_relu
siamese:
  lr: 0.003
  margin: 1.0
  per_epoch: 2.0          # the budget rule; an int = pairs
triplet:
  lr: 0.003
  mining: none            # none | semihard | hardest
"""
APPLY_AFTER = """seed: 0                   # one knob
cnn:
  lr: 0.00692             # searched: trial 3
  shift: 1                # searched: trial 3; random translation augmentation, pixels
  block: conv_pool_bn_relu # searched: trial 3; | conv_pool_bn_relu
siamese:
  lr: 0.000336            # searched: trial 1
  margin: 2.0             # searched: trial 1
  per_epoch: 2.0          # the budget rule; an int = pairs
triplet:
  lr: 0.0066              # searched: trial 1
  mining: semihard        # searched: trial 1; none | semihard | hardest
"""
