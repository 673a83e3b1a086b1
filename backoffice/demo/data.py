"""Reference tables and name lists for the demo organization (all people and places are fictional).

Codes and payer rules follow ../shared/domain/billing-rules.md: taxonomies 4.2, MBI shape 4.3,
filing limits 5.1, telehealth POS/modifiers 2.2-2.3, SLA norms 9.2.
"""

from __future__ import annotations

import random
from typing import Any

from backoffice.orgs.rules import Credential, PayerKind
from backoffice.sessions.models import Modality, PatientLocation, ServiceKind
from backoffice.work.rules import WorkKind

ORG_NAME = "Summit Behavioral Billing"
ALL_STEPS = [kind.value for kind in WorkKind]

# Business days to the first payer status check: "status at 30 days" (billing-rules.md 9.2).
FOLLOW_UP_SLA_DAYS = 20

PRACTICES: list[dict[str, Any]] = [
    {
        "slug": "calm-mind", "name": "Calm Mind Counseling", "prefix": "CM", "taxonomy": "261QM0801X",
        "npi_base": "245817306", "tax_id": "231847562", "address_line1": "1420 Walnut Street",
        "address_line2": "Suite 600", "city": "Philadelphia", "state": "PA", "zip_code": "191025521",
        "phone": "2155550142", "timezone": "America/New_York", "owned_steps": ALL_STEPS,
        "sla_overrides": {"follow_up": FOLLOW_UP_SLA_DAYS},
        "patients": 80, "sessions": 200, "onboarded_days_ago": 540,
    },
    {
        "slug": "bright-path", "name": "Bright Path Psychiatry", "prefix": "BP", "taxonomy": "193200000X",
        "npi_base": "262094471", "tax_id": "411936058", "address_line1": "2700 Nicollet Avenue",
        "address_line2": "Floor 3", "city": "Minneapolis", "state": "MN", "zip_code": "554082617",
        "phone": "6125550178", "timezone": "America/Chicago",
        "owned_steps": ["verify_benefits", "obtain_preauth", "enter_charge", "audit", "submit",
                        "follow_up", "appeal"],
        "sla_overrides": {"follow_up": FOLLOW_UP_SLA_DAYS},
        "patients": 65, "sessions": 160, "onboarded_days_ago": 300,
    },
    {
        "slug": "harbor-family", "name": "Harbor Family Therapy", "prefix": "HF", "taxonomy": "261QM0801X",
        "npi_base": "287351940", "tax_id": "953172604", "address_line1": "3145 Rosecrans Street",
        "address_line2": None, "city": "San Diego", "state": "CA", "zip_code": "921103302",
        "phone": "6195550163", "timezone": "America/Los_Angeles",
        "owned_steps": ["enter_charge", "audit", "submit", "follow_up", "appeal"],
        # Their clinicians close notes late, so charge entry gets two business days.
        "sla_overrides": {"enter_charge": 2, "follow_up": FOLLOW_UP_SLA_DAYS},
        "patients": 55, "sessions": 140, "onboarded_days_ago": 150,
    },
]

TAXONOMY_BY_CREDENTIAL: dict[Credential, str] = {
    Credential.MD: "2084P0800X",
    Credential.DO: "2084P0800X",
    Credential.NP: "363LP0808X",
    Credential.PA: "363A00000X",  # NUCC Physician Assistant (not listed in billing-rules.md 4.2)
    Credential.PHD: "103TC0700X",
    Credential.PSYD: "103TC0700X",
    Credential.LCSW: "1041C0700X",
    Credential.LPC: "101YP2500X",
    Credential.LMFT: "106H00000X",
    Credential.LMHC: "101YM0800X",
}

PROVIDERS: dict[str, list[tuple[str, str, Credential]]] = {
    "calm-mind": [
        ("Rachel", "Abernathy", Credential.LCSW),
        ("Tomas", "Ferreira", Credential.LPC),
        ("Leah", "Okonkwo", Credential.LMFT),
        ("Daniel", "Whitaker", Credential.LCSW),
    ],
    "bright-path": [
        ("Anita", "Deshpande", Credential.MD),
        ("Karen", "Lindqvist", Credential.NP),
        ("Marcus", "Halvorsen", Credential.PA),
        ("Sophie", "Brandt", Credential.PSYD),
    ],
    "harbor-family": [
        ("Gabriela", "Montoya", Credential.LMFT),
        ("Kevin", "Tran", Credential.LCSW),
        ("Miriam", "Castellano", Credential.PHD),
    ],
}

