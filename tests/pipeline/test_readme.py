"""Every number in the README's tables, and in those of every page under docs/, comes from a tracked
file that the table cites.

A table whose cells hold decimal numbers must be preceded (within the few lines above it) by a line
starting "Source:" that names one or more files in backticks, each tracked by git. Where that line
also names a table command, ``python tools/readme_tables.py NAME``, the table must be exactly what
the command writes from those files (every cell in its place). Otherwise, the weaker check: every
decimal number of the table must equal some number of the cited files rounded to the README's
precision, as it is or times 100 (fractions shown in percent). Integers are not checked.

Besides: the README stays a front door (at most ``README_MAX_LINES`` lines, and it links every page
under docs/); no page cites an issue number or a commit hash as a source (the refs are on no machine,
so such a figure cannot be checked), and every relative link leads to a file that exists.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import readme_tables

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))
PAGES = ["README.md", *DOCS]
README_MAX_LINES = 250
DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")
CITED = re.compile(r"`([\w./@-]+\.(?:json|csv|md|tsv|yaml))`")
COMMAND = re.compile(r"python tools/readme_tables\.py ([\w-]+)")
ISSUE = re.compile(r"\bissues?\s*#?\d+|\bissue\s+no\.?\s*\d+", re.IGNORECASE)
HEX = r"[0-9a-f]{7,40}"
# a hex word with a digit and a letter (f685464, 18472d8), anywhere; an all-digit one (3066889) where a
# revision goes: after git show/checkout/diff/log, "commit", a seeds/report/comparison command, or before ":path"
HASH_LIKE = re.compile(rf"(?<![\w.-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d){HEX}(?![\w])")
HASH_AS_REV = re.compile(rf"(?:\bgit\s+(?:show|checkout|diff|log|switch)\s+|\bcommits?\s+|"
                         rf"siamese_mnist\s+(?:report|seeds)\s+(?:[\w-]+\s+)*?|\b(?:same_outputs\.sh|stage_ab\.py|"
                         rf"bf16_vs_fp32\.py)\s+(?:--\w+\s+)?)`?({HEX})\b|(?<![\w.-])({HEX}):[\w/]", re.IGNORECASE)
LINK = re.compile(r"\]\(([^)\s#]*)(?:#([^)\s]*))?\)")


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


def check(readme: str, root: Path, tracked: set[str], name: str = "README.md") -> list[str]:
    """Problems found in page ``name``: uncited tables, cited files that are not tracked, numbers that no
    cited file holds, tables that differ from the command that writes them."""
    problems = []
    for line_no, rows, above in tables(readme):
        values = [v for row in rows for v in DECIMAL.findall(row.replace("**", ""))]
        if not values:
            continue
        cited = [c for line in above for c in CITED.findall(line)]
        if not cited:
            problems.append(f"{name}:{line_no}: table with numbers but no 'Source:' line naming its files")
            continue
        missing = [c for c in cited if c not in tracked]
        if missing:
            problems.append(f"{name}:{line_no}: cites {', '.join(missing)}, not tracked by git")
            continue
        command = [c for line in above for c in COMMAND.findall(line)]
        if command:
            if command[0] not in readme_tables.TABLES:
                problems.append(f"{name}:{line_no}: unknown table command {command[0]!r}")
            elif "\n".join(rows) != readme_tables.TABLES[command[0]](root):
                problems.append(f"{name}:{line_no}: differs from `python tools/readme_tables.py {command[0]}`")
            continue
        candidates = [x for c in cited for x in numbers_in(root / c)]
        problems += [f"{name}:{line_no}: {v} is in none of {', '.join(cited)}"
                     for v in values if not matches(v, candidates)]
    return problems


def untraceable_sources(text: str, name: str = "README.md") -> list[str]:
    """Lines that cite an issue number or a commit hash: sources nobody can open."""
    problems = []
    for line_no, line in enumerate(text.splitlines(), 1):
        found = [m.group(0) for m in ISSUE.finditer(line)] + [m.group(0) for m in HASH_LIKE.finditer(line)]
        found += [m.group(1) or m.group(2) for m in HASH_AS_REV.finditer(line)]
        problems += [f"{name}:{line_no}: {f!r} (an issue number or a commit hash as a source)"
                     for f in dict.fromkeys(found)]
    return problems


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    found, in_code = set(), False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"#{1,6} ", line):
            found.add(re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-"))
    return found


def broken_links(text: str, page: Path) -> list[str]:
    """Relative markdown links of ``page`` that lead to no file or folder, or to no heading of a page."""
    problems = []
    for target, anchor in LINK.findall(text):
        if "://" in target or target.startswith("mailto:") or not (target or anchor):
            continue
        path = page.parent / target if target else page
        if not path.exists():
            problems.append(f"{page.relative_to(ROOT).as_posix()}: link to {target}, which does not exist")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text()):
            problems.append(f"{page.relative_to(ROOT).as_posix()}: link to {target}#{anchor}, a heading "
                            f"{path.name} does not have")
    return problems


@pytest.fixture(scope="module")
def tracked() -> set[str]:
    return set(subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.splitlines())


@pytest.mark.parametrize("page", PAGES)
def test_every_table_number_is_in_the_tracked_file_it_cites(page, tracked):
    problems = check((ROOT / page).read_text(), ROOT, tracked, page)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_no_issue_number_or_commit_hash_is_a_source(page):
    problems = untraceable_sources((ROOT / page).read_text(), page)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_leads_to_a_file(page):
    problems = broken_links((ROOT / page).read_text(), ROOT / page)
    assert not problems, "\n".join(problems)


def test_readme_is_a_front_door_that_links_every_docs_page():
    readme = (ROOT / "README.md").read_text()
    lines = len(readme.splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/ (at most {README_MAX_LINES})"
    assert DOCS, "docs/ holds no page"
    linked = {(ROOT / t).resolve() for t, _ in LINK.findall(readme) if t}
    unlinked = [d for d in DOCS if (ROOT / d).resolve() not in linked]
    assert not unlinked, f"README.md links none of {', '.join(unlinked)}"


def test_untraceable_sources_are_found_and_plain_numbers_are_not():
    bad = ["`git show 3066889:metrics/siamese.json`", "seed 0 is the default run (commit f685464)",
           "`python -m siamese_mnist report 18472d8 seed-1 seed-2`", "recorded in issue 12",
           "issue 11's closing note", "see issue #7", "`python benchmarks/bf16_vs_fp32.py --fp32 18472d8 seed-1`",
           "`bash tools/same_outputs.sh 6254bd7 790538d`", "at 3066889:metrics/cnn.json"]
    for line in bad:
        assert untraceable_sources(line), line
    good = ["55 000 training images, 10 000 test pairs, 14250000 images in all", "sha256 of the bytes",
            "`plots/epochs/cnn_epoch050.png`", "2026-11-29", "treeverse/dvc#10562 (a DVC bug)",
            "`benchmarks/results/quick-amd-epyc-2026-11-29.json`", "the commit that adds a model",
            "`python -m siamese_mnist seeds`", "MAP@R 98.21 %, seed 1234567"]
    for line in good:
        assert untraceable_sources(line) == [], line


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
    readme = f"Source: {cited} (`python tools/readme_tables.py per-epoch`)\n\n{table}\n"
    tracked = {"plots/eval/cnn.csv", "plots/eval/siamese.csv", "plots/eval/triplet.csv"}
    assert check(readme, tmp_path, tracked) == []
    row = table.splitlines()[2].split(" | ")
    row[2], row[3] = row[3], row[2]  # swap two epochs' figures: both numbers exist in the file
    swapped = readme.replace(table.splitlines()[2], " | ".join(row))
    assert check(swapped, tmp_path, tracked) == ["README.md:3: differs from `python tools/readme_tables.py per-epoch`"]


def test_write_puts_back_every_table_a_command_writes_and_nothing_else(tmp_path):
    # a copy of the pages and the files they cite; one headline cell edited by hand, one table without a
    # command (prose figures) left alone: --write restores the first and keeps the second as it is
    for rel in ["README.md", *DOCS, "params.yaml", "metrics/pixels.json", "metrics/seeds.json", "metrics/search.json", "metrics/unseen.json",
                *(f"plots/eval/{m}.csv" for m in readme_tables.MODELS), "omniglot/metrics/baselines.json",
                *(f"omniglot/metrics/{m}.json" for m in readme_tables.MODELS), "omniglot/metrics/search.json",
                "omniglot/metrics/seeds.json"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    readme = (tmp_path / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| CNN |"))
    edited = readme.replace(row, row.replace(" % |", "9 % |", 1), 1)  # e.g. 99.05 % -> 99.059 %
    assert edited != readme
    (tmp_path / "README.md").write_text(edited + "\n| a | table |\n|---|---|\n| 1.5 | by hand |\n")
    assert readme_tables.write_pages(tmp_path) == ["README.md"]
    assert (tmp_path / "README.md").read_text() == readme + "\n| a | table |\n|---|---|\n| 1.5 | by hand |\n"
    assert readme_tables.write_pages(tmp_path) == []


def test_unseen_table_puts_pixels_models_then_each_model_minus_pixels(tmp_path):
    """Cells are mean ± sd [95 % interval] from metrics/unseen.json, in percent for accuracy and MAP@R, the
    differences signed, a clipped end starred; a report of one seed has no sd and shows the mean alone."""
    def cell(mean, sd=None, lo=None, hi=None):
        return {"n": 2, "mean": mean, "sd": sd, "ci95": None if sd is None else [lo, hi]}

    keys = ("oneshot_holdout_acc", "holdout_map_at_r", "holdout_roc_auc")
    final = {c: {k: cell(0.5) for k in keys} for c in ("pixels", *readme_tables.MODELS)}
    paired = {f"{m} - pixels": {k: cell(0.0) for k in keys} for m in readme_tables.MODELS}
    final["pixels"]["oneshot_holdout_acc"] = cell(0.6512, 0.0123, 0.62, 0.68)
    final["siamese"]["holdout_roc_auc"] = {**cell(0.91234, 0.00456, 0.9, 1.0), "clipped": [False, True]}
    paired["triplet - pixels"]["oneshot_holdout_acc"] = cell(-0.0311, 0.004, -0.04, -0.0222)
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/unseen.json").write_text(json.dumps({"final": final, "paired": paired}))
    rows = readme_tables.unseen(tmp_path).splitlines()
    assert rows[0] == ("| metric (held-out digits, test) | raw pixels | CNN | Siamese | Triplet | CNN − pixels "
                       "| Siamese − pixels | Triplet − pixels |")
    assert rows[2] == ("| 5-way one-shot, % | 65.12 ± 1.23 [62.00, 68.00] | 50.00 | 50.00 | 50.00 | +0.00 | +0.00 "
                       "| -3.11 ± 0.40 [-4.00, -2.22] |")
    assert rows[4] == ("| verification ROC-AUC | 0.5000 | 0.5000 | 0.9123 ± 0.0046 [0.9000, 1.0000*] | 0.5000 | +0.0000 "
                       "| +0.0000 | +0.0000 |")
