"""Two-player zero-sum (and non-zero-sum) games as vector fields.

Convention (REFERENCE.md §4): a game has players x (maximising: the discriminator) and y (minimising: the
generator). A game gives, at (x, y), the ascent direction of x and the descent direction of y:

    grads(x, y) = (g_x, g_y),   gradient ascent-descent: x <- x + lr*g_x,  y <- y - lr*g_y.

For a zero-sum value V: g_x = dV/dx, g_y = dV/dy; V = x*y gives x <- x + lr*y, y <- y - lr*x. For
non-zero-sum games (non-saturating GAN) g_y is the gradient of the generator's own loss. The descent vector of
the joint parameter w = (x, y) is xi = (-g_x, g_y) and its Jacobian J = d xi / d w; consensus optimisation uses
J^T xi = grad(|xi|^2/2) and SGA uses A^T xi with A = (J - J^T)/2 (Mescheder et al. 2017; Balduzzi et al. 2018).

Scalar-player games act elementwise on any batch shape; Bilinear(A) with a matrix has vector players with a
trailing dimension (x: (*batch, n), y: (*batch, m)). numpy in -> numpy out, torch in -> torch out.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import sympy as sp
import torch
from numpy.typing import ArrayLike

from ._backend import Value, back, is_torch, to_torch64

if TYPE_CHECKING:
    from divkit.fdiv import FDivergence

Pair = tuple[Value, Value]
Jacobian = tuple[Value, Value, Value, Value]

__all__ = ["Game", "Bilinear", "QuadraticBilinear", "DiracGAN", "LinearGame"]


class Game:
    """Base class. Subclasses implement `grads`; scalar-player games get `jacobian` by autograd."""

    vector = False  # True: players have a trailing dimension
    linear = False  # True: grads, consensus_term, sga_term are linear in (x, y) and project is the identity
    name = "game"

    def grads(self, x: Value, y: Value) -> Pair:  # pragma: no cover - abstract
        raise NotImplementedError

    def project(self, x: Value, y: Value) -> Pair:
        """Projection applied after every step (e.g. WGAN weight clipping); identity by default."""
        return x, y

    def equilibrium(self) -> tuple[float, float]:
        """The equilibrium (x*, y*) the spectral analysis linearises at (the origin for every game here)."""
        return 0.0, 0.0

    def nonsmooth_reason(self) -> str | None:
        """Why the field has no Jacobian at equilibrium() (a sentence), or None where it is differentiable."""
        return None

    def jacobian(self, x: Value, y: Value) -> Jacobian:
        """(d g_x/dx, d g_x/dy, d g_y/dx, d g_y/dy) elementwise, by autograd (float64 for numpy input)."""
        torch_in = is_torch(x, y)
        xt, yt = to_torch64(x), to_torch64(y)
        xt, yt = torch.broadcast_tensors(xt, yt)
        with torch.enable_grad():
            xv = xt if xt.requires_grad else xt.detach().clone().requires_grad_(True)
            yv = yt if yt.requires_grad else yt.detach().clone().requires_grad_(True)
            gx, gy = self.grads(xv, yv)
            gxx, gxy = torch.autograd.grad(gx.sum(), (xv, yv), create_graph=True, allow_unused=True,
                                           materialize_grads=True)
            gyx, gyy = torch.autograd.grad(gy.sum(), (xv, yv), create_graph=True, allow_unused=True,
                                           materialize_grads=True)
        return tuple(back(v, torch_in) for v in (gxx, gxy, gyx, gyy))

    def consensus_term(self, x: Value, y: Value) -> Pair:
        """J^T xi = grad_w |xi|^2/2 with xi = (-g_x, g_y): returns its (x, y) components."""
        gx, gy = self.grads(x, y)
        gxx, gxy, gyx, gyy = self.jacobian(x, y)
        return gxx * gx + gyx * gy, gxy * gx + gyy * gy

    def sga_term(self, x: Value, y: Value) -> Pair:
        """A^T xi with A = (J - J^T)/2 the antisymmetric part of the Jacobian of xi (Balduzzi et al. 2018)."""
        gx, gy = self.grads(x, y)
        _, gxy, gyx, _ = self.jacobian(x, y)
        a = (-gxy - gyx) / 2
        return -a * gy, -a * gx

    def symbolic_jacobian(self) -> sp.Matrix:
        """sympy 2x2 Matrix [[dg_x/dx, dg_x/dy], [dg_y/dx, dg_y/dy]] at the equilibrium."""
        raise NotImplementedError(f"{type(self).__name__} has no symbolic form; use spectral_radius(numeric)")

    def dynamics_jacobian(self) -> sp.Matrix:
        """sympy Jacobian of the continuous flow (xdot, ydot) = (g_x, -g_y) at the equilibrium."""
        j = self.symbolic_jacobian()
        return sp.Matrix([[j[0, 0], j[0, 1]], [-j[1, 0], -j[1, 1]]])

    def eigenvalues(self) -> list[sp.Expr]:
        """Eigenvalues of the continuous flow's Jacobian at the equilibrium (sympy, simplified)."""
        return [sp.simplify(e) for e in self.dynamics_jacobian().eigenvals(multiple=True)]


