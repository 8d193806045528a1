"""`make demo` = python -m analysis.demo: the tour runs, its ring8 panel shows what a GAN user expects."""
import numpy as np
import pytest

from analysis import demo


def test_divergence_table_closed_forms_agree_with_quadrature():
    rows = demo.divergence_table()
    assert len(rows) >= 9
    for name, closed, quad, how in rows:
        assert not np.isnan(quad), name  # Neyman chi^2 here is +inf (q is wider than p): both columns say so
        if how == "closed form":
            assert closed == pytest.approx(quad, rel=1e-6), name  # quadrature at ~1e-10; 1e-6 is generous


def test_ring8_panel_shows_the_modes_on_top_labelled_axes_and_the_metrics(tmp_path):
    pytest.importorskip("gan")
    summary, x, data = demo.train_ring8(tmp_path / "run", steps=30)
    assert (tmp_path / "run" / "summary.json").exists() and x.shape[1] == 2
    fig = demo.ring8_figure(x, np.asarray(data.means), float(data.std), summary, "column")
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    modes = [ln for ln in ax.lines if ln.get_label() == "real modes"][0]
    np.testing.assert_array_equal(np.c_[modes.get_xdata(), modes.get_ydata()], np.asarray(data.means))
    assert modes.get_zorder() > ax.collections[0].get_zorder()  # drawn over the samples, never hidden
    assert f"{summary['modes']}/8 modes" in ax.get_title() and "steps" in ax.get_title()
    fig.savefig(tmp_path / "ring8.png")


def test_demo_cli_without_training_writes_nothing_but_the_table(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path), "--skip-gan", "--skip-analysis"]) == 0
    assert "closed form" in capsys.readouterr().out


def test_demo_cli_bad_width_is_one_line(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path), "--width", "huge"]) == 2
    err = capsys.readouterr().err
    assert "width" in err and len(err.strip().splitlines()) == 1
