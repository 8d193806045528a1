"""Evaluate an image generator: IS, FID, KID, precision/recall, density/coverage (and modes on stacked data).

Two entry points:

- `evaluate_generator(generate, real, extractor, n_samples)`: the metrics of any generator callable
  `generate(n, seed) -> (n, C, H, W)` images in [−1, 1] against a data set (`real.sample(n, generator)`), with the
  real features cached on disk per data set and extractor (`real_key`); for periodic evaluation in a trainer.
- `evaluate_run(run_dir, n_samples, extractor)`: loads a finished run folder (config.json + checkpoint.pt, read
  from the folder given, whatever `out` it was trained with), builds the default extractor for its data set if none
  is given, and writes the result to `run_dir/eval_images_<extractor>.json` (strict JSON, no NaN) — what
  `python -m gan eval RUN` runs for image data.

Both sets have `n_samples` images (default 10,000). KID uses torch-fidelity's 100 subsets × 1000, so n_samples
must be ≥ 1000 unless `kid_subset_size` is lowered. Result keys: see `gan.image_metrics`; the extractor's
`describe()` is stored under "extractor", so a number is never separated from the features it was computed on.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from . import image_metrics as im
from .metrics import extract, stacked_mode_metrics

if TYPE_CHECKING:
    from .data import DataSet
    from .metrics import Extractor

DEFAULT_N = 10_000


def _features_and_probs(extractor, images, batch_size: int):
    feats = extract(extractor, images, batch_size)
    probs = extract(extractor.class_probs, images, batch_size) if hasattr(extractor, "class_probs") else None
    return feats, probs


def _real_features(real, extractor, n: int, seed: int, real_key: str | None, cache: Path | None, batch_size: int):
    """Features (and class probabilities) of n real images drawn with torch.Generator().manual_seed(seed),
    cached as cache/real-features/<real_key>-<extractor>-<sha>-n<n>-s<seed>.npz when real_key is given."""
    path = None
    if real_key is not None:
        from .features import cache_dir

        desc = extractor.describe() if hasattr(extractor, "describe") else {}
        tag = f"{desc.get('name', type(extractor).__name__)}-{str(desc.get('sha256', 'nosha'))[:16]}"
        path = (Path(cache) if cache is not None else cache_dir()) / "real-features" / \
            f"{real_key}-{tag}-n{n}-s{seed}.npz"
        if path.is_file():
            z = np.load(path)
            return z["features"].astype(np.float64), (z["probs"] if "probs" in z.files else None)
    images = real.sample(n, generator=torch.Generator().manual_seed(seed))
    feats, probs = _features_and_probs(extractor, images, batch_size)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        arrays = {"features": feats.astype(np.float32)}
        if probs is not None:
            arrays["probs"] = probs
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
        feats = feats.astype(np.float32).astype(np.float64)  # the same values a cache hit returns
    return feats, probs


def _check_sizes(n_samples, kid_subset_size=1000, pr_k=3, dc_k=5, **_):
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"n_samples must be an int ≥ 2; got {n_samples!r}")
    if n_samples < kid_subset_size:
        raise ValueError(f"n_samples {n_samples} is below the KID subset size {kid_subset_size}: pass n_samples ≥ "
                         f"{kid_subset_size} or a smaller kid_subset_size")
    for nm, k in (("pr_k", pr_k), ("dc_k", dc_k)):
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < n_samples:
            raise ValueError(f"{nm} must be an int in [1, n_samples); got {k!r}")


def evaluate_generator(generate: Callable[[int, int], torch.Tensor], real: DataSet, extractor: Extractor,
                       n_samples: int = DEFAULT_N, *, seed: int = 0, real_key: str | None = None,
                       cache_dir: str | os.PathLike | None = None, kid_subsets: int = 100,
                       kid_subset_size: int = 1000, pr_k: int = 3, dc_k: int = 5, batch_size: int = 500) -> dict:
    """All image metrics of `generate(n, seed)` against `real`; returns a flat dict (torch-fidelity key names)
    with "n_samples", "seed", "extractor" (its describe()) and "real_inception_score_mean" (IS of the real images:
    the ceiling this extractor gives)."""
    _check_sizes(n_samples, kid_subset_size, pr_k, dc_k)
    real_f, real_p = _real_features(real, extractor, n_samples, seed, real_key, cache_dir, batch_size)
    fake = generate(n_samples, seed)
    fake_f, fake_p = _features_and_probs(extractor, fake, batch_size)
    if not np.isfinite(fake_f).all():
        raise ValueError("the generator's samples give non-finite features (a diverged generator?)")
    out = {"n_samples": n_samples, "seed": seed}
    if fake_p is not None:
        out.update(im.inception_score(probs=fake_p))
        out["real_inception_score_mean"] = im.inception_score(probs=real_p)[im.KEY_IS_MEAN]
    out[im.KEY_FID] = im.fid_from_features(real_f, fake_f)
    kid = im.kid_from_features(fake_f, real_f, subsets=kid_subsets, subset_size=kid_subset_size)
    out.update({k: kid[k] for k in (im.KEY_KID_MEAN, im.KEY_KID_STD)})
    out["kid_subsets"], out["kid_subset_size"] = kid_subsets, kid_subset_size
    out.update(im.precision_recall(real_f, fake_f, k=pr_k))
    out.update(im.density_coverage(real_f, fake_f, k=dc_k))
    out["pr_k"], out["dc_k"] = pr_k, dc_k
    out["extractor"] = extractor.describe() if hasattr(extractor, "describe") else {"name": repr(extractor)}
    return out


def _data_key(cfg) -> str:
    parts = [cfg.data, str(cfg.image_size or "native")]
    if cfg.data_path:
        parts.append(hashlib.sha256(str(Path(cfg.data_path).resolve()).encode()).hexdigest()[:8])
    return "-".join(parts)


def default_extractor(dataset: DataSet, key: str, cache_dir: str | os.PathLike | None = None, epochs: int = 3,
                      max_images: int | None = None) -> Extractor:
    """The data-trained classifier extractor of `dataset` (per channel on stacked data), cached per data set."""
    from .data import StackedImages
    from .features import StackedFeatures, classifier_for

    base = dataset.base if isinstance(dataset, StackedImages) else dataset
    if base.shape[0] != 1:
        raise ValueError(f"the default classifier extractor needs single-channel images (or stacked ones); got "
                         f"shape {base.shape}: pass Inception weights instead")
    base_key = key.replace("stacked_", "", 1) if isinstance(dataset, StackedImages) else key
    clf = classifier_for(base.images, base.labels, base_key, cache_dir, epochs=epochs, max_images=max_images)
    return StackedFeatures(clf, dataset.k) if isinstance(dataset, StackedImages) else clf


def _load_trainer(run_dir: Path):
    """The run in `run_dir`, opened read-only (`Trainer.from_run`: no lock, nothing written, found from the folder
    given even if it was moved), leaving the global RNG as it was."""
    from . import checkpoint as ckpt_mod
    from .trainer import Trainer

    if not (run_dir / "checkpoint.pt").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no checkpoint.pt there)")
    rng = ckpt_mod.rng_state()
    try:
        return Trainer.from_run(run_dir)
    finally:
        ckpt_mod.set_rng_state(rng)


def evaluate_run(run_dir: str | os.PathLike, n_samples: int = DEFAULT_N, extractor: Extractor | None = None, *,
                 seed: int = 0, cache_dir: str | os.PathLike | None = None,
                 classifier_epochs: int = 3, classifier_images: int | None = None, write: bool = True,
                 **metric_kw: int) -> dict:
    """Image metrics of a finished run folder (see the module docstring).

    extractor: None (the data-trained classifier, cached per data set), a path to Inception weights (either format,
    `gan.inception`), or any extractor object. On stacked data the result also holds "modes" (of K^k, with 26,000
    samples as PacGAN, counted by the base classifier), "modes_of" and "modes_kl". `metric_kw` go to
    `evaluate_generator`. Returns the dict it writes to run_dir/eval_images_<extractor name>.json.
    """
    from .data import ImageData, StackedImages
    from .inception import InceptionFeatures

    _check_sizes(n_samples, **metric_kw)
    run_dir = Path(run_dir)
    tr = _load_trainer(run_dir)
    data = tr.data
    if not isinstance(data, (ImageData, StackedImages)):
        raise ValueError(f"{run_dir} was trained on {tr.config.data!r}, not on images")
    key = _data_key(tr.config)
    if extractor is None:
        extractor = default_extractor(data, key, cache_dir, classifier_epochs, classifier_images)
    elif isinstance(extractor, (str, os.PathLike)):
        extractor = InceptionFeatures(extractor)

    def generate(n, s):
        return tr.generate(n=n, seed=s)

    out = {"run": str(run_dir), "step": tr.step, "data": tr.config.data,
           **evaluate_generator(generate, data, extractor, n_samples, seed=seed, real_key=key, cache_dir=cache_dir,
                                **metric_kw)}
    if isinstance(data, StackedImages):
        from .features import StackedFeatures

        base = extractor.base if isinstance(extractor, StackedFeatures) else \
            default_extractor(data, key, cache_dir, classifier_epochs, classifier_images).base
        m = stacked_mode_metrics(generate(26000, seed), base.model, data.k, data.base.num_classes)
        out.update({"modes": m["modes"], "modes_of": data.base.num_classes ** data.k, "modes_kl": m["kl"],
                    "modes_n": m["n"], "modes_classifier_heldout_accuracy": base.accuracy})
    bad = [k for k, v in out.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise ValueError(f"non-finite metrics {bad} for {run_dir}")
    if write:
        name = out["extractor"].get("name", "extractor")
        path = run_dir / f"eval_images_{name}.json"
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(out, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    return out


# ---------------------------------------------------------------- a comparison folder → one table and one figure

# (header, key, format): KID keeps 4 significant digits, its scale follows the features' (Inception's KID is
# ~1e-2, a classifier's unnormalised ReLU features give ~10)
TABLE_COLUMNS = (("FID", "frechet_inception_distance", ".2f"), ("KID", "kernel_inception_distance_mean", ".4g"),
                 ("KID std", "kernel_inception_distance_std", ".4g"), ("IS", "inception_score_mean", ".2f"),
                 ("precision", "precision", ".3f"), ("recall", "recall", ".3f"), ("density", "density", ".3f"),
                 ("coverage", "coverage", ".3f"))


def evaluate_folder(folder: str | os.PathLike, n_samples: int = DEFAULT_N, extractor: Extractor | None = None,
                    **kw: Any) -> list[dict]:
    """`evaluate_run` on every run folder under `folder` (a `python -m gan compare` output: `<variant>-s<seed>`
    folders with checkpoint.pt); a run that stopped on a non-finite loss (no summary.json) is recorded as failed."""
    records = []
    for run in sorted(p for p in Path(folder).iterdir() if (p / "config.json").is_file()):
        cfg = json.loads((run / "config.json").read_text(encoding="utf-8"))
        rec = {"variant": run.name.rsplit("-s", 1)[0], "divergence": cfg["divergence"],
               "generator_loss": cfg["generator_loss"], "seed": cfg["seed"], "run": str(run)}
        if not (run / "summary.json").is_file() or not (run / "checkpoint.pt").is_file():
            rec["failed"] = "no summary.json (unfinished, or stopped on a non-finite loss)"
        else:
            rec.update({k: v for k, v in _reuse_or_evaluate(run, n_samples, extractor, kw).items() if k != "run"})
        records.append(rec)
    return records


def _reuse_or_evaluate(run: Path, n_samples, extractor, kw) -> dict:
    """A run's eval_images_classifier.json is reused when it was computed with the default extractor for this
    checkpoint step and the same n_samples, seed, KID subsets and k's; anything else is evaluated again."""
    want = {"n_samples": n_samples, "seed": kw.get("seed", 0), "kid_subsets": kw.get("kid_subsets", 100),
            "kid_subset_size": kw.get("kid_subset_size", 1000), "pr_k": kw.get("pr_k", 3), "dc_k": kw.get("dc_k", 5)}
    if extractor is None and not set(kw) - set(want) - {"cache_dir"}:
        try:
            old = json.loads((run / "eval_images_classifier.json").read_text(encoding="utf-8"))
            step = int(torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)["step"])
            if {k: old[k] for k in want} == want and old["step"] == step:
                return old
        except (OSError, ValueError, KeyError):
            pass
    return evaluate_run(run, n_samples, extractor, **kw)


