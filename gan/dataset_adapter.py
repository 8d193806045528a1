"""Train on any map-style `torch.utils.data.Dataset` (data that does not fit in memory) through the same trainer.

`DatasetAdapter(dataset, num_workers=4)` gives a dataset the trainer's interface (`sample(n)`,
`sample_labelled(n)`, `shape`, `num_classes`). Items are `image` or `(image, label)`: float tensors (C, H, W) in
[−1, 1] (uint8 tensors are mapped 0..255 → [−1, 1]) and int labels. Batches are read by a `DataLoader` with
`num_workers` processes that prefetch ahead of the trainer.

Order: epochs of a seeded permutation (epoch e shuffles with seed·1000003 + e), read without replacement,
batches following each other across epoch ends. Nothing is drawn from torch's global RNG, so the workers'
prefetching cannot disturb the trainer's random stream; the position in the stream (`state_dict()` =
{"consumed": samples handed out}) is checkpointed by the trainer and a resumed run reads exactly the batches
the uninterrupted run would have read. With a `generator` (evaluation, plots) `sample` draws indices uniformly
with replacement from it and reads them in this process, leaving the stream where it is.

`ImageFolderDataset(path, size, channels)` is the lazy counterpart of `gan.data.image_folder` (same layout
rules, same pixel mapping through `gan.data.read_image`): the trainer uses it with `--data folder
--data-workers N`.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from . import data as data_mod

if TYPE_CHECKING:
    import os

__all__ = ["DatasetAdapter", "ImageFolderDataset"]


class ImageFolderDataset(Dataset):
    """Map-style dataset over an image folder (flat or class sub-folders, `gan.data.folder_layout`):
    item i = (image (C, H, W) float32 in [−1, 1], label) or image alone for a flat folder.

    channels None: 3 unless the first file has R = G = B everywhere (then 1). Without `size`, an image whose size
    differs from the first file's raises ValueError naming both (checked as files are read: the folder is never
    scanned whole)."""

    def __init__(self, path: str | os.PathLike, size: int | None = None, channels: int | None = None) -> None:
        data_mod._check_channels(channels)
        self.path = Path(path)
        self.files, self.labels, self.class_names = data_mod.folder_layout(path)
        self.size = size
        first = data_mod.read_image(self.files[0], channels or 3, size)
        self.first = data_mod.grey_if_equal(first[None])[0] if channels is None else first
        self.channels = self.first.shape[0]

    @property
    def classes(self) -> list[str] | None:
        return self.class_names

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        f = self.files[i]
        x = data_mod.read_image(f, self.channels, self.size)
        if x.shape != self.first.shape:
            raise ValueError(f"images in {self.path} have different sizes ({self.files[0].name}: "
                             f"{tuple(self.first.shape[1:])}, {f.name}: {tuple(x.shape[1:])}); pass --image-size "
                             f"(size=) to resize them all")
        return x if self.labels is None else (x, self.labels[i])


class _Rows(Sampler):
    """Batches of the stream: n consecutive indices each, of which rows lo:hi are yielded (read)."""

    def __init__(self, stream: _Stream, n: int, lo: int, hi: int):
        self.stream, self.n, self.lo, self.hi = stream, n, lo, hi

    def __iter__(self):
        it = iter(self.stream)
        while True:
            batch = [next(it) for _ in range(self.n)]
            yield batch[self.lo:self.hi]

    def __len__(self):
        return 2**62


class _Stream(Sampler):
    """Indices from position `start` of the endless stream perm_0 ‖ perm_1 ‖ … (perm_e seeded seed·1000003 + e)."""

    def __init__(self, n: int, seed: int, start: int):
        self.n, self.seed, self.start = n, seed, start

    def __iter__(self):
        epoch, offset = divmod(self.start, self.n)
        while True:
            perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 1000003 + epoch))
            yield from perm[offset:].tolist()
            epoch, offset = epoch + 1, 0

    def __len__(self):  # DataLoader asks; the stream is endless
        return 2**62


class DatasetAdapter:
    """The trainer's dataset interface over a map-style `torch.utils.data.Dataset` (module docstring).

    Args:
      dataset: items `image` or `(image, label)`, images (C, H, W) float in [−1, 1] or uint8.
      num_workers: DataLoader worker processes (0: read in the training process).
      seed: seeds the epoch permutations.
      num_classes: label count for conditional training (default: len(dataset.classes) when the dataset has
        `classes`, else 0; scanning the labels would read the whole data set, so pass it).
    """

    def __init__(self, dataset: Dataset, num_workers: int = 0, seed: int = 0, num_classes: int | None = None,
                 prefetch_factor: int = 2) -> None:
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(f"dataset must be a map-style torch Dataset (with __getitem__ and __len__), got "
                            f"{type(dataset).__name__}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be an int ≥ 0, got {num_workers!r}")
        if len(dataset) == 0:
            raise ValueError("dataset is empty")
        self.dataset, self.num_workers, self.seed = dataset, num_workers, int(seed)
        self.prefetch_factor = prefetch_factor
        first = dataset[0]
        self.labelled = isinstance(first, (tuple, list))
        x = self._image(first[0] if self.labelled else first, 0)
        self.shape = tuple(x.shape)
        self.name = type(dataset).__name__
        if num_classes is None:
            classes = getattr(dataset, "classes", None)
            num_classes = len(classes) if classes else 0
        self.num_classes = int(num_classes)
        self.class_names = getattr(dataset, "classes", None)
        self.consumed = 0
        self._loader = None  # (batch size, iterator)

    def __len__(self):
        return len(self.dataset)

    @staticmethod
    def _image(x, i) -> torch.Tensor:
        x = torch.as_tensor(x)
        if x.dtype == torch.uint8:
            return x.float() / 127.5 - 1
        if not x.is_floating_point():
            raise TypeError(f"item {i}: images must be float in [−1, 1] or uint8, got dtype {x.dtype}")
        if x.numel() and (float(x.min()) < -1 - 1e-6 or float(x.max()) > 1 + 1e-6):
            raise ValueError(f"item {i}: images must lie in [−1, 1] (map 0..1 data with x·2 − 1); got "
                             f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")
        return x.float()

    def _batch(self, items):
        if self.labelled:
            x, y = default_collate(items)
            return self._image(x, "batch"), torch.as_tensor(y, dtype=torch.long)
        return self._image(default_collate(items), "batch"), None

    def _next(self, n: int, lo: int = 0, hi: int | None = None):
        hi = n if hi is None else hi
        if self._loader is None or self._loader[0] != (n, lo, hi):
            kw = dict(persistent_workers=True, prefetch_factor=self.prefetch_factor) if self.num_workers else {}
            batches = _Rows(_Stream(len(self.dataset), self.seed, self.consumed), n, lo, hi)
            loader = DataLoader(self.dataset, batch_sampler=batches,
                                num_workers=self.num_workers, collate_fn=self._batch,
                                # its own generator: a DataLoader iterator draws its workers' base seed from it,
                                # which would otherwise be torch's global RNG (and break bit-identical resume)
                                generator=torch.Generator().manual_seed(self.seed + self.consumed), **kw)
            self._loader = ((n, lo, hi), iter(loader))
        x, y = next(self._loader[1])
        self.consumed += n
        return x, y

    def sample_rows(self, n: int, lo: int, hi: int, labelled: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Rows lo:hi of the next global batch of n: only those items are read (by this rank's workers); the
        stream advances by n, as on every other rank."""
        if labelled and not self.labelled:
            self.sample_labelled(1, torch.Generator())  # raises the no-labels error
        x, y = self._next(n, lo, hi)
        return x, (y if labelled else None)

    def sample_labelled(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(images (n, C, H, W), labels (n,) int64): the next n of the stream, or n uniform draws from `generator`."""
        if not self.labelled:
            raise ValueError(f"dataset {self.name} returns no labels; conditional training needs (image, label) items")
        return self._draw(n, generator)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._draw(n, generator)[0]

    def _draw(self, n, generator):
        if generator is None:
            return self._next(n)
        idx = torch.randint(len(self.dataset), (n,), generator=generator).tolist()
        return self._batch([self.dataset[i] for i in idx])

    def close_workers(self) -> None:
        """Stop the DataLoader's worker processes. Forked workers hold copies of the parent's descriptors, the
        run folder's lock among them, so a finished `Trainer` stops them; the next read restarts them where the
        stream stands (`consumed`), as a resume does."""
        if self._loader is not None:
            shutdown = getattr(self._loader[1], "_shutdown_workers", None)
            if shutdown is not None:
                shutdown()
            self._loader = None

    def state_dict(self) -> dict:
        return {"consumed": self.consumed}

    def load_state_dict(self, state: dict) -> None:
        """Continue the stream at `state["consumed"]` (the prefetching workers are restarted there)."""
        self.consumed = int(state["consumed"])
        self._loader = None

    def __repr__(self):
        return f"DatasetAdapter({self.name}, n={len(self.dataset)}, workers={self.num_workers})"
