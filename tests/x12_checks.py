"""pyx12, the outside yardstick for the X12 we write (x12 README 3.2): one helper every EDI test uses."""

from __future__ import annotations

import logging
from pathlib import Path

import pyx12.params
import pyx12.x12n_document


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def pyx12_errors(text: str, tmp_path: Path) -> list[str]:
    """pyx12's ERROR log lines for ``text``; [] only when pyx12 also says ok. Writes only in tmp_path."""
    path = tmp_path / "file.x12"
    path.write_text(text, encoding="ascii")
    logger = logging.getLogger("pyx12")
    handler, propagate = _Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with path.open(encoding="ascii") as src:
            ok = pyx12.x12n_document.x12n_document(
                param=pyx12.params.params(), src_file=src, fd_997=None, fd_html=None, fd_xmldoc=None
            )
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    errors = [m for m in handler.messages if "Failed to create 999 response" not in m]
    return errors if (errors or ok) else ["pyx12 reported failure without an error line"]


# The public X12 samples live beside the repository (../shared/x12/samples, per the x12 README); tests that read
# them skip, with one reason, on a checkout that does not have them.
SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "x12" / "samples"


def shared_sample(relative: str) -> str:
    """The text of ``samples/<relative>``; skips the test when the shared samples are not beside the repository."""
    import pytest

    path = SAMPLES / relative
    if not path.exists():
        pytest.skip(f"shared X12 sample {relative} is not available beside the repository")
    return path.read_text()
