from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from steelnb.data.augment import (
    apply_joint,
    augmentation_probabilities,
    class_shares,
    plan_augmented_copies,
    random_choice_transform,
)
from steelnb.data.demo import generate_demo_dataset
from steelnb.data.index import SegmentationIndex
from steelnb.data.layouts import open_dataset
from steelnb.data.split import SPLIT_FRACTIONS, SPLITS, hash_fraction, hashed_split
from steelnb.data.torch_dataset import SteelDataset
from steelnb.training.config import TrainConfig
from steelnb.training.loop import fit, seed_epoch


def test_demo_generator_is_deterministic_and_mirrors_the_paper(tmp_path, demo_root):
    again = generate_demo_dataset(tmp_path / "again", n_images=12, seed=3)
    assert (again / "train.csv").read_text() == (demo_root / "train.csv").read_text()
    index = open_dataset(generate_demo_dataset(tmp_path / "big", n_images=200, seed=0))
    presence = index.presence()
    assert 0.35 < (~presence.any(axis=1)).mean() < 0.6  # about half defect-free
    counts = presence.sum(axis=0)
    assert counts[2] == counts.max() and counts[1] == counts.min()  # class 3 most, class 2 least frequent
    from steelnb.data.stats import class_statistics
    stats = class_statistics(index)
    assert stats.loc[1, "segments_per_image"] > 3  # class 1 fragmented into many dots
    assert stats.loc[4, "median_segment_px"] > 10 * stats.loc[1, "median_segment_px"]  # class 4 large


def _id_index(ids: list[str]) -> SegmentationIndex:
    """An index of ids only: the split reads nothing else."""
    table = pd.DataFrame({"path": ["x"] * len(ids)}, index=pd.Index(ids, name="image_id"))
    return SegmentationIndex("ids", Path("."), ("a",), None, table)


def test_hash_fraction_is_a_fixed_number_per_seed_and_id():
    # SHA-256 of "0:0002cc93b.jpg", its first 8 bytes as a big-endian integer over 2**64
    assert hash_fraction(0, "0002cc93b.jpg") == 0.9043464933956901  # >= 0.9: a test image
    assert hash_fraction(1, "0002cc93b.jpg") == 0.11748385715510294  # another seed, another split (train)
    split = hashed_split(_id_index(["0002cc93b.jpg"] + [f"{i}.jpg" for i in range(40)]))
    assert "0002cc93b.jpg" in split["test"]


def test_hashed_split_is_a_partition_with_the_papers_shares_in_every_stratum():
    ids = [f"{i:05d}.jpg" for i in range(20_000)]
    split = hashed_split(_id_index(ids), seed=0)
    assert hashed_split(_id_index(ids), seed=0) == split
    assert sorted(split["train"] + split["val"] + split["test"]) == ids  # a partition
    strata = {image_id: i % 4 for i, image_id in enumerate(ids)}  # any grouping of the images: 5,000 each
    for name, share in zip(SPLITS, SPLIT_FRACTIONS, strict=True):
        assert abs(len(split[name]) / len(ids) - share) < 0.01  # binomial sd: at most 0.003
        for stratum in range(4):
            members = sum(strata[i] == stratum for i in split[name])
            assert abs(members / 5000 - share) < 0.025  # each stratum gets its share too (sd at most 0.006)


def test_correcting_one_image_or_adding_images_moves_no_other_image(tmp_path):
    # the bug this replaces: one random stream ran through all strata, so one image changing stratum (a
    # corrected mask) re-drew many others, and a reloaded run was scored on images it had trained on
    index = open_dataset(generate_demo_dataset(tmp_path / "s", n_images=60, seed=1))
    before = hashed_split(index)
    csv = tmp_path / "s" / "train.csv"
    rows = pd.read_csv(csv)
    corrected = rows.iloc[0].ImageId
    rows = rows[rows.ImageId != corrected]  # its defect was a mistake: now defect-free, another stratum
    rows.to_csv(csv, index=False)
    after = hashed_split(open_dataset(tmp_path / "s"))
    assert after == before
    more = hashed_split(_id_index(sorted(index.image_ids + ["new1.jpg", "new2.jpg"])))
    assert {name: [i for i in ids if not i.startswith("new")] for name, ids in more.items()} == before


