"""Command line: ``python -m siamese_mnist compare A B`` (siamese_mnist.compare) and
``python -m siamese_mnist report`` (siamese_mnist.report)."""

import sys

from .compare import main as compare_main
from .report import main as report_main

COMMANDS = {"compare": compare_main, "report": report_main}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m siamese_mnist {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