class LinearGame(Game):
    """g_x = a x + b y, g_y = c x + d y (scalar players). Coefficients may be sympy symbols."""

    name = "linear"

    def __init__(self, a: float | sp.Expr, b: float | sp.Expr, c: float | sp.Expr, d: float | sp.Expr) -> None:
        self.a, self.b, self.c, self.d = a, b, c, d
        self.linear = all(isinstance(v, (int, float, np.integer, np.floating)) for v in (a, b, c, d))

    def grads(self, x: Value, y: Value) -> Pair:
        return self.a * x + self.b * y, self.c * x + self.d * y

    def jacobian(self, x: Value, y: Value) -> Jacobian:
        one = x * 0 + y * 0 + 1
        return self.a * one, self.b * one, self.c * one, self.d * one

    def symbolic_jacobian(self) -> sp.Matrix:
        return sp.Matrix([[self.a, self.b], [self.c, self.d]])


class Bilinear(Game):
    """V(x, y) = x*y (A=None, scalar players) or x^T A y (x: (*batch, n), y: (*batch, m), A: (n, m)).

    g_x = A y, g_y = A^T x. Equilibrium (0, 0); every rule's behaviour depends on lr*sigma_i (singular values of A).
    """

    name = "bilinear"
    linear = True

    def __init__(self, A: ArrayLike | torch.Tensor | None = None) -> None:
        if A is None:
            self.A = None
        else:
            A = np.asarray(A, dtype=np.float64) if not isinstance(A, torch.Tensor) else A
            if A.ndim != 2:
                raise ValueError(f"Bilinear: A must be a 2-D matrix (n, m), got shape {tuple(A.shape)}")
            self.A = A
            self.vector = True

    def _A(self, like):
        if isinstance(like, torch.Tensor):
            return torch.as_tensor(self.A, dtype=like.dtype, device=like.device)
        return self.A

    def value(self, x: Value, y: Value) -> Value:
        if self.A is None:
            return x * y
        return ((x @ self._A(x)) * y).sum(-1)

    def grads(self, x: Value, y: Value) -> Pair:
        if self.A is None:
            return y, x
        A = self._A(x)
        return y @ A.T, x @ A

    def jacobian(self, x: Value, y: Value) -> Jacobian:
        if self.A is not None:
            raise NotImplementedError("Bilinear(A).jacobian: vector players; use consensus_term/sga_term")
        one = x * 0 + y * 0 + 1
        return 0 * one, one, one, 0 * one

    def consensus_term(self, x: Value, y: Value) -> Pair:
        if self.A is None:
            return x, y
        A = self._A(x)
        return x @ (A @ A.T), y @ (A.T @ A)

    sga_term = consensus_term  # J is antisymmetric for a bilinear game, so A^T xi = J^T xi

    def symbolic_jacobian(self) -> sp.Matrix:
        if self.A is not None:
            raise NotImplementedError("symbolic form only for A=None (scalar x*y); for x^T A y use lr*sigma_i")
        return sp.Matrix([[0, 1], [1, 0]])


class QuadraticBilinear(Game):
    """V(x, y) = -(a/2) x^2 + b x y + (c/2) y^2 (scalar players).

    a, c > 0: strongly concave-convex (every small-lr rule converges); a = c = 0: bilinear; a, c < 0: the
    equilibrium is a repeller. g_x = -a x + b y, g_y = b x + c y.
    """

    name = "quadratic_bilinear"
    linear = True

    def __init__(self, a: float = 0.1, b: float = 1.0, c: float = 0.1) -> None:
        self.a, self.b, self.c = a, b, c

    def value(self, x: Value, y: Value) -> Value:
        return -self.a / 2 * x * x + self.b * x * y + self.c / 2 * y * y

    def grads(self, x: Value, y: Value) -> Pair:
        return -self.a * x + self.b * y, self.b * x + self.c * y

    def jacobian(self, x: Value, y: Value) -> Jacobian:
        one = x * 0 + y * 0 + 1
        return -self.a * one, self.b * one, self.b * one, self.c * one

    def symbolic_jacobian(self) -> sp.Matrix:
        a, b, c = (sp.nsimplify(v) for v in (self.a, self.b, self.c))
        return sp.Matrix([[-a, b], [b, c]])


