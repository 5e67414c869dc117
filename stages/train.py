"""Stage `train@<model>`: train one model on its index file, dumping its embeddings every epoch (training.py).
A resume point is kept after every epoch outside DVC's outputs (checkpointing.py); a rerun resumes from it."""

import argparse
from pathlib import Path

import _bootstrap  # noqa: F401
from siamese_mnist.atomic import save_checkpoint, write_json, write_npz
from siamese_mnist.checkpointing import model_record, package_files, train_resumably
from siamese_mnist.config import MODELS, load_params
from siamese_mnist.live import runtime_summary
from siamese_mnist.runtime import run_stage, seed_everything, setup_machine
from siamese_mnist.training import prepare_training


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("raw_dir")
    ap.add_argument("index", help="the model's index file, from the sample stage")
    for out in ("--model-out", "--embeddings-out", "--live-dir", "--runtime-out", "--resume-point"):
        ap.add_argument(out, required=True)  # --resume-point: ignored by git and DVC, removed on success
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()
    p = load_params(args.params)
    device, threads, amp = setup_machine(p.train.amp, p.train.deterministic)
    seed_everything(p.seed)
    data = prepare_training(args.raw_dir, args.index, p, device)
    code = [Path(__file__), *package_files("siamese_mnist")]  # the modules this stage imported: the resume key
    model, state, ckpt = train_resumably(args.model, p, data, amp, args.resume_point, args.live_dir,
                                         inputs=[args.raw_dir, args.index, *code])
    arrays = state.embeddings(data.dump_labels)
    if p.data.dataset == "omniglot":  # 13 180 test images an epoch at D = 64: float16 halves a 100 MB file
        arrays = {k: v.astype("float16") if v.dtype.kind == "f" else v for k, v in arrays.items()}
    write_npz(args.embeddings_out, **arrays)
    save_checkpoint(args.model_out, model_record(args.model, model, ckpt.config, data, p.data.dataset))
    write_json(args.runtime_out, runtime_summary(state.history, device, threads, amp))
    ckpt.finish()


if __name__ == "__main__":
    run_stage(main)
