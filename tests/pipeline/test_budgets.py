"""The budget rule: the same params give every model the same, stated share of training at any data size.

Validation is a tenth of the training images; an epoch shows the CNN each remaining training image once
and puts two images through the tower per training image for the Siamese and triplet networks
(N pairs, round(2N / 3) triplets). Checked on the index files the real sample stage writes.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("train_limit, val, train", [(3_000, 300, 2_700), (12_000, 1_200, 10_800)])
def test_index_files_scale_with_the_data_by_the_stated_rule(tmp_path, raw_dir, train_limit, val, train):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert params["data"]["val_size"] == 0.1  # the rule as params.yaml states it, not a count fitted to MNIST
    assert params["siamese"]["per_epoch"] == params["triplet"]["per_epoch"] == 2.0
    params["data"].update(train_limit=train_limit)
    params["train"]["epochs"] = 2
    params["render"]["epochs"] = [0, 2]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    shapes = {}
    for model in ("cnn", "siamese", "triplet"):
        out = tmp_path / f"{model}.npz"
        subprocess.run([sys.executable, str(ROOT / "stages/sample.py"), model, str(raw_dir), str(out),
                        "--params", str(tmp_path / "params.yaml")], cwd=tmp_path, check=True, capture_output=True)
        with np.load(out) as f:
            shapes[model] = f["items"].shape
            used = np.unique(f["items"])
        assert len(used) <= train  # (which images: test_pipeline's held_out_classes_and_validation_images test)
    assert shapes == {"cnn": (2, train, 1), "siamese": (2, train, 2), "triplet": (2, round(2 * train / 3), 3)}
    images = {m: s[1] * s[2] for m, s in shapes.items()}  # images through the tower an epoch
    assert images["siamese"] == 2 * images["cnn"] and abs(images["triplet"] - images["siamese"]) <= 2
