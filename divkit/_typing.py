"""Names used in divkit's type hints (annotations only; nothing here is imported at run time by callers).

`Array` is a numpy array or a torch tensor (and, where a docstring says so, a Python scalar). divkit dispatches
on the object at run time (`divkit._array.ops`), numpy in -> numpy out, torch in -> torch out, which a static
checker cannot follow through a union; so the alias is `Any` for mypy and documents the contract for readers.
Importing this module never imports torch.
"""
from __future__ import annotations

from typing import Any, TypeAlias

Array: TypeAlias = Any
# a scipy.stats frozen distribution or a torch.distributions.Distribution (divkit dispatches on which at run time)
Distribution: TypeAlias = Any
