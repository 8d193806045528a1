"""Periodic evaluation during training: metrics on fixed-noise samples every `eval_every` steps.

- 2-D mixtures (ring8, grid25): `gan.metrics.mode_metrics` (modes captured, high-quality fraction, reverse KL
  of the mode histogram; VEEGAN/PacGAN protocol) on `eval_samples` generator samples from one fixed noise
  batch, so the curve shows the generator changing, not the noise.
- images with labels: FID and KID (`gan.metrics.fid_from_features`, `kid_from_features`, 10 subsets of
  ≤ 1000 and ≤ half the samples; `kid` the mean, `kid_std` the spread over subsets as torch-fidelity
  reports) on the 128-d penultimate features of a `gan.features.SmallClassifier` trained once on the real
  images (≤ 10,000 of them, 2 epochs), against `eval_samples` real images; the classifier and the real
  features are computed at the first evaluation and cached in the run folder (`eval_features.pt`). These
  numbers compare runs within this tool only (not Inception FIDs). Unlabelled images: not available (a
  ValueError at start says so) until an Inception-feature evaluator is wired in.

The evaluator draws from its own `torch.Generator`s and numpy generators: training's random stream is
untouched, so a run with evaluation follows the same trajectory as one without. Every value is strict JSON
(NaN → null).
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .image_metrics import KEY_KID_MEAN, KEY_KID_STD
from .metrics import fid_from_features, kid_from_features, mode_metrics

if TYPE_CHECKING:
    from .data import DataSet
    from .trainer import Trainer

# metric → True if larger is better
MIXTURE_METRICS = {"modes": True, "hq_fraction": True, "reverse_kl": False}
IMAGE_METRICS = {"fid": False, "kid": False}
METRICS = {**MIXTURE_METRICS, **IMAGE_METRICS}

CLASSIFIER_IMAGES, CLASSIFIER_EPOCHS = 10_000, 2


def json_value(v: object) -> object:
    """float NaN/±inf → None (strict JSON has no NaN); numpy scalars → Python numbers."""
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def data_kind(data: DataSet) -> str:
    """'mixture', 'image' or 'none' (what `evaluate` can measure on these data)."""
    if hasattr(data, "means") and hasattr(data, "std"):
        return "mixture"
    if len(tuple(data.shape)) == 3:
        return "image"
    return "none"


class PeriodicEvaluator:
    """Metrics of a `Trainer`'s current generator (module docstring). `evaluate()` → dict of strict-JSON values
    plus "seconds" (wall time of this evaluation)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = tr = trainer
        cfg = tr.config
        self.kind = data_kind(tr.data)
        if self.kind == "none":
            raise ValueError(f"eval_every needs mixture data (ring8, grid25: mode metrics) or images (FID/KID); "
                             f"{cfg.data!r} has neither")
        if self.kind == "image" and not getattr(tr.data, "num_classes", 0):
            raise ValueError(f"eval_every on images needs labelled data (the FID/KID features come from a classifier "
                             f"trained on the labels); {cfg.data!r} has none. Image metrics with Inception features "
                             f"are not available in periodic evaluation yet")
        self.metrics = MIXTURE_METRICS if self.kind == "mixture" else IMAGE_METRICS
        gen = torch.Generator().manual_seed(cfg.seed + 5)
        self.z = torch.randn(cfg.eval_samples, cfg.z_dim, generator=gen)  # fixed noise of every evaluation
        self._features = None  # (extractor, real features) for images

    def _image_features(self):
        if self._features is None:
            from .features import SmallClassifier, classifier_extractor, train_classifier
            from .metrics import extract

            tr, cfg = self.trainer, self.trainer.config
            path = Path(cfg.out) / "eval_features.pt"
            data = tr.data
            if path.is_file():
                saved = torch.load(path, weights_only=True)
                clf = SmallClassifier(saved["channels"], saved["classes"])
                clf.load_state_dict(saved["state"])
                clf.eval()
                real = saved["real"].numpy()
            else:
                g = torch.Generator().manual_seed(cfg.seed + 6)
                n = min(CLASSIFIER_IMAGES, len(data)) if hasattr(data, "__len__") else CLASSIFIER_IMAGES
                x, y = data.sample_labelled(n, generator=g)
                clf, acc = train_classifier(x, y, epochs=CLASSIFIER_EPOCHS, seed=cfg.seed)
                real = extract(classifier_extractor(clf), data.sample(cfg.eval_samples, generator=g))
                if tr.is_main:
                    tmp = path.with_name(path.name + ".tmp")
                    torch.save({"state": clf.state_dict(), "channels": int(x.shape[1]), "classes": int(y.max()) + 1,
                                "accuracy": acc, "real": torch.from_numpy(real)}, tmp)
                    tmp.replace(path)
            self._features = (classifier_extractor(clf), real)
        return self._features

    def evaluate(self) -> dict:
        t0 = time.perf_counter()
        x = self.trainer.generate(self.z)
        if self.kind == "mixture":
            m = mode_metrics(x, self.trainer.data.means, self.trainer.data.std)
            out = {k: m[k] for k in self.metrics}
        else:
            from .metrics import extract

            extractor, real = self._image_features()
            fake = extract(extractor, x)
            # subsets of at most half the samples, so that they differ and their spread means something
            size = max(2, min(1000, len(fake) // 2, len(real) // 2))
            k = kid_from_features(fake, real, subsets=10, subset_size=size, seed=0)
            out = {"fid": fid_from_features(fake, real), "kid": k[KEY_KID_MEAN], "kid_std": k[KEY_KID_STD]}
        out = {k: json_value(v) for k, v in out.items()}
        out["seconds"] = round(time.perf_counter() - t0, 4)
        return out


class BestKeeper:
    """Tracks the best value of one metric (strictly better replaces; None/NaN never does)."""

    def __init__(self, metric: str):
        if metric not in METRICS:
            raise ValueError(f"keep_best must be one of {', '.join(METRICS)}; got {metric!r}")
        self.metric, self.maximise = metric, METRICS[metric]
        self.value, self.step = None, None

    def improved(self, record: dict, step: int) -> bool:
        v = record.get(self.metric)
        if v is None or not math.isfinite(v):
            return False
        if self.value is None or (v > self.value if self.maximise else v < self.value):
            self.value, self.step = v, int(step)
            return True
        return False

    def state_dict(self) -> dict:
        return {"metric": self.metric, "value": self.value, "step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.value, self.step = state["value"], state["step"]
