"""What a session is: its kinds of service, modality and where the patient was (pure values, used by the import
rules, the coding engine and the models)."""

from __future__ import annotations

from enum import StrEnum


class ServiceKind(StrEnum):
    INTAKE = "intake"  # 90791
    INTAKE_MEDICAL = "intake_medical"  # 90792
    PSYCHOTHERAPY = "psychotherapy"  # 90832/90834/90837
    EM_WITH_PSYCHOTHERAPY = "em_psychotherapy"  # E/M + 90833/90836/90838
    EM_ONLY = "em"
    CRISIS = "crisis"  # 90839/+90840
    FAMILY_WITH_PATIENT = "family_with_patient"  # 90847
    FAMILY_WITHOUT_PATIENT = "family_without_patient"  # 90846
    GROUP = "group"  # 90853
    SCREENING = "screening"  # 96127 only (units = screenings)
    MULTI_FAMILY_GROUP = "multi_family_group"  # 90849
    ENVIRONMENTAL_INTERVENTION = "environmental_intervention"  # 90882
    RESULTS_INTERPRETATION = "results_interpretation"  # 90887
    TESTING_EVALUATION = "testing_evaluation"  # 96130/+96131
    NEUROPSYCH_EVALUATION = "neuropsych_evaluation"  # 96132/+96133
    TEST_ADMINISTRATION = "test_administration"  # 96136/+96137
    TEST_ADMINISTRATION_TECHNICIAN = "test_administration_technician"  # 96138/+96139
    BHI = "bhi"  # 99484, minutes in the calendar month
    COCM_INITIAL = "cocm_initial"  # 99492/+99494
    COCM_SUBSEQUENT = "cocm_subsequent"  # 99493/+99494
    HCPCS = "hcpcs"  # a HCPCS Level II code named in the procedure column (H0031, H2019, T1017, ...)


# Services whose code does not depend on time: the import lets their minutes be blank.
UNTIMED_SERVICES = frozenset({
    ServiceKind.INTAKE, ServiceKind.INTAKE_MEDICAL, ServiceKind.EM_ONLY, ServiceKind.GROUP, ServiceKind.SCREENING,
    ServiceKind.MULTI_FAMILY_GROUP, ServiceKind.ENVIRONMENTAL_INTERVENTION, ServiceKind.RESULTS_INTERPRETATION,
    ServiceKind.HCPCS,  # per diem and per encounter codes; a timed HCPCS code without minutes earns no unit
})  # fmt: skip


class Modality(StrEnum):
    IN_PERSON = "in_person"
    VIDEO = "video"
    AUDIO_ONLY = "audio_only"


class PatientLocation(StrEnum):
    OFFICE = "office"
    HOME = "home"
    OTHER = "other"
