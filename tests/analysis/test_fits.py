"""Fits: forward KL matches moments (exact: the KL projection onto Gaussians); integrands integrate to KL."""
import numpy as np
import pytest

from analysis import fits


def test_kl_integrands_integrate_to_closed_form():
    x = np.linspace(-15, 17, 40001)
    a, b = fits.kl_integrands(x, 0.0, 1.0, 2.0, 1.5)
    kl = lambda m1, s1, m2, s2: np.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5
    assert np.trapezoid(a, x) == pytest.approx(kl(0, 1, 2, 1.5), abs=1e-9)
    assert np.trapezoid(b, x) == pytest.approx(kl(2, 1.5, 0, 1), abs=1e-9)


@pytest.mark.parametrize("a", [1.0, 3.0])
def test_forward_kl_matches_moments(a):
    r = fits.fit_gaussian("kl", means=(-a, a))
    assert r["m"] == pytest.approx(0.0, abs=1e-5)
    assert r["s"] == pytest.approx(np.sqrt(1 + a * a), rel=1e-5)


def test_reverse_kl_locks_onto_a_mode_when_far_apart_and_not_when_close():
    far = fits.fit_gaussian("reverse_kl", means=(-4.0, 4.0))
    assert abs(abs(far["m"]) - 4.0) < 1e-2 and far["s"] == pytest.approx(1.0, abs=1e-2)
    assert far["D"] == pytest.approx(np.log(2), abs=1e-3)  # KL(N(a,1) || mixture) -> log 2
    near = fits.fit_gaussian("reverse_kl", means=(-1.0, 1.0))
    assert abs(near["m"]) < 1e-4