COMMERCIAL_TELEHEALTH = {"video_modifier": "95", "audio_only_modifier": "93", "home_pos": "10",
                         "other_pos": "02"}
PAYERS: list[dict[str, Any]] = [
    {"payer_id": "MCRB1", "name": "Medicare Part B", "kind": PayerKind.MEDICARE,
     "filing_limit_days": 365, "appeal_window_days": 120, "phone": "8555550101",
     "telehealth_policy": {"video_modifier": None, "audio_only_modifier": "93", "home_pos": "10",
                           "other_pos": "02"},
     "prior_auth_cpts": []},
    {"payer_id": "MCD01", "name": "State Medicaid Fee-for-Service", "kind": PayerKind.MEDICAID,
     "filing_limit_days": 180, "appeal_window_days": 60, "phone": "8005550102",
     "telehealth_policy": {"video_modifier": "GT", "audio_only_modifier": "93", "home_pos": "10",
                           "other_pos": "02"},
     "prior_auth_cpts": ["90837", "96130", "96131"]},
    {"payer_id": "60054", "name": "Aetna", "kind": PayerKind.COMMERCIAL, "filing_limit_days": 120,
     "appeal_window_days": 180, "phone": "8885550103", "telehealth_policy": COMMERCIAL_TELEHEALTH,
     "prior_auth_cpts": ["96130", "96131", "96132", "96133"]},
    {"payer_id": "BCBS1", "name": "Blue Cross Blue Shield", "kind": PayerKind.COMMERCIAL,
     "filing_limit_days": 180, "appeal_window_days": 180, "phone": "8005550104",
     "telehealth_policy": COMMERCIAL_TELEHEALTH, "prior_auth_cpts": []},
    {"payer_id": "87726", "name": "UnitedHealthcare", "kind": PayerKind.COMMERCIAL,
     "filing_limit_days": 90, "appeal_window_days": 180, "phone": "8775550105",
     "telehealth_policy": COMMERCIAL_TELEHEALTH, "prior_auth_cpts": []},
    {"payer_id": "62308", "name": "Cigna", "kind": PayerKind.COMMERCIAL, "filing_limit_days": 90,
     "appeal_window_days": 180, "phone": "8005550106", "telehealth_policy": COMMERCIAL_TELEHEALTH,
     "prior_auth_cpts": []},
    {"payer_id": "61101", "name": "Humana Medicare Advantage", "kind": PayerKind.COMMERCIAL,
     "filing_limit_days": 365, "appeal_window_days": 65, "phone": "8005550107",
     "telehealth_policy": COMMERCIAL_TELEHEALTH, "prior_auth_cpts": []},
    {"payer_id": "CBH01", "name": "Carelon Behavioral Health", "kind": PayerKind.BH_CARVE_OUT,
     "filing_limit_days": 90, "appeal_window_days": 60, "phone": "8005550108",
     "telehealth_policy": COMMERCIAL_TELEHEALTH, "prior_auth_cpts": ["90837", "90847"]},
]
# Primary-payer weights for patients under 65 (65+ are on Medicare Part B or Humana MA).
UNDER_65_PAYER_WEIGHTS = {"MCD01": 18, "60054": 18, "BCBS1": 22, "87726": 16, "62308": 12,
                          "CBH01": 14}
SENIOR_PAYER_WEIGHTS = {"MCRB1": 75, "61101": 25}

# Billable ICD-10-CM codes per practice (3.2, 3.3): F-codes first, Z-codes only as secondary,
# never F32.x with F33.x (Excludes1).
PRIMARY_DX: dict[str, list[str]] = {
    "calm-mind": ["F33.1", "F33.0", "F32.1", "F32.A", "F41.1", "F41.0", "F43.10", "F43.12",
                  "F43.21", "F43.22", "F43.23"],
    "bright-path": ["F33.1", "F33.2", "F32.A", "F41.1", "F90.0", "F90.2", "F31.81", "F43.12",
                    "F41.0"],
    "harbor-family": ["F90.0", "F90.2", "F84.0", "F43.23", "F43.22", "F41.1", "F91.3", "F93.0"],
}
SECONDARY_DX: dict[str, list[str]] = {
    "calm-mind": ["F41.1", "Z63.0", "Z63.5", "Z56.0", "Z63.4"],
    "bright-path": ["F41.1", "F90.0", "G47.00", "Z63.0"],
    "harbor-family": ["Z63.8", "Z62.820", "Z63.0", "Z63.5", "F41.1"],
}

