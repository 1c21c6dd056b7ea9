"""The course's verdict on the paper's claims, computed from the committed results (chapter 13).

Each claim is the paper's, with its section; the evidence is a number from a results file of the course's
reference run (``figures/``), with the noise it must clear; the verdict is one of :data:`VERDICTS`. A
difference between two single runs counts only when it exceeds :func:`noise_threshold`, the 95% band of the
difference of two runs that differ in their seed alone, measured by ``benchmarks/main_job.py --seeds``. Speed
and metric definitions need no seeds; they are judged by what the paper itself says.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..env import PROJECT_ROOT
from .paper import PAPER_ITERATIONS_PER_S, PAPER_MIOU
from .profile import REFERENCE_FIGURES

VERDICTS = ("reproduced", "not reproduced", "the paper contradicts itself", "inconclusive")

#: The main job's seed record: one row per seed, the scores of the score line as columns.
SEED_RECORD = PROJECT_ROOT / "benchmarks" / "results" / "main_job_seeds.csv"


def noise_threshold(record: Path = SEED_RECORD, column: str = "test mIoU") -> float:
    """The smallest difference in ``column`` between two single runs that is more than seed noise: 1.96 x the
    standard deviation of such a difference, sqrt(2) x the seeds' sample standard deviation in ``record``.

    Raises:
        FileNotFoundError: without the record (run ``benchmarks/main_job.py --seeds 3 --csv ...``).
        ValueError: the record has fewer than two seeds, which measure no spread.
    """
    seeds = pd.read_csv(record)
    if len(seeds) < 2:
        raise ValueError(f"{record} holds {len(seeds)} seed(s); a spread needs at least two")
    return 1.96 * math.sqrt(2) * float(seeds[column].std(ddof=1))


def _gap(a: float, b: float, threshold: float, larger: str, smaller: str) -> tuple[str, bool | None]:
    """``a - b`` in words with the threshold; True if ``a`` is larger beyond noise, False if smaller beyond it,
    None if the gap is inside the noise."""
    gap = a - b
    words = f"{larger} {a:.3f} vs {smaller} {b:.3f}: gap {gap:+.3f}, seed noise ±{threshold:.3f}"
    return words, (None if abs(gap) <= threshold else bool(gap > 0))


def verdict_table(figures: Path = REFERENCE_FIGURES, record: Path = SEED_RECORD) -> pd.DataFrame:
    """One row per claim of the paper: the claim, where it makes it, our evidence (file and numbers with the
    seed noise) and the verdict, from the results tables in ``figures`` and the seed ``record``."""
    table2 = pd.read_csv(figures / "table2_results.csv", index_col=0)
    speed = pd.read_csv(figures / "table1_speed.csv", index_col=0)
    losses = pd.read_csv(figures / "table_losses_mixup.csv", index_col=0)
    noise = noise_threshold(record)
    miou = table2["mIoU @orig"]
    rows = []

    words, beats = _gap(miou["resnet101"], miou["baseline"], noise, "DeepLabV3+", "baseline")
    rows.append(("DeepLabV3+ beats the bare-bone baseline (0.57 vs 0.29)", "Table 2",
                 f"table2_results.csv, per-image mIoU: {words}",
                 "reproduced" if beats else ("inconclusive" if beats is None else "not reproduced")))

    words, differs = _gap(miou["densenet201"], miou["resnet101"], noise, "DenseNet", "ResNet")
    rows.append((f"DenseNet201 is far weaker ({PAPER_MIOU['densenet201']} vs {PAPER_MIOU['resnet101']})",
                 "abstract, Table 2", f"table2_results.csv (CPU stand-ins): {words}; epochs "
                 f"{table2.loc['densenet201', 'epochs']:.0f} vs {table2.loc['resnet101', 'epochs']:.0f}",
                 "reproduced" if differs is False else "not reproduced"))

    words, differs = _gap(miou["efficientnet_b1"], miou["resnet101"], noise, "EfficientNet", "ResNet")
    rows.append((f"EfficientNet-B1 scores as well as ResNet101 ({PAPER_MIOU['efficientnet_b1']} each)",
                 "abstract, Table 2", f"table2_results.csv (CPU stand-ins): {words}; epochs "
                 f"{table2.loc['efficientnet_b1', 'epochs']:.0f} vs {table2.loc['resnet101', 'epochs']:.0f}",
                 "reproduced" if differs is None else "not reproduced"))

    fastest_paper = max(PAPER_ITERATIONS_PER_S, key=PAPER_ITERATIONS_PER_S.get)
    ours = speed["train it/s"].astype(float)
    rows.append(("DeepLabV3+ with ResNet101 trains fastest", "abstract",
                 f"its own Table 1: ResNet101 slowest ({PAPER_ITERATIONS_PER_S['resnet101']} it/s), {fastest_paper} "
                 f"fastest ({PAPER_ITERATIONS_PER_S[fastest_paper]}); table1_speed.csv on a CPU: fastest "
                 f"{ours.idxmax()} ({ours.max():.2f} it/s), ResNet {ours['resnet101']:.2f}",
                 "the paper contradicts itself"))

    ce, weighted, mixup = (losses.loc[name, "mIoU @orig"] for name in ("CE (paper)", "weighted CE", "mixup"))
    epochs = "/".join(f"{e:.0f}" for e in sorted(set(losses["epochs"].dropna())))
    short = (f"{epochs} epoch(s) and one seed each: the main job's seed noise does not cover runs this short, whose "
             "own spread was not measured")
    for claim, name, value in (("a weighted loss should help (future work)", "weighted CE", weighted),
                               ("mixup should help (future work)", "mixup", mixup)):
        words, _ = _gap(value, ce, noise, name, "CE")
        rows.append((claim, "conclusion", f"table_losses_mixup.csv, {short}: {words}", "inconclusive"))

    empty = miou["all-empty prediction"]
    rows.append((f"per-image 'mean IoU' of {min(PAPER_MIOU.values())}-{max(PAPER_MIOU.values())}", "Table 2",
                 f"under a per-image mIoU with background, predicting nothing scores {empty:.3f} here and at least "
                 "0.470 on Severstal, above the paper's baseline: its metric must be another, and it does not say "
                 "which", "inconclusive"))
    return pd.DataFrame(rows, columns=["the paper's claim", "where", "our evidence", "verdict"])
