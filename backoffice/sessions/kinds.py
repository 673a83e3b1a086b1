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


class Modality(StrEnum):
    IN_PERSON = "in_person"
    VIDEO = "video"
    AUDIO_ONLY = "audio_only"


class PatientLocation(StrEnum):
    OFFICE = "office"
    HOME = "home"
    OTHER = "other"
