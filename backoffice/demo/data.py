"""Reference tables, name lists and pure generators of fictional values for the demo organization.

All people and places are fictional. Codes and payer rules follow ../shared/domain/billing-rules.md: CPT time
bands 1.1, who may bill what 1.7, POS and telehealth modifiers 2.2-2.3, taxonomies 4.2, MBI shape 4.3, filing
limits 5.1, SLA norms 9.2.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backoffice.calendars import is_business_day
from backoffice.orgs.rules import PRESCRIBERS, PayerKind
from backoffice.patients.models import CoveragePriority, Relationship, Sex
from backoffice.sessions.models import Modality, PatientLocation, ServiceKind
from backoffice.work.rules import WorkKind, add_business_days

ORG_NAME = "Summit Behavioral Billing"
EDI_IDENTITY = {
    "edi_submitter_id": "SUMMITBB01",
    "edi_contact_name": "EDI Operations",
    "edi_contact_phone": "8005550100",
}
# Usual and customary charges (SV102), before each practice's own level; payers allow less.
BASE_FEES = {
    "90785": 30, "90791": 250, "90792": 300, "90832": 110, "90833": 95, "90834": 160, "90836": 125,
    "90837": 210, "90838": 165, "90839": 260, "90840": 125, "90846": 150, "90847": 160, "90853": 65,
    "96127": 18, "99202": 120, "99203": 170, "99204": 250, "99205": 320, "99211": 40, "99212": 85,
    "99213": 130, "99214": 185, "99215": 250,
    # HCPCS Level II for the Medicaid managed-care plan (issue 21): per 15-minute unit, or per encounter/diem.
    "H0004": 32, "H0031": 180, "H0032": 95, "H0036": 28, "H2019": 30, "H2017": 26, "H2011": 45, "T1017": 24,
    "S9480": 310,
}  # fmt: skip
FEE_LEVEL = {"calm-mind": 1.0, "bright-path": 1.15, "harbor-family": 0.95}


def fee_schedule(slug: str) -> dict[str, str]:
    """A practice's fee schedule as decimal strings (CPT → charge)."""
    return {cpt: f"{round(amount * FEE_LEVEL[slug]):.2f}" for cpt, amount in BASE_FEES.items()}


ALL_STEPS = [kind.value for kind in WorkKind]
# The first payer status check is due ~30 days after submission (9.2), not 2 business days.

PRACTICES: list[dict[str, Any]] = [
    {
        "slug": "calm-mind",
        "name": "Calm Mind Counseling",
        "prefix": "CM",
        "taxonomy": "261QM0801X",
        "npi_base": "245817306",
        "tax_id": "231847562",
        "address": ("1420 Walnut Street", "Suite 600", "Philadelphia", "PA", "191025521"),
        "phone": "2155550142",
        "timezone": "America/New_York",
        "owned_steps": ALL_STEPS,
        "sla_overrides": {},
        "volume": (80, 200, 540),  # patients, sessions in the window, days since onboarding
    },
    {
        "slug": "bright-path",
        "name": "Bright Path Psychiatry",
        "prefix": "BP",
        "taxonomy": "193200000X",
        "npi_base": "262094471",
        "tax_id": "411936058",
        "address": ("2700 Nicollet Avenue", "Floor 3", "Minneapolis", "MN", "554082617"),
        "phone": "6125550178",
        "timezone": "America/Chicago",
        "owned_steps": ["verify_benefits", "obtain_preauth", "enter_charge", "audit", "submit", "follow_up", "appeal"],
        "sla_overrides": {},
        "volume": (65, 160, 300),
    },
    {
        "slug": "harbor-family",
        "name": "Harbor Family Therapy",
        "prefix": "HF",
        "taxonomy": "261QM0801X",
        "npi_base": "287351940",
        "tax_id": "953172604",
        "address": ("3145 Rosecrans Street", None, "San Diego", "CA", "921103302"),
        "phone": "6195550163",
        "timezone": "America/Los_Angeles",
        "owned_steps": ["enter_charge", "audit", "submit", "follow_up", "appeal"],  # they verify benefits themselves
        "sla_overrides": {"enter_charge": 2},  # their clinicians close notes late
        "volume": (55, 140, 150),
    },
]