# Share of each service kind once a patient is established (their first visit is an intake).
SERVICE_MIX: dict[str, list[tuple[ServiceKind, int]]] = {
    "therapy": [(ServiceKind.PSYCHOTHERAPY, 98), (ServiceKind.CRISIS, 2)],
    "prescriber": [(ServiceKind.EM_WITH_PSYCHOTHERAPY, 45), (ServiceKind.EM_ONLY, 55)],
    "family": [(ServiceKind.FAMILY_WITH_PATIENT, 40), (ServiceKind.FAMILY_WITHOUT_PATIENT, 12),
               (ServiceKind.GROUP, 20), (ServiceKind.PSYCHOTHERAPY, 28)],
}
# Psychotherapy minutes by time band (1.1: 16-37 / 38-52 / 53+), with band weights per practice.
PSYCHOTHERAPY_MINUTES = {"90832": [20, 25, 28, 30, 30, 32, 35], "90834": [38, 40, 43, 45, 45, 48,
                         50, 52], "90837": [53, 53, 55, 56, 58, 60, 60, 62, 65]}
PSYCHOTHERAPY_BANDS = {"calm-mind": {"90832": 12, "90834": 55, "90837": 33},
                       "bright-path": {"90832": 15, "90834": 55, "90837": 30},
                       "harbor-family": {"90832": 25, "90834": 55, "90837": 20}}
MINUTES: dict[ServiceKind, list[int]] = {
    ServiceKind.INTAKE: [50, 55, 60, 60, 60, 75, 90],
    ServiceKind.INTAKE_MEDICAL: [45, 60, 60, 60, 75],
    ServiceKind.EM_WITH_PSYCHOTHERAPY: [16, 18, 20, 22, 25, 25, 30, 30, 35, 40],
    ServiceKind.CRISIS: [60, 65, 75, 90, 110],
    ServiceKind.FAMILY_WITH_PATIENT: [45, 50, 50, 53, 55, 60, 75],
    ServiceKind.FAMILY_WITHOUT_PATIENT: [30, 40, 45, 50],
    ServiceKind.GROUP: [60, 75, 90, 90],
}
EM_ONLY_MINUTES = {"99212": [10, 12, 15], "99213": [20, 22, 25, 28], "99214": [30, 32, 35, 40]}

FEMALE_NAMES = ["Abigail", "Alicia", "Amara", "Bianca", "Brenda", "Camila", "Carmen", "Chloe",
                "Danielle", "Denise", "Elena", "Emily", "Fatima", "Gloria", "Hannah", "Imani",
                "Jasmine", "Jennifer", "Julia", "Kayla", "Keisha", "Laura", "Lucia", "Madison",
                "Maya", "Megan", "Naomi", "Nicole", "Olivia", "Paige", "Priscilla", "Rebecca",
                "Rosa", "Samantha", "Sarah", "Tanya", "Teresa", "Valerie", "Wendy", "Zoe"]
MALE_NAMES = ["Aaron", "Adrian", "Andre", "Benjamin", "Brandon", "Caleb", "Carlos", "Christopher",
              "Darnell", "David", "Derek", "Elijah", "Eric", "Gabriel", "Gregory", "Hector",
              "Isaac", "Jamal", "Jason", "Jerome", "Jonathan", "Jose", "Kyle", "Liam", "Luis",
              "Malik", "Mason", "Nathan", "Noah", "Omar", "Patrick", "Raymond", "Ryan", "Samuel",
              "Terrence", "Victor", "Wesley", "William", "Xavier", "Zachary"]
LAST_NAMES = ["Acosta", "Adeyemi", "Albright", "Baker", "Barnes", "Bennett", "Brooks", "Castillo",
              "Chen", "Coleman", "Delgado", "Dunn", "Ellison", "Estrada", "Fischer", "Fleming",
              "Garrison", "Gupta", "Hale", "Harper", "Hoffman", "Ibarra", "Jansen", "Jimenez",
              "Kaplan", "Keller", "Kowalski", "Lambert", "Larsen", "Lopez", "Mahoney", "Mendoza",
              "Morrison", "Nakamura", "Novak", "Nguyen", "Oyelaran", "Park", "Patel", "Pearson",
              "Quinn", "Ramirez", "Reyes", "Robinson", "Sandoval", "Schultz", "Shapiro", "Sullivan",
              "Takahashi", "Thornton", "Underwood", "Vargas", "Vasquez", "Wallace", "Weber",
              "Whitfield", "Yamamoto", "Young", "Zimmerman", "Zhou"]
