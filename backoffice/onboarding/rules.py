"""Pure onboarding rules: what a practice, a payer, a fee and a contracted rate must look like, and which
contracted rates overlap. Values in (strings from a form, a CSV cell or JSON), cleaned values or errors naming the
field (and row) out. No Flask, database or clock: ``today`` is an argument."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import available_timezones

from backoffice import inputs
from backoffice.coding.policy import policy_problem as coding_policy_problem
from backoffice.errors import ValidationFailed
from backoffice.orgs.rules import CPT_RE, MODIFIER_RE, PayerKind, identifier_problem, telehealth_policy_problem
from backoffice.work.rules import DEFAULT_SLA_BUSINESS_DAYS

STATE_RE = re.compile(r"^[A-Z]{2}$")
PAYER_ID_RE = re.compile(r"^[A-Za-z0-9]{2,20}$")
FAX_RE = re.compile(r"^[0-9]{10}$")
CLEARINGHOUSES = ("sandbox", "file_drop")
OWNABLE_STEPS = ("verify_benefits", "obtain_preauth", "enter_charge", "audit", "submit", "follow_up", "appeal")
TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "0"})
NO_ENROLLMENT_KINDS = frozenset({PayerKind.SELF_PAY})


@dataclass(frozen=True)
class FieldError:
    """One refused value: ``row`` is the file's line (the header is row 1) or the API array's 1-based index, None for
    a single form or object."""

    field: str
    message: str
    row: int | None = None

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.field}" if self.row is not None else self.field
        return f"{where}: {self.message}"


class Refused(ValidationFailed):
    """Input that failed its checks; nothing was written. ``errors`` name every field (and row)."""

    def __init__(self, errors: Sequence[FieldError], what: str = "input") -> None:
        self.errors, self.what = list(errors), what
        shown = "; ".join(str(e) for e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"{len(self.errors)} problem(s) in the {what}, nothing was saved: {shown}{more}")


Cleaned = tuple[dict[str, Any], list[FieldError]]


class _Fields:
    """Collects cleaned values and errors for one record."""

    def __init__(self, values: Mapping[str, Any], row: int | None) -> None:
        self.values, self.row = values, row
        self.clean: dict[str, Any] = {}
        self.errors: list[FieldError] = []

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message, self.row))

    def text(self, field: str, *, required: bool = False, limit: int = 200, key: str | None = None) -> str | None:
        raw = self.values.get(field)
        if raw is not None and not isinstance(raw, str):
            self.fail(field, "expected text")
            return None
        try:
            value = inputs.clean_text(raw).strip() if raw else ""
        except inputs.InputProblem as problem:
            self.fail(field, str(problem))
            return None
        if not value:
            if required:
                self.fail(field, "required")
            self.clean[key or field] = None
            return None
        if len(value) > limit:
            self.fail(field, f"at most {limit} characters")
            return None
        self.clean[key or field] = value
        return value

    def identifier(self, field: str, kind: str, *, required: bool = True, key: str | None = None) -> None:
        value = self.text(field, required=required, limit=64, key=key)
        if value is None:
            return
        if kind == "state":
            value = value.upper()
            self.clean[key or field] = value
            if not STATE_RE.match(value):
                self.fail(field, "a two-letter state code such as NY")
            return
        problem = identifier_problem(kind, value)
        if problem:
            self.fail(field, problem)

    def number(self, field: str, *, low: int, high: int, required: bool = True) -> None:
        raw = self.values.get(field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                self.fail(field, "required")
            self.clean[field] = None
            return
        try:
            self.clean[field] = inputs.whole_number(raw if isinstance(raw, int | str) else str(raw), low=low, high=high)
        except inputs.InputProblem as problem:
            self.fail(field, str(problem))

    def flag(self, field: str, default: bool) -> None:
        raw = self.values.get(field)
        if raw is None or raw == "":
            self.clean[field] = default
        elif isinstance(raw, bool):
            self.clean[field] = raw
        elif isinstance(raw, str) and raw.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            self.clean[field] = raw.strip().lower() in TRUE_WORDS
        else:
            self.fail(field, "yes or no")

    def codes(self, field: str, pattern: re.Pattern[str], what: str) -> None:
        raw = self.values.get(field)
        items = split_list(raw) if isinstance(raw, str) or raw is None else raw
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            self.fail(field, "expected a list of codes")
            return
        items = [i.strip().upper() for i in items if i.strip()]
        bad = [i for i in items if not pattern.match(i)]
        if bad:
            self.fail(field, f"{bad[0]!r} is not {what}")
            return
        self.clean[field] = list(dict.fromkeys(items))


SKILLS = ("appeals", "coding", "credentialing", "medicaid", "medicare", "patient-balances", "posting", "records",
          "spanish", "tricare")  # fmt: skip


def clean_organization(values: Mapping[str, Any]) -> Cleaned:
    """The billing company's identity: legal name, TIN, address and how it signs its EDI (837 1000A)."""
    f = _Fields(values, None)
    f.text("name", required=True)
    f.text("legal_name")
    if values.get("tin"):
        f.identifier("tin", "tax_id", key="tax_id")
    else:
        f.clean["tax_id"] = None
    f.text("address_line1")
    f.text("city", limit=100)
    f.identifier("state", "state", required=False)
    f.identifier("zip_code", "zip_code", required=False)
    f.text("edi_submitter_name", limit=60)
    submitter = f.text("edi_submitter_id", limit=20)
    if submitter and not PAYER_ID_RE.match(submitter):
        f.fail("edi_submitter_id", "2 to 20 letters and digits (the ETIN your clearinghouse gave you)")
    f.text("edi_contact_name", limit=60)
    phone = f.text("edi_contact_phone", limit=20)
    if phone is not None:
        digits = re.sub(r"[^0-9]", "", phone)
        f.clean["edi_contact_phone"] = digits
        if len(digits) != 10:
            f.fail("edi_contact_phone", "10 digits")
    return f.clean, f.errors


