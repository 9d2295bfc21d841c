"""The variables of the CDISC package: SDTM DM, DS, TS, QS, SUPPQS and ADaM ADSL, ADQS.

The same :class:`~surveys.statistician.exports.spec.DatasetSpec` that drives the
other exports: column order, labels (SDTMIG 3.3 / ADaMIG 1.3 wording), types,
lengths, origins, key variables, codelists and derivation methods. define.xml,
Dataset-JSON, the XPT labels and the self-check all read these lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoring.facit import SCORING_VERSION
from surveys.statistician.exports.spec import DatasetSpec, Var

STUDY_DAY = "Date portion of the --DTC minus DM.RFSTDTC, plus 1 on or after RFSTDTC (no day 0)."


@dataclass(frozen=True)
class Method:
    id: str
    name: str
    type: str  # Computation or Imputation
    description: str


METHODS: dict[str, Method] = {
    m.id: m
    for m in (
        Method(
            "MT.STUDYDAY",
            "Study day",
            "Computation",
            "Study day = date - DM.RFSTDTC + 1 when the date is on or after RFSTDTC, "
            "date - RFSTDTC before it; there is no day 0. Dates are site-local.",
        ),
        Method(
            "MT.QSSEQ",
            "Stable sequence number",
            "Computation",
            "QSSEQ = VISITNUM x 1000 + the item's position (1-899) on the form pinned on the "
            "assessment; an instrument's QSALL record takes 900 + the instrument's position. "
            "It depends only on the record, so a filtered export gives a record the same "
            "QSSEQ as the full one.",
        ),
        Method(
            "MT.EPOCH",
            "Epoch from the date",
            "Computation",
            "SCREENING before DM.RFSTDTC; FOLLOW-UP after the participant went off study; "
            "TREATMENT otherwise.",
        ),
        Method(
            "MT.BASELINE",
            "Baseline",
            "Computation",
            "Baseline is the protocol's baseline visit (the visit flagged baseline in the trial "
            "set-up; window 28 days before to 14 days after randomization): BASE is AVAL of "
            "that visit's completed form for the same USUBJID and PARAMCD, ABLFL = 'Y' on that "
            "record when AVAL is not missing; CHG = AVAL - BASE on post-baseline records.",
        ),
        Method(
            "MT.ANL01FL",
            "Analysis record",
            "Computation",
            "Y on records of completed (submitted) forms with a non-missing AVAL: the records "
            "the protocol analyses use.",
        ),
        Method(
            "MT.PRORATE",
            "Proration flag",
            "Computation",
            "Y when AVAL is not missing and fewer items were answered than the parameter has "
            "(ITMANS < ITMTOT): the score was prorated by the FACIT rule.",
        ),
        Method(
            "MT.WINDOW",
            "Analysis window",
            "Computation",
            "AWTARGET = study day of randomization + the visit's months (calendar months); "
            "AWLO/AWHI = study days of the first and last day of the visit's window.",
        ),
        Method(
            "MT.PROEVL",
            "PRO-evaluable",
            "Computation",
            "Y when the participant has a completed baseline form with a TOI score.",
        ),
        Method(
            "MT.USUBJID",
            "Unique subject identifier",
            "Computation",
            "STUDYID-SUBJID; the study id alone when it already starts with STUDYID-.",
        ),
    )
}


def score_method_id(code: str) -> str:
    return f"MT.SCORE.{code}"


def _v(name: str, label: str, type_: str = "char", **kw: object) -> Var:
    return Var(name, label, type_, **kw)  # type: ignore[arg-type]


STUDYID = _v(
    "STUDYID",
    "Study Identifier",
    origin="Protocol",
    key=1,
    mandatory=True,
    derivation="Protocol id.",
)
USUBJID = _v(
    "USUBJID",
    "Unique Subject Identifier",
    origin="Derived",
    method="MT.USUBJID",
    key=2,
    mandatory=True,
    derivation="STUDYID-SUBJID.",
)
SUBJID = _v(
    "SUBJID",
    "Subject Identifier for the Study",
    origin="Assigned",
    source="Sponsor",
    mandatory=True,
    derivation="The protocol study id.",
)
SITEID = _v("SITEID", "Study Site Identifier", origin="Assigned", source="Sponsor", mandatory=True)


def _domain(code: str) -> Var:
    return _v(
        "DOMAIN",
        "Domain Abbreviation",
        origin="Assigned",
        source="Sponsor",
        length=2,
        mandatory=True,
        derivation=f"Always {code}.",
    )


DM_SPEC = DatasetSpec(
    name="DM",
    label="Demographics",
    description="One record per randomized participant.",
    cls="SPECIAL PURPOSE",
    structure="One record per subject",
    standard="SDTMIG",
    variables=(
        STUDYID,
        _domain("DM"),
        USUBJID,
        SUBJID,
        _v(
            "RFSTDTC",
            "Subject Reference Start Date/Time",
            origin="Derived",
            derivation="The study-day reference of the trial (Trial.study_day_reference): the "
            "randomization date by default, or the date of the baseline form.",
        ),
        _v(
            "RFENDTC",
            "Subject Reference End Date/Time",
            origin="Derived",
            derivation="The off-study date; on study: the date of the last form in the data.",
        ),
        _v(
            "DTHDTC",
            "Date/Time of Death",
            origin="Collected",
            source="Investigator",
            derivation="The off-study date when the off-study reason is death.",
        ),
        _v(
            "DTHFL",
            "Subject Death Flag",
            origin="Derived",
            codelist="NY_Y",
            derivation="Y when off study for death.",
        ),
        SITEID,
        _v(
            "SEX",
            "Sex",
            origin="Protocol",
            codelist="SEX",
            mandatory=True,
            derivation="The trial's enrolled sex (Trial.participants_sex); U when not restricted.",
        ),
        _v("ARMCD", "Planned Arm Code", origin="Assigned", source="Sponsor", codelist="ARMCD"),
        _v(
            "ARM", "Description of Planned Arm", origin="Assigned", source="Sponsor", codelist="ARM"
        ),
        _v(
            "ACTARMCD",
            "Actual Arm Code",
            origin="Assigned",
            source="Sponsor",
            codelist="ARMCD",
            derivation="The randomized arm (no crossover is recorded).",
        ),
        _v("ACTARM", "Description of Actual Arm", origin="Assigned", codelist="ARM"),
        _v("COUNTRY", "Country", origin="Assigned", codelist="COUNTRY", length=3, mandatory=True),
    ),
)

DS_SPEC = DatasetSpec(
    name="DS",
    label="Disposition",
    description="Randomization (protocol milestone) and off-study (disposition event) records.",
    cls="EVENTS",
    structure="One record per disposition status or protocol milestone per subject",
    standard="SDTMIG",
    variables=(
        STUDYID,
        _domain("DS"),
        USUBJID,
        _v(
            "DSSEQ",
            "Sequence Number",
            "num",
            origin="Derived",
            key=4,
            mandatory=True,
            derivation="1 = randomization, 2 = off study.",
        ),
        _v(
            "DSTERM",
            "Reported Term for the Disposition Event",
            origin="Collected",
            source="Investigator",
            mandatory=True,
            derivation="RANDOMIZED, or the off-study reason with the coordinator's note.",
        ),
        _v(
            "DSDECOD",
            "Standardized Disposition Term",
            origin="Assigned",
            codelist="DSDECOD",
            key=3,
            mandatory=True,
        ),
        _v("DSCAT", "Category for Disposition Event", origin="Assigned", codelist="DSCAT"),
        _v("EPOCH", "Epoch", origin="Derived", method="MT.EPOCH", codelist="EPOCH"),
        _v("DSSTDTC", "Start Date/Time of Disposition Event", origin="Collected"),
        _v(
            "DSSTDY",
            "Study Day of Start of Disposition Event",
            "num",
            origin="Derived",
            method="MT.STUDYDAY",
        ),
    ),
)

TS_SPEC = DatasetSpec(
    name="TS",
    label="Trial Summary",
    description="Trial-level parameters: title, sponsor, registry id, start date, instruments.",
    cls="TRIAL DESIGN",
    structure="One record per trial summary parameter value",
    standard="SDTMIG",
    variables=(
        STUDYID,
        _domain("TS"),
        _v("TSSEQ", "Sequence Number", "num", origin="Assigned", key=3, mandatory=True),
        _v("TSGRPID", "Group ID", origin="Assigned"),
        _v(
            "TSPARMCD",
            "Trial Summary Parameter Short Name",
            origin="Assigned",
            codelist="TSPARMCD",
            key=2,
            mandatory=True,
        ),
        _v("TSPARM", "Trial Summary Parameter", origin="Assigned", mandatory=True),
        _v("TSVAL", "Parameter Value", origin="Protocol"),
        _v("TSVALNF", "Parameter Null Flavor", origin="Assigned"),
        _v("TSVALCD", "Parameter Value Code", origin="Assigned"),
        _v("TSVCDREF", "Name of the Reference Terminology", origin="Assigned"),
        _v("TSVCDVER", "Version of the Reference Terminology", origin="Assigned"),
    ),
)

QS_SPEC = DatasetSpec(
    name="QS",
    label="Questionnaires",
    description=(
        "CDISC SDTM QS: one record per item of every form with a stored answer (completed forms: "
        "every item, the unanswered ones NOT DONE; started forms: every stored answer, and for "
        "forms missed after being started the unanswered items NOT DONE with the missed reason), "
        "and one QSALL NOT DONE record per instrument of each missed form with no answer."
    ),
    cls="FINDINGS",
    structure="One record per questionnaire question per time point per subject",
    standard="SDTMIG",
    variables=(
        STUDYID,
        _domain("QS"),
        USUBJID,
        _v(
            "QSSEQ",
            "Sequence Number",
            "num",
            origin="Derived",
            method="MT.QSSEQ",
            key=6,
            mandatory=True,
        ),
        _v(
            "QSGRPID",
            "Group ID",
            origin="Derived",
            derivation="One per form: the visit code in upper case (the SUPPQS link).",
        ),
        _v(
            "QSTESTCD",
            "Question Short Name",
            origin="Assigned",
            codelist="QSTESTCD",
            key=5,
            length=8,
            mandatory=True,
            derivation="FACIT item code; QSALL for a questionnaire not done.",
        ),
        _v(
            "QSTEST",
            "Question Name",
            origin="Assigned",
            codelist="QSTEST",
            length=40,
            mandatory=True,
            derivation="Our own short label of the item (never the licensed wording).",
        ),
        _v(
            "QSCAT",
            "Category of Question",
            origin="Assigned",
            codelist="QSCAT",
            key=3,
            mandatory=True,
            derivation="Instrument and released version, e.g. FACT-B V4.",
        ),
        _v("QSSCAT", "Subcategory for Question", origin="Assigned", codelist="QSSCAT"),
        _v(
            "QSORRES",
            "Finding in Original Units",
            origin="Collected",
            source="Subject",
            derivation="The response option chosen, as shown in English.",
        ),
        _v(
            "QSSTRESC",
            "Character Result/Finding in Std Format",
            origin="Derived",
            derivation="The response value as text (not reversed).",
        ),
        _v(
            "QSSTRESN",
            "Numeric Finding in Standard Units",
            "num",
            origin="Derived",
            derivation="The response value 0-4 (not reversed: reversal is a scoring step).",
        ),
        _v(
            "QSSTAT",
            "Completion Status",
            origin="Derived",
            codelist="ND",
            derivation="NOT DONE when there is no result.",
        ),
        _v(
            "QSREASND",
            "Reason Not Performed",
            origin="Collected",
            source="Investigator",
            derivation="PREFER NOT TO ANSWER when the participant ticked it; for a missed form "
            "the coordinator's missed reason (OTHER: <text> for other); blank when no reason "
            "was given.",
        ),
        _v(
            "QSBLFL",
            "Baseline Flag",
            origin="Derived",
            codelist="NY_Y",
            method="MT.BASELINE",
            derivation="Y on the results of the baseline visit's completed form.",
        ),
        _v(
            "VISITNUM",
            "Visit Number",
            "num",
            origin="Assigned",
            codelist="VISITNUM",
            key=4,
            mandatory=True,
        ),
        _v("VISIT", "Visit Name", origin="Assigned", codelist="VISIT"),
        _v("EPOCH", "Epoch", origin="Derived", method="MT.EPOCH", codelist="EPOCH"),
        _v(
            "QSDTC",
            "Date/Time of Finding",
            origin="Collected",
            derivation="Site-local date and time the form was submitted; for a form not "
            "submitted, of its last saved answer.",
        ),
        _v("QSDY", "Study Day of Finding", "num", origin="Derived", method="MT.STUDYDAY"),
        _v(
            "QSEVLINT",
            "Evaluation Interval",
            origin="Assigned",
            derivation="-P7D: FACIT recall period, the past 7 days.",
        ),
    ),
)

SUPPQS_SPEC = DatasetSpec(
    name="SUPPQS",
    label="Supplemental Qualifiers for QS",
    description="Language, mode, assistance and completion status of each form (IDVAR=QSGRPID).",
    cls="RELATIONSHIP",
    structure="One record per IDVAR, IDVARVAL, and QNAM value per subject",
    standard="SDTMIG",
    variables=(
        STUDYID,
        _v("RDOMAIN", "Related Domain Abbreviation", origin="Assigned", key=3, mandatory=True),
        USUBJID,
        _v("IDVAR", "Identifying Variable", origin="Assigned", key=4),
        _v("IDVARVAL", "Identifying Variable Value", origin="Assigned", key=5),
        _v("QNAM", "Qualifier Variable Name", origin="Assigned", codelist="QNAM", key=6),
        _v("QLABEL", "Qualifier Variable Label", origin="Assigned", mandatory=True),
        _v("QVAL", "Data Value", origin="Collected", mandatory=True),
        _v("QORIG", "Origin", origin="Assigned", mandatory=True),
        _v("QEVAL", "Evaluator", origin="Assigned"),
    ),
)

ADSL_SPEC = DatasetSpec(
    name="ADSL",
    label="Subject-Level Analysis Dataset",
    description="One record per randomized participant: arm, randomization, populations, end "
    "of study.",
    cls="SUBJECT LEVEL ANALYSIS DATASET",
    structure="One record per subject",
    standard="ADaMIG",
    variables=(
        _v("STUDYID", "Study Identifier", origin="Predecessor", predecessor="DM.STUDYID", key=1),
        _v(
            "USUBJID",
            "Unique Subject Identifier",
            origin="Predecessor",
            predecessor="DM.USUBJID",
            key=2,
        ),
        _v(
            "SUBJID",
            "Subject Identifier for the Study",
            origin="Predecessor",
            predecessor="DM.SUBJID",
        ),
        _v("SITEID", "Study Site Identifier", origin="Predecessor", predecessor="DM.SITEID"),
        _v(
            "COUNTRY", "Country", origin="Predecessor", predecessor="DM.COUNTRY", codelist="COUNTRY"
        ),
        _v("SEX", "Sex", origin="Predecessor", predecessor="DM.SEX", codelist="SEX"),
        _v(
            "ARMCD",
            "Planned Arm Code",
            origin="Predecessor",
            predecessor="DM.ARMCD",
            codelist="ARMCD",
        ),
        _v(
            "ARM",
            "Description of Planned Arm",
            origin="Predecessor",
            predecessor="DM.ARM",
            codelist="ARM",
        ),
        _v(
            "TRT01P",
            "Planned Treatment for Period 01",
            origin="Derived",
            codelist="ARM",
            derivation="DM.ARM.",
        ),
        _v(
            "TRT01PN",
            "Planned Treatment for Period 01 (N)",
            "num",
            origin="Derived",
            codelist="TRTN",
            derivation="Arms numbered in arm-code order (A = 1, B = 2).",
        ),
        _v(
            "RANDDT",
            "Date of Randomization",
            "num",
            origin="Derived",
            date=True,
            derivation="DS.DSSTDTC of the RANDOMIZED record, as a SAS date.",
        ),
        _v(
            "ITTFL",
            "Intent-To-Treat Population Flag",
            origin="Derived",
            codelist="NY",
            derivation="Y for every randomized participant.",
        ),
        _v(
            "PROEVLFL",
            "PRO-Evaluable Population Flag",
            origin="Derived",
            codelist="NY",
            method="MT.PROEVL",
        ),
        _v(
            "EOSSTT",
            "End of Study Status",
            origin="Derived",
            codelist="EOSSTT",
            derivation="DISCONTINUED when off study, ONGOING otherwise.",
        ),
        _v(
            "EOSDT",
            "End of Study Date",
            "num",
            origin="Derived",
            date=True,
            derivation="The off-study date.",
        ),
        _v(
            "DCSREAS",
            "Reason for Discontinuation from Study",
            origin="Derived",
            codelist="DSDECOD",
            derivation="DS.DSDECOD of the off-study record.",
        ),
        _v(
            "DCSREASP",
            "Reason Spec for Discont from Study",
            origin="Derived",
            derivation="The coordinator's off-study note.",
        ),
        _v(
            "DTHFL",
            "Subject Death Flag",
            origin="Predecessor",
            predecessor="DM.DTHFL",
            codelist="NY_Y",
        ),
        _v(
            "DTHDT",
            "Date of Death",
            "num",
            origin="Derived",
            date=True,
            derivation="DM.DTHDTC as a SAS date.",
        ),
    ),
)

ADQS_SPEC = DatasetSpec(
    name="ADQS",
    label="Questionnaire Analysis Dataset",
    description=(
        "ADaM BDS: one record per participant x visit x parameter for every completed form: "
        "each FACT-B item and E2108 item (AVAL = the response, traced to its QS record by "
        "SRCDOM/SRCVAR/SRCSEQ) and each score (AVAL = the stored score)."
    ),
    cls="BASIC DATA STRUCTURE",
    structure="One record per subject per parameter per analysis visit",
    standard="ADaMIG",
    variables=(
        _v("STUDYID", "Study Identifier", origin="Predecessor", predecessor="ADSL.STUDYID", key=1),
        _v(
            "USUBJID",
            "Unique Subject Identifier",
            origin="Predecessor",
            predecessor="ADSL.USUBJID",
            key=2,
        ),
        _v(
            "SUBJID",
            "Subject Identifier for the Study",
            origin="Predecessor",
            predecessor="ADSL.SUBJID",
        ),
        _v("SITEID", "Study Site Identifier", origin="Predecessor", predecessor="ADSL.SITEID"),
        _v(
            "TRTP",
            "Planned Treatment",
            origin="Predecessor",
            predecessor="ADSL.TRT01P",
            codelist="ARM",
        ),
        _v(
            "TRTPN",
            "Planned Treatment (N)",
            "num",
            origin="Predecessor",
            predecessor="ADSL.TRT01PN",
            codelist="TRTN",
        ),
        _v(
            "ITTFL",
            "Intent-To-Treat Population Flag",
            origin="Predecessor",
            predecessor="ADSL.ITTFL",
            codelist="NY",
        ),
        _v(
            "PARAMCD",
            "Parameter Code",
            origin="Assigned",
            codelist="PARAMCD",
            key=3,
            length=8,
            mandatory=True,
        ),
        _v("PARAM", "Parameter", origin="Assigned", codelist="PARAM", mandatory=True),
        _v("PARAMN", "Parameter (N)", "num", origin="Assigned", codelist="PARAMN"),
        _v(
            "PARCAT1",
            "Parameter Category 1",
            origin="Assigned",
            codelist="QSCAT",
            derivation="Instrument and version (QSCAT).",
        ),
        _v(
            "PARCAT2",
            "Parameter Category 2",
            origin="Assigned",
            codelist="PARCAT2",
            derivation="Subscale of the item or score; TOTAL for a total score.",
        ),
        _v(
            "AVAL",
            "Analysis Value",
            "num",
            origin="Derived",
            derivation="Items: QS.QSSTRESN; scores: the score stored by scoring/ (value-level "
            "metadata gives each parameter's method).",
        ),
        _v("BASE", "Baseline Value", "num", origin="Derived", method="MT.BASELINE"),
        _v("CHG", "Change from Baseline", "num", origin="Derived", method="MT.BASELINE"),
        _v(
            "ABLFL", "Baseline Record Flag", origin="Derived", codelist="NY_Y", method="MT.BASELINE"
        ),
        _v("ANL01FL", "Analysis Flag 01", origin="Derived", codelist="NY_Y", method="MT.ANL01FL"),
        _v("PRORFL", "Prorated Score Flag", origin="Derived", codelist="NY_Y", method="MT.PRORATE"),
        _v(
            "ITMANS",
            "Number of Items Answered",
            "num",
            origin="Derived",
            derivation="Items of the parameter answered (declined counts as not answered).",
        ),
        _v(
            "ITMTOT",
            "Number of Items in Parameter",
            "num",
            origin="Assigned",
            derivation="Items the parameter is scored from (1 for an item).",
        ),
        _v(
            "AVISIT",
            "Analysis Visit",
            origin="Derived",
            codelist="VISIT",
            derivation="The scheduled visit of the form (QS.VISIT).",
        ),
        _v(
            "AVISITN",
            "Analysis Visit (N)",
            "num",
            origin="Derived",
            codelist="VISITNUM",
            key=4,
            derivation="QS.VISITNUM.",
        ),
        _v(
            "ADT",
            "Analysis Date",
            "num",
            origin="Derived",
            date=True,
            derivation="Date part of QS.QSDTC as a SAS date.",
        ),
        _v("ADY", "Analysis Relative Day", "num", origin="Derived", method="MT.STUDYDAY"),
        _v("AWTARGET", "Analysis Window Target", "num", origin="Derived", method="MT.WINDOW"),
        _v(
            "AWLO",
            "Analysis Window Beginning Timepoint",
            "num",
            origin="Derived",
            method="MT.WINDOW",
        ),
        _v("AWHI", "Analysis Window Ending Timepoint", "num", origin="Derived", method="MT.WINDOW"),
        _v("AWU", "Analysis Window Unit", origin="Assigned", codelist="AWU"),
        _v(
            "SRCDOM",
            "Source Data",
            origin="Assigned",
            derivation="QS on item records; blank on scores (derived from several records).",
        ),
        _v("SRCVAR", "Source Variable", origin="Assigned", derivation="QSSTRESN on item records."),
        _v(
            "SRCSEQ",
            "Source Sequence Number",
            "num",
            origin="Derived",
            derivation="QS.QSSEQ of the item's record.",
        ),
        _v(
            "SCORVER",
            "Scoring Version",
            origin="Assigned",
            derivation=f"Version of scoring/ that computed the scores (now {SCORING_VERSION}).",
        ),
    ),
)

SDTM_SPECS: tuple[DatasetSpec, ...] = (DM_SPEC, DS_SPEC, TS_SPEC, QS_SPEC, SUPPQS_SPEC)
ADAM_SPECS: tuple[DatasetSpec, ...] = (ADSL_SPEC, ADQS_SPEC)
