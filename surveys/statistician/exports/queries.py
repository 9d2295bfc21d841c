"""The SQL behind the exports: one query per source table shape, typed columns.

Queries are plain, portable SQL over the app's tables (SQLite for the demo,
PostgreSQL in production). :func:`fetch_frame` turns one into a DataFrame
without building a Python object per row: on PostgreSQL the rows come out
of ``COPY (query) TO STDOUT`` as CSV and are parsed by Arrow; elsewhere
they come from ``fetchall`` in one batch.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from django.contrib.auth import get_user_model
from django.db import connection

from scoring.instruments import LR_ITEM_CODES
from surveys.models import (
    SCORE_FIELDS,
    Arm,
    Assessment,
    Participant,
    Response,
    ResponseCorrection,
    Score,
    Site,
    Trial,
    Visit,
)
from surveys.statistician.exports.filters import ExportFilters

Kind = Literal["str", "int", "float", "bool", "date", "datetime"]

#: How far past the cut-off day (UTC) a form may be completed and still fall on
#: the cut-off day in its site's time zone; the exact test runs in pandas.
CUTOFF_SLACK = dt.timedelta(days=2)

_ARROW: dict[str, pa.DataType] = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.timestamp("s"),
    "datetime": pa.timestamp("us", tz="UTC"),
}


@dataclass(frozen=True)
class Query:
    sql: str
    params: tuple[Any, ...]
    columns: tuple[tuple[str, Kind], ...]

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _t(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)  # type: ignore[attr-defined]


def _in(column: str, values: Sequence[Any], params: list[Any]) -> str:
    params.extend(values)
    return f"{column} IN ({', '.join(['%s'] * len(values))})"


def _where(filters: ExportFilters, params: list[Any], *, visits: bool = True) -> str:
    clauses = []
    if filters.trial:
        clauses.append("t.protocol_id = %s")
        params.append(filters.trial)
    if visits and filters.visits:
        clauses.append(_in("v.code", filters.visits, params))
    if filters.sites:
        clauses.append(_in("st.code", filters.sites, params))
    if filters.arms:
        clauses.append(_in("ar.code", filters.arms, params))
    if filters.cutoff:
        clauses.append("p.randomized_on <= %s")
        params.append(filters.cutoff)
    return "".join(f" AND {c}" for c in clauses)


#: The statuses of the forms the exports carry answers of (``Assessment.RECEIVED``).
RECEIVED_SQL = "a.status IN ({})".format(", ".join(f"'{s}'" for s in Assessment.RECEIVED))


def _finished_at() -> str:
    """When the form's answers were final: submission, or a partial form's last answer."""
    return (
        f"COALESCE(a.completed_at, (SELECT MAX(rr.saved_at) FROM {_t(Response)} rr "
        "WHERE rr.assessment_id = a.id))"
    )


def _completed_before(filters: ExportFilters, params: list[Any]) -> str:
    """Received by the cut-off: answers final by then, and a partial form no longer open.

    A partial form was still in progress at a cut-off before its window closed (unless
    she had left the study by then): it is not yet received there, whatever the date of
    its last answer (docs/trial-data.md).
    """
    if not filters.cutoff:
        return ""
    params.append(dt.datetime.combine(filters.cutoff, dt.time(), tzinfo=dt.UTC) + CUTOFF_SLACK)
    params.extend([filters.cutoff, filters.cutoff])
    return (
        f" AND {_finished_at()} < %s"
        f" AND (a.status <> '{Assessment.Status.PARTIAL}' OR a.window_end <= %s"
        " OR p.off_study_on <= %s)"
    )


_JOINS = (
    "JOIN {participant} p ON p.id = a.participant_id "
    "JOIN {trial} t ON t.id = p.trial_id "
    "JOIN {site} st ON st.id = p.site_id "
    "JOIN {arm} ar ON ar.id = p.arm_id "
    "JOIN {visit} v ON v.id = a.visit_id"
)


def _assessment_columns() -> tuple[tuple[str, str, Kind], ...]:
    """Context of an assessment; ``completed_at`` is :func:`_finished_at` (partial forms too)."""
    return (
        *_ASSESSMENT_COLUMNS_BEFORE,
        (_finished_at(), "completed_at", "datetime"),
        *_ASSESSMENT_COLUMNS_AFTER,
    )


_ASSESSMENT_COLUMNS_BEFORE: tuple[tuple[str, str, Kind], ...] = (
    ("t.protocol_id", "studyid", "str"),
    ("p.study_id", "subjid", "str"),
    ("st.code", "siteid", "str"),
    ("st.timezone", "tz", "str"),
    ("ar.code", "armcd", "str"),
    ("ar.label", "armlbl", "str"),
    ("v.number", "visitnum", "int"),
    ("v.code", "visitcd", "str"),
    ("v.label", "visit", "str"),
    ("v.is_baseline", "is_baseline", "bool"),
    ("p.randomized_on", "randomized_on", "date"),
    ("a.target_date", "target_date", "date"),
    ("a.started_at", "started_at", "datetime"),
)
_ASSESSMENT_COLUMNS_AFTER: tuple[tuple[str, str, Kind], ...] = (
    ("a.status", "formstat", "str"),
    ("a.submitted_by_id IS NOT NULL", "staff_submitted", "bool"),
    ("a.language", "lang", "str"),
    ("a.mode", "mode", "str"),
    # who recorded her answers in the phone mode (blank otherwise)
    (
        "COALESCE((SELECT u.username FROM {user} u WHERE u.id = a.phone_staff_id), '')",
        "mode_staff",
        "str",
    ),
    ("a.assistance", "assist", "str"),
    ("a.instrument_version", "instver", "str"),
)


def _joins() -> str:
    return _JOINS.format(
        participant=_t(Participant),
        trial=_t(Trial),
        site=_t(Site),
        arm=_t(Arm),
        visit=_t(Visit),
    )


def _select(columns: Sequence[tuple[str, str, Kind]]) -> str:
    user = _t(get_user_model())
    return ", ".join(f"{expr.replace('{user}', user)} AS {name}" for expr, name, _ in columns)


def scored_query(filters: ExportFilters, *, visits: bool = True) -> Query:
    """One row per scored (received) assessment: context, scores, counts, LR items."""
    params: list[Any] = []
    lr_cols = ", ".join(
        f"MAX(CASE WHEN r.item_code = '{code}' THEN r.value END) AS {code.lower()}"
        for code in LR_ITEM_CODES
    )
    lr_in = ", ".join(f"'{code}'" for code in LR_ITEM_CODES)
    columns: list[tuple[str, str, Kind]] = [
        *_assessment_columns(),
        ("s.scoring_version", "scorver", "str"),
        ("s.toi_rule", "toirule", "str"),
        ("s.items_answered", "items_answered", "int"),
        ("s.items_total", "items_total", "int"),
        *((f"s.{f}", f, "float") for f in SCORE_FIELDS),
        *((f"s.{f}_n", f"{f}_n", "int") for f in SCORE_FIELDS),
        *((f"lr.{c.lower()}", c.lower(), "float") for c in LR_ITEM_CODES),
    ]
    sql = (
        f"SELECT {_select(columns)} "
        f"FROM {_t(Score)} s JOIN {_t(Assessment)} a ON a.id = s.assessment_id {_joins()} "
        f"LEFT JOIN (SELECT r.assessment_id, {lr_cols} FROM {_t(Response)} r "
        f"WHERE r.item_code IN ({lr_in}) GROUP BY r.assessment_id) lr "
        "ON lr.assessment_id = a.id "
        f"WHERE {RECEIVED_SQL}"
    )
    sql += _where(filters, params, visits=visits) + _completed_before(filters, params)
    sql += " ORDER BY p.study_id, v.number"
    return Query(sql, tuple(params), tuple((name, kind) for _, name, kind in columns))


def completed_query(filters: ExportFilters) -> Query:
    """One row per received assessment (with its id), for the item-level datasets."""
    params: list[Any] = []
    columns: list[tuple[str, str, Kind]] = [
        ("a.id", "assessment_id", "int"),
        *_assessment_columns(),
    ]
    sql = f"SELECT {_select(columns)} FROM {_t(Assessment)} a {_joins()} WHERE {RECEIVED_SQL}"
    sql += _where(filters, params) + _completed_before(filters, params)
    sql += " ORDER BY p.study_id, v.number"
    return Query(sql, tuple(params), tuple((name, kind) for _, name, kind in columns))


def responses_query(filters: ExportFilters) -> Query:
    """Every stored answer of the received assessments the filters select."""
    params: list[Any] = []
    columns: list[tuple[str, str, Kind]] = [
        ("r.assessment_id", "assessment_id", "int"),
        ("r.item_code", "item_code", "str"),
        ("r.value", "value", "float"),
        ("r.declined", "declined", "bool"),
        ("r.saved_at", "saved_at", "datetime"),
        (
            f"EXISTS (SELECT 1 FROM {_t(ResponseCorrection)} rc WHERE rc.response_id = r.id)",
            "corrected",
            "bool",
        ),
    ]
    sql = (
        f"SELECT {_select(columns)} FROM {_t(Response)} r "
        f"JOIN {_t(Assessment)} a ON a.id = r.assessment_id {_joins()} "
        f"WHERE {RECEIVED_SQL}"
    )
    sql += _where(filters, params) + _completed_before(filters, params)
    return Query(sql, tuple(params), tuple((name, kind) for _, name, kind in columns))


def missed_query(filters: ExportFilters) -> Query:
    """Missed assessments (window closed on study, nothing completed)."""
    params: list[Any] = []
    columns: list[tuple[str, str, Kind]] = [
        ("a.id", "assessment_id", "int"),
        *_assessment_columns(),
        ("a.window_end", "window_end", "date"),
        ("a.missed_reason", "missed_reason", "str"),
    ]
    sql = f"SELECT {_select(columns)} FROM {_t(Assessment)} a {_joins()} WHERE a.status = 'missed'"
    sql += _where(filters, params)
    if filters.cutoff:
        sql += " AND a.window_end <= %s"
        params.append(filters.cutoff)
    sql += " ORDER BY p.study_id, v.number"
    return Query(sql, tuple(params), tuple((name, kind) for _, name, kind in columns))


# ------------------------------------------------------------------ CDISC package


def forms_query(filters: ExportFilters) -> Query:
    """Every form that goes into QS: completed, missed, or holding a stored answer."""
    params: list[Any] = []
    columns: list[tuple[str, str, Kind]] = [
        ("a.id", "assessment_id", "int"),
        *_assessment_columns(),
        ("a.status", "status", "str"),
        ("a.window_start", "window_start", "date"),
        ("a.window_end", "window_end", "date"),
        ("a.missed_reason", "missed_reason", "str"),
        ("a.missed_reason_text", "missed_reason_text", "str"),
        ("p.off_study_on", "off_study_on", "date"),
    ]
    sql = (
        f"SELECT {_select(columns)} FROM {_t(Assessment)} a {_joins()} "
        "WHERE (a.status IN ('completed', 'partial', 'missed') "
        f"OR EXISTS (SELECT 1 FROM {_t(Response)} r WHERE r.assessment_id = a.id))"
    )
    sql += _where(filters, params)
    sql += " ORDER BY p.study_id, v.number"
    return Query(sql, tuple(params), tuple((name, kind) for _, name, kind in columns))


def answers_query(filters: ExportFilters) -> Query:
    """Every stored answer of every form the filters select, whatever the form's status."""
    params: list[Any] = []
    columns: list[tuple[str, str, Kind]] = [
        ("r.id", "response_id", "int"),
        ("r.assessment_id", "assessment_id", "int"),
        ("r.item_code", "item_code", "str"),
        ("r.value", "value", "float"),
        ("r.declined", "declined", "bool"),
        ("r.saved_at", "saved_at", "datetime"),
    ]
    sql = (
        f"SELECT {_select(columns)} FROM {_t(Response)} r "
        f"JOIN {_t(Assessment)} a ON a.id = r.assessment_id {_joins()} WHERE 1 = 1"
    )
    sql += _where(filters, params)
    if filters.cutoff:
        sql += " AND r.saved_at < %s"
        params.append(dt.datetime.combine(filters.cutoff, dt.time(), tzinfo=dt.UTC) + CUTOFF_SLACK)
    return Query(sql, tuple(params), tuple((name, kind) for _, name, kind in columns))