def test_split_too_small_is_a_clear_error(demo_root):
    index = open_dataset(demo_root)
    index.table = index.table.iloc[:2]  # two images cannot fill three splits
    with pytest.raises(ValueError, match="split of .* is empty"):
        hashed_split(index)


def test_weighted_augmentation_probabilities_hand_computed():
    # 4 images: defect-free, defect-free, class 1, class 1 + class 2 ; C = 2
    presence = np.array([[0, 0], [0, 0], [1, 0], [1, 1]], dtype=bool)
    shares = class_shares(presence)
    np.testing.assert_allclose(shares, [2 / 5, 2 / 5, 1 / 5])
    np.testing.assert_allclose(augmentation_probabilities(presence, shares), [0.6, 0.6, 0.6, 0.8])
    rng_draws = np.random.default_rng(7).random(4)
    np.testing.assert_array_equal(plan_augmented_copies(presence, shares, seed=7),
                                  np.flatnonzero(rng_draws < [0.6, 0.6, 0.6, 0.8]))


def test_copy_rate_of_each_image_group_is_one_minus_its_class_share():
    # 1000 defect-free, 1000 class-1, 500 class-2 and 500 class-1+2 images: labels 1000 / 1500 / 1000,
    # so p = (2/7, 3/7, 2/7) and the copy probability is 5/7, 4/7, 5/7 and max(4/7, 5/7) = 5/7.
    presence = np.array([[0, 0]] * 1000 + [[1, 0]] * 1000 + [[0, 1]] * 500 + [[1, 1]] * 500, dtype=bool)
    shares = class_shares(presence)
    np.testing.assert_allclose(shares, [2 / 7, 3 / 7, 2 / 7])
    copied = np.zeros(len(presence), dtype=bool)
    copied[plan_augmented_copies(presence, shares, seed=3)] = True
    for rows, expected in ((slice(0, 1000), 5 / 7), (slice(1000, 2000), 4 / 7), (slice(2000, 2500), 5 / 7),
                           (slice(2500, 3000), 5 / 7)):
        rate, n = copied[rows].mean(), len(copied[rows])
        assert abs(rate - expected) < 4 * np.sqrt(expected * (1 - expected) / n), (rows, rate, expected)


def test_joint_transforms_keep_mask_labels_and_alignment():
    image = torch.zeros(1, 64, 64, dtype=torch.uint8)
    mask = torch.zeros(64, 64, dtype=torch.uint8)
    image[0, :8] = 200  # a bright band in the top rows, labelled 3
    mask[:8] = 3
    flip = random_choice_transform((64, 64), weights=(0, 1, 0))
    out_image, out_mask = apply_joint(flip, image, mask)
    assert (out_mask[-8:] == 3).all() and (out_image[0, -8:] == 200).all()
    image[0], mask[:] = 0, 0
    image[0, 24:40], mask[24:40] = 200, 3  # a middle band survives any 48x48 crop
    torch.manual_seed(0)
    for weights in ((1, 0, 0), (0, 0, 1)):
        out_image, out_mask = apply_joint(random_choice_transform((64, 64), weights), image, mask)
        assert out_mask.shape == (64, 64)
        assert set(out_mask.unique().tolist()) <= {0, 3}  # nearest: no blended labels
        assert (out_mask == 3).sum() > 200
        assert (out_image[0][out_mask == 3] > 100).float().mean() > 0.9  # mask still on the band


def test_dataset_modes(demo_root):
    index = open_dataset(demo_root)
    ids = index.image_ids[:4]
    image, mask = SteelDataset(index, ids, mode="resize", size=(256, 256))[0]
    assert image.shape == (1, 256, 256) and mask.shape == (256, 256)
    assert image.dtype == torch.float32 and 0 <= image.min() and image.max() <= 1 and mask.dtype == torch.int64
    image, mask = SteelDataset(index, ids, size=None)[0]
    assert image.shape == (1, 256, 1600)
    np.testing.assert_array_equal(mask.numpy(), index.mask(ids[0]))
    image, mask = SteelDataset(index, ids, mode="crop", size=None, crop_width=512)[0]
    assert image.shape == (1, 256, 512) and mask.shape == (256, 512)
    image, mask = SteelDataset(index, ids, mode="crop", size=(128, 800), crop_width=256, augment_weights=(1, 1, 1))[-1]
    assert image.shape == (1, 128, 256) and mask.shape == (128, 256)
    with pytest.raises(ValueError, match="empty split"):
        SteelDataset(index, [], size=(256, 256))


