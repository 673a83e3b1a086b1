"""ICD-10-CM checks as pure, fast functions (billing-rules.md 3.1-3.5).

The code set is the CDC release shipped inside the ``simple-icd-10-cm`` package: its tabular XML (codes,
titles, Excludes1 notes, 7th-character rules) and its list of every code. Those two files are read once, on
first use, into frozensets and dicts (about 1 s and 45 MB); after that every check is a set or dict lookup.
The package's own module is never imported: at import time it builds an object per code from the same files,
which takes about 2.5 s and 190 MB in every process that touches it.

Codes are valid by fiscal year (1 Oct - 30 Sep, billing-rules.md 3.4): the data here is valid for
``CODE_SET_EFFECTIVE`` only, and ``billable_problem`` says so for any other date of service.
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

CODE_SET_VERSION = "ICD-10-CM FY2026, April 1, 2026 update (simple-icd-10-cm 1.5.0)"
CODE_SET_EFFECTIVE: tuple[date, date] = (date(2025, 10, 1), date(2026, 9, 30))

# The files CODE_SET_VERSION names. A package upgrade that ships another release must fail loudly here
# rather than check new-year claims against a table labelled with the wrong dates.
_PACKAGE = "simple_icd_10_cm"
_TABULAR_FILE = "icd10c-tabular-April-1-2026.xml"
_TABULAR_YEAR = "2026"
_CODE_LIST_FILE = "code-list-April-2026.txt"

# billing-rules.md 3.5: letter, digit, then 1-5 digits or letters; the dot, if written, follows the 3rd. FY2026
# added category QA0 (genetic neurodevelopmental disorders), the first codes with a letter in 2nd place.
_SHAPE = re.compile(r"(?:[A-Z][0-9]|QA)[0-9A-Z](?:\.?[0-9A-Z]{1,4})?")
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.")
# Titles that say "unspecified"; NOS "is the equivalent of unspecified" (ICD-10-CM convention I.A.5).
_UNSPECIFIED = re.compile(r"(?i:\bunspecified\b|\bnot otherwise specified\b)|\bNOS\b")
# Etiology/manifestation convention: "in [other ...] diseases classified elsewhere" codes are never first-listed.
_MANIFESTATION = re.compile(r"\bin (?:[\w,'-]+ ){0,4}(?:diseases?|conditions) classified elsewhere\b", re.IGNORECASE)
_PARENTHESES = re.compile(r"\(([^()]*)\)")
_CHAPTER_RANGE = re.compile(r"\(([A-Z][0-9A-Z]{2})(?:-([A-Z][0-9A-Z]{2}))?\)\s*$")
_LISTED_CHILDREN = 6  # a category message names up to this many billable codes


@dataclass(frozen=True, slots=True)
class _Excludes1:
    low: str  # normalized code or prefix; a single code has low == high
    high: str
    owner: str  # the code, block or chapter carrying the note
    note: str

    def matches(self, code: str) -> bool:
        return self.low <= code[: len(self.low)] and code[: len(self.high)] <= self.high


@dataclass(frozen=True, slots=True)
class _CodeSet:
    known: frozenset[str]  # normalized: categories, subcategories and 7th-character codes
    billable: frozenset[str]  # the leaves
    billable_sorted: tuple[str, ...]
    descriptions: dict[str, str]
    unspecified: frozenset[str]
    manifestation: frozenset[str]
    excludes1: dict[str, tuple[_Excludes1, ...]]  # by code; block and chapter notes filed under each category


def normalize(code: str) -> str:
    """Strip, upper-case and drop the dot: ``"f43.10 "`` -> ``"F4310"`` (the 837P HI-segment form)."""
    return code.strip().upper().replace(".", "")


def display(code: str) -> str:
    """The code with its dot after the 3rd character: ``"F4310"`` -> ``"F43.10"``."""
    key = normalize(code)
    return f"{key[:3]}.{key[3:]}" if len(key) > 3 else key


def format_problem(code: str) -> str | None:
    """None if ``code`` has the ICD-10-CM shape of billing-rules.md 3.5, else what is wrong with it."""
    text = code.strip().upper()
    if _SHAPE.fullmatch(text):
        return None
    shown = repr(code.strip())
    body = text.replace(".", "")
    if not text:
        return "ICD-10-CM code is empty"
    if not set(text) <= _ALLOWED:
        return f"ICD-10-CM code {shown} may contain only letters, digits and one decimal point"
    if text.count(".") > 1:
        return f"ICD-10-CM code {shown} has more than one decimal point"
    if "." in text and text.index(".") != 3:
        return f"ICD-10-CM code {shown} must have its decimal point after the 3rd character"
    if len(body) < 3:
        return f"ICD-10-CM code {shown} is too short: 3 to 7 characters"
    if len(body) > 7:
        return f"ICD-10-CM code {shown} is too long: 3 to 7 characters, not counting the decimal point"
    if text.endswith("."):
        return f"ICD-10-CM code {shown} has nothing after its decimal point"
    if not body[0].isalpha():
        return f"ICD-10-CM code {shown} must start with a letter"
    return f"ICD-10-CM code {shown} must have a digit as its 2nd character (QA0 is the only exception)"


@functools.lru_cache(maxsize=16384)  # claims repeat a few hundred codes: a hit costs a fraction of the regex
def _key(code: str) -> str | None:
    """The normalized code if its shape is valid, else None (a malformed code is never known)."""
    text = code.strip().upper()
    return text.replace(".", "") if _SHAPE.fullmatch(text) else None


def is_known(code: str) -> bool:
    """Whether the code exists in the code set, as a billable code or as a category header."""
    key = _key(code)
    return key is not None and key in _code_set().known


def is_billable(code: str) -> bool:
    """Whether the code is a leaf, valid on a claim; headers such as F43.1 are not (billing-rules.md 3.4)."""
    key = _key(code)
    return key is not None and key in _code_set().billable


def covers(date_of_service: date) -> bool:
    """Whether the code set used here is the one in force on ``date_of_service``."""
    return CODE_SET_EFFECTIVE[0] <= date_of_service <= CODE_SET_EFFECTIVE[1]


def billable_problem(code: str, date_of_service: date) -> str | None:
    """None if the code is billable on ``date_of_service``, else why not (shape, unknown, category, date).

    A date outside ``CODE_SET_EFFECTIVE`` always yields a message, since the code was checked against another
    year's table: the caller tells that case by ``covers(date_of_service)`` and decides its severity.
    """
    key = _key(code)
    if key is None:
        return format_problem(code)
    code_set = _code_set()
    if key in code_set.billable:
        problem = None
    elif key in code_set.known:
        problem = _category_message(key)
    else:
        problem = _unknown_message(code_set, key)
    if covers(date_of_service):
        return problem
    start, end = CODE_SET_EFFECTIVE
    if problem is None:
        return (
            f"{display(key)} was not checked for the date of service {date_of_service.isoformat()}: "
            f"the code set used ({CODE_SET_VERSION}) covers {start.isoformat()} to {end.isoformat()} only"
        )
    return f"{problem} (per {CODE_SET_VERSION}, which does not cover the date of service {date_of_service.isoformat()})"


def is_unspecified(code: str) -> bool:
    """Whether the code's title says unspecified (or NOS), like F32.9, F43.10 or F99 (billing-rules.md 3.4)."""
    key = _key(code)
    return key is not None and key in _code_set().unspecified


