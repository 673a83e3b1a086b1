"""Catalogue of every finding the coding engine can emit, each citing its billing-rules.md section."""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"  # blocks submission
WARNING = "warning"  # shown to the biller, does not block


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """One finding id: its severity, the session field it names, message, fix hint and the section it enforces."""

    id: str
    severity: str
    field: str
    message_template: str
    fix: str
    source: str


RULES: tuple[RuleInfo, ...] = (
    RuleInfo(
        "CODE-SERVICE-UNKNOWN",
        ERROR,
        "service",
        "service is not a kind the coding engine knows; nothing was coded.",
        "Choose one of the supported service kinds.",
        "billing-rules 1.1",
    ),
    RuleInfo(
        "CODE-MINUTES-NEGATIVE",
        ERROR,
        "minutes",
        "minutes is negative.",
        "Enter the documented psychotherapy minutes.",
        "billing-rules 1.2",
    ),
    RuleInfo(
        "CODE-TIME-UNDER-16",
        ERROR,
        "minutes",
        "minutes is under 16, so no psychotherapy code can be reported.",
        "Check the documented psychotherapy time; under 16 minutes is not billable.",
        "billing-rules 1.2",
    ),
    RuleInfo(
        "CODE-TIME-EXTENDED",
        WARNING,
        "minutes",
        "minutes is 90 or more: billed as one psychotherapy code (codes never stack); review the payer's "
        "extended-session rule.",
        "Check whether this payer publishes an extended-session rule.",
        "billing-rules 1.2",
    ),
    RuleInfo(
        "CODE-ADDON-UNDER-16",
        WARNING,
        "minutes",
        "minutes (psychotherapy time) is under 16, so the E/M is billed alone without a psychotherapy add-on.",
        "Bill the E/M alone, or correct the psychotherapy minutes if more were documented.",
        "billing-rules 1.2, 1.5",
    ),
    RuleInfo(
        "CODE-CRISIS-UNDER-30",
        WARNING,
        "minutes",
        "minutes is under 30, too short for crisis psychotherapy (90839); coded as regular psychotherapy by time.",
        "Confirm the total crisis time on the date of service.",
        "billing-rules 1.3",
    ),
    RuleInfo(
        "CODE-FAMILY-UNDER-26",
        ERROR,
        "minutes",
        "minutes is under 26, so family psychotherapy (90846/90847) is not reportable.",
        "Check the documented family session time.",
        "billing-rules 1.2",
    ),
    RuleInfo(
        "CODE-EM-MISSING",
        ERROR,
        "em_code",
        "em_code is missing; an E/M service needs an office E/M code.",
        "Enter the E/M level (99202-99205 or 99211-99215).",
        "billing-rules 1.5",
    ),
    RuleInfo(
        "CODE-EM-INVALID",
        ERROR,
        "em_code",
        "em_code is not an office E/M code (99202-99205, 99211-99215); no E/M or add-on line was coded.",
        "Enter the office E/M level chosen by medical decision making or E/M time.",
        "billing-rules 1.5",
    ),
    RuleInfo(
        "CODE-EM-99211-ADDON",
        ERROR,
        "em_code",
        "em_code 99211 with a psychotherapy add-on is not accepted by this payer.",
        "Use 99212-99215 if the documentation supports it, or bill the E/M alone.",
        "billing-rules 1.1",
    ),
    RuleInfo(
        "CODE-EM-IGNORED",
        WARNING,
        "em_code",
        "em_code is set but this service has no E/M, so no E/M was billed.",
        "Use the E/M with psychotherapy service if an E/M was performed, or clear em_code.",
        "billing-rules 1.5",
    ),
    RuleInfo(
        "CODE-90785-WITH-CRISIS",
        WARNING,
        "interactive_complexity",
        "interactive_complexity (+90785) cannot be billed with crisis psychotherapy (90839/90840); it was left off.",
        "Bill the crisis codes without +90785.",
        "billing-rules 1.1, 1.3",
    ),
    RuleInfo(
        "CODE-90785-WITH-FAMILY",
        WARNING,
        "interactive_complexity",
        "interactive_complexity (+90785) cannot be billed with family psychotherapy (90846/90847); it was left off.",
        "Bill the family code without +90785.",
        "billing-rules 1.1",
    ),
    RuleInfo(
        "CODE-90785-EM-WITHOUT-ADDON",
        WARNING,
        "interactive_complexity",
        "interactive_complexity (+90785) cannot be billed with an E/M that has no psychotherapy add-on; it was "
        "left off.",
        "Record the psychotherapy minutes if psychotherapy was performed.",
        "billing-rules 1.4, 1.5",
    ),
    RuleInfo(
        "CODE-90785-NO-PRIMARY",
        WARNING,
        "interactive_complexity",
        "interactive_complexity (+90785) is never billed alone and this session has no billable primary service; "
        "it was left off.",
        "Fix the primary service first.",
        "billing-rules 1.1",
    ),
    RuleInfo(
        "CODE-96127-CAPPED",
        WARNING,
        "screenings",
        "screenings is {requested} but this payer allows at most {cap} units of 96127; {cap} billed.",
        "Bill the capped units, or check the payer's MUE and screening policy.",
        "billing-rules 1.1",
    ),
    RuleInfo(
        "CODE-SCREENINGS-NEGATIVE",
        ERROR,
        "screenings",
        "screenings is negative.",
        "Enter the number of standardized instruments scored.",
        "billing-rules 1.1",
    ),
    RuleInfo(
        "CODE-CRED-UNKNOWN",
        ERROR,
        "credential",
        "credential is not a recognised clinician credential.",
        "Correct the rendering clinician's credential.",
        "billing-rules 1.7",
    ),
    RuleInfo(
        "CODE-CRED-PRESCRIBER-ONLY",
        ERROR,
        "credential",
        "credential may not bill E/M, 90792 or the psychotherapy add-ons; only MD, DO, NP and PA may.",
        "Bill under the prescriber who performed it, or code 90791 / psychotherapy by time.",
        "billing-rules 1.7, 1.6 E16",
    ),
    RuleInfo(
        "CODE-MODALITY-UNKNOWN",
        ERROR,
        "modality",
        "modality is not in person, video or audio-only.",
        "Record how the session was delivered.",
        "billing-rules 2.3",
    ),
    RuleInfo(
        "CODE-LOCATION-UNKNOWN",
        ERROR,
        "patient_location",
        "patient_location is not office, home or other.",
        "Record where the patient was during the session.",
        "billing-rules 2.2",
    ),
    RuleInfo(
        "CODE-POS-IN-PERSON-OTHER",
        WARNING,
        "patient_location",
        "patient_location is neither office nor home for an in-person session; place of service 11 was assumed.",
        "Set the real place of service (e.g. 03 school, 53 CMHC).",
        "billing-rules 2.2",
    ),
    RuleInfo(
        "CODE-TELE-AUDIO-NOT-COVERED",
        ERROR,
        "modality",
        "modality audio-only is not billable for this payer.",
        "Confirm the payer's audio-only coverage; otherwise do not bill the session to this payer.",
        "billing-rules 2.3",
    ),
    RuleInfo(
        "CODE-TELE-AUDIO-NOT-HOME",
        ERROR,
        "patient_location",
        "patient_location must be home for an audio-only session with this payer.",
        "Check where the patient was; audio-only elsewhere is not covered.",
        "billing-rules 2.3",
    ),
    RuleInfo(
        "CODE-TELE-AUDIO-95",
        ERROR,
        "modality",
        "modality audio-only would go out with modifier 95 (video); the payer's audio-only modifier is wrong.",
        "Set the payer's audio-only modifier (usually 93).",
        "billing-rules 2.3",
    ),
    RuleInfo(
        "CODE-TELE-IN-PERSON-VISIT",
        WARNING,
        "modality",
        "modality is telehealth and this payer requires an in-person visit within 6 months before "
        "tele-mental-health services on this date of service.",
        "Confirm an in-person visit in the last 6 months is documented.",
        "billing-rules 2.3",
    ),
    RuleInfo(
        "CODE-DX-NONE",
        ERROR,
        "diagnoses",
        "diagnoses is empty; every line needs a diagnosis pointer.",
        "Add the diagnosis the documentation supports, primary first.",
        "billing-rules 3.4, 4.1",
    ),
    RuleInfo(
        "CODE-DX-OVER-12",
        ERROR,
        "diagnoses",
        "diagnoses has more than 12 codes; a claim carries at most 12.",
        "Keep the 12 most relevant diagnoses, primary first.",
        "billing-rules 4.1",
    ),
)
