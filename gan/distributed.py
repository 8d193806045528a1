"""Scale: data-parallel training with `torch.distributed` DDP launched by ``torchrun``, and ``torch.compile``.

Launch (one process per GPU, or several CPU processes with the gloo backend)::

    torchrun --nproc_per_node 4 -m gan train ...          # single node
    torchrun --nnodes 2 --node_rank R --master_addr HOST --nproc_per_node 8 -m gan train ...

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `init_from_env` reads them (and
returns a single-process `DistInfo` when they are absent, so the same script runs without torchrun).

Equivalence: each rank takes a contiguous 1/W slice of the same global batch (`shard`); DDP averages the
gradients over ranks, and the mean of W per-shard means of equal size is the global-batch mean, so W processes
with batch b follow the single-process trajectory with batch W·b up to float rounding (tested). That holds for
models whose outputs depend on each sample alone: BatchNorm statistics are per rank (use
``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` on CUDA); spectral-norm u, v buffers are identical on all
ranks (same seed, same weights) and DDP broadcasts rank 0's buffers at each forward anyway. Pass the real and
fake batches through a DDP critic in **one** forward (``torch.cat``): it also gives one power iteration.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistInfo", "init_from_env", "wrap_ddp", "shard", "shard_indices", "all_reduce_mean", "cleanup",
           "compile_model", "torchrun_argv"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name):
    raw = os.environ.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer; got {raw!r}") from None


def init_from_env(backend: str | None = None, device: str | None = None) -> DistInfo:
    """Initialise the default process group from torchrun's environment variables.

    backend: "nccl" (default on CUDA) or "gloo" (default on CPU). Without WORLD_SIZE > 1 in the environment,
    no process group is created and a single-process `DistInfo` is returned.
    """
    world = _env_int("WORLD_SIZE") or 1
    rank, local = _env_int("RANK") or 0, _env_int("LOCAL_RANK") or 0
    use_cuda = torch.cuda.is_available() if device is None else device.startswith("cuda")
    if world <= 1:
        dev = torch.device(f"cuda:{local}" if use_cuda else "cpu") if device is None else torch.device(device)
        return DistInfo(0, 1, 0, dev)
    backend = backend or ("nccl" if use_cuda else "gloo")
    if backend not in ("nccl", "gloo", "mpi"):
        raise ValueError(f"backend must be 'nccl', 'gloo' or 'mpi'; got {backend!r}")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    if use_cuda:
        torch.cuda.set_device(local)
        dev = torch.device(f"cuda:{local}")
    else:
        dev = torch.device("cpu")
    return DistInfo(rank, world, local, dev)


def wrap_ddp(model: nn.Module, info: DistInfo, **ddp_kwargs: Any) -> nn.Module:
    """``DistributedDataParallel(model)`` when running distributed, else ``model`` unchanged."""
    if not info.distributed:
        return model
    from .layers.spectral_norm import spectral_norm_modules

    model = model.to(info.device)
    if info.device.type == "cuda":
        ddp_kwargs.setdefault("device_ids", [info.local_rank])
    sn = [(m, h) for m, h in spectral_norm_modules(model)]
    current = [h.is_current(m) for m, h in sn]
    ddp = nn.parallel.DistributedDataParallel(model, **ddp_kwargs)
    # DDP's construction broadcasts rank 0's parameters and buffers in place (u, v included, so they match the
    # weights): that bumps the weights' version counters, which must not cost a spectral-norm power iteration
    for (m, h), cur in zip(sn, current):
        if cur:
            h.mark_current(m)
    return ddp


def shard(batch: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """This rank's contiguous slice ``batch[r·b:(r+1)·b]`` of a global batch of size W·b (same on all ranks)."""
    n = batch.shape[0]
    if n % info.world_size:
        raise ValueError(f"global batch {n} is not divisible by world_size {info.world_size}")
    b = n // info.world_size
    return batch[info.rank * b:(info.rank + 1) * b]


def shard_indices(n: int, info: DistInfo, seed: int | None = None, epoch: int = 0) -> torch.Tensor:
    """DistributedSampler-style indices of a data set of size n for this rank: (optionally) permute with
    seed + epoch, pad by wrapping to a multiple of W, take every W-th index starting at the rank."""
    if n < 1:
        raise ValueError(f"n must be ≥ 1; got {n}")
    if seed is None:
        idx = torch.arange(n)
    else:
        idx = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed) + int(epoch)))
    total = -(-n // info.world_size) * info.world_size
    idx = torch.cat([idx, idx[: total - n]]) if total > n else idx
    return idx[info.rank::info.world_size]


def all_reduce_mean(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of ``t`` over ranks (a copy; ``t`` unchanged). Identity when not distributed."""
    if not info.distributed:
        return t.clone()
    out = t.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / info.world_size


def cleanup() -> None:
    """Leave the process group at the end of a run: a barrier, so that no rank tears down its gloo connections
    while another still uses them, then `destroy_process_group` while the interpreter is fully alive. A group
    left to interpreter shutdown (or destroyed while its peer was still writing) aborted a rank with
    "terminate called without an active exception" (SIGABRT) in CI. Drop DDP wrappers before calling it: they
    hold the group."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        import gc

        gc.collect()  # the group's C++ worker threads go with its last reference, before interpreter teardown


def compile_model(model: nn.Module, enabled: bool = True, backend: str = "inductor", mode: str | None = None
                  ) -> nn.Module:
    """``torch.compile(model, backend=..., mode=...)`` if ``enabled`` else ``model``.

    Spectral-norm power iterations (`gan.layers.spectral_norm`) run outside the compiled graph: while
    compiling, the hook skips them, so call ``gan.layers.power_iteration_(model)`` once per critic step when
    the critic is compiled (eager backends included).
    """
    if not enabled:
        return model
    return torch.compile(model, backend=backend, mode=mode)


def torchrun_argv(nproc: int) -> list[str]:
    """argv prefix launching `nproc` local processes: ``python -m torch.distributed.run --standalone
    --nproc_per_node N`` (append the script or ``-m module`` and its arguments).

    ``--standalone`` lets the launcher bind a free port itself and hands the workers its store; choosing a
    "free" port beforehand (bind to port 0, close, pass ``--master_port``) races every other process on the
    machine for that port until the launcher binds it."""
    import sys

    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be a positive integer, got {nproc!r}")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