def test_square_crops_are_windows_of_the_whole_image(demo_root):
    index = open_dataset(demo_root)
    whole_image, whole_mask = SteelDataset(index, index.image_ids[:1], size=(200, 200))[0]
    crops = SteelDataset(index, index.image_ids[:1], mode="crop", size=(200, 200), crop_width=128, crop_height=96)
    torch.manual_seed(0)
    corners = set()
    for _ in range(5):
        image, mask = crops[0]
        assert image.shape == (1, 96, 128) and mask.shape == (96, 128)
        windows = [(top, left) for top in range(200 - 96 + 1) for left in range(200 - 128 + 1)
                   if torch.equal(whole_image[:, top:top + 96, left:left + 128], image)]
        assert any(torch.equal(whole_mask[top:top + 96, left:left + 128], mask) for top, left in windows)
        corners.update(windows)
    assert len(corners) > 1  # the window moves
    with pytest.raises(ValueError, match="a 256x128 crop does not fit images of 200x200"):
        SteelDataset(index, index.image_ids[:1], mode="crop", size=(200, 200), crop_width=128, crop_height=256)


def test_zoomed_items_are_windows_of_the_image_at_the_zoomed_size(demo_root):
    index = open_dataset(demo_root)
    ids = index.image_ids[:1]
    original = torch.from_numpy(index.image(ids[0])).float().div(255)[None]
    original_mask = torch.from_numpy(index.mask(ids[0])).long()
    # zoom 2 of a 128x800 input is the 256x1600 original itself: every item is a 128x800 window of it
    twice = SteelDataset(index, ids, size=(128, 800), zoom=(2.0, 2.0), cache=True)
    torch.manual_seed(0)
    corners = set()
    for _ in range(4):
        image, mask = twice[0]
        assert image.shape == (1, 128, 800) and mask.shape == (128, 800)
        windows = [(top, left) for top in range(129) for left in range(801)
                   if torch.equal(original[:, top, left:left + 800], image[:, 0])
                   and torch.equal(original[:, top:top + 128, left:left + 800], image)]
        assert any(torch.equal(original_mask[top:top + 128, left:left + 800], mask) for top, left in windows)
        corners.update(windows)
    assert len(corners) > 1  # the window moves
    # zoom 1 is the whole image at the input size, as without zoom
    plain_image, plain_mask = SteelDataset(index, ids, size=(128, 800))[0]
    image, mask = SteelDataset(index, ids, size=(128, 800), zoom=(1.0, 1.0))[0]
    assert torch.equal(image, plain_image) and torch.equal(mask, plain_mask)
    sizes = {SteelDataset(index, ids, size=(128, 800), zoom=(1.0, 1.5))[0][0].shape for _ in range(3)}
    assert sizes == {(1, 128, 800)}
    for zoom, mode in (((0.5, 1.0), "resize"), ((1.5, 1.2), "resize"), ((1.0, 1.5), "crop")):
        with pytest.raises(ValueError, match=r"zoom .* needs mode 'resize' and 1 <= lowest <= highest"):
            SteelDataset(index, ids, size=(128, 800), mode=mode, crop_width=128, zoom=zoom)


def test_dataset_with_augmentation_adds_copies(demo_root):
    index = open_dataset(demo_root)
    plain = SteelDataset(index, index.image_ids, size=(256, 256))
    augmented = SteelDataset(index, index.image_ids, size=(256, 256), augment_weights=(1, 1, 1), seed=0)
    assert len(augmented) > len(plain)
    assert augmented.label_presence().shape == (len(augmented), 5)
    image, mask = augmented[len(augmented) - 1]
    assert image.shape == (1, 256, 256) and mask.max() <= 4


