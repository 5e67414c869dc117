"""Every number in the README's tables comes from a tracked file that the table cites.

A table whose cells hold decimal numbers must be preceded (within the few lines above it) by a line
starting "Source:" that names one or more files in backticks, each tracked by git. Every decimal
number of the table must equal a number of those files rounded to the README's precision, as it is
or times 100 (fractions shown in percent). Integers (epochs, image counts) are not checked.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")
CITED = re.compile(r"`([\w./@-]+\.(?:json|csv|md|tsv|yaml))`")


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
            above = [line for line in lines[max(0, start - 6):start] if line.startswith("Source:")]
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
