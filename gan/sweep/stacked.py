"""R copies of one small network evaluated as one model: parameters stacked on a leading run axis.

A `StackedNet` is compiled from an `nn.Sequential` of Linear / ReLU / LeakyReLU / BatchNorm1d / `Maxout`
layers (the 2-D toy generators and critics). Its parameters live in a dict ``name -> (R, *shape)`` with the
names of the module's own ``state_dict``, so run r's state dict is ``{k: p[r] for k, p in params.items()}``
and a trained run can be loaded back into the ordinary module.

Forward on x (R, B, F) with the per-run weights: a Linear is one batched matmul,

    y_r = x_r W_rᵀ + b_r        (torch.baddbmm over the run axis: (R, B, in) @ (R, in, out) + (R, 1, out)),

BatchNorm1d normalises each run's batch with its own statistics (mean and biased variance over the B axis, as
`nn.BatchNorm1d` in train mode; running statistics updated with momentum 0.1 and the unbiased variance; eval
mode uses them), Maxout takes the max over its k pieces. Nothing mixes runs, so run r's outputs and gradients
are those of the module alone (up to the summation order of the batched matmul, ~1 ulp per op).

A Linear (or a Maxout's Linear) under `gan.layers.spectral_norm` becomes a spectrally normalised affine op on the
stacked ``<name>_orig`` W (R, out, in) with the power-iteration vectors u (R, out), v (R, in) kept in `buffers`
(``<name>_u``, ``<name>_v``, the module's state-dict names): per run, as `SpectralNormHook` does,

    v ← normalize(Wᵀu),  u ← normalize(W v)   (F.normalize, the hook's ε; v first, then u),
    σ = uᵀ W v  (u, v constants: differentiable in W only),   y = x (W/σ)ᵀ + b,

and the iteration runs on the first training-mode forward after the stacked weight changed (its data pointer
and in-place version counter differ from those seen at the last iteration, as the hook compares the module's
weight; detached views share both), never in eval mode. `active` (R,) bool masks it: an inactive run's u, v
are left as they are. The change is tracked per stack, not per run: an in-place write to one run's slice
counts as a change of every run (the engine only writes whole stacks, by the optimiser step that changes
every run's weights; writes through ``.data`` go unnoticed, as with the hook). `sn_stale` / `sn_set_stale`
read and restore that state for checkpoints (the hook's ``<name>_sn_stale`` flag); `sn_iterations` counts
the iterations per weight (the hook's ``<name>_sn_iterations``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.maxout import Maxout

__all__ = ["StackedNet", "stack_state_dicts", "unstack_state_dict"]


def stack_state_dicts(dicts: list[dict]) -> dict:
    """[{name: tensor}] × R → {name: (R, *shape)} (copies)."""
    if not dicts:
        raise ValueError("need at least one state dict to stack")
    keys = list(dicts[0])
    for d in dicts[1:]:
        if list(d) != keys:
            raise ValueError("state dicts to stack must have the same keys (the same architecture)")
    return {k: torch.stack([d[k].detach() for d in dicts]).clone() for k in keys}


def unstack_state_dict(stacked: dict, r: int) -> dict:
    """{name: (R, *shape)} → run r's {name: shape} (clones, so the result owns its storage)."""
    return {k: v[r].detach().clone() for k, v in stacked.items()}


