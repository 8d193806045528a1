"""divkit.validation: probability-vector checks and their messages (argument name, tolerance, fix)."""
import math

import numpy as np
import pytest
import torch

import divkit as dk
from divkit.validation import (
    check_event_shapes,
    check_int,
    check_positive,
    check_positive_definite,
    check_probability_vector,
    check_same_world,
    sum_tolerance,
)


def test_tolerance_policy():
    assert sum_tolerance(np.float64) == 1e-6
    assert sum_tolerance(torch.float64) == 1e-6
    assert sum_tolerance(np.float32) == sum_tolerance(torch.float32) == 1e-4
    assert sum_tolerance(torch.bfloat16) == 1e-2


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_valid_vectors_pass_and_keep_their_world(lib):
    x = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    x = torch.tensor(x) if lib == "torch" else x
    out = check_probability_vector(x, "p")
    assert type(out) is type(x)


def test_integers_become_float():
    assert check_probability_vector([0, 1], "p").dtype == np.float64


@pytest.mark.parametrize("bad, fragment", [
    (np.array([0.5, -0.1, 0.6]), "negative"),
    (np.array([0.5, np.nan, 0.5]), "NaN"),
    (np.array([0.5, 0.6]), "tolerance 1e-06"),
    (np.array([np.inf, 0.5]), "p"),
    (np.float64(1.0), "at least one axis"),
])
def test_bad_vectors_name_the_argument(bad, fragment):
    with pytest.raises(ValueError) as e:
        check_probability_vector(bad, "p")
    assert fragment in str(e.value)
    assert "p" in str(e.value)


def test_float32_tolerance_is_scaled_and_stated():
    x = torch.tensor([0.5, 0.5 + 5e-5], dtype=torch.float32)
    check_probability_vector(x, "q")  # within 1e-4
    with pytest.raises(ValueError, match=r"q is not normalised.*tolerance 0\.0001 for torch\.float32"):
        check_probability_vector(torch.tensor([0.5, 0.5 + 5e-4]), "q")
    # the same offset in float64 is rejected
    with pytest.raises(ValueError, match="1e-06"):
        check_probability_vector(np.array([0.5, 0.5 + 5e-5]), "q")


def test_shapes_and_worlds():
    assert check_event_shapes(np.ones((3, 1, 4)), np.ones((5, 4))) == (3, 5)
    with pytest.raises(ValueError, match="same number of outcomes"):
        check_event_shapes(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="do not broadcast"):
        check_event_shapes(np.ones((3, 4)), np.ones((2, 4)))
    with pytest.raises(TypeError, match="both as numpy or both as torch"):
        check_same_world(np.ones(2), torch.ones(2))


def test_scalar_checks():
    with pytest.raises(ValueError, match=r"q\.scale must be finite and > 0, got -1"):
        check_positive(torch.tensor([1.0, -1.0]), "q.scale")
    with pytest.raises(ValueError, match="scale must be finite and > 0, got 0"):
        check_positive(np.array([0.0]), "scale")
    with pytest.raises(ValueError, match="positive definite"):
        check_positive_definite(np.array([[1.0, 2.0], [2.0, 1.0]]), "cov")
    with pytest.raises(ValueError, match="symmetric"):
        check_positive_definite(np.array([[1.0, 0.5], [0.0, 1.0]]), "cov")
    with pytest.raises(TypeError, match="n must be an integer"):
        check_int(2.5, "n")
    with pytest.raises(ValueError, match="n must be ≥ 2"):
        check_int(1, "n", 2)


def test_divergence_reports_validation_errors():
    with pytest.raises(ValueError, match=r"p has a negative entry"):
        dk.divergence(np.array([1.1, -0.1]), np.array([0.5, 0.5]), "kl")
    with pytest.raises(ValueError, match=r"q is not normalised.*tolerance 1e-06"):
        dk.divergence(np.array([0.5, 0.5]), np.array([0.5, 0.6]), "kl")
    with pytest.raises(ValueError, match="same number of outcomes"):
        dk.divergence(np.array([0.5, 0.5]), np.array([0.2, 0.3, 0.5]), "kl")
    with pytest.raises(ValueError, match="unknown divergence 'klx'; known: kl"):
        dk.divergence(np.array([0.5, 0.5]), np.array([0.5, 0.5]), "klx")
    with pytest.raises(ValueError, match="a must be finite and not 0 or 1"):
        dk.divergence(np.array([0.5, 0.5]), np.array([0.5, 0.5]), dk.alpha(1.0))
    # validate=False skips the checks (the caller's responsibility)
    assert math.isfinite(dk.divergence(np.array([0.5, 0.6]), np.array([0.5, 0.5]), "kl", validate=False))