def _days(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 60


# Practice settings kept beside the SLA overrides: business days before a visit its eligibility runs (appointments/).
PRACTICE_SETTINGS = {"appointment_check_days": (0, 10)}


def _setting(key: str, value: object) -> bool:
    low, high = PRACTICE_SETTINGS.get(key, (1, 0))
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def parse_pairs(text: str) -> dict[str, int] | None:
    """``submit=2; audit=1`` as {"submit": 2, "audit": 1}; None when a part is not step=whole number."""
    pairs: dict[str, int] = {}
    for part in re.split(r"[;,]", text):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not re.fullmatch(r"[0-9]{1,3}", value.strip()):
            return None
        pairs[key.strip()] = int(value.strip())
    return pairs


def format_pairs(pairs: Mapping[str, int]) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(pairs.items()))


def split_list(raw: str | None) -> list[str]:
    """A list written in one cell or form field: items separated by semicolons, commas or spaces."""
    return [part for part in re.split(r"[;,\s]+", raw or "") if part]


def join_list(items: Iterable[str]) -> str:
    return ";".join(items)


def clean_practice(values: Mapping[str, Any], *, partial: bool = False, row: int | None = None) -> Cleaned:
    """A practice's fields under their API/form names (``npi``, ``tin``, ``time_zone``, ``address_line1``...) as
    model columns. ``partial``: only the fields given are checked (an edit)."""
    f = _Fields(values, row)

    def given(name: str) -> bool:
        return not partial or name in values

    if given("name"):
        f.text("name", required=True)
    if given("slug"):
        f.identifier("slug", "slug")
        if f.clean.get("slug") and len(f.clean["slug"]) > 64:
            f.fail("slug", "at most 64 characters")
    if given("npi"):
        f.identifier("npi", "npi", key="group_npi")
        if f.clean.get("group_npi") and f.clean["group_npi"].startswith("1"):
            f.fail("npi", "a practice bills with its group (type 2) NPI, which starts with 2")
    if given("tin"):
        f.identifier("tin", "tax_id", key="tax_id")
    if given("taxonomy"):
        f.identifier("taxonomy", "taxonomy", required=False)
    if given("time_zone"):
        zone = f.text("time_zone", required=True, limit=64, key="timezone")
        if zone and zone not in available_timezones():
            f.fail("time_zone", "an IANA time zone such as America/New_York")
    for prefix, required in (("", True), ("pay_to_", False)):
        line1 = "address_line1" if not prefix else "pay_to_line1"
        if given(line1):
            f.text(line1, required=required)
        if given(f"{prefix}city"):
            f.text(f"{prefix}city", required=required, limit=100)
        if given(f"{prefix}state"):
            f.identifier(f"{prefix}state", "state", required=required)
        if given(f"{prefix}zip_code"):
            f.identifier(f"{prefix}zip_code", "zip_code", required=required)
    if given("address_line2"):
        f.text("address_line2")
    if given("phone"):
        f.text("phone", limit=20)
    if given("clearinghouse"):
        chosen = f.text("clearinghouse", limit=16)
        if chosen is None:
            f.clean["clearinghouse"] = "sandbox"
        elif chosen is not None and chosen not in CLEARINGHOUSES:
            f.fail("clearinghouse", f"one of {', '.join(CLEARINGHOUSES)}")
    for folder in ("edi_outbox", "edi_inbox"):
        if folder in values:
            f.text(folder, limit=500)
    if "owned_steps" in values:  # a new practice without them owns every step (services.create_practice)
        steps = values.get("owned_steps")
        steps = split_list(steps) if isinstance(steps, str) or steps is None else steps
        if not isinstance(steps, list) or any(s not in OWNABLE_STEPS for s in steps):
            f.fail("owned_steps", f"choose from {', '.join(OWNABLE_STEPS)}")
        else:
            f.clean["owned_steps"] = [s for s in OWNABLE_STEPS if s in steps]
    if "sla_overrides" in values:
        overrides = values.get("sla_overrides") or {}
        overrides = parse_pairs(overrides) if isinstance(overrides, str) else overrides
        if not isinstance(overrides, dict) or any(
            not (_days(v) if k in DEFAULT_SLA_BUSINESS_DAYS else _setting(k, v)) for k, v in overrides.items()
        ):
            f.fail("sla_overrides", f"step=business days (1 to 60), steps from {', '.join(DEFAULT_SLA_BUSINESS_DAYS)}; "
                                    "or appointment_check_days=0 to 10")  # fmt: skip
        else:
            f.clean["sla_overrides"] = dict(overrides)
    if f.clean.get("pay_to_line1") and not all(
        f.clean.get(k) for k in ("pay_to_city", "pay_to_state", "pay_to_zip_code")
    ):
        f.fail("pay_to_line1", "a pay-to address needs its city, state and ZIP code too")
    return f.clean, f.errors


