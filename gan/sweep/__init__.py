"""Many GANs at once: the batched engine (R runs of one architecture as one model), the job pool for the runs
that cannot batch, and the planner that splits a sweep between them. See docs/gan.md, "Sweeps"."""
from .adam import BatchedAdam
from .engine import BatchedTrainer, batch_blockers, batch_key
from .stacked import StackedNet

__all__ = ["BatchedAdam", "BatchedTrainer", "StackedNet", "batch_blockers", "batch_key"]
