"""Command line: ``python -m siamese_mnist COMMAND ...``, one module per command (its ``main``)."""

import importlib
import sys

# command -> (the module whose main() runs it, what it does)
COMMANDS = {"compare": (".compare", "are two images of the same class, by the trained Siamese model?"),
            "gallery": (".gallery", "enrol one or a few images per class, then name the class of new images (or unknown)"),
            "search": (".studies.search.cli", "the equal-budget search on validation: queue its trials, select the winners"),
            "seeds": (".studies.spread", "the seed-to-seed spread of every model's results over replicates (alias: report)"),
            "unseen": (".studies.unseen", "the unseen-classes protocol: train on some digits, score one-shot and retrieval "
                                          "on the rest"),
            "verify": (".integrity", "rehash every output dvc.lock names, in the workspace and the cache; exit 1 on "
                                     "a mismatch")}
ALIASES = {"report": "seeds"}  # the seeds command's old name: notes that use it still run
USAGE = "\n".join(["usage: python -m siamese_mnist COMMAND [ARGS...]", "", "commands:",
                   *(f"  {name:<9}{what}" for name, (_, what) in COMMANDS.items()), "",
                   "python -m siamese_mnist COMMAND --help: the command's arguments."])


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    command = ALIASES.get(argv[0], argv[0]) if argv else None
    if command not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 2
    return importlib.import_module(COMMANDS[command][0], __package__).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
