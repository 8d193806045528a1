"""Spectral normalisation (Miyato et al. 2018) with exactly one power iteration per weight update.

    W_SN = W / σ(W),   σ(W) ≈ uᵀ W v,   W viewed as a (out, in·k·k) matrix,

with u, v estimated by power iteration (Miyato et al. Algorithm 1):  v ← Wᵀu / ‖Wᵀu‖,  u ← W v / ‖W v‖.
u and v are buffers (``<name>_u``, ``<name>_v``), kept between steps and saved in the state dict. The gradient
flows through W only (u, v are constants in the backward pass, as in the paper and in PyTorch).

**When the power iteration runs.** PyTorch's ``torch.nn.utils.parametrizations.spectral_norm`` iterates on
every weight access in train mode, so a critic that sees the real and the fake batch in two forward passes
does two iterations per step. Here an iteration runs on the first training-mode forward *after the weight
changed*: the hook compares the weight tensor's in-place version counter (bumped by every optimizer step and
by ``load_state_dict``) with the one seen at the last iteration. Real and fake forwards of one critic step
therefore share one iteration; each optimizer step triggers exactly one more. ``load_state_dict`` restores u, v
with W and whether they were current (state-dict key ``<name>_sn_stale``), so a resumed run does exactly the
iterations of an uninterrupted one; `gan.distributed.wrap_ddp` likewise ignores DDP's
initial broadcast of rank 0's weights. (Writes through ``.data`` do
not bump the version counter and go unnoticed: call ``power_iteration_`` after them.) ``power_iteration_(model, n)``
runs iterations explicitly (e.g. to converge σ before training or after loading weights from elsewhere), and
``frozen_power_iteration(model)`` suspends them (used by the unrolled-GAN look-ahead, whose functional
weights are not the module's). In eval mode no iteration runs. ``module.<name>_sn_iterations`` counts them.
Between forwards ``module.<name>`` holds a detached W/σ̂ (the graph-carrying one exists only during forward).

Reference: T. Miyato, T. Kataoka, M. Koyama, Y. Yoshida, "Spectral Normalization for Generative Adversarial
Networks", ICLR 2018, §2.1 and Algorithm 1.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["spectral_norm", "apply_spectral_norm", "remove_spectral_norm", "power_iteration_", "frozen_power_iteration",
           "spectral_norm_modules", "SpectralNormHook"]


def _as_matrix(w: torch.Tensor, dim: int = 0) -> torch.Tensor:
    # the output-channel axis first: Conv (out, in, kh, kw) -> (out, in·kh·kw); ConvTranspose (in, out, kh, kw)
    # uses dim = 1 -> (out, in·kh·kw), as torch.nn.utils.parametrizations.spectral_norm does
    if dim != 0:
        w = w.movedim(dim, 0)
    return w.reshape(w.shape[0], -1)


class SpectralNormHook:
    """Forward pre-hook that sets ``module.<name> = W / σ`` from the parameter ``module.<name>_orig``."""

    def __init__(self, name: str, eps: float, dim: int = 0):
        self.name, self.eps, self.dim = name, eps, dim
        self.frozen = False
        self.last_version = None  # version of <name>_orig at the last power iteration

    @torch.no_grad()
    def iterate(self, module: nn.Module, n: int = 1) -> None:
        w = _as_matrix(getattr(module, self.name + "_orig"), self.dim)
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        with torch.autocast(w.device.type, enabled=False):  # iterate in the weight's precision, not bf16
            for _ in range(n):
                v.copy_(F.normalize(w.t() @ u, dim=0, eps=self.eps))
                u.copy_(F.normalize(w @ v, dim=0, eps=self.eps))
        setattr(module, self.name + "_sn_iterations", getattr(module, self.name + "_sn_iterations") + n)

    def sigma(self, module: nn.Module) -> torch.Tensor:
        """σ̂ = uᵀ W v with u, v constants (differentiable in W)."""
        w = _as_matrix(getattr(module, self.name + "_orig"), self.dim)
        u = getattr(module, self.name + "_u").clone(memory_format=torch.contiguous_format)
        v = getattr(module, self.name + "_v").clone(memory_format=torch.contiguous_format)
        with torch.autocast(w.device.type, enabled=False):  # σ̂ in the weight's precision under bf16 autocast
            return torch.dot(u, w @ v)

    def __call__(self, module: nn.Module, inputs: tuple) -> None:
        w = getattr(module, self.name + "_orig")
        if module.training and not self.frozen and not torch.compiler.is_compiling():
            version = (id(w), w._version)
            if version != self.last_version:
                self.iterate(module)
                self.last_version = (id(w), w._version)
        setattr(module, self.name, w / self.sigma(module))

    def mark_current(self, module: nn.Module) -> None:
        """Treat the stored u, v as up to date for the current weight (no iteration before its next change)."""
        w = getattr(module, self.name + "_orig")
        self.last_version = (id(w), w._version)

    def is_current(self, module: nn.Module) -> bool:
        w = getattr(module, self.name + "_orig")
        return self.last_version == (id(w), w._version)

    # A state dict records whether u, v are current for the saved W (key ``<name>_sn_stale``, a bool tensor):
    # a checkpoint written between an optimizer step and the next forward holds u, v of the previous weights.
    # Loading restores exactly that state, so a resumed run does the same iterations as an uninterrupted one.
    def add_stale_flag(self, module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
        state_dict[prefix + self.name + "_sn_stale"] = torch.tensor(not self.is_current(module))

    def pop_stale_flag(self, module: nn.Module, state_dict: dict, prefix: str, *args: Any) -> None:
        flag = state_dict.pop(prefix + self.name + "_sn_stale", None)
        self._loaded_stale = bool(flag) if flag is not None else False

    def after_load(self, module: nn.Module, incompatible_keys: Any) -> None:
        if getattr(self, "_loaded_stale", False):
            self.last_version = None       # iterate on the next training forward
        else:
            self.mark_current(module)      # loading itself (an in-place copy) costs no iteration
        self._loaded_stale = False

    def after_forward(self, module: nn.Module, inputs: tuple, output: Any) -> None:
        # keep only a detached W/σ̂ between forwards: a non-leaf attribute would make the module un-deep-copyable
        # (EMA copies, checkpoints) and hold the last graph alive
        setattr(module, self.name, getattr(module, self.name).detach())


def spectral_norm(module: nn.Module, name: str = "weight", eps: float = 1e-12, init_iterations: int = 1,
                  generator: torch.Generator | None = None, dim: int | None = None) -> nn.Module:
    """Apply spectral normalisation to ``module.<name>`` in place and return the module.

    The parameter is renamed ``<name>_orig``; buffers ``<name>_u`` (out,) and ``<name>_v`` (in·k·k,) hold the
    power-iteration vectors, initialised from N(0, I) (``generator`` for reproducibility) and refined by
    ``init_iterations`` iterations. ``dim``: the output axis of the weight, moved first before flattening the
    rest (default 1 for ConvTranspose, 0 otherwise — PyTorch's convention); σ̂ is the top singular value of
    that matrix, Miyato et al.'s reshape heuristic for convolutions (not the operator norm of the convolution).

    Example:
        >>> layer = spectral_norm(nn.Linear(4, 3))
        >>> power_iteration_(layer, 50)
        >>> float(torch.linalg.svdvals(layer.weight_orig / layer._sn_hooks['weight'].sigma(layer))[0])  # ≈ 1
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
    if name in module.__dict__.get("_sn_hooks", {}):
        raise ValueError(f"spectral_norm already applied to {name!r} of {type(module).__name__}")
    w = getattr(module, name, None)
    if not isinstance(w, nn.Parameter):
        raise ValueError(f"module {type(module).__name__} has no parameter named {name!r}")
    if w.dim() < 2:
        raise ValueError(f"spectral_norm needs a weight with ≥ 2 dimensions; {name!r} has shape {tuple(w.shape)}")
    hooks = module.__dict__.setdefault("_sn_hooks", {})
    if dim is None:
        dim = 1 if isinstance(module, nn.modules.conv._ConvTransposeNd) else 0
    if not -w.dim() <= dim < w.dim():
        raise ValueError(f"dim must index the weight's {w.dim()} axes; got {dim}")
    dim = dim % w.dim()
    mat = _as_matrix(w.detach(), dim)
    u = F.normalize(torch.randn(mat.shape[0], generator=generator, dtype=w.dtype).to(w.device), dim=0, eps=eps)
    v = F.normalize(torch.randn(mat.shape[1], generator=generator, dtype=w.dtype).to(w.device), dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", w)
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    setattr(module, name + "_sn_iterations", 0)
    hook = SpectralNormHook(name, eps, dim)
    hook.iterate(module, init_iterations)
    hook.last_version = (id(w), w._version)  # the initial weights have had their iteration(s)
    setattr(module, name, (w / hook.sigma(module)).detach())  # plain attribute until the first forward
    hook.handle = module.register_forward_pre_hook(hook)
    hook.load_handle = module.register_load_state_dict_post_hook(hook.after_load)
    # a partial, not a bound method: torch marks public state-dict hooks with an attribute
    hook.save_handle = module.register_state_dict_post_hook(functools.partial(SpectralNormHook.add_stale_flag, hook))
    hook.preload_handle = module.register_load_state_dict_pre_hook(hook.pop_stale_flag)
    hook.post_handle = module.register_forward_hook(hook.after_forward)
    hooks[name] = hook
    return module


SN_LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                  nn.ConvTranspose3d, nn.Embedding)


def apply_spectral_norm(model: nn.Module, types: tuple = SN_LAYER_TYPES, generator: torch.Generator | None = None
                        ) -> nn.Module:
    """Spectrally normalise the weight of every submodule of ``model`` of one of ``types`` (in place; returns
    ``model``). Layers already normalised are left alone. E.g. ``apply_spectral_norm(MLPCritic())`` for a
    ``--spectral-norm`` flag. Apply it before building the optimizer (the parameters become ``weight_orig``)."""
    for m in model.modules():
        if isinstance(m, types) and "weight" not in m.__dict__.get("_sn_hooks", {}) and \
                isinstance(getattr(m, "weight", None), nn.Parameter):
            spectral_norm(m, generator=generator)
    return model


def remove_spectral_norm(module: nn.Module, name: str = "weight") -> nn.Module:
    """Undo ``spectral_norm``: ``<name>`` becomes a parameter holding the current W/σ̂."""
    hooks = module.__dict__.get("_sn_hooks", {})
    if name not in hooks:
        raise ValueError(f"no spectral_norm on {name!r} of {type(module).__name__}")
    hook = hooks.pop(name)
    hook.handle.remove()
    hook.post_handle.remove()
    for h in (hook.load_handle, hook.save_handle, hook.preload_handle):
        h.remove()
    with torch.no_grad():
        w = getattr(module, name + "_orig") / hook.sigma(module)
    delattr(module, name)
    del module._parameters[name + "_orig"]
    del module._buffers[name + "_u"], module._buffers[name + "_v"]
    module.register_parameter(name, nn.Parameter(w))
    return module


def spectral_norm_modules(model: nn.Module) -> Iterator[tuple[nn.Module, SpectralNormHook]]:
    """(module, hook) pairs for every spectrally normalised weight in ``model``."""
    for m in model.modules():
        for hook in m.__dict__.get("_sn_hooks", {}).values():
            yield m, hook


def power_iteration_(model: nn.Module, n: int = 1) -> None:
    """Run ``n`` power iterations on every spectrally normalised weight of ``model`` (in place)."""
    if int(n) < 0:
        raise ValueError(f"n must be ≥ 0; got {n}")
    for m, hook in spectral_norm_modules(model):
        hook.iterate(m, int(n))
        hook.mark_current(m)


@contextlib.contextmanager
def frozen_power_iteration(model: nn.Module) -> Iterator[None]:
    """Within the block, forwards of ``model`` use the stored u, v and run no power iteration."""
    pairs = list(spectral_norm_modules(model))
    old = [h.frozen for _, h in pairs]
    for _, h in pairs:
        h.frozen = True
    try:
        yield model
    finally:
        for (_, h), o in zip(pairs, old):
            h.frozen = o
