"""Standards, controlled terminology and instrument names of the CDISC package.

One place for every codelist define.xml describes and the datasets use. A
codelist whose terms are CDISC Controlled Terminology carries the NCI C-codes
of the codelist and of each term (``nci:ExtCodeID`` aliases in define.xml); one
the study defines itself (item codes, parameters, visits, arms) is marked
sponsor-defined (no C-code); ISO country and language codes are external
dictionaries. The C-codes were entered from the CT release named in
:data:`CT_VERSION`; docs/cdisc.md says how to move to a newer release.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scoring.instruments import ITEMS, RESPONSE_SCALE, Instrument

#: The standards the package declares (define.xml ``def:Standards``).
SDTM_VERSION = "1.7"
SDTMIG_VERSION = "3.3"
ADAM_VERSION = "2.1"
ADAMIG_VERSION = "1.3"
DEFINE_VERSION = "2.1.0"
DATASET_JSON_VERSION = "1.1.0"
ODM_VERSION = "1.3.2"
CT_VERSION = "2024-09-27"  # SDTM and ADaM CT packages of this date


@dataclass(frozen=True)
class Term:
    value: str
    decode: str = ""
    ccode: str = ""  # NCI C-code of the term, when it is CDISC CT


@dataclass(frozen=True)
class Codelist:
    """A codelist: CDISC CT (``ccode`` set), sponsor-defined, or an external dictionary."""

    id: str
    name: str
    terms: tuple[Term, ...] = ()
    datatype: str = "text"  # define.xml CodeList/@DataType: text, integer
    ccode: str = ""
    extensible: bool = True
    dictionary: str = ""  # external: ISO 3166-1 alpha-3, ISO 639-2 ...
    dictionary_version: str = ""

    @property
    def sponsor_defined(self) -> bool:
        return not self.ccode and not self.dictionary

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(t.value for t in self.terms)


def _terms(*rows: tuple[str, str, str]) -> tuple[Term, ...]:
    return tuple(Term(value, decode, code) for value, decode, code in rows)


NY = Codelist(
    "NY",
    "No Yes Response",
    _terms(("Y", "Yes", "C49488"), ("N", "No", "C49487")),
    ccode="C66742",
    extensible=False,
)
NY_Y = Codelist("NY_Y", "No Yes Response (Y only)", NY.terms[:1], ccode="C66742", extensible=False)
SEX = Codelist(
    "SEX",
    "Sex",
    _terms(("F", "Female", "C16576"), ("M", "Male", "C20197"), ("U", "Unknown", "C17998")),
    ccode="C66731",
    extensible=False,
)
EPOCH = Codelist(
    "EPOCH",
    "Epoch",
    _terms(
        ("SCREENING", "Screening Epoch", "C48262"),
        ("TREATMENT", "Treatment Epoch", "C101526"),
        ("FOLLOW-UP", "Follow-up Epoch", "C99158"),
    ),
    ccode="C99079",
)
ND = Codelist(
    "ND", "Not Done", _terms(("NOT DONE", "Not Done", "C49484")), ccode="C66789", extensible=False
)
DSCAT = Codelist(
    "DSCAT",
    "Category for Disposition Event",
    _terms(
        ("DISPOSITION EVENT", "Disposition Event", "C74588"),
        ("PROTOCOL MILESTONE", "Protocol Milestone", "C74590"),
    ),
    ccode="C74558",
)
#: Standardized disposition terms: completion/reason for non-completion (C66727) and the
#: protocol milestone RANDOMIZED (C114118).
DSDECOD = Codelist(
    "DSDECOD",
    "Standardized Disposition Term",
    _terms(
        ("RANDOMIZED", "Randomized", "C114209"),
        ("DEATH", "Death", "C28554"),
        ("WITHDRAWAL BY SUBJECT", "Withdrawal by Subject", "C49634"),
        ("LOST TO FOLLOW-UP", "Lost to Follow-Up", "C48227"),
        ("OTHER", "Other", "C17649"),
    ),
    ccode="C66727",
)
UNIT_DAYS = Codelist("AWU", "Unit", _terms(("DAYS", "Day", "C25301")), ccode="C71620")
TSPARMCD = Codelist(
    "TSPARMCD",
    "Trial Summary Parameter Test Code",
    _terms(
        ("TITLE", "Trial Title", "C49802"),
        ("SPONSOR", "Clinical Study Sponsor", "C70793"),
        ("REGID", "Registry Identifier", "C98714"),
        ("SSTDTC", "Study Start Date", "C69208"),
        ("RANDOM", "Trial is Randomized", "C25196"),
        ("NARMS", "Planned Number of Arms", "C98771"),
        ("ACTSUB", "Actual Number of Subjects", "C98703"),
        ("SEXPOP", "Sex of Participants", "C49696"),
        ("OUTMSSEC", "Secondary Outcome Measure", "C98785"),
        ("SDTIGVER", "SDTM IG Version", "C161428"),
        ("SDTMVER", "SDTM Version", "C161429"),
    ),
    ccode="C66738",
)
#: Sponsor-defined TS parameter for the questionnaires given (no CDISC term names the
#: instruments of a trial): one record per instrument, TSGRPID the instrument code.
QRS_TSPARM = ("QRSINST", "Questionnaire Instrument Name")
COUNTRY = Codelist("COUNTRY", "Country", dictionary="ISO 3166-1 alpha-3", dictionary_version="2024")
LANGUAGE = Codelist("LANG", "Language", dictionary="ISO 639-2", dictionary_version="2024")
RESPONSE = Codelist(
    "RESPONSE",
    "FACIT response scale (past 7 days)",
    tuple(Term(str(o.value), o.label_en) for o in RESPONSE_SCALE),
    datatype="integer",
)
RESPONSE_TEXT = Codelist(
    "RESPONSE_TEXT",
    "FACIT response scale, as answered",
    tuple(Term(o.label_en) for o in RESPONSE_SCALE),
)
RESPONSE_CHAR = Codelist(
    "RESPONSE_CHAR",
    "FACIT response value as text",
    tuple(Term(str(o.value)) for o in RESPONSE_SCALE),
)
NY01 = Codelist("NY01", "No/yes as 0/1", (Term("0", "No"), Term("1", "Yes")), datatype="integer")
QNAM = Codelist(
    "QNAM",
    "Supplemental qualifiers of QS",
    _terms(
        ("QSLANG", "Language of the Form", ""),
        ("QSMODE", "Mode of Administration", ""),
        ("QSMODSTF", "Staff Member, Phone Mode", ""),
        ("QSASSIST", "Assistance Given", ""),
        ("QSFSTAT", "Form Completion Status", ""),
    ),
)
QSMODE = Codelist(
    "QSMODE",
    "Mode of administration",
    _terms(
        ("TABLET", "Clinic tablet, self-completed", ""),
        ("HOME", "At home, self-completed", ""),
        ("PHONE", "By telephone, answers entered by staff", ""),
    ),
)
QSASSIST = Codelist(
    "QSASSIST",
    "Assistance given",
    _terms(
        ("NONE", "Completed by the patient", ""),
        ("READ ALOUD", "Items read aloud", ""),
        ("STAFF RECORDED", "Answers recorded by staff", ""),
    ),
)
QSFSTAT = Codelist(
    "QSFSTAT",
    "Form completion status",
    _terms(
        ("COMPLETED", "Submitted (by the participant, or by staff as answered)", ""),
        ("INCOMPLETE", "Started, not submitted before the window closed", ""),
        ("IN PROGRESS", "Started, window still open at the data cut-off", ""),
    ),
)
EOSSTT = Codelist(
    "EOSSTT",
    "End of Study Status",
    _terms(("DISCONTINUED", "Discontinued", "C49631"), ("ONGOING", "Ongoing", "C53279")),
    ccode="C124296",
)

STATIC_CODELISTS: tuple[Codelist, ...] = (
    NY,
    NY_Y,
    SEX,
    EPOCH,
    ND,
    DSCAT,
    DSDECOD,
    UNIT_DAYS,
    TSPARMCD,
    COUNTRY,
    LANGUAGE,
    RESPONSE,
    RESPONSE_TEXT,
    RESPONSE_CHAR,
    NY01,
    QNAM,
    QSMODE,
    QSASSIST,
    QSFSTAT,
    EOSSTT,
)

#: Final release names of instruments whose shipped version string is a working name.
#: The E2108 locoregional module shipped as "draft-1" is the protocol's version 1 (the
#: same nine items and wording); QSCAT and define.xml name the release, never the draft.
INSTRUMENT_RELEASES: dict[tuple[str, str], str] = {("E2108-LR", "draft-1"): "1"}


def instrument_release(instrument: Instrument) -> str:
    """The version an instrument is published under (``ValueError`` for an unreleased draft)."""
    version = INSTRUMENT_RELEASES.get((instrument.code, instrument.version), instrument.version)
    if not version.replace(".", "").isdigit():
        raise ValueError(
            f"instrument {instrument.code} version {instrument.version!r} has no released "
            "version number; add it to INSTRUMENT_RELEASES before a submission export"
        )
    return version


def qscat(instrument: Instrument) -> str:
    """QSCAT of an instrument: its code and released version, e.g. ``FACT-B V4``."""
    return f"{instrument.code} V{instrument_release(instrument)}"


#: QSTEST (at most 40 characters) for items whose short label is longer: whole phrases,
#: never a label cut mid-phrase. Every other item's QSTEST is its short label.
QSTEST_NAMES: dict[str, str] = {
    "GS5": "Satisfied with family talk about illness",
    "B7": "Worried stress affects the illness",
    "B10": "Moving the arm on cancer side is painful",
    "LR5": "Pain or discomfort in breast/chest wall",
    "LR6": "Breast/chest wall skin sore or draining",
    "LR7": "Bothered by how breast or chest looks",
    "LR8": "Worry breast tumour will grow or return",
    "LR9": "Breast tumour worry affects daily life",
}


def qstest(code: str) -> str:
    """The QSTEST of an item: its short label, or the whole shorter phrase above."""
    name = QSTEST_NAMES.get(code, ITEMS[code].label_en)
    if len(name) > 40:
        raise ValueError(f"QSTEST of {code} is longer than 40 characters; add it to QSTEST_NAMES")
    return name


def codelist_from(
    id: str, name: str, values: Iterable[tuple[str, str]], datatype: str = "text"
) -> Codelist:
    """A sponsor-defined codelist from (value, decode) pairs (trial data: arms, visits...)."""
    return Codelist(id, name, tuple(Term(v, d) for v, d in values), datatype=datatype)
