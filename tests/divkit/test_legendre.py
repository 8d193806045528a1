"""divkit.legendre: the discrete linear-time Legendre transform against brute force and closed forms.

Tolerance policy: the LLT returns t·u_k − f_k for one maximiser k; brute force returns the max over all i of
the same float64 expression. Ties between maximisers differ by rounding of one product, so we allow
16·eps·(|t|·max|u| + max|f|) absolute.
"""
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import divkit as dk
from divkit.legendre import legendre_argmax, legendre_transform

EPS = np.finfo(np.float64).eps


def brute(u, f, t):
    fin = np.isfinite(f)
    if not fin.any():
        return np.full(np.shape(t), -np.inf)
    return (np.asarray(t)[..., None] * u[fin] - f[fin]).max(-1)


def tol(u, f, t):
    fin = np.isfinite(f)
    return 16 * EPS * (np.abs(t) * np.abs(u).max() + np.abs(f[fin]).max(initial=0.0) + 1.0)


grid_values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def grids(draw):
    n = draw(st.integers(1, 60))
    u = np.sort(np.asarray(draw(st.lists(st.floats(-100, 100, allow_nan=False), min_size=n, max_size=n,
                                         unique=True))))
    f = np.asarray(draw(st.lists(grid_values, min_size=n, max_size=n)))
    kind = draw(st.sampled_from(["random", "convex", "concave", "dip", "inf"]))
    if kind == "convex":
        f = 0.5 * u ** 2 + 1e-3 * f
    elif kind == "concave":
        f = -np.abs(u) ** 1.5
    elif kind == "dip":  # the cascade case for the pruning passes: one deep point
        f = np.abs(u).copy()
        f[n // 2] = -1e3
    elif kind == "inf":
        mask = np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        f = np.where(mask, np.inf, f)
    return u, f


@given(grids(), hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-50, 50)))
def test_equals_brute_force_on_any_grid(g, t):
    u, f = g
    lt = legendre_transform(u, f, t)
    bf = brute(u, f, t)
    assert lt.shape == t.shape
    if not np.isfinite(f).any():
        assert np.all(lt == -np.inf)
        return
    np.testing.assert_allclose(lt, bf, rtol=0, atol=tol(u, f, t).max())
    k = legendre_argmax(u, f, t)
    np.testing.assert_allclose(t * u[k] - f[k], bf, rtol=0, atol=tol(u, f, t).max())


def test_cascade_beyond_pruning_passes_still_exact():
    # a V with one deep point: every vectorised pass removes only its two neighbours, so the monotone chain
    # has to finish the job
    u = np.linspace(-1, 1, 2001)
    f = 1e3 * u ** 2  # convex arms: only the dip's neighbours are ever non-convex
    f[1000] = -1e6
    t = np.linspace(-1e7, 1e7, 513)
    np.testing.assert_allclose(legendre_transform(u, f, t), brute(u, f, t), rtol=1e-15, atol=1e-6)


def test_closed_forms_quadratic_and_exp():
    u = np.linspace(-10, 10, 20001)
    t = np.linspace(-5, 5, 101)
    # (u²/2)* = t²/2; grid spacing h = 1e-3 gives an error ≤ h²/8 (maximum of a parabola between nodes)
    np.testing.assert_allclose(legendre_transform(u, 0.5 * u ** 2, t), 0.5 * t ** 2, rtol=0, atol=1e-3 ** 2 / 8 + 1e-12)
    # KL generator on u ≥ 0: f*(t) = e^{t−1}; relative error ≲ (f''·h²/8) / f* at the maximiser
    v = np.linspace(0, 60, 600001)
    tk = np.linspace(-3, 4, 29)
    got = legendre_transform(v, dk.get("kl").f(v), tk)
    np.testing.assert_allclose(got, np.exp(tk - 1), rtol=1e-6)
    assert np.all(got <= np.exp(tk - 1) * (1 + 1e-14))  # grid conjugate is a lower bound


def test_unsorted_t_is_put_back_in_order_and_nd_shapes():
    rng = np.random.default_rng(1)
    u = np.linspace(-2, 2, 301)
    f = np.cosh(u)
    t = rng.normal(size=(7, 5))
    lt = legendre_transform(u, f, t)
    assert lt.shape == (7, 5)
    np.testing.assert_allclose(lt, brute(u, f, t), rtol=0, atol=1e-13)
    assert np.ndim(legendre_transform(u, f, 0.3)) == 0


def test_torch_in_torch_out_dtype_and_gradients():
    u = torch.linspace(-2, 2, 401, dtype=torch.float64, requires_grad=False)
    fu = (0.5 * u ** 2).requires_grad_(True)
    t = torch.tensor([-1.0, 0.25, 1.5], dtype=torch.float64, requires_grad=True)
    out = legendre_transform(u, fu, t)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    out.sum().backward()
    # ∂f*/∂t = u*(t) = t for u²/2 (grid spacing 0.01, t on the grid)
    np.testing.assert_allclose(t.grad.numpy(), t.detach().numpy(), atol=1e-12)
    assert fu.grad.sum().item() == pytest.approx(-3.0)  # −1 at each maximiser
    o32 = legendre_transform(u.float(), (0.5 * u ** 2).float(), torch.tensor([0.5]))
    assert o32.dtype == torch.float32
    np.testing.assert_allclose(o32.numpy(), [0.125], rtol=1e-6)
    np.testing.assert_allclose(legendre_transform(u.numpy(), 0.5 * u.numpy() ** 2, np.array([0.5], np.float32)),
                               [0.125], rtol=1e-6)