def participants_query(filters: ExportFilters) -> Query:
    """Every randomized participant of the trial(s), sites and arms the filters select."""
    params: list[Any] = []
    columns: list[tuple[str, str, Kind]] = [
        ("p.id", "participant_id", "int"),
        ("t.protocol_id", "studyid", "str"),
        ("p.study_id", "subjid", "str"),
        ("st.code", "siteid", "str"),
        ("st.timezone", "tz", "str"),
        ("st.country", "country", "str"),
        ("ar.code", "armcd", "str"),
        ("ar.label", "armlbl", "str"),
        ("p.randomized_on", "randomized_on", "date"),
        ("p.off_study_on", "off_study_on", "date"),
        ("p.off_study_reason", "off_study_reason", "str"),
        ("p.off_study_note", "off_study_note", "str"),
        ("t.participants_sex", "sex", "str"),
        ("t.study_day_reference", "day_reference", "str"),
    ]
    sql = (
        f"SELECT {_select(columns)} FROM {_t(Participant)} p "
        f"JOIN {_t(Trial)} t ON t.id = p.trial_id JOIN {_t(Site)} st ON st.id = p.site_id "
        f"JOIN {_t(Arm)} ar ON ar.id = p.arm_id WHERE 1 = 1"
    )
    sql += _where(filters, params, visits=False)
    sql += " ORDER BY t.protocol_id, p.study_id"
    return Query(sql, tuple(params), tuple((name, kind) for _, name, kind in columns))