STREETS = ["Maple Avenue", "Oak Street", "Cedar Lane", "Elm Street", "Pine Ridge Road",
           "Lakeview Drive", "Willow Court", "Highland Avenue", "Park Place", "Riverside Drive",
           "Chestnut Street", "Sunset Boulevard", "Hillcrest Road", "Franklin Street"]
# (city, state, ZIP prefix) near each practice.
PATIENT_CITIES: dict[str, list[tuple[str, str, str]]] = {
    "calm-mind": [("Philadelphia", "PA", "191"), ("Cherry Hill", "NJ", "080"),
                  ("Media", "PA", "190"), ("Norristown", "PA", "194")],
    "bright-path": [("Minneapolis", "MN", "554"), ("St. Paul", "MN", "551"),
                    ("Bloomington", "MN", "554"), ("Edina", "MN", "554")],
    "harbor-family": [("San Diego", "CA", "921"), ("Chula Vista", "CA", "919"),
                      ("La Mesa", "CA", "919"), ("El Cajon", "CA", "920")],
}
REPRESENTATIVES = ["Angela M.", "Brian K.", "Crystal R.", "Devon T.", "Erica P.", "Felix G.",
                   "Heather L.", "Irene S.", "Jamal W.", "Kelly O.", "Lorraine B.", "Monique D.",
                   "Nate H.", "Patrice F.", "Quentin A.", "Renee C.", "Steve J.", "Tiffany V."]

# (email, password, role, name, practice slugs, queues)
STAFF: list[tuple[str, str, str, str, list[str], list[str]]] = [
    ("biller1@summit.example", "biller1-demo-2026", "biller", "Priya Natarajan",
     ["calm-mind", "bright-path"], ["eligibility", "authorization", "charge-entry"]),
    ("biller2@summit.example", "biller2-demo-2026", "biller", "Marcus Bell",
     ["bright-path", "harbor-family"], ["coding", "submission", "follow-up", "denials"]),
    ("biller3@summit.example", "biller3-demo-2026", "biller", "Elena Ruiz",
     ["harbor-family", "calm-mind"], ["eligibility", "authorization", "charge-entry", "coding",
                                      "submission", "follow-up", "denials"]),
    ("supervisor@summit.example", "supervisor-demo-2026", "supervisor", "Dana Whitfield",
     ["calm-mind", "bright-path", "harbor-family"], []),
    ("admin@summit.example", "admin-demo-2026", "admin", "Sam Okafor",
     ["calm-mind", "bright-path", "harbor-family"], []),
]

AUDIT_FINDINGS = [
    "Scrubber: POS corrected from 11 to 10 (video visit, patient at home).",
    "Scrubber: rendering taxonomy matched to NPPES before release.",
    "Diagnosis pointer reordered so the F-code is first-listed (Z-code secondary).",
    "90837 share for this clinician above 30% this month: start/stop times confirmed in the note.",
    "Removed duplicate 96127 unit: one instrument documented, not two.",
]
DENIALS = [
    ("CARC 197: precertification/authorization absent", "authorization"),
    ("CARC 16 / RARC M76: missing or invalid diagnosis", "coding"),
    ("CARC 50: not deemed a medical necessity", "medical necessity"),
    ("CARC 27: expenses incurred after coverage terminated", "eligibility"),
]
ESCALATIONS = [
    "Clinician has not signed the progress note after 3 business days; practice manager emailed.",
    "Member ID rejected by payer portal; practice must send an updated insurance card.",
    "Authorization nearly exhausted; clinician needs to submit a concurrent review.",
    "Coordination of benefits on file is outdated; patient must update other insurance.",
    "Payer says provider is not linked to the group NPI; credentialing needs to confirm.",
]
SNOOZE_REASONS = [
    "Payer reprocessing the claim; call back after the reprocessing window.",
    "Auth request submitted by fax; payer decision expected within 7 business days.",
    "Waiting for the practice to upload the signed treatment plan.",
]


# --- Pure generators of fictional values -------------------------------------------------------

MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"  # billing-rules.md 4.3: no S, L, O, I, B, Z
DIGITS = "0123456789"


def make_mbi(rng: random.Random) -> str:
    """A Medicare Beneficiary Identifier in the CMS shape (11 characters, no dashes)."""
    either = MBI_LETTERS + DIGITS
    shape = ["123456789", MBI_LETTERS, either, DIGITS, MBI_LETTERS, either, DIGITS, MBI_LETTERS,
             MBI_LETTERS, DIGITS, DIGITS]
    return "".join(rng.choice(chars) for chars in shape)