# NUCC taxonomies (4.2); 363A00000X (Physician Assistant) is not in that table but is the NUCC code.
TAXONOMY = {"MD": "2084P0800X", "DO": "2084P0800X", "NP": "363LP0808X", "PA": "363A00000X", "PhD": "103TC0700X"}
TAXONOMY |= {"PsyD": "103TC0700X", "LCSW": "1041C0700X", "LPC": "101YP2500X", "LMFT": "106H00000X"}
PROVIDERS = [  # practice, first name, last name, credential
    ("calm-mind", "Rachel", "Abernathy", "LCSW"),
    ("calm-mind", "Tomas", "Ferreira", "LPC"),
    ("calm-mind", "Leah", "Okonkwo", "LMFT"),
    ("calm-mind", "Daniel", "Whitaker", "LCSW"),
    ("bright-path", "Anita", "Deshpande", "MD"),
    ("bright-path", "Karen", "Lindqvist", "NP"),
    ("bright-path", "Marcus", "Halvorsen", "PA"),
    ("bright-path", "Sophie", "Brandt", "PsyD"),
    ("harbor-family", "Gabriela", "Montoya", "LMFT"),
    ("harbor-family", "Kevin", "Tran", "LCSW"),
    ("harbor-family", "Miriam", "Castellano", "PhD"),
]

MEDICARE_TELEHEALTH = {"video_modifier": None, "audio_only_modifier": "93", "home_pos": "10", "other_pos": "02"}
COMMERCIAL_TELEHEALTH = {"video_modifier": "95", "audio_only_modifier": "93", "home_pos": "10", "other_pos": "02"}
MEDICAID_TELEHEALTH = {**COMMERCIAL_TELEHEALTH, "video_modifier": "GT"}
PAYERS = [  # payer ID, name, kind, filing limit days (5.1), appeal window days, provider line
    ("MEDICARE", "Medicare Part B", PayerKind.MEDICARE, 365, 120, "8555550101"),
    ("MEDICAID", "State Medicaid Fee-for-Service", PayerKind.MEDICAID, 180, 60, "8005550102"),
    ("AETNA", "Aetna", PayerKind.COMMERCIAL, 120, 180, "8885550103"),
    ("BCBS", "Blue Cross Blue Shield", PayerKind.COMMERCIAL, 180, 180, "8005550104"),
    ("UHC", "UnitedHealthcare", PayerKind.COMMERCIAL, 90, 180, "8775550105"),
    ("CIGNA", "Cigna", PayerKind.COMMERCIAL, 90, 180, "8005550106"),
    ("OPTUMBH", "Optum Behavioral Health", PayerKind.BH_CARVE_OUT, 90, 60, "8005550108"),
    ("SELFPAY", "Self-pay", PayerKind.SELF_PAY, 365, 365, None),  # uninsured: no claim, a GFE and a statement
]
TELEHEALTH = {"MEDICARE": MEDICARE_TELEHEALTH, "MEDICAID": MEDICAID_TELEHEALTH}  # everyone else: COMMERCIAL_TELEHEALTH
PRIOR_AUTH_CPTS = {"MEDICAID": ["90837", "96130", "96131"], "AETNA": ["96130", "96131", "96132", "96133"]}
PRIOR_AUTH_CPTS["OPTUMBH"] = ["90837", "90847"]
# Per-payer rules as data (issue 3): separate-session modifier, 96127 unit cap (defaults 59 and 4).
PAYER_RULES: dict[str, dict[str, Any]] = {
    "MEDICARE": {"separate_session_modifier": "XE"},
    "MEDICAID": {"max_96127_units": 3},
}
# A Medicaid managed-care plan that wants HCPCS Level II with licence-level and programme modifiers, and lets a
# pre-licensed associate render with the supervisor in loop 2310D (issue 21). Seeded after the history, so the
# demo's random draws are unchanged; its coding shows in `backoffice code` and `edi build-837` dry runs.
MEDICAID_MCO = ("KEYSTONEMCO", "Keystone Community Health Plan (Medicaid)", PayerKind.MEDICAID_MANAGED_CARE, 180, 60,
                "8005550109")  # fmt: skip
