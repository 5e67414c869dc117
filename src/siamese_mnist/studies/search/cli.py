"""`python -m siamese_mnist search queue | select | apply`: the protocol is the package docstring (its --help)."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from ...errors import DiskFullError, ParamsError
from ...typed_yaml import read_yaml
from ..experiments import RepoReader, queue_runs, waiting_names
from . import __doc__ as PROTOCOL
from .apply import apply_winners
from .selection import markdown, summarise
from .spec import SPEC_FILE, SearchError, Spec, experiment_name, load_spec, overrides
from .trials import add_failed, collect, retry, slot_plan


def parse_share(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)/(\d+)", text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise argparse.ArgumentTypeError(f"{text!r} should be I/N with 1 <= I <= N, e.g. 1/2")
    return int(m.group(1)), int(m.group(2))


def queue(spec: Spec, rung: int, report: dict | None, done: set[str], waiting: set[str], render_epochs: list[int],
          share: tuple[int, int] = (1, 1)) -> list[tuple[str, list[str]]]:
    """(name, -S arguments) of each run of ``rung`` in this machine's share that is neither done nor waiting."""
    if not 0 <= rung < len(spec.epochs):
        raise SearchError(f"rung {rung}: search.yaml has rungs 0..{len(spec.epochs) - 1}")
    kept = None
    if rung > 0:
        before = (report or {}).get("rungs", [])
        if len(before) >= rung and before[rung - 1].get("note"):
            raise SearchError(f"rung {rung - 1}: {before[rung - 1]['note']}")
        if len(before) < rung or not before[rung - 1].get("kept"):
            raise SearchError(f"rung {rung} needs rung {rung - 1} finished and selected first: run its queue, then "
                              "python -m siamese_mnist search select --write")
        kept = before[rung - 1]["kept"]
    plan = slot_plan(spec, rung, kept)
    i, n = share
    mine = [s for k, s in enumerate(sorted(plan)) if k % n == i - 1]
    if not mine:
        raise SearchError(f"share {i}/{n}: rung {rung} has {len(plan)} run(s), so shares past {len(plan)} get none")
    return [(experiment_name(rung, s), overrides(spec, rung, plan[s], render_epochs))
            for s in mine if experiment_name(rung, s) not in done | waiting]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m siamese_mnist search", description=PROTOCOL,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    q = sub.add_parser("queue", help="queue the runs of a rung that are neither finished nor queued")
    q.add_argument("--rung", type=int, default=0)
    q.add_argument("--share", type=parse_share, default=(1, 1), metavar="I/N",
                   help="this machine's share of the rung's runs: every N-th, from the I-th (default 1/1: all)")
    q.add_argument("--dry-run", action="store_true", help="print the `dvc exp run --queue` commands only")
    q.set_defaults(failed=[], retry=[])  # queue plans from the recorded failures; it records none itself
    a = sub.add_parser("apply", help="write the winners of metrics/search.json into params.yaml, commented")
    a.add_argument("--json-out", default="metrics/search.json")
    a.add_argument("--params", default="params.yaml")
    s = sub.add_parser("select", help="rank the finished trials on validation; --write updates metrics/search.*")
    s.add_argument("--write", action="store_true")
    s.add_argument("--failed", action="append", default=[], metavar="NAME",
                   help="record run NAME (e.g. search-r0-t05) as failed: it diverged or cannot finish; ranked last "
                        "for every model, so its rung can complete (repeatable)")
    s.add_argument("--retry", action="append", default=[], metavar="NAME",
                   help="take back a recorded --failed NAME: `search queue` queues it again (repeatable)")
    for p in (q, s):
        p.add_argument("--spec", default=SPEC_FILE)
        p.add_argument("--json-out", default="metrics/search.json")
        p.add_argument("--markdown-out", default="metrics/search.md")
        p.add_argument("--params", default="params.yaml")
    return ap


