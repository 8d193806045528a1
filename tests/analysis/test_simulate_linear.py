"""simulate's exact linear path (powers of the step matrix) against the step-by-step loop.

Tolerance (derived, not tuned): the loop rounds every iterate in the input dtype. One step does a few (< 16)
roundings per component, each of relative size eps, so step s adds an error of at most 16 eps |z_s|, and
the linear map carries it to step t multiplied by at most ||M^(t-s)||. With G_t = max_{k<=t} ||M^k P||_2
(P maps w_0 to the initial state, so |z_s| <= G_t |w_0| and the propagation factor is <= G_t too),
|loop_t - exact_t| <= 16 (t + 1) eps G_t^2 |w_0|. The linear path computes M^t P in float64 and rounds it once
to the dtype (error <= 2 eps G_t |w_0| after the product), far inside the same bound. So each point must
agree within 32 (t + 1) eps G_t^2 |w_0|: for float32 and t = 120 that is ~5e-4 relative, while a wrong lr,
order or state (a real bug) gives O(lr) = 0.1 relative differences.
"""
import numpy as np
import pytest
import torch

import analysis
from analysis import games, optim, spectral

RULES = [("simultaneous", {}), ("alternating", {}), ("alternating", {"order": "yx"}), ("optimistic", {}),
         ("extragradient", {}), ("consensus", {"gamma": 0.7}), ("sga", {"lam": 1.3}), ("momentum", {}),
         ("momentum", {"beta": 0.3, "alternating": False})]
A = np.array([[1.0, 0.5], [-0.3, 0.8], [0.2, -1.1]])  # x in R^3, y in R^2
GAMES = {"xy": games.Bilinear(), "xAy": games.Bilinear(A), "quad": games.QuadraticBilinear(0.1, 1.0, 0.2),
         "quad_repel": games.QuadraticBilinear(-0.05, 0.9, -0.1), "linear": games.LinearGame(0.1, 1.0, 0.5, 0.2)}
STEPS, RECORD = 120, 7


def _points(game, n_pts, dtype, backend, rng):
    shape_x = (n_pts, game.A.shape[0]) if game.vector else (n_pts, 1)
    shape_y = (n_pts, game.A.shape[1]) if game.vector else (n_pts, 1)
    x0, y0 = rng.normal(size=shape_x).astype(dtype), rng.normal(size=shape_y).astype(dtype)
    if backend == "torch":
        x0, y0 = torch.from_numpy(x0), torch.from_numpy(y0)
    return x0, y0


def _bound(game, rule, lrs, ts, w0_norm, eps):
    """32 (t + 1) eps G_t^2 |w_0| per record and lr: (n_rec, n_lr)."""
    out = []
    for lr in lrs:
        M, P = spectral.linear_maps(game, rule, lr)
        Z, G, g = P, [], 0.0
        for t in range(ts[-1] + 1):
            g = max(g, np.linalg.norm(Z, 2))
            G.append(g)
            Z = M @ Z
        out.append([32 * (t + 1) * eps * G[t] ** 2 for t in ts])
    return np.array(out).T[..., None] * w0_norm  # broadcast to (n_rec, n_lr, n_pts) below


def _np(v):
    return v.numpy() if isinstance(v, torch.Tensor) else v


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gname", list(GAMES))
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r[0] + "".join(f"-{k}={v}" for k, v in r[1].items()))
def test_linear_path_equals_step_loop(rule, gname, dtype, backend):
    game, (method, opts) = GAMES[gname], rule
    rng = np.random.default_rng(0)
    n_pts = 40
    x0, y0 = _points(game, n_pts, dtype, backend, rng)
    lrs = np.array([0.05, 0.1, 0.3], dtype=dtype)
    for lr in (lrs[1], lrs):  # one learning rate, then a batch of them broadcast against the points
        lr_in = torch.from_numpy(np.asarray(lr)) if backend == "torch" else lr
        if np.ndim(lr):  # scalar players: (n_pts, 1) x (1, n_lr); vector players: (n_lr, 1) x (1, n_pts, dim)
            lr_in = lr_in.reshape(-1, 1) if game.vector else lr_in.reshape(1, -1)
        kw = dict(lr=lr_in, steps=STEPS, record=RECORD, **opts)
        xs0, ys0 = (x0[None], y0[None]) if game.vector and np.ndim(lr) else (x0, y0)
        fast = analysis.simulate(game, method, x0=xs0, y0=ys0, **kw)
        loop = analysis.simulate(game, method, x0=xs0, y0=ys0, fast=False, **kw)
        assert fast.path == "linear" and loop.path == "loop"
        assert type(fast.x) is type(loop.x) and fast.x.shape == loop.x.shape and fast.y.shape == loop.y.shape
        assert fast.x.dtype == loop.x.dtype == (torch.float32 if (backend, dtype) == ("torch", np.float32)
                                                 else torch.float64 if backend == "torch" else dtype)
        np.testing.assert_array_equal(fast.t, loop.t)
        fx, fy, lx, ly = (_np(v).astype(np.float64) for v in (fast.x, fast.y, loop.x, loop.y))
        if game.vector:  # (n_rec, [n_lr,] n_pts, dim): error and |w_0| per point
            err = np.maximum(np.linalg.norm(fx - lx, axis=-1), np.linalg.norm(fy - ly, axis=-1))
            w0 = np.sqrt((_np(x0).astype(np.float64) ** 2).sum(-1) + (_np(y0).astype(np.float64) ** 2).sum(-1))
        else:  # (n_rec, n_pts, [n_lr])
            err = np.maximum(np.abs(fx - lx), np.abs(fy - ly))
            w0 = np.hypot(_np(x0)[:, 0].astype(np.float64), _np(y0)[:, 0].astype(np.float64))
        rule_obj = optim.get(method, **opts)
        bound = _bound(game, rule_obj, np.atleast_1d(lr).astype(np.float64), list(fast.t), w0,
                       np.finfo(dtype).eps)  # (n_rec, n_lr, n_pts)
        if not game.vector:
            bound = np.swapaxes(bound, 1, 2)  # (n_rec, n_pts, n_lr)
        if np.ndim(lr) == 0 and game.vector:
            bound = bound[:, 0]  # (n_rec, n_pts)
        assert err.shape == bound.shape
        assert np.all(err <= bound), (float(np.max(err / bound)), method, gname)
        assert np.max(np.abs(lx)) > 0.1  # the trajectories are not trivially zero


