"""Every number in the README's tables comes from a tracked file that the table cites.

A table whose cells hold decimal numbers must be preceded (within the few lines above it) by a line
starting "Source:" that names one or more files in backticks, each tracked by git. Where that line
also names a table command, ``python tests/readme_tables.py NAME``, the table must be exactly what
the command writes from those files (every cell in its place). Otherwise, the weaker check: every
decimal number of the table must equal some number of the cited files rounded to the README's
precision, as it is or times 100 (fractions shown in percent). Integers are not checked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import readme_tables

ROOT = Path(__file__).resolve().parents[1]
DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")
CITED = re.compile(r"`([\w./@-]+\.(?:json|csv|md|tsv|yaml))`")
COMMAND = re.compile(r"python tests/readme_tables\.py ([\w-]+)")


def tables(text: str) -> list[tuple[int, list[str], list[str]]]:
    """(line number, the table's lines, the 'Source:' lines above it) of every markdown table."""
    lines = text.splitlines()
    found, i = [], 0
    in_code = False
    while i < len(lines):
        if lines[i].lstrip().startswith("```"):
            in_code = not in_code
        if not in_code and lines[i].startswith("|"):
            start = i
            while i < len(lines) and lines[i].startswith("|"):
                i += 1
            window = lines[max(0, start - 6):start]
            first = next((k for k, line in enumerate(window) if line.startswith("Source:")), None)
            above = []  # the "Source:" line and its continuation, up to the blank line before the table
            if first is not None:
                for line in window[first:]:
                    if not line.strip():
                        break
                    above.append(line)
            found.append((start + 1, lines[start:i], above))
        i += 1
    return found


def numbers_in(path: Path) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+(?:[eE]-?\d+)?", path.read_text())]


def matches(value: str, candidates: list[float]) -> bool:
    places = len(value.split(".")[1])
    v = float(value)
    return any(round(c, places) == v or round(100 * c, places) == v for c in candidates)


def check(readme: str, root: Path, tracked: set[str]) -> list[str]:
    """Problems found: uncited tables, cited files that are not tracked, numbers that no cited file holds."""
    problems = []
    for line_no, rows, above in tables(readme):
        values = [v for row in rows for v in DECIMAL.findall(row.replace("**", ""))]
        if not values:
            continue
        cited = [c for line in above for c in CITED.findall(line)]
        if not cited:
            problems.append(f"README.md:{line_no}: table with numbers but no 'Source:' line naming its files")
            continue
        missing = [c for c in cited if c not in tracked]
        if missing:
            problems.append(f"README.md:{line_no}: cites {', '.join(missing)}, not tracked by git")
            continue
        command = [c for line in above for c in COMMAND.findall(line)]
        if command:
            if command[0] not in readme_tables.TABLES:
                problems.append(f"README.md:{line_no}: unknown table command {command[0]!r}")
            elif "\n".join(rows) != readme_tables.TABLES[command[0]](root):
                problems.append(f"README.md:{line_no}: differs from `python tests/readme_tables.py {command[0]}`")
            continue
        candidates = [x for c in cited for x in numbers_in(root / c)]
        problems += [f"README.md:{line_no}: {v} is in none of {', '.join(cited)}"
                     for v in values if not matches(v, candidates)]
    return problems


def test_every_readme_table_number_is_in_the_tracked_file_it_cites():
    tracked = set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.splitlines())
    problems = check((ROOT / "README.md").read_text(), ROOT, tracked)
    assert not problems, "\n".join(problems)


@pytest.fixture
def cited(tmp_path):
    (tmp_path / "m.json").write_text('{"cnn": {"logreg_acc": 0.991967, "roc_auc": 0.955612}}')
    return tmp_path


def test_check_accepts_percent_and_plain_roundings_and_names_what_is_wrong(cited):
    ok = "Source: `m.json`\n\n| model | acc | auc |\n|---|---|---|\n| CNN | **99.20 %** | 0.9556 |\n"
    assert check(ok, cited, {"m.json"}) == []
    wrong = ok.replace("99.20", "99.21")
    assert check(wrong, cited, {"m.json"}) == ["README.md:3: 99.21 is in none of m.json"]
    assert "no 'Source:' line" in check(ok.replace("Source: `m.json`", "Numbers:"), cited, {"m.json"})[0]
    assert "not tracked by git" in check(ok, cited, set())[0]
    assert check("| epoch | 0 | 50 |\n|---|---|---|\n", cited, set()) == []  # integers only: nothing to trace


def test_generated_tables_are_compared_cell_for_cell(tmp_path):
    """A README table that names its command must equal the command's output, even where the weaker
    check would pass (a cell holding another epoch's figure)."""
    shutil.copytree(ROOT / "plots/eval", tmp_path / "plots/eval")
    shutil.copytree(ROOT / "metrics", tmp_path / "metrics")
    table = readme_tables.per_epoch(tmp_path)
    cited = "`plots/eval/cnn.csv`, `plots/eval/siamese.csv`, `plots/eval/triplet.csv`"
    readme = f"Source: {cited} (`python tests/readme_tables.py per-epoch`)\n\n{table}\n"
    tracked = {"plots/eval/cnn.csv", "plots/eval/siamese.csv", "plots/eval/triplet.csv"}
    assert check(readme, tmp_path, tracked) == []
    row = table.splitlines()[2].split(" | ")
    row[2], row[3] = row[3], row[2]  # swap two epochs' figures: both numbers exist in the file
    swapped = readme.replace(table.splitlines()[2], " | ".join(row))
    assert check(swapped, tmp_path, tracked) == ["README.md:3: differs from `python tests/readme_tables.py per-epoch`"]