MEDICAID_MCO_CODING: dict[str, Any] = {
    "fifteen_minute_rule": "midpoint",
    "crosswalk": {"90832": "H0004", "90834": "H0004", "90837": "H0004", "90791": "H0031"},
    "accepted_codes": ["H0004", "H0031", "H0032", "H0036", "H2011", "H2017", "H2019", "T1017", "S9480", "90785",
                       "90846", "90847", "90853", "96127", "99202", "99203", "99204", "99205", "99212", "99213",
                       "99214", "99215", "90833", "90836", "90838", "90792", "90839", "90840"],
    "modifiers": [
        {"add": ["HO"], "credentials": ["LCSW", "LPC", "LMFT", "LMHC", "associate"]},
        {"add": ["AJ"], "credentials": ["LCSW"]},
        {"add": ["HP"], "credentials": ["PhD", "PsyD"]},
        {"add": ["HE"]},
        {"add": ["HA"], "max_age": 20},
        {"add": ["HQ"], "services": ["group"]},
        {"add": ["HR"], "services": ["family_with_patient"]},
        {"add": ["HS"], "services": ["family_without_patient"]},
    ],
    "modifier_order": ["pricing", "informational", "telehealth"],
    "associate_billing": "supervisor_2310d",
    "max_units": {"H0004": 8, "H2019": 16},
}  # fmt: skip
ASSOCIATE = ("calm-mind", "Priya", "Nandakumar", "LPC", ("Rachel", "Abernathy"))  # an LPC associate, LCSW supervisor
UNDER_65_PAYER_ODDS = {"MEDICAID": 18, "AETNA": 17, "BCBS": 20, "UHC": 15, "CIGNA": 11, "OPTUMBH": 13, "SELFPAY": 6}
SENIOR_PAYER_ODDS = {"MEDICARE": 92, "SELFPAY": 8}  # 65 and over: Part B, or private pay
SELF_ONLY = frozenset(
    {"MEDICARE", "MEDICAID", "SELFPAY"}
)  # government plans and self-pay: the patient is the subscriber

# Billable ICD-10-CM codes (3.2, 3.3): an F-code first, Z-codes only secondary, never F32.x with F33.x.
PRIMARY_DX = {
    "calm-mind": ["F33.1", "F33.0", "F32.1", "F32.A", "F41.1", "F43.10", "F43.12", "F43.21", "F43.22", "F43.23"],
    "bright-path": ["F33.1", "F33.2", "F32.A", "F41.1", "F41.0", "F90.0", "F90.2", "F31.81", "F43.12"],
    "harbor-family": ["F90.0", "F90.2", "F84.0", "F43.23", "F43.22", "F41.1", "F91.3", "F93.0"],
}
SECONDARY_DX = {
    "calm-mind": ["F41.1", "Z63.0", "Z63.5", "Z56.0", "Z63.4"],
    "bright-path": ["F41.1", "F90.0", "G47.00", "Z63.0"],
    "harbor-family": ["Z63.8", "Z62.820", "Z63.0", "Z63.5", "F41.1"],
}
CASELOAD = {"PsyD": 15, "PA": 20}  # relative share of a practice's patients; everyone else 30
SK = ServiceKind
# Service mix of established patients (the first visit of a new patient is an intake), by kind of clinician.
SERVICE_MIX = {
    "therapy": {SK.PSYCHOTHERAPY: 98, SK.CRISIS: 2},
    "prescriber": {SK.EM_WITH_PSYCHOTHERAPY: 45, SK.EM_ONLY: 55},
    "family": {SK.FAMILY_WITH_PATIENT: 40, SK.FAMILY_WITHOUT_PATIENT: 12, SK.GROUP: 20, SK.PSYCHOTHERAPY: 28},
}
# Psychotherapy minutes by time band (16-37 / 38-52 / 53+), and each practice's share of the bands.
BAND_MINUTES = {"90832": [20, 25, 28, 30, 30, 32, 35], "90834": [38, 40, 43, 45, 45, 48, 50, 52]}
BAND_MINUTES["90837"] = [53, 53, 55, 56, 58, 60, 60, 62, 65]
BAND_SHARES = {"calm-mind": [12, 55, 33], "bright-path": [15, 55, 30], "harbor-family": [25, 55, 20]}
MINUTES = {
    SK.INTAKE: [50, 55, 60, 60, 60, 75, 90],
    SK.INTAKE_MEDICAL: [45, 60, 60, 60, 75],
    SK.EM_WITH_PSYCHOTHERAPY: [16, 18, 20, 22, 25, 25, 30, 30, 35, 40],
    SK.CRISIS: [60, 65, 75, 90, 110],
    SK.FAMILY_WITH_PATIENT: [45, 50, 50, 53, 55, 60, 75],
    SK.FAMILY_WITHOUT_PATIENT: [30, 40, 45, 50],
    SK.GROUP: [60, 75, 90, 90],
}
EM_ONLY_MINUTES = {"99212": [10, 12, 15], "99213": [20, 22, 25, 28], "99214": [30, 32, 35, 40]}
IC_KINDS = frozenset({SK.INTAKE, SK.INTAKE_MEDICAL, SK.PSYCHOTHERAPY, SK.EM_WITH_PSYCHOTHERAPY, SK.GROUP})  # +90785

