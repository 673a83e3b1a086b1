"""Pure CPT tables for behavioral health: psychotherapy time bands, crisis units and code families (billing-rules 1)."""

from __future__ import annotations

from backoffice.coding.units import midpoint_units
from backoffice.orgs.rules import PRESCRIBERS, Credential

# Time thresholds, billing-rules 1.2 and 1.3. They are CPT conventions, the same for every payer.
PSYCHOTHERAPY_MIN_MINUTES = 16  # below this no psychotherapy code, with or without E/M
BAND_45_FROM = 38  # 38-52 → 90834 / +90836
BAND_60_FROM = 53  # 53+ → 90837 / +90838
EXTENDED_SESSION_MINUTES = 90  # one code however long; from here the session is flagged for payer review
CRISIS_MIN_MINUTES = 30  # 90839 covers 30-74 minutes
CRISIS_FIRST_BLOCK_LAST_MINUTE = 74
CRISIS_BLOCK_MINUTES = 30  # +90840 per further block: ceil((minutes - 74) / 30)
FAMILY_MIN_MINUTES = 26  # 90846/90847 midpoint

# Claim shape limits, billing-rules 4.1 (CMS-1500 items 21 and 24D/24E).
MAX_DIAGNOSES = 12
MAX_POINTERS = 4
MAX_MODIFIERS = 4

INTAKE = "90791"
INTAKE_MEDICAL = "90792"
CRISIS = "90839"
CRISIS_ADDON = "90840"
FAMILY_WITHOUT_PATIENT = "90846"
FAMILY_WITH_PATIENT = "90847"
GROUP = "90853"
INTERACTIVE_COMPLEXITY = "90785"
SCREENING = "96127"

# Office/outpatient E/M, new (99202-99205) and established (99211-99215); 99201 was deleted in 2021.
EM_OFFICE: frozenset[str] = frozenset({"99202", "99203", "99204", "99205", "99211", "99212", "99213", "99214", "99215"})
EM_CLINICAL_STAFF = "99211"  # pairing it with a psychotherapy add-on is payer-dependent (1.1 [VERIFY])
PSYCHOTHERAPY_ADDONS: frozenset[str] = frozenset({"90833", "90836", "90838"})

# The only primaries +90785 may ride on (billing-rules 1.1, 1.4, 1.5 and E9).
INTERACTIVE_COMPLEXITY_PRIMARIES: frozenset[str] = frozenset(
    {"90791", "90792", "90832", "90833", "90834", "90836", "90837", "90838", "90853"}
)

# Codes only a practitioner licensed for medical services may bill (billing-rules 1.7, E16).
PRESCRIBER_ONLY: frozenset[str] = EM_OFFICE | PSYCHOTHERAPY_ADDONS | {INTAKE_MEDICAL}
CREDENTIALS: frozenset[str] = frozenset(c.value for c in Credential)
PRESCRIBER_CREDENTIALS: frozenset[str] = frozenset(c.value for c in PRESCRIBERS)

_CRISIS_FIRST_BLOCK: tuple[tuple[str, int], ...] = ((CRISIS, 1),)


def psychotherapy_code(minutes: int) -> str | None:
    """Standalone psychotherapy code for these minutes (90832/90834/90837), None under 16; never more than one."""
    if minutes < PSYCHOTHERAPY_MIN_MINUTES:
        return None
    if minutes < BAND_45_FROM:
        return "90832"
    if minutes < BAND_60_FROM:
        return "90834"
    return "90837"


def psychotherapy_addon_code(minutes: int) -> str | None:
    """E/M add-on for these psychotherapy minutes (90833/90836/90838), None under 16; same bands as standalone."""
    if minutes < PSYCHOTHERAPY_MIN_MINUTES:
        return None
    if minutes < BAND_45_FROM:
        return "90833"
    if minutes < BAND_60_FROM:
        return "90836"
    return "90838"


