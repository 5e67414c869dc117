"""The markdown every report shares: a cell of mean ± sd [95 % interval], and a table of such cells."""

from __future__ import annotations

import yaml


def cell(s: dict, scale: float, digits: int) -> str:
    """'99.20 ± 0.05 [99.13, 100.00*]': mean ± sd [95 % interval], times ``scale``; '*' marks a clipped end."""
    if s["sd"] is None:
        return f"{scale * s['mean']:.{digits}f}"
    lo, hi = (f"{scale * v:.{digits}f}" + ("*" if c else "") for v, c in zip(s["ci95"], s["clipped"]))
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['sd']:.{digits}f} [{lo}, {hi}]"


def percent_or_decimals(s: dict, percent: bool) -> str:
    """A score's cell: in percent with 2 decimals (accuracies, MAP@R), or as it is with 4 (ROC-AUC, silhouette)."""
    return cell(s, 100, 2) if percent else cell(s, 1, 4)


def table(first: str, cols: list[str], rows: list[tuple[str, list[str]]]) -> list[str]:
    """A markdown table's lines: header ``first`` and ``cols``, then one line per (label, cells)."""
    return ["| " + " | ".join([first, *cols]) + " |", "|---" * (len(cols) + 1) + "|",
            *("| " + " | ".join([label, *cells]) + " |" for label, cells in rows)]


def arm(vary: dict | None) -> list[str]:
    """The line that says which params an arm's runs differ in from params.yaml (none for the default report)."""
    if not vary:
        return []
    sets = " ".join(f"--set {k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
                    for k, v in vary.items())
    return ["", f"Arm: `{sets}` — these runs differ from `params.yaml` in these params alone."]
