"""The lessons real data cannot show, from the course's committed demo figures.

NEU-Seg's images are square, balanced and all hold a defect, so on it the paper's 6.25x squash, the
share of defect-free images and the augmentation's rebalancing have nothing to show. The course keeps
those lessons as figures made on its synthetic demo data (400 strips with Severstal's shape and class
statistics) in ``figures/demo/``; a chapter whose data cannot show a lesson shows them instead, under a
caption that says they are synthetic.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..data.index import DEMO
from .profile import REFERENCE_FIGURES

#: The committed figures and tables of the synthetic demo data.
DEMO_FIGURES = REFERENCE_FIGURES / DEMO


def demo_lesson(files: Sequence[str], reason: str, folder: Path = DEMO_FIGURES) -> list[Path]:
    """Show the committed demo ``files`` (PNG figures or CSV tables in ``folder``) under a caption that names
    them as synthetic demo data and says why (``reason``: what the data that ran lacks). Returns the files
    shown; a missing one is named in the caption instead of failing the chapter."""
    from IPython.display import Image, Markdown, display
    paths = [folder / name for name in files]
    present = [path for path in paths if path.is_file()]
    missing = [path.name for path in paths if not path.is_file()]
    display(Markdown(f"**The same lesson on the synthetic demo data** ({reason}). The course's committed "
                     f"`figures/demo/` files below come from 400 synthetic strips made to have Severstal's shape "
                     "and class statistics, trained from random initial weights under the default profile; they "
                     "show the lesson, not a result on real steel."
                     + (f" Not found here: {', '.join(missing)}." if missing else "")))
    for path in present:
        display(pd.read_csv(path, index_col=0) if path.suffix == ".csv" else Image(filename=str(path)))
    return present
