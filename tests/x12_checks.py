"""pyx12, the outside yardstick for the X12 we write (x12 README 3.2): one helper every EDI test uses."""

from __future__ import annotations

import io
import logging
import shutil
from pathlib import Path

import pyx12
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


# pyx12 4.0 has no 005010X279A1 map (x12 README §2). The 270's loops (2000A-2000D, 2100C/2100D with NM1, DMG, INS,
# DTP, 2110 EQ) are those of 004010X092A1, whose map pyx12 ships: registered for X279A1 in a copy of pyx12's map
# folder, it checks the hierarchy, segment order, repeats and code lists. What differs between the two releases is
# known and left out: the GS08/ST03 label, the 5010 DTP*291 plan date and the 5010 service type MH.
RELABEL_DIFFERENCES = (
    "is not a valid code for Version / Release / Industry Identifier Code (GS08)",
    'Too many elements in segment "Transaction Set Header" (ST)',
    "Segment DTP*291 not found",
    "(MH) is not a valid code for Service Type Code (EQ01)",
)


def pyx12_270_errors(text: str, tmp_path: Path) -> list[str]:
    """pyx12's errors for a 5010 270, validated with the 4010 X092A1 map relabelled (see above); [] when clean."""
    maps = tmp_path / "pyx12-map"
    if not maps.exists():
        shutil.copytree(Path(pyx12.__file__).parent / "map", maps)
        index = maps / "maps.xml"
        index.write_text(index.read_text().replace(
            '<version icvn="00501">',
            '<version icvn="00501"><map vriic="005010X279A1" fic="HS" abbr="270">270.4010.X092.A1.xml</map>', 1,
        ))  # fmt: skip
    logger = logging.getLogger("pyx12")
    handler, propagate = _Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        ok = pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(), src_file=io.StringIO(text), fd_997=None, fd_html=None, fd_xmldoc=None,
            map_path=str(maps),
        )  # fmt: skip
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    errors = [m for m in handler.messages if not any(known in m for known in RELABEL_DIFFERENCES)]
    errors = [m for m in errors if "Failed to create 999 response" not in m]
    return errors if (errors or ok or handler.messages) else ["pyx12 reported failure without an error line"]
