"""The training batch sampler: which objects and views each step sees, resumably.

Every batch is a list of ``(object index, view a, view b)`` triples. Epoch ``e`` is drawn
from a generator seeded by ``(seed, e)`` alone, so the whole stream is a pure function of
the seed and the number of batches already consumed: a run resumed from a checkpoint that
recorded that number sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

#: Mixes the epoch into the seed of its generator (a large odd constant: distinct streams).
_EPOCH_STRIDE = 1_000_003


class TwoViewBatchSampler(Sampler[list[tuple[int, int, int]]]):
    """Batches of ``(object, view_a, view_b)`` with ``view_a != view_b`` drawn uniformly.

    Args:
        counts: objects per category, in dataset order (object indices are global).
        num_views: views per object.
        batch_size: triples per batch (per process).
        seed: seeds every epoch's draws.
        class_balanced: draw a category uniformly, then an object of it (so rare
            categories weigh as much as common ones); otherwise each epoch is a random
            permutation of all objects.
        rank, world_size: this process's share of each epoch (data-parallel training).

    An epoch holds ``total objects // (world_size · batch_size)`` batches per process.
    ``consumed`` counts the batches the training loop has used; iteration always starts
    from there, and it is the sampler's whole state.
    """

    def __init__(
        self,
        counts: Sequence[int],
        num_views: int,
        batch_size: int,
        seed: int = 0,
        class_balanced: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.counts = [int(c) for c in counts]
        self.num_objects = sum(self.counts)
        self.num_views, self.batch_size, self.seed = int(num_views), int(batch_size), int(seed)
        self.class_balanced = bool(class_balanced)
        self.rank, self.world_size = int(rank), int(world_size)
        self.batches_per_epoch = self.num_objects // (self.world_size * self.batch_size)
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"batch_size {batch_size} × {world_size} process(es) exceeds the "
                f"{self.num_objects} training objects"
            )
        self.consumed = 0

    def epoch_draws(self, epoch: int) -> np.ndarray:
        """int64 ``(num_objects, 3)``: every process's triples of ``epoch``, in order."""
        g = torch.Generator().manual_seed(self.seed * _EPOCH_STRIDE + epoch)
        n = self.num_objects
        if self.class_balanced:
            starts = torch.tensor([0, *np.cumsum(self.counts)[:-1].tolist()])
            sizes = torch.tensor(self.counts, dtype=torch.float64)
            cat = torch.randint(len(self.counts), (n,), generator=g)
            objects = starts[cat] + (torch.rand(n, generator=g, dtype=torch.float64)
                                     * sizes[cat]).long()  # fmt: skip
        else:
            objects = torch.randperm(n, generator=g)
        view_a = torch.randint(self.num_views, (n,), generator=g)
        view_b = (view_a + 1 + torch.randint(self.num_views - 1, (n,), generator=g)) % (
            self.num_views
        )
        return torch.stack([objects, view_a, view_b], 1).numpy()

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[list[tuple[int, int, int]]]:
        epoch, first = divmod(self.consumed, self.batches_per_epoch)
        mine = self.epoch_draws(epoch)[self.rank :: self.world_size]
        for b in range(first, self.batches_per_epoch):
            rows = mine[b * self.batch_size : (b + 1) * self.batch_size]
            yield [tuple(r) for r in rows.tolist()]

    def state_dict(self) -> dict[str, int]:
        return {"consumed_batches": self.consumed, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.consumed = int(state["consumed_batches"])


class ResumableDataLoader(DataLoader):
    """A DataLoader whose position is saved in (and restored from) Lightning checkpoints:
    it delegates ``state_dict``/``load_state_dict`` to its :class:`TwoViewBatchSampler`."""

    def state_dict(self) -> dict[str, int]:
        return self.batch_sampler.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.batch_sampler.load_state_dict(state)