PAYER_COLUMNS = (
    "payer_id", "name", "kind", "filing_limit_days", "corrected_claim_window_days", "appeal_window_days",
    "clearinghouse_payer_ids", "claims_address", "appeals_address", "appeals_fax", "appeals_portal", "phone",
    "prior_auth_cpts", "telehealth_policy", "coding_policy", "enrollment_required_837", "enrollment_required_270",
    "enrollment_required_835", "active",
)  # fmt: skip


def clean_payer(values: Mapping[str, Any], *, partial: bool = False, row: int | None = None) -> Cleaned:
    """A payer directory entry: ``kind`` a snake_case token, day limits whole numbers, lists of codes, enrolment
    flags (true unless the payer is self-pay)."""
    f = _Fields(values, row)

    def given(name: str) -> bool:
        return not partial or name in values

    if given("payer_id"):
        payer_id = f.text("payer_id", required=True, limit=20)
        if payer_id and not PAYER_ID_RE.match(payer_id):
            f.fail("payer_id", "2 to 20 letters and digits (the clearinghouse's payer ID)")
    if given("name"):
        f.text("name", required=True)
    kind = None
    if given("kind"):
        token = f.text("kind", required=True, limit=40)
        if token is not None:
            try:
                kind = PayerKind(token.lower())
                f.clean["kind"] = kind
            except ValueError:
                f.fail("kind", f"one of {', '.join(k.value for k in PayerKind)}")
    if given("filing_limit_days"):
        f.number("filing_limit_days", low=1, high=3650)
    if given("appeal_window_days"):
        f.number("appeal_window_days", low=1, high=3650)
    if given("corrected_claim_window_days"):
        f.number("corrected_claim_window_days", low=1, high=3650, required=False)
    if given("clearinghouse_payer_ids"):
        f.codes("clearinghouse_payer_ids", PAYER_ID_RE, "a payer ID")
    for name in ("claims_address", "appeals_address", "appeals_portal"):
        if given(name):
            f.text(name, limit=300)
    if given("phone"):
        f.text("phone", limit=20)
    if given("appeals_fax"):
        fax = f.text("appeals_fax", limit=20)
        if fax is not None:
            digits = re.sub(r"[^0-9]", "", fax)
            f.clean["appeals_fax"] = digits
            if not FAX_RE.match(digits):
                f.fail("appeals_fax", "10 digits")
    if given("prior_auth_cpts"):
        f.codes("prior_auth_cpts", CPT_RE, "a CPT/HCPCS code")
    if given("telehealth_policy"):
        policy = values.get("telehealth_policy")
        policy = _json_object(policy, f, "telehealth_policy") if isinstance(policy, str) or policy is None else policy
        if isinstance(policy, dict):
            problem = telehealth_policy_problem(policy)
            if problem:
                f.fail("telehealth_policy", problem)
            else:
                f.clean["telehealth_policy"] = policy
        elif policy is not None:
            f.fail("telehealth_policy", "expected an object")
    if given("coding_policy"):  # unit rule, accepted codes, crosswalk, modifiers, how associates are billed
        coding = values.get("coding_policy")
        coding = _json_object(coding, f, "coding_policy") if isinstance(coding, str) or coding is None else coding
        if isinstance(coding, dict):
            problem = coding_policy_problem(coding)
            if problem:
                f.fail("coding_policy", problem)
            else:
                f.clean["coding_policy"] = coding
        elif coding is not None:
            f.fail("coding_policy", "expected an object")
    for name in ("enrollment_required_837", "enrollment_required_270", "enrollment_required_835"):
        if given(name):
            f.flag(name, default=kind not in NO_ENROLLMENT_KINDS)
    if given("active"):
        f.flag("active", default=True)
    return f.clean, f.errors


