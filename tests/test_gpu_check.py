"""bench/gpu_check.py, the one-command GPU suite: its helpers, and its dry mode on the cheap steps.

CI runs the whole dry mode (`make gpu-check DRY=1`); here: the checks that make the dry mode mean something
(a changed benchmark signature is caught and named), the refusal without a GPU, strict JSON.
"""
from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gc():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_resolve_names_a_missing_function(gc):
    m = types.ModuleType("bench_x")
    with pytest.raises(AttributeError, match=r"bench_x\.hand_loop is missing"):
        gc.resolve(m, "hand_loop", 1)


def test_resolve_catches_a_changed_signature(gc):
    m = types.ModuleType("bench_x")
    m.time_pair = lambda base, name, batches: None
    assert gc.resolve(m, "time_pair", 1, 2, 3) is m.time_pair
    with pytest.raises(TypeError, match=r"bench_x\.time_pair\(base, name, batches\) no longer accepts"):
        gc.resolve(m, "time_pair", 1, 2, 3, repeats=7)


def test_every_step_has_a_function(gc):
    assert tuple(gc.STEP_FUNCTIONS) == gc.STEPS
    assert gc.CUDA_ONLY <= set(gc.GAN_SETTINGS)


def test_row_ratio_and_table(gc):
    r = gc.Row("gan", "DCGAN 32x32", "ok", value=300.0, baseline=400.0, unit="images/s")
    assert r.ratio == pytest.approx(0.75)
    assert gc.Row("tests", "pytest", "skipped").ratio is None
    text = gc.table([r])
    assert "| gan | DCGAN 32x32 | 300 | 400 | images/s | 0.75 | ok |" in text


def test_tf32_context_restores_the_flags(gc):
    conv = torch.backends.cudnn.conv
    before = torch.backends.cuda.matmul.fp32_precision, conv.fp32_precision
    with gc.tf32(torch, False):
        assert (torch.backends.cuda.matmul.fp32_precision, conv.fp32_precision) == ("ieee", "ieee")
    with gc.tf32(torch, True):
        assert conv.fp32_precision == "tf32"
    assert (torch.backends.cuda.matmul.fp32_precision, conv.fp32_precision) == before


def test_budget_applies_to_real_runs_only(gc):
    assert gc.Check(dry=False, budget=0.0).over_budget()
    assert not gc.Check(dry=True, budget=0.0).over_budget()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_refuses_without_cuda_unless_dry(gc, tmp_path, capsys):
    assert gc.main(["--json", str(tmp_path / "x.json")]) == 2
    assert "--dry" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_dry_mode_runs_the_cheap_steps_and_writes_strict_json(gc, tmp_path):
    out = tmp_path / "gpu.json"
    assert gc.main(["--dry", "--skip", "tests", "gan", "mi", "--json", str(out)]) == 0
    doc = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert doc["environment"]["dry"] is True
    rows = {(r["step"], r["name"]): r for r in doc["rows"]}
    analysis_rows = [r for (step, _), r in rows.items() if step == "analysis"]
    assert len(analysis_rows) == 4 and all(r["status"] == "dry-ok" for r in analysis_rows)
    assert all(r["value"] is None for r in doc["rows"])      # dry mode reports no numbers
    assert rows[("tests", "(whole step)")]["status"] == "skipped"
    sweep = [r for (step, _), r in rows.items() if step == "sweep"]
    assert len(sweep) == 1 and sweep[0]["status"] in ("dry-ok", "skipped") and sweep[0]["note"]
    assert math.isfinite(doc["environment"]["elapsed_s"])


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("venv_exists", [False, True])
def test_make_target_uses_the_machines_python3_without_a_venv(venv_exists, tmp_path):
    """`make gpu-check` installs nothing: .venv's python if there is one, else python3, with PYTHONPATH=."""
    venv = tmp_path / "venv"
    if venv_exists:
        (venv / "bin").mkdir(parents=True)
        (venv / "bin" / "python").write_text("")
    cmd = ["make", "-s", "-n", "-C", str(ROOT), "gpu-check", f"VENV={venv}"]
    real = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    dry = subprocess.run([*cmd, "DRY=1"], capture_output=True, text=True, check=True).stdout.strip()
    python = f"{venv}/bin/python" if venv_exists else "python3"
    assert real == f"PYTHONPATH=. {python} bench/gpu_check.py --json gpu-check.json"
    assert dry == f"PYTHONPATH=. {python} bench/gpu_check.py --dry --json gpu-check.json"
