"""Typed training configuration: defaults < TOML file < CLI flags; the resolved config is saved as JSON.

TOML is read with `tomllib` (Python ≥ 3.11). On Python 3.10 `tomli` is used if installed, else a minimal
reader of flat `key = value` lines (strings, numbers, booleans, arrays of numbers; `#` comments; a `[train]`
table header is accepted and ignored) — enough for this config, which is flat.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class TrainConfig:
    """Every knob of one training run. Field names map to CLI flags with '-' for '_' (e.g. --lr-g)."""

    # what to train
    data: str = "ring8"                   # ring8 | grid25 | spiral | digits | fashion_mnist | idx | folder
    data_path: str | None = None          # folder for idx / folder / fashion_mnist
    image_size: int | None = None         # resize images (DCGAN needs 28, 32 or 64)
    divergence: str = "gan"               # any divkit name (f-GAN) or wgan | wgan_gp | hinge | least_squares
    generator_loss: str = "nonsaturating" # saturating | nonsaturating (f-GAN only)
    # models
    model: str = "auto"                   # auto (mlp for 2-D, dcgan for images) | mlp | dcgan
    z_dim: int = 16
    hidden: int = 128                     # MLP width
    layers: int = 3                       # MLP hidden layers
    width: int = 64                       # DCGAN base channels
    # optimisation
    steps: int = 5000                     # generator updates
    batch_size: int = 256
    n_critic: int = 1                     # critic updates per generator update
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    betas_g: tuple = (0.5, 0.999)
    betas_d: tuple = (0.5, 0.999)
    wgan_clip: float = 0.01
    gp_weight: float = 10.0
    # run
    seed: int = 0
    device: str = "cpu"                   # cpu | cuda | auto
    bf16: bool = False                    # bf16 autocast of the forward passes (CUDA only)
    progress: bool = True
    log_every: int = 100
    sample_every: int = 1000              # 0: no periodic plots
    checkpoint_every: int = 500
    eval_samples: int = 2500              # generator samples for the final metrics (VEEGAN/PacGAN: 2,500)
    out: str = "runs/default"

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the field for any bad value; returns self."""
        from . import data as data_mod
        from . import losses

        self.betas_g, self.betas_d = tuple(self.betas_g), tuple(self.betas_d)
        for name in ("steps", "batch_size", "n_critic", "z_dim", "hidden", "layers", "width", "eval_samples"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("log_every", "sample_every", "checkpoint_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an integer ≥ 0 (0 = never), got {v!r}")
        for name in ("lr_g", "lr_d", "wgan_clip"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")
        if not (self.gp_weight >= 0):
            raise ValueError(f"gp_weight must be ≥ 0, got {self.gp_weight!r}")
        for name in ("betas_g", "betas_d"):
            b = getattr(self, name)
            if len(b) != 2 or not all(0 <= x < 1 for x in b):
                raise ValueError(f"{name} must be two numbers in [0, 1), got {b!r}")
        if self.model not in ("auto", "mlp", "dcgan"):
            raise ValueError(f"model must be one of auto, mlp, dcgan; got {self.model!r}")
        if self.device not in ("cpu", "cuda", "auto") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be cpu, cuda, cuda:N or auto; got {self.device!r}")
        if self.image_size is not None and self.image_size not in (8, 28, 32, 64):
            raise ValueError(f"image_size must be 28, 32 or 64 (8 for digits without a DCGAN), got {self.image_size!r}")
        losses.get(self.divergence, self.generator_loss)  # raises with the list of known names
        if self.data.strip().lower().replace("-", "_") not in data_mod.names():
            raise ValueError(f"unknown dataset {self.data!r}; known: {', '.join(data_mod.names())}")
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas_g"], d["betas_d"] = list(self.betas_g), list(self.betas_d)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ValueError(f"unknown config keys {bad}; known: {', '.join(sorted(known))}")
        d = dict(d)
        for k in ("betas_g", "betas_d"):
            if k in d:
                d[k] = tuple(float(x) for x in d[k])
        return cls(**d)

    def save(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def load_toml(path) -> dict:
    """Read a TOML file into a dict (flat; a single [train] table is flattened)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        import tomllib  # 3.11+
        d = tomllib.loads(text)
    except ModuleNotFoundError:
        try:
            import tomli
            d = tomli.loads(text)
        except ModuleNotFoundError:
            d = _tiny_toml(text, path)
    if set(d) == {"train"} and isinstance(d["train"], dict):
        d = d["train"]
    return d


def _tiny_toml(text: str, path) -> dict:
    out: dict[str, Any] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip() if '"' not in line else line.strip()
        if not line or (line.startswith("[") and line.endswith("]")):
            continue
        if "=" not in line:
            raise ValueError(f"{path}:{n}: expected key = value, got {line!r}")
        k, v = (s.strip() for s in line.split("=", 1))
        out[k] = _tiny_value(v, path, n)
    return out


def _tiny_value(v: str, path, n):
    if v.startswith('"') and v.endswith('"'):
        return v[1:-1]
    if v in ("true", "false"):
        return v == "true"
    if v.startswith("[") and v.endswith("]"):
        return [_tiny_value(x.strip(), path, n) for x in v[1:-1].split(",") if x.strip()]
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            raise ValueError(f"{path}:{n}: cannot parse value {v!r}") from None


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (default None = not given) plus --config FILE.toml."""
    parser.add_argument("--config", help="TOML file with TrainConfig fields (CLI flags override it)")
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        if "bool" in typ:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif "tuple" in typ:
            parser.add_argument(flag, nargs=2, type=float, default=None, metavar=("B1", "B2"))
        elif "int" in typ:
            parser.add_argument(flag, type=int, default=None)
        elif "float" in typ:
            parser.add_argument(flag, type=float, default=None)
        else:
            parser.add_argument(flag, type=str, default=None)


def config_from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """defaults (or `base`) < --config TOML < explicit flags."""
    d = (base or TrainConfig()).to_dict()
    if getattr(args, "config", None):
        d.update(load_toml(args.config))
    for f in fields(TrainConfig):
        v = getattr(args, f.name, None)
        if v is not None:
            d[f.name] = v
    return TrainConfig.from_dict(d)
