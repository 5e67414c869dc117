"""Typed, validated view of ``params.yaml``: one frozen dataclass per section.

Unknown keys, wrong types and out-of-range values raise :class:`ParamsError` with the
key's dotted path, so a typo in ``params.yaml`` fails at the start of a stage with one
clear line instead of silently using a default. The YAML-to-dataclass coercion is ``typed_yaml``'s; the
checks that need the data's class sizes or the machine's memory are the check stage's (``checks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from .datasets.catalog import IMAGE_SIZE, NAMES, class_names, split_size
from .errors import ParamsError
from .model_params import CnnConfig, PerModelConfig, SiameseConfig, TripletConfig  # noqa: F401 (re-exported)
from .typed_yaml import build, read_yaml

MODELS = ("cnn", "siamese", "triplet")  # each has a params section of the same name
MAX_LIST = 50  # entries of render.epochs and evaluate.logreg_c: a grid's rows, a probe's candidates
MAX_SEED = 2**32 - 1  # what every generator seeded from it accepts (numpy's legacy seeding is 32-bit)
DatasetName = Literal[NAMES]  # catalog.DATASETS, folder (your own images under data.root), omniglot


@dataclass(frozen=True)
class DataConfig:
    dataset: DatasetName = "mnist"
    root: str = "data/images"  # dataset folder: <root>/train/<class>/*, <root>/test/<class>/*, optional val/
    image_size: int = 28  # folder datasets: images are resized to this square side (MNIST-format ones are 28)
    train_limit: int | None = None  # None = the whole split
    test_limit: int | None = None
    val_size: int | float = 0.1  # a fraction in (0, 1), or a count; carved from the training split (stratified, seeded)
    holdout_classes: tuple[int, ...] = ()  # never shown to any training stage; scored by one-shot accuracy
    fit_samples: int = 10_000  # class-stratified train subset embedded every epoch, for the linear/k-NN probes

    def validate(self) -> None:
        if isinstance(self.val_size, float) and not 0.0 < self.val_size < 1.0:
            raise ParamsError(f"data.val_size: {self.val_size} is out of range; a fraction must lie in (0, 1)")
        if not 16 <= self.image_size <= 256:
            raise ParamsError(f"data.image_size: {self.image_size} is out of range; allowed 16..256")
        if self.dataset == "folder":
            self._validate_sizes(None, None, None)  # class count and split sizes are known once ingested
            return
        if self.dataset == "omniglot":  # sizes follow omniglot.background and val_alphabets: the check stage's
            if self.holdout_classes:
                raise ParamsError("data.holdout_classes: applies to closed-set datasets; Omniglot's test characters "
                                  "(the evaluation alphabets) are never trained on already")
            self._validate_sizes(None, None, None)
            return
        if self.image_size != IMAGE_SIZE:
            raise ParamsError(f"data.image_size: {self.image_size} applies to data.dataset: folder only; "
                              f"{self.dataset} images are {IMAGE_SIZE}x{IMAGE_SIZE}")
        self.validate_for(split_size(self.dataset, "train"), split_size(self.dataset, "test"),
                          len(class_names(self.dataset)))

    def _validate_sizes(self, train_size: int | None, test_size: int | None, num_classes: int | None) -> None:
        """Range checks against the dataset's sizes; None = not known yet (only lower bounds are checked)."""
        k = num_classes or 2
        for key, limit, size in (("train_limit", self.train_limit, train_size),
                                 ("test_limit", self.test_limit, test_size)):
            if limit is not None and not k <= limit <= (size or limit):
                raise ParamsError(f"data.{key}: {limit} is out of range; allowed {k}..{size or 'the split size'} or null")
        if isinstance(self.val_size, int) and train_size is not None:
            train = train_size if self.train_limit is None else self.train_limit
            if not 2 * k <= self.val_size <= train - 2 * k:
                folder = "" if self.dataset != "folder" else f" for {train} training images"
                hint = "" if self.dataset != "folder" else ", or a fraction such as 0.2"
                raise ParamsError(f"data.val_size: {self.val_size} is out of range{folder}; allowed {2 * k}.."
                                  f"{train - 2 * k} (two images per class, and as many left to train on){hint}")
        # a folder's is capped at its size; Omniglot's sizes are the check stage's
        fit_max = self.fit_samples if self.dataset == "folder" or train_size is None else train_size
        if not k <= self.fit_samples <= fit_max:
            raise ParamsError(f"data.fit_samples: {self.fit_samples} is out of range; allowed {k}..{fit_max}")
        top = None if num_classes is None else num_classes - 1
        bad = [c for c in self.holdout_classes if c < 0 or (top is not None and c > top)]
        if bad:
            raise ParamsError(f"data.holdout_classes: class {bad[0]} is out of range; "
                              f"allowed 0..{'(classes - 1)' if top is None else top}")
        if len(set(self.holdout_classes)) != len(self.holdout_classes):
            raise ParamsError(f"data.holdout_classes: {list(self.holdout_classes)} lists a class twice")
        if num_classes is not None and num_classes - len(self.holdout_classes) < 2:
            raise ParamsError("data.holdout_classes: at least two classes must be left to train on")

    def validate_for(self, train_size: int, test_size: int, num_classes: int) -> None:
        """The range checks a folder dataset can only have once its images are counted."""
        self._validate_sizes(train_size, test_size, num_classes)

    def val_count(self, train_size: int) -> int:
        """How many of ``train_size`` training images become validation."""
        return round(self.val_size * train_size) if isinstance(self.val_size, float) else self.val_size


