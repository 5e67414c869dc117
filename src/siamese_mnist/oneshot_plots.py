"""The Omniglot pipeline's two pictures: each model's embedding of one evaluation alphabet (projected to 2-D, labelled
as a projection), and the 20 runs' mistakes (query, the training image chosen, the right one)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.offsetbox import AnnotationBbox, OffsetImage  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from .plotting import class_colors, png_bytes  # noqa: E402

MISTAKES_SHOWN = 10  # per model: the first ones, run by run (every mistake is in the per-run table)


def alphabet_picture(embeddings: dict[str, np.ndarray], labels: np.ndarray, images: np.ndarray, alphabet: str,
                     dpi: int, point_size: float) -> bytes:
    """One panel per model: its test embeddings of one alphabet's characters projected on their first two principal
    components, coloured by character, each character's first drawing at its centroid."""
    classes = np.unique(labels)
    colors = class_colors(len(classes))
    fig, axes = plt.subplots(1, len(embeddings), figsize=(5 * len(embeddings), 5), squeeze=False)
    for ax, (name, x) in zip(axes[0], embeddings.items()):
        pca = PCA(n_components=2, random_state=0).fit(x.astype(np.float64))
        xy = pca.transform(x.astype(np.float64))
        for c, color in zip(classes, colors):
            rows = np.flatnonzero(labels == c)
            ax.scatter(*xy[rows].T, s=point_size, color=color, alpha=0.6, linewidths=0)
            thumb = OffsetImage(255 - images[rows[0]], cmap="gray", zoom=0.7)
            ax.add_artist(AnnotationBbox(thumb, xy[rows].mean(axis=0), frameon=True, pad=0.05,
                                         bboxprops={"edgecolor": color, "linewidth": 1.5}))
        share = 100 * pca.explained_variance_ratio_.sum()
        ax.set_title(f"{name}: PCA of the {x.shape[1]}-D embedding\n(2 components, {share:.0f} % of its variance)",
                     fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{alphabet.replace('_', ' ')}: {len(classes)} characters never trained on, 20 drawings each "
                 "(evaluation set, final epoch)")
    fig.tight_layout()
    return png_bytes(fig, dpi)


def run_mistakes(x: np.ndarray, labels: np.ndarray, run_size: int = 40) -> list[tuple[int, int, int]]:
    """Every mistake on the runs split as (query row, chosen training row, right training row), run by run."""
    out = []
    half = run_size // 2
    for start in range(0, len(labels), run_size):
        train = np.arange(start, start + half)
        for q in range(start + half, start + run_size):
            chosen = train[np.argmin(np.linalg.norm(x[train].astype(np.float64) - x[q], axis=1))]
            if labels[chosen] != labels[q]:
                out.append((q, int(chosen), int(train[labels[train] == labels[q]][0])))
    return out


def mistakes_picture(mistakes: dict[str, list[tuple[int, int, int]]], images: np.ndarray, dpi: int) -> bytes:
    """One row per model: its first mistakes on the 20 runs, each as query | chosen | right."""
    models = list(mistakes)
    cols = MISTAKES_SHOWN * 3
    fig, axes = plt.subplots(len(models), cols, figsize=(cols * 0.55, len(models) * 0.9 + 0.6), squeeze=False)
    for r, name in enumerate(models):
        shown = mistakes[name][:MISTAKES_SHOWN]
        for k in range(MISTAKES_SHOWN):
            for j, role in enumerate(("query", "chosen", "right")):
                ax = axes[r, 3 * k + j]
                ax.set_xticks([])
                ax.set_yticks([])
                if k < len(shown):
                    ax.imshow(255 - images[shown[k][j]], cmap="gray", vmin=0, vmax=255)
                    for side in ax.spines.values():
                        side.set_edgecolor({"query": "black", "chosen": "tab:red", "right": "tab:green"}[role])
                        side.set_linewidth(1.5)
                else:
                    ax.axis("off")
        axes[r, 0].set_ylabel(f"{name}\n{len(mistakes[name])} wrong", rotation=0, ha="right", va="center",
                              fontsize=9)
    fig.suptitle("Lake's 20 runs, each model's first mistakes: query | chosen (red) | right (green)", fontsize=10)
    fig.tight_layout()
    return png_bytes(fig, dpi)
