"""`bash run.sh quick`'s config keeps the models' budgets in proportion: the CNN sees each training image once an
epoch, the Siamese and triplet networks two images through the tower per training image, at any data size.

Reads the overrides from run.sh itself and runs the real sample stage on them at two training-set sizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def quick_overrides() -> dict[str, str]:
    """{'data.train_limit': '5000', ...}: the -S overrides of run.sh's QUICK_PARAMS, as bash expands them."""
    script = 'eval "$(sed -n "/^QUICK_PARAMS=(/,/)$/p" run.sh)"; printf "%s\\n" "${QUICK_PARAMS[@]}"'
    words = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\n")
    return dict(w.split("=", 1) for w in words[1::2] if w)


def params_with(overrides: dict[str, str]) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for key, value in overrides.items():
        section, _, name = key.rpartition(".")
        params.setdefault(section, {})[name] = yaml.safe_load(value)
    return params


def test_the_quick_overrides_are_read_from_run_sh():
    o = quick_overrides()
    assert o["siamese.per_epoch"] == "2.0" and o["triplet.per_epoch"] == "2.0" and o["data.train_limit"] == "5000"


@pytest.mark.parametrize("train_limit", [5000, 20000])
def test_quick_budgets_follow_the_rule_at_two_data_sizes(raw_dir, tmp_path, train_limit):
    overrides = {**quick_overrides(), "data.train_limit": str(train_limit)}
    params = params_with(overrides)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    n = train_limit - params["data"]["val_size"]  # training images left after validation
    images = {}
    for model in ("cnn", "siamese", "triplet"):
        out = tmp_path / f"{model}.npz"
        subprocess.run([sys.executable, "stages/sample.py", model, str(raw_dir), str(out), "--params",
                        str(tmp_path / "params.yaml")], cwd=ROOT, check=True, capture_output=True)
        with np.load(out) as f:
            epochs, items, k = f["items"].shape
        assert epochs == params["train"]["epochs"]
        images[model] = items * k
    # 5000 -> 4500 training images: 4500, 9000 (4500 pairs), 9000 (3000 triplets)
    assert images == {"cnn": n, "siamese": 2 * n, "triplet": 3 * round(2 * n / 3)}
    assert abs(images["triplet"] - images["siamese"]) <= 1