def corrections_query(filters: ExportFilters) -> Query:
    """The latest correction of each corrected answer (who, when, why)."""
    params: list[Any] = []
    columns: list[tuple[str, str, Kind]] = [
        ("c.response_id", "response_id", "int"),
        ("c.corrected_at", "corrected_at", "datetime"),
        ("u.username", "corrected_by", "str"),
        ("c.reason", "reason", "str"),
    ]
    sql = (
        f"SELECT {_select(columns)} FROM {_t(ResponseCorrection)} c "
        f"JOIN {_t(Response)} r ON r.id = c.response_id "
        f"JOIN {_t(Assessment)} a ON a.id = r.assessment_id {_joins()} "
        f"JOIN {connection.ops.quote_name(get_user_model()._meta.db_table)} u "
        "ON u.id = c.corrected_by_id WHERE 1 = 1"
    )
    sql += _where(filters, params)
    sql += " ORDER BY c.response_id, c.corrected_at"
    return Query(sql, tuple(params), tuple((name, kind) for _, name, kind in columns))


# ------------------------------------------------------------------------ fetching


def _convert(frame: pd.DataFrame, columns: Sequence[tuple[str, Kind]]) -> pd.DataFrame:
    """Give a fetchall frame the dtypes the Arrow path produces."""
    for name, kind in columns:
        col = frame[name]
        if kind == "str":
            frame[name] = col.astype(object).where(col.notna(), None)
        elif kind == "int":
            frame[name] = pd.to_numeric(col).astype("Int64")
        elif kind == "float":
            frame[name] = pd.to_numeric(col, errors="coerce").astype("float64")
        elif kind == "bool":
            frame[name] = col.astype(bool)
        elif kind == "date":
            frame[name] = pd.to_datetime(col).astype("datetime64[s]")
        elif kind == "datetime":
            frame[name] = pd.to_datetime(col, utc=True, format="ISO8601").astype(
                "datetime64[us, UTC]"
            )
    return frame


