"""divkit.testing: hypothesis strategies and independent oracles to test your own divergence code/estimators.

Loaded only when accessed (`dk.testing` or `import divkit.testing`); it imports hypothesis, which
`import divkit` never does. Guide with a runnable example: docs/testing.md.

Strategies (divkit.testing.strategies): probability_vectors, probability_pairs, gaussian_pairs, divergences,
alpha_values, random_generator_divergences, mixture_divergence, score_matrices.
Oracles (divkit.testing.oracles): quadrature_divergence, discrete_divergence, brute_force_conjugate,
check_fenchel_young, check_lower_bound, default_u_grid.
"""
from .oracles import (
                      brute_force_conjugate,
                      check_fenchel_young,
                      check_lower_bound,
                      default_u_grid,
                      discrete_divergence,
                      quadrature_divergence,
)
from .strategies import (
                      alpha_values,
                      divergences,
                      gaussian_pairs,
                      mixture_divergence,
                      probability_pairs,
                      probability_vectors,
                      random_generator_divergences,
                      score_matrices,
)

__all__ = ["probability_vectors", "probability_pairs", "gaussian_pairs", "divergences", "alpha_values",
           "random_generator_divergences", "mixture_divergence", "score_matrices", "quadrature_divergence",
           "discrete_divergence", "brute_force_conjugate", "check_fenchel_young", "check_lower_bound",
           "default_u_grid"]