def is_z_code(code: str) -> bool:
    """Whether the code is in chapter 21, Z00-Z99: factors influencing health status (billing-rules.md 3.3)."""
    key = _key(code)
    return key is not None and key[0] == "Z"


def is_mental_health(code: str) -> bool:
    """Whether the code is in chapter 5, F01-F99 (billing-rules.md 3.1); R symptom codes are not."""
    key = _key(code)
    return key is not None and key[0] == "F" and "01" <= key[1:3] <= "99"


def is_manifestation(code: str) -> bool:
    """Whether the code is an "in diseases classified elsewhere" manifestation code, such as F02.80."""
    key = _key(code)
    return key is not None and key in _code_set().manifestation


def primary_problem(code: str) -> str | None:
    """None if the code may be a line's first-pointer (primary) diagnosis, else why not.

    Manifestation codes are never first-listed: the underlying condition goes first (ICD-10-CM etiology/
    manifestation convention). Whether a Z code may lead depends on the service and payer (billing-rules.md
    3.3), so that warning belongs to the scrubber.
    """
    if not is_manifestation(code):
        return None
    return (
        f"{display(code)} is a manifestation code ({description(code)}): "
        "it cannot be the primary diagnosis; point to the underlying condition first"
    )


def description(code: str) -> str | None:
    """The code's title in the code set, or None for a malformed or unknown code."""
    key = _key(code)
    return None if key is None else _code_set().descriptions.get(key)