FEMALE_NAMES = ["Abigail", "Alicia", "Amara", "Bianca", "Brenda", "Camila", "Carmen", "Chloe", "Danielle", "Denise"]
FEMALE_NAMES += ["Elena", "Emily", "Fatima", "Gloria", "Hannah", "Imani", "Jasmine", "Jennifer", "Julia", "Kayla"]
FEMALE_NAMES += ["Keisha", "Laura", "Lucia", "Madison", "Maya", "Megan", "Naomi", "Nicole", "Olivia", "Paige"]
FEMALE_NAMES += ["Priscilla", "Rebecca", "Rosa", "Samantha", "Sarah", "Tanya", "Teresa", "Valerie", "Wendy", "Zoe"]
MALE_NAMES = ["Aaron", "Adrian", "Andre", "Benjamin", "Brandon", "Caleb", "Carlos", "Christopher", "Darnell", "David"]
MALE_NAMES += ["Derek", "Elijah", "Eric", "Gabriel", "Gregory", "Hector", "Isaac", "Jamal", "Jason", "Jerome"]
MALE_NAMES += ["Jonathan", "Jose", "Kyle", "Liam", "Luis", "Malik", "Mason", "Nathan", "Noah", "Omar", "Patrick"]
MALE_NAMES += ["Raymond", "Ryan", "Samuel", "Terrence", "Victor", "Wesley", "William", "Xavier", "Zachary"]
LAST_NAMES = ["Acosta", "Adeyemi", "Albright", "Baker", "Barnes", "Bennett", "Brooks", "Castillo", "Chen"]
LAST_NAMES += ["Coleman", "Delgado", "Dunn", "Ellison", "Estrada", "Fischer", "Fleming", "Garrison", "Gupta"]
LAST_NAMES += ["Hale", "Harper", "Hoffman", "Ibarra", "Jansen", "Jimenez", "Kaplan", "Keller", "Kowalski"]
LAST_NAMES += ["Lambert", "Larsen", "Lopez", "Mahoney", "Mendoza", "Morrison", "Nakamura", "Novak", "Nguyen"]
LAST_NAMES += ["Oyelaran", "Park", "Patel", "Pearson", "Quinn", "Ramirez", "Reyes", "Robinson", "Sandoval"]
LAST_NAMES += ["Schultz", "Shapiro", "Sullivan", "Takahashi", "Thornton", "Underwood", "Vargas", "Vasquez"]
LAST_NAMES += ["Wallace", "Weber", "Whitfield", "Yamamoto", "Young", "Zimmerman", "Zhou"]
STREETS = ["Maple Avenue", "Oak Street", "Cedar Lane", "Elm Street", "Lakeview Drive", "Willow Court", "Park Place"]
CITIES = {  # city, state, ZIP prefix near each practice
    "calm-mind": [("Philadelphia", "PA", "191"), ("Cherry Hill", "NJ", "080"), ("Media", "PA", "190")],
    "bright-path": [("Minneapolis", "MN", "554"), ("St. Paul", "MN", "551"), ("Bloomington", "MN", "554")],
    "harbor-family": [("San Diego", "CA", "921"), ("Chula Vista", "CA", "919"), ("La Mesa", "CA", "919")],
}
REPRESENTATIVES = ["Angela M.", "Brian K.", "Crystal R.", "Devon T.", "Erica P.", "Felix G.", "Heather L."]
REPRESENTATIVES += ["Irene S.", "Jamal W.", "Kelly O.", "Lorraine B.", "Monique D.", "Nate H.", "Patrice F."]
REPRESENTATIVES += ["Quentin A.", "Renee C.", "Tiffany V."]