def mirror_dims(image: torch.Tensor, plain: torch.Tensor) -> tuple[int, ...]:
    """Which flips make ``plain`` into ``image``: (), (-1,), (-2,) or (-1, -2); fails if none does."""
    matches = [dims for dims in ((), (-1,), (-2,), (-1, -2)) if torch.equal(image, plain.flip(dims) if dims else plain)]
    assert len(matches) == 1, "every item is the image or one of its three mirror images"
    return matches[0]


def test_random_flips_give_the_four_mirror_images_with_aligned_masks(demo_root):
    index = open_dataset(demo_root)
    ids = index.image_ids[:1]
    plain_image, plain_mask = SteelDataset(index, ids, size=(64, 400))[0]
    flipped = SteelDataset(index, ids, size=(64, 400), flips="random", cache=True)
    torch.manual_seed(0)
    seen = set()
    for _ in range(40):
        image, mask = flipped[0]
        dims = mirror_dims(image, plain_image)
        assert torch.equal(mask, plain_mask.flip(dims) if dims else plain_mask)  # the mask flipped with it
        seen.add(dims)
    assert len(seen) == 4  # 40 draws of 4 equally likely outcomes miss one with probability < 1e-4
    flipped.flips = "none"
    assert torch.equal(flipped[0][0], plain_image)  # the flips never reached the cached image


def test_cycled_flips_show_every_item_in_each_orientation_once_in_four_epochs(demo_root):
    index = open_dataset(demo_root)
    ids = index.image_ids[:6]
    plain = SteelDataset(index, ids, size=(64, 400))
    cycled = SteelDataset(index, ids, size=(64, 400), flips="cycled", seed=3)
    torch.manual_seed(0)
    firsts = []
    for item in range(len(ids)):
        plain_image, plain_mask = plain[item]
        seen = []
        for epoch in range(5, 9):  # any four consecutive epochs
            cycled.set_epoch(epoch)
            image, mask = cycled[item]
            dims = mirror_dims(image, plain_image)
            assert torch.equal(mask, plain_mask.flip(dims) if dims else plain_mask)
            assert torch.equal(cycled[item][0], image)  # reading it again in the same epoch: the same orientation
            seen.append(dims)
        assert sorted(seen) == [(), (-2,), (-1,), (-1, -2)]
        assert seen[0] != seen[1] and (-1 in seen[0]) != (-1 in seen[1])  # left-right alternates every epoch
        firsts.append(seen[0])
    assert len(set(firsts)) > 1  # the items start in different orientations (drawn once with the seed)


def test_cycled_flips_follow_the_epoch_with_and_without_worker_processes(demo_root):
    index = open_dataset(demo_root)
    ids = index.image_ids[:4]
    config = TrainConfig(batch_size=2, flip_augment=True, cycled_flips=True)
    batches = {}
    for workers in (0, 2):
        dataset = SteelDataset(index, ids, size=(32, 200), flips=config.flip_order(), cache=True)
        loader = DataLoader(dataset, batch_size=2, num_workers=workers)
        for epoch in (1, 2):
            seed_epoch(loader, None, seed=0, epoch=epoch)
            batches[workers, epoch] = torch.cat([images for images, _ in loader])
    assert torch.equal(batches[0, 1], batches[2, 1]) and torch.equal(batches[0, 2], batches[2, 2])
    assert not torch.equal(batches[0, 1], batches[0, 2])  # each epoch turns every item on to its next orientation


def test_cycled_flips_need_the_flips_on_and_a_set_that_follows_the_epoch(tmp_path):
    assert TrainConfig(flip_augment=True, cycled_flips=True).flip_order() == "cycled"
    assert TrainConfig(flip_augment=True).flip_order() == "random" and TrainConfig().flip_order() == "none"
    with pytest.raises(ValueError, match="needs flip_augment"):
        TrainConfig(cycled_flips=True).flip_order()
    images = TensorDataset(torch.zeros(4, 1, 8, 8), torch.zeros(4, 8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="a TensorDataset has none"):
        fit(torch.nn.Identity(), images, images, tmp_path / "run", TrainConfig(flip_augment=True, cycled_flips=True), 2)
    assert not (tmp_path / "run").exists()  # refused before the run folder was made