def apply(args: argparse.Namespace) -> int:
    """``search apply``: the winners into params.yaml, which must still load, or nothing is written."""
    from ...atomic import write_bytes
    from ...config import params_from_dict

    try:
        report = json.loads(Path(args.json_out).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SearchError(f"{args.json_out}: cannot be read ({exc}); run search select --write first") from None
    text = apply_winners(Path(args.params).read_text(), report)
    params_from_dict(read_yaml(text), complete=True)  # still a valid params file, or nothing is written
    write_bytes(args.params, text.encode())
    print(f"wrote the winners into {args.params}: " + ", ".join(
        f"{m} trial {w['trial']}" for m, w in report["winners"].items()), file=sys.stderr)
    return 0


def read_search(spec: Spec, saved: dict | None, args: argparse.Namespace) -> tuple[dict, dict]:
    """(the finished trials by rung and slot, the report summarising them) from this repo's experiments and the
    committed report ``saved``: for ``queue``, what the committed selection plans; for ``select``, rung by rung."""
    reader = RepoReader(".")
    try:
        if args.command == "queue" and saved is not None:
            # what a later rung runs comes from the committed selection, as `queue` plans it: a machine
            # without the other machines' rung-0 experiments still sees its own rung-1 runs as done
            kept = {e["rung"]: e["kept"] for e in saved.get("rungs", []) if e.get("kept")}
            return collect(reader, spec, kept, saved), {}
        if set(args.retry) & set(args.failed):
            raise SearchError(f"{sorted(set(args.retry) & set(args.failed))[0]}: both --failed and --retry")
        saved = retry(saved, args.retry)
        kept, found, report = {}, {}, {}
        for r in range(len(spec.epochs)):  # a rung's plan needs the ranking of the rung before
            found = collect(reader, spec, kept, saved)
            add_failed(spec, found, args.failed, kept, final=r == len(spec.epochs) - 1)
            report = summarise(spec, found)
            kept = {e["rung"]: e["kept"] for e in report["rungs"] if e.get("kept")}
        return found, report
    finally:
        reader.close()


def queue_rung(spec: Spec, saved: dict | None, found: dict, args: argparse.Namespace) -> int:
    """``search queue``: the rung's runs in this machine's share that are neither finished nor waiting."""
    done = {t.name for rung in found.values() for t in rung.values()}
    render_epochs = read_yaml(Path(args.params).read_text())["render"]["epochs"]
    todo = queue(spec, args.rung, saved, done, set() if args.dry_run else waiting_names(), render_epochs, args.share)
    queue_runs(todo, args.dry_run)
    print(f"rung {args.rung}: {len(todo)} run(s) {'to queue' if args.dry_run else 'queued'}"
          + ("" if args.dry_run or not todo else
             "; run them: SIAMESE_MNIST_THREADS=1 dvc queue start -j <cores>, then `search select --write`"),
          file=sys.stderr)
    return 0


def select(report: dict, args: argparse.Namespace) -> int:
    """``search select``: the ranking to stdout, or with ``--write`` into metrics/search.{json,md}."""
    from ...atomic import write_bytes, write_json

    text = markdown(report)
    if not args.write:
        sys.stdout.write(text)
        return 0
    write_json(args.json_out, report)
    write_bytes(args.markdown_out, text.encode())
    print(f"wrote {args.json_out} and {args.markdown_out}: "
          + "; ".join(f"rung {e['rung']} {e['finished']}/{e['runs']}" for e in report["rungs"]))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "apply":
            return apply(args)
        spec = load_spec(args.spec)
        saved = json.loads(Path(args.json_out).read_text()) if Path(args.json_out).exists() else None
        found, report = read_search(spec, saved, args)
        return queue_rung(spec, saved, found, args) if args.command == "queue" else select(report, args)
    except SearchError as exc:
        print(f"search: {exc}", file=sys.stderr)
        return 2
    except ParamsError as exc:
        print(f"search: {args.params} with the winners would not load ({exc}); nothing written", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"search: `{' '.join(exc.cmd[:6])} ...` failed (exit {exc.returncode})", file=sys.stderr)
        return 2
    except DiskFullError as exc:
        print(f"search: {exc.strerror}", file=sys.stderr)
        return 2
