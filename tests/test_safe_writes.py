"""Files the course writes are replaced whole or not at all: written beside the target, flushed, renamed."""
import resource
import signal
import stat

import pytest

from steelnb.data.staging import write_text_atomically, written_atomically


def test_a_write_that_fails_leaves_the_previous_file_and_nothing_else(tmp_path):
    page = tmp_path / "report.html"
    page.write_text("the previous good page")
    with pytest.raises(RuntimeError):
        with written_atomically(page) as temporary:
            temporary.write_text("half a pa")
            raise RuntimeError("the disk is full")
    assert page.read_text() == "the previous good page" and list(tmp_path.iterdir()) == [page]
    write_text_atomically(page, "the new page")
    assert page.read_text() == "the new page" and list(tmp_path.iterdir()) == [page]


def test_under_a_file_size_limit_the_previous_file_survives(tmp_path):
    # RLIMIT_FSIZE stands in for a full disk: a write past the limit fails with EFBIG (SIGXFSZ ignored)
    figure = tmp_path / "fig.png"
    figure.write_bytes(b"good" * 10)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))
    try:
        with pytest.raises(OSError):
            with written_atomically(figure) as temporary:
                temporary.write_bytes(b"x" * 5000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert figure.read_bytes() == b"good" * 10 and list(tmp_path.iterdir()) == [figure]


def test_the_written_file_keeps_the_suffix_while_written_and_usual_permissions(tmp_path):
    with written_atomically(tmp_path / "table.csv") as temporary:
        assert temporary.suffix == ".csv" and temporary.parent == tmp_path  # writers pick the format by it
        temporary.write_text("a,b\n")
    mode = stat.S_IMODE((tmp_path / "table.csv").stat().st_mode)
    assert mode & 0o044  # readable by others as an ordinary new file, not mkstemp's 0600