class StackedNet:
    """The ops of an `nn.Sequential` (Linear, ReLU, LeakyReLU, BatchNorm1d, Maxout) on stacked parameters.

    Args:
      seq: the module whose layers are compiled (its own parameters are not used).
      prefix: the state-dict prefix of `seq` inside the model whose state dicts are stacked ("net." for
        `MLPGenerator`, "net.net." for the `Critic` around an `MLPCritic`).
    """

    def __init__(self, seq: nn.Sequential, prefix: str = ""):
        self.ops = []
        #: spectral norm per normalised weight key: (u key, v key, ε); and the (data_ptr, version) of the weight
        #: at its last power iteration (None: iterate on the next training forward)
        self.sn: dict[str, tuple[str, str, float]] = {}
        self._sn_seen: dict[str, tuple[int, int] | None] = {}
        self.sn_iterations: dict[str, int] = {}  # power iterations run by this net per weight (the hook's count)
        for i, m in enumerate(seq):
            p = f"{prefix}{i}."
            if isinstance(m, nn.Linear):
                self.ops.append(("linear", self._weight_key(m, p), p + "bias" if m.bias is not None else None))
            elif isinstance(m, Maxout):
                lin = m.linear
                self.ops.append(("maxout", self._weight_key(lin, p + "linear."),
                                 p + "linear.bias" if lin.bias is not None else None, m.pieces))
            elif isinstance(m, nn.ReLU):
                self.ops.append(("relu",))
            elif isinstance(m, nn.LeakyReLU):
                self.ops.append(("leaky", float(m.negative_slope)))
            elif isinstance(m, nn.BatchNorm1d):
                if not (m.affine and m.track_running_stats) or m.momentum is None:
                    raise ValueError("StackedNet supports BatchNorm1d with affine=True, running stats, a momentum")
                self.ops.append(("bn", p, float(m.eps), float(m.momentum)))
            else:
                raise TypeError(f"StackedNet cannot batch a {type(m).__name__} layer (supported: Linear, ReLU, "
                                f"LeakyReLU, BatchNorm1d, Maxout)")

    def _weight_key(self, lin: nn.Linear, p: str) -> str:
        """State-dict key of a Linear's weight: ``weight``, or ``weight_orig`` under spectral norm (registered)."""
        hooks = lin.__dict__.get("_sn_hooks", {})
        if set(hooks) - {"weight"}:
            raise TypeError(f"StackedNet cannot batch spectral norm on {sorted(hooks)} of a Linear (only its weight)")
        if "weight" not in hooks:
            return p + "weight"
        hook = hooks["weight"]
        if hook.dim != 0:
            raise TypeError(f"StackedNet batches spectral norm of a Linear's weight over dim 0 only; "
                            f"got dim {hook.dim}")
        key = p + "weight_orig"
        self.sn[key] = (p + "weight_u", p + "weight_v", float(hook.eps))
        self._sn_seen[key] = None
        self.sn_iterations[key] = 0
        return key

    def _sn_weight(self, key, params, buffers, train, active):
        """W/σ for the normalised weight `key` (R, out, in), after the power iteration the hook would run."""
        w = params[key]
        uk, vk, eps = self.sn[key]
        u, v = buffers[uk], buffers[vk]
        if train and self._sn_seen[key] != (w.data_ptr(), w._version):
            with torch.no_grad():
                v_new = F.normalize(torch.bmm(w.transpose(1, 2), u.unsqueeze(-1)).squeeze(-1), dim=-1, eps=eps)
                if active is not None:
                    v_new = torch.where(active.unsqueeze(-1), v_new, v)
                v.copy_(v_new)
                u_new = F.normalize(torch.bmm(w, v.unsqueeze(-1)).squeeze(-1), dim=-1, eps=eps)
                if active is not None:
                    u_new = torch.where(active.unsqueeze(-1), u_new, u)
                u.copy_(u_new)
            self._sn_seen[key] = (w.data_ptr(), w._version)
            self.sn_iterations[key] += 1
        # σ_r = u_rᵀ W_r v_r with u, v constants (clones: a later in-place iteration must not touch the graph)
        uc, vc = u.detach().clone(), v.detach().clone()
        sigma = (uc * torch.bmm(w, vc.unsqueeze(-1)).squeeze(-1)).sum(-1)
        return w / sigma.reshape(-1, 1, 1)

    def sn_stale(self, params: dict) -> dict[str, bool]:
        """{weight key: True when u, v were not iterated for the current stacked weight} (the hook's flag)."""
        return {k: self._sn_seen[k] != (params[k].data_ptr(), params[k]._version) for k in self.sn}

    def sn_set_stale(self, params: dict, stale: dict) -> None:
        """Restore `sn_stale`'s state: current (no iteration before the weight's next change) or stale."""
        for k in self.sn:
            self._sn_seen[k] = None if bool(stale[k]) else (params[k].data_ptr(), params[k]._version)

    @staticmethod
    def _affine(x, w, b):
        # (R, B, in) @ (R, in, out) [+ (R, 1, out)]
        wt = w.transpose(1, 2)
        return torch.bmm(x, wt) if b is None else torch.baddbmm(b.unsqueeze(1), x, wt)

    def forward(self, params: dict, x: torch.Tensor, buffers: dict | None = None, train: bool = True,
                update_stats: bool = True, active: torch.Tensor | None = None) -> torch.Tensor:
        """x (R, B, F_in) → (R, B, F_out). BatchNorm: `train` uses batch statistics (and, with `update_stats`,
        updates `buffers` in place); otherwise the running statistics in `buffers`. Spectral norm: `train` runs
        the power iteration of a changed weight (u, v in `buffers`, runs with `active` False left alone)."""
        for op in self.ops:
            kind = op[0]
            if kind in ("linear", "maxout"):
                w = (self._sn_weight(op[1], params, buffers, train, active) if op[1] in self.sn else params[op[1]])
                y = self._affine(x, w, None if op[2] is None else params[op[2]])
                x = y if kind == "linear" else y.reshape(*y.shape[:-1], -1, op[3]).amax(-1)
            elif kind == "relu":
                x = torch.relu(x)
            elif kind == "leaky":
                x = torch.nn.functional.leaky_relu(x, op[1])
            else:
                x = self._batchnorm(op, params, buffers, x, train, update_stats)
        return x

    __call__ = forward

    @staticmethod
    def _batchnorm(op, params, buffers, x, train, update_stats):
        _, p, eps, momentum = op
        w, b = params[p + "weight"].unsqueeze(1), params[p + "bias"].unsqueeze(1)  # (R, 1, F)
        if train:
            mean = x.mean(1, keepdim=True)
            var = x.var(1, keepdim=True, unbiased=False)
            if update_stats:
                n = x.shape[1]
                with torch.no_grad():
                    rm, rv = buffers[p + "running_mean"], buffers[p + "running_var"]
                    rm.mul_(1 - momentum).add_(momentum * mean.squeeze(1))
                    rv.mul_(1 - momentum).add_(momentum * var.squeeze(1) * (n / max(n - 1, 1)))
                    buffers[p + "num_batches_tracked"].add_(1)
        else:
            mean, var = buffers[p + "running_mean"].unsqueeze(1), buffers[p + "running_var"].unsqueeze(1)
        return (x - mean) / torch.sqrt(var + eps) * w + b
