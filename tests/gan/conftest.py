"""Fixtures shared by the gan tests."""
import pytest
import torch


@pytest.fixture
def float64():
    """float64 as torch's default dtype (the batched-vs-solo equivalence tests compare to 1e-9), one thread."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    yield
    torch.set_default_dtype(old)
