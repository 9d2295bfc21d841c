"""Define-XML 2.1 for the SDTM and the ADaM datasets, from the one export spec.

Built as an element tree with lxml (never by string concatenation) and
validated against the Define-XML 2.1 schema that the ``odmlib`` package ships
(:func:`validate_define`). What it describes: the standards and CT version, each
dataset (class, structure, keys, location), each variable (type, length,
label, origin, codelist, method), the value-level metadata of QS (per
QSTESTCD) and ADQS (per PARAMCD, with each score's derivation method), the
codelists (NCI C-codes for CDISC terms; sponsor-defined ones marked by the
absence of a standard; ISO dictionaries as external codelists) and the methods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from lxml import etree
from odmlib.schema_manager import get_schema_path

from scoring.instruments import get_score
from surveys.statistician.exports.cdisc import terms
from surveys.statistician.exports.cdisc.metadata import Resolved, resolve
from surveys.statistician.exports.cdisc.spec import METHODS, Method, score_method_id
from surveys.statistician.exports.spec import DatasetSpec

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}


def _o(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DEF_NS}}}{tag}"


@dataclass
class Dataset:
    spec: DatasetSpec
    frame: pd.DataFrame
    file_name: str


@dataclass
class DefineInput:
    """What one define.xml describes."""

    kind: str  # "SDTM" or "ADaM"
    study_oid: str
    protocol: str
    title: str
    datasets: list[Dataset]
    codelists: list[terms.Codelist]
    created: dt.datetime
    software: str
    methods: dict[str, Method] = field(default_factory=dict)


def _description(parent: etree._Element, text: str) -> None:
    desc = etree.SubElement(parent, _o("Description"))
    translated = etree.SubElement(desc, _o("TranslatedText"))
    translated.set(XML_LANG, "en")
    translated.text = text


def _alias(parent: etree._Element, code: str) -> None:
    etree.SubElement(parent, _o("Alias"), Context="nci:ExtCodeID", Name=code)


def codelist_oid(codelist_id: str) -> str:
    return f"CL.{codelist_id}"


def _codelist(mdv: etree._Element, codelist: terms.Codelist, ct_oid: str) -> None:
    attrs = {"OID": codelist_oid(codelist.id), "Name": codelist.name, "DataType": codelist.datatype}
    if codelist.ccode:
        attrs[_d("StandardOID")] = ct_oid
    element = etree.SubElement(mdv, _o("CodeList"), attrs)
    if codelist.dictionary:
        etree.SubElement(
            element,
            _o("ExternalCodeList"),
            Dictionary=codelist.dictionary,
            Version=codelist.dictionary_version,
        )
    else:
        decoded = any(t.decode and t.decode != t.value for t in codelist.terms)
        for order, term in enumerate(codelist.terms, start=1):
            tag = "CodeListItem" if decoded else "EnumeratedItem"
            item = etree.SubElement(element, _o(tag), CodedValue=term.value, OrderNumber=str(order))
            if codelist.ccode and not term.ccode:
                item.set(_d("ExtendedValue"), "Yes")
            if decoded:
                decode = etree.SubElement(item, _o("Decode"))
                translated = etree.SubElement(decode, _o("TranslatedText"))
                translated.set(XML_LANG, "en")
                translated.text = term.decode or term.value
            if term.ccode:
                _alias(item, term.ccode)
    if codelist.ccode:
        _alias(element, codelist.ccode)


def _origin(parent: etree._Element, r: Resolved) -> None:
    var = r.var
    kind = var.origin or ("Derived" if var.method else "Assigned")
    origin = etree.SubElement(parent, _d("Origin"), Type=kind)
    if kind == "Collected":
        origin.set("Source", var.source or "Subject")
    elif kind in ("Assigned", "Protocol") and var.source:
        origin.set("Source", var.source)
    if kind == "Predecessor":
        _description(origin, var.predecessor)


def _method_for(spec: DatasetSpec, r: Resolved, methods: dict[str, Method]) -> str:
    """The MethodOID of a derived variable: its named method, or one from its derivation."""
    var = r.var
    if var.method:
        methods[var.method] = METHODS[var.method]
        return var.method
    if (var.origin or "") == "Derived":
        oid = f"MT.{spec.name}.{var.name}"
        methods[oid] = Method(
            oid, f"Algorithm for {spec.name}.{var.name}", "Computation", var.derivation
        )
        return oid
    return ""


def _item_def(
    mdv: etree._Element,
    oid: str,
    name: str,
    r: Resolved,
    label: str,
    codelist: str = "",
    value_list: str = "",
) -> etree._Element:
    attrs = {"OID": oid, "Name": name, "DataType": r.datatype, "SASFieldName": name}
    if r.length and r.datatype in ("text", "integer", "float"):
        attrs["Length"] = str(r.length)
    if r.significant_digits and r.datatype == "float":
        attrs["SignificantDigits"] = str(r.significant_digits)
    if r.display_format:
        attrs[_d("DisplayFormat")] = r.display_format
    item = etree.SubElement(mdv, _o("ItemDef"), attrs)
    _description(item, label)
    if codelist:
        etree.SubElement(item, _o("CodeListRef"), CodeListOID=codelist_oid(codelist))
    _origin(item, r)
    if value_list:
        etree.SubElement(item, _d("ValueListRef"), ValueListOID=value_list)
    return item


def _where_clause(mdv: etree._Element, oid: str, item_oid: str, value: str) -> None:
    clause = etree.SubElement(mdv, _d("WhereClauseDef"), OID=oid)
    check = etree.SubElement(
        clause, _o("RangeCheck"), {"Comparator": "EQ", "SoftHard": "Soft", _d("ItemOID"): item_oid}
    )
    etree.SubElement(check, _o("CheckValue")).text = value


@dataclass
class _ValueLevel:
    """Value-level metadata of one variable: one entry per value of a test-code variable."""

    dataset: str
    variable: str
    by: str
    entries: list[tuple[str, Resolved, str, str, str]]  # value, resolved, label, codelist, method


def _value_levels(ds: Dataset, resolved: dict[str, Resolved]) -> list[_ValueLevel]:
    spec, frame = ds.spec, ds.frame
    levels = []
    if spec.name == "QS" and len(frame):
        codes = [c for c in dict.fromkeys(frame["QSTESTCD"]) if c != "QSALL"]
        for variable, codelist in (("QSORRES", "RESPONSE_TEXT"), ("QSSTRESN", "RESPONSE")):
            base = resolved[variable]
            entries = []
            for code in codes:
                r = Resolved(
                    base.var,
                    "integer" if variable == "QSSTRESN" else "text",
                    "integer" if variable == "QSSTRESN" else "string",
                    1 if variable == "QSSTRESN" else base.length,
                )
                entries.append((code, r, f"{code}: {terms.qstest(code)}", codelist, ""))
            levels.append(_ValueLevel("QS", variable, "QSTESTCD", entries))
    if spec.name == "ADQS" and len(frame):
        base = resolved["AVAL"]
        entries = []
        for code in dict.fromkeys(frame["PARAMCD"]):
            try:
                score = get_score(code)
            except KeyError:
                score = None
            if score is not None and score.kind != "item":
                r = Resolved(base.var, "float", "double", 12, significant_digits=4)
                entries.append((code, r, score.label_en, "", score_method_id(code)))
            else:
                r = Resolved(
                    base.var.__class__(
                        base.var.name,
                        base.var.label,
                        "num",
                        origin="Predecessor",
                        predecessor="QS.QSSTRESN",
                    ),
                    "integer",
                    "integer",
                    1,
                )
                entries.append((code, r, f"{code} response", "RESPONSE", ""))
        levels.append(_ValueLevel("ADQS", "AVAL", "PARAMCD", entries))
    return levels


def build_define(data: DefineInput) -> etree._ElementTree:
    """The define.xml element tree for *data*."""
    is_adam = data.kind == "ADaM"
    created = data.created.replace(microsecond=0).isoformat()
    odm = etree.Element(
        _o("ODM"),
        {
            "FileType": "Snapshot",
            "FileOID": f"DEF.{data.study_oid}.{data.kind}",
            "CreationDateTime": created,
            "ODMVersion": terms.ODM_VERSION,
            "Originator": "ecogprom",
            "SourceSystem": "ecogprom",
            "SourceSystemVersion": data.software,
            _d("Context"): "Submission",
        },
        nsmap=NSMAP,
    )
    study = etree.SubElement(odm, _o("Study"), OID=data.study_oid)
    globals_ = etree.SubElement(study, _o("GlobalVariables"))
    etree.SubElement(globals_, _o("StudyName")).text = data.protocol
    etree.SubElement(globals_, _o("StudyDescription")).text = data.title
    etree.SubElement(globals_, _o("ProtocolName")).text = data.protocol
    mdv = etree.SubElement(
        study,
        _o("MetaDataVersion"),
        {
            "OID": f"MDV.{data.study_oid}.{data.kind}",
            "Name": f"{data.protocol} {data.kind} define.xml",
            "Description": f"{data.kind} datasets of {data.protocol}",
            _d("DefineVersion"): terms.DEFINE_VERSION,
        },
    )
    standards = etree.SubElement(mdv, _d("Standards"))
    ig_oid, ct_oid = "STD.IG", "STD.CT"
    etree.SubElement(
        standards,
        _d("Standard"),
        OID=ig_oid,
        Name="ADaMIG" if is_adam else "SDTMIG",
        Type="IG",
        Version=terms.ADAMIG_VERSION if is_adam else terms.SDTMIG_VERSION,
        Status="Final",
    )
    etree.SubElement(
        standards,
        _d("Standard"),
        OID=ct_oid,
        Name="CDISC/NCI",
        Type="CT",
        PublishingSet="ADaM" if is_adam else "SDTM",
        Version=terms.CT_VERSION,
        Status="Final",
    )

    methods: dict[str, Method] = {}
    resolved_by_ds = {
        ds.spec.name: {r.var.name: r for r in resolve(ds.spec, ds.frame)} for ds in data.datasets
    }
    levels = [
        level for ds in data.datasets for level in _value_levels(ds, resolved_by_ds[ds.spec.name])
    ]
    # def:ValueListDef and def:WhereClauseDef come before the ItemGroupDefs.
    clauses: dict[str, tuple[str, str]] = {}
    for level in levels:
        vl = etree.SubElement(mdv, _d("ValueListDef"), OID=f"VL.{level.dataset}.{level.variable}")
        for order, (value, _, _, _, method) in enumerate(level.entries, start=1):
            wc = f"WC.{level.dataset}.{level.by}.{value}"
            clauses[wc] = (f"IT.{level.dataset}.{level.by}", value)
            ref = etree.SubElement(
                vl,
                _o("ItemRef"),
                ItemOID=f"IT.{level.dataset}.{level.variable}.{value}",
                OrderNumber=str(order),
                Mandatory="No",
            )
            if method:
                ref.set("MethodOID", method)
            etree.SubElement(ref, _d("WhereClauseRef"), WhereClauseOID=wc)
    for wc, (item_oid, value) in clauses.items():
        _where_clause(mdv, wc, item_oid, value)

    item_defs: list[tuple[str, str, Resolved, str, str, str]] = []
    for ds in data.datasets:
        spec = ds.spec
        resolved = resolved_by_ds[spec.name]
        group = etree.SubElement(
            mdv,
            _o("ItemGroupDef"),
            {
                "OID": f"IG.{spec.name}",
                "Name": spec.name,
                "SASDatasetName": spec.name,
                "Repeating": "No" if spec.name in ("DM", "ADSL") else "Yes",
                "IsReferenceData": "Yes" if spec.name == "TS" else "No",
                "Purpose": "Analysis" if is_adam else "Tabulation",
                _d("Structure"): spec.structure,
                _d("StandardOID"): ig_oid,
                _d("ArchiveLocationID"): f"LF.{spec.name}",
            },
        )
        if not is_adam:
            group.set("Domain", "QS" if spec.name == "SUPPQS" else spec.name)
        _description(group, spec.label)
        for order, name in enumerate(ds.frame.columns, start=1):
            r = resolved[str(name)]
            ref = etree.SubElement(
                group,
                _o("ItemRef"),
                ItemOID=f"IT.{spec.name}.{name}",
                OrderNumber=str(order),
                Mandatory="Yes" if r.var.mandatory else "No",
            )
            if r.var.key:
                ref.set("KeySequence", str(r.var.key))
            method = _method_for(spec, r, methods)
            if method:
                ref.set("MethodOID", method)
            value_list = ""
            if any(lv.dataset == spec.name and lv.variable == name for lv in levels):
                value_list = f"VL.{spec.name}.{name}"
            item_defs.append(
                (f"IT.{spec.name}.{name}", str(name), r, r.var.label, r.var.codelist, value_list)
            )
        etree.SubElement(group, _d("Class"), Name=spec.cls)
        leaf = etree.SubElement(
            group, _d("leaf"), {"ID": f"LF.{spec.name}", f"{{{XLINK_NS}}}href": ds.file_name}
        )
        etree.SubElement(leaf, _d("title")).text = ds.file_name

    known = {c.id for c in data.codelists}
    for oid, name, r, label, codelist, value_list in item_defs:
        _item_def(mdv, oid, name, r, label, codelist if codelist in known else "", value_list)
    for level in levels:
        for value, r, label, codelist, method in level.entries:
            if method:
                score = get_score(value)
                methods[method] = Method(
                    method,
                    f"{value} score",
                    "Computation",
                    f"{score.label_en}: computed by scoring/ when the form is submitted. "
                    f"Validity: {score.rule}. "
                    + (
                        "Subscale = sum of item scores (reverse-keyed items 4 - response) x "
                        "items in subscale / items answered."
                        if score.kind == "subscale"
                        else "Sum of the prorated subscales " + "+".join(score.components) + "."
                    ),
                )
            _item_def(
                mdv,
                f"IT.{level.dataset}.{level.variable}.{value}",
                level.variable,
                r,
                label,
                codelist if codelist in known else "",
            )
    for listed in data.codelists:
        _codelist(mdv, listed, ct_oid)
    for defined in sorted(methods.values(), key=lambda m: m.id):
        element = etree.SubElement(
            mdv, _o("MethodDef"), OID=defined.id, Name=defined.name, Type=defined.type
        )
        _description(element, defined.description)
    return etree.ElementTree(odm)


def used_codelists(
    datasets: Iterable[Dataset], extra: Iterable[terms.Codelist]
) -> list[terms.Codelist]:
    """The static and trial codelists the datasets' variables refer to, in first-use order."""
    available = {c.id: c for c in (*terms.STATIC_CODELISTS, *extra)}
    wanted: dict[str, terms.Codelist] = {}
    for ds in datasets:
        for name in ds.frame.columns:
            var = ds.spec.var(str(name))
            if var.codelist in available:
                wanted.setdefault(var.codelist, available[var.codelist])
        if ds.spec.name == "QS":
            wanted.setdefault("RESPONSE", available["RESPONSE"])
            wanted.setdefault("RESPONSE_TEXT", available["RESPONSE_TEXT"])
        if ds.spec.name == "ADQS":
            wanted.setdefault("RESPONSE", available["RESPONSE"])
    return list(wanted.values())


def write_define(tree: etree._ElementTree, path: Path) -> None:
    tree.write(str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True)


_SCHEMAS: dict[str, etree.XMLSchema] = {}


def schema(standard: str, version: str) -> etree.XMLSchema:
    """The XSD shipped by odmlib (``define`` 2.1, ``odm`` 1.3.2), parsed once."""
    key = f"{standard}-{version}"
    if key not in _SCHEMAS:
        _SCHEMAS[key] = etree.XMLSchema(etree.parse(get_schema_path(standard, version)))
    return _SCHEMAS[key]


def schema_errors(path: Path, standard: str, version: str) -> list[str]:
    """XSD validation errors of the file (empty when valid)."""
    xsd = schema(standard, version)
    try:
        document = etree.parse(str(path))
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    if xsd.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in xsd.error_log]


def validate_define(path: Path) -> list[str]:
    return schema_errors(path, "define", "2.1")