def table_markdown(records: list[dict]) -> str:
    """One row per run, sorted by FID (failed runs last): FID, KID (mean and std over subsets), IS, precision,
    recall, density, coverage, and the stacked mode count where present."""
    ok = sorted((r for r in records if "failed" not in r), key=lambda r: r["frechet_inception_distance"])
    stacked = any("modes" in r for r in ok)
    head = ["variant", *(c[0] for c in TABLE_COLUMNS)] + (["modes (of 1000)", "KL"] if stacked else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in ok:
        cells = [r["variant"]]
        for _, key, fmt in TABLE_COLUMNS:
            cells.append(format(r[key], fmt) if key in r else "—")
        if stacked:
            cells += [str(r.get("modes", "—")), f"{r['modes_kl']:.2f}" if "modes_kl" in r else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    for r in records:
        if "failed" in r:
            lines.append("| " + " | ".join([r["variant"]] + ["failed"] * (len(head) - 1)) + " |")
    return "\n".join(lines) + "\n"


def sample_figure(records: list[dict], path: str | os.PathLike, per_row: int = 16) -> None:
    """One row of `per_row` final samples (RUN/samples.npy, the fixed plotting noise) per run, in table order
    (records without a run folder, such as a real-data reference row, are left out)."""
    from matplotlib.figure import Figure

    ok = sorted((r for r in records if "failed" not in r and r.get("run")),
                key=lambda r: r["frechet_inception_distance"])
    fig = Figure(figsize=(per_row * 0.6, len(ok) * 0.66 + 0.2))
    for i, r in enumerate(ok):
        x = np.load(Path(r["run"]) / "samples.npy")[:per_row]               # (n, C, H, W) in [−1, 1]
        img = (np.concatenate(list(x), axis=-1).transpose(1, 2, 0) + 1) / 2
        ax = fig.add_subplot(len(ok), 1, i + 1)
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title(f"{r['variant']}  FID {r['frechet_inception_distance']:.1f}", fontsize=7, loc="left", pad=1)
    fig.tight_layout(pad=0.2, h_pad=0.3)
    fig.savefig(path, dpi=100)
