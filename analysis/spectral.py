"""Linear stability of update rules: the per-step map at the equilibrium and its spectral radius.

A rule's step (x, y, state) -> (x', y', state') linearised at the equilibrium is a matrix M; the iterates
contract (locally) iff rho(M) = max |eig M| < 1, and rho is the asymptotic per-step contraction factor.
Numeric: M by central finite differences of the vectorised step (exact up to rounding for linear games: the
step is linear, so the O(h^2) error term vanishes; for non-linear games the error is O(h^2) = 1e-10).
Symbolic: the rule is applied to sympy symbols on the game's exact linearisation (games.Game.symbolic_jacobian),
which is exact for first-order rules and for consensus/SGA (at the equilibrium xi = 0, so d(J^T xi) = J^T J).

Reference values (REFERENCE.md §4, V = x*y, lr = eta): simultaneous sqrt(1 + eta^2); alternating 1 (eta < 2);
extragradient sqrt(1 - eta^2 + eta^4); optimistic sqrt((1 + sqrt(1 - 4 eta^2))/2) (eta <= 1/2); consensus/SGA
sqrt((1 - eta*gamma)^2 + eta^2).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp
import torch
from numpy.typing import ArrayLike

from . import optim
from .games import LinearGame

if TYPE_CHECKING:
    from .games import Game


def _to_numpy64(c):
    if isinstance(c, torch.Tensor):
        c = c.detach().cpu()
    return np.asarray(c, dtype=np.float64)


def _split(Z, shapes):
    """Rows of Z (B, D) -> components (B, *shape) for the per-element component shapes `shapes`."""
    comps, off = [], 0
    for shp in shapes:
        size = int(np.prod(shp)) if shp else 1
        comps.append(Z[:, off:off + size].reshape(Z.shape[0], *shp))
        off += size
    return comps


def _stack(comps, B):
    """Components (B, *shape_i) -> (B, D) float64 numpy: the inverse of _split."""
    return np.concatenate([_to_numpy64(c).reshape(B, -1) for c in comps], axis=1)


def _step_flat(rule, game, Z, shapes, lr):
    """Apply one step of `rule` to every row of Z (B, D) laid out as (x, y, *state); returns (B, D)."""
    x, y, *st = _split(Z, shapes)
    xn, yn, stn = rule.update(game, x, y, tuple(st), lr)
    return _stack((xn, yn, *stn), Z.shape[0])


def step_matrix(game: Game, method: str | optim.Rule, lr: float, h: float = 1e-5, **options: Any) -> np.ndarray:
    """The numeric per-step linear map M at game.equilibrium(), on the stacked vector (x, y, *state).

    Returns a (D, D) float64 array; D = 2 for memoryless rules on scalar games (optimistic and momentum carry
    two more state variables). M is the central difference; the forward and backward one-sided differences
    are computed too and must agree (to 1e-3 (1 + |M|), where a smooth map's differ by O(h |M''|) ~ 1e-5):
    a step map with a kink or a jump at the equilibrium has no linearisation, and ValueError says so (and why,
    when the game knows: games.Game.nonsmooth_reason) instead of returning a finite-difference artefact.
    """
    reason = game.nonsmooth_reason() if hasattr(game, "nonsmooth_reason") else None
    if reason:
        raise ValueError(f"step_matrix: {game.name}: {reason}")
    rule = optim.get(method, **options)
    x0, y0 = game.equilibrium()
    if getattr(game, "vector", False):
        n, m = game.A.shape
        x0, y0 = np.full(n, float(x0)), np.full(m, float(y0))
    else:
        x0, y0 = np.asarray(x0, dtype=np.float64), np.asarray(y0, dtype=np.float64)
    state = rule.init(game, x0, y0)
    comps = [x0, y0, *[np.asarray(s, dtype=np.float64) for s in state]]
    shapes = [np.shape(c) for c in comps]
    z0 = np.concatenate([c.reshape(-1) for c in comps])
    D = z0.size
    Z = np.concatenate([z0 + h * np.eye(D), z0 - h * np.eye(D), z0[None]])  # (2D + 1, D)
    out = _step_flat(rule, game, Z, shapes, lr)
    fwd, bwd = (out[:D] - out[-1]) / h, (out[-1] - out[D:2 * D]) / h
    gap = np.abs(fwd - bwd)
    if not np.all(gap <= 1e-3 * (1 + np.abs(fwd) + np.abs(bwd))):
        j = int(np.argmax(gap.max(1)))
        raise ValueError(f"step_matrix: the step map of {rule.name!r} on {game.name} is not differentiable at the "
                         f"equilibrium: along state component {j} the one-sided derivatives differ "
                         f"(forward {fwd[j].tolist()}, backward {bwd[j].tolist()}), so it has no spectral radius")
    return ((out[:D] - out[D:2 * D]) / (2 * h)).T


def linear_maps(game: Game, rule: optim.Rule, lr: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact (M, P) of a linear rule on a linear game (games.Game.linear and optim.Rule.linear).

    With w = (x, y) flattened to d = n + m entries (d = 2 for scalar players) and z = (x, y, *state) to D
    entries: the initial state is z_0 = P w_0 (P: (D, d), its first d rows the identity) and one step is
    z_{t+1} = M z_t (M: (D, D)), so w_t = (M^t P)[:d] w_0. Both are read off by applying `init`/`update` to
    the unit vectors (exact: no finite differences), in float64 torch on the CPU (a torch A works too).
    lr: a float. Returns float64 numpy arrays.
    """
    if not (getattr(game, "linear", False) and rule.linear):
        raise ValueError(f"linear_maps: game {game.name!r} or rule {rule.name!r} is not declared linear")
    if getattr(game, "vector", False):
        n, m = game.A.shape
        shape_x, shape_y = (n,), (m,)
    else:
        n = m = 1
        shape_x = shape_y = ()
    d = n + m
    x, y = _split(torch.eye(d, dtype=torch.float64), [shape_x, shape_y])
    state = rule.init(game, x, y)
    P = _stack((x, y, *state), d).T  # (D, d)
    shapes = [shape_x, shape_y, *[tuple(s.shape[1:]) for s in state]]
    D = P.shape[0]
    M = _step_flat(rule, game, torch.eye(D, dtype=torch.float64), shapes, float(lr)).T
    return M, P


def symbolic_step_matrix(game: Game, method: str | optim.Rule, lr: float | sp.Expr | None = None,
                         **options: Any) -> sp.Matrix:
    """Exact per-step map (sympy Matrix) on (x, y, *state) for a scalar game with a symbolic linearisation.

    lr: number or sympy expression (default: the positive symbol eta).
    """
    eta = sp.Symbol("eta", positive=True) if lr is None else sp.sympify(lr)
    J = game.symbolic_jacobian()
    lin = LinearGame(J[0, 0], J[0, 1], J[1, 0], J[1, 1])
    rule = optim.get(method, **{k: sp.nsimplify(v) if isinstance(v, float) else v for k, v in options.items()})
    x, y = sp.symbols("x y", real=True)
    state = rule.init(lin, x, y)
    syms = [sp.Symbol(f"s{i}", real=True) for i in range(len(state))]
    xn, yn, stn = rule.update(lin, x, y, tuple(syms), eta)
    outs = sp.Matrix([xn, yn, *stn])
    return outs.jacobian(sp.Matrix([x, y, *syms])).applyfunc(sp.expand)


def spectral_radius(game: Game, method: str | optim.Rule, lr: ArrayLike | sp.Expr, symbolic: bool = False,
                    **options: Any) -> float | np.ndarray | sp.Expr:
    """Spectral radius of the per-step map at the equilibrium.

    symbolic=False: float (numpy lr array -> array of radii). symbolic=True: sympy expression in lr (pass a
    sympy Symbol or number; eigenvalues from the exact map, |.| simplified assuming the symbols are positive).
    """
    if symbolic:
        M = symbolic_step_matrix(game, method, lr, **options)
        eigs = list(M.eigenvals(multiple=True))
        mags = {sp.simplify(sp.sqrt(sp.expand(sp.re(e) ** 2 + sp.im(e) ** 2))) for e in eigs}
        return mags.pop() if len(mags) == 1 else sp.Max(*mags)
    lrs = np.asarray(lr, dtype=np.float64)
    if lrs.ndim == 0:
        M = step_matrix(game, method, float(lrs), **options)
        return float(np.max(np.abs(np.linalg.eigvals(M))))
    return np.array([spectral_radius(game, method, float(v), **options) for v in lrs.ravel()]).reshape(lrs.shape)
