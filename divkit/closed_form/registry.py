"""The closed-form registry: `register_closed_form(div_name, type_p, type_q)` and dispatch by MRO distance
(after torch.distributions.kl.register_kl; the rules are in the package docstring)."""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..catalog import get
from ..fdiv import FDivergence

ANY = "*"


@dataclass(frozen=True)
class Family:
    """The registry key of a parametrised family (every member, e.g. every α(a); the form reads div.params)."""

    tag: str


#: families a closed form may be registered for as a whole, by the tag their members carry (FDivergence.family)
FAMILIES = frozenset({"alpha"})

# a registered closed form: fn(p, q, div) -> value (torch tensor, numpy array or float)
ClosedForm = Callable[[Any, Any, FDivergence], Any]
Key = FDivergence | Family | str  # the divergence object itself, a family, or ANY

_REGISTRY: dict[tuple[Key, type, type], ClosedForm] = {}
_KEYS: set[Key] = set()  # the keys present in _REGISTRY (membership by object identity for FDivergence)


def _key(div: str | FDivergence) -> Key:
    """The registry key of a registration argument: the object (a name is looked up once, here), a family, ANY."""
    if isinstance(div, FDivergence):
        return div
    if not isinstance(div, str):
        raise TypeError(f"div_name must be a str (a divergence name, 'alpha' or '*') or an FDivergence, got "
                        f"{type(div).__name__}")
    if div == ANY:
        return ANY
    if div in FAMILIES:
        return Family(div)
    return get(div)  # unknown names raise ValueError listing the known ones


def register_closed_form(div_name: str | FDivergence, type_p: type, type_q: type
                         ) -> Callable[[ClosedForm], ClosedForm]:
    """Decorator registering `fn(p, q, div) -> value` as the closed form of a divergence for (type_p, type_q).

    div_name: a catalogue name ("kl", "squared_hellinger", ...; the entry is keyed on the catalogue's object of
    that name), an FDivergence (e.g. one from `from_generator`), "alpha" (every α member, read a from
    div.params["a"]), or "*" (exact for every f-divergence). For a divergence the entries are tried in the
    order: its object, its family, "*"; within one key the most specific (type_p, type_q) wins (see the
    divkit.closed_form docstring). Re-registering a key replaces it.

        @dk.register_closed_form("kl", MyNormal, MyNormal)
        def _kl_mine(p, q, div): ...
    """
    key = _key(div_name)
    for nm, t in (("type_p", type_p), ("type_q", type_q)):
        if not isinstance(t, type):
            raise TypeError(f"{nm} must be a class, got {t!r}")

    def deco(fn: ClosedForm) -> ClosedForm:
        _REGISTRY[(key, type_p, type_q)] = fn
        _KEYS.add(key)
        _dispatch.cache_clear()
        return fn

    return deco


def _registry_key(div: FDivergence) -> tuple[Key, ...]:
    """The keys to try for div, most specific first: the object itself, its family (members carry params), ANY.
    Dispatch is on the object (identity) and its family tag, never on its name."""
    keys: list[Key] = [div] if div in _KEYS else []
    if div.params and Family(div.family) in _KEYS:
        keys.append(Family(div.family))
    return (*keys, ANY)


@functools.cache
def _dispatch(keys: tuple[Key, ...], type_p: type, type_q: type) -> ClosedForm | None:
    """Most specific registered (type_p', type_q') for the first key that has one, by MRO distance (torch's
    _dispatch_kl)."""
    for k in keys:
        matches = [(sp, sq) for (n, sp, sq) in _REGISTRY if n is k or (not isinstance(k, FDivergence) and n == k)
                   if issubclass(type_p, sp) and issubclass(type_q, sq)]
        if not matches:
            continue
        mp, mq = type_p.__mro__, type_q.__mro__
        left = min(matches, key=lambda m: (mp.index(m[0]), mq.index(m[1])))
        right = min(matches, key=lambda m: (mq.index(m[1]), mp.index(m[0])))
        if left != right:
            warnings.warn(f"ambiguous closed form for {_key_text(k)} between {type_p.__name__} and "
                          f"{type_q.__name__}: {left[0].__name__}/{left[1].__name__} and {right[0].__name__}/"
                          f"{right[1].__name__} both match; using the first (register the exact pair to resolve)",
                          RuntimeWarning)
        return _REGISTRY[(k, *left)]
    return None


def _key_text(k: Key) -> str:
    return repr(k.name) if isinstance(k, FDivergence) else repr(k.tag) if isinstance(k, Family) else repr(k)


def find_closed_form(div: FDivergence, type_p: type, type_q: type) -> ClosedForm | None:
    """The registered function for (div, type_p, type_q), or None (dispatch on the object, its family, "*")."""
    return _dispatch(_registry_key(div), type_p, type_q)


def lookup_closed_form(p: object, q: object, div: str | FDivergence) -> ClosedForm | None:
    """The registered function for (div, type(p), type(q)), or None."""
    return find_closed_form(get(div), type(p), type(q))