def make_member_id(rng: random.Random, payer_id: str) -> str:
    """A member ID in the shape the payer's cards use."""
    def digits(n: int) -> str:
        return "".join(rng.choice(DIGITS) for _ in range(n))

    shapes = {"MCRB1": make_mbi, "MCD01": lambda _: digits(11), "60054": lambda _: "W" + digits(9),
              "BCBS1": lambda _: rng.choice(["ZGP", "XOF", "QMK"]) + digits(9),
              "87726": lambda _: digits(9), "62308": lambda _: "U" + digits(8) + "01",
              "61101": lambda _: "H" + digits(8), "CBH01": lambda _: "CB" + digits(9)}
    return shapes[payer_id](rng)


def group_number(rng: random.Random, payer_id: str) -> str | None:
    """Employer group number for commercial plans; government plans have none."""
    if payer_id in ("MCRB1", "MCD01", "61101"):
        return None
    return f"{rng.randint(100000, 999999)}-{rng.choice(['010', '020', '0A1', '100'])}"


def pick_service(
    rng: random.Random, slug: str, credential: Credential, first_visit: bool
) -> tuple[ServiceKind, int, str | None]:
    """(service kind, minutes, E/M code) a clinician of this practice would bill for one visit."""
    prescriber = credential in (Credential.MD, Credential.DO, Credential.NP, Credential.PA)
    if first_visit:
        kind = ServiceKind.INTAKE_MEDICAL if prescriber else ServiceKind.INTAKE
        return kind, rng.choice(MINUTES[kind]), None
    mix = SERVICE_MIX["prescriber" if prescriber else "family" if slug == "harbor-family" else "therapy"]
    kind = rng.choices([k for k, _ in mix], weights=[w for _, w in mix])[0]
    if kind == ServiceKind.EM_ONLY:
        em_code = rng.choices(["99212", "99213", "99214"], weights=[5, 45, 50])[0]
        return kind, rng.choice(EM_ONLY_MINUTES[em_code]), em_code
    if kind == ServiceKind.EM_WITH_PSYCHOTHERAPY:
        return kind, rng.choice(MINUTES[kind]), rng.choices(["99213", "99214"], weights=[40, 60])[0]
    if kind == ServiceKind.PSYCHOTHERAPY:
        bands = PSYCHOTHERAPY_BANDS[slug]
        band = rng.choices(list(bands), weights=list(bands.values()))[0]
        return kind, rng.choice(PSYCHOTHERAPY_MINUTES[band]), None
    return kind, rng.choice(MINUTES[kind]), None


def pick_modality(rng: random.Random) -> tuple[Modality, PatientLocation]:
    """About 55% in person (office), 38% video (mostly from home), 7% audio-only (home)."""
    modality = rng.choices(list(Modality), weights=[55, 38, 7])[0]
    if modality == Modality.IN_PERSON:
        return modality, PatientLocation.OFFICE
    if modality == Modality.VIDEO and rng.random() < 0.15:
        return modality, rng.choice([PatientLocation.OTHER, PatientLocation.OFFICE])
    return modality, PatientLocation.HOME


def psychotherapy_code(minutes: int, *, with_em: bool = False) -> str:
    """90832/90834/90837 (or the E/M add-ons 90833/90836/90838) by the time bands of 1.1."""
    band = 0 if minutes <= 37 else 1 if minutes <= 52 else 2
    return (["90833", "90836", "90838"] if with_em else ["90832", "90834", "90837"])[band]


def cpt_codes(kind: ServiceKind, minutes: int, em_code: str | None, interactive: bool,
              screenings: int) -> list[str]:
    """The CPT lines for one session, primary first, then add-ons and 96127 screenings."""
    primary = {
        ServiceKind.INTAKE: ["90791"], ServiceKind.INTAKE_MEDICAL: ["90792"],
        ServiceKind.FAMILY_WITH_PATIENT: ["90847"], ServiceKind.FAMILY_WITHOUT_PATIENT: ["90846"],
        ServiceKind.GROUP: ["90853"], ServiceKind.EM_ONLY: [em_code or "99213"],
        ServiceKind.CRISIS: ["90839"] + (["90840"] * ((minutes - 75) // 30 + 1) if minutes > 74 else []),
    }.get(kind)
    if primary is None:
        with_em = kind == ServiceKind.EM_WITH_PSYCHOTHERAPY
        primary = ([em_code or "99213"] if with_em else []) + [psychotherapy_code(minutes, with_em=with_em)]
    return primary + (["90785"] if interactive else []) + ["96127"] * screenings
