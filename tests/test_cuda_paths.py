"""Every CUDA-only decision of training that can be checked without a GPU: the gradient scaler and its
checkpointed state, pinned memory, worker seeds, SyncBatchNorm under torchrun, cuDNN autotuning and the
profile a GPU machine gets."""
import torch
from torch import nn
from torch.utils.data import Dataset
from toy_data import bright_squares

import steelnb.training.distributed as distributed_module
import steelnb.training.loop as train_module
from steelnb.course.profile import current_profile
from steelnb.models import build_model
from steelnb.training.checkpoint import load_checkpoint
from steelnb.training.config import TrainConfig
from steelnb.training.device import prepare_device
from steelnb.training.distributed import World, parallel_model
from steelnb.training.loop import fit, make_loaders, seed_epoch
from steelnb.training.precision import make_grad_scaler

CUDA, CPU = torch.device("cuda", 0), torch.device("cpu")


def test_grad_scaler_scales_float16_on_cuda_only(monkeypatch):
    monkeypatch.setattr("torch.cuda.amp.common.amp_definitely_not_available", lambda: False)
    assert make_grad_scaler(CUDA, amp=True).is_enabled()
    assert not make_grad_scaler(CUDA, amp=False).is_enabled()
    assert not make_grad_scaler(CPU, amp=True).is_enabled()  # bfloat16 has float32's range: nothing to scale


def test_grad_scaler_state_is_checkpointed_and_restored(tmp_path, monkeypatch):
    train, val = bright_squares(8, width=32, step=2)
    scales = iter([1024.0, 8.0])  # the first run's scaler, then a fresh one that resuming must overwrite
    monkeypatch.setattr(train_module, "make_grad_scaler",
                        lambda device, amp: torch.amp.GradScaler("cpu", init_scale=next(scales), growth_interval=10**6))

    def model():
        torch.manual_seed(0)
        return build_model("deeplabv3plus", "resnet18", num_classes=2, pretrained=False)
    fit(model(), train, val, tmp_path / "run", TrainConfig(epochs=1, batch_size=4), 2, progress=False)
    assert float(load_checkpoint(tmp_path / "run" / "last.pt")["scaler"]["scale"]) == 1024.0
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    state["config"]["epochs"] = 2  # continue the same run for one more epoch
    torch.save(state, tmp_path / "run" / "last.pt")
    fit(model(), train, val, tmp_path / "run", TrainConfig(epochs=2, batch_size=4), 2, progress=False)
    assert float(load_checkpoint(tmp_path / "run" / "last.pt")["scaler"]["scale"]) == 1024.0  # not the fresh 8


def test_pinned_memory_only_where_cuda_is():
    train, val = bright_squares(8, width=32, step=2)
    for device, pinned in ((CUDA, True), (CPU, False)):
        loader, val_loader, _ = make_loaders(train, val, TrainConfig(batch_size=4), device, World())
        assert loader.pin_memory is pinned and val_loader.pin_memory is pinned


class _RandomItems(Dataset):
    """Each item is a random number drawn in the worker that loads it, with its index."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, item: int):
        return torch.rand(1), torch.tensor(item)


def _epoch_batches(epoch: int, seed: int = 0) -> list[tuple]:
    loader, _, sampler = make_loaders(_RandomItems(), _RandomItems(), TrainConfig(batch_size=4, num_workers=2,
                                                                                   seed=seed), CPU, World())
    seed_epoch(loader, sampler, seed, epoch)
    return [(values.tolist(), items.tolist()) for values, items in loader]


def test_worker_seeds_and_shuffle_follow_seed_and_epoch():
    torch.manual_seed(1)
    first = _epoch_batches(epoch=3)
    torch.manual_seed(2)  # another global RNG state: no influence
    assert _epoch_batches(epoch=3) == first
    assert _epoch_batches(epoch=4) != first and _epoch_batches(epoch=3, seed=1) != first


class _ActiveWorld(World):
    """Rank 0 of 2 processes, as under torchrun."""

    @property
    def active(self) -> bool:
        return True


class _FakeDDP(nn.Module):
    def __init__(self, module, device_ids=None):
        super().__init__()
        self.module, self.device_ids = module, device_ids


def test_sync_batchnorm_on_gpus_under_torchrun_only(monkeypatch):
    monkeypatch.setattr(distributed_module, "DistributedDataParallel", _FakeDDP)
    active = _ActiveWorld(rank=0, size=2)

    def batch_norms(model):
        return {type(m).__name__ for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    on_gpus = parallel_model(build_model("baseline", "resnet18", 2, pretrained=False), CUDA, active)
    assert batch_norms(on_gpus.module) == {"SyncBatchNorm"} and on_gpus.device_ids == [0]
    on_cpus = parallel_model(build_model("baseline", "resnet18", 2, pretrained=False), CPU, active)
    assert batch_norms(on_cpus.module) == {"BatchNorm2d"} and on_cpus.device_ids is None
    alone = build_model("baseline", "resnet18", 2, pretrained=False)
    assert parallel_model(alone, CUDA, World()) is alone


def test_cudnn_autotuner_on_cuda_only(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    prepare_device(CPU)
    assert torch.backends.cudnn.benchmark is False
    prepare_device(CUDA)
    assert torch.backends.cudnn.benchmark is True


def test_a_gpu_machine_gets_the_full_profile(monkeypatch):
    for name in ("STEELNB_PROFILE", "STEELNB_SMOKE", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    profile = current_profile()
    assert profile.name == "full" and profile.paper_backbones and profile.image_size == (256, 256)
    assert profile.recipe.batch_size == 16 and profile.recipe.num_workers >= 1 and profile.recipe.optimizer == "sgd"
