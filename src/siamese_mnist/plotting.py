"""The comparison grid, the per-epoch scatter images and the per-model animation."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from .atomic import write_bytes  # noqa: E402
from .probe import predict_logreg  # noqa: E402

COLORS = plt.get_cmap("tab10").colors
LEGEND_MAX = 20  # more classes than this get no legend (a note in the title instead)


def class_colors(n: int) -> list:
    """One colour per class: tab10 up to 10 classes (MNIST), tab20 up to 20, then a continuous map."""
    if n <= 10:
        return list(COLORS[:n])
    if n <= 20:
        return list(plt.get_cmap("tab20").colors[:n])
    return [plt.get_cmap("turbo")(i / (n - 1)) for i in range(n)]


def legend_note(class_names: list[str]) -> str:
    return "" if len(class_names) <= LEGEND_MAX else f" · {len(class_names)} classes, no legend"


@dataclass(frozen=True)
class ModelRun:
    """What the render stage knows of one trained model."""

    name: str
    test: np.ndarray  # (E+1, N, 2) test embeddings per epoch
    labels: np.ndarray  # (N,)
    logreg_acc: dict[int, float]  # epoch -> logistic-regression test accuracy
    logreg: dict  # final epoch's fitted logistic regression (probe.logreg_params)


def _xy(x: np.ndarray) -> np.ndarray:
    """The two coordinates drawn: an embedding's first two dimensions (a 1-D one on a line)."""
    return x[:, :2] if x.shape[1] >= 2 else np.column_stack([x[:, 0], np.zeros(len(x))])


def _dims_note(x: np.ndarray) -> str:
    return "" if x.shape[-1] == 2 else f" · dims 1–2 of {x.shape[-1]}"


def _limits(x: np.ndarray, pad: float = 0.05) -> tuple[tuple[float, float], tuple[float, float]]:
    lo, hi = np.percentile(x, [0.1, 99.9], axis=0)
    span = np.maximum(hi - lo, 1e-6)
    lo, hi = lo - pad * span, hi + pad * span
    return (lo[0], hi[0]), (lo[1], hi[1])


def _scatter(ax, x: np.ndarray, labels: np.ndarray, class_names: list[str], point_size: float,
             legend: bool = True, limits=None) -> list:
    x = _xy(x)
    artists = []
    colors = class_colors(len(class_names))
    for c, name in enumerate(class_names):
        pts = x[labels == c]
        artists.append(ax.scatter(pts[:, 0], pts[:, 1], s=point_size, color=colors[c], label=name,
                                  linewidths=0, rasterized=True))
    xl, yl = limits or _limits(x)
    ax.set_xlim(xl)
    ax.set_ylim(yl)
    ax.tick_params(labelsize=6)
    if legend and len(class_names) <= LEGEND_MAX:
        ax.legend(fontsize=5, markerscale=4 / max(point_size, 0.1), loc="best", ncol=2, frameon=True,
                  handletextpad=0.1, columnspacing=0.5, borderpad=0.3)
    return artists


def _regions(ax, run: ModelRun, class_names: list[str], point_size: float, resolution: int) -> None:
    x = run.test[-1]
    if x.shape[1] != 2:  # the classifier lives in more (or fewer) dimensions than the picture
        _scatter(ax, x, run.labels, class_names, point_size, legend=False)
        return
    (x0, x1), (y0, y1) = _limits(x)
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    pred = predict_logreg(run.logreg, np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    cmap = ListedColormap(class_colors(len(class_names)))
    ax.imshow(pred, origin="lower", extent=(x0, x1, y0, y1), cmap=cmap, vmin=-0.5,
              vmax=len(class_names) - 0.5, alpha=0.35, aspect="auto", interpolation="nearest")
    _scatter(ax, x, run.labels, class_names, point_size, legend=False)


def _title(run: ModelRun, epoch: int) -> str:
    acc = run.logreg_acc.get(epoch)
    return (f"{run.name} · epoch {epoch}" + (f" · test LR acc {100 * acc:.2f}%" if acc is not None else "")
            + _dims_note(run.test))


def png_bytes(fig, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def comparison_grid(runs: list[ModelRun], epochs: list[int], class_names: list[str], dpi: int,
                    point_size: float, resolution: int) -> bytes:
    """PNG bytes: one column per model, one row per epoch, and a last row of decision regions."""
    nrows, ncols = len(epochs) + 1, len(runs)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.4 * nrows), squeeze=False)
    for j, run in enumerate(runs):
        for i, epoch in enumerate(epochs):
            ax = axes[i, j]
            _scatter(ax, run.test[epoch], run.labels, class_names, point_size)
            ax.set_title(_title(run, epoch) + legend_note(class_names), fontsize=8)
        last = run.test.shape[0] - 1
        _regions(axes[-1, j], run, class_names, point_size, resolution)
        axes[-1, j].set_title(f"{run.name} · Logistic regression (epoch {last})", fontsize=8)
    fig.tight_layout()
    return png_bytes(fig, dpi)


