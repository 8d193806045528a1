"""Feature extractors for the image metrics: a small classifier trained on the data set itself, or Inception-v3.

An *extractor* is any callable images (B, C, H, W) in [−1, 1] → (B, d) features; if it also has
`class_probs(images)` → (B, K) probabilities the Inception Score is computed from them, and `describe()` → a
JSON-able dict names it in result files.

No FID library ships Inception weights and this project cannot download them, so the default extractor is a
small CNN classifier trained on the real data's labels (`classifier_for`: Fashion-MNIST, digits, any labelled
`ImageData`; cached per data set with its held-out accuracy); features are its penultimate layer (d = 128), class
probabilities its softmax. On stacked data (k images on k channels) the base set's classifier is applied per
channel: features concatenated (k·128), class probabilities the product over channels (K^k classes, the modes).
These numbers compare runs *within this tool* only (the advice of the FID authors for MNIST-like data: a network
trained on the data); they are not comparable with published Inception-FID numbers.

`inception_extractor(path)` (`gan.inception`) loads Inception-v3 from a local pytorch-fid/torch-fidelity
state dict or a StyleGAN/clean-fid TorchScript file with the reference preprocessing.
"""
from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    import numpy.typing as npt

from .inception import InceptionFeatures, inception_extractor  # noqa: F401  (re-exported)


class SmallClassifier(nn.Module):
    """(B, C, H, W) in [−1, 1] → logits (B, n_classes); `features(x)` → (B, 128). Any H, W ≥ 8."""

    def __init__(self, channels: int = 1, n_classes: int = 10, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(2 * width * 16, 128), nn.ReLU())
        self.head = nn.Linear(128, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def train_classifier(images: torch.Tensor, labels: torch.Tensor, epochs: int = 3, batch_size: int = 128,
                     lr: float = 1e-3, seed: int = 0) -> tuple[SmallClassifier, float]:
    """Train a `SmallClassifier` with Adam + cross-entropy; returns (model in eval mode, training accuracy)."""
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} vs {len(labels)}")
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the caller's RNG
        torch.manual_seed(seed)
        model = SmallClassifier(images.shape[1], int(labels.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        perm = torch.randperm(len(images), generator=g)
        for i in range(0, len(images), batch_size):
            idx = perm[i:i + batch_size]
            loss = nn.functional.cross_entropy(model(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = float(sum((model(images[i:i + 1000]).argmax(1) == labels[i:i + 1000]).sum()
                        for i in range(0, len(images), 1000)) / len(images))
    return model, acc


class ClassifierFeatures:
    """Extractor from a trained `SmallClassifier`: images → (B, 128) penultimate features (float32), no grad;
    `class_probs(images)` → (B, n_classes) softmax (float64). `accuracy`: held-out accuracy when known."""

    name = "classifier"

    def __init__(self, model: SmallClassifier, accuracy: float | None = None, data: str | None = None):
        self.model, self.accuracy, self.data = model.eval(), accuracy, data
        buf = io.BytesIO()
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, buf)
        self.sha256 = hashlib.sha256(buf.getvalue()).hexdigest()

    @torch.no_grad()
    def __call__(self, x: npt.ArrayLike | torch.Tensor) -> torch.Tensor:
        return self.model.features(torch.as_tensor(x, dtype=torch.float32))

    @torch.no_grad()
    def class_probs(self, x: npt.ArrayLike | torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(torch.as_tensor(x, dtype=torch.float32)).double(), dim=1)

    def describe(self) -> dict:
        return {"name": self.name, "data": self.data, "heldout_accuracy": self.accuracy, "sha256": self.sha256,
                "features": 128}


class StackedFeatures:
    """A single-channel extractor applied to each of the k channels of (B, k, H, W) images: features
    concatenated (B, k·d); class probabilities the outer product over channels, (B, K^k), class index Σ_i y_i K^i
    (the label of `gan.data.StackedImages`)."""

    def __init__(self, base: ClassifierFeatures, k: int = 3):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive int; got {k!r}")
        self.base, self.k, self.name = base, k, f"stacked{k}-{base.name}"
        self.sha256 = base.sha256

    def _split(self, x):
        x = torch.as_tensor(x, dtype=torch.float32)
        if x.dim() != 4 or x.shape[1] != self.k:
            raise ValueError(f"images must be (B, {self.k}, H, W); got shape {tuple(x.shape)}")
        return [x[:, c:c + 1] for c in range(self.k)]

    def __call__(self, x: npt.ArrayLike | torch.Tensor) -> torch.Tensor:
        return torch.cat([self.base(c) for c in self._split(x)], 1)

    def class_probs(self, x: npt.ArrayLike | torch.Tensor) -> torch.Tensor:
        out = None
        for c in self._split(x):                       # channel i contributes digit i (weight K^i)
            p = self.base.class_probs(c)
            out = p if out is None else (p[:, :, None] * out[:, None, :]).reshape(len(p), -1)
        return out

    def describe(self) -> dict:
        return {**self.base.describe(), "name": self.name, "channels": self.k, "features": 128 * self.k}


def classifier_extractor(model: SmallClassifier) -> ClassifierFeatures:
    """Callable images → (B, 128) penultimate features, no grad (a `ClassifierFeatures`)."""
    return ClassifierFeatures(model)


def cache_dir() -> Path:
    """Where trained classifiers and real-feature caches live: $DIVKIT_CACHE, else ~/.cache/divkit."""
    return Path(os.environ.get("DIVKIT_CACHE") or Path.home() / ".cache" / "divkit")


def classifier_for(images: torch.Tensor, labels: torch.Tensor, key: str, cache: Path | None = None,
                   epochs: int = 3, max_images: int | None = None, seed: int = 0) -> ClassifierFeatures:
    """The default extractor of a single-channel labelled image set, trained once and cached as
    `cache/classifier-<key>.pt` (key: names the data set, e.g. "fashion_mnist-28"). It trains on the first 90 % of
    the images (at most `max_images`) and reports its accuracy on the last 10 %, which it never sees."""
    if labels is None:
        raise ValueError(f"data set {key!r} has no labels: the default feature extractor is a classifier trained "
                         "on them (pass Inception weights instead)")
    cache = Path(cache) if cache is not None else cache_dir()
    path = cache / f"classifier-{key}-e{epochs}-n{max_images or 'all'}-s{seed}.pt"
    n_test = max(1, len(images) // 10)
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        model = SmallClassifier(images.shape[1], int(saved["n_classes"]))
        model.load_state_dict(saved["state"])
        return ClassifierFeatures(model, float(saved["accuracy"]), key)
    train_x, train_y = images[:-n_test], labels[:-n_test]
    if max_images is not None:
        train_x, train_y = train_x[:max_images], train_y[:max_images]
    model, _ = train_classifier(train_x, train_y, epochs=epochs, seed=seed)
    with torch.no_grad():
        test_x, test_y = images[-n_test:], labels[-n_test:]
        acc = sum(int((model(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum())
                  for i in range(0, n_test, 1000)) / n_test
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save({"state": model.state_dict(), "accuracy": acc, "n_classes": model.head.out_features}, tmp)
    os.replace(tmp, path)
    return ClassifierFeatures(model, acc, key)
