"""Feature extractors for FID/KID: a small classifier trained on the dataset itself, or local Inception weights.

No FID library ships Inception weights and this project cannot download them, so the default extractor is a
small CNN classifier trained on the real data's labels (Fashion-MNIST, digits, any `ImageData` with labels);
features are its penultimate layer (d = 128). FID/KID values from it compare runs *within this tool* only;
they are not comparable with published Inception-FID numbers.

`inception_extractor(path)` loads a local TorchScript Inception file (e.g. the one StyleGAN2-ADA/clean-fid
distribute as `inception-2015-12-05.pt`, called as `model(x, return_features=True)` on uint8-range images at
299×299) → 2048-d pool features. Tested with a stand-in TorchScript module of the same calling convention, not
with the real weights (none on this machine). The file is TorchScript, so it is loaded with `torch.jit.load`
(deprecated in recent torch for new code; its DeprecationWarning is silenced here since no other format exists).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn


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


def classifier_extractor(model: SmallClassifier):
    """Callable images → (B, 128) penultimate features, no grad."""

    @torch.no_grad()
    def extract(x):
        return model.features(torch.as_tensor(x, dtype=torch.float32))

    return extract


def inception_extractor(path, device="cpu"):
    """Local TorchScript Inception (see module docstring). Images in [−1, 1], 1 or 3 channels, any size."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Inception weights not found: {path}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = torch.jit.load(str(path), map_location=device).eval()

    @torch.no_grad()
    def extract(x):
        x = torch.as_tensor(x, dtype=torch.float32, device=device)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = ((x + 1) * 127.5).clamp(0, 255)
        x = nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        return model(x, return_features=True)

    return extract
