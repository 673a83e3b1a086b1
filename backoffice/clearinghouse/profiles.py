"""Clearinghouse profiles as data: who receives our interchanges (ISA08/GS03/1000B), the SFTP folders, how we
name what we upload, and how the files that come back are named and what they are. Where each value comes from,
and which values are assumptions an operator must confirm with the clearinghouse, is in docs/clearinghouses.md.

Pure: no Flask, no database. A connection (``clearinghouse.models.Connection``) names a profile by ``key`` and may
override the receiver ID and the folders."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ReportPattern:
    """Inbound files whose name matches ``glob`` (case-insensitive) are ``kind``: an X12 kind read from the
    envelopes ("x12") or a human report stored as it is ("report": text, CSV, PDF summary)."""

    glob: str
    kind: str  # "x12" or "report"
    description: str


@dataclass(frozen=True, slots=True)
class Profile:
    key: str
    name: str
    receiver_id: str  # ISA08 / GS03 / 1000B NM109 unless the connection overrides it
    receiver_name: str  # 1000B NM103
    host: str  # the production SFTP host ("" when the clearinghouse assigns one per account)
    port: int
    upload_folder: str
    download_folder: str
    # Our outbound file name: {kind} 837P/270/276, {practice}, {control} the ISA13, {ext}.
    outbound_name: str
    extension: str
    reports: tuple[ReportPattern, ...]
    acknowledgements: tuple[str, ...]  # what comes back for an 837P, in order
    deletes_after_download: bool  # we remove a downloaded file (else it stays and our fetch log skips it)
    source: str  # the public document the values come from
    assumptions: tuple[str, ...] = field(default=())

    def filename(self, *, kind: str, practice: str, control: int) -> str:
        """The outbound file name this clearinghouse expects for one interchange."""
        return self.outbound_name.format(kind=kind, practice=practice, control=f"{control:09d}", ext=self.extension)

    def report_kind(self, filename: str) -> str:
        """ "x12" or "report" for an inbound file name (X12 when no pattern matches: the envelopes decide)."""
        lowered = filename.lower()
        for pattern in self.reports:
            if fnmatch.fnmatch(lowered, pattern.glob.lower()):
                return pattern.kind
        return "x12"


OFFICE_ALLY = Profile(
    key="office_ally",
    name="Office Ally",
    receiver_id="330897513",
    receiver_name="OFFICE ALLY",
    host="ftp10.officeally.com",
    port=22,
    upload_folder="inbound",
    download_folder="outbound",
    outbound_name="{kind}_{practice}_{control}.{ext}",
    extension="txt",
    reports=(
        ReportPattern("*_999*", "x12", "999 implementation acknowledgement of an uploaded file"),
        ReportPattern("*_277*", "x12", "277CA claim acknowledgement"),
        ReportPattern("*_835*", "x12", "835 electronic remittance advice"),
        ReportPattern("*_271*", "x12", "271 eligibility response"),
        ReportPattern("*_ebr*", "report", "Electronic Batch Report (text): file received, claims accepted/rejected"),
        ReportPattern("*_ack*.txt", "report", "File acknowledgement report (text)"),
        ReportPattern("*.csv", "report", "CSV summary report"),
    ),
    acknowledgements=("999", "EBR (text)", "277CA", "835"),
    deletes_after_download=True,
    source="Office Ally SFTP connection details (Health Information Network companion guide); "
    "Healthie's OfficeAlly SFTP account fields",
    assumptions=(
        "receiver ID 330897513 in ISA08/GS03 and 1000B: confirm on the Office Ally enrollment letter",
        "folders 'inbound' (upload) and 'outbound' (download), host ftp10.officeally.com: from the account setup "
        "email; not confirmed by a document the search tool found",
        "report names contain _999, _277, _835, _EBR: assumed from common PMS integrations",
    ),
)

AVAILITY = Profile(
    key="availity",
    name="Availity",
    receiver_id="030240928",
    receiver_name="AVAILITY LLC",
    host="ftp.availity.com",
    port=22,
    upload_folder="SendFiles",
    download_folder="ReceiveFiles",
    outbound_name="{kind}-{practice}-{control}.{ext}",
    extension="edi",
    reports=(
        ReportPattern("*.999", "x12", "999 implementation acknowledgement"),
        ReportPattern("*.ta1", "x12", "TA1 interchange acknowledgement (envelope errors)"),
        ReportPattern("*.277*", "x12", "277CA claim acknowledgement / 277 status"),
        ReportPattern("*.835", "x12", "835 ERA"),
        ReportPattern("*.271", "x12", "271 eligibility response"),
        ReportPattern("*.ebr", "report", "EDI Batch Response report (text)"),
        ReportPattern("*.dpr", "report", "Daily payer report (text)"),
        ReportPattern("*.csv", "report", "report in CSV"),
    ),
    acknowledgements=("TA1 (on envelope errors)", "999", "EBR (text)", "277CA", "835"),
    deletes_after_download=True,
    source="Availity Health Information Network Batch EDI Standard Companion Guide (005010), section 4.2 "
    "'EDI transactions through FTP'",
    assumptions=(
        "receiver ID 030240928 (Availity's ETIN) in ISA08/GS03 and 1000B",
        "SendFiles / ReceiveFiles folders and ftp.availity.com: check the current guide's section 4.2",
        "response file extensions (.999, .277, .835, .ebr, .dpr) are assumed from the guide's reporting chapter; "
        "the EDI Reporting Preferences application chooses which reports are produced",
    ),
)

CLAIM_MD = Profile(
    key="claim_md",
    name="Claim.MD",
    receiver_id="CLAIMMD",
    receiver_name="CLAIM.MD",
    host="",
    port=22,
    upload_folder="SendFiles",
    download_folder="ReceiveFiles",
    outbound_name="{kind}_{practice}_{control}.{ext}",
    extension="x12",
    reports=(
        ReportPattern("*.999", "x12", "999 file acknowledgement (File Acknowledgment format 999 chosen in settings)"),
        ReportPattern("*.277", "x12", "277CA claim status (Claim Status Format 277 chosen in settings)"),
        ReportPattern("*.835", "x12", "835 ERA (Receive ERA/835 = 835)"),
        ReportPattern("*.271", "x12", "271 eligibility response"),
        ReportPattern("*.txt", "report", "text acknowledgement when a text format is chosen"),
        ReportPattern("*.csv", "report", "CSV claim status when a CSV format is chosen"),
    ),
    acknowledgements=("999", "277CA", "835"),
    deletes_after_download=True,
    source="Claim.MD documentation: Settings > Account Settings > SFTP (docs.claim.md/v1/docs/en/sftp); "
    "'How to use two software systems with the same Claim.MD account' (downloads remove files)",
    assumptions=(
        "host, port, username and password are shown per account in the SFTP pop-up: no shared host",
        "receiver ID 'CLAIMMD': confirm in the account's EDI settings (Claim.MD accepts its own ID or the submitter's)",
        "TaxID subfolders must stay OFF (we read ReceiveFiles only)",
        "Claim.MD prints an MD5 fingerprint; we pin the full host key line (ssh-keyscan), compare it to the MD5",
    ),
)

SANDBOX = Profile(
    key="sandbox",
    name="Backoffice Sandbox",
    receiver_id="SANDBOXCH",
    receiver_name="BACKOFFICE SANDBOX",
    host="",
    port=0,
    upload_folder="sent",
    download_folder="inbox",
    outbound_name="{kind}-{practice}-{control}.{ext}",
    extension="x12",
    reports=(ReportPattern("*.txt", "report", "sandbox batch report (text)"),),
    acknowledgements=("999", "277CA", "835"),
    deletes_after_download=True,
    source="this repository (backoffice/clearinghouse/sandbox.py)",
)

GENERIC = Profile(
    key="generic",
    name="Other clearinghouse (set the receiver ID on the connection)",
    receiver_id="CLEARINGHOUSE",
    receiver_name="CLEARINGHOUSE",
    host="",
    port=22,
    upload_folder="outbox",
    download_folder="inbox",
    outbound_name="{kind}-{practice}-{control}.{ext}",
    extension="x12",
    reports=(ReportPattern("*.txt", "report", "text report"), ReportPattern("*.csv", "report", "CSV report")),
    acknowledgements=("999", "277CA", "835"),
    deletes_after_download=True,
    source="none: every value is the connection's",
)

PROFILES: dict[str, Profile] = {p.key: p for p in (OFFICE_ALLY, AVAILITY, CLAIM_MD, SANDBOX, GENERIC)}


def profile(key: str) -> Profile:
    """The profile called ``key``; a ValueError listing the known ones otherwise."""
    try:
        return PROFILES[key]
    except KeyError:
        raise ValueError(f"unknown clearinghouse profile {key!r} (known: {', '.join(PROFILES)})") from None