def test_numpy_torch_parity():
    u = np.linspace(0, 5, 501)
    f = dk.get("squared_hellinger").f(u)
    t = np.linspace(-3, 0.5, 31)
    a = legendre_transform(u, f, t)
    b = legendre_transform(torch.from_numpy(u), torch.from_numpy(f), torch.from_numpy(t)).numpy()
    np.testing.assert_array_equal(a, b)


def test_conjugate_of_conjugate_recovers_convex_f():
    # f** = f for convex f: conjugate on a wide t grid, then conjugate back on the u grid
    u = np.linspace(-1, 1, 201)
    f = np.exp(u)
    t = np.linspace(np.exp(-1.2), np.exp(1.2), 40001)
    fs = legendre_transform(u, f, t)
    fss = legendre_transform(t, fs, u)
    np.testing.assert_allclose(fss, f, rtol=0, atol=1e-8)


@pytest.mark.parametrize("args, match", [
    ((np.zeros((2, 2)), np.zeros((2, 2)), [0.0]), "u must be 1-D"),
    ((np.arange(3.0), np.zeros(4), [0.0]), "fu must have the shape"),
    ((np.array([0.0, 2.0, 1.0]), np.zeros(3), [0.0]), "strictly increasing"),
    ((np.array([0.0, 1.0, 1.0]), np.zeros(3), [0.0]), "strictly increasing"),
    ((np.array([0.0, np.nan]), np.zeros(2), [0.0]), "u must be finite"),
    ((np.arange(2.0), np.array([0.0, np.nan]), [0.0]), "NaN"),
    ((np.arange(2.0), np.array([0.0, -np.inf]), [0.0]), "−inf"),
    ((np.arange(2.0), np.zeros(2), [np.nan]), "t must be finite"),
    ((np.array([], dtype=float), np.array([], dtype=float), [0.0]), "at least one"),
])
def test_bad_input_messages(args, match):
    with pytest.raises(ValueError, match=match):
        legendre_transform(*args)


def test_type_errors():
    with pytest.raises(TypeError, match="u must be a real numeric"):
        legendre_transform(np.array(["a", "b"]), np.zeros(2), [0.0])


def test_lazy_export():
    assert dk.legendre_transform is legendre_transform


def test_import_divkit_stays_light():
    code = ("import sys, divkit; assert 'hypothesis' not in sys.modules, 'hypothesis'; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib'; import divkit.legendre; "
            "assert 'matplotlib' not in sys.modules and 'hypothesis' not in sys.modules")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@settings(max_examples=20)
@given(st.integers(2, 3000), st.integers(1, 3000), st.integers(0, 2 ** 32 - 1))
def test_larger_random_grids(n, m, seed):
    rng = np.random.default_rng(seed)
    u = np.cumsum(rng.uniform(0.01, 1.0, size=n))
    f = rng.normal(size=n) * 10 + 0.01 * (u - u.mean()) ** 2
    t = np.sort(rng.normal(size=m) * 5)
    np.testing.assert_allclose(legendre_transform(u, f, t), brute(u, f, t), rtol=0, atol=tol(u, f, t).max())


def test_envelope_figure_tv_and_callable(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from divkit.plotting import envelope_figure

    fig = envelope_figure("tv", t_range=(-1.0, 1.0))
    ax = fig.axes[0]
    env = [ln for ln in ax.get_lines() if ln.get_label().startswith("envelope")][0]
    t, y = env.get_xdata(), env.get_ydata()
    inside = t <= 0.5
    # the TV picture: envelope = max(t, −½) on the domain, lines of slope u ≤ 4 past it
    np.testing.assert_allclose(y[inside], np.maximum(t[inside], -0.5), atol=1e-12)
    assert len(ax.get_lines()) >= 9 + 2
    fig.savefig(tmp_path / "tv.png")
    fig2 = envelope_figure(lambda u: (u - 1.0) ** 2, np.linspace(0, 3, 301), (-3.0, 2.0))
    assert fig2.axes[0].get_title().startswith("conjugate of")
    with pytest.raises(ValueError, match="u_grid"):
        envelope_figure("kl", np.array([1.0, 0.5]))
    with pytest.raises(TypeError, match="div_or_f"):
        envelope_figure(3.0)


def test_subnormal_grid_spacing_does_not_warn_or_break():
    # hypothesis found u = [0, 2.2e-311]: the hull slope 1/2.2e-311 overflowed with a RuntimeWarning
    u = np.array([0.0, 2.22507386e-311])
    fu = np.array([0.0, 1.0])
    t = np.array([-1.0, 0.0, 1e300])
    got = legendre_transform(u, fu, t)
    brute = (t[:, None] * u[None, :] - fu[None, :]).max(axis=1)
    np.testing.assert_array_equal(got, brute)
