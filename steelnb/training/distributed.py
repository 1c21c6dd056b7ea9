"""Data-parallel training across processes with ``torchrun`` (DistributedDataParallel), and its helpers.

``torchrun --nproc_per_node=N -m steelnb train`` starts N processes; :func:`init_from_env` joins them
into one process group (NCCL on GPUs, gloo on CPUs) and ``train.fit`` then:

* splits each global batch of ``config.batch_size`` images evenly across the ranks with a
  ``DistributedSampler`` (seeded: every rank sees the same permutation, a different slice of it);
* averages gradients (DDP) and, on GPUs, batch-norm statistics (SyncBatchNorm; on CPUs each rank
  normalises over its own slice, since PyTorch's SyncBatchNorm runs on GPUs only);
* shards validation and gathers the pixel counts, so every rank computes the same metrics;
* writes checkpoints and figures on rank 0 only, saving every rank's RNG state so a resumed run
  continues exactly.

Without ``torchrun`` (or with one process) none of this is used.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class World:
    """This process's place in the process group: ``rank`` of ``size`` (0 of 1 without one)."""

    rank: int = 0
    size: int = 1

    @property
    def active(self) -> bool:
        """Whether training is spread over a process group (also a group of one, used in tests)."""
        return dist.is_available() and dist.is_initialized()

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints, figures and output."""
        return self.rank == 0


def current_world() -> World:
    """The process group this process belongs to, or a world of one."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def init_from_env() -> World:
    """Join the process group described by torchrun's environment (``WORLD_SIZE`` > 1), else do nothing.

    On CUDA each process takes the GPU ``LOCAL_RANK`` and the NCCL backend; on CPU gloo.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return current_world()


def sum_across(values: list[float]) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (unchanged without a process group)."""
    if not current_world().active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather_objects(obj: Any) -> list[Any]:
    """``obj`` of every rank, in rank order (``[obj]`` without a process group)."""
    if not current_world().active:
        return [obj]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def from_main(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (``obj`` itself without a process group)."""
    if not current_world().active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait for every rank (nothing without a process group)."""
    if current_world().active:
        dist.barrier()


def parallel_model(model: nn.Module, device: torch.device, world: World) -> nn.Module:
    """The module to train under torchrun: DistributedDataParallel around ``model``, with its batch norms
    made SyncBatchNorm on GPUs (statistics over the global batch; PyTorch's SyncBatchNorm needs CUDA, so on
    CPUs each process keeps its own). ``model`` itself unchanged when not distributed."""
    if not world.active:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
