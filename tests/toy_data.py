"""A toy segmentation task the training tests share: learnable in a few CPU steps."""
import torch
from torch.utils.data import TensorDataset


def bright_squares(n_images: int, width: int, step: int) -> tuple[TensorDataset, TensorDataset]:
    """Bright 12x12 squares labelled 1 on dark noise, image i's square starting at column ``step * i``:
    (training set of ``n_images`` images (1, 32, ``width``) in [0, 1] with (32, ``width``) masks,
    validation set of its first 4)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(n_images, 1, 32, width, generator=generator) * 0.2
    masks = torch.zeros(n_images, 32, width, dtype=torch.long)
    for i in range(n_images):
        images[i, 0, 8:20, step * i:step * i + 12] = 0.9
        masks[i, 8:20, step * i:step * i + 12] = 1
    return TensorDataset(images, masks), TensorDataset(images[:4], masks[:4])
