"""The scrubber's rule catalogue: stable ids, severity, field, message, fix hint and the section each enforces.

Findings of the coding engine (``backoffice.coding.catalogue``) pass through the scrubber unchanged; together
the two catalogues are every edit a claim goes through. ``docs/rules.md`` is generated from both.
"""

from __future__ import annotations

from backoffice.coding.catalogue import ERROR, WARNING, RuleInfo
from backoffice.coding.catalogue import RULES as CODING_RULES
from backoffice.itemforms.rules import EDIT_RULES

# Same-day combination edits (billing-rules 1.6): same patient, same date of service, same rendering NPI.
SAME_DAY: tuple[RuleInfo, ...] = (  # fmt: skip
    RuleInfo(
        "SAME-DAY-E1",
        ERROR,
        "service",
        "{a} and an E/M ({b}) on the same day by the same clinician.",
        "Bill one of them.",
        "billing-rules 1.6 E1",
    ),
    RuleInfo(
        "SAME-DAY-E2",
        ERROR,
        "service",
        "{a} and psychotherapy ({b}) on the same day by the same clinician.",
        "Bill the evaluation only.",
        "billing-rules 1.6 E2",
    ),
    RuleInfo(
        "SAME-DAY-E3",
        ERROR,
        "service",
        "{a} and crisis psychotherapy ({b}) on the same day.",
        "Bill one of them.",
        "billing-rules 1.6 E3",
    ),
    RuleInfo(
        "SAME-DAY-E4",
        ERROR,
        "service",
        "90791 and 90792 on the same day.",
        "Pick one diagnostic evaluation per day.",
        "billing-rules 1.6 E4",
    ),
    RuleInfo(
        "SAME-DAY-E5",
        ERROR,
        "service",
        "a second timed psychotherapy code ({b}) on a day that already has {a}.",
        "Only one timed psychotherapy code per day: combine the time into one session.",
        "billing-rules 1.6 E5",
    ),
    RuleInfo(
        "SAME-DAY-E6",
        ERROR,
        "service",
        "psychotherapy {a} and an E/M ({b}) on the same day.",
        "Bill the E/M with add-on 90833/90836/90838 instead.",
        "billing-rules 1.6 E6",
    ),
    RuleInfo(
        "SAME-DAY-E7",
        ERROR,
        "service",
        "psychotherapy add-on {a} without an E/M that day.",
        "Add the E/M or bill standalone psychotherapy.",
        "billing-rules 1.6 E7",
    ),
    RuleInfo(
        "SAME-DAY-E8",
        ERROR,
        "service",
        "90840 without 90839 that day.",
        "90840 only follows 90839.",
        "billing-rules 1.6 E8",
    ),
    RuleInfo(
        "SAME-DAY-E9",
        ERROR,
        "interactive_complexity",
        "interactive complexity 90785 with {b}, or without a primary it may go with.",
        "Remove 90785: it goes only with 90791/90792/90832-90838/90853.",
        "billing-rules 1.6 E9",
    ),
    RuleInfo(
        "SAME-DAY-E10",
        ERROR,
        "service",
        "crisis 90839 and {b} on the same day.",
        "Crisis psychotherapy is not billed with routine psychotherapy or 90785 the same day.",
        "billing-rules 1.6 E10",
    ),
    RuleInfo(
        "SAME-DAY-E11-SEPARATE",
        WARNING,
        "start_time",
        "psychotherapy {a} and family psychotherapy {b} the same day, as separate sessions: modifier {m} added.",
        "Keep documentation that these were separate and distinct sessions.",
        "billing-rules 1.6 E11",
    ),
    RuleInfo(
        "SAME-DAY-E11",
        ERROR,
        "start_time",
        "psychotherapy {a} and family psychotherapy {b} the same day, not shown as separate sessions.",
        "Give each session its start time if they were separate and distinct; otherwise bill one.",
        "billing-rules 1.6 E11",
    ),
    RuleInfo(
        "SAME-DAY-E12",
        WARNING,
        "screenings",
        "96127 with an E/M ({b}) the same day.",
        "Check whether this payer wants modifier 25 on the E/M or 59 on 96127.",
        "billing-rules 1.6 E12",
    ),
)

