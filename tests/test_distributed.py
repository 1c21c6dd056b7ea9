"""DistributedDataParallel on CPU (gloo, 2 processes) against one process on the same global batch.

Batch norm is per rank on CPUs (PyTorch's SyncBatchNorm runs on GPUs only), so 2 ranks of 4 images
normalise differently from 1 rank of 8: the loss histories agree within 5% (relative), not exactly.
The bare-bone baseline is used because it has no dropout, whose masks would differ too.
"""
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from toy_data import bright_squares

from steelnb.models import build_model
from steelnb.training.checkpoint import load_checkpoint
from steelnb.training.config import TrainConfig
from steelnb.training.loop import fit

# SGD, not Adam: a wrong gradient scale (summed instead of averaged over ranks) changes the losses
CONFIG = TrainConfig(epochs=3, batch_size=8, loss="ce", optimizer="sgd", lr=0.02, amp=False)


def _toy_sets():
    """16 training images, 4 validation images."""
    return bright_squares(16, width=48, step=2)


def _train(rank, world_size, folder, run, rendezvous):
    # a fresh rendezvous file for every group: a file left by the previous group must never be read
    dist.init_process_group("gloo", init_method=f"file://{folder}/{rendezvous}", rank=rank, world_size=world_size)
    torch.set_num_threads(1)
    try:
        train, val = _toy_sets()
        torch.manual_seed(0)
        model = build_model("baseline", "resnet18", num_classes=2, pretrained=False)
        history = fit(model, train, val, folder / run, CONFIG, 2, progress=False)
        torch.save({"history": history, "weights": model.state_dict()}, folder / f"{run}-rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _losses(folder, name, rank=0):
    return [h["train_loss"] for h in torch.load(folder / f"{name}-rank{rank}.pt", weights_only=True)["history"]]


@pytest.mark.slow
def test_two_processes_match_one_on_the_same_global_batch_and_resume(tmp_path):
    mp.spawn(_train, args=(1, tmp_path, "one", "rendezvous-one"), nprocs=1)
    mp.spawn(_train, args=(2, tmp_path, "two", "rendezvous-two"), nprocs=2)
    one, two = _losses(tmp_path, "one"), _losses(tmp_path, "two")
    assert len(two) == 3 and two[-1] < two[0]
    assert torch.allclose(torch.tensor(two), torch.tensor(one), rtol=0.05), (one, two)
    assert _losses(tmp_path, "two", rank=1) == two  # every rank records the same history
    rank0, rank1 = (torch.load(tmp_path / f"two-rank{r}.pt", weights_only=True)["weights"] for r in (0, 1))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0 if "running" not in k)  # DDP keeps weights in sync
    assert len(load_checkpoint(tmp_path / "two" / "last.pt")["rng_per_rank"]) == 2

    # resume under DDP: back to the checkpoint after epoch 2, train epoch 3 again: the same history, bit for bit
    (tmp_path / "two" / "previous.pt").replace(tmp_path / "two" / "last.pt")
    (tmp_path / "two-rank0.pt").rename(tmp_path / "first-rank0.pt")
    mp.spawn(_train, args=(2, tmp_path, "two", "rendezvous-resume"), nprocs=2)
    assert _losses(tmp_path, "two") == _losses(tmp_path, "first")
