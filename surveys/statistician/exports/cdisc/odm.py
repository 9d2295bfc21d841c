"""CDISC ODM 1.3.2 for Medidata Rave: a Snapshot of every stored answer, with audit records.

One ``SubjectData`` per participant (``SiteRef`` to her site), one
``StudyEventData`` per visit, one ``FormData`` per form, one ``ItemGroupData``
per section and one ``ItemData`` per answered item, each with an
``AuditRecord`` (who, where, when; for a corrected answer the correction's
author, time and reason). The ``MetaDataVersion`` describes the visits, the
form, its sections, items and the response codelist. OIDs come from the
trial's :class:`~surveys.models.OdmOid` rows (editable in the admin), with
defaults for anything not mapped. Validated against the ODM 1.3.2 schema that
odmlib ships.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from django.utils import timezone
from lxml import etree

from scoring.instruments import RESPONSE_SCALE
from surveys import instrumentation
from surveys.models import OdmOid, Trial, Visit
from surveys.statistician.exports.cdisc import terms
from surveys.statistician.exports.cdisc.define import ODM_NS, XML_LANG, schema_errors
from surveys.statistician.exports.cdisc.source import Source, load
from surveys.statistician.exports.filters import ExportFilters
from surveys.statistician.exports.manifest import software_version
from surveys.statistician.exports.results import FileResult

PARTICIPANT_USER = "USR.PARTICIPANT"
STAFF_USER = "USR.SITESTAFF"


def _o(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


@dataclass
class Oids:
    """The OIDs of one trial's ODM objects: mapped ones from OdmOid, defaults otherwise."""

    mapped: dict[tuple[str, str], str] = field(default_factory=dict)
    protocol: str = ""

    @classmethod
    def for_trial(cls, trial: Trial) -> Oids:
        rows = OdmOid.objects.filter(trial=trial).values_list("kind", "key", "oid")
        return cls({(kind, key): oid for kind, key, oid in rows}, trial.protocol_id)

    def get(self, kind: str, key: str) -> str:
        if (kind, key) in self.mapped:
            return self.mapped[(kind, key)]
        default = {
            OdmOid.Kind.STUDY: self.protocol,
            OdmOid.Kind.EVENT: f"SE.{key.upper()}",
            OdmOid.Kind.FORM: f"F.{key.upper()}",
            OdmOid.Kind.ITEM_GROUP: f"IG.{key.upper()}",
            OdmOid.Kind.ITEM: f"I.{key.upper()}",
            OdmOid.Kind.CODELIST: f"CL.{key.upper()}",
        }
        return default[OdmOid.Kind(kind)]


FORM_KEY = "QS"


def _text(parent: etree._Element, tag: str, text: str) -> None:
    element = etree.SubElement(parent, _o(tag))
    translated = etree.SubElement(element, _o("TranslatedText"))
    translated.set(XML_LANG, "en")
    translated.text = text


def _stamp(value: Any) -> str:
    return pd.Timestamp(value).tz_convert("UTC").isoformat()