def epoch_image(run: ModelRun, epoch: int, class_names: list[str], dpi: int, point_size: float) -> bytes:
    """PNG bytes of one model's test embeddings at one epoch."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    _scatter(ax, run.test[epoch], run.labels, class_names, point_size)
    ax.set_title(_title(run, epoch) + legend_note(class_names), fontsize=9)
    fig.tight_layout()
    return png_bytes(fig, dpi)


def write_epoch_images(out_dir: str | Path, runs: list[ModelRun], epochs: list[int], class_names: list[str],
                       dpi: int, point_size: float) -> list[Path]:
    out_dir = Path(out_dir)
    paths = []
    for run in runs:
        for epoch in epochs:
            path = out_dir / f"{run.name}_epoch{epoch:03d}.png"
            write_bytes(path, epoch_image(run, epoch, class_names, dpi, point_size))
            paths.append(path)
    return paths


def animation(name: str, test: np.ndarray, labels: np.ndarray, class_names: list[str], dpi: int,
              point_size: float, frame_ms: int = 250) -> bytes:
    """GIF bytes: one frame per epoch of (E+1, N, 2) test embeddings, all on the same axes.

    The axes cover every epoch (robust percentiles of all frames together), so the growth and
    motion of the clusters is visible, not rescaled away. The figure is drawn once; each frame
    only moves the points. Every frame shares the first frame's palette (small, stable GIF).
    """
    from PIL import Image

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    limits = _limits(np.concatenate([_xy(frame) for frame in test]))
    artists = _scatter(ax, test[0], labels, class_names, point_size, limits=limits)
    note = legend_note(class_names)
    title = ax.set_title(f"{name} · epoch 0{_dims_note(test)}{note}", fontsize=9)  # real text before the layout
    fig.tight_layout()
    frames = []
    for epoch in range(test.shape[0]):
        for c, artist in enumerate(artists):
            artist.set_offsets(_xy(test[epoch])[labels == c])
        title.set_text(f"{name} · epoch {epoch}{_dims_note(test)}{note}")
        fig.canvas.draw()
        rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("RGB")
        frames.append(rgb.quantize(colors=64) if not frames else rgb.quantize(palette=frames[0]))
    plt.close(fig)
    buf = io.BytesIO()
    durations = [frame_ms] * (len(frames) - 1) + [4 * frame_ms]  # linger on the final epoch
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return buf.getvalue()


def unseen_picture(embeddings: dict[str, tuple[np.ndarray, np.ndarray]], holdout: list[int], dpi: int = 80) -> bytes:
    """Per model (columns), the final test embeddings of the seen digits (top) and of the unseen ones
    (bottom), on the same axes: does an unseen digit get a region of its own?"""
    fig, axes = plt.subplots(2, len(embeddings), figsize=(4 * len(embeddings), 8), squeeze=False)
    for j, (model, (x, labels)) in enumerate(embeddings.items()):
        unseen = np.isin(labels, holdout)
        lo, hi = x.min(0), x.max(0)
        pad = 0.05 * (hi - lo)
        for i, (mask, what) in enumerate(((~unseen, "seen digits"), (unseen, "unseen digits"))):
            ax = axes[i, j]
            ax.scatter(x[~unseen, 0], x[~unseen, 1], s=1, c="#dde6ee", linewidths=0)  # seen digits, pale: not the 7s' grey
            for c in np.unique(labels[mask]):
                pts = x[labels == c]
                ax.scatter(pts[:, 0], pts[:, 1], s=1, color=COLORS[int(c) % 10], label=str(c), linewidths=0)
            ax.set(xlim=(lo[0] - pad[0], hi[0] + pad[0]), ylim=(lo[1] - pad[1], hi[1] + pad[1]),
                   title=f"{model}: {what}{_dims_note(x)}", xticks=[], yticks=[])
            if j == len(embeddings) - 1:  # one legend per row, beside it: inside, it hid a cluster
                ax.legend(markerscale=8, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), title="digit")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
