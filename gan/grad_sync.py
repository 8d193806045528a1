"""Data parallelism without DDP's restrictions: gradients averaged by hand after each backward.

`torch.nn.parallel.DistributedDataParallel` forbids double backward through the wrapper (R1, R2, WGAN-GP),
several forwards per backward with a changing graph (unrolled look-ahead, MSG-GAN's pyramid, two critic passes)
and parameters used outside the wrapper (MINE's statistics network). As StyleGAN2/3's training loops do, the
trainer then calls the bare modules and, after each `backward()`, replaces every gradient by its mean over the
W ranks (`average_gradients`: one flattened all-reduce per module). With equal slices of one global batch, the
mean over ranks of per-slice mean losses is the global-batch mean loss, so W processes with batch b follow one
process with batch W·b up to the order of float summation (tested with gloo for every flag).

Terms that are not per-sample means need the global batch itself:
- the unrolled look-ahead's critic gradients (`mean_over_ranks`, differentiable: the generator's
  second-order gradient flows back through it to every rank's samples);
- MINE's score matrix over all pairs of the batch (`gather_batch`, differentiable all-gather);
- random draws per sample (instance noise, WGAN-GP's ε): drawn for the global batch on every rank from the
  same RNG state and sliced (`shard_draw`), as the trainer already does for z and the data indices — cheap
  draws; the expensive part (reading/gathering images) is done for the rank's own slice only.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

if TYPE_CHECKING:
    from .distributed import DistInfo

__all__ = ["average_gradients", "broadcast_buffers", "mean_over_ranks", "gather_batch", "shard_draw", "slice_bounds"]


def slice_bounds(n: int, info: DistInfo) -> tuple[int, int]:
    """[lo, hi) of rank `info.rank` in a global batch of n = W·b."""
    if n % info.world_size:
        raise ValueError(f"global batch {n} is not divisible by world_size {info.world_size}")
    b = n // info.world_size
    return info.rank * b, (info.rank + 1) * b


def average_gradients(module: torch.nn.Module, info: DistInfo) -> None:
    """p.grad ← mean over ranks of p.grad for every parameter of `module` with a gradient (one flattened
    all-reduce). Parameters without a gradient on this rank count as zero there (all ranks must agree on which
    parameters have one: they run the same code)."""
    if not info.distributed:
        return
    params = [p for p in module.parameters() if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= info.world_size
    i = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[i:i + n].view_as(p.grad))
        i += n


def broadcast_buffers(module: torch.nn.Module, info: DistInfo) -> None:
    """Every floating buffer of `module` ← rank 0's (BatchNorm running statistics, which each rank updates from
    its own slice), as DDP's broadcast_buffers does, so the replicas stay identical."""
    if not info.distributed:
        return
    for b in module.buffers():
        if b.is_floating_point():
            dist.broadcast(b, src=0)


def mean_over_ranks(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Differentiable mean over ranks.

    Forward y = (1/W) Σ_r t_r on every rank; backward gives each rank (1/W) Σ_r' ∂L_r'/∂y, so that the sum over
    ranks of the per-rank losses L_r differentiates exactly as the single-process loss would."""
    if not info.distributed:
        return t
    from torch.distributed.nn.functional import all_reduce

    return all_reduce(t, op=dist.ReduceOp.SUM) / info.world_size


def gather_batch(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The global batch (W·b, ...) from each rank's slice (b, ...), in rank order; differentiable (the
    gradient of a rank's slice is the sum over ranks of the gradients flowing into it)."""
    if not info.distributed:
        return t
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(t), dim=0)


def shard_draw(draw: Callable[[tuple], torch.Tensor], local_shape: tuple, info: DistInfo) -> torch.Tensor:
    """`draw((W·b, *rest))[lo:hi]`: this rank's slice of a global random draw (same RNG state on every rank)."""
    if not info.distributed:
        return draw(tuple(local_shape))
    b = local_shape[0]
    full = draw((b * info.world_size, *local_shape[1:]))
    return full[info.rank * b:(info.rank + 1) * b]
