"""A deterministic generator of a small Kaggle-format steel dataset for demos, tests and CI.

The real Severstal data cannot be redistributed, so the course ships this generator instead.
It writes ``train.csv`` (ImageId,ClassId,EncodedPixels) and 256x1600 grayscale JPEGs whose
defects mirror the real data's statistics: about half the images are defect-free; among
defect regions class 3 (long scratches) is by far the most frequent, class 4 (large dark
patches) the largest, class 1 (pitting) tiny and fragmented into many dots, class 2 small and rare.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from .rle import SEVERSTAL_SHAPE, rle_encode
from .severstal import LABELS_CSV

#: Share of defect images whose main defect is class 1..4 (real Severstal: about 13 / 4 / 72 / 11 %).
CLASS_WEIGHTS = np.array([0.14, 0.05, 0.69, 0.12])
DEFECT_FREE_SHARE = 0.47
SECOND_CLASS_SHARE = 0.08


def _steel_background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Float32 gray steel texture: rolling streaks along the strip, slow shading, grain noise."""
    height, width = shape
    streaks = cv2.resize(rng.normal(0, 1, (height, width // 32)).astype(np.float32), (width, height),
                         interpolation=cv2.INTER_CUBIC)
    shading = cv2.resize(rng.normal(0, 1, (4, 8)).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 1, shape).astype(np.float32)
    image = rng.uniform(85, 125) + 6 * streaks + 10 * shading + 4 * grain
    if rng.random() < 0.2:  # the strip ends inside the frame: a dark band on one side, as in real images
        band = int(rng.integers(80, 500))
        cols = slice(0, band) if rng.random() < 0.5 else slice(width - band, width)
        image[:, cols] = rng.uniform(10, 30) + 3 * grain[:, cols]
    return image


def _random_polygon(rng: np.random.Generator, center: tuple[float, float], radii: tuple[float, float],
                    roughness: float, n: int = 24) -> np.ndarray:
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    scale = 1 + roughness * rng.uniform(-1, 1, n)
    points = np.stack([center[0] + radii[0] * scale * np.cos(angles),
                       center[1] + radii[1] * scale * np.sin(angles)], axis=1)
    return np.round(points).astype(np.int32)


def _draw_class1(rng, mask, height, width):
    """Pitting: a loose cluster of 4-14 tiny dots."""
    cx, cy = rng.uniform(40, width - 40), rng.uniform(20, height - 20)
    for _ in range(int(rng.integers(4, 15))):
        x, y = cx + rng.normal(0, 18), cy + rng.normal(0, 12)
        cv2.ellipse(mask, (int(x), int(y)), (int(rng.integers(3, 8)), int(rng.integers(3, 8))), 0, 0, 360, 1, -1)


def _draw_class2(rng, mask, height, width):
    """A small compact blob, 10-30 px, elongated across the strip."""
    center = (rng.uniform(30, width - 30), rng.uniform(25, height - 25))
    cv2.fillPoly(mask, [_random_polygon(rng, center, (rng.uniform(5, 12), rng.uniform(10, 22)), 0.3)], 1)


def _draw_class3(rng, mask, height, width):
    """1-3 long scratches: thick polylines a few hundred pixels long."""
    for _ in range(int(rng.integers(1, 4))):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        angle = rng.normal(0, 0.35) + (np.pi / 2 if rng.random() < 0.3 else 0)
        length = rng.uniform(120, 600)
        steps = np.linspace(0, 1, 8)[:, None]
        points = np.concatenate([x0 + steps * length * np.cos(angle), y0 + steps * length * np.sin(angle)], axis=1)
        points += rng.normal(0, 4, points.shape)
        cv2.polylines(mask, [np.round(points).astype(np.int32)], False, 1, int(rng.integers(8, 18)))


def _draw_class4(rng, mask, height, width):
    """A large rough dark patch covering up to a quarter of the image height-by-width."""
    center = (rng.uniform(100, width - 100), rng.uniform(60, height - 60))
    radii = (rng.uniform(50, 200), rng.uniform(40, 110))
    cv2.fillPoly(mask, [_random_polygon(rng, center, radii, 0.25, n=40)], 1)


_DRAWERS = (_draw_class1, _draw_class2, _draw_class3, _draw_class4)
#: Gray-level change of each class's defect (dark pits, bright blobs, bright scratches, dark patches).
_CONTRAST = (-80.0, 80.0, 70.0, -65.0)


def make_demo_image(rng: np.random.Generator, shape: tuple[int, int] = SEVERSTAL_SHAPE
                    ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """One synthetic strip image and its per-class masks.

    Returns:
        image: uint8 (height, width).
        masks: {class_id: bool (height, width)} for the classes present (empty when defect-free).
    """
    height, width = shape
    image = _steel_background(rng, shape)
    masks: dict[int, np.ndarray] = {}
    if rng.random() >= DEFECT_FREE_SHARE:
        classes = [int(rng.choice(4, p=CLASS_WEIGHTS)) + 1]
        if rng.random() < SECOND_CLASS_SHARE:
            classes.append(int(rng.choice(4, p=CLASS_WEIGHTS)) + 1)
        for class_id in sorted(set(classes)):
            mask = np.zeros(shape, dtype=np.uint8)
            _DRAWERS[class_id - 1](rng, mask, height, width)
            masks[class_id] = mask.astype(bool)
            texture = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 2)
            image[masks[class_id]] += _CONTRAST[class_id - 1] * (1 + 0.3 * texture[masks[class_id]])
    return np.clip(image, 0, 255).astype(np.uint8), masks


def generate_demo_dataset(root: str | Path, n_images: int = 400, seed: int = 0, quality: int = 92) -> Path:
    """Write a Kaggle-format demo dataset: ``root/train.csv`` and ``root/train_images/*.jpg``.

    The same ``n_images`` and ``seed`` always give the same files. Returns ``root``.
    """
    root = Path(root)
    image_dir = root / "train_images"
    image_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_images):
        image_id = f"demo{i:05d}.jpg"
        image, masks = make_demo_image(rng)
        cv2.imwrite(str(image_dir / image_id), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        rows += [(image_id, class_id, rle_encode(mask)) for class_id, mask in masks.items()]
    table = pd.DataFrame(rows, columns=["ImageId", "ClassId", "EncodedPixels"])
    table.to_csv(root / f"{LABELS_CSV}.tmp", index=False)
    (root / f"{LABELS_CSV}.tmp").replace(root / LABELS_CSV)  # the CSV appears last: its presence means complete
    return root
