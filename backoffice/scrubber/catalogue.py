"""The scrubber's rule catalogue: stable ids, severity, field, message, fix hint and the section each enforces.

Findings of the coding engine (``backoffice.coding.catalogue``) pass through the scrubber unchanged; together
the two catalogues are every edit a claim goes through. ``docs/rules.md`` is generated from both.
"""

from __future__ import annotations

from backoffice.coding import cpt, hcpcs, ncci, units
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

# Issue 21: NCCI PTP/MUE (versioned data in coding/ncci.py), payer unit limits, modifier 25 across sessions,
# associates billed under supervision, and the dry run's rows that could not be read.
CODING_EDITS: tuple[RuleInfo, ...] = (
    RuleInfo("NCCI-PTP", ERROR, "service",
             "{a} and {b} may not be billed together on one date by one provider (NCCI PTP {quarter}, modifier "
             "indicator {indicator}){hint}.", "Bill the column-1 code only, or document distinct services.",
             "CMS NCCI PTP practitioner edits (coding/ncci.py, each pair with its source)"),
    RuleInfo("NCCI-PTP-MODIFIER", WARNING, "start_time",
             "{a} and {b} were separate sessions: modifier {m} added to {b} "
             "(NCCI PTP {quarter}, modifier indicator 1).",
             "Keep documentation that the services were distinct.", "CMS NCCI PTP; MLN1783722 (59/X{EPSU})"),
    RuleInfo("NCCI-MUE", ERROR, "units",
             "{code}: {units} units on one date exceed the medically unlikely edit limit of {limit} "
             "(NCCI MUE {quarter}).",
             "Bill at most the limit, or appeal with documentation.", "CMS NCCI MUE practitioner table"),
    RuleInfo("PAYER-MAX-UNITS", ERROR, "units",
             "{code}: {units} units on one date exceed this payer's limit of {limit}.",
             "Bill at most the payer's limit for the date.", "payer coding policy (max_units)"),
    RuleInfo("SAME-DAY-25", WARNING, "em_code",
             "modifier 25 added to {em}: {other} the same day is a separately identifiable service.",
             "Keep documentation that the E/M was significant and separately identifiable.", "billing-rules 2.1 (25)"),
    RuleInfo("SUPERVISION-2310D", WARNING, "provider_npi",
             "rendered by an associate: billed under the associate's NPI with the supervising provider ({npi}) in "
             "loop 2310D, as this payer requires.", "Nothing to do; the supervisor must have co-signed the note.",
             "payer coding policy (associate_billing); 837P 2310D"),
    RuleInfo("SUPERVISION-UNDER-SUPERVISOR", WARNING, "provider_npi",
             "rendered by an associate: this payer pays only under the supervising provider ({npi}), who is the "
             "rendering provider on the claim.", "Confirm the supervisor's presence or co-signature per the payer.",
             "payer coding policy (associate_billing)"),
    RuleInfo("SUPERVISION-NOT-BILLABLE", ERROR, "provider_npi",
             "rendered by an associate: this payer does not pay for services of pre-licensed clinicians.",
             "Bill the patient or another payer, or have a licensed clinician render the service.",
             "payer coding policy (associate_billing)"),
    RuleInfo("SUPERVISION-MISSING", ERROR, "provider_npi",
             "rendered by an associate with no supervising provider on file.",
             "Set the associate's supervising provider.", "payer coding policy (associate_billing)"),
    RuleInfo("EIGHT-MINUTE-DAY", WARNING, "minutes",
             "{total} minutes of 15-minute services on this date are billed together by the CMS eight-minute rule: "
             "{units}.", "Nothing to do; a payer with the midpoint rule counts each service on its own.",
             "CMS Medicare Claims Processing Manual ch. 5 §20.2 (eight-minute rule)"),
    RuleInfo("TESTING-ACROSS-DATES", WARNING, "minutes",
             "{service}: {total} minutes over {dates} dates of one testing episode; this date reports {codes}.",
             "Check that the dates belong to one evaluation; evaluation time is reported on the completion date.",
             "billing-rules 1.1 (96130-96139); CPT testing guidelines, APA Services testing billing guide"),
    RuleInfo("ROW-INVALID", ERROR, "(row)", "row {row}, column {column}: {message}",
             "Correct the value; the row was not coded.", "docs/import-format.md"),
)  # fmt: skip

RULES: tuple[RuleInfo, ...] = SAME_DAY + OTHER + CODING_EDITS
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
    return "\n".join(out + _data_tables())


def _data_tables() -> list[str]:
    """The coding data the rules above read: unit rules, HCPCS Level II, testing/CoCM thresholds, NCCI tables."""
    out = ["## Unit rules", "", "| rule | source |", "|---|---|"]
    out += [f"| {name} | {source} |" for name, source in units.SOURCES.items()]
    out += ["", f"## HCPCS Level II codes ({hcpcs.SOURCE})", "", "| code | description | unit |", "|---|---|---|"]
    out += [f"| {c.code} | {c.description} | {c.unit_kind} |" for c in hcpcs.CODES.values()]
    out += ["", "## Testing codes (CPT time rule: a unit is attained when its midpoint is passed)", "",
            "| service | first unit | add-on | minutes per unit | first unit from | reported |",
            "|---|---|---|---|---|---|"]  # fmt: skip
    for service, (first, addon, block) in cpt.TESTING.items():
        when = "on the completion date" if service in cpt.TESTING_REPORTED_AT_COMPLETION else "on each date"
        out.append(f"| {service} | {first} | {addon} | {block} | {block // 2 + 1} | {when} |")
    out += ["", "## Integration codes per calendar month (CMS MLN909432)", "",
            f"- 99484 from {cpt.BHI_MIN_MINUTES} minutes."]  # fmt: skip
    for service, (code, block, threshold) in cpt.COCM.items():
        out.append(f"- {service}: {code} from {threshold} minutes; +99494 from {block + 16} (each 30 minutes more).")
    states = ", ".join(sorted(cpt.PRESCRIBING_PSYCHOLOGIST_STATES))
    out.append(f"- +90863 only in states where psychologists prescribe: {states}.")
    verified = "compared with the CMS files" if ncci.VERIFIED else "NOT yet compared line by line with CMS files"
    out += ["", f"## NCCI PTP pairs ({ncci.QUARTER}, {ncci.VERSION}, {verified})", "", ncci.SOURCE, "",
            "| column 1 | column 2 | modifier indicator | reported by | source |", "|---|---|---|---|---|"]  # fmt: skip
    for edit in ncci.PTP:
        out.append(
            f"| {edit.column1} | {edit.column2} | {edit.modifier_indicator} | {edit.covered_by or 'NCCI-PTP'} "
            f"| {edit.source} |"
        )
    out += ["", f"## NCCI MUE ({ncci.QUARTER}, {ncci.VERSION}, {verified})", "", "| code | units per date | source |",
            "|---|---|---|"]  # fmt: skip
    out += [f"| {m.code} | {m.limit} | {m.source} |" for m in ncci.MUE]
    return [*out, ""]