@dataclass(frozen=True)
class ModelConfig:
    conv_channels: tuple[int, int] = (32, 64)
    hidden: int = 256
    embedding_dim: int = 2

    def validate(self) -> None:
        if len(self.conv_channels) != 2 or min(self.conv_channels) < 1:
            raise ParamsError(f"model.conv_channels: {list(self.conv_channels)} must be two positive widths")
        if self.hidden < 1:
            raise ParamsError(f"model.hidden: {self.hidden} is out of range; allowed >= 1")
        if self.embedding_dim < 1:
            raise ParamsError(f"model.embedding_dim: {self.embedding_dim} is out of range; allowed >= 1")


@dataclass(frozen=True)
class TrainConfig:
    """What a training run's result depends on. Which device and how many threads run it are
    machine settings, not params (see ``runtime.machine_settings``): they change no stage hash."""

    epochs: int = 50
    eval_batch_size: int = 1024
    deterministic: bool = False  # GPU only: deterministic kernels, slower (CPU runs are deterministic anyway)
    amp: bool | Literal["auto"] = "auto"  # bfloat16 autocast: true, false, or auto = where the CPU/GPU runs it natively

    def validate(self) -> None:
        if self.epochs < 1:
            raise ParamsError(f"train.epochs: {self.epochs} is out of range; allowed >= 1")
        if self.eval_batch_size < 1:
            raise ParamsError(f"train.eval_batch_size: {self.eval_batch_size} is out of range; allowed >= 1")


@dataclass(frozen=True)
class EvaluateConfig:
    knn_k: int = 5
    silhouette_samples: int = 2000
    logreg_c: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)  # candidates; each epoch keeps the best on validation
    episodes: int = 200  # seeded one-shot episodes (one support image per class each)
    oneshot_way: int | None = None  # classes per one-shot episode (a seeded draw each); None = every class

    def validate(self) -> None:
        if self.knn_k < 1:
            raise ParamsError(f"evaluate.knn_k: {self.knn_k} is out of range; allowed >= 1")
        if self.silhouette_samples < 4:  # two classes of two; the check stage holds it to the dataset's classes
            raise ParamsError(f"evaluate.silhouette_samples: {self.silhouette_samples} is out of range; allowed >= 4")
        if not self.logreg_c:
            raise ParamsError("evaluate.logreg_c: empty; list at least one candidate C")
        if len(self.logreg_c) > MAX_LIST:  # each is a fit per epoch and model: 500 000 ran out of time, not memory
            raise ParamsError(f"evaluate.logreg_c: {len(self.logreg_c)} candidates; at most {MAX_LIST}")
        bad = [c for c in self.logreg_c if not c > 0]
        if bad:
            raise ParamsError(f"evaluate.logreg_c: {bad[0]} is out of range; allowed > 0")
        if self.episodes < 1:
            raise ParamsError(f"evaluate.episodes: {self.episodes} is out of range; allowed >= 1")
        if self.oneshot_way is not None and self.oneshot_way < 2:
            raise ParamsError(f"evaluate.oneshot_way: {self.oneshot_way} is out of range; allowed >= 2 or null")


