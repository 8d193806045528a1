"""Adam for R independent runs whose parameters are stacked on a leading run axis.

Per run r (lr_r, β1_r, β2_r, ε; t_r its own step count), for every parameter slice θ_r with gradient g_r —
the update of `torch.optim.Adam` (Kingma & Ba 2015, Algorithm 1, with the ε outside the square root):

    m ← β1 m + (1 − β1) g,    v ← β2 v + (1 − β2) g²,
    θ ← θ − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε).

Runs whose `active` flag is False are left exactly as they are (parameters, moments, step count): that is how
a run that produced a non-finite loss is frozen while the others go on. The bias corrections are computed in
float64 from the integer step counts, as torch does with Python floats.
"""
from __future__ import annotations

import torch

__all__ = ["BatchedAdam"]


class BatchedAdam:
    """Adam over a dict of stacked parameters {name: (R, ...)}.

    Args:
      params: the stacked leaf tensors (their `.grad` is read by `step`).
      lr, beta1, beta2: per-run hyperparameters, shape (R,).
      eps: as torch.optim.Adam (1e-8).
    """

    def __init__(self, params: dict, lr: float | torch.Tensor, beta1: float | torch.Tensor,
                 beta2: float | torch.Tensor, eps: float = 1e-8) -> None:
        self.params = params
        r = next(iter(params.values())).shape[0]
        dev = next(iter(params.values())).device
        as64 = lambda v: torch.as_tensor(v, dtype=torch.float64, device=dev).reshape(-1).expand(r).clone()  # noqa
        self.lr, self.beta1, self.beta2, self.eps = as64(lr), as64(beta1), as64(beta2), float(eps)
        self.steps = torch.zeros(r, dtype=torch.int64, device=dev)
        self.exp_avg = {k: torch.zeros_like(p) for k, p in params.items()}
        self.exp_avg_sq = {k: torch.zeros_like(p) for k, p in params.items()}

    @torch.no_grad()
    def step(self, active: torch.Tensor) -> None:
        """One update of every run with active[r] True (active: (R,) bool). In place; an inactive run gets
        zero increments (its gradient is replaced by 0 first, so a NaN gradient cannot leak into its state)."""
        self.steps += active.to(torch.int64)
        t = self.steps.to(torch.float64)
        all_active = bool(active.all())
        # per-run coefficients in float64, as torch computes them from Python floats
        w1 = torch.where(active, 1 - self.beta1, 0.0)                         # lerp weight of m
        b2 = torch.where(active, self.beta2, 1.0)
        c2 = 1 - b2
        bc1 = torch.where(active, 1 - self.beta1 ** t, 1.0)
        bc2_sqrt = torch.where(active, torch.sqrt(1 - self.beta2 ** t), 1.0)
        step_size = torch.where(active, self.lr / bc1, 0.0)
        coef: dict = {}
        for k, p in self.params.items():
            g = p.grad
            if g is None:
                continue
            key = (p.dtype, p.dim())
            if key not in coef:
                shape = (-1,) + (1,) * (p.dim() - 1)
                coef[key] = tuple(x.to(p.dtype).reshape(shape) for x in (w1, b2, c2, bc2_sqrt, step_size)) + (
                    active.reshape(shape),)
            w1_, b2_, c2_, bc2_, st_, act = coef[key]
            if not all_active:
                g = torch.where(act, g, 0.0)
            m, v = self.exp_avg[k], self.exp_avg_sq[k]
            m.lerp_(g, w1_)
            v.mul_(b2_).addcmul_(g, g * c2_)
            denom = v.sqrt().div_(bc2_).add_(self.eps)
            p.addcdiv_(m * st_, denom, value=-1.0)

    def state_dict(self) -> dict:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps, "steps": self.steps,
                "exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq}

    def load_state_dict(self, s: dict) -> None:
        self.lr, self.beta1, self.beta2 = s["lr"].clone(), s["beta1"].clone(), s["beta2"].clone()
        self.eps, self.steps = float(s["eps"]), s["steps"].clone()
        for k in self.exp_avg:
            self.exp_avg[k].copy_(s["exp_avg"][k])
            self.exp_avg_sq[k].copy_(s["exp_avg_sq"][k])

    @torch.no_grad()
    def load_runs(self, states: list[dict], names: list[str]) -> None:
        """Run r's state from `states[r]`, a `torch.optim.Adam.state_dict()` over the parameters `names` (in
        that order; the layout `run_state` writes). Step counts, moments and betas are loaded; the learning
        rates stay this optimiser's (a continued run may change them, as a resumed trainer may)."""
        if len(states) != len(self.steps):
            raise ValueError(f"need one optimiser state per run ({len(self.steps)}), got {len(states)}")
        for r, sd in enumerate(states):
            group = sd["param_groups"][0]
            self.beta1[r], self.beta2[r] = (float(b) for b in group["betas"])
            state = sd["state"]
            steps = {int(float(s["step"])) for s in state.values()}
            if len(steps) > 1:
                raise ValueError(f"run {r}'s optimiser state has parameters at different steps {sorted(steps)}")
            self.steps[r] = steps.pop() if steps else 0
            for i, k in enumerate(names):
                if i in state:
                    self.exp_avg[k][r].copy_(state[i]["exp_avg"])
                    self.exp_avg_sq[k][r].copy_(state[i]["exp_avg_sq"])
                else:  # never stepped
                    self.exp_avg[k][r].zero_()
                    self.exp_avg_sq[k][r].zero_()

    def run_state(self, r: int, names: list[str]) -> dict:
        """Run r's state in `torch.optim.Adam.state_dict()` layout (params numbered in `names` order)."""
        state = {i: {"step": torch.tensor(float(self.steps[r])), "exp_avg": self.exp_avg[k][r].clone(),
                     "exp_avg_sq": self.exp_avg_sq[k][r].clone()} for i, k in enumerate(names)}
        group = {"lr": float(self.lr[r]), "betas": (float(self.beta1[r]), float(self.beta2[r])), "eps": self.eps,
                 "weight_decay": 0, "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                 "differentiable": False, "fused": None, "decoupled_weight_decay": False,
                 "params": list(range(len(names)))}
        return {"state": state, "param_groups": [group]}
