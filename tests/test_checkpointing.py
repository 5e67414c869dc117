import logging

import torch

from siamese_mnist.checkpointing import EpochCheckpointer
from siamese_mnist.config import ModelConfig, params_from_dict
from siamese_mnist.models import build_model
from siamese_mnist.training import TrainState

SMALL = {"model": {"conv_channels": [4, 8], "hidden": 16}}


def saved(tmp_path, params):
    model = build_model("siamese", ModelConfig(conv_channels=(4, 8), hidden=16))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    ck = EpochCheckpointer(tmp_path / "ck.pt", "siamese", params)
    ck.save(TrainState(epoch=1, history=[{"epoch": 1, "loss": 0.5}], dumps={"test": [torch.zeros(3, 2).numpy()] * 2}),
            model, opt, sched)
    return ck, model


def test_matching_checkpoint_resumes(tmp_path):
    p = params_from_dict(SMALL)
    ck, model = saved(tmp_path, p)
    fresh = build_model("siamese", ModelConfig(conv_channels=(4, 8), hidden=16))
    state, resume = EpochCheckpointer(tmp_path / "ck.pt", "siamese", p).restore(fresh)
    assert state.epoch == 1 and len(state.dumps["test"]) == 2 and "optimizer" in resume
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))


def test_checkpoint_under_other_params_is_ignored_with_one_line(tmp_path, caplog):
    saved(tmp_path, params_from_dict(SMALL))
    other = params_from_dict({**SMALL, "siamese": {"margin": 2.0}})
    fresh = build_model("siamese", ModelConfig(conv_channels=(4, 8), hidden=16))
    with caplog.at_level(logging.INFO):
        state, resume = EpochCheckpointer(tmp_path / "ck.pt", "siamese", other).restore(fresh)
    assert state is None and resume is None
    assert [r.message for r in caplog.records] == [f"ignoring checkpoint {tmp_path / 'ck.pt'}: made under other params"]


def test_cnn_checkpoint_ignores_siamese_params(tmp_path):
    a = EpochCheckpointer(tmp_path / "ck.pt", "cnn", params_from_dict(SMALL))
    b = EpochCheckpointer(tmp_path / "ck.pt", "cnn", params_from_dict({**SMALL, "siamese": {"margin": 2.0}}))
    assert a.tag == b.tag


def test_finished_checkpoint_is_small_and_not_resumed(tmp_path):
    p = params_from_dict(SMALL)
    ck, _ = saved(tmp_path, p)
    ck.finish()
    assert (tmp_path / "ck.pt").stat().st_size < 2000
    assert ck.restore(build_model("siamese", ModelConfig(conv_channels=(4, 8), hidden=16))) == (None, None)
