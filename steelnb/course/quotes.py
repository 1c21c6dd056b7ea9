"""Numbers quoted in the course's Markdown, written from the committed results instead of typed by hand.

A sentence of the README, ``figures/README.md`` or ``teachers/README.md`` that quotes a result marks the
number with its source, in an HTML comment that Markdown does not show::

    the file scored a Dice of <!-- figures/table_postprocessing.csv :: all-empty prediction :: dice -->0.600<!-- end -->

The fields are separated by `` :: `` (a ``|`` would split a Markdown table's cell):

* a CSV source names its row (the first column) and its column, with an optional Python format as a
  third field (default ``.3f``): ``<!-- figures/table1_speed.csv :: resnet101 :: train img/s :: .1f -->``;
  the rows ``mean``, ``sd``, ``min`` and ``max``, when the file has no row of that name, summarise the column
  over all rows (the seeds of a record);
* any other file (the reference page, a benchmark's saved output) gives a regular expression whose first
  group is the number: ``<!-- figures/report.html :: ONNX Runtime [\\d.]+ img/s, ratio ([\\d.]+)x -->``; an
  HTML page is read as its text, without tags.

:func:`stale_quotes` lists every marked number that differs from its source (a test runs it on the course's
documents); :func:`refresh_quotes` rewrites them (``python -m steelnb.course.quotes --write``, which
``python -m steelnb report --reference`` runs after re-making the figures).
"""
from __future__ import annotations

import argparse
import html
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..env import PROJECT_ROOT

#: The documents whose quoted numbers must match their sources, relative to the course folder.
QUOTING_DOCUMENTS = ("README.md", "figures/README.md", "teachers/README.md", "docs/benchmarks.md")

SEPARATOR = " :: "
#: Rows a CSV quote may name that the file does not hold: summaries of a column over all its rows (a record of
#: one row per seed quotes its mean and its sample standard deviation).
SUMMARIES = {"mean": lambda column: column.mean(), "sd": lambda column: column.std(ddof=1),
             "min": lambda column: column.min(), "max": lambda column: column.max()}
QUOTE = re.compile(r"<!-- (?P<source>[^<>:]+?) :: (?P<spec>.+?) -->(?P<value>[^<]*)<!-- end -->")


@dataclass(frozen=True)
class Quote:
    """One marked number: where it is (document, line), its source and what it says now."""

    document: str
    line: int
    source: str
    spec: str
    written: str

    def __str__(self) -> str:
        return f"{self.document}:{self.line}: {self.written!r} from {self.source}{SEPARATOR}{self.spec}"


class QuoteSourceError(ValueError):
    """A marker whose source file, row, column or pattern does not exist: the message names the marker."""


def _page_text(path: Path) -> str:
    """An HTML page's text without tags, styles or scripts, whitespace collapsed; other files as they are."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".html":
        return text
    text = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", text, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))


def source_value(root: Path, source: str, spec: str) -> str:
    """The number ``source`` holds for ``spec`` (``row :: column [:: format]`` of a CSV, or a pattern), as text.

    Raises:
        QuoteSourceError: the file, the row, the column or the pattern is missing.
    """
    path = root / source
    if not path.is_file():
        raise QuoteSourceError(f"quoted source {source} does not exist")
    if path.suffix == ".csv":
        parts = [part.strip() for part in spec.split(SEPARATOR)]
        if len(parts) not in (2, 3):
            raise QuoteSourceError(f"a quote from {source} needs 'row :: column [:: format]', not {spec!r}")
        row, column, number_format = (*parts, ".3f") if len(parts) == 2 else parts
        table = pd.read_csv(path, index_col=0)
        table.index = table.index.astype(str)  # a row named by a number (a seed) is quoted as its text
        if column not in table.columns or (row not in table.index and row not in SUMMARIES):
            raise QuoteSourceError(f"{source} has no cell ({row!r}, {column!r})")
        if row not in table.index:  # a summary of the file's rows, e.g. over the seeds of a record
            return format(float(SUMMARIES[row](table[column].astype(float))), number_format)
        return format(float(table.loc[row, column]), number_format)
    found = re.search(spec, _page_text(path))
    if found is None:
        raise QuoteSourceError(f"{source} has no text matching {spec!r}")
    return found.group(1)


def quotes_in(text: str, document: str) -> list[Quote]:
    """Every marked number of ``text`` (the contents of ``document``), in order."""
    return [Quote(document, text.count("\n", 0, found.start()) + 1, found["source"], found["spec"], found["value"])
            for found in QUOTE.finditer(text)]


def stale_quotes(root: Path = PROJECT_ROOT, documents: tuple[str, ...] = QUOTING_DOCUMENTS) -> list[str]:
    """One line per marked number in ``documents`` that differs from its source (empty: all agree)."""
    stale = []
    for document in documents:
        path = root / document
        if path.is_file():
            for quote in quotes_in(path.read_text(encoding="utf-8"), document):
                actual = source_value(root, quote.source, quote.spec)
                if quote.written != actual:
                    stale.append(f"{quote}: the source says {actual}")
    return stale


def refresh_quotes(root: Path = PROJECT_ROOT, documents: tuple[str, ...] = QUOTING_DOCUMENTS) -> list[str]:
    """Rewrite every marked number of ``documents`` from its source; returns the documents changed."""
    changed = []
    for document in documents:
        path = root / document
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        new = QUOTE.sub(lambda found: (f"<!-- {found['source']}{SEPARATOR}{found['spec']} -->"
                                       f"{source_value(root, found['source'], found['spec'])}<!-- end -->"), text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(document)
    return changed


def main(argv: list[str] | None = None) -> int:
    """``python -m steelnb.course.quotes [--write]``: list the stale quotes (exit 1 if any), or rewrite them."""
    parser = argparse.ArgumentParser(description="Check (or, with --write, rewrite) the numbers the course's "
                                                 "Markdown quotes from its committed results.")
    parser.add_argument("--write", action="store_true", help="rewrite every quoted number from its source")
    args = parser.parse_args(argv)
    if args.write:
        print("rewritten:", ", ".join(refresh_quotes()) or "nothing (all quotes agree)")
        return 0
    stale = stale_quotes()
    print("\n".join(stale) or "every quoted number agrees with its source")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
