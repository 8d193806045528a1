"""`divergence(p, q, div)`: exact f-divergences from a registry of closed forms, numeric fallbacks otherwise.

    import divkit as dk, torch, scipy.stats as st
    dk.divergence(torch.distributions.Normal(0., 1.), torch.distributions.Normal(1., 2.), "kl")  # tensor
    dk.divergence(st.norm(0, 1), st.norm(1, 2), "js")              # float, by quadrature (no closed form)
    dk.divergence(np.array([.5, .5]), np.array([.9, .1]), "tv")    # numpy, exact: Σ q f(p/q)

Inputs p, q (same kind):
- torch.distributions (Normal, MultivariateNormal, Categorical, Bernoulli with closed forms; any other
  1-D continuous distribution by quadrature, anything with rsample/sample by Monte Carlo) -> torch, with
  autograd through the parameters of closed forms; batch shapes broadcast.
- scipy.stats frozen `norm` / `multivariate_normal` -> float (scalar) or numpy (batched `norm`); other frozen
  1-D continuous distributions by quadrature.
- probability vectors on the last axis: numpy -> numpy, torch -> torch (validated: ≥ 0, no NaN, sums to 1
  within `divkit.validation.sum_tolerance`; pass validate=False to skip).

Registry (`register_closed_form(div_name, type_p, type_q)`), after torch.distributions.kl.register_kl: the
entry whose types are closest in the method resolution orders of type(p), type(q) wins; a tie between two
entries (one more specific for p, the other for q) warns, like torch. Entries are keyed on the divergence
object (a catalogue name is looked up once, at registration; or pass an FDivergence), on a family ("alpha":
every α member, a = div.params["a"]), or "*" (exact for every f: probability vectors). Dispatch tries the
object, its family, then "*": no code path compares names. An object with no entry of its own (e.g. a
`from_generator` object, or a copy of a catalogue object under another name) matches "*" entries only, else
it goes to torch's KL (when `div.kl_parts` says it is a sum of KL terms) or to the numeric fallback. KL's
probability-vector kernel is an ordinary entry ("kl" for numpy / torch arrays).

Closed forms (P = N(μ1, σ1²), Q = N(μ2, σ2²), Δ = μ1 − μ2, ε = σ1²/σ2² − 1 computed as d(d + 2),
g(y) = y − log1p(y) ≥ 0 by a series for |y| ≤ 0.05):
  KL = g(d) + ½d² + Δ²/(2σ2²), d = σ1/σ2 − 1  (= log σ2/σ1 + (σ1² + Δ²)/(2σ2²) − ½, without cancellation)
  log I_a = log ∫ p^a q^{1−a} = a(a−1)Δ²/(2σ_a²) + ½[g((1−a)ε) − (1−a) g(ε)],  σ_a² = σ2²(1 + (1−a)ε)
  α-divergence = expm1(log I_a)/(a(a−1)) (+inf when σ_a² ≤ 0, a ∉ [0, 1]);
  squared Hellinger = −2 expm1(log I_½) = 2(1 − BC);  Pearson = expm1(log I_2);  Neyman = expm1(log I_{−1});
  TV: erf(|Δ|/(2√2 σ)) for equal scales, else P(A) − Q(A) with A = {p > q} bounded by the two crossings
  (a difference of probabilities: absolute error ~1e-16, so TV < 1e-7 between unequal scales loses relative
  digits);
  Jeffreys = KL(P‖Q) + KL(Q‖P).
Multivariate normals use the same formulas with ε replaced by the eigenvalues μ_i of
L1⁻¹(Σ0 − Σ1)L1⁻ᵀ (Σ1 = L1 L1ᵀ) and the Mahalanobis terms computed by Cholesky solves (Rényi /
Bhattacharyya: Pardo 2006, "Statistical inference based on divergence measures", §1.3; Gil et al. 2013).

Where σ1/σ2 is far from 1 (|ε| > ½) the affinities are evaluated in log ρ, ρ = σ1/σ2, so no ρ² over- or
underflows and no large logs cancel (see `_normal_log_affinity`); for MVN the log(1 + μ_i) of eigenvalues
away from 0 come from the Cholesky log-determinants (1 + μ_i = 1e-8 is not representable as float32 μ_i + 1).

Accuracy (the contract of issue 11, tested against mpmath at 50+ digits in tests/divkit/test_exact.py):
  Normal closed forms: ≤ 1e-12 relative (float64) / 1e-5 (float32) wherever representable, σ1/σ2 from
    1e-300 to 1e300 (float64) and 1e-36 to 1e36 (float32); +inf exactly where the value overflows;
  MVN: the same, plus an absolute ≈ eps·(1 + max|μ|)·Σ_{|μ_i| ≤ ½}|μ_i| (the eigenvalues of L⁻¹(Σ0 − Σ1)L⁻ᵀ
    inherit the rounding of forming L Lᵀ);
  probability vectors, Categorical (probs), Bernoulli (probs): every term q·f(p/q) within a few ulps
    (1.5e-13 relative for the KL kernel); KL / reverse KL / GAN sums near p = q keep ≈ eps·Σ|p − q| absolute
    (the terms cancel; scipy rel_entr(...).sum() has the same); the others are sums of non-negative terms;
  logits (Categorical, Bernoulli): log p carries eps·|log p|, so ≈ eps·Σ(p + q)(|log p| + |log q|) absolute;
  results below the smallest normal number: an absolute floor of that number (subnormals have fewer bits).

method="auto" tries the registry, then torch.distributions.kl_divergence for KL-type divergences between
torch pairs torch registers (Independent, LowRankMultivariateNormal, Dirichlet, Poisson, ...; exact), then
quadrature (1-D continuous), then Monte Carlo (with a NumericFallbackWarning; `explain(p, q, div)` names the
path without computing); "closed_form",
"quadrature", "monte_carlo" force one. Monte Carlo returns `divkit.numeric.MonteCarloResult(value, stderr,
n)` (a NamedTuple) whichever way it was reached; every other path returns the value alone.

Warning: quadrature works on Python floats one batch element at a time: it returns a detached tensor for
torch inputs (a UserWarning is issued when parameters require grad; use method="monte_carlo", which
differentiates through rsample, or a closed form).

Modules (one job each; this package re-exports the public names): `registry` (register_closed_form, dispatch),
`normal`, `mvn`, `discrete` (the registered closed forms and exact sums), `kernels` (g and the α-from-affinity
helpers they share), `torch_kl` (torch.distributions.kl_divergence interop), `inputs` (kinds, scipy conversion,
outputs), `fallback` (quadrature, Monte Carlo), `entry` (divergence, explain).
"""
from __future__ import annotations

# the modules that register closed forms, imported for their registrations
from . import discrete as discrete
from . import mvn as mvn
from . import normal as normal
from .entry import METHODS, NoClosedFormError, NumericFallbackWarning, divergence, explain
from .fallback import _normal_pair_points as _normal_pair_points
from .registry import _REGISTRY as _REGISTRY
from .registry import _dispatch as _dispatch
from .registry import lookup_closed_form, register_closed_form

__all__ = ["divergence", "register_closed_form", "NoClosedFormError", "NumericFallbackWarning", "lookup_closed_form",
           "explain", "METHODS"]
