"""Shared test configuration.

Hypothesis profiles: `ci` (deterministic: derandomize, no deadline, fixed example count) is loaded when the
CI environment variable is set or HYPOTHESIS_PROFILE=ci; `dev` otherwise (random, more examples).
"""
import os

import pytest
import torch
from hypothesis import HealthCheck, settings

# Tests use tiny tensors: one intra-op thread is faster (thread hand-off dominates) and removes
# thread-count dependence of float reductions.
torch.set_num_threads(1)

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none visible to torch)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