def _metadata(study: etree._Element, trial: Trial, oids: Oids, mdv_oid: str) -> None:
    mdv = etree.SubElement(
        study, _o("MetaDataVersion"), OID=mdv_oid, Name=f"{trial.protocol_id} ePRO forms"
    )
    visits = list(Visit.objects.filter(trial=trial).order_by("number"))
    protocol = etree.SubElement(mdv, _o("Protocol"))
    for visit in visits:
        etree.SubElement(
            protocol,
            _o("StudyEventRef"),
            StudyEventOID=oids.get(OdmOid.Kind.EVENT, visit.code),
            OrderNumber=str(visit.number),
            Mandatory="No",
        )
    form_oid = oids.get(OdmOid.Kind.FORM, FORM_KEY)
    for visit in visits:
        event = etree.SubElement(
            mdv,
            _o("StudyEventDef"),
            OID=oids.get(OdmOid.Kind.EVENT, visit.code),
            Name=visit.label,
            Repeating="No",
            Type="Scheduled",
        )
        etree.SubElement(event, _o("FormRef"), FormOID=form_oid, Mandatory="No")
    instruments = instrumentation.instruments(trial.instrument_version)
    form = etree.SubElement(
        mdv,
        _o("FormDef"),
        OID=form_oid,
        Name=" + ".join(terms.qscat(i) for i in instruments),
        Repeating="No",
    )
    sections = [s for inst in instruments for s in inst.sections]
    for order, section in enumerate(sections, start=1):
        etree.SubElement(
            form,
            _o("ItemGroupRef"),
            ItemGroupOID=oids.get(OdmOid.Kind.ITEM_GROUP, section.code),
            Mandatory="No",
            OrderNumber=str(order),
        )
    for section in sections:
        group = etree.SubElement(
            mdv,
            _o("ItemGroupDef"),
            OID=oids.get(OdmOid.Kind.ITEM_GROUP, section.code),
            Name=section.title_en,
            Repeating="No",
        )
        for order, code in enumerate(section.items, start=1):
            etree.SubElement(
                group,
                _o("ItemRef"),
                ItemOID=oids.get(OdmOid.Kind.ITEM, code),
                Mandatory="No",
                OrderNumber=str(order),
            )
    codelist_oid = oids.get(OdmOid.Kind.CODELIST, "RESPONSE")
    for section in sections:
        for code in section.items:
            item = etree.SubElement(
                mdv,
                _o("ItemDef"),
                OID=oids.get(OdmOid.Kind.ITEM, code),
                Name=code,
                DataType="integer",
                Length="1",
                SASFieldName=code,
            )
            _text(item, "Question", terms.qstest(code))
            etree.SubElement(item, _o("CodeListRef"), CodeListOID=codelist_oid)
    codelist = etree.SubElement(
        mdv, _o("CodeList"), OID=codelist_oid, Name="FACIT response", DataType="integer"
    )
    for option in RESPONSE_SCALE:
        entry = etree.SubElement(codelist, _o("CodeListItem"), CodedValue=str(option.value))
        _text(entry, "Decode", option.label_en)


def _admin(odm: etree._Element, source: Source, study_oid: str, mdv_oid: str) -> None:
    admin = etree.SubElement(odm, _o("AdminData"), StudyOID=study_oid)
    users = [(PARTICIPANT_USER, "Participant (self-completed form)")]
    users.append((STAFF_USER, "Site staff (answers entered for the participant)"))
    for name in sorted(set(source.corrections["corrected_by"].dropna())):
        users.append((f"USR.{name}", str(name)))
    for oid, display in users:
        user = etree.SubElement(admin, _o("User"), OID=oid)
        etree.SubElement(user, _o("DisplayName")).text = display
    first = source.participants["randomized_on"].min()
    effective = (first.date() if not pd.isna(first) else timezone.localdate()).isoformat()
    for site in sorted(set(source.participants["siteid"])):
        location = etree.SubElement(
            admin, _o("Location"), OID=f"LOC.{site}", Name=str(site), LocationType="Site"
        )
        etree.SubElement(
            location,
            _o("MetaDataVersionRef"),
            StudyOID=study_oid,
            MetaDataVersionOID=mdv_oid,
            EffectiveDate=effective,
        )


