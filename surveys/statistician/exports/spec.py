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


@dataclass(frozen=True)
class Var:
    name: str
    label: str
    type: VarType
    allowed: str = ""
    derivation: str = ""

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
        ),
        Var(
            "DECLINED",
            "Prefer not to answer ticked",
            "num",
            "1 = declined; 0 = not",
            "1 when the participant ticked 'prefer not to answer' (GS7 only).",
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
        Var("MODE", "Mode of administration", "char", "tablet", "How the form was given."),
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
            "patient: she submitted it on the tablet; staff: a coordinator submitted it as "
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

QS_SPEC = DatasetSpec(
    name="QS",
    label="Questionnaires",
    description=(
        "CDISC SDTM QS: one record per item per received questionnaire (completed or partial; "
        "not-done items with QSSTAT) and one QSALL 'NOT DONE' record per instrument for each "
        "missed assessment. A partial form's unanswered items give QSREASND 'FORM NOT "
        "SUBMITTED'."
    ),
    variables=(
        _STUDYID,
        Var("DOMAIN", "Domain abbreviation", "char", "QS", "Always QS."),
        _USUBJID,
        Var("QSSEQ", "Sequence number", "num", "1, 2, ...", "Per USUBJID: visit, then item order."),
        Var(
            "QSTESTCD",
            "Question short name",
            "char",
            "FACIT item codes; QSALL",
            "Item code; QSALL for a questionnaire not done.",
        ),
        Var(
            "QSTEST",
            "Question name",
            "char",
            "",
            "Our short label (at most 40 characters); 'Questionnaire' for QSALL.",
        ),
        Var(
            "QSCAT",
            "Category of question",
            "char",
            "FACT-B V4; FACT-B+4 V4; E2108-LR DRAFT-1",
            "The instrument and version the item belongs to.",
        ),
        Var(
            "QSSCAT",
            "Subcategory for question",
            "char",
            "PHYSICAL WELL-BEING; ...; LOCOREGIONAL ITEMS",
            "Subscale of the item.",
        ),
        Var(
            "QSORRES",
            "Finding in original units",
            "char",
            "; ".join(o.label_en for o in RESPONSE_SCALE),
            "The response option chosen; blank when not done.",
        ),
        Var(
            "QSSTRESC",
            "Character result/finding in std format",
            "char",
            "0; 1; 2; 3; 4",
            "The response value as text (not reversed: reversal is a derivation).",
        ),
        Var(
            "QSSTRESN",
            "Numeric finding in standard units",
            "num",
            "0 to 4",
            "The response value (not reversed).",
        ),
        Var("QSSTAT", "Completion status", "char", "NOT DONE; blank", "NOT DONE without a result."),
        Var(
            "QSREASND",
            "Reason not done",
            "char",
            "NOT ANSWERED; PREFER NOT TO ANSWER; FORM NOT SUBMITTED; missed reasons; NOT RECORDED",
            "Item left blank on a submitted form, 'prefer not to answer', not answered on a "
            "partial form (window closed before submission), or why the visit was missed.",
        ),
        Var(
            "QSBLFL",
            "Baseline flag",
            "char",
            "Y; blank",
            "Y on results of the baseline visit.",
        ),
        _VISITNUM,
        _VISIT,
        Var(
            "QSDTC",
            "Date/time of finding",
            "char",
            "ISO 8601 date; blank",
            "Site-local completion date (a partial form: its last answer), only in exports made "
            "with calendar dates; " + NOT_DATES,
        ),
        Var(
            "QSDY",
            "Study day of finding",
            "num",
            "integer, no 0",
            "Day of completion (a partial form: its last answer). " + STUDY_DAY,
        ),
        Var(
            "QSEVLINT",
            "Evaluation interval",
            "char",
            "-P7D",
            "FACIT recall period: the past 7 days.",
        ),
    ),
)

ADQS_SPEC = DatasetSpec(
    name="ADQS",
    label="Questionnaire analysis dataset",
    description=(
        "ADaM-style BDS: one record per participant x visit x parameter (each FACT-B score and "
        "each E2108 item) for every received assessment (completed or partial, FORMSTAT)."
    ),
    variables=(
        _STUDYID,
        _USUBJID,
        _SUBJID,
        _SITEID,
        Var("TRTP", "Planned treatment", "char", "{arm_labels}", "Randomized arm label."),
        Var("TRTPN", "Planned treatment (N)", "num", "{arm_numbers}", "Arms in code order."),
        Var("PARAMCD", "Parameter code", "char", "PWB ... TOI, ARM, LR1-LR9", "Score code."),
        Var("PARAM", "Parameter", "char", "", "Score label with its range."),
        Var("PARAMN", "Parameter (N)", "num", "1, 2, ...", "Parameter order."),
        Var(
            "AVAL",
            "Analysis value",
            "num",
            "the parameter's range; blank = not scored",
            "The stored score (LR items: the response).",
        ),
        Var(
            "BASE",
            "Baseline value",
            "num",
            "",
            "AVAL of the same participant and parameter at the baseline visit.",
        ),
        Var(
            "CHG",
            "Change from baseline",
            "num",
            "",
            "AVAL - BASE on post-baseline records; blank at baseline or without both.",
        ),
        Var(
            "ABLFL",
            "Baseline record flag",
            "char",
            "Y; blank",
            "Y on the baseline visit's record when AVAL is not blank.",
        ),
        Var("AVISIT", "Analysis visit", "char", "{visit_labels}", "The scheduled visit."),
        Var("AVISITN", "Analysis visit (N)", "num", "{visit_numbers}", "VISITNUM."),
        Var("ADY", "Analysis relative day", "num", "integer, no 0", STUDY_DAY),
        Var(
            "ITEMSN",
            "Items answered",
            "num",
            "0 to ITEMSTOT",
            "Items of the parameter answered (the score's *_N).",
        ),
        Var("ITEMSTOT", "Items in the parameter", "num", "1 to 37", "Items the score uses."),
        _FORMSTAT,
        Var("SCORVER", "Scoring version", "char", SCORING_VERSION, "scoring/ version."),
    ),
)