# ---------------------------------------------------------------------------------------------- Dirac-GAN
_LOSSES = ("saturating", "nonsaturating", "wgan")
_REGULARISERS = (None, "r1", "r2", "gradient_penalty", "instance_noise", "consensus")


def _sigmoid(t):
    return torch.sigmoid(t) if isinstance(t, torch.Tensor) else 0.5 * (1 + np.tanh(0.5 * np.asarray(t)))


class DiracGAN(Game):
    """Dirac-GAN (Mescheder, Geiger & Nowozin 2018, §2): data delta_0, generator delta_theta, critic D(x) = psi*x.

    Players: x = psi (discriminator, maximises), y = theta (generator, minimises). With the data term a(.) and the
    fake term b(.) the discriminator maximises V = E[a(psi*x_data)] + E[b(psi*x_fake)]; the generator minimises
    b(psi*theta) (saturating) or c(psi*theta) (non-saturating):

    - "saturating"/"nonsaturating": Mescheder's f(t) = -log(1 + e^-t): a(t) = f(-t), b(t) = f(t), c(t) = -f(-t).
      Fields g_x = theta f'(psi theta), g_y = psi f'(psi theta) (saturating) or psi f'(-psi theta)
      (non-saturating); f'(0) = 1/2, f''(0) = -1/4.
    - "wgan": a(t) = -t, b(t) = t: the bilinear game psi*theta; psi clipped to [-clip, clip] after each step
      (weight clipping, WGAN of Arjovsky et al. 2017: clip=None means 1.0). With regulariser="gradient_penalty"
      (WGAN-GP, Gulrajani et al. 2017) nothing is clipped: the penalty replaces the clipping, clip must be None
      or inf (GAN_stability's `WGAN_GP` field with target 1).
    - an FDivergence d (f-GAN, Nowozin et al. 2016): a = d.p_term, b = -d.q_term, c = -d.p_term
      (data = P, generator = Q; the critic maximises E_P[p_term] - E_Q[q_term]); `generator="nonsaturating"`
      makes the generator minimise -p_term(psi*theta) (the f-GAN paper's non-saturating trick).

    Regularisers (strength gamma): "r1"/"r2" (gamma/2)|grad_x D|^2 = (gamma/2) psi^2 on real/fake data;
    "gradient_penalty" (gamma/2)(|psi| - 1)^2 (WGAN-GP form, target norm 1); "instance_noise" (std sigma: both
    samples get N(0, sigma^2) noise; expectations by 40-point Gauss-Hermite quadrature, exact for the polynomial
    pieces); "consensus" (gamma/2)|xi|^2 subtracted from both players (Mescheder et al. 2017).
    """

    name = "dirac_gan"

    def __init__(self, loss: str | FDivergence = "saturating", regulariser: str | None = None, gamma: float = 1.0,
                 sigma: float = 1.0, clip: float | None = None, quad_points: int = 40,
                 generator: str = "saturating") -> None:
        from divkit.fdiv import FDivergence

        if isinstance(loss, str):
            if loss not in _LOSSES:
                import divkit

                if loss in divkit.names() or loss.startswith("alpha("):
                    loss = divkit.get(loss)
                else:
                    raise ValueError(f"DiracGAN: unknown loss {loss!r}; expected one of {_LOSSES}, a divkit "
                                     f"divergence name {tuple(divkit.names())} or an FDivergence")
        elif not isinstance(loss, FDivergence):
            raise TypeError(f"DiracGAN: loss must be a string or an FDivergence, got {type(loss).__name__}")
        if regulariser not in _REGULARISERS:
            raise ValueError(f"DiracGAN: unknown regulariser {regulariser!r}; expected one of {_REGULARISERS}")
        if generator not in ("saturating", "nonsaturating"):
            raise ValueError(f"DiracGAN: generator must be 'saturating' or 'nonsaturating', got {generator!r}")
        self.loss, self.regulariser = loss, regulariser
        # FDivergence losses: generator minimises -q_term (saturating) or -p_term (f-GAN non-saturating trick)
        self.nonsaturating = loss == "nonsaturating" or (not isinstance(loss, str) and generator == "nonsaturating")
        for arg, v in (("gamma", gamma), ("sigma", sigma)):
            if not (isinstance(v, (int, float, np.integer, np.floating)) and np.isfinite(v) and v >= 0):
                raise ValueError(f"DiracGAN: {arg} must be a finite number >= 0, got {v!r}")
        if clip is None:
            clip = np.inf if regulariser == "gradient_penalty" else 1.0
        elif not (isinstance(clip, (int, float, np.integer, np.floating)) and clip > 0):
            raise ValueError(f"DiracGAN: clip must be None or a number > 0 (inf: no clipping), got {clip!r}")
        elif regulariser == "gradient_penalty" and np.isfinite(clip):
            raise ValueError(f"DiracGAN: clip={clip!r} with regulariser='gradient_penalty': WGAN-GP replaces weight "
                             "clipping by the penalty and must not clip (leave clip=None)")
        self.gamma, self.sigma, self.clip = float(gamma), float(sigma), float(clip)
        nodes, weights = np.polynomial.hermite_e.hermegauss(quad_points)
        self._nodes, self._weights = nodes, weights / np.sqrt(2 * np.pi)
        lname = loss if isinstance(loss, str) else loss.name
        self.name = f"dirac_gan[{lname}" + (f",{regulariser}]" if regulariser else "]")

    # derivatives of the data/fake/generator terms
    def _dterms(self, t):
        L = self.loss
        if L in ("saturating", "nonsaturating"):
            # f'(t) = sigmoid(-t): a'(t) = -f'(-t), b'(t) = f'(t), c'(t) = f'(-t)
            return -_sigmoid(t), _sigmoid(-t), _sigmoid(t)
        if L == "wgan":
            one = t * 0 + 1
            return -one, one, one
        from ._backend import derivative_sym

        dp = derivative_sym(L.p_term, t)
        dq = derivative_sym(L.q_term, t)
        return dp, -dq, -dp

    def _base_grads(self, x, y):
        psi, theta = x, y
        if self.regulariser == "instance_noise" and self.loss != "wgan":
            like = psi if isinstance(psi, torch.Tensor) else np.asarray(psi)
            if isinstance(like, torch.Tensor):
                eps = torch.as_tensor(self._nodes * self.sigma, dtype=like.dtype, device=like.device)
                w = torch.as_tensor(self._weights, dtype=like.dtype, device=like.device)
            else:
                eps, w = self._nodes * self.sigma, self._weights
            P, T = psi[..., None], theta[..., None]
            xd, xf = eps + 0 * T, T + eps
            da_d, _, _ = self._dterms(P * xd)
            _, db_f, dc_f = self._dterms(P * xf)
            gx = ((xd * da_d + xf * db_f) * w).sum(-1)
            gy = psi * (((dc_f if self.nonsaturating else db_f)) * w).sum(-1)
            return gx, gy
        da0, db, dc = self._dterms(psi * theta)
        gx = theta * db  # x_data = 0 contributes 0 * a'(0)
        gy = psi * (dc if self.nonsaturating else db)
        return gx, gy

    def grads(self, x: Value, y: Value) -> Pair:
        if self.regulariser == "consensus":
            return self._consensus_grads(x, y)
        gx, gy = self._base_grads(x, y)
        r, g = self.regulariser, self.gamma
        if r in ("r1", "r2"):
            gx = gx - g * x
        elif r == "gradient_penalty":
            absx = x.abs() if isinstance(x, torch.Tensor) else np.abs(x)
            sign = x.sign() if isinstance(x, torch.Tensor) else np.sign(x)
            gx = gx - g * (absx - 1.0) * sign
        return gx, gy

    def _consensus_grads(self, x, y):
        torch_in = is_torch(x, y)
        xt, yt = torch.broadcast_tensors(to_torch64(x), to_torch64(y))
        with torch.enable_grad():
            xv = xt if xt.requires_grad else xt.detach().clone().requires_grad_(True)
            yv = yt if yt.requires_grad else yt.detach().clone().requires_grad_(True)
            gx, gy = self._base_grads(xv, yv)
            half_sq = 0.5 * (gx * gx + gy * gy)  # |xi|^2 / 2
            cx, cy = torch.autograd.grad(half_sq.sum(), (xv, yv), create_graph=True)
        # w <- w - lr (xi + gamma J^T xi): ascent dir of x is g_x - gamma*cx, descent dir of y is g_y + gamma*cy
        return back(gx - self.gamma * cx, torch_in), back(gy + self.gamma * cy, torch_in)

    def nonsmooth_reason(self) -> str | None:
        if self.regulariser != "gradient_penalty":
            return None
        return ("the gradient penalty (gamma/2)(|psi| - 1)^2 pulls psi with -gamma (|psi| - 1) sign(psi), which jumps "
                "by 2 gamma across psi = 0: the field is discontinuous at the equilibrium (0, 0), so it has no "
                "Jacobian there and no eigenvalues or spectral radius (neither symbolic nor numeric: finite "
                "differences across the jump grow like gamma/h); iterate the game with analysis.simulate instead")

    def project(self, x: Value, y: Value) -> Pair:
        if self.loss == "wgan" and np.isfinite(self.clip):
            x = x.clamp(-self.clip, self.clip) if isinstance(x, torch.Tensor) else np.clip(x, -self.clip, self.clip)
        return x, y

    # ----------------------------------------------------------------------------- symbolic linearisation
    def symbolic_jacobian(self, gamma: float | None = None, sigma: float | None = None) -> sp.Matrix:
        """[[dg_x/dpsi, dg_x/dtheta], [dg_y/dpsi, dg_y/dtheta]] at (0, 0), exact (sympy).

        Symbols `gamma`, `sigma` are used unless numbers are given. For an FDivergence loss the derivatives of
        p_term/q_term at 0 are taken numerically and rationalised (nsimplify) to 12 digits.
        """
        psi, theta, t, e = sp.symbols("psi theta t epsilon", real=True)
        gam = sp.Symbol("gamma", positive=True) if gamma is None else sp.nsimplify(gamma)
        sig = sp.Symbol("sigma", positive=True) if sigma is None else sp.nsimplify(sigma)
        L = self.loss
        if L in ("saturating", "nonsaturating"):
            f = -sp.log(1 + sp.exp(-t))
            a, b = f.subs(t, -t), f
            c = -f.subs(t, -t)
        elif L == "wgan":
            a, b, c = -t, t, t
        else:
            from ._backend import derivative_sym as derivative

            coeffs = {}
            for key, fn in (("p", L.p_term), ("q", L.q_term)):
                z = np.zeros(1)
                coeffs[key] = [sp.nsimplify(float(derivative(fn, z, k)[0]), tolerance=1e-12, rational=False)
                               for k in (1, 2, 3)]
            # third-order Taylor polynomials suffice for the Jacobian at 0 (incl. instance noise moments)
            poly = lambda cs: sum(ck * t ** (k + 1) / sp.factorial(k + 1) for k, ck in enumerate(cs))
            a, b, c = poly(coeffs["p"]), -poly(coeffs["q"]), -poly(coeffs["p"])
        noise = self.regulariser == "instance_noise" and L != "wgan"
        xd, xf = (e, theta + e) if noise else (0, theta)
        V = a.subs(t, psi * xd) + b.subs(t, psi * xf)
        LG = (c if self.nonsaturating else b).subs(t, psi * xf)
        gx, gy = sp.diff(V, psi), sp.diff(LG, theta)
        if self.regulariser in ("r1", "r2"):
            gx = gx - gam * psi
        elif self.regulariser == "gradient_penalty":
            raise ValueError(f"{self.name}: {self.nonsmooth_reason()}")
        J = sp.Matrix([[sp.diff(gx, psi), sp.diff(gx, theta)], [sp.diff(gy, psi), sp.diff(gy, theta)]])
        if self.regulariser == "consensus":
            # field (g_x - gam*cx, g_y + gam*cy) with (cx, cy) = grad |xi|^2/2 ; at the equilibrium xi = 0 so its
            # Jacobian is J_field + gam * [[-(Jx^T Jx)], ...]: differentiate symbolically
            half = (gx ** 2 + gy ** 2) / 2
            gx2, gy2 = gx - gam * sp.diff(half, psi), gy + gam * sp.diff(half, theta)
            J = sp.Matrix([[sp.diff(gx2, psi), sp.diff(gx2, theta)], [sp.diff(gy2, psi), sp.diff(gy2, theta)]])
        J = J.subs({psi: 0, theta: 0})
        if noise:
            # E over epsilon ~ N(0, sigma^2)
            dens = sp.exp(-e ** 2 / (2 * sig ** 2)) / (sig * sp.sqrt(2 * sp.pi))
            J = J.applyfunc(lambda z: sp.simplify(sp.integrate(sp.expand(z) * dens, (e, -sp.oo, sp.oo))))
        return J.applyfunc(sp.simplify)