OTHER: tuple[RuleInfo, ...] = (
    RuleInfo("DX-FORMAT", ERROR, "diagnoses", "{code} is not an ICD-10-CM code: {problem}.",
             "Correct the code.", "billing-rules 3.5"),
    RuleInfo("DX-NOT-BILLABLE", ERROR, "diagnoses", "{problem}", "Use a billable (most specific) code.",
             "billing-rules 3.4"),
    RuleInfo("DX-CODE-SET-DATE", WARNING, "diagnoses",
             "the date of service is outside the ICD-10-CM release used ({version}); validity was checked against it.",
             "Confirm the code was valid on the date of service.", "billing-rules 3.4"),
    RuleInfo("DX-EXCLUDES1", ERROR, "diagnoses", "{a} and {b} cannot be reported together (Excludes1).",
             "Keep the one the documentation supports.", "billing-rules 3.4"),
    RuleInfo("DX-PRIMARY", ERROR, "diagnoses", "{problem}", "Put the underlying condition first.",
             "billing-rules 3.4"),
    RuleInfo("DX-Z-FIRST", WARNING, "diagnoses", "Z code {code} is the primary diagnosis of a psychotherapy service.",
             "Put the mental-health diagnosis first; many payers deny Z codes as primary.", "billing-rules 3.3"),
    RuleInfo("DX-UNSPECIFIED", WARNING, "diagnoses", "{code} is an unspecified code.",
             "Ask the clinician for a more specific diagnosis if the record supports one.", "billing-rules 3.4"),
    RuleInfo("NPI-BILLING", ERROR, "billing_npi", "billing NPI: {problem}.", "Fix the practice's group NPI.",
             "billing-rules 4.3"),
    RuleInfo("NPI-RENDERING", ERROR, "provider_npi", "rendering NPI: {problem}.", "Fix the provider's NPI.",
             "billing-rules 4.3"),
    RuleInfo("PATIENT-MEMBER-ID", ERROR, "member_id", "member ID is missing.", "Enter the member ID from the card.",
             "billing-rules 4.1"),
    RuleInfo("PATIENT-DOB", ERROR, "patient_dob", "patient date of birth is missing.", "Enter the date of birth.",
             "billing-rules 4.1"),
    RuleInfo("PATIENT-SEX", ERROR, "patient_sex", "patient sex is missing.", "Enter the patient's sex.",
             "billing-rules 4.1"),
    RuleInfo("AUTH-REQUIRED", ERROR, "auth_number",
             "{payer} requires prior authorization for {cpt} and no valid authorization with units left covers "
             "the date of service.", "Obtain or record the authorization before submitting.", "billing-rules 8.3"),
    RuleInfo("AUTH-DATES", ERROR, "auth_number",
             "{payer} requires prior authorization for {cpt}; the authorization on file for it does not cover the "
             "date of service.", "Request an authorization (or an extension) for these dates.", "billing-rules 8.3"),
    RuleInfo("AUTH-EXHAUSTED", ERROR, "auth_number",
             "{payer} requires prior authorization for {cpt}; the authorization in force for it has no visits or "
             "units left for this session.", "Request more visits/units (re-authorization) before submitting.",
             "billing-rules 8.3"),
    RuleInfo("FILING-PASSED", ERROR, "date_of_service", "the timely-filing deadline ({deadline}) has passed.",
             "Appeal with proof of timely filing, or request a write-off.", "billing-rules 5.1"),
    RuleInfo("FILING-SOON", WARNING, "date_of_service", "the timely-filing deadline is {deadline} ({days} days left).",
             "Submit now.", "billing-rules 5.1"),
    RuleInfo("DUPLICATE-SESSION", ERROR, "session_ref",
             "same patient, date, clinician and service as session {other}.", "Remove the duplicate.",
             "billing-rules 1.6"),
    RuleInfo("SELF-PAY", WARNING, "payer_id", "self-pay: there is no insurance claim to file.",
             "Bill the patient (Good Faith Estimate and statement).", "billing-rules 10.1"),
)  # fmt: skip

RULES: tuple[RuleInfo, ...] = SAME_DAY + OTHER
BY_ID: dict[str, RuleInfo] = {rule.id: rule for rule in RULES}


def rules_markdown() -> str:
    """docs/rules.md: every edit of the coding engine and the scrubber (regenerate with `backoffice rules-doc`)."""

    out = [
        "# Coding and scrubber rules",
        "",
        "Generated from `backoffice/coding/catalogue.py`, `backoffice/scrubber/catalogue.py` and",
        "`backoffice/itemforms/rules.py` by",
        "`backoffice rules-doc`; a test fails when this file and the catalogues disagree. `error` blocks",
        "submission, `warning` does not. Same-day edits look at one patient's sessions on one date with one",
        "rendering NPI.",
        "",
    ]
    sections = (
        ("Coding engine (per session)", CODING_RULES),
        ("Scrubber", RULES),
        ("Charge review (a biller's edits to the coded lines, live in the item page)", EDIT_RULES),
    )
    for title, rules in sections:
        out += [f"## {title}", "", "| rule | severity | field | message | fix | source |", "|---|---|---|---|---|---|"]
        for rule in rules:
            cells = (rule.id, rule.severity, rule.field, rule.message_template, rule.fix, rule.source)
            out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        out.append("")
    return "\n".join(out)