def _json_object(raw: str | None, f: _Fields, field: str) -> Any:
    if not raw or not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        f.fail(field, 'expected JSON such as {"video_modifier": "95"}')
        return None


# --- Fee schedules and contracted rates -------------------------------------------------------------------------

FEE_COLUMNS = ("cpt", "modifier", "charge")
RATE_COLUMNS = ("payer_id", "cpt", "modifier", "allowed", "effective_from", "effective_to")


@dataclass(frozen=True)
class Rate:
    """One contracted rate as entered: payer by its directory ID."""

    payer_id: str
    cpt: str
    modifier: str
    allowed: Decimal
    effective_from: date
    effective_to: date | None
    row: int | None = None

    @property
    def key(self) -> tuple[str, str, str, date]:
        return (self.payer_id, self.cpt, self.modifier, self.effective_from)


def _code(f: _Fields, field: str) -> str:
    value = (f.text(field, required=True, limit=5) or "").upper()
    if value and not CPT_RE.match(value):
        f.fail(field, "a CPT/HCPCS code such as 90834")
    return value


def _modifier(f: _Fields) -> str:
    value = (f.text("modifier", limit=2) or "").upper()
    if value and not MODIFIER_RE.match(value):
        f.fail("modifier", "a two-character modifier such as 95, or blank")
    return value