def build_odm(source: Source, *, created: dt.datetime, software: str) -> etree._ElementTree:
    """The ODM 1.3.2 Snapshot of the source's answers (one study: the source's trial)."""
    trials = source.trials()
    if len(trials) != 1:
        raise ValueError("an ODM export covers one trial: choose it in the filters")
    trial = trials[0]
    oids = Oids.for_trial(trial)
    study_oid = oids.get(OdmOid.Kind.STUDY, trial.protocol_id)
    mdv_oid = f"MDV.{trial.protocol_id}.1"
    odm = etree.Element(
        _o("ODM"),
        FileType="Snapshot",
        Granularity="AllClinicalData",
        FileOID=f"ODM.{trial.protocol_id}.{created:%Y%m%dT%H%M%S}",
        CreationDateTime=created.replace(microsecond=0).isoformat(),
        ODMVersion=terms.ODM_VERSION,
        Originator="ecogprom",
        SourceSystem="ecogprom",
        SourceSystemVersion=software,
        nsmap={None: ODM_NS},
    )
    study = etree.SubElement(odm, _o("Study"), OID=study_oid)
    globals_ = etree.SubElement(study, _o("GlobalVariables"))
    etree.SubElement(globals_, _o("StudyName")).text = trial.protocol_id
    etree.SubElement(globals_, _o("StudyDescription")).text = trial.title
    etree.SubElement(globals_, _o("ProtocolName")).text = trial.protocol_id
    _metadata(study, trial, oids, mdv_oid)
    _admin(odm, source, study_oid, mdv_oid)

    clinical = etree.SubElement(
        odm, _o("ClinicalData"), StudyOID=study_oid, MetaDataVersionOID=mdv_oid
    )
    answers = source.answers.loc[source.answers["value"].notna()]
    latest = source.corrections.drop_duplicates("response_id", keep="last").set_index("response_id")
    groups: Any = answers.groupby("assessment_id")
    by_form = {int(k): g for k, g in groups}
    forms = source.forms.loc[source.forms["assessment_id"].isin(list(by_form))]
    forms = forms.sort_values(["subjid", "visitnum"], kind="stable")
    section_of: dict[str, dict[str, str]] = {}
    for subjid, subject_forms in forms.groupby("subjid", sort=False):
        records: Any = subject_forms.itertuples(index=False)
        first = subject_forms.iloc[0]
        subject = etree.SubElement(clinical, _o("SubjectData"), SubjectKey=str(subjid))
        etree.SubElement(subject, _o("SiteRef"), LocationOID=f"LOC.{first['siteid']}")
        for form in records:
            event = etree.SubElement(
                subject,
                _o("StudyEventData"),
                StudyEventOID=oids.get(OdmOid.Kind.EVENT, str(form.visitcd)),
            )
            form_data = etree.SubElement(
                event, _o("FormData"), FormOID=oids.get(OdmOid.Kind.FORM, FORM_KEY)
            )
            pinned = str(form.instver)
            if pinned not in section_of:
                section_of[pinned] = {
                    code: s.code for s in instrumentation.sections(pinned) for code in s.items
                }
            given = by_form[int(form.assessment_id)].set_index("item_code")
            user = STAFF_USER if str(form.mode) == "phone" else PARTICIPANT_USER
            for section in instrumentation.sections(pinned):
                codes = [c for c in section.items if c in given.index]
                if not codes:
                    continue
                group = etree.SubElement(
                    form_data,
                    _o("ItemGroupData"),
                    ItemGroupOID=oids.get(OdmOid.Kind.ITEM_GROUP, section.code),
                )
                for code in codes:
                    answer: Any = given.loc[code]
                    item = etree.SubElement(
                        group,
                        _o("ItemData"),
                        ItemOID=oids.get(OdmOid.Kind.ITEM, code),
                        Value=str(int(answer["value"])),
                    )
                    audit = etree.SubElement(item, _o("AuditRecord"))
                    response_id = int(answer["response_id"])
                    if response_id in latest.index:
                        fix = latest.loc[response_id]
                        etree.SubElement(audit, _o("UserRef"), UserOID=f"USR.{fix['corrected_by']}")
                        etree.SubElement(audit, _o("LocationRef"), LocationOID=f"LOC.{form.siteid}")
                        etree.SubElement(audit, _o("DateTimeStamp")).text = _stamp(
                            fix["corrected_at"]
                        )
                        etree.SubElement(audit, _o("ReasonForChange")).text = str(fix["reason"])
                    else:
                        etree.SubElement(audit, _o("UserRef"), UserOID=user)
                        etree.SubElement(audit, _o("LocationRef"), LocationOID=f"LOC.{form.siteid}")
                        etree.SubElement(audit, _o("DateTimeStamp")).text = _stamp(
                            answer["saved_at"]
                        )
                    etree.SubElement(audit, _o("SourceID")).text = f"response:{response_id}"
    return etree.ElementTree(odm)


def write_odm(tree: etree._ElementTree, path: Path) -> None:
    tree.write(str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True)


def validate_odm(path: Path) -> list[str]:
    return schema_errors(path, "odm", "1.3.2")


def item_data_count(path: Path) -> int:
    tree = etree.parse(str(path))
    return len(tree.findall(f".//{_o('ItemData')}"))


def write_odm_export(filters: ExportFilters, folder: Path) -> FileResult:
    """The ``cdisc_odm`` export kind: one validated ODM file in *folder*."""

    if not filters.trial:
        trials = list(Trial.objects.values_list("protocol_id", flat=True))
        if len(trials) == 1:
            filters = dataclasses.replace(filters, trial=trials[0])
    source = load(filters)
    tree = build_odm(source, created=timezone.now(), software=software_version())
    path = folder / f"{source.trials()[0].protocol_id.lower()}_odm.xml"
    write_odm(tree, path)
    errors = validate_odm(path)
    if errors:
        raise ValueError("the ODM file does not validate: " + "; ".join(errors[:5]))
    return FileResult(path, item_data_count(path))
