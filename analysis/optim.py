"""Update rules for games as init/update pairs with explicit state (optax style).

Each rule is `Rule(init, update)`:
    state = rule.init(game, x, y)
    x, y, state = rule.update(game, x, y, state, lr)
State is a tuple of arrays shaped like x and y, so the per-step map (x, y, state) -> (x', y', state') can be
linearised (analysis.spectral). With xi = (-g_x, g_y) the descent vector (analysis.games):

- simultaneous GDA:  w <- w - lr xi(w)
- alternating GDA:   x <- x + lr g_x(x, y); y <- y - lr g_y(x_new, y)   (order="xy"; "yx" moves y first)
- optimistic (OGDA, Daskalakis et al. 2018): w <- w - 2 lr xi(w_t) + lr xi(w_{t-1}); the first step is GDA
- extragradient (Korpelevich 1976): w_half = w - lr xi(w); w <- w - lr xi(w_half)
- consensus (Mescheder et al. 2017, gamma): w <- w - lr (xi + gamma J^T xi)
- sga (Balduzzi et al. 2018, lam): w <- w - lr (xi + lam A^T xi), A = (J - J^T)/2
- momentum (Gidel et al. 2019, beta, may be negative): w <- w - lr xi + beta (w_t - w_{t-1}); alternating=True
  (default) applies it player by player, x first, y seeing the new x.

Every rule calls `game.project` after the step (weight clipping for WGAN).

`Rule.linear` declares that the step (x, y, state) -> (x', y', state') and `init` are linear maps whenever the
game is linear (games.Game.linear); every rule here is (consensus and SGA included: their correction terms
are linear on a linear game). analysis.simulate then iterates the exact step matrix instead of the loop. A
hand-built Rule defaults to linear=False (the step loop is always correct).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    name: str
    init: Callable
    update: Callable
    options: dict
    linear: bool = False  # init and update are linear maps on linear games (enables simulate's fast path)


def simultaneous() -> Rule:
    def init(game, x, y):
        return ()

    def update(game, x, y, state, lr):
        gx, gy = game.grads(x, y)
        return (*game.project(x + lr * gx, y - lr * gy), state)

    return Rule("simultaneous", init, update, {}, linear=True)


def alternating(order: str = "xy") -> Rule:
    if order not in ("xy", "yx"):
        raise ValueError(f"alternating: order must be 'xy' (x first) or 'yx', got {order!r}")

    def init(game, x, y):
        return ()

    def update(game, x, y, state, lr):
        if order == "xy":
            gx, _ = game.grads(x, y)
            x, y = game.project(x + lr * gx, y)
            _, gy = game.grads(x, y)
            x, y = game.project(x, y - lr * gy)
        else:
            _, gy = game.grads(x, y)
            x, y = game.project(x, y - lr * gy)
            gx, _ = game.grads(x, y)
            x, y = game.project(x + lr * gx, y)
        return x, y, state

    return Rule("alternating", init, update, {"order": order}, linear=True)


def optimistic() -> Rule:
    def init(game, x, y):
        return game.grads(x, y)  # previous gradients; equal to the current ones before the first step

    def update(game, x, y, state, lr):
        px, py = state
        gx, gy = game.grads(x, y)
        x, y = game.project(x + lr * (2 * gx - px), y - lr * (2 * gy - py))
        return x, y, (gx, gy)

    return Rule("optimistic", init, update, {}, linear=True)


def extragradient() -> Rule:
    def init(game, x, y):
        return ()

    def update(game, x, y, state, lr):
        gx, gy = game.grads(x, y)
        xh, yh = game.project(x + lr * gx, y - lr * gy)
        gx, gy = game.grads(xh, yh)
        return (*game.project(x + lr * gx, y - lr * gy), state)

    return Rule("extragradient", init, update, {}, linear=True)


def consensus(gamma: float = 1.0) -> Rule:
    def init(game, x, y):
        return ()

    def update(game, x, y, state, lr):
        gx, gy = game.grads(x, y)
        cx, cy = game.consensus_term(x, y)
        return (*game.project(x + lr * (gx - gamma * cx), y - lr * (gy + gamma * cy)), state)

    return Rule("consensus", init, update, {"gamma": gamma}, linear=True)


def sga(lam: float = 1.0) -> Rule:
    def init(game, x, y):
        return ()

    def update(game, x, y, state, lr):
        gx, gy = game.grads(x, y)
        ax, ay = game.sga_term(x, y)
        return (*game.project(x + lr * (gx - lam * ax), y - lr * (gy + lam * ay)), state)

    return Rule("sga", init, update, {"lam": lam}, linear=True)


def momentum(beta: float = -0.5, alternating: bool = True) -> Rule:
    def init(game, x, y):
        return (x, y)  # previous iterate: no velocity at the start

    def update(game, x, y, state, lr):
        px, py = state
        if alternating:
            gx, _ = game.grads(x, y)
            xn, _ = game.project(x + lr * gx + beta * (x - px), y)
            _, gy = game.grads(xn, y)
            _, yn = game.project(xn, y - lr * gy + beta * (y - py))
        else:
            gx, gy = game.grads(x, y)
            xn, yn = game.project(x + lr * gx + beta * (x - px), y - lr * gy + beta * (y - py))
        return xn, yn, (x, y)

    return Rule("momentum", init, update, {"beta": beta, "alternating": alternating}, linear=True)


RULES = {"simultaneous": simultaneous, "alternating": alternating, "optimistic": optimistic,
         "extragradient": extragradient, "consensus": consensus, "sga": sga, "momentum": momentum}


def get(method: str | Rule, **options: Any) -> Rule:
    """A Rule from its name and options (a Rule passes through; options then must be empty)."""
    if isinstance(method, Rule):
        if options:
            raise ValueError(f"options {sorted(options)} given with an already-built Rule {method.name!r}")
        return method
    if method not in RULES:
        raise ValueError(f"unknown update rule {method!r}; expected one of {sorted(RULES)}")
    try:
        return RULES[method](**options)
    except TypeError as exc:
        raise TypeError(f"update rule {method!r}: {exc}") from None
