"""Mutual-information estimation: critics, estimators (MINE, NWJ, InfoNCE, JS, SMILE, TUBA, I_α), training,
and the correlated-Gaussian benchmark with known MI.

    import divkit as dk
    x, y = dk.mi.correlated_gaussians(dim=5, mi=2.0, n=20_000, seed=0)
    res = dk.mi.estimate(x, y, estimator="smile", steps=1000)
    res.value, res.stderr

The bounds themselves are pure functions of a score matrix in `divkit.bounds`. See docs/mi.md.
"""
from .baseline import GaussianCritic
from .critics import CRITICS, ConcatCritic, SeparableCritic, make_critic, mlp
from .estimate import (
                       BiasWarning,
                       ConvergenceWarning,
                       DivergedWarning,
                       DivergenceResult,
                       MIResult,
                       OverfitWarning,
                       WeakCriticWarning,
                       estimate,
                       estimate_divergence,
                       fit,
)
from .estimators import ESTIMATORS, MINE, BaselineEstimator, BoundEstimator, Estimator, EstimatorOutput, make_estimator
from .gaussians import (
                       STAIRCASE_MIS,
                       OptimalCritic,
                       correlated_gaussians,
                       mi_to_rho,
                       optimal_scores,
                       rho_to_mi,
                       staircase,
)
from .knn import ksg
from .upper import GaussianConditional, KnownGaussianConditional, estimate_upper

__all__ = ["CRITICS", "ConcatCritic", "SeparableCritic", "make_critic", "mlp", "DivergenceResult", "MIResult", "OverfitWarning",
           "BiasWarning", "ConvergenceWarning", "DivergedWarning", "WeakCriticWarning", "GaussianCritic",
           "estimate", "estimate_divergence", "fit", "ESTIMATORS", "MINE", "BaselineEstimator", "BoundEstimator",
           "Estimator", "EstimatorOutput", "make_estimator", "STAIRCASE_MIS", "OptimalCritic",
           "correlated_gaussians", "ksg", "GaussianConditional", "KnownGaussianConditional",
           "estimate_upper", "mi_to_rho", "optimal_scores", "rho_to_mi", "staircase"]