def _amount(f: _Fields, field: str, *, positive: bool) -> Decimal | None:
    raw = f.values.get(field)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        f.fail(field, "required")
        return None
    if isinstance(raw, str) and raw.strip().startswith("-"):
        f.fail(field, "must not be negative")
        return None
    try:
        amount = inputs.money(raw if isinstance(raw, str | int | Decimal) else str(raw))
    except inputs.InputProblem as problem:
        f.fail(field, str(problem))
        return None
    if positive and amount <= 0:
        f.fail(field, "must be more than 0")
        return None
    return amount


def _day(f: _Fields, field: str, today: date, *, required: bool) -> date | None:
    raw = f.values.get(field)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            f.fail(field, "required")
        return None
    if not isinstance(raw, str):
        f.fail(field, "expected a date as YYYY-MM-DD")
        return None
    try:
        return inputs.iso_date(raw, today=today, earliest=date(2000, 1, 1))
    except inputs.InputProblem as problem:
        f.fail(field, str(problem))
        return None


def parse_fees(records: Sequence[Mapping[str, Any]], *, first_row: int = 1) -> tuple[dict[str, str], list[FieldError]]:
    """A fee schedule (CPT → charge as "150.00") from records with cpt, modifier (blank: the schedule charges per
    code) and charge; a code twice is an error naming both rows."""
    fees: dict[str, str] = {}
    seen: dict[str, int] = {}
    errors: list[FieldError] = []
    for index, record in enumerate(records, start=first_row):
        number = int(record.get("_row", index))
        f = _Fields(record, number)
        cpt = _code(f, "cpt")
        if _modifier(f):
            f.fail("modifier", "the fee schedule has one charge per code; leave the modifier blank")
        charge = _amount(f, "charge", positive=True)
        if cpt and cpt in seen:
            f.fail("cpt", f"{cpt} is already on row {seen[cpt]}")
        errors.extend(f.errors)
        if not f.errors and charge is not None:
            fees[cpt] = f"{charge:.2f}"
            seen[cpt] = number
    return fees, errors


def parse_rates(records: Sequence[Mapping[str, Any]], *, known_payers: Iterable[str], today: date,
                first_row: int = 1) -> tuple[list[Rate], list[FieldError]]:  # fmt: skip
    """Contracted rates from records; every payer must be in the directory, amounts non-negative, each range's end
    on or after its start, and no two ranges of one payer × code × modifier may overlap."""
    known = set(known_payers)
    rates: list[Rate] = []
    errors: list[FieldError] = []
    for index, record in enumerate(records, start=first_row):
        number = int(record.get("_row", index))
        f = _Fields(record, number)
        payer_id = f.text("payer_id", required=True, limit=20)
        if payer_id and payer_id not in known:
            f.fail("payer_id", f"no payer {payer_id!r} in the payer directory")
        cpt, modifier = _code(f, "cpt"), _modifier(f)
        allowed = _amount(f, "allowed", positive=False)
        start = _day(f, "effective_from", today, required=True)
        end = _day(f, "effective_to", today, required=False)
        if start and end and end < start:
            f.fail("effective_to", "must be on or after effective_from")
        errors.extend(f.errors)
        if not f.errors and payer_id and allowed is not None and start is not None:
            rates.append(Rate(payer_id, cpt, modifier, allowed, start, end, number))
    errors.extend(rate_overlaps(rates))
    return rates, errors


def rate_overlaps(rates: Sequence[Rate]) -> list[FieldError]:
    """An error for every rate whose dates overlap an earlier-starting rate of the same payer, code and modifier."""
    errors: list[FieldError] = []
    by_key: dict[tuple[str, str, str], list[Rate]] = {}
    for rate in rates:
        by_key.setdefault((rate.payer_id, rate.cpt, rate.modifier), []).append(rate)
    for (payer_id, cpt, modifier), group in by_key.items():
        group.sort(key=lambda r: r.effective_from)
        for before, after in zip(group, group[1:], strict=False):
            if before.effective_to is None or after.effective_from <= before.effective_to:
                where = f"row {before.row}" if before.row is not None else before.effective_from.isoformat()
                label = f"{payer_id} {cpt}{'-' + modifier if modifier else ''}"
                errors.append(FieldError("effective_from", f"the dates of {label} overlap those on {where}", after.row))
    return errors
