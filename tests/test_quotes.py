"""Every number the README, figures/README.md and teachers/README.md quote from a committed result agrees with it."""
from pathlib import Path

import pytest

from steelnb.course.quotes import QUOTING_DOCUMENTS, QuoteSourceError, quotes_in, refresh_quotes, stale_quotes

ROOT = Path(__file__).resolve().parents[1]


def test_every_quoted_number_agrees_with_the_committed_result_it_comes_from():
    assert stale_quotes(ROOT) == []
    quoted = {document: quotes_in((ROOT / document).read_text(encoding="utf-8"), document)
              for document in QUOTING_DOCUMENTS if (ROOT / document).is_file()}
    # figures/README.md is checked too, but quotes nothing now: its trained-runs table is written from the runs'
    # histories by the report, not typed
    assert len(quoted["README.md"]) >= 30 and quoted["teachers/README.md"]


def test_a_number_typed_differently_from_its_source_is_found_and_rewritten(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "t.csv").write_text(",Dice,epochs\nresnet101,0.9184,5.0\n")
    (tmp_path / "figures" / "page.html").write_text("<p>eager 2.47 img/s, <b>ratio 0.91x</b></p>")
    text = ("Dice <!-- figures/t.csv :: resnet101 :: Dice -->0.919<!-- end --> after "
            "<!-- figures/t.csv :: resnet101 :: epochs :: .0f -->5<!-- end --> epochs, "
            "<!-- figures/page.html :: ratio ([\\d.]+)x -->0.91<!-- end -->x\n")
    (tmp_path / "README.md").write_text(text)
    stale = stale_quotes(tmp_path, ("README.md",))
    assert len(stale) == 1 and "'0.919'" in stale[0] and "the source says 0.918" in stale[0]
    assert refresh_quotes(tmp_path, ("README.md",)) == ["README.md"]
    assert stale_quotes(tmp_path, ("README.md",)) == []
    assert "-->0.918<!-- end -->" in (tmp_path / "README.md").read_text()


def test_a_quote_of_a_missing_cell_names_it(tmp_path):
    (tmp_path / "t.csv").write_text(",Dice\nresnet101,0.9\n")
    (tmp_path / "README.md").write_text("<!-- t.csv :: densenet201 :: Dice -->0.9<!-- end -->\n")
    with pytest.raises(QuoteSourceError, match="t.csv has no cell \\('densenet201', 'Dice'\\)"):
        stale_quotes(tmp_path, ("README.md",))


def test_a_record_s_mean_and_sd_are_quoted_from_its_rows(tmp_path):
    (tmp_path / "seeds.csv").write_text("seed,score\n0,0.80\n1,0.82\n2,0.84\n")
    (tmp_path / "README.md").write_text("<!-- seeds.csv :: mean :: score -->0.820<!-- end --> ± "
                                        "<!-- seeds.csv :: sd :: score -->0.020<!-- end -->, at most "
                                        "<!-- seeds.csv :: max :: score :: .2f -->0.85<!-- end -->\n")
    stale = stale_quotes(tmp_path, ("README.md",))
    assert len(stale) == 1 and "the source says 0.84" in stale[0]  # the max is 0.84, not 0.85
    (tmp_path / "README.md").write_text("seed 1 scored <!-- seeds.csv :: 1 :: score -->0.820<!-- end -->\n")
    assert stale_quotes(tmp_path, ("README.md",)) == []  # a row named by its seed number

