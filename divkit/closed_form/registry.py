"""The closed-form registry: `register_closed_form(div_name, type_p, type_q)` and dispatch by MRO distance
(after torch.distributions.kl.register_kl; the rules are in the package docstring)."""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from ..catalog import get
from ..fdiv import FDivergence

ANY = "*"

# a registered closed form: fn(p, q, div) -> value (torch tensor, numpy array or float)
ClosedForm = Callable[[Any, Any, FDivergence], Any]


_REGISTRY: dict[tuple[str, type, type], ClosedForm] = {}


def register_closed_form(div_name: str, type_p: type, type_q: type) -> Callable[[ClosedForm], ClosedForm]:
    """Decorator registering `fn(p, q, div) -> value` as the closed form of `div_name` for (type_p, type_q).

    div_name: a catalogue name ("kl", "squared_hellinger", ...), "alpha" (every α member, read a from
    div.params["a"]), or "*" (exact for every f-divergence). The most specific registration wins (see the
    divkit.closed_form docstring). Re-registering a key replaces it.

        @dk.register_closed_form("kl", MyNormal, MyNormal)
        def _kl_mine(p, q, div): ...
    """
    if not isinstance(div_name, str):
        raise TypeError(f"div_name must be a str (a divergence name, 'alpha' or '*'), got {type(div_name).__name__}")
    if div_name not in (ANY, "alpha"):
        get(div_name)  # unknown names raise ValueError listing the known ones
    for nm, t in (("type_p", type_p), ("type_q", type_q)):
        if not isinstance(t, type):
            raise TypeError(f"{nm} must be a class, got {t!r}")

    def deco(fn: ClosedForm) -> ClosedForm:
        _REGISTRY[(div_name, type_p, type_q)] = fn
        _dispatch.cache_clear()
        return fn

    return deco


def _registry_key(div: FDivergence) -> str | None:
    if div.family == "alpha" and "a" in div.params:  # the object's family tag, not its name string
        return "alpha"
    try:
        return div.name if get(div.name) is div else None
    except (ValueError, TypeError):
        return None


@functools.cache
def _dispatch(key, type_p, type_q):
    """Most specific registered (type_p', type_q') for key, by MRO distance (torch's _dispatch_kl)."""
    for k in ((key, ANY) if key is not None else (ANY,)):
        matches = [(sp, sq) for (n, sp, sq) in _REGISTRY if n == k and issubclass(type_p, sp)
                   and issubclass(type_q, sq)]
        if not matches:
            continue
        mp, mq = type_p.__mro__, type_q.__mro__
        left = min(matches, key=lambda m: (mp.index(m[0]), mq.index(m[1])))
        right = min(matches, key=lambda m: (mq.index(m[1]), mp.index(m[0])))
        if left != right:
            warnings.warn(f"ambiguous closed form for {k!r} between {type_p.__name__} and {type_q.__name__}: "
                          f"{left[0].__name__}/{left[1].__name__} and {right[0].__name__}/{right[1].__name__}"
                          f" both match; using the first (register the exact pair to resolve)", RuntimeWarning)
        return _REGISTRY[(k, *left)]
    return None


def lookup_closed_form(p: object, q: object, div: str | FDivergence) -> ClosedForm | None:
    """The registered function for (div, type(p), type(q)), or None."""
    return _dispatch(_registry_key(get(div)), type(p), type(q))
