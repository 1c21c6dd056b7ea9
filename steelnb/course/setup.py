"""What every notebook and ``python -m steelnb`` start with: the profile, the dataset and its split.

One setup for both, so a notebook and a ``!python -m steelnb`` started from it use the same data, the
same runs folder (Google Drive on Colab) and the same split.
"""
from __future__ import annotations

from ..data.index import SegmentationIndex
from ..data.locations import load_course_dataset
from ..data.split import SPLIT_FRACTIONS, SPLITS, hash_fraction, hashed_split
from .colab import prepare_colab
from .profile import Profile, current_profile


def course_split(index: SegmentationIndex, profile: Profile, seed: int = 0) -> dict[str, list[str]]:
    """The hashed split (``SPLIT_FRACTIONS``, the paper's 80/10/10), each part capped to its share of
    ``profile.max_images``: the images of the part with the lowest hash of (seed + 1, id), so that the cap,
    too, keeps an image where it is when other images change."""
    split = hashed_split(index, seed=seed)
    if profile.max_images is None:
        return split
    shares = dict(zip(SPLITS, SPLIT_FRACTIONS, strict=True))

    def capped(name: str, ids: list[str]) -> list[str]:
        by_hash = sorted(ids, key=lambda image_id: hash_fraction(seed + 1, image_id))
        return sorted(by_hash[:max(2, round(shares[name] * profile.max_images))])
    return {name: capped(name, ids) for name, ids in split.items()}


def course_setup(verbose: bool = True) -> tuple[Profile, SegmentationIndex, dict[str, list[str]]]:
    """The run profile, the dataset (real or demo, see ``data.locations``) and its split; the profile's
    figures folder is the demo data's own for the demo data (``Profile.for_dataset``). On Colab, Google
    Drive is mounted first (:func:`colab.prepare_colab`), so that checkpoints survive a disconnect.
    ``verbose`` prints what was chosen (under torchrun, only rank 0 does)."""
    drive_runs = prepare_colab()
    if drive_runs and verbose:
        print(f"Colab: runs and checkpoints go to {drive_runs} on Google Drive.")
    index = load_course_dataset(verbose)
    profile = current_profile().for_dataset(index)
    split = course_split(index, profile)
    if verbose:
        size = profile.input_size(index.image_shape)
        print(f"Profile {profile.name!r}: {profile.training_length()}, input {size[0]}x{size[1]}; split "
              f"{len(split['train'])}/{len(split['val'])}/{len(split['test'])} train/val/test images; "
              f"figures go to {profile.figures_dir}")
    return profile, index, split
