"""What the pictures show: legends with the dataset's class names, one GIF frame per epoch on fixed axes."""

import io

import numpy as np
from PIL import Image

from siamese_mnist.datasets.catalog import class_names
from siamese_mnist.plotting import _scatter, animation, plt


def test_legend_uses_the_datasets_class_names():
    names = class_names("fashion-mnist")
    assert names[:2] == ["T-shirt/top", "Trouser"] and names[-1] == "Ankle boot"
    fig, ax = plt.subplots()
    x = np.random.default_rng(0).normal(size=(100, 2))
    _scatter(ax, x, np.arange(100) % 10, names, 1.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == names
    plt.close(fig)


def test_animation_has_one_frame_per_epoch_on_fixed_axes():
    rng = np.random.default_rng(0)
    test = np.stack([rng.normal(size=(200, 2)) * (1 + e) for e in range(4)])  # the cloud grows 4x
    gif = animation("triplet", test, np.arange(200) % 10, class_names("mnist"), 40, 1.0)
    with Image.open(io.BytesIO(gif)) as im:
        assert im.format == "GIF" and im.n_frames == 4
        frames = []
        for i in range(4):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")).astype(int))
    # on fixed axes the growing cloud covers more of the plot from frame to frame
    coloured = [int(((f.max(axis=2) - f.min(axis=2)) > 60).sum()) for f in frames]
    assert coloured[0] < coloured[-1], coloured


def test_embeddings_of_other_dimensions_are_drawn_not_refused():
    from siamese_mnist.plotting import ModelRun, comparison_grid
    from siamese_mnist.probe import fit_logreg, logreg_params
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 10
    for dim in (1, 3):
        test = rng.normal(size=(2, 300, dim)) + labels[None, :, None]
        run = ModelRun("triplet", test, labels, {0: 0.5, 1: 0.9}, logreg_params(fit_logreg(test[-1], labels)))
        png = comparison_grid([run], [0, 1], class_names("mnist"), 30, 1.0, 20)
        assert png.startswith(b"\x89PNG")
        assert Image.open(io.BytesIO(animation("triplet", test, labels, class_names("mnist"), 30, 1.0))).n_frames == 2


def test_up_to_20_classes_get_a_legend_in_distinct_colours_beyond_that_a_note():
    from siamese_mnist.plotting import ModelRun, class_colors, epoch_image, legend_note

    assert class_colors(10) == list(plt.get_cmap("tab10").colors)  # MNIST's pictures are unchanged
    for n in (15, 20, 25):
        assert len({tuple(c) for c in class_colors(n)}) == n
    rng = np.random.default_rng(0)
    for n, legend in ((20, True), (25, False)):
        names = [f"class {i}" for i in range(n)]
        fig, ax = plt.subplots()
        _scatter(ax, rng.normal(size=(200, 2)), np.arange(200) % n, names, 1.0)
        assert (ax.get_legend() is not None) == legend
        plt.close(fig)
    assert legend_note(["a"] * 20) == "" and legend_note(["a"] * 25) == " · 25 classes, no legend"
    run = ModelRun("siamese", rng.normal(size=(1, 200, 2)), np.arange(200) % 25, {0: 0.5}, {})
    assert epoch_image(run, 0, [f"c{i}" for i in range(25)], 30, 1.0).startswith(b"\x89PNG")
