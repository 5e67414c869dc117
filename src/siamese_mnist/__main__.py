"""Command line: ``python -m siamese_mnist compare A B`` (see siamese_mnist.compare)."""

import sys

from .compare import main as compare_main

COMMANDS = {"compare": compare_main}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m siamese_mnist {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
