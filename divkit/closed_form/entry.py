"""The public entry points `divergence(p, q, div)` and `explain(p, q, div)` (paths: package docstring)."""
from __future__ import annotations

import warnings
from typing import Any

import torch

from ..catalog import get
from ..fdiv import FDivergence
from ..validation import check_event_shapes, check_probability_vector, check_same_world
from .fallback import _monte_carlo, _quadrature
from .inputs import _fallback_name, _is_1d_continuous, _kind, _scipy_name, _scipy_to_torch, _to_output, _type_name
from .registry import find_closed_form
from .torch_kl import _torch_kl_form

METHODS = ("auto", "closed_form", "quadrature", "monte_carlo")


class NoClosedFormError(NotImplementedError, TypeError):
    """No registered closed form for (divergence, type(p), type(q)); the message names the fallback."""


class NumericFallbackWarning(UserWarning):
    """method="auto" found no exact form and returned a Monte Carlo estimate (the warning names it)."""



def explain(p: Any, q: Any, div: str | FDivergence = "kl", method: str = "auto") -> str:
    """Which path `divergence(p, q, div, method=method)` takes, in words: a divkit closed form (the registered
    function's name), torch.distributions.kl_divergence, the exact probability-vector sum, quadrature or
    Monte Carlo. Distributions only (probability vectors always take the exact sum)."""
    div = get(div)
    if _kind(p) == "array":
        return "exact sum Σ q f(p/q) over probability vectors (FDivergence.integrand)"
    if _kind(p) == "scipy":
        tp, tq = _scipy_to_torch(p, "p"), _scipy_to_torch(q, "q")
        if tp is not None and tq is not None:
            p, q = tp, tq
    if method in ("auto", "closed_form"):
        fn = find_closed_form(div, type(p), type(q))
        if fn is not None:
            return f"divkit closed form {fn.__name__} ({_type_name(p)} / {_type_name(q)})"
        if _torch_kl_form(p, q, div) is not None:
            return "torch.distributions.kl_divergence (exact; torch's registered rule)"
        if method == "closed_form":
            return "none: no closed form (divergence(..., method='closed_form') raises NoClosedFormError)"
    fb = _fallback_name(p, q) if method == "auto" else method
    return {"quadrature": "adaptive quadrature (scipy.integrate.quad on log densities)",
            "monte_carlo": "seeded Monte Carlo estimate (MonteCarloResult with stderr)"}.get(fb, f"unsupported ({fb})")


def divergence(p: Any, q: Any, div: str | FDivergence = "kl", *, method: str = "auto", n: int = 100_000,
               seed: int = 0, validate: bool = True) -> Any:
    """D_f(P‖Q) in nats: closed form when registered, else quadrature (1-D) or seeded Monte Carlo.

    Args:
      p, q: a pair of the same kind: torch.distributions, scipy.stats frozen distributions, or arrays of
        probability vectors on the last axis (numpy or torch; batch axes broadcast).
      div: a divergence name (see `divkit.names()`, "alpha(a)") or an FDivergence.
      method: "auto" | "closed_form" | "quadrature" | "monte_carlo".
      n, seed: Monte Carlo sample size and seed.
      validate: check probability vectors (≥ 0, no NaN, sums to 1 within
        `divkit.validation.sum_tolerance(dtype)`).

    Returns:
      torch tensor (batch shape) for torch inputs, float / numpy array for numpy and scipy inputs;
      `MonteCarloResult(value, stderr, n)` when Monte Carlo was used. +inf where the divergence is infinite.

    Raises:
      ValueError: invalid probabilities, shapes or parameters; unknown divergence or method.
      TypeError: unsupported input kinds; NoClosedFormError (a TypeError and NotImplementedError) when
        method="closed_form" has no registered entry (the message names the fallback to use).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    div = get(div)
    kp, kq = _kind(p), _kind(q)
    if kp != kq:
        raise TypeError(f"p and q must be the same kind of object, got {type(p).__name__} and {type(q).__name__}")

    numpy_out = False
    if kp == "array":
        if method in ("quadrature", "monte_carlo"):
            raise ValueError(f"method={method!r} applies to distributions; probability vectors always use the "
                             f"exact sum Σ q f(p/q) (method='auto' or 'closed_form')")
        check_same_world(p, q)
        if validate:
            p = check_probability_vector(p, "p")
            q = check_probability_vector(q, "q")
        else:
            from ..validation import as_array
            p, q = as_array(p, "p"), as_array(q, "q")
        check_event_shapes(p, q)
        if isinstance(p, torch.Tensor) and p.dtype != q.dtype:
            dt = torch.promote_types(p.dtype, q.dtype)
            p, q = p.to(dt), q.to(dt)
        fn = find_closed_form(div, type(p), type(q))
        assert fn is not None  # "*" entries cover numpy and torch arrays
        return fn(p, q, div)

    if kp == "scipy":
        numpy_out = True
        tp, tq = _scipy_to_torch(p, "p"), _scipy_to_torch(q, "q")
        if tp is not None and tq is not None:
            p, q = tp, tq
        elif (tp is None) != (tq is None) and not (_is_1d_continuous(p) and _is_1d_continuous(q)):
            raise TypeError(f"unsupported scipy pair {_scipy_name(p)} / {_scipy_name(q)}")

    fn = find_closed_form(div, type(p), type(q))
    if fn is None and method in ("auto", "closed_form"):
        fn = _torch_kl_form(p, q, div)
    if method == "closed_form" or (method == "auto" and fn is not None):
        if fn is None:
            fb = _fallback_name(p, q)
            hint = (f"use method='{fb}'" if fb != "none" else "the pair is not supported")
            raise NoClosedFormError(f"no closed form registered for {div.name!r} between {_type_name(p)} and "
                                    f"{_type_name(q)}; {hint} (or register one with dk.register_closed_form)")
        return _to_output(fn(p, q, div), numpy_out)

    fb = _fallback_name(p, q)
    if method == "auto" and fb == "monte_carlo":
        warnings.warn(f"no closed form for {div.name!r} between {_type_name(p)} and {_type_name(q)} (neither "
                      f"divkit's registry nor torch.distributions.kl_divergence has one): returning a seeded Monte "
                      f"Carlo estimate (n={n}) with its stderr; see dk.closed_form.explain(p, q, div)",
                      NumericFallbackWarning, stacklevel=2)
    if method == "quadrature" or (method == "auto" and fb == "quadrature"):
        if fb != "quadrature":
            raise TypeError(f"quadrature needs two 1-D continuous distributions, got {_type_name(p)} and "
                            f"{_type_name(q)}; use method='monte_carlo'")
        return _quadrature(p, q, div, numpy_out)
    if fb == "none":
        raise TypeError(f"unsupported pair {_type_name(p)} / {_type_name(q)} for {div.name!r}: no closed form, and "
                        f"neither quadrature (two 1-D densities) nor Monte Carlo (two densities of one event shape) "
                        f"applies; for discrete distributions pass probability vectors (e.g. d.pmf(support))")
    return _monte_carlo(p, q, div, n, seed, numpy_out)
