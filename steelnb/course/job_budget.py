"""The main job's wall-clock target: training gets what setup and the test scoring leave of it.

``python -m steelnb`` on the default profile is meant to end within ``Profile.main_job_s`` (20 minutes). A fixed
training budget leaves the end to the machine: setup, the budget's own timing and the test scoring with flip and
multi-scale test-time augmentation took about a minute and a half on a 2-core CPU without native bfloat16, and take
less on a faster CPU and more on a slower one, so a fixed budget either wastes minutes of the target or overruns
it. So, just before training, the main job times its own scoring on a few test images with the untrained
model (the same work as after training), scales that to the whole test split, and trains for what is left of the
target after it and a margin (:func:`training_budget_s`). The training loop then keeps to that budget whatever
the load (``training/budget.py``).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

#: Seconds of the job's target kept free: for the scoring estimate's error, and for what follows the scoring
#: (the results table and two figures, a few seconds).
JOB_MARGIN_S = 60.0

#: Test images whose scoring is timed, after :data:`WARMUP_IMAGES` untimed ones.
TIMED_IMAGES = 32

#: Images scored, untimed, before the timed ones: a first call at a new input size pays for setting up its
#: kernels once, which the whole split's scoring pays once too, not once per image.
WARMUP_IMAGES = 2

#: The least training (seconds) a target leaves: a job whose setup took most of it still trains and scores.
MIN_TRAINING_S = 60.0


def timed_images(image_ids: Sequence[str], timed: int = TIMED_IMAGES, warmup: int = WARMUP_IMAGES) -> list[str]:
    """The images :func:`estimated_seconds` times: the ``timed`` after the first ``warmup`` (all of them when there
    are no more)."""
    ids = list(image_ids)
    return ids[warmup:warmup + timed] or ids


def estimated_seconds(work: Callable[[list[str]], object], image_ids: Sequence[str], timed: int = TIMED_IMAGES,
                      warmup: int = WARMUP_IMAGES, clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds that ``work`` (a function of a list of image ids, e.g. the test scoring) would take on all of
    ``image_ids``: run untimed on the first ``warmup`` of them, then timed on :func:`timed_images`, and scaled by
    the share of the split they are. 0 for no images."""
    ids, sample = list(image_ids), timed_images(image_ids, timed, warmup)
    if not sample:
        return 0.0
    work(ids[:warmup])
    start = clock()
    work(sample)
    return (clock() - start) * len(ids) / len(sample)


def training_budget_s(deadline: float, now: float, scoring_s: float) -> float:
    """Seconds of training that end the job by ``deadline`` (a ``time.perf_counter`` instant) when it is ``now``
    and the scoring after training takes ``scoring_s``: what is left, less :data:`JOB_MARGIN_S`, and at least
    :data:`MIN_TRAINING_S`."""
    return max(MIN_TRAINING_S, deadline - now - scoring_s - JOB_MARGIN_S)


def describe_budget(deadline: float, now: float, scoring_s: float, timed: int) -> str:
    """The training budget a job target leaves (:func:`training_budget_s`), in words, with what it came from."""
    budget = training_budget_s(deadline, now, scoring_s)
    return (f"Job target: {(deadline - now) / 60:.1f} min left, of which about {scoring_s:.0f} s go to the test "
            f"scoring (timed on {timed} test images) and {JOB_MARGIN_S:.0f} s are kept free: {budget / 60:.1f} min "
            "of training.")
