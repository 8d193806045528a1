"""Fair comparison: many variants × seeds under one config (same models, steps, learning rates, batch).

A *variant* is a name and a dict of `TrainConfig` overrides. Two ways to build the list:

- `compare(base, divergences, seeds, generator_losses)`: every divergence × generator loss (baselines such as
  wgan_gp get one row), named "<divergence>-<generator loss>";
- `study(base, "mode-collapse", seeds)`: a named preset from `STUDIES`, e.g. the mode-collapse study of issue 5
  (GAN with both generator losses, a few f-divergences, unrolled GAN, PacGAN2, the MINE regulariser, spectral
  norm), the protocol of the VEEGAN and PacGAN tables on ring8/grid25.

Each run trains in `out/<variant>-s<seed>`. A run whose folder already holds a summary.json and a config.json
equal to the config it would train (every field present: a run saved before a field existed is retrained) is not
trained again (its summary is read; a run that stopped on a non-finite loss leaves failed.json instead, and
counts as finished and failed until that file is deleted), so an interrupted comparison
resumes where it stopped and a study shares the runs it has in common with a divergence comparison in the same
folder. Writes results.json (one record per run), table.md (mean ± s.e. over seeds of modes, HQ %, reverse KL;
s.e. = sample standard deviation / √seeds, ddof = 1; "—" with one seed) and samples.png (final samples, one row
per variant, one column per seed, all panels in one frame: the data's bounding box plus half its size on each
side; samples beyond it are cut).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import divkit

from . import checkpoint as ckpt_mod
from . import run_folder
from .config import TrainConfig
from .losses import BASELINES, GENERATOR_LOSSES
from .sweep import BatchedTrainer
from .trainer import Trainer

if TYPE_CHECKING:
    import os

_GAN_NS = {"divergence": "gan", "generator_loss": "nonsaturating"}

#: Named variant lists for `study` / `python -m gan compare --study NAME`.
STUDIES: dict[str, list[tuple[str, dict]]] = {
    "mode-collapse": [
        ("gan-saturating", {"divergence": "gan", "generator_loss": "saturating"}),
        ("gan-nonsaturating", dict(_GAN_NS)),
        ("kl-nonsaturating", {"divergence": "kl", "generator_loss": "nonsaturating"}),
        ("reverse_kl-nonsaturating", {"divergence": "reverse_kl", "generator_loss": "nonsaturating"}),
        ("squared_hellinger-nonsaturating", {"divergence": "squared_hellinger", "generator_loss": "nonsaturating"}),
        ("pearson-nonsaturating", {"divergence": "pearson", "generator_loss": "nonsaturating"}),
        # Metz et al.'s look-ahead: 5 steps of the critic's own Adam (its moments, lr_d), differentiated through
        ("unrolled5", {**_GAN_NS, "unrolled_steps": 5}),
        # the same by plain gradient ascent (eq. 4): η = 1e-2 (a 1500-step ring8 probe gave 8 modes / 29% HQ at
        # η = 1e-2, 8 / 14% at η = 1e-3; η = 0.1 diverged)
        ("unrolled5-sgd", {**_GAN_NS, "unrolled_steps": 5, "unrolled_lr": 1e-2, "unrolled_optimizer": "sgd"}),
        ("pacgan2", {**_GAN_NS, "pack": 2}),
        ("mine", {**_GAN_NS, "mine_beta": 1.0}),
        ("mine-categorical", {**_GAN_NS, "mine_beta": 1.0, "mine_code": "categorical", "mine_code_dim": 10}),
        ("sn", {**_GAN_NS, "spectral_norm": True}),
    ],
    # the MINE regulariser (Belghazi et al. 2018 §6.1) against its baseline, cheap enough for longer budgets
    "mine": [
        ("gan-nonsaturating", dict(_GAN_NS)),
        ("mine", {**_GAN_NS, "mine_beta": 1.0}),
        # a one-hot code of 10 classes bounds the maximised MI by log 10 (a continuous code's is unbounded)
        ("mine-categorical", {**_GAN_NS, "mine_beta": 1.0, "mine_code": "categorical", "mine_code_dim": 10}),
    ],
}


def resolve_divergences(spec: str | Sequence[str]) -> list[str]:
    """"all" → every divkit divergence; else a comma-separated list or list of names (validated)."""
    if isinstance(spec, str):
        spec = divkit.names() if spec.strip() == "all" else [s.strip() for s in spec.split(",") if s.strip()]
    from .losses import get

    for name in spec:
        get(name)  # raises ValueError listing known names
    return list(spec)


def divergence_variants(divergences: str | Sequence[str] = "all",
                        generator_losses: Sequence[str] = GENERATOR_LOSSES) -> list[tuple[str, dict]]:
    """[("<div>-<loss>", overrides), ...] for every divergence × generator loss (one row for baselines)."""
    out = []
    for div in resolve_divergences(divergences):
        gls = ("-",) if div in BASELINES else tuple(generator_losses)
        for gl in gls:
            out.append((f"{div}-{gl}", {"divergence": div,
                                        "generator_loss": gl if gl != "-" else "nonsaturating"}))
    return out


def study_variants(name: str) -> list[tuple[str, dict]]:
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; known: {', '.join(STUDIES)}")
    return [(n, dict(o)) for n, o in STUDIES[name]]


_NOT_AFFECTING_RESULTS = ("progress", "log_every", "sample_every", "checkpoint_every")
#: compared configs also ignore where the folder was when it was written (a copied or moved comparison folder
#: reuses its runs: the folder read is the one asked for)
_IGNORED_IN_COMPARISON = (*_NOT_AFFECTING_RESULTS, "out")


def _cached_summary(cfg: TrainConfig) -> dict | None:
    run = Path(cfg.out)
    try:
        raw = json.loads((run / "config.json").read_text())
        old = TrainConfig.from_dict(raw).validate()
        failure = json.loads((run / FAILED_FILE).read_text()) if (run / FAILED_FILE).is_file() else None
        # the failure is this run's at any budget that reaches the failing step (nothing a run computes before
        # it depends on the budget); a failure recorded without its step only at its own budget
        failed = failure is not None and (failure.get("budget") == cfg.steps or (
            isinstance(failure.get("step"), int) and failure["step"] <= cfg.steps))
        summary = failure if failed else json.loads((run / "summary.json").read_text())
    except (OSError, ValueError, TypeError):
        return None
    # a run written before a field existed is not reused: its behaviour under that field's default is unknown
    if {f.name for f in dataclasses.fields(TrainConfig)} - set(raw) - set(_NOT_AFFECTING_RESULTS):
        return None
    new = dataclasses.replace(cfg).validate()
    a, b = old.to_dict(), new.to_dict()
    for k in (*_IGNORED_IN_COMPARISON, "steps"):  # the budget: summary.json or failed.json says
        a.pop(k), b.pop(k)
    if a != b:
        return None
    if failed:  # a run that stopped on a non-finite loss is a finished result (deterministic: same config, same stop)
        return _failed(summary.get("failed", "non-finite loss"))
    return summary if summary.get("steps") == cfg.steps else None


def _continuable_step(cfg: TrainConfig) -> int:
    """The step S of the checkpoint.pt in cfg's folder when cfg continues that run (0 < S < cfg.steps, its
    config equal to cfg but for `steps` and the fields that do not change results, no failed.json), else 0:
    a run trained to S steps is extended to cfg.steps instead of retrained (the result is the same)."""
    run = Path(cfg.out)
    if not (run / "checkpoint.pt").is_file() or (run / FAILED_FILE).is_file():
        return 0
    try:
        ck = ckpt_mod.load(run / "checkpoint.pt")
        old = TrainConfig.from_dict(ck["config"]).validate().to_dict()
        step = int(ck["step"])
    except (OSError, ValueError, TypeError, KeyError, RuntimeError):
        return 0
    new = dataclasses.replace(cfg).validate().to_dict()
    for k in (*_IGNORED_IN_COMPARISON, "steps"):
        old.pop(k), new.pop(k)
    if {f.name for f in dataclasses.fields(TrainConfig)} - set(ck["config"]) - set(_NOT_AFFECTING_RESULTS):
        return 0  # saved before a field existed
    return step if old == new and 0 < step < cfg.steps else 0


#: written into a run folder whose training stopped on a non-finite loss (`gan.run_folder.record_failure`)
FAILED_FILE = run_folder.FAILED


def _record_failure(cfg: TrainConfig, message: str, step: int | None = None) -> None:
    """Mark cfg's run folder as failed (at `step`, when known) so that the next call reuses the failure instead
    of retraining it (the batched engine's runs; the trainer records its own)."""
    out = Path(cfg.out)
    if out.is_dir() and (out / "config.json").is_file():
        run_folder.record_failure(out, message, cfg.steps, step)


class _Progress:
    """One line per finished run on stderr: [k/N] run, how it finished, elapsed and remaining time."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.enabled, self.t0 = total, 0, enabled, time.perf_counter()

    def say(self, text: str) -> None:
        if self.enabled:
            print(f"compare: {text}", file=sys.stderr, flush=True)

    def finished(self, name: str, how: str, count: int = 1) -> None:
        self.done += count
        el = time.perf_counter() - self.t0
        left = ""
        if 0 < self.done < self.total and how != "finished earlier":
            left = f", ~{el / self.done * (self.total - self.done):.0f} s left"
        self.say(f"[{self.done}/{self.total}] {name}: {how} ({el:.0f} s{left})")


def _record(name, overrides, seed, cfg, summary) -> dict:
    # an undefined metric is NaN in memory whether the run was trained now or read back (null in its JSON)
    summary = {k: (math.nan if v is None and k in ("modes", "hq_fraction", "reverse_kl") else v)
               for k, v in summary.items()}
    tricks = {k: v for k, v in overrides.items() if k not in ("divergence", "generator_loss")}
    return {"variant": name, "divergence": cfg.divergence, "generator_loss": cfg.generator_loss, "tricks": tricks,
            "seed": seed, "run": cfg.out, **{k: v for k, v in summary.items() if k not in ("divergence",
                                                                                          "generator_loss")}}


def _failed(exc) -> dict:
    return {"modes": 0, "hq_fraction": 0.0, "reverse_kl": math.nan, "failed": str(exc)}


def train_batch(cfgs: Sequence[TrainConfig], checkpoint: str | os.PathLike, eval_every: int = 0, start: int = 0,
                progress: bool = True, say=None) -> list[dict]:
    """Train one batch of runs (`BatchedTrainer`, checkpointing to `checkpoint` and resuming from it), continued
    from each run's checkpoint.pt at step `start` when > 0 and the batch checkpoint is not further on; records
    each run's failure (failed.json) or clears a stale one, removes the batch checkpoint when done. Returns one
    record per run (`BatchedTrainer.fit`)."""
    ckpt = Path(checkpoint)
    bt = BatchedTrainer(cfgs, checkpoint=ckpt, resume=True, eval_every=eval_every)
    if bt.step < start:  # no batch checkpoint further on: continue each run from its own
        bt.load_runs([Path(c.out) / "checkpoint.pt" for c in cfgs])
        if say is not None:
            say(f"continued from step {start}")
    records = bt.fit(progress=progress)
    for cfg, rec in zip(cfgs, records):
        if rec.get("failed"):
            _record_failure(cfg, rec["failed"], rec.get("failed_step"))
        else:  # a failure of an earlier budget no longer describes this folder
            (Path(cfg.out) / FAILED_FILE).unlink(missing_ok=True)
    ckpt.unlink(missing_ok=True)  # finished: each run folder now holds its own checkpoint.pt
    return records


def run_configs(runs: Sequence[tuple[str, TrainConfig]], out: str | os.PathLike, engine: str = "auto", jobs: int = 1,
                devices: Sequence[str] | None = None, emit_commands: str | os.PathLike | None = None,
                reuse: bool = True, max_batch: int = 64, eval_every: int = 0, progress: bool = True) -> dict:
    """Train `runs` = [(label, TrainConfig)] (or reuse finished ones); returns {out folder: summary} of every
    run that has finished (a run stopped on a non-finite loss: modes 0, "failed" its message).

    engine: "auto" trains every group of runs that share an architecture (`gan.sweep.batch_key`) as one
    batched model (`gan.sweep.BatchedTrainer`, up to `max_batch` runs each) and the runs it cannot batch
    (`gan.sweep.batch_blockers` says why; printed) alone; "solo" trains every run alone. With jobs > 1 the
    batches and the runs trained alone are jobs of `jobs` processes (`gan.sweep.pool`: a batch through
    `gan.sweep.batch_job`, a run through `python -m gan train`; `devices` spread round-robin), else they train in
    this process. emit_commands: write one command per unfinished job (a batch, or a run trained alone) to that
    file and train nothing (a scheduler runs them; call again to build the table from what has finished).
    A run asked for more steps than its folder's checkpoint holds is continued from it (`train_batch`, or the
    trainer's resume), not retrained.
    """
    from .sweep import batch_blockers, batch_key
    from .sweep.batch_job import write_spec
    from .sweep.pool import batch_command, run_commands, train_job, write_command_lines

    if engine not in ("auto", "solo"):
        raise ValueError(f"engine must be 'auto' or 'solo', got {engine!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
        raise ValueError(f"max_batch must be a positive int, got {max_batch!r}")
    out = Path(out)
    prog = _Progress(len(runs), progress)
    done, pending = {}, []
    for label, cfg in runs:
        summary = _cached_summary(cfg) if reuse else None
        if summary is not None:
            done[cfg.out] = summary
        else:
            pending.append((label, cfg))
    if done:
        prog.finished(f"{len(done)} runs", "finished earlier", len(done))
    groups: dict = {}
    alone = []
    for label, cfg in pending:
        why = batch_blockers(cfg) if engine == "auto" else ["--engine solo"]
        if why:
            alone.append((label, cfg))
            if engine == "auto":
                prog.say(f"{label}: trained alone, not batched ({'; '.join(why)})")
        else:  # runs continued from one step train together (a batch has one step counter)
            groups.setdefault((batch_key(cfg), _continuable_step(cfg) if reuse else 0), []).append((label, cfg))
    batches = [(g[i:i + max_batch], start) for (_, start), g in groups.items() for i in range(0, len(g), max_batch)]
    singles = [b[0] for b, _ in batches if len(b) == 1]
    batches = [(b, start) for b, start in batches if len(b) > 1]
    alone += singles
    n_cont = sum(len(b) for b, start in batches if start)
    tags = [hashlib.sha1("\n".join(c.out for _, c in b).encode()).hexdigest()[:12] for b, _ in batches]
    name = lambda b: f"batch of {len(b)} ({b[0][0]} … {b[-1][0]})"  # noqa: E731
    if emit_commands is not None or jobs > 1:
        py = "python" if emit_commands is not None else None  # a scheduler's node runs its own python
        items = [(("batch", i), batch_command(write_spec(out / "_batches" / f"{tags[i]}.json", [c for _, c in b],
                                                         eval_every, start), py), out / "_batches" / f"{tags[i]}.log")
                 for i, (b, start) in enumerate(batches)]
        items += [(("run", cfg.out), *train_job(cfg, py, resume=reuse and bool(_continuable_step(cfg)))[1:])
                  for _, cfg in alone]
        if emit_commands is not None:
            n = write_command_lines(items, emit_commands)
            prog.say(f"wrote {n} commands to {emit_commands} ({len(batches)} batch(es) of {sum(len(b) for b, _ in batches)} "
                     f"runs, {len(alone)} runs alone); nothing trained here")
            return done
        labels = {("batch", i): (name(b), len(b)) for i, (b, _) in enumerate(batches)}
        labels.update({("run", c.out): (label, 1) for label, c in alone})
        prog.say(f"{len(runs)} runs: {len(done)} finished earlier, {len(batches)} batch(es) and {len(alone)} runs "
                 f"alone as {len(items)} jobs in {jobs} processes" +
                 (f" ({n_cont} runs continued from their checkpoints)" if n_cont else ""))
        results = run_commands(items, jobs, devices, on_done=lambda key, rc: prog.finished(
            labels[key][0], ("trained batched" if key[0] == "batch" else "trained") if rc == 0 else f"exit {rc}",
            labels[key][1]))
        for i, (b, _) in enumerate(batches):
            for _, cfg in b:
                summary = _cached_summary(cfg)
                done[cfg.out] = ({"failed": None, **summary} if summary is not None else
                                 _failed(results[("batch", i)][1]))
        for _, cfg in alone:
            rc, last = results[("run", cfg.out)]
            summary = _read_summary(cfg) if rc == 0 else _cached_summary(cfg)  # a stopped run: its failed.json
            done[cfg.out] = summary if summary is not None else _failed(last)
        return done
    prog.say(f"{len(runs)} runs: {len(done)} finished earlier, {sum(len(b) for b, _ in batches)} in {len(batches)} "
             f"batch(es)" + (f" ({n_cont} continued from their checkpoints)" if n_cont else "") +
             f", {len(alone)} alone")
    for (b, start), tag in zip(batches, tags):
        for (label, cfg), rec in zip(b, train_batch([c for _, c in b], out / "_batches" / f"{tag}.pt", eval_every,
                                                    start, progress, say=lambda m, b=b: prog.say(f"{name(b)}: {m}"))):
            done[cfg.out] = rec
        prog.finished(name(b), "trained batched", len(b))
    for label, cfg in alone:
        try:
            if reuse and _continuable_step(cfg):  # the trainer's own resume: extended, not retrained
                summary = Trainer(cfg, resume=True).fit()
            else:
                summary = Trainer(cfg, overwrite=True).fit()  # replaces a stale or unfinished run there
            summary["failed"] = None
        except FloatingPointError as exc:  # the trainer has written failed.json (NonFiniteLossError)
            summary = _failed(exc)
        done[cfg.out] = summary
        prog.finished(label, "trained" if summary["failed"] is None else "failed (non-finite loss)")
    return done


def _read_summary(cfg):
    try:
        s = json.loads((Path(cfg.out) / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    s.setdefault("failed", None)
    return s


def run_variants(base: TrainConfig, variants: Sequence[tuple[str, dict]], seeds: int = 3,
                 out: str | os.PathLike = "runs/cmp", reuse: bool = True, engine: str = "auto", jobs: int = 1,
                 devices: Sequence[str] | None = None,
                 emit_commands: str | os.PathLike | None = None, eval_every: int = 0,
                 seed_list: Iterable[int] | None = None) -> list[dict]:
    """Train every variant for seeds 0 … seeds − 1 (or reuse finished runs; see `run_configs` for the engine,
    the job pool and emitted commands); write results, table and figure from every run that has finished."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds must be a positive int, got {seeds!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan = []
    for name, overrides in variants:
        for seed in (range(seeds) if seed_list is None else seed_list):
            cfg = dataclasses.replace(base, **overrides, seed=seed, out=str(out / f"{name}-s{seed}"))
            plan.append((name, overrides, seed, cfg))
    done = run_configs([(f"{n}-s{s}", c) for n, _, s, c in plan], out, engine, jobs, devices, emit_commands,
                       reuse, eval_every=eval_every, progress=base.progress)
    records = [_record(n, o, s, c, done[c.out]) for n, o, s, c in plan if c.out in done]
    run_folder.write_text_atomic(out / "results.json", run_folder.dumps(records, indent=1) + "\n")  # strict JSON
    if records:
        write_table(records, out / "table.md", base)
        write_figure(records, out / "samples.png", base)
    return records


def compare(base: TrainConfig, divergences: str | Sequence[str] = "all", seeds: int = 3,
            generator_losses: Sequence[str] = GENERATOR_LOSSES, out: str | os.PathLike = "runs/cmp") -> list[dict]:
    """Train every divergence × generator loss × seed; returns the per-run records (see `run_variants`)."""
    return run_variants(base, divergence_variants(divergences, generator_losses), seeds, out)


def study(base: TrainConfig, name: str = "mode-collapse", seeds: int = 3,
          out: str | os.PathLike = "runs/study") -> list[dict]:
    """Run the named study of `STUDIES` under `base`; returns the per-run records (see `run_variants`)."""
    return run_variants(base, study_variants(name), seeds, out)


def _mean_se(vals):
    v = np.asarray([x for x in vals if x is not None and not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan


def _fmt(m, s, digits):
    if math.isnan(m):
        return "—"
    return f"{m:.{digits}f}" + ("" if math.isnan(s) else f" ± {s:.{digits}f}")


def _tricks(t: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in t.items()) or "—"


def table_markdown(records: list[dict], base: TrainConfig | None = None) -> str:
    """Markdown table, one row per variant: modes, HQ %, reverse KL as mean ± s.e. over seeds. Reverse KL is
    undefined for a run with no high-quality sample; such runs are left out of its mean (the "no HQ" column
    counts them)."""
    rows = {}
    for r in records:
        rows.setdefault(r.get("variant", f"{r['divergence']}-{r['generator_loss']}"), []).append(r)
    lines = []
    if base is not None:
        lines.append(f"data {base.data}, {base.steps} steps, batch {base.batch_size}, lr_g {base.lr_g}, "
                     f"lr_d {base.lr_d}, n_critic {base.n_critic}, MLP {base.layers}×{base.hidden}, z_dim "
                     f"{base.z_dim}; mean ± s.e. over seeds\n")
    lines += ["| variant | divergence | generator loss | tricks | seeds | modes | HQ % | reverse KL | no HQ | failed |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name, rs in rows.items():
        r0 = rs[0]
        m = _mean_se([r.get("modes") for r in rs])
        hq = _mean_se([100 * r["hq_fraction"] for r in rs if r.get("hq_fraction") is not None])
        kl = _mean_se([r.get("reverse_kl") for r in rs])
        no_hq = sum(1 for r in rs if not r.get("modes"))
        failed = sum(1 for r in rs if r.get("failed"))
        lines.append(f"| {name} | {r0['divergence']} | {r0['generator_loss']} | {_tricks(r0.get('tricks', {}))} | "
                     f"{len(rs)} | {_fmt(*m, 1)} | {_fmt(*hq, 1)} | {_fmt(*kl, 2)} | {no_hq} | {failed} |")
    lines += ["", "A run stopped on a non-finite loss (\"failed\") counts as 0 modes and 0 % HQ; reverse KL is averaged over the "
              "runs with at least one high-quality sample (\"no HQ\" counts the others, failed runs included)."]
    return "\n".join(lines) + "\n"


def write_table(records: list[dict], path: str | os.PathLike, base: TrainConfig | None = None) -> None:
    Path(path).write_text(table_markdown(records, base), encoding="utf-8")


def write_figure(records: list[dict], path: str | os.PathLike, base: TrainConfig) -> None:
    from matplotlib.figure import Figure

    from . import data as data_mod
    from .plots import save_scatter

    keys = list(dict.fromkeys(r.get("variant", f"{r['divergence']}-{r['generator_loss']}") for r in records))
    seeds = max(r["seed"] for r in records) + 1
    fig = Figure(figsize=(2 * seeds, 2 * len(keys)))
    ds = data_mod.get(base.data, base.data_path, base.image_size)
    real = ds.sample(500).numpy() if len(ds.shape) == 1 else None
    if real is not None:  # one frame for every panel: the data's box plus half its size on each side
        lo, hi = real.min(0), real.max(0)
        lo, hi = lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo)
    for r in records:
        key = r.get("variant", f"{r['divergence']}-{r['generator_loss']}")
        ax = fig.add_subplot(len(keys), seeds, keys.index(key) * seeds + r["seed"] + 1)
        p = Path(r["run"]) / "samples.npy"
        if real is not None and p.exists():
            save_scatter(None, np.load(p), real, title=f"{key} s{r['seed']}", ax=ax)
            ax.set_xlim(lo[0], hi[0])
            ax.set_ylim(lo[1], hi[1])
            # the title fits its 2-inch panel: 90 % of 144 pt over (characters × ~0.6 em per character), at most 8 pt
            ax.title.set_fontsize(min(8.0, 2 * 72 * 0.9 / (0.6 * max(len(ax.get_title()), 1))))
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
