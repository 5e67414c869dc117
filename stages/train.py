"""Stage `train_<model>`: train one model (cnn, siamese, triplet), dumping 2-D embeddings every epoch.

A checkpoint is written after every epoch; a rerun with the same params resumes from it and
ends byte-identical to an uninterrupted run.
"""

import argparse
import _bootstrap  # noqa: F401
import torch

from siamese_mnist.checkpointing import EpochCheckpointer
from siamese_mnist.config import MODELS, load_params
from siamese_mnist.data import load_subset, stratified_subset, training_pool
from siamese_mnist.io import load_npz, write_csv, write_json, write_npz, save_checkpoint
from siamese_mnist.models import build_model
from siamese_mnist.runtime import (cpu_name, resolve_device, run_stage, seed_everything, set_determinism,
                                   set_threads)
from siamese_mnist.training import Normalizer, to_device_images, train
from siamese_mnist.reporting import history_frames, runtime_summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("raw_dir")
    ap.add_argument("--index", help="the model's training index file (pairs, triplets), if it has one")
    ap.add_argument("--model-out", required=True)
    ap.add_argument("--embeddings-out", required=True)
    ap.add_argument("--history-out", required=True)
    ap.add_argument("--timing-out", required=True)
    ap.add_argument("--runtime-out", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    cfg = p.optim(args.model)
    threads = set_threads(p.train.threads)
    device = resolve_device(p.train.device)
    set_determinism(p.train.deterministic)
    seed_everything(p.train.seed)

    images, labels = load_subset(args.raw_dir, "train", p.data.train_limit, p.data.subset_seed)
    test_images, test_labels = load_subset(args.raw_dir, "test", p.data.test_limit, p.data.subset_seed)
    fit_idx = stratified_subset(labels, p.evaluate.fit_samples, p.evaluate.seed)
    norm = Normalizer.fit(images)
    x = to_device_images(images, device)
    y = torch.from_numpy(labels).to(device)
    dump_sets = {"test": to_device_images(test_images, device), "fit": x[torch.from_numpy(fit_idx).to(device)]}
    pool = training_pool(labels, p.data.holdout_classes)  # held-out classes never reach training
    items = targets = None
    if cfg.index_section:
        if not args.index:
            ap.error(f"--index is required for the {args.model} model ({cfg.index_section} file)")
        f = load_npz(args.index)
        items, targets = f["items"], f.get("targets")
        if items.shape[0] < p.train.epochs:
            ap.error(f"{args.index} holds {items.shape[0]} epochs, train.epochs is {p.train.epochs}")
        if items.max() >= len(labels):
            ap.error(f"{args.index} indexes image {items.max()}, the train split has {len(labels)}")

    model = build_model(args.model, p.model, cfg)
    ckpt = EpochCheckpointer(args.checkpoint, args.model, p)
    state, resume = ckpt.restore(model)
    state = train(args.model, model, x, y, cfg, p.train.epochs, p.train.seed, norm, dump_sets,
                  p.train.eval_batch_size, items=items, targets=targets, pool=pool, amp=p.train.amp,
                  state=state, resume=resume, on_epoch_end=ckpt.save)

    write_npz(args.embeddings_out, test=state.stack("test"), test_labels=test_labels,
              fit=state.stack("fit"), fit_labels=labels[fit_idx])
    save_checkpoint(args.model_out, {"model": args.model, "state_dict": model.cpu().state_dict(),
                                     "config": ckpt.config, "normalizer": [norm.mean, norm.std]})
    losses, timing = history_frames(state.history)
    write_csv(args.history_out, losses)
    write_csv(args.timing_out, timing)
    write_json(args.runtime_out, runtime_summary(state.history, device, threads, cpu_name()))
    ckpt.finish()


if __name__ == "__main__":
    run_stage(main)
