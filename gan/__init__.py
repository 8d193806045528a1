"""gan: f-GAN training for every divkit divergence (losses, data, models, trainer, metrics, CLI).

`python -m gan train --divergence pearson --data ring8 --steps 5000 --out runs/x`; see docs/gan.md.
Submodules are imported lazily so `import gan` stays light.
"""
from __future__ import annotations

import importlib

from divkit._version import __version__ as __version__  # one version for the one distribution that ships gan

__all__ = ["losses", "data", "models", "config", "trainer", "checkpoint", "metrics", "features", "compare",
           "TrainConfig", "Trainer", "train", "demo_ring8"]

_ATTRS = {"TrainConfig": ("config", "TrainConfig"), "Trainer": ("trainer", "Trainer"),
          "train": ("trainer", "train"), "demo_ring8": ("demo", "demo_ring8")}


def __getattr__(name):
    if name in _ATTRS:
        mod, attr = _ATTRS[name]
        return getattr(importlib.import_module(f".{mod}", __name__), attr)
    if name in __all__ or name in ("layers", "stabilisers", "plots", "cli", "demo"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'gan' has no attribute {name!r}")
