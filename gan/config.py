"""Typed training configuration: defaults < TOML file < CLI flags; the resolved config is saved as JSON.

TOML is read with `tomllib` (Python ≥ 3.11) or `tomli` (its backport, a dependency on Python 3.10). Tables
(`[train]`, `[model]`, …) only group keys: their fields are merged into one flat config, and a key given twice
is an error. An unknown key is reported with the closest known one (`ConfigKeyError`).
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import os

OPTIMISER_DEFAULTS = {"lr_d": 1e-4, "lr_g": 1e-4, "betas_d": (0.5, 0.999), "betas_g": (0.5, 0.999), "n_critic": 1}


@dataclass
class TrainConfig:
    """Every knob of one training run. Field names map to CLI flags with '-' for '_' (e.g. --lr-g)."""

    # what to train
    data: str = "ring8"                   # 2-D mixtures (ring8, grid25, spiral) or images (the rest)
    data_path: str | None = None          # folder for idx / folder / fashion_mnist
    image_size: int | None = None         # resize images (DCGAN needs 28, 32 or 64)
    divergence: str = "gan"               # divkit name (f-GAN) | wgan | wgan_gp | hinge | least_squares | began
    generator_loss: str = "nonsaturating" # saturating | nonsaturating (f-GAN only)
    # models
    model: str = "auto"                   # auto (mlp for 2-D, dcgan for images) | mlp | dcgan | pacgan
    z_dim: int = 16                       # dimension of the generator's Gaussian noise z
    hidden: int = 128                     # MLP width
    layers: int = 3                       # MLP hidden layers
    width: int = 64                       # DCGAN base channels
    # optimisation (None = the preset's value, else the default below; see `resolve_optimiser`)
    steps: int = 5000                     # generator updates
    batch_size: int = 256                 # samples per real and per fake batch (per process under DDP)
    preset: str | None = None             # ttur (= sagan) | sagan | dcgan | wgan_gp: lr, betas, n_critic
    n_critic: int | None = None           # critic updates per generator update (unset: preset, else 1)
    lr_g: float | None = None             # generator's Adam lr (unset: preset, else 1e-4)
    lr_d: float | None = None             # critic's Adam lr (unset: preset, else 1e-4)
    betas_g: tuple | None = None          # generator's Adam betas (unset: preset, else 0.5 0.999)
    betas_d: tuple | None = None          # critic's Adam betas (unset: preset, else 0.5 0.999)
    wgan_clip: float = 0.01               # weight clipping bound c of the wgan loss
    gp_weight: float = 10.0               # λ of the wgan_gp divergence
    # stabilisers (docs/stabilisers.md); each composes with every divergence
    spectral_norm: bool = False           # spectral normalisation of every critic layer (Miyato et al. 2018)
    spectral_norm_g: bool = False         # ... and of every generator layer (SAGAN)
    self_attention: int = 0               # SAGAN block at this feature-map side in G and D (DCGAN; 0 = none)
    label_smoothing: float = 0.0          # one-sided: real target 1 − α (gan, js only; Salimans et al. 2016)
    instance_noise: float = 0.0           # σ of N(0, σ²) added to every critic input
    instance_noise_anneal: int = 0        # anneal σ linearly to 0 over this many steps (0 = constant)
    r1: float = 0.0                       # γ of R1 = γ/2 E_P‖∇V‖² (Mescheder et al. 2018)
    r2: float = 0.0                       # γ of R2 = γ/2 E_Q‖∇V‖²
    gradient_penalty: float = 0.0         # WGAN-GP λ E(‖∇V(x̂)‖ − 1)² added to any loss
    unrolled_steps: int = 0               # unrolled GAN look-ahead k (Metz et al. 2017)
    unrolled_lr: float | None = None      # η of the look-ahead (default lr_d)
    unrolled_optimizer: str = "adam"      # look-ahead rule: adam (continues the critic's Adam moments) | sgd
    pack: int = 1                         # PacGAN: the critic sees m samples at once
    mine_beta: float = 0.0                # MINE regulariser −β·I(G([ε, c]); c) (Belghazi et al. 2018 §6.1)
    mine_code_dim: int = 2                # dimension of the code c appended to z
    mine_critic: str = "separable"        # MINE statistics network: separable | concat (O(K²) MLP passes)
    mine_code: str = "normal"             # code c: normal | uniform | categorical (one-hot, I ≤ log mine_code_dim)
    ema_decay: float = 0.0                # EMA of G for evaluation (0 = off)
    conditional: str = "none"             # none | concat | projection (needs labelled data)
    msg: bool = False                     # MSG-GAN multi-scale models (images)
    compile: bool = False                 # torch.compile G and D
    compile_backend: str = "inductor"     # inductor | aot_eager | eager
    channels_last: bool = False           # channels_last memory format (CUDA images)
    # run
    seed: int = 0                         # seeds python, numpy and torch (data, init, noise)
    device: str = "cpu"                   # cpu | cuda | auto
    bf16: bool = False                    # bf16 autocast of the forward passes (CUDA only)
    progress: bool = True                 # tqdm progress bar
    log_every: int = 100                  # a metrics.jsonl record every N steps (0: none)
    sample_every: int = 1000              # 0: no periodic plots
    checkpoint_every: int = 500           # checkpoint.pt every N steps (0: only at the end)
    eval_samples: int = 2500              # generator samples for the final metrics (VEEGAN/PacGAN: 2,500)
    train_set: int = 0                    # > 0: train on a fixed set of this many samples (PacGAN: 100000)
    out: str = "runs/default"             # run folder (empty or new; --resume / --overwrite otherwise)
    # data, evaluation, logging and schedules (gan.run_tools; docs/training-tools.md)
    channels: int | None = None           # force 1 or 3 image channels (unset: the data's own; folder RGB stays 3)
    mirror: bool = False                  # random horizontal flips of image data (p = 1/2)
    data_workers: int = 0                 # read --data folder lazily with N DataLoader workers (0 = all in memory)
    eval_every: int = 0                   # evaluate every N steps into eval.jsonl (modes/HQ/rev-KL; images FID/KID)
    keep_best: str | None = None          # keep best.pt by: modes | hq_fraction | reverse_kl | fid | kid
    tensorboard: bool = False             # TensorBoard events in OUT/tensorboard (pip install .[tensorboard])
    lr_decay: str = "none"                # none | linear | cosine | step (learning-rate factor over the run)
    lr_decay_every: int = 1000            # step decay: multiply the learning rates by lr_decay_gamma every N steps
    lr_decay_gamma: float = 0.5           # step decay factor
    plateau_patience: int = 0             # divide the lrs by plateau_factor after N evals without a better metric
    plateau_factor: float = 0.5           # plateau rule: learning-rate multiplier (modes for mixtures, FID for images)
    began_gamma: float = 0.5              # BEGAN diversity ratio γ = E L(G(z)) / E L(x) (divergence began)
    began_lambda_k: float = 0.001         # BEGAN learning rate λ_k of the equilibrium term k_t

    def resolve_optimiser(self) -> TrainConfig:
        """Fill lr_g, lr_d, betas_g, betas_d, n_critic left at None: from `preset` if one is named, else the
        defaults (1e-4, 1e-4, (0.5, 0.999), (0.5, 0.999), 1). Values given explicitly always win. Idempotent."""
        from .stabilisers.ttur import get_preset

        if self.preset is not None:
            p = get_preset(self.preset).as_dict()  # raises, listing the known presets
        else:
            p = dict(OPTIMISER_DEFAULTS)
        for k in OPTIMISER_DEFAULTS:
            if getattr(self, k) is None:
                setattr(self, k, p[k])
        return self

    def validate(self) -> TrainConfig:
        """Resolve the optimiser fields, then raise ValueError naming the field for any bad value; returns self."""
        from . import data as data_mod
        from . import losses

        try:
            self.resolve_optimiser()
        except (ValueError, TypeError) as exc:
            raise ValueError(f"preset: {exc}") from None
        self.betas_g, self.betas_d = tuple(self.betas_g), tuple(self.betas_d)
        for name in ("steps", "batch_size", "n_critic", "z_dim", "hidden", "layers", "width", "eval_samples", "pack",
                     "mine_code_dim"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("log_every", "sample_every", "checkpoint_every", "self_attention", "instance_noise_anneal",
                     "unrolled_steps", "train_set"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name} must be an integer ≥ 0 (0 = never/off), got {v!r}")
        for name in ("lr_g", "lr_d", "wgan_clip"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a positive finite number, got {v!r}")
        if self.unrolled_lr is not None and not (self.unrolled_lr > 0 and math.isfinite(self.unrolled_lr)):
            raise ValueError(f"unrolled_lr must be a positive finite number (or unset: lr_d), got {self.unrolled_lr!r}")
        for name in ("gp_weight", "instance_noise", "r1", "r2", "gradient_penalty", "mine_beta"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a finite number ≥ 0 (0 = off), got {v!r}")
        if not (isinstance(self.ema_decay, (int, float)) and 0 <= self.ema_decay < 1):
            raise ValueError(f"ema_decay must lie in [0, 1) (0 = no EMA, 0.999 typical), got {self.ema_decay!r}")
        for name in ("betas_g", "betas_d"):
            b = getattr(self, name)
            if len(b) != 2 or not all(0 <= x < 1 for x in b):
                raise ValueError(f"{name} must be two numbers in [0, 1), got {b!r}")
        if self.model not in ("auto", "mlp", "dcgan", "pacgan"):
            raise ValueError(f"model must be one of auto, mlp, dcgan, pacgan; got {self.model!r}")
        if self.device not in ("cpu", "cuda", "auto") and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be cpu, cuda, cuda:N or auto; got {self.device!r}")
        if self.image_size is not None and self.image_size not in (8, 28, 32, 64):
            raise ValueError(f"image_size must be 28, 32 or 64 (8 for digits without a DCGAN), got {self.image_size!r}")
        loss = losses.get(self.divergence, self.generator_loss)  # raises with the list of known names
        if self.data.strip().lower().replace("-", "_") not in data_mod.names():
            raise ValueError(f"unknown dataset {self.data!r}; known: {', '.join(data_mod.names())}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must lie in [0, 1) (0.1 = real target 0.9), got {self.label_smoothing!r}")
        if self.label_smoothing and getattr(getattr(loss, "divergence", None), "name", None) not in ("gan", "js"):
            raise ValueError(f"label_smoothing is defined for the gan and js divergences only; got divergence "
                             f"{self.divergence!r}")
        if self.unrolled_optimizer not in ("adam", "sgd"):
            raise ValueError(f"unrolled_optimizer must be adam or sgd; got {self.unrolled_optimizer!r}")
        if self.mine_code not in ("normal", "uniform", "categorical"):
            raise ValueError(f"mine_code must be normal, uniform or categorical; got {self.mine_code!r}")
        if self.mine_code == "categorical" and self.mine_code_dim < 2:
            raise ValueError(f"mine_code categorical needs mine_code_dim ≥ 2 classes; got {self.mine_code_dim}")
        if self.mine_critic not in ("separable", "concat"):
            raise ValueError(f"mine_critic must be separable or concat; got {self.mine_critic!r}")
        if self.conditional not in ("none", "concat", "projection"):
            raise ValueError(f"conditional must be one of none, concat, projection; got {self.conditional!r}")
        if self.compile_backend not in ("inductor", "aot_eager", "eager", "cudagraphs"):
            raise ValueError(f"compile_backend must be inductor, aot_eager, eager or cudagraphs; "
                             f"got {self.compile_backend!r}")
        if self.batch_size % self.pack:
            raise ValueError(f"batch_size {self.batch_size} must be a multiple of pack {self.pack}")
        if self.unrolled_steps and (self.conditional != "none" or self.msg):
            raise ValueError("unrolled_steps does not combine with conditional or msg (the look-ahead critic takes "
                             "one batch of samples)")
        if self.mine_beta and self.batch_size < 2:
            raise ValueError("mine_beta needs batch_size ≥ 2 (MINE compares joint and shuffled pairs)")
        from .run_tools import validate_config

        validate_config(self)  # the fields of the run tools block above
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("betas_g", "betas_d"):
            d[k] = None if d[k] is None else list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """TrainConfig from a dict of fields; an unknown key raises ConfigKeyError naming the closest field."""
        known = [f.name for f in fields(cls)]
        bad = sorted(set(d) - set(known))
        if bad:
            raise ConfigKeyError(bad[0], known)
        d = dict(d)
        for k in ("betas_g", "betas_d"):
            if d.get(k) is not None:
                d[k] = tuple(float(x) for x in d[k])
        return cls(**d)

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


class ConfigKeyError(ValueError):
    """A config key that is not a TrainConfig field; the message names the closest known field."""

    def __init__(self, key: str, known: Iterable[str], where: str = "config") -> None:
        self.key = key
        close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(sorted(known))}"
        super().__init__(f"{where}: unknown key {key!r}{hint}")


def _toml_module():
    try:
        import tomllib  # Python ≥ 3.11
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10: the declared tomli dependency
        import tomli as tomllib
    return tomllib


def load_toml(path: str | os.PathLike) -> dict:
    """Read a TOML file of TrainConfig fields into one flat dict (tables only group keys).

    Raises FileNotFoundError (no file), ValueError naming the file (malformed TOML, a key set twice) and
    ConfigKeyError naming the closest field (an unknown key).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    toml = _toml_module()
    try:
        raw = toml.loads(path.read_text(encoding="utf-8"))
    except toml.TOMLDecodeError as exc:
        raise ValueError(f"{path}: malformed TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    flat: dict = {}
    known = [f.name for f in fields(TrainConfig)]

    def merge(table: dict, where: str):
        for k, v in table.items():
            if isinstance(v, dict):
                merge(v, f"{where}[{k}]")
            elif k in flat:
                raise ValueError(f"{path}: key {k!r} is set twice (tables only group keys)")
            elif k not in known:
                raise ConfigKeyError(k, known, f"{path}{where}")
            else:
                flat[k] = v

    merge(raw, "")
    return flat


def _field_help() -> dict:
    """The comment after each TrainConfig field (the source is the one place the fields are documented)."""
    import inspect
    import re

    out = {}
    for line in inspect.getsource(TrainConfig).splitlines():
        m = re.match(r"\s+(\w+): [^=]+=.*?#\s*(.+)$", line)
        if m:
            out[m.group(1)] = m.group(2).replace("%", "%%")
    return out


def _choices() -> dict:
    """The enum fields and their allowed values (the validation in `TrainConfig.validate` is the same)."""
    from . import data as data_mod
    from . import schedules
    from .evaluation import METRICS
    from .stabilisers.ttur import PRESETS

    return {"data": data_mod.names(), "generator_loss": ["saturating", "nonsaturating"],
            "model": ["auto", "mlp", "dcgan"], "preset": sorted(PRESETS) + ["ttur"], "image_size": [8, 28, 32, 64],
            "unrolled_optimizer": ["adam", "sgd"], "mine_critic": ["separable", "concat"],
            "mine_code": ["normal", "uniform", "categorical"], "conditional": ["none", "concat", "projection"],
            "compile_backend": ["inductor", "aot_eager", "eager", "cudagraphs"], "channels": [1, 3],
            "lr_decay": list(schedules.KINDS), "keep_best": list(METRICS)}


def _choice_type(name: str, options: list, convert=str):
    """argparse type: `convert` the value, normalise names like the loaders do, and reject an unknown value
    naming the closest known one."""
    def parse(raw: str):
        try:
            v = convert(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {convert.__name__} value: {raw!r}") from None
        if isinstance(v, str) and name == "data":
            v = v.strip().lower().replace("-", "_")
        if v not in options:
            close = difflib.get_close_matches(str(v), [str(o) for o in options], n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise argparse.ArgumentTypeError(f"unknown {name} {raw!r}{hint}; choose from "
                                             f"{', '.join(map(str, options))}")
        return v
    parse.__name__ = name
    return parse


def _divergence_type(raw: str) -> str:
    """argparse type of --divergence: any name `gan.losses.get` accepts, else the closest known one."""
    from . import losses

    try:
        losses.get(raw, "nonsaturating")
    except (ValueError, TypeError):
        close = difflib.get_close_matches(raw, losses.names(), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise argparse.ArgumentTypeError(f"unknown loss/divergence {raw!r}{hint}; known: "
                                         f"{', '.join(losses.names())}, alpha(a) for any a ≠ 0, 1") from None
    return raw


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (default None = not given) plus --config FILE.toml. Every flag has help
    (the field's comment), enums have `choices`; a bad value is an argparse error naming the closest choice."""
    parser.add_argument("--config", metavar="FILE.toml",
                        help="TOML file of TrainConfig fields (tables only group keys); flags override it")
    helps, choices = _field_help(), _choices()
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        h = helps.get(f.name, f.name.replace("_", " ")) + ("" if f.default is None else f" [default: {f.default}]")
        if f.name in choices:
            conv = int if "int" in typ else str
            parser.add_argument(flag, type=_choice_type(f.name, choices[f.name], conv), choices=choices[f.name],
                                default=None, metavar="{" + ",".join(map(str, choices[f.name])) + "}", help=h)
        elif f.name == "divergence":
            from . import losses

            parser.add_argument(flag, type=_divergence_type, default=None, metavar="NAME",
                                help=h + f"; one of {', '.join(losses.names())}, alpha(a)")
        elif "bool" in typ:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=h)
        elif "tuple" in typ:
            parser.add_argument(flag, nargs=2, type=float, default=None, metavar=("B1", "B2"), help=h)
        elif "int" in typ:
            parser.add_argument(flag, type=int, default=None, help=h)
        elif "float" in typ:
            parser.add_argument(flag, type=float, default=None, help=h)
        else:
            parser.add_argument(flag, type=str, default=None, help=h)


def to_toml(config: TrainConfig) -> str:
    """The config as a flat TOML file that `--config` reads back (fields left at None are omitted: unset)."""
    lines = ["# resolved TrainConfig (python -m gan train --print-config)"]
    for k, v in config.to_dict().items():
        if v is None:
            lines.append(f"# {k} unset")
        else:
            lines.append(f"{k} = {json.dumps(v)}")
    return "\n".join(lines) + "\n"


def config_from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """defaults (or `base`) < --config TOML < explicit flags. `--preset pacgan` also sets PacGAN's 2-D
    protocol as the base (gan.sweep.presets.PACGAN: their networks, z_dim 2, fixed 100,000-sample set, batch
    100 packs = 100·pack samples)."""
    if base is None and getattr(args, "preset", None) == "pacgan":
        from .sweep.presets import pacgan_config

        base = pacgan_config(pack=getattr(args, "pack", None) or 1)
    d = (base or TrainConfig()).to_dict()
    if getattr(args, "config", None):
        d.update(load_toml(args.config))
    for f in fields(TrainConfig):
        v = getattr(args, f.name, None)
        if v is not None:
            d[f.name] = v
    return TrainConfig.from_dict(d)
