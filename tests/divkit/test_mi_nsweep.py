"""The N-sweep's verdicts and table (the sweep itself is minutes of training: docs/results/mi-nsweep.md)."""
import pytest

from divkit.mi import nsweep


def test_verdict_separates_ok_warned_and_silent():
    assert nsweep.verdict(dict(value=2.1, stderr=0.05, warnings=[]), 2.0) == "ok"
    assert nsweep.verdict(dict(value=2.5, stderr=0.05, warnings=["OverfitWarning"]), 2.0) == "warned"
    assert nsweep.verdict(dict(value=2.5, stderr=0.05, warnings=[]), 2.0) == "SILENT"
    assert nsweep.verdict(dict(value=0.4, stderr=None, warnings=[]), 2.0) == ""      # KSG: no stderr, no verdict


def test_table_lists_every_cell_and_says_what_did_not_run():
    res = {"smile|1000|2": dict(value=0.86, stderr=0.12, warnings=["OverfitWarning"], seconds=20.0),
           "ksg|1000|2": dict(value=0.38, stderr=None, warnings=[], seconds=1.0),
           "smile|5000|2": dict(value=1.9, stderr=0.05, warnings=[], seconds=20.0),
           "upper|1000|2": dict(value=5.0, stderr=0.2, loo=3.1, loo_stderr=0.1, warnings=[], seconds=30.0)}
    table = nsweep.format_table(res, [1000, 5000], [2.0])
    assert "| 1000 | 2 | 0.860 ± 0.120 [overfit] | 0.380 | CLUB 5.000 ± 0.200, LOO 3.100 ± 0.100 | warned |" in table
    assert "| 5000 | 2 | 1.900 ± 0.050 | not run | not run | ok |" in table


def test_cli_rejects_unknown_methods(tmp_path):
    with pytest.raises(SystemExit):
        nsweep.main(["--methods", "mine", "--out", str(tmp_path)])