def _fetch_copy(query: Query) -> pd.DataFrame:
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY ({query.sql}) TO STDOUT (FORMAT csv)", query.params) as copy:
            for block in copy:
                buffer.write(block)
    types = {name: _ARROW[kind] for name, kind in query.columns}
    if not buffer.tell():  # no rows: Arrow refuses an empty CSV
        return _convert(pd.DataFrame({name: [] for name in query.names}), query.columns)
    buffer.seek(0)
    table = pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=query.names),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            true_values=["t"],
            false_values=["f"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            timestamp_parsers=["%Y-%m-%d", pacsv.ISO8601],
        ),
    )
    frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for name, kind in query.columns:
        if kind == "str":
            frame[name] = frame[name].astype(object)
        elif kind == "date":
            frame[name] = frame[name].astype("datetime64[s]")
    return frame


def _fetch_rows(query: Query) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        rows = cursor.fetchall()
    frame = pd.DataFrame.from_records(rows, columns=query.names, coerce_float=True)
    return _convert(frame, query.columns)


def fetch_frame(query: Query) -> pd.DataFrame:
    """The query's rows as a DataFrame with one dtype per column kind:
    str → object (None when null), int → Int64, float → float64, bool → bool,
    date → datetime64[s], datetime → datetime64[us, UTC]."""
    if connection.vendor == "postgresql":
        return _fetch_copy(query)
    return _fetch_rows(query)
