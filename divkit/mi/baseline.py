"""A closed-form critic fitted to the data: the log density ratio of the Gaussian with the sample covariance.

Any critic T gives a valid variational lower bound on I(X; Y) (Donsker-Varadhan, NWJ, InfoNCE, ... hold for
every T), so the bound of this one, fitted in closed form on the training split and evaluated on held-out data,
is a lower bound in expectation for any distribution, Gaussian or not, with no training. For jointly Gaussian
data it is the optimal critic (up to the sampling error of the covariance). `divkit.mi.estimate` evaluates it
beside the trained critic, with the same estimator, on the same held-out minibatches: a trained critic that
scores clearly below it has not reached the optimum of its own bound (`WeakCriticWarning`).

With z = [x; y] centred at the training mean, Σ its covariance (blocks Σxx, Σxy, Σyy) and P = Σ⁻¹,

    T(x, y) = log N(z; 0, Σ) − log N(x; 0, Σxx) − log N(y; 0, Σyy)
            = I_G − ½ xᵀ(Pxx − Σxx⁻¹)x − xᵀ Pxy y − ½ yᵀ(Pyy − Σyy⁻¹)y,
    I_G     = −½ log(det Σ / (det Σxx · det Σyy))   (the Gaussian MI of the fitted covariance),

so the K × M score matrix of a minibatch is a(x_i) + b(y_j) + x_i W y_jᵀ + I_G: one matrix product.
"""
from __future__ import annotations

import math

import torch

__all__ = ["GaussianCritic"]


class GaussianCritic(torch.nn.Module):
    """The Gaussian log-density-ratio critic: forward(x (K, dx), y (M, dy)) -> (K, M) scores in x's dtype.

    Fit with `GaussianCritic.fit(x, y)` (float64 moments; a ridge of `ridge` × the mean variance is added to the
    joint covariance so that a singular sample covariance stays invertible). `shift` is added to every score (the
    optimal critic of NWJ-type bounds is log r + 1, of DV/InfoNCE any log r + c). It has no trainable parameters.
    """
    mean_x: torch.Tensor
    mean_y: torch.Tensor
    axx: torch.Tensor
    ayy: torch.Tensor
    w: torch.Tensor

    def __init__(self, mean_x: torch.Tensor, mean_y: torch.Tensor, axx: torch.Tensor, ayy: torch.Tensor,
                 w: torch.Tensor, gaussian_mi: float, shift: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("mean_x", mean_x)
        self.register_buffer("mean_y", mean_y)
        self.register_buffer("axx", axx)   # −½ (Pxx − Σxx⁻¹), (dx, dx)
        self.register_buffer("ayy", ayy)   # −½ (Pyy − Σyy⁻¹), (dy, dy)
        self.register_buffer("w", w)       # −Pxy, (dx, dy)
        self.gaussian_mi = float(gaussian_mi)
        self.shift = float(shift)

    @classmethod
    def fit(cls, x: torch.Tensor, y: torch.Tensor, ridge: float = 1e-6) -> GaussianCritic:
        """Moments of the paired samples x (n, dx), y (n, dy), n ≥ dx + dy + 2, in float64."""
        if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y must be paired 2-D samples; got shapes {tuple(x.shape)}, {tuple(y.shape)}")
        n, dx = x.shape
        dy = y.shape[1]
        if n < dx + dy + 2:
            raise ValueError(f"fitting a {dx + dy}-dimensional covariance needs n >= {dx + dy + 2} pairs; got {n}")
        z = torch.cat([x, y], 1).to(torch.float64)
        mean = z.mean(0)
        zc = z - mean
        cov = zc.T @ zc / (n - 1)
        cov = cov + ridge * float(cov.diagonal().mean().clamp_min(1e-300)) * torch.eye(dx + dy, dtype=torch.float64,
                                                                                         device=z.device)
        cxx, cyy = cov[:dx, :dx], cov[dx:, dx:]
        p = torch.linalg.inv(cov)
        axx = -0.5 * (p[:dx, :dx] - torch.linalg.inv(cxx))
        ayy = -0.5 * (p[dx:, dx:] - torch.linalg.inv(cyy))
        logdet = torch.linalg.slogdet(cov)[1] - torch.linalg.slogdet(cxx)[1] - torch.linalg.slogdet(cyy)[1]
        gmi = -0.5 * float(logdet)
        dt = x.dtype
        return cls(mean[:dx].to(dt), mean[dx:].to(dt), axx.to(dt), ayy.to(dt), (-p[:dx, dx:]).to(dt),
                   gmi if math.isfinite(gmi) else math.inf)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        xc, yc = x - self.mean_x, y - self.mean_y
        a = ((xc @ self.axx) * xc).sum(-1, keepdim=True)           # (K, 1)
        b = ((yc @ self.ayy) * yc).sum(-1).unsqueeze(-2)            # (1, M)
        return a + b + (xc @ self.w) @ yc.transpose(-2, -1) + (self.gaussian_mi + self.shift)