def crisis_lines(minutes: int) -> tuple[tuple[str, int], ...]:
    """(code, units) for crisis psychotherapy: 90839 once from 30 min, +90840 per 30-min block past 74; () under 30."""
    if minutes < CRISIS_MIN_MINUTES:
        return ()
    if minutes <= CRISIS_FIRST_BLOCK_LAST_MINUTE:
        return _CRISIS_FIRST_BLOCK
    blocks = -(-(minutes - CRISIS_FIRST_BLOCK_LAST_MINUTE) // CRISIS_BLOCK_MINUTES)  # ceiling division
    return ((CRISIS, 1), (CRISIS_ADDON, blocks))


# Psychological and neuropsychological testing (billing-rules 1.1): (first-unit code, add-on code, unit minutes).
# A unit is attained when its midpoint is passed (CPT time rule): 31 minutes for an hour, 16 for half an hour.
TESTING: dict[str, tuple[str, str, int]] = {
    "testing_evaluation": ("96130", "96131", 60),
    "neuropsych_evaluation": ("96132", "96133", 60),
    "test_administration": ("96136", "96137", 30),
    "test_administration_technician": ("96138", "96139", 30),
}
# Evaluation services are reported on the date the evaluation is completed (their time summed over the dates it
# took); test administration is reported on each date it happened (CPT 2019 testing guidelines, APA Services).
TESTING_REPORTED_AT_COMPLETION = frozenset({"testing_evaluation", "neuropsych_evaluation"})
TESTING_CODES: frozenset[str] = frozenset(code for first, addon, _ in TESTING.values() for code in (first, addon))
# Who may bill testing evaluation and professional administration: physicians, NPs/PAs within scope and
# psychologists; LCSW/LPC/LMFT/LMHC generally not (billing-rules 1.7). Technician administration is billed by them.
TESTING_CREDENTIALS: frozenset[str] = frozenset({"MD", "DO", "NP", "PA", "PhD", "PsyD"})

# Untimed services (one unit, minutes not needed).
MULTI_FAMILY_GROUP = "90849"
ENVIRONMENTAL_INTERVENTION = "90882"
RESULTS_INTERPRETATION = "90887"
PHARMACOLOGIC_MANAGEMENT = "90863"  # add-on to 90832/90834/90837 by a prescribing psychologist
PHARMACOLOGIC_PRIMARIES = frozenset({"90832", "90834", "90837"})
PSYCHOLOGISTS = frozenset({"PhD", "PsyD"})
# States whose law lets psychologists prescribe (APA Services, "Prescriptive authority for psychologists", 2025):
# New Mexico 2002, Louisiana 2004, Illinois 2014, Iowa 2016, Idaho 2017, Colorado 2023, Utah 2023.
PRESCRIBING_PSYCHOLOGIST_STATES = frozenset({"NM", "LA", "IL", "IA", "ID", "CO", "UT"})

# Behavioural-health integration and the psychiatric collaborative-care model, per calendar month
# (CMS MLN909432): 99484 from 20 minutes; 99492 initial month from 36 (70-minute code), 99493 subsequent months from
# 31 (60-minute code); +99494 per further 30 minutes, attained at 16 (initial month 86+, subsequent 76+).
BHI = "99484"
BHI_MIN_MINUTES = 20
COCM: dict[str, tuple[str, int, int]] = {"cocm_initial": ("99492", 70, 36), "cocm_subsequent": ("99493", 60, 31)}
COCM_ADDON = "99494"

# Services that are separately identifiable from an E/M the same day (modifier 25 on the E/M, billing-rules 2.1).
SEPARATELY_IDENTIFIABLE: frozenset[str] = frozenset({SCREENING}) | TESTING_CODES


def testing_across_dates(service: str, minutes: list[int]) -> list[list[tuple[str, int]]]:
    """(code, units) per date of one testing episode (``minutes`` per date, in date order).

    Evaluation services (96130-96133): all the time is summed and reported on the date the evaluation is completed
    (the last date). Test administration (96136-96139): the first-unit code once, on the date the running total
    first reaches it, and the add-on units on the dates the running total attains them.
    """
    first, addon, block = TESTING[service]
    out: list[list[tuple[str, int]]] = [[] for _ in minutes]
    if service in TESTING_REPORTED_AT_COMPLETION:
        count = midpoint_units(sum(minutes), block)
        if count:
            out[-1] = [(first, 1)] + ([(addon, count - 1)] if count > 1 else [])
        return out
    running = attained = 0
    for index, spent in enumerate(minutes):
        running += spent
        now = midpoint_units(running, block)
        new, attained = now - attained, now
        if new and now == new:  # the first unit is attained today
            out[index] = [(first, 1)] + ([(addon, new - 1)] if new > 1 else [])
        elif new:
            out[index] = [(addon, new)]
    return out