ALL_QUEUES = ["eligibility", "authorization", "charge-entry", "coding", "submission", "follow-up", "denials"]
STAFF = [  # login name (email and password derive from it), full name, role, practices, queues
    ("biller1", "Priya Natarajan", "biller", ["calm-mind", "bright-path"], ALL_QUEUES[:3]),
    ("biller2", "Marcus Bell", "biller", ["bright-path", "harbor-family"], ALL_QUEUES[3:]),
    ("biller3", "Elena Ruiz", "biller", ["harbor-family", "calm-mind"], ALL_QUEUES),
    ("supervisor", "Dana Whitfield", "supervisor", ["calm-mind", "bright-path", "harbor-family"], []),
    ("admin", "Sam Okafor", "admin", ["calm-mind", "bright-path", "harbor-family"], []),
    # Calm Mind's own front desk: the client portal (issue 20), its practice only.
    ("calmmind", "Jordan Lee", "practice", ["calm-mind"], []),
]

AUDIT_FINDINGS = [
    "Scrubber: POS corrected from 11 to 10 (video visit, patient at home).",
    "Diagnosis pointer reordered so the F-code is first-listed (Z-code secondary).",
    "90837 share for this clinician above 30% this month: start/stop times confirmed in the note.",
    "Removed a duplicate 96127 unit: one instrument documented, not two.",
]
APPEALABLE_DENIALS = [  # (payer's reason, denial family) that are worth an appeal (6.3, 7)
    ("CARC 50: not deemed a medical necessity", "medical necessity"),
    ("CARC 151: information does not support this frequency of services", "frequency"),
    ("CARC 119: benefit maximum for this period reached", "visit limit / parity"),
]
AUTH_DENIAL = ("CARC 197: precertification absent, although the auth was on file", "authorization")
ESCALATIONS = [
    "Clinician has not signed the progress note after 3 business days; practice manager emailed.",
    "Member ID rejected by the payer portal; practice must send an updated insurance card.",
    "Authorization nearly exhausted; clinician needs to submit a concurrent review.",
    "Payer says the provider is not linked to the group NPI; credentialing must confirm.",
]
SNOOZE_REASONS = [
    "Payer reprocessing the claim; call back after the reprocessing window.",
    "Auth request submitted by fax; payer decision expected within 7 business days.",
    "Waiting for the practice to upload the signed treatment plan.",
]


# --- Pure generators: plain values in and out, all randomness from the caller's rng -----------------------------

MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"  # 4.3: no S, L, O, I, B, Z
MBI_SHAPE = ["123456789", "L", "LD", "0123456789", "L", "LD", "0123456789", "L", "L", "0123456789", "0123456789"]


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def make_mbi(rng: random.Random) -> str:
    """A Medicare Beneficiary Identifier in the CMS shape (11 characters, no dashes)."""
    expand = {"L": MBI_LETTERS, "LD": MBI_LETTERS + "0123456789"}
    return "".join(rng.choice(expand.get(chars, chars)) for chars in MBI_SHAPE)


def make_member_id(rng: random.Random, payer_id: str) -> str:
    """A member ID in the shape the payer prints on its cards."""
    if payer_id == "MEDICARE":
        return make_mbi(rng)
    if payer_id == "BCBS":  # Blue plans print a three-letter alpha prefix
        return rng.choice(["ZGP", "XOF", "QMK"]) + _digits(rng, 9)
    shapes = {"MEDICAID": ("", 11, ""), "AETNA": ("W", 9, ""), "CIGNA": ("U", 8, "01"), "SELFPAY": ("SP", 8, "")}
    prefix, length, suffix = shapes.get(payer_id, ("OB" if payer_id == "OPTUMBH" else "", 9, ""))
    return f"{prefix}{_digits(rng, length)}{suffix}"


def first_name(rng: random.Random, sex: Sex) -> str:
    """A first name usual for ``sex``."""
    return rng.choice(FEMALE_NAMES if sex == Sex.FEMALE else MALE_NAMES)


