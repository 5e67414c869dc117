#!/bin/bash
# Do two revisions produce the same outputs, byte for byte, on the tiny MNIST config?
#
#   bash tools/same_outputs.sh REV_A REV_B [MNIST_MIRROR]
#
# Runs the real `dvc repro` of each revision's pipeline (tests/integration/conftest.py's tiny config,
# one thread) in a scratch folder and compares the md5 of every output. Wall-clock files differ by
# nature (dvclive/*/images_per_s.tsv, metrics/runtime/*.json). Use it before `dvc commit`-ing a
# refactor whose outputs should not change. Needs the project's .venv.
set -euo pipefail
a=$1 b=$2 mirror=${3:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data/mnist}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
export DVC_NO_ANALYTICS=1 SIAMESE_MNIST_THREADS=1 TQDM_DISABLE=1
for rev in "$a" "$b"; do
  git -C "$root" worktree add -f -q "$work/wt-$rev" "$rev"
  (cd "$work/wt-$rev" && "$root/.venv/bin/python" -c "
import sys; from pathlib import Path; sys.path.insert(0, '.')
from tests.integration.conftest import make_repo
make_repo(Path('$work/run-$rev'), '$mirror').dvc('repro')")
  (cd "$work/run-$rev" && find data models embeddings metrics plots dvclive -type f ! -path 'data/images/*' | sort \
     | xargs md5sum) > "$work/md5-$rev.txt"
  git -C "$root" worktree remove --force "$work/wt-$rev"
done
# (set -o pipefail made this an `if` on diff's own status, 1 whenever anything differs: it reported "same")
differ=$(diff "$work/md5-$a.txt" "$work/md5-$b.txt" | grep '^[<>]' | grep -v -e 'images_per_s.tsv' -e 'metrics/runtime/' || true)
if [ -n "$differ" ]; then
  echo "$differ"
  # A checkpoint that differs: are its tensors the same, and which recorded config keys changed?
  for pt in $(echo "$differ" | awk '{print $3}' | grep '\.pt$' | sort -u); do
    if [ ! -f "$work/run-$a/$pt" ] || [ ! -f "$work/run-$b/$pt" ]; then echo "$pt: in one revision only"; continue; fi
    "$root/.venv/bin/python" - "$work/run-$a/$pt" "$work/run-$b/$pt" "$pt" <<'PY'
import sys, torch
a, b = (torch.load(p, weights_only=True) for p in sys.argv[1:3])
same = a["state_dict"].keys() == b["state_dict"].keys() and all(torch.equal(t, b["state_dict"][k]) for k, t in a["state_dict"].items())
def flat(d, pre=""):
    return {k2: v2 for k, v in d.items() for k2, v2 in (flat(v, f"{pre}{k}.").items() if isinstance(v, dict) else [(pre + k, v)])}
fa, fb = flat({k: v for k, v in a.items() if k != "state_dict"}), flat({k: v for k, v in b.items() if k != "state_dict"})
changed = sorted(k for k in fa.keys() | fb.keys() if fa.get(k, "<absent>") != fb.get(k, "<absent>"))
print(f"{sys.argv[3]}: tensors {'identical' if same else 'DIFFER'}; other fields changed: "
      + (", ".join(f"{k} {fa.get(k, '<absent>')!r} -> {fb.get(k, '<absent>')!r}" for k in changed) or "none"))
PY
  done
  echo "outputs differ (above; besides wall-clock files; $(wc -l < "$work/md5-$a.txt") files compared); kept in $work"
  exit 1
fi
echo "same outputs: every file but the wall-clock ones is byte-identical ($(wc -l < "$work/md5-$a.txt") files)"
rm -rf "$work"
