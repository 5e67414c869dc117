#!/usr/bin/env bash
# The README's quick start, on a fresh machine (Python 3.11, pip, git):
#   bash run.sh repro   set up .venv, then `dvc repro` the whole pipeline on params.yaml (the default run)
#   bash run.sh test    set up .venv with the test extras, then run the test suite (what .ci/run calls)
#   bash run.sh quick   set up, then the whole pipeline on a small config as the DVC experiment `quick`
#   bash run.sh setup   set up .venv only (e.g. to `dvc pull` a colleague's results)
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VENV:-.venv}"
what="${1:-}"
case "$what" in repro|test|quick|setup) ;; *) echo "usage: bash run.sh repro|test|quick|setup" >&2; exit 2 ;; esac

# The quick look: every model gets the same budget rule as the fair comparison needs at any data size —
# the CNN sees each training image once an epoch, the Siamese and triplet networks two images through the
# tower per training image (per_epoch as a float: N pairs, round(2N / 3) triplets).
QUICK_PARAMS=(-S data.train_limit=5000 -S data.val_size=500 -S data.test_limit=1000 -S data.fit_samples=1000
              -S train.epochs=6 -S siamese.per_epoch=2.0 -S triplet.per_epoch=2.0
              -S evaluate.silhouette_samples=500 -S 'render.epochs=[0,1,2,4,6]' -S render.grid_resolution=150)

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# Reinstall only when pyproject.toml changed since the last install into this venv.
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "installing the project and its dependencies into $VENV (first time: a few minutes) ..."
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]" 2> >(grep -v "^WARNING: Location" >&2)
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH" DVC_NO_ANALYTICS=1
# Experiments run in temporary copies of the repo: a relative mirror folder must become absolute.
if [ -n "${MNIST_MIRROR:-}" ] && [ -d "$MNIST_MIRROR" ]; then MNIST_MIRROR="$(cd "$MNIST_MIRROR" && pwd)"; fi

# One foreground run per workspace. DVC holds .dvc/tmp/lock (flock) while a command runs in it; a second
# `dvc exp run` writes its -S params into params.yaml before DVC refuses it, so the first run trains on them.
if [ "$what" = repro ] || [ "$what" = quick ]; then
  if command -v flock >/dev/null && [ -e .dvc/tmp/lock ] && ! flock -n .dvc/tmp/lock true; then
    echo "error: a dvc command is already running in this workspace; wait for it, or queue runs instead:" \
         "dvc exp run --queue -S ..., then dvc queue start" >&2
    exit 2
  fi
fi

case "$what" in
  setup)
    echo "ready: . $VENV/bin/activate, then e.g. dvc pull, dvc repro, dvc exp run" ;;
  repro)
    # Ctrl-C: the stage prints where it stopped (DVC adds its own "failed to reproduce" line); exit 130.
    trap 'interrupted=1' INT
    dvc repro || { rc=$?; [ -n "${interrupted:-}" ] && exit 130; exit "$rc"; } ;;
  quick)
    dvc exp remove quick >/dev/null 2>&1 || true  # a second quick run replaces the first (from the run cache)
    start=$SECONDS
    trap 'interrupted=1' INT
    dvc exp run --temp -n quick "${QUICK_PARAMS[@]}" || { rc=$?; [ -n "${interrupted:-}" ] && exit 130; exit "$rc"; }
    head=$(git rev-parse HEAD)
    mkdir -p quick
    git show "refs/exps/${head:0:2}/${head:2}/quick:plots/comparison_grid.png" > quick/comparison_grid.png
    echo "quick run: $((SECONDS - start)) s; grid: quick/comparison_grid.png; what changed and validation accuracy:"
    [ -t 1 ] || export COLUMNS="${COLUMNS:-160}"  # not a terminal: rich would cut the table at 80 columns
    dvc exp show --no-pager --only-changed --drop 'Created|params.yaml|.*/|pixels|\w+\.(val\.)?(logreg|knn|roc|pair|map|precision|oneshot|silhouette|epoch|train_loss)' --keep '\w+\.val\.logreg_acc' ;;
  test)
    shift || true
    # One worker per core (pytest-xdist); each worker's tests and pipelines use one thread (tests/conftest.py).
    # Each worker takes the next test as it frees up (one at a time: the default hands each worker a quarter
    # of the suite up front, which put every long test on one worker); the longest go first (LONG_TESTS).
    exec python -m pytest -n auto --dist load --maxschedchunk 1 "$@" ;;
esac