def billable_children(code: str) -> tuple[str, ...]:
    """The billable codes under a category header, dotted, in code order; empty for a leaf or unknown code."""
    key = _key(code)
    code_set = _code_set()
    if key is None or key not in code_set.known or key in code_set.billable:
        return ()
    leaves = code_set.billable_sorted
    children = []
    for index in range(bisect.bisect_left(leaves, key), len(leaves)):
        if not leaves[index].startswith(key):
            break
        children.append(display(leaves[index]))
    return tuple(children)


def excludes1_problem(code_a: str, code_b: str) -> str | None:
    """None unless an Excludes1 note forbids reporting the two codes together (billing-rules.md 3.4).

    Notes are inherited from the code's categories, blocks and chapter, and checked in both directions.
    """
    key_a, key_b = _key(code_a), _key(code_b)
    if key_a is None or key_b is None or key_a == key_b:
        return None
    for first, second in ((key_a, key_b), (key_b, key_a)):
        for rule in _excludes1_for(first):
            if rule.matches(second):
                return (
                    f"{display(key_a)} and {display(key_b)} cannot be reported together: "
                    f"Excludes1 at {rule.owner}: {rule.note}"
                )
    return None


@functools.lru_cache(maxsize=16384)
def _excludes1_for(key: str) -> tuple[_Excludes1, ...]:
    """The notes of the code and of every category, block and chapter above it."""
    rules = _code_set().excludes1
    return tuple(rule for length in range(3, len(key) + 1) for rule in rules.get(key[:length], ()))


def _category_message(key: str) -> str:
    children = billable_children(key)
    if not children:
        return f"{display(key)} is a category header, not a billable code"
    if len(children) <= _LISTED_CHILDREN:
        listed = children[0] if len(children) == 1 else f"{', '.join(children[:-1])} or {children[-1]}"
        return f"{display(key)} is a category: use {listed}"
    examples = ", ".join(children[: _LISTED_CHILDREN - 1])
    return f"{display(key)} is a category: use one of its {len(children)} billable codes ({examples}, ...)"


def _unknown_message(code_set: _CodeSet, key: str) -> str:
    message = f"{display(key)} is not an ICD-10-CM code (checked against {CODE_SET_VERSION})"
    # A 7th-character code written without its placeholder X (S02.0XXA typed as S02.0A).
    if 4 <= len(key) <= 6:
        padding = "X" * (7 - len(key))
        guesses = {key[:i] + padding + key[i:] for i in range(3, len(key))} & code_set.billable
        if len(guesses) == 1:
            message += f"; did you mean {display(guesses.pop())} (X is the placeholder before a 7th character)?"
    return message


@functools.cache
def _code_set() -> _CodeSet:
    """Read the package's data files once; every later check is a lookup in what this returns."""
    spec = importlib.util.find_spec(_PACKAGE)  # locates the package without importing (and loading) it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("simple-icd-10-cm is not installed: it carries the ICD-10-CM code set")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    tabular, code_list = folder / _TABULAR_FILE, folder / _CODE_LIST_FILE
    if not tabular.is_file() or not code_list.is_file():
        found = sorted(path.name for path in folder.iterdir())
        raise RuntimeError(
            f"simple-icd-10-cm no longer ships {_TABULAR_FILE} and {_CODE_LIST_FILE} (found {found}): "
            "update CODE_SET_VERSION, CODE_SET_EFFECTIVE and the file names to the release it ships"
        )
    # The list also names chapters ("5") and blocks ("F01-F09"); a code the shape rule rejects means a release
    # with a new kind of code, which must fail here rather than be dropped.
    words = (line.split(" ", 1)[0] for line in code_list.read_text(encoding="utf-8").splitlines())
    known = frozenset(word for word in words if word and not word.isdigit() and "-" not in word)
    misshapen = sorted(code for code in known if not _SHAPE.fullmatch(code))
    if misshapen:
        raise RuntimeError(f"{code_list.name} has codes that format_problem rejects: {misshapen[:5]}")
    descriptions, excludes1 = _read_tabular(tabular, known)
    # A code's parent is the code less its last character, or for S02.0XXA less its X placeholders too.
    parents = {code[:-1] for code in known if len(code) > 3}
    billable = known - parents - {parent.rstrip("X") for parent in parents - known}
    return _CodeSet(
        known=known,
        billable=frozenset(billable),
        billable_sorted=tuple(sorted(billable)),
        descriptions=descriptions,
        unspecified=frozenset(code for code, title in descriptions.items() if _says_unspecified(title)),
        manifestation=frozenset(
            code for code, title in descriptions.items() if "elsewhere" in title and _MANIFESTATION.search(title)
        ),
        excludes1=excludes1,
    )