def patient_fields(rng: random.Random, spec: dict[str, Any], n: int, today: date) -> tuple[dict[str, Any], int]:
    """Demographics of a practice's n-th patient, and their age (the family practice sees many children)."""
    if spec["slug"] == "harbor-family":
        age = rng.randint(5, 17) if rng.random() < 0.6 else rng.randint(25, 55)
    else:
        age = rng.randint(66, 84) if rng.random() < 0.13 else rng.randint(19, 64)
    sex = Sex.FEMALE if rng.random() < 0.56 else Sex.MALE
    city, state, zip3 = rng.choice(CITIES[spec["slug"]])
    return {
        "account_number": f"{spec['prefix']}{10001 + n}",
        "sex": sex,
        "first_name": first_name(rng, sex),
        "last_name": rng.choice(LAST_NAMES),
        "date_of_birth": today - timedelta(days=round(age * 365.25) + rng.randint(1, 360)),
        "address_line1": f"{rng.randint(12, 9890)} {rng.choice(STREETS)}",
        "city": city,
        "state": state,
        "zip_code": f"{zip3}{_digits(rng, 6)}",
        "phone": f"{spec['phone'][:3]}5550{rng.randint(100, 199)}",
    }, age


def payer_ids(rng: random.Random, age: int) -> list[str]:
    """Primary payer (Medicare or Medicare Advantage from 65) and, for about 15%, a secondary one."""
    odds = SENIOR_PAYER_ODDS if age >= 66 else UNDER_65_PAYER_ODDS
    primary = rng.choices(list(odds), weights=list(odds.values()))[0]
    if primary in ("MEDICAID", "OPTUMBH", "SELFPAY") or rng.random() > 0.19:
        return [primary]
    if primary == "MEDICARE":  # dual eligible, or a retiree plan
        return [primary, "MEDICAID" if rng.random() < 0.6 else "BCBS"]
    return [primary, rng.choice([p for p in ("AETNA", "BCBS", "UHC", "CIGNA") if p != primary])]  # spouse's plan


def coverage_fields(
    rng: random.Random, payer_id: str, priority: CoveragePriority, patient: dict[str, Any], age: int, start: date
) -> dict[str, Any]:
    """Member ID, group, effective date and subscriber of one coverage; dependents name their subscriber."""
    relationship = Relationship.SELF
    if payer_id not in SELF_ONLY and (age < 18 or (age < 26 and rng.random() < 0.5)):
        relationship = Relationship.CHILD
    elif payer_id not in SELF_ONLY and (priority == CoveragePriority.SECONDARY or rng.random() < 0.15):
        relationship = Relationship.SPOUSE
    dob = patient["date_of_birth"]
    effective = date(start.year - rng.randint(1, 4), rng.choice([1, 1, 7]), 1)
    fields: dict[str, Any] = {
        "member_id": make_member_id(rng, payer_id),
        "group_number": None if payer_id in SELF_ONLY else f"{_digits(rng, 6)}-0{_digits(rng, 2)}",
        "priority": priority,
        "relationship_to_subscriber": relationship,
        "effective_from": date(dob.year + 65, dob.month, 1) if payer_id == "MEDICARE" else effective,  # Part B from 65
    }
    if relationship != Relationship.SELF:
        sex = rng.choice([Sex.FEMALE, Sex.MALE])
        years = rng.randint(24, 40) if relationship == Relationship.CHILD else rng.randint(-6, 6)
        fields |= {"subscriber_first_name": first_name(rng, sex), "subscriber_last_name": patient["last_name"]}
        fields |= {"subscriber_sex": sex, "subscriber_date_of_birth": dob - timedelta(days=365 * years + 40)}
    return fields


def diagnoses(rng: random.Random, slug: str) -> list[str]:
    """One to three billable codes: an F-code first, then secondary codes from another category."""
    primary = rng.choice(PRIMARY_DX[slug])
    others = [code for code in SECONDARY_DX[slug] if code[:3] != primary[:3]]
    return [primary, *rng.sample(others, k=rng.choices([0, 1, 2], weights=[40, 45, 15])[0])]


