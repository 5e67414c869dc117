"""Stage `train@<model>`: train one model on its index file, dumping its embeddings every epoch.

Dumped every epoch (epoch 0 = before training): a class-stratified subset of the training images
(``fit``, where the probes are fitted), the validation split and the test split. The input normaliser
is fitted on the training pool alone (no validation, test or held-out-class image).

A resume point is written after every epoch to an ignored folder (not a DVC output, so DVC's run
cache stays on); a rerun under the same params, inputs and code resumes from it and ends
byte-identical to an uninterrupted run. The device and thread count come from the environment
(SIAMESE_MNIST_DEVICE, SIAMESE_MNIST_THREADS), never from params: they change no result's identity.
"""

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401
import torch

import siamese_mnist
from siamese_mnist.checkpointing import EpochCheckpointer, package_files
from siamese_mnist.config import MODELS, load_params
from siamese_mnist.data import (background_level, check_dataset, load_class_names, load_splits, stratified_subset,
                                training_pool)
from siamese_mnist.io import load_npz, save_checkpoint, write_json, write_npz
from siamese_mnist.models import build_model
from siamese_mnist.reporting import LiveHistory, runtime_summary
from siamese_mnist.runtime import (cpu_name, machine_settings, release_free_memory, resolve_amp, resolve_device,
                                   run_stage, seed_everything, set_determinism, set_threads)
from siamese_mnist.training import Normalizer, to_device_images, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("raw_dir")
    ap.add_argument("index", help="the model's index file (per-epoch items), from the sample stage")
    ap.add_argument("--model-out", required=True)
    ap.add_argument("--embeddings-out", required=True)
    ap.add_argument("--live-dir", required=True, help="dvclive folder: per-epoch loss, lr, images/s")
    ap.add_argument("--runtime-out", required=True)
    ap.add_argument("--resume-point", required=True, help="ignored by git and DVC; removed on success")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    cfg = p.optim(args.model)
    device_name, threads = machine_settings()
    threads = set_threads(threads)
    device = resolve_device(device_name)
    amp = resolve_amp(p.train.amp, device)
    set_determinism(p.train.deterministic)
    seed_everything(p.seed)

    check_dataset(args.raw_dir, p.data)
    classes = load_class_names(args.raw_dir, p.data.dataset)
    splits = load_splits(args.raw_dir, p.data.train_limit, p.data.test_limit, p.data.val_size, p.seed)
    images, labels = splits.train
    fit_idx = stratified_subset(labels, min(p.data.fit_samples, len(labels)), p.seed)
    index = load_npz(args.index)
    items, targets = index["items"], index.get("targets")
    if items.shape[0] < p.train.epochs:
        ap.error(f"{args.index} holds {items.shape[0]} epochs, train.epochs is {p.train.epochs}")
    if items.max() >= len(labels):
        ap.error(f"{args.index} indexes image {items.max()}, the train split has {len(labels)}")
    pool = images[training_pool(labels, p.data.holdout_classes)]  # what the model may see
    norm, fill = Normalizer.fit(pool), background_level(pool)
    del pool
    release_free_memory()  # the normaliser's 345 MB temporary: not resident while training
    x = to_device_images(images, device)
    y = torch.from_numpy(labels).to(device)
    dump_sets = {"fit": x[torch.from_numpy(fit_idx).to(device)], "val": to_device_images(splits.val[0], device),
                 "test": to_device_images(splits.test[0], device)}

    image_size = images.shape[-1]
    model = build_model(args.model, p.model, cfg, image_size, len(classes))
    code = [Path(__file__), *package_files(siamese_mnist.__name__)]  # the modules this stage imported
    ckpt = EpochCheckpointer(args.resume_point, args.model, p, inputs=[args.raw_dir, args.index, *code],
                             precision="bf16" if amp else "fp32")
    state, resume = ckpt.restore(model)
    live = LiveHistory(args.model, args.live_dir)
    if state is not None:
        live.replay(state.history)

    def on_epoch_end(st, model, opt, sched) -> None:
        if st.history and st.history[-1]["epoch"] == st.epoch:
            live.log(st.history[-1])
        ckpt.save(st, model, opt, sched)

    state = train(args.model, model, x, y, cfg, p.train.epochs, p.seed, norm, dump_sets,
                  p.train.eval_batch_size, items=items, targets=targets, amp=amp, fill=fill,
                  state=state, resume=resume, on_epoch_end=on_epoch_end)

    write_npz(args.embeddings_out, fit=state.stack("fit"), fit_labels=labels[fit_idx],
              val=state.stack("val"), val_labels=splits.val[1], test=state.stack("test"), test_labels=splits.test[1])
    # A folder model records its input size and class names (compare resizes to it and names classes);
    # without them a checkpoint is MNIST-format: 28x28, the dataset's own class names.
    inputs = {"input": {"image_size": image_size, "classes": classes}} if p.data.dataset == "folder" else {}
    save_checkpoint(args.model_out, {"model": args.model, "state_dict": model.cpu().state_dict(),
                                     "config": ckpt.config, "normalizer": [norm.mean, norm.std], **inputs})
    live.end()
    write_json(args.runtime_out, runtime_summary(state.history, device, threads, cpu_name(), amp))
    ckpt.finish()


if __name__ == "__main__":
    run_stage(main)
