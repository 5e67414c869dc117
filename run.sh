#!/usr/bin/env bash
# The two entry points of the README's quick start, on a fresh machine (Python 3.11, pip, git):
#   bash run.sh repro   set up .venv, then `dvc repro` the whole pipeline on params.yaml
#   bash run.sh test    set up .venv with the test extras, then run the test suite
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VENV:-.venv}"
what="${1:-}"
case "$what" in repro|test) ;; *) echo "usage: bash run.sh repro|test" >&2; exit 2 ;; esac

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

if [ "$what" = repro ]; then
  exec dvc repro
else
  shift || true
  exec python -m pytest "$@"
fi