def authorization_fields(rng: random.Random, payer_id: str, first_visit: date, visits: int, now: datetime) -> dict:
    """A block of visits (8.3) covering ``visits`` sessions from ``first_visit``; about a third nearly used up."""
    used = rng.randint(0, 8) + visits  # visits before the window, plus these
    start = first_visit - timedelta(days=rng.randint(0, 40))
    return {
        "number": f"{'PA' if payer_id == 'MEDICAID' else 'OBH'}{rng.randint(10**7, 10**8 - 1)}",
        "counts_visits": True,
        "authorized": used + rng.randint(1, 2) if rng.random() < 0.35 else max(used, 12) + 8,
        "used": used,
        "start_date": start,
        "end_date": max(start + timedelta(days=180), now.date() + timedelta(days=30)),
    }


def pick_service(
    rng: random.Random, slug: str, credential: str, first_visit: bool
) -> tuple[ServiceKind, int, str | None]:
    """(kind, minutes, E/M code) of one visit; only prescribers bill E/M and 90792 (1.7)."""
    prescriber = credential in PRESCRIBERS
    if first_visit:
        kind = SK.INTAKE_MEDICAL if prescriber else SK.INTAKE
        return kind, rng.choice(MINUTES[kind]), None
    mix = SERVICE_MIX["prescriber" if prescriber else "family" if slug == "harbor-family" else "therapy"]
    kind = rng.choices(list(mix), weights=list(mix.values()))[0]
    if kind == SK.EM_ONLY:
        em_code = rng.choices(["99212", "99213", "99214"], weights=[5, 45, 50])[0]
        return kind, rng.choice(EM_ONLY_MINUTES[em_code]), em_code
    if kind == SK.EM_WITH_PSYCHOTHERAPY:
        return kind, rng.choice(MINUTES[kind]), rng.choices(["99213", "99214"], weights=[4, 6])[0]
    if kind == SK.PSYCHOTHERAPY:
        band = rng.choices(["90832", "90834", "90837"], weights=BAND_SHARES[slug])[0]
        return kind, rng.choice(BAND_MINUTES[band]), None
    return kind, rng.choice(MINUTES[kind]), None


def visit_fields(rng: random.Random, slug: str, credential: str, first_visit: bool, new: bool) -> dict[str, Any]:
    """Service, minutes, modality, patient location, +90785 and 96127 screenings of one session."""
    kind, minutes, em_code = pick_service(rng, slug, credential, first_visit)
    modality = rng.choices(list(Modality), weights=[55, 38, 7])[0]
    location = PatientLocation.HOME  # audio-only is only ever from home
    if modality == Modality.IN_PERSON:
        location = PatientLocation.OFFICE
    elif modality == Modality.VIDEO and rng.random() < 0.12:
        location = PatientLocation.OTHER
    return {
        "service_kind": kind,
        "minutes": minutes,
        "em_code": em_code,
        "modality": modality,
        "patient_location": location,
        "interactive_complexity": kind in IC_KINDS and rng.random() < (0.12 if new else 0.04),
        "screening_count": rng.choice([1, 2, 2]) if first_visit else rng.choices([0, 1, 2], weights=[85, 12, 3])[0],
    }


def received_at(rng: random.Random, day: date, tz: ZoneInfo, minutes: int, now: datetime) -> datetime:
    """When the practice's EHR sent the session: after the visit ended, before ``now``."""
    end = datetime.combine(day, time(rng.randint(8, 17), rng.choice([0, 30])), tzinfo=tz) + timedelta(minutes=minutes)
    lag = rng.choices([rng.uniform(0.5, 6), rng.uniform(12, 20), rng.uniform(24, 70)], weights=[60, 30, 10])[0]
    latest = now - timedelta(minutes=rng.randint(5, 90))
    return max(min(end + timedelta(hours=lag), latest), end).astimezone(UTC)


def work_moment(rng: random.Random, after: datetime, tz: ZoneInfo, days: int) -> datetime:
    """A working moment (08:30-17:30 practice time) ``days`` business days after ``after``, in UTC."""
    local = after.astimezone(tz)
    if days == 0 and is_business_day(local.date()) and local.time() < time(16, 30):
        start = max(local, datetime.combine(local.date(), time(8, 30), tzinfo=tz))
        closing = datetime.combine(local.date(), time(17, 30), tzinfo=tz)
        return (start + (closing - start) * rng.uniform(0.05, 0.7)).astimezone(UTC)
    day = add_business_days(local.date(), max(days, 1), is_business_day)
    return datetime.combine(day, time(8, 30), tzinfo=tz).astimezone(UTC) + timedelta(minutes=rng.randint(0, 480))
