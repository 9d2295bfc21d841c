"""Every export's variables: name, label, type, allowed values and derivation.

One list per dataset drives the column order, the XPT labels and the
codebook, so the three cannot disagree; :mod:`~surveys.statistician.exports.kinds`
pairs each spec with its export kind and builder. Names are at most 8 characters and
labels at most 40 (SAS transport v5), in every format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from scoring.facit import SCORING_VERSION
from scoring.instruments import ITEMS, LR_ITEM_CODES, RESPONSE_SCALE, get_score
from surveys.models import SCORE_CODES

VarType = Literal["char", "num"]
_SAS_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,7}")

RESPONSES = "; ".join(f"{o.value} = {o.label_en}" for o in RESPONSE_SCALE)
NOT_DATES = (
    "Exports carry study days, not calendar dates, unless the export was made "
    "with calendar dates (include_dates)."
)
STUDY_DAY = (
    "Study day: date - randomization date + 1 on or after randomization, "
    "date - randomization date before it (no day 0); dates are site-local."
)


Origin = Literal["", "Collected", "Derived", "Assigned", "Protocol", "Predecessor"]


@dataclass(frozen=True)
class Var:
    """One variable. The fields after ``derivation`` are the CDISC metadata that
    define.xml, Dataset-JSON and the SAS/R/Stata programs read: ``length`` (characters;
    blank = computed from the data), ``origin`` and ``source`` (Define-XML origin type
    and source), ``codelist`` (an id in :mod:`~surveys.statistician.exports.cdisc.terms`),
    ``key`` (position in the dataset's key variables, 0 = not a key), ``method`` (a
    derivation method id), ``predecessor`` (DOMAIN.VARIABLE it is copied from), ``date``
    (a numeric SAS date: days since 1960-01-01 in XPT, ISO 8601 in CSV and JSON) and
    ``mandatory`` (never blank)."""

    name: str
    label: str
    type: VarType
    allowed: str = ""
    derivation: str = ""
    length: int | None = None
    origin: Origin = ""
    source: str = ""
    codelist: str = ""
    key: int = 0
    method: str = ""
    predecessor: str = ""
    date: bool = False
    mandatory: bool = False

    def __post_init__(self) -> None:
        if not _SAS_NAME.fullmatch(self.name):
            raise ValueError(f"variable name {self.name!r} is not a SAS v5 name")
        if len(self.label) > 40:
            raise ValueError(f"label of {self.name} is longer than 40 characters")


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # the XPT member name (at most 8 characters)
    label: str  # the XPT dataset label (at most 40 characters)
    description: str
    variables: tuple[Var, ...]
    #: Define-XML: the dataset's class (``def:Class``), structure and standard.
    cls: str = ""
    structure: str = ""
    standard: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        """The key variables, in key order."""
        return tuple(v.name for v in sorted(self.variables, key=lambda v: v.key) if v.key)

    def var(self, name: str) -> Var:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(f"{self.name} has no variable {name}")


@dataclass(frozen=True)
class Context:
    """Trial-specific allowed values for the codebook."""

    studies: tuple[str, ...] = ()
    arms: Mapping[str, str] | None = None
    visits: tuple[tuple[int, str, str], ...] = ()  # number, code, label
    sites: tuple[str, ...] = ()

    def fill(self, text: str) -> str:
        arms = self.arms or {}
        return text.format(
            studies=", ".join(self.studies) or "the protocol id",
            arms="; ".join(f"{code} = {label}" for code, label in arms.items()) or "arm codes",
            arm_labels="; ".join(arms.values()) or "arm labels",
            arm_numbers="; ".join(f"{n} = {label}" for n, label in enumerate(arms.values(), 1))
            or "1, 2, ...",
            visit_numbers="; ".join(f"{n} = {label}" for n, _, label in self.visits)
            or "visit numbers",
            visit_codes=", ".join(code for _, code, _ in self.visits) or "visit codes",
            visit_labels="; ".join(label for _, _, label in self.visits) or "visit labels",
            sites=", ".join(self.sites) or "site codes",
        )


def short(text: str, limit: int = 40) -> str:
    """At most *limit* characters, cut at a word boundary."""
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut[:limit]


def _score_label(code: str) -> str:
    score = get_score(code)
    lo, hi = score.range
    return short(f"{score.label_en} ({lo}-{hi})")


def _score_vars(codes: Iterable[str]) -> list[Var]:
    out = []
    for code in codes:
        score = get_score(code)
        lo, hi = score.range
        out.append(
            Var(
                code,
                _score_label(code),
                "num",
                f"{lo} to {hi}, may be fractional (prorated); blank = not scored",
                f"scoring/ ({SCORING_VERSION}), FACIT rules: {score.rule}. "
                + (
                    "Subscale = sum of item scores x items in subscale / items answered."
                    if score.kind == "subscale"
                    else "Sum of the prorated subscales "
                    + "+".join(score.components)
                    + ", never prorated again."
                ),
            )
        )
    return out


def _count_vars(codes: Iterable[str]) -> list[Var]:
    return [
        Var(
            f"{code}_N",
            short(f"{code}: items answered"),
            "num",
            f"0 to {get_score(code).n_items}",
            f"Number of the {get_score(code).n_items} items of {code} answered "
            "(declined counts as not answered).",
        )
        for code in codes
    ]


def _ok_vars(codes: Iterable[str]) -> list[Var]:
    return [
        Var(
            f"{code}_OK",
            short(f"{code}: scored (valid)"),
            "num",
            "1 = scored; 0 = too few items answered",
            f"1 when {code} is not blank: {get_score(code).rule}.",
            codelist="NY01",
        )
        for code in codes
    ]


def _lr_vars() -> list[Var]:
    return [
        Var(
            code,
            short(f"{code}: {ITEMS[code].label_en}"),
            "num",
            "0 to 4, higher = more burden; blank = not answered",
            "The E2108 locoregional item's response, scored item by item (no reversal).",
            codelist="RESPONSE",
        )
        for code in LR_ITEM_CODES
    ]


_STUDYID = Var("STUDYID", "Study identifier", "char", "{studies}", "Trial protocol id.")
_SUBJID = Var(
    "SUBJID",
    "Participant study id",
    "char",
    "",
    "The protocol study id; no names or other identifiers are exported.",
)
_USUBJID = Var(
    "USUBJID",
    "Unique subject identifier",
    "char",
    "",
    "STUDYID-SUBJID; the study id alone when it already starts with STUDYID-.",
)
_SITEID = Var("SITEID", "Site code", "char", "{sites}", "Code of the participant's site.")
_ARMCD = Var("ARMCD", "Randomized arm code", "char", "{arms}", "Arm at randomization.")
_ARMLBL = Var("ARMLBL", "Randomized arm", "char", "{arm_labels}", "Label of ARMCD.")
_VISITNUM = Var(
    "VISITNUM", "Visit number", "num", "{visit_numbers}", "The trial's visit schedule order."
)
_VISITCD = Var("VISITCD", "Visit code", "char", "{visit_codes}", "Short code of the visit.")
_VISIT = Var("VISIT", "Visit name", "char", "{visit_labels}", "Label of the visit.")
_INSTVER = Var(
    "INSTVER",
    "Instrument version (pinned)",
    "char",
    "e.g. FACT-B@4+E2108-LR@draft-1",
    "Instruments and versions pinned on the assessment when it was created.",
)
_LANG = Var("LANG", "Language of the form", "char", "en; es", "Language the form was shown in.")
_MODESTAF = Var(
    "MODESTAF",
    "Staff member, phone mode",
    "char",
    "username; blank",
    "The staff member who read the items and recorded her answers by phone (MODE phone); "
    "blank for the other modes.",
)
_FORMSTAT = Var(
    "FORMSTAT",
    "Status of the form",
    "char",
    "completed; partial",
    "completed: submitted (by her on the tablet, or as answered by staff on her behalf while "
    "the window was open); partial: started, but the window closed (or she went off study) "
    "before it was submitted; the answers she gave are kept, scored where the FACIT rules "
    "allow, counted as received and analysed.",
)
_FORMANS = Var(
    "FORMANS",
    "Items of the form answered",
    "num",
    "0 to FORMITMS",
    "Items of the form with an answer (declined counts as not answered): the form's completeness.",
)

ITEMS_SPEC = DatasetSpec(
    name="ITEMS",
    label="Item-level responses (long)",
    description=(
        "One row per participant x visit x item for every received assessment (completed or "
        "partial, FORMSTAT): every item of the pinned form, answered or not."
    ),
    variables=(
        _STUDYID,
        _SUBJID,
        _SITEID,
        _ARMCD,
        _VISITNUM,
        _VISITCD,
        _VISIT,
        _INSTVER,
        _LANG,
        _FORMSTAT,
        _FORMANS,
        Var(
            "INSTR",
            "Instrument of the item",
            "char",
            "FACT-B@4; FACT-B+4@4; E2108-LR@draft-1",
            "Instrument code@version the item belongs to.",
        ),
        Var("ITEMSEQ", "Item position on the form", "num", "1 to 46", "Order on the form."),
        Var("ITEMCD", "Item code", "char", "GP1 ... P2, B10-B13, LR1-LR9", "FACIT item code."),
        Var(
            "ITEMLBL",
            "Item short label (not licensed wording)",
            "char",
            "",
            "Our own short label; FACIT's licensed wording is never exported.",
        ),
        Var(
            "SUBSCALE",
            "Subscale of the item",
            "char",
            "PWB; SWB; EWB; FWB; BCS; ARM; LR",
            "Subscale the item is scored in.",
        ),
        Var(
            "VALUE",
            "Response (0-4) as answered",
            "num",
            RESPONSES + "; blank = not answered or declined",
            "The answer saved on the tablet (latest value after any audited correction).",
            codelist="RESPONSE",
        ),
        Var(
            "DECLINED",
            "Prefer not to answer ticked",
            "num",
            "1 = declined; 0 = not",
            "1 when the participant ticked 'prefer not to answer' (GS7 only).",
            codelist="NY01",
        ),
        Var(
            "CORRECTD",
            "Answer corrected after submission",
            "num",
            "1 = corrected; 0 = as answered",
            "1 when staff corrected this answer after the form was submitted (VALUE is the "
            "corrected value; the old value, who, when and why are in the audit trail and the "
            "ODM export's audit records).",
            codelist="NY01",
        ),
        Var(
            "ITEMSCR",
            "Item score (reversed where keyed)",
            "num",
            "0 to 4; higher = better for FACIT items; blank = missing",
            "4 - VALUE for reverse-keyed items, VALUE otherwise (the FACIT scoring key).",
        ),
        Var(
            "SAVEDY",
            "Study day the answer was saved",
            "num",
            "integer, no 0",
            STUDY_DAY + " " + NOT_DATES,
        ),
        Var(
            "SAVESEC",
            "Seconds from form start to this answer",
            "num",
            ">= 0; blank when not answered",
            "saved time - time the first answer of the form was saved, in seconds.",
        ),
    ),
)

SCORED_SPEC = DatasetSpec(
    name="SCORED",
    label="FACT-B scores (wide)",
    description=(
        "One row per participant x visit with a received assessment (completed or partial, "
        "FORMSTAT): every score, items answered, validity, scoring version, arm, visit and "
        "study days. Readable directly by "
        "`python -m scoring compare FILE --id SUBJID --arm ARMCD --visit VISITCD`."
    ),
    variables=(
        _STUDYID,
        _SUBJID,
        _SITEID,
        _ARMCD,
        _ARMLBL,
        _VISITNUM,
        _VISITCD,
        _VISIT,
        Var("BASEFL", "Baseline visit flag", "char", "Y; blank", "Y at the baseline visit."),
        Var(
            "TARGDY",
            "Study day of the visit's target date",
            "num",
            "integer, no 0",
            "Target date = randomization + N calendar months. " + STUDY_DAY,
        ),
        Var(
            "COMPDY",
            "Study day the form was completed",
            "num",
            "integer, no 0",
            "Day of submission; of a partial form, the day of its last answer. "
            + STUDY_DAY
            + " "
            + NOT_DATES,
        ),
        Var(
            "DURMIN",
            "Minutes from first answer to submission",
            "num",
            ">= 0",
            "(completed - started) in minutes, one decimal; a partial form: to its last answer.",
        ),
        _LANG,
        Var(
            "MODE",
            "Mode of administration",
            "char",
            "tablet; home; phone",
            "How the form was given: the clinic tablet, at home by secure link, or by phone "
            "with staff (a partial form: the mode its answers were given in).",
        ),
        _MODESTAF,
        Var(
            "ASSIST",
            "Assistance given",
            "char",
            "none; read_aloud; staff_recorded",
            "Recorded at submission.",
        ),
        _INSTVER,
        _FORMSTAT,
        Var(
            "SUBMBY",
            "Who submitted the form",
            "char",
            "patient; staff; blank",
            "patient: she submitted it (on the tablet, at home, or by phone through staff); "
            "staff: a coordinator submitted it as "
            "answered on her behalf (reason in the audit trail); blank: partial, not submitted.",
        ),
        _FORMANS,
        Var(
            "FORMITMS",
            "Items on the form",
            "num",
            "46 for E2108 (FACT-B + LR1-LR9)",
            "Items of the pinned form; FORMANS / FORMITMS is the form's completeness.",
        ),
        Var(
            "SCORVER",
            "Scoring version",
            "char",
            SCORING_VERSION,
            "Version of scoring/ that computed the scores.",
        ),
        Var(
            "TOIRULE",
            "TOI validity rule",
            "char",
            "facit; factscorer",
            "facit: >80% of the 24 TOI items; factscorer: components only.",
        ),
        *_score_vars(SCORE_CODES),
        *_count_vars(SCORE_CODES),
        *_ok_vars(SCORE_CODES),
        *_lr_vars(),
        Var(
            "RANDDT",
            "Randomization date",
            "char",
            "ISO 8601 date",
            "Only in exports made with calendar dates.",
        ),
        Var(
            "COMPDTC",
            "Date/time of completion (site-local)",
            "char",
            "ISO 8601 date-time",
            "Only in exports made with calendar dates.",
        ),
    ),
)


ITEMS_WIDE_SPEC = DatasetSpec(
    name="ITEMSWID",
    label="Item-level responses (one row per form)",
    description=(
        "One row per completed form, one column per item (the response 0-4 as answered; blank "
        "= left blank or 'prefer not to answer'). Readable directly by "
        "`python -m scoring score FILE -o SCORED.csv`, which adds the scores."
    ),
    variables=(
        _STUDYID,
        _SUBJID,
        _SITEID,
        _ARMCD,
        _VISITNUM,
        _VISITCD,
        _VISIT,
        _LANG,
        Var(
            "MODE",
            "Mode of administration",
            "char",
            "tablet; home; phone",
            "How the form was given.",
        ),
        _MODESTAF,
        _INSTVER,
        *(
            Var(
                code,
                short(f"{code}: {item.label_en}"),
                "num",
                RESPONSES + "; blank = not answered or declined",
                "The response as answered (not reversed: `python -m scoring score` reverses).",
                codelist="RESPONSE",
            )
            for code, item in ITEMS.items()
        ),
    ),
)
