"""CPU thread count for a training run: fast by default for the model size (`python -m gan train --threads`).

torch starts one intra-op thread per core. The 2-D MLP models do microsecond-sized matrix products (batch 256 ×
width 128), where waking and synchronising threads costs more than the product: on a loaded 2-core machine
100 ring8 steps took 25.9 s with the default threads and 0.73 s with one (issue 18; `bench/bench_gan.py`
prints the ratio on the machine at hand). Convolutional image models have enough work per op to use the
cores — the cores that are free: on an oversubscribed machine (load average ≥ cores) every extra thread
waits for a core, and one thread was 9× faster for a small DCGAN at load 15 on 2 cores. Under torchrun the
cores are shared by the processes of a node.

Results on the CPU are deterministic for a given thread count; a run resumed with another count is not
guaranteed bit-identical (the reduction order of a matrix product may change), so checkpoints record the
count and `python -m gan train --resume` reuses it unless --threads is given.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .config import TrainConfig

# MACs of one MLP layer's forward (batch × width²) below which one thread is fastest: 256 × 512² ≈ 6.7e7 was
# still faster on one thread than on two in bench/bench_gan.py (a 2-core machine); above it, use the cores
MLP_ONE_THREAD_MACS = 256 * 512 * 512


def available_cores() -> int:
    """Free cores for this process: its CPU affinity (where the OS says) less the 1-minute load average,
    divided among torchrun's local processes; at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average on this OS
        busy = 0.0
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, int(cores - busy) // max(1, local))


def auto_threads(config: TrainConfig, data_shape: tuple) -> int:
    """Intra-op threads for training `config` on data of per-sample shape `data_shape`: 1 for MLP models on
    2-D data up to `MLP_ONE_THREAD_MACS` per layer, else every available core (capped at 8: beyond, the
    conv layers of a DCGAN at these sizes gain little)."""
    mlp = len(tuple(data_shape)) == 1 or config.model == "mlp"  # the "auto" model of 2-D data is the MLP
    if mlp and config.batch_size * config.hidden ** 2 <= MLP_ONE_THREAD_MACS:
        return 1
    return min(8, available_cores())


def set_threads(n: int) -> int:
    """`torch.set_num_threads(n)` after checking n ≥ 1; returns n."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be a positive integer, got {n!r}")
    torch.set_num_threads(n)
    return n