@dataclass(frozen=True)
class RenderConfig:
    epochs: tuple[int, ...] = (0, 1, 2, 5, 10, 20, 50)
    dpi: int = 80
    point_size: float = 1.0
    grid_resolution: int = 300  # decision-region raster, cells per side
    frame_ms: int = 250  # animation: milliseconds per epoch frame

    def validate(self) -> None:
        if not self.epochs:
            raise ParamsError("render.epochs: empty; list at least one epoch")
        if len(self.epochs) > MAX_LIST:  # a grid row each: 900 ran the render stage out of memory
            raise ParamsError(f"render.epochs: {len(self.epochs)} epochs; at most {MAX_LIST} (rows of one grid)")
        bad = [e for e in self.epochs if e < 0]
        if bad:
            raise ParamsError(f"render.epochs: {bad[0]} is negative; allowed 0..train.epochs")
        if not 20 <= self.dpi <= 600:
            raise ParamsError(f"render.dpi: {self.dpi} is out of range; allowed 20..600")
        if not self.point_size > 0:
            raise ParamsError(f"render.point_size: {self.point_size} is out of range; allowed > 0")
        if not 10 <= self.grid_resolution <= 2000:
            raise ParamsError(f"render.grid_resolution: {self.grid_resolution} is out of range; allowed 10..2000")
        if not 20 <= self.frame_ms <= 10_000:
            raise ParamsError(f"render.frame_ms: {self.frame_ms} is out of range; allowed 20..10000")


@dataclass(frozen=True)
class OmniglotConfig:
    """The one-shot protocol's own params (``data.dataset: omniglot`` only; the section is absent elsewhere)."""

    background: Literal["all", "small1", "small2"] = "all"  # what is learnt from: 30 alphabets, or a minimal split's 5
    val_alphabets: int = 5  # whole background alphabets held out as validation (evenly spaced in name order)
    ways: tuple[int, ...] = (5, 20)  # N of the N-way K-shot episodes over the evaluation set
    shots: tuple[int, ...] = (1, 5)  # K

    def validate(self) -> None:
        if self.val_alphabets < 1:
            raise ParamsError(f"omniglot.val_alphabets: {self.val_alphabets} is out of range; allowed >= 1")
        for key, values, low, high in (("ways", self.ways, 2, 100), ("shots", self.shots, 1, 10)):
            if not values:
                raise ParamsError(f"omniglot.{key}: empty; list at least one")
            if bad := [v for v in values if not low <= v <= high]:
                raise ParamsError(f"omniglot.{key}: {bad[0]} is out of range; allowed {low}..{high}")
            if len(set(values)) != len(values):
                raise ParamsError(f"omniglot.{key}: {list(values)} lists a value twice")


@dataclass(frozen=True)
class Params:
    seed: int = 0  # one knob for every random draw of a replicate: subsets, pairs, init, order, augmentation, episodes
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    cnn: CnnConfig = field(default_factory=CnnConfig)
    siamese: SiameseConfig = field(default_factory=SiameseConfig)
    triplet: TripletConfig = field(default_factory=TripletConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    omniglot: OmniglotConfig | None = None  # present exactly when data.dataset is omniglot

    def validate(self) -> None:
        if not 0 <= self.seed <= MAX_SEED:
            raise ParamsError(f"seed: {self.seed} is out of range; allowed 0..{MAX_SEED}")
        self.data.validate()
        self.model.validate()
        self.train.validate()
        for name in MODELS:
            self.section(name).validate(name)
        self.evaluate.validate()
        self.render.validate()
        if (self.omniglot is None) == (self.data.dataset == "omniglot"):
            raise ParamsError("omniglot: missing; data.dataset: omniglot needs the omniglot section" if self.omniglot
                              is None else "omniglot: applies to data.dataset: omniglot only; remove the section")
        if self.omniglot is not None:
            self.omniglot.validate()
        too_late = [e for e in self.render.epochs if e > self.train.epochs]
        if too_late:
            raise ParamsError(f"render.epochs: epoch {too_late[0]} is beyond train.epochs={self.train.epochs}")

    def section(self, model: str) -> PerModelConfig:
        """The params section of ``model`` (``cnn``, ``siamese``, ``triplet``)."""
        if model not in MODELS:
            raise ParamsError(f"model {model!r} is unknown; known: {', '.join(MODELS)}")
        return getattr(self, model)


def params_from_dict(raw: dict, complete: bool = False) -> Params:
    """Build and validate :class:`Params`; missing keys take the defaults above unless ``complete``
    (a params file must name every key: DVC tracks the file's values, not these defaults)."""
    params = build(Params, raw or {}, "", complete)
    params.validate()
    return params


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        raw = read_yaml(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such params file") from None
    except UnicodeDecodeError as exc:  # UTF-16, Latin-1 …: DVC reads UTF-8 too
        raise ParamsError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return params_from_dict(raw, complete=True)