def _read_tabular(path: Path, known: frozenset[str]) -> tuple[dict[str, str], dict[str, tuple[_Excludes1, ...]]]:
    """Titles of every code (7th-character ones worded as the CDC's code file does) and Excludes1 by code.

    Streams the XML and drops each code's element once read, so the 10 MB tree never sits in memory.
    """
    descriptions: dict[str, str] = {}
    seventh: dict[str, dict[str, str]] = {}  # code -> 7th-character meanings defined there, for its descendants
    excludes1: dict[str, list[_Excludes1]] = defaultdict(list)
    ranges: list[tuple[str, str, list[_Excludes1]]] = []  # block and chapter notes, by category range
    year = None
    for _, element in ET.iterparse(path):  # noqa: S314 -- the package's own CDC file, not untrusted input
        tag = element.tag
        if tag == "version":
            year = element.text
        elif tag == "diag":
            name = element.findtext("name", "")
            key = name.replace(".", "")
            descriptions[key] = element.findtext("desc", "")
            notes = element.find("excludes1")
            if notes is not None:
                excludes1[key].extend(_excludes1_rules(notes, name))
            definition = element.find("sevenChrDef")
            if definition is not None:
                seventh[key] = {ext.get("char", ""): ext.text or "" for ext in definition.iter("extension")}
            element.clear()
        elif tag in ("section", "chapter"):
            if tag == "section":  # id "F70-F79", or "QA0" for a block of one category
                owner = element.get("id", "")
                first, _, last = owner.partition("-")
            else:  # title "Mental, Behavioral and Neurodevelopmental disorders (F01-F99)"
                owner = f"chapter {element.findtext('name')}"
                match = _CHAPTER_RANGE.search(element.findtext("desc", ""))
                first, last = match.groups("") if match else ("", "")
            rules = _excludes1_rules(element.find("excludes1"), owner)
            if rules and first:
                ranges.append((first, last or first, rules))
            element.clear()
    if year != _TABULAR_YEAR:
        raise RuntimeError(f"{path.name} is the {year} tabular list, not {_TABULAR_YEAR} as CODE_SET_VERSION says")
    bases: dict[str, tuple[str, dict[str, str]] | None] = {}
    for code in known - descriptions.keys():  # 7th-character codes the XML defines by rule, not one by one
        if code[:-1] not in bases:
            bases[code[:-1]] = _extendable(code[:-1], descriptions, seventh)
        found = bases[code[:-1]]
        if found is not None and code[-1] in found[1]:
            descriptions[code] = f"{found[0]}, {found[1][code[-1]]}"
    for category in (code for code in known if len(code) == 3):
        for first, last, rules in ranges:
            if first <= category <= last:
                excludes1[category].extend(rules)
    return descriptions, {code: tuple(rules) for code, rules in excludes1.items() if rules}


def _extendable(
    base: str, descriptions: dict[str, str], seventh: dict[str, dict[str, str]]
) -> tuple[str, dict[str, str]] | None:
    """For "S020XX" (S02.0XXA less its 7th character): the title of S02.0 and the nearest sevenChrDef above it."""
    while base not in descriptions and base.endswith("X"):  # X placeholders pad the base to 6 characters
        base = base[:-1]
    if base not in descriptions:
        return None
    for length in range(len(base), 2, -1):
        if base[:length] in seventh:
            return descriptions[base], seventh[base[:length]]
    return None


def _says_unspecified(title: str) -> bool:
    lowered = title.lower()  # plain substring tests first: the regex alone costs half a second over 98,000 titles
    has_word = "unspecified" in lowered or "otherwise specified" in lowered or "NOS" in title
    return has_word and _UNSPECIFIED.search(title) is not None


def _excludes1_rules(notes: ET.Element | None, owner: str) -> list[_Excludes1]:
    """Each code or range named in parentheses by an Excludes1 element's notes: "(F31.-)", "(F10-F19)"."""
    rules: list[_Excludes1] = []
    for note in () if notes is None else notes:
        text = note.text or ""
        for group in _PARENTHESES.findall(text):
            for item in group.split(","):
                ends = [part.strip().rstrip(".").upper() for part in item.split("-") if part.strip()]
                if 1 <= len(ends) <= 2 and all(_SHAPE.fullmatch(end) for end in ends):
                    rules.append(_Excludes1(normalize(ends[0]), normalize(ends[-1]), owner, text))
    return rules