def test_lr_grid_gives_each_point_its_own_map():
    # a wrong lr per point (e.g. the lr axis misaligned with the batch) is an O(1) error, not rounding
    g = games.Bilinear()
    lr = np.linspace(0.05, 0.5, 7)
    fast = analysis.simulate(g, "extragradient", lr=lr, steps=50, x0=np.ones((3, 1)), y0=0.0)
    for j, v in enumerate(lr):
        one = analysis.simulate(g, "extragradient", lr=float(v), steps=50, x0=1.0, y0=0.0, fast=False)
        np.testing.assert_allclose(fast.x[:, 1, j], one.x, rtol=1e-12, atol=1e-14)


def test_autograd_goes_through_the_loop_and_matches_the_linear_map():
    g = games.Bilinear()
    x0 = torch.linspace(-1, 1, 50, dtype=torch.float64, requires_grad=True)
    tr = analysis.simulate(g, "optimistic", lr=0.2, steps=30, x0=x0, y0=0.5)
    assert tr.path == "loop" and tr.x.requires_grad
    tr.x[-1].sum().backward()
    M, P = spectral.linear_maps(g, optim.get("optimistic"), 0.2)
    dxT_dx0 = (np.linalg.matrix_power(M, 30) @ P)[0, 0]
    np.testing.assert_allclose(x0.grad.numpy(), dxT_dx0, rtol=1e-12)
    with pytest.raises(ValueError, match="fast=True.*requires grad"):
        analysis.simulate(g, "optimistic", lr=0.2, steps=3, x0=x0, y0=0.5, fast=True)


def test_auto_picks_the_loop_for_nonlinear_games_small_batches_and_custom_rules():
    xs = np.linspace(-1, 1, 100)
    assert analysis.simulate(games.DiracGAN("wgan"), "simultaneous", lr=0.1, steps=5, x0=xs, y0=1.0).path == "loop"
    assert analysis.simulate(games.Bilinear(), "simultaneous", lr=0.1, steps=5, x0=1.0, y0=1.0).path == "loop"
    assert analysis.simulate(games.Bilinear(), "simultaneous", lr=0.1, steps=5, x0=1.0, y0=1.0,
                             fast=True).path == "linear"
    r = optim.simultaneous()
    custom = optim.Rule("mine", r.init, r.update, {})  # not declared linear
    assert analysis.simulate(games.Bilinear(), custom, lr=0.1, steps=5, x0=xs, y0=1.0).path == "loop"
    with pytest.raises(ValueError, match="fast=True.*not linear"):
        analysis.simulate(games.DiracGAN("saturating"), "sga", lr=0.1, steps=5, x0=xs, y0=1.0, fast=True)
    with pytest.raises(ValueError, match="fast must be"):
        analysis.simulate(games.Bilinear(), "sga", lr=0.1, steps=5, x0=xs, y0=1.0, fast="yes")


def test_non_finite_inputs_and_overflow_fall_back_to_the_loop():
    g = games.Bilinear()
    xs = np.r_[np.linspace(-1, 1, 20), np.inf]
    with np.errstate(invalid="ignore"):  # inf - inf in the loop, as it would be without the linear path
        a = analysis.simulate(g, "simultaneous", lr=0.1, steps=5, x0=xs, y0=0.0)
        b = analysis.simulate(g, "simultaneous", lr=0.1, steps=5, x0=xs, y0=0.0, fast=False)
    assert a.path == "loop"
    np.testing.assert_array_equal(a.x, b.x)
    # |w| grows by sqrt(1 + lr^2) = sqrt(2) per step at lr = 1: float32 overflows after ~256 steps
    x32 = np.ones(100, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        c = analysis.simulate(g, "simultaneous", lr=1.0, steps=300, x0=x32, y0=x32)
        d = analysis.simulate(g, "simultaneous", lr=1.0, steps=300, x0=x32, y0=x32, fast=False)
    assert c.path == "loop" and not np.isfinite(c.x[-1]).all()
    np.testing.assert_array_equal(c.x, d.x)
    # steps = 0: only the initial point
    e = analysis.simulate(g, "optimistic", lr=0.1, steps=0, x0=np.arange(10.0), y0=1.0)
    assert e.path == "linear" and e.x.shape == (1, 10)
    np.testing.assert_array_equal(e.x[0], np.arange(10.0))


@pytest.mark.cuda
def test_linear_path_on_cuda_stays_on_device():
    x0 = torch.randn(10_000, device="cuda")
    tr = analysis.simulate(games.Bilinear(), "momentum", lr=0.1, steps=100, x0=x0, y0=x0, record=10)
    ref = analysis.simulate(games.Bilinear(), "momentum", lr=0.1, steps=100, x0=x0, y0=x0, record=10, fast=False)
    assert tr.path == "linear" and tr.x.device.type == "cuda" and tr.x.dtype == torch.float32
    torch.testing.assert_close(tr.x, ref.x, rtol=1e-4, atol=1e-5)
