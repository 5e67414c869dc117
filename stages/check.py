"""Stage `check`: validate the whole params file before DVC touches any other stage's outputs.

DVC deletes a changed stage's outputs before running its command. Every stage depends on this
one, which runs first and fails on a bad param, so a typo costs nothing. Beyond each param's own
range it checks what the params need of the data (a folder dataset is scanned: names, counts, file
kinds) and of the machine (memory). Its output is the same bytes whenever the params are valid: it
never makes another stage rerun.
"""

import argparse

import _bootstrap  # noqa: F401
from siamese_mnist.atomic import write_bytes
from siamese_mnist.checks import check_params
from siamese_mnist.config import load_params
from siamese_mnist.runtime import run_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("params")
    ap.add_argument("out")
    args = ap.parse_args()
    check_params(load_params(args.params))
    write_bytes(args.out, b"params valid\n")


if __name__ == "__main__":
    run_stage(main)
