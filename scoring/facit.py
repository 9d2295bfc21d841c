"""FACT-B v4 scoring (with FACT-G, TOI, the FACT-B+4 arm subscale and the E2108 items).

The rules are in ``docs/scoring.md`` and ``scoring/README.md``; the item keys
come from :mod:`scoring.instruments`. In short:

* item score = response, or ``4 - response`` for a reversed item;
* subscale = ``sum of item scores × n_items ÷ n_answered``, scored when more
  than 50% of its items are answered;
* FACTG = PWB + SWB + EWB + FWB, FACTB = FACTG + BCS, TOI = PWB + FWB + BCS,
  sums of the prorated subscales (never prorated again), scored when every
  component is scored and more than 80% of the total's items are answered.
  ``toi_rule="factscorer"`` drops the item-count check for the TOI only;
* missing = blank/NA and the FACIT codes 8 and 9; any other value outside
  the whole numbers 0–4 is an error and nothing is scored;
* full double precision, no rounding.

One code path serves a DataFrame of a million forms (:func:`score_frame`), an
Arrow table read from CSV (:func:`score_arrow`, what the command line uses, so
that it never imports pandas) and a single form completed in the app
(:func:`score_form`). The kernel works in row blocks that stay in the CPU
cache, one pass over the data, no row-wise Python. pandas is imported only
by the functions that take or return DataFrames.
"""

from __future__ import annotations

import numbers
import re
import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

from scoring.instruments import (
    ALL_ITEM_CODES,
    ARM_ITEM_CODES,
    ARM_SUBSCALE,
    FACT_B_V4,
    FACTB_ITEM_CODES,
    ITEMS,
    LR_ITEM_CODES,
)

__all__ = [
    "COUNT_COLUMNS",
    "SCORE_COLUMNS",
    "SCORING_VERSION",
    "TOI_RULES",
    "ScoringInputError",
    "ToiRule",
    "output_columns",
    "score_arrow",
    "score_form",
    "score_frame",
]

#: Stamped on every export: FACT-B v4 keys, this module's rule set 1.
SCORING_VERSION: Final = "factb-4.0/ecogprom-1"

ToiRule = Literal["facit", "factscorer"]
TOI_RULES: Final[tuple[str, ...]] = ("facit", "factscorer")

SUBSCALE_COLUMNS: Final = ("PWB", "SWB", "EWB", "FWB", "BCS")
TOTAL_COLUMNS: Final = ("FACTG", "FACTB", "TOI")
#: Score columns, in output order (``ARM`` follows when B10–B13 are present).
SCORE_COLUMNS: Final[tuple[str, ...]] = SUBSCALE_COLUMNS + TOTAL_COLUMNS
#: Items-answered columns, in output order (``ARM_N`` follows with ARM).
COUNT_COLUMNS: Final[tuple[str, ...]] = tuple(f"{c}_N" for c in SCORE_COLUMNS)
ARM: Final = "ARM"

#: How many offending cells an error message lists before giving a count.
MAX_LISTED: Final = 20

_ITEM_SET: Final = frozenset(ALL_ITEM_CODES)
_BLOCK: Final = 4096  # rows per kernel block: m×4096 doubles stay in L2
_BAD: Final = -1.0  # stands for a cell that is not a number at all
_ASCII_SPACE: Final = " \t\r\n\v\f"
_NOT_WHOLE: Final = 0.5  # stands for a written number with a fractional part
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_MISSING_TEXT: Final = frozenset({"", "NA"})

FloatArray = npt.NDArray[np.float64]


class ScoringInputError(Exception):
    """Input that cannot be scored; nothing is scored from it.

    ``rows`` are the offending 1-based data rows (all of them, ascending),
    ``columns`` the offending or missing item columns, ``cells`` the offending
    ``(row, column, value)`` triples. The message lists at most
    :data:`MAX_LISTED` cells, then a count.
    """

    def __init__(
        self,
        message: str,
        *,
        rows: Sequence[int] = (),
        columns: Sequence[str] = (),
        cells: Sequence[tuple[int, str, object]] = (),
    ) -> None:
        super().__init__(message)
        self.rows: tuple[int, ...] = tuple(rows)
        self.columns: tuple[str, ...] = tuple(columns)
        self.cells: tuple[tuple[int, str, object], ...] = tuple(cells)


# ------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class _Plan:
    """Kernel layout for one set of input columns.

    Items sit in the block buffer grouped by subscale, reversed items first,
    so every subscale and every run of reversed items is a contiguous slice.
    """

    codes: tuple[str, ...]
    reversed_runs: tuple[slice, ...]
    subscales: tuple[slice, ...]  # PWB SWB EWB FWB BCS
    n_items: tuple[int, ...]
    min_answered: tuple[int, ...]
    arm: slice | None  # B10–B13; ARM adds the B3 row
    b3_row: int
    lr: slice
    min_factg: int
    min_factb: int
    min_toi: int


# The kernel adds the totals up explicitly; make sure the definitions agree.
_KERNEL_TOTALS: Final = {
    "FACTG": ("PWB", "SWB", "EWB", "FWB"),
    "FACTB": ("PWB", "SWB", "EWB", "FWB", "BCS"),
    "TOI": ("PWB", "FWB", "BCS"),
}
if any(FACT_B_V4.score(t).components != c for t, c in _KERNEL_TOTALS.items()) or (
    ARM_SUBSCALE.items != ("B3", *ARM_ITEM_CODES)
):
    raise RuntimeError("scoring.facit's kernel no longer matches scoring.instruments")


@lru_cache(maxsize=64)
def _plan(has_arm: bool, lr_codes: tuple[str, ...]) -> _Plan:
    codes: list[str] = []
    subscales: list[slice] = []
    n_items: list[int] = []
    minimum: list[int] = []
    for code in SUBSCALE_COLUMNS:
        score = FACT_B_V4.score(code)
        start = len(codes)
        ordered = sorted(score.items, key=lambda c: not ITEMS[c].reversed)  # stable
        codes.extend(ordered)
        subscales.append(slice(start, len(codes)))
        n_items.append(score.n_items)
        minimum.append(score.min_answered)
    arm: slice | None = None
    if has_arm:
        start = len(codes)
        codes.extend(ARM_ITEM_CODES)
        arm = slice(start, len(codes))
        n_items.append(ARM_SUBSCALE.n_items)
        minimum.append(ARM_SUBSCALE.min_answered)
    start = len(codes)
    codes.extend(lr_codes)
    lr = slice(start, len(codes))

    runs: list[slice] = []
    i = 0
    while i < len(codes):
        if ITEMS[codes[i]].reversed:
            j = i
            while j < len(codes) and ITEMS[codes[j]].reversed:
                j += 1
            runs.append(slice(i, j))
            i = j
        else:
            i += 1
    return _Plan(
        codes=tuple(codes),
        reversed_runs=tuple(runs),
        subscales=tuple(subscales),
        n_items=tuple(n_items),
        min_answered=tuple(minimum),
        arm=arm,
        b3_row=codes.index("B3"),
        lr=lr,
        min_factg=FACT_B_V4.score("FACTG").min_answered,
        min_factb=FACT_B_V4.score("FACTB").min_answered,
        min_toi=FACT_B_V4.score("TOI").min_answered,
    )


def output_columns(*, arm: bool = False, lr: Sequence[str] = ()) -> tuple[str, ...]:
    """Columns :func:`score_frame` returns, in order."""
    scores = SCORE_COLUMNS + ((ARM,) if arm else ())
    counts = COUNT_COLUMNS + ((f"{ARM}_N",) if arm else ())
    return scores + counts + tuple(c for c in LR_ITEM_CODES if c in lr)


# ------------------------------------------------------ cell values to floats
def _is_pandas_na(value: object) -> bool:
    """``value is pd.NA``, without importing pandas (if it is not loaded, no value is pd.NA)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and value is pandas.NA


def _parse_value(value: object) -> float:
    """One distinct cell value as a float: NaN = missing, -1 = not a number.

    The kernel then checks the number (whole, 0–4, 8 or 9).
    """
    if value is None or _is_pandas_na(value):
        return np.nan
    if isinstance(value, bool | np.bool_):
        return _BAD
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except (OverflowError, ValueError):
            return _BAD
    if isinstance(value, str):
        # ASCII whitespace only, exactly as the one-character fast path treats it.
        text = value.strip(_ASCII_SPACE)
        if text in _MISSING_TEXT:
            return np.nan
        if _NUMBER.fullmatch(text):
            whole, _, fraction = text.partition(".")
            if fraction.strip("0"):
                # Judge the text, not its float: "2.9999999999999999" is not whole.
                return _NOT_WHOLE
            return float(whole) if whole not in ("", "+", "-") else 0.0
        return _BAD
    return _BAD


# Single-character text cells: a byte maps straight to a small code, which
# the kernel reads like any number: a digit is its value, a blank (null or
# whitespace) is 8 (a missing code), anything else is -1 (invalid).
_MISSING_CODE: Final = 8
_BYTE_CODE = np.full(256, -1, dtype=np.int8)
_BYTE_CODE[ord("0") : ord("9") + 1] = np.arange(10, dtype=np.int8)
for _ws in " \t\r\n\v\f":
    _BYTE_CODE[ord(_ws)] = _MISSING_CODE


def _arrow_text_values(series: pd.Series[Any]) -> npt.NDArray[np.int8] | None:
    """Fast path for Arrow-backed text where every cell is one character (see below)."""
    return _arrow_text_codes(series.array.__arrow_array__())


def _arrow_text_codes(array: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int8] | None:
    """Fast path for Arrow text where every cell is one character.

    Returns int8 codes (see ``_BYTE_CODE``), or None when some cell is
    longer; the caller then parses the distinct values one by one.
    """
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    if pa.types.is_string(array.type):
        off_type: type[np.signedinteger[Any]] = np.int32
    elif pa.types.is_large_string(array.type):
        off_type = np.int64
    else:
        return None
    buffers = array.buffers()
    offsets = np.frombuffer(
        buffers[1], dtype=off_type, count=n + 1, offset=array.offset * np.dtype(off_type).itemsize
    )
    lengths = np.diff(offsets)
    if array.null_count == 0:
        if not (lengths == 1).all():
            return None
        valid = None
    else:
        valid = _validity(array)
        # Text cells one character long, null cells empty: then the data
        # buffer holds exactly one byte per text cell, in row order.
        if not np.array_equal(lengths, valid):
            return None
    if buffers[2] is None:  # only nulls
        return np.full(n, _MISSING_CODE, dtype=np.int8)
    data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    if valid is None:
        return _BYTE_CODE[data]
    codes = np.full(n, _MISSING_CODE, dtype=np.int8)
    codes[valid] = _BYTE_CODE[data]
    return codes


def _validity(array: pa.Array) -> npt.NDArray[np.bool_]:
    """True where ``array`` is not null, from its validity bitmap (no Arrow compute,
    whose Boolean-to-NumPy conversion would import pandas)."""
    n = len(array)
    bitmap = array.buffers()[0]
    if bitmap is None:
        return np.ones(n, dtype=bool)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[array.offset : array.offset + n].astype(bool)


def _is_arrow_text(dtype: object) -> bool:
    import pandas as pd

    if isinstance(dtype, pd.StringDtype):
        return dtype.storage in ("pyarrow", "pyarrow_numpy")
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow as pa

        return bool(
            pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
        )
    return False


def _by_distinct_values(series: pd.Series[Any]) -> FloatArray:
    """Parse each distinct value once, then spread the results over the rows."""
    import pandas as pd

    is_bool: npt.NDArray[np.bool_] | None = None
    if isinstance(series.dtype, pd.StringDtype) or _is_arrow_text(series.dtype):
        codes, text_uniques = pd.factorize(series, use_na_sentinel=True)
        distinct: list[object] = list(text_uniques)
    else:
        # Python objects: factorize takes True for 1 (equal, same hash), so
        # booleans, which are never answers, are found separately.
        values = series.to_numpy(dtype=object)
        codes, object_uniques = pd.factorize(values, use_na_sentinel=True)
        distinct = list(object_uniques)
        if pd.api.types.infer_dtype(values, skipna=True) in ("boolean", "mixed", "mixed-integer"):
            is_bool = np.fromiter(
                (isinstance(v, bool | np.bool_) for v in values), dtype=bool, count=len(values)
            )
    table = np.array([_parse_value(v) for v in distinct] + [np.nan], dtype=np.float64)
    result = table[codes]  # code -1 (NA) picks the trailing NaN
    if is_bool is not None:
        result[is_bool] = _BAD
    return result


def _column_values(series: pd.Series[Any]) -> npt.NDArray[Any]:
    """A column as numbers: NaN = missing, anything else checked by the kernel.

    Float64 mostly; integer arrays pass as they are (the kernel casts each
    block as it copies it in, and any integer that becomes 0-9 as a double
    is 0-9).
    """
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind == "f":
            return series.to_numpy(dtype=np.float64, copy=False)
        if dtype.kind in "iu":
            return series.to_numpy()
        if dtype.kind == "b":
            return np.full(len(series), _BAD)
        return _by_distinct_values(series)
    if pd.api.types.is_bool_dtype(dtype):
        return np.where(series.isna().to_numpy(), np.nan, _BAD)
    if _is_arrow_text(dtype):
        fast = _arrow_text_values(series)
        if fast is not None:
            return fast
        return _by_distinct_values(series)
    if pd.api.types.is_numeric_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return _by_distinct_values(series)


# ----------------------------------------------------------------- the kernel
@dataclass
class _Result:
    scores: FloatArray  # (n_scores, n)
    counts: npt.NDArray[np.int64]  # (n_scores, n)
    lr: npt.NDArray[np.int8]  # (n_lr, n), -1 = missing
    bad_items: npt.NDArray[np.intp]  # kernel row (item) of each invalid cell
    bad_rows: npt.NDArray[np.intp]  # 0-based data row of each invalid cell


def _kernel(plan: _Plan, columns: Sequence[npt.NDArray[Any]], n: int, toi_rule: str) -> _Result:
    m = len(plan.codes)
    n_sub = len(plan.n_items)  # 5, or 6 with ARM
    n_scores = n_sub + 3
    out = np.empty((n_scores, n), dtype=np.float64)
    counts = np.empty((n_scores, n), dtype=np.int64)
    n_lr = plan.lr.stop - plan.lr.start
    lr_out = np.empty((n_lr, n), dtype=np.int8)
    bad_items: list[npt.NDArray[np.intp]] = []
    bad_rows: list[npt.NDArray[np.intp]] = []

    block = min(_BLOCK, max(n, 1))
    x_buf = np.empty((m, block), dtype=np.float64)
    t_buf = np.empty((m, block), dtype=np.int8)
    s_buf = np.empty((m, block), dtype=np.uint8)
    sums_buf = np.empty((n_sub, block), dtype=np.uint8)
    cnt_buf = np.empty((n_sub, block), dtype=np.uint8)
    n_col = np.array(plan.n_items, dtype=np.float64)[:, None]
    min_col = np.array(plan.min_answered, dtype=np.uint8)[:, None]
    # Output rows: subscales 0-4, FACTG 5, FACTB 6, TOI 7, ARM 8.
    sub_rows = [0, 1, 2, 3, 4] + ([8] if plan.arm is not None else [])

    for start in range(0, n, block):
        stop = min(start + block, n)
        k = stop - start
        x = x_buf[:, :k]
        t = t_buf[:, :k]
        u = t.view(np.uint8)
        for j, col in enumerate(columns):
            x[j] = col[start:stop]
        with np.errstate(invalid="ignore"):
            np.copyto(t, x, casting="unsafe")  # NaN/out-of-range: garbage, caught below
        whole = t == x  # a whole number in -128..127 (NaN is not)
        good = u <= 4
        good |= (u - np.uint8(8)) <= 1  # 8 or 9
        good &= whole
        good |= np.isnan(x)
        if not good.all():
            item, row = np.nonzero(~good)
            bad_items.append(item)
            bad_rows.append(row + start)
        if bad_items:
            continue  # keep validating, score nothing

        for run in plan.reversed_runs:
            np.subtract(4, u[run], out=u[run])  # 8 and 9 wrap to 252, 251
        answered = u <= 4
        answered &= whole
        s = s_buf[:, :k]
        np.multiply(u, answered, out=s)
        a = answered.view(np.uint8)

        sums = sums_buf[:, :k]
        cnt = cnt_buf[:, :k]
        for i, sl in enumerate(plan.subscales):
            np.add.reduce(s[sl], axis=0, out=sums[i])
            np.add.reduce(a[sl], axis=0, out=cnt[i])
        if plan.arm is not None:
            np.add.reduce(s[plan.arm], axis=0, out=sums[5])
            sums[5] += s[plan.b3_row]
            np.add.reduce(a[plan.arm], axis=0, out=cnt[5])
            cnt[5] += a[plan.b3_row]

        # Prorate: sum × n_items ÷ answered, NaN when too few answered.
        sc = out[:, start:stop]
        sub = sums.astype(np.float64)
        sub *= n_col
        with np.errstate(divide="ignore", invalid="ignore"):
            sub /= cnt
        np.copyto(sub, np.nan, where=cnt < min_col)
        sc[sub_rows] = sub
        cn = counts[:, start:stop]
        cn[sub_rows] = cnt

        pwb, swb, ewb, fwb, bcs = sc[0], sc[1], sc[2], sc[3], sc[4]
        n_g = cnt[0].astype(np.int64)
        n_g += cnt[1]
        n_g += cnt[2]
        n_g += cnt[3]
        n_b = n_g + cnt[4]
        n_t = cnt[0].astype(np.int64)
        n_t += cnt[3]
        n_t += cnt[4]
        cn[5] = n_g
        cn[6] = n_b
        cn[7] = n_t

        # Totals: plain sums of the prorated subscales, in this order.
        factg = sc[5]
        np.add(pwb, swb, out=factg)
        factg += ewb
        factg += fwb
        np.add(factg, bcs, out=sc[6])  # FACTB = FACTG + BCS (before FACTG's own check)
        np.copyto(sc[6], np.nan, where=n_b < plan.min_factb)
        np.copyto(factg, np.nan, where=n_g < plan.min_factg)
        toi = sc[7]
        np.add(pwb, fwb, out=toi)
        toi += bcs
        if toi_rule == "facit":
            np.copyto(toi, np.nan, where=n_t < plan.min_toi)

        if n_lr:
            lr_vals = s[plan.lr].view(np.int8)
            np.copyto(lr_out[:, start:stop], lr_vals)
            np.copyto(lr_out[:, start:stop], np.int8(-1), where=~answered[plan.lr])

    empty = np.zeros(0, dtype=np.intp)
    return _Result(
        scores=out,
        counts=counts,
        lr=lr_out,
        bad_items=np.concatenate(bad_items) if bad_items else empty,
        bad_rows=np.concatenate(bad_rows) if bad_rows else empty,
    )


# ------------------------------------------------------------- input checks
def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _check_columns(labels: Sequence[Hashable]) -> tuple[bool, tuple[str, ...]]:
    """Check the item columns; return (ARM items present, LR items present)."""
    seen: set[Hashable] = set()
    duplicated: list[str] = []
    for label in labels:
        if label in _ITEM_SET and label in seen and label not in duplicated:
            duplicated.append(str(label))
        seen.add(label)
    if duplicated:
        raise ScoringInputError(
            f"item columns appear more than once: {_listing(duplicated)}",
            columns=duplicated,
        )
    present = set(labels)
    missing = [c for c in FACTB_ITEM_CODES if c not in present]
    if missing:
        raise ScoringInputError(
            f"missing required item columns: {_listing(missing)} "
            "(FACT-B v4 needs all 37 item columns GP1-GP7, GS1-GS7, GE1-GE6, "
            "GF1-GF7, B1-B9 and P2; a skipped GS7 is a blank cell, not a missing column)",
            columns=missing,
        )
    arm = [c for c in ARM_ITEM_CODES if c in present]
    if arm and len(arm) < len(ARM_ITEM_CODES):
        absent = [c for c in ARM_ITEM_CODES if c not in present]
        raise ScoringInputError(
            f"incomplete FACT-B+4 arm items: {', '.join(absent)} missing "
            f"(give all of B10-B13 or none)",
            columns=absent,
        )
    lr = tuple(c for c in LR_ITEM_CODES if c in present)
    return bool(arm), lr


def _show(value: object) -> str:
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return repr(str(int(value)))
    return repr(str(value))


def _invalid_cells_error(
    labels: Sequence[Hashable],
    value_at: Callable[[int, str], object],
    plan: _Plan,
    bad_items: npt.NDArray[np.intp],
    bad_rows: npt.NDArray[np.intp],
) -> ScoringInputError:
    position = {label: i for i, label in enumerate(labels)}
    col_pos = np.array([position[c] for c in plan.codes], dtype=np.intp)
    order = np.lexsort((col_pos[bad_items], bad_rows))
    rows_sorted = bad_rows[order]
    items_sorted = bad_items[order]
    n_cells = len(order)
    listed = []
    for r, it in zip(rows_sorted[:MAX_LISTED], items_sorted[:MAX_LISTED], strict=True):
        code = plan.codes[int(it)]
        listed.append((int(r) + 1, code, value_at(int(r), code)))
    rows = (np.unique(bad_rows) + 1).tolist()
    used = np.unique(bad_items)
    columns = [plan.codes[int(i)] for i in used[np.argsort(col_pos[used], kind="stable")]]
    lines = [
        f"{n_cells} invalid item response{'s' if n_cells != 1 else ''} in "
        f"{len(rows)} data row{'s' if len(rows) != 1 else ''} "
        "(allowed: whole numbers 0-4; blank, NA, 8 and 9 mean missing); nothing was scored:"
    ]
    lines += [f"  row {r}, column {c}: {_show(v)}" for r, c, v in listed]
    if n_cells > MAX_LISTED:
        shown_rows = {r for r, _, _ in listed}
        more_rows = len(set(rows) - shown_rows)
        lines.append(
            f"  ... and {n_cells - MAX_LISTED} more invalid cells"
            + (f" in {more_rows} more rows" if more_rows else "")
        )
    lines.append(f"columns with invalid responses: {', '.join(columns)}")
    return ScoringInputError("\n".join(lines), rows=rows, columns=columns, cells=listed)


# ------------------------------------------------------------------ the API
def _score(
    labels: Sequence[Hashable],
    values_of: Callable[[str], npt.NDArray[Any]],
    value_at: Callable[[int, str], object],
    n: int,
    toi_rule: str,
) -> tuple[_Result, list[tuple[str, int, str]]]:
    """Check, convert and score; the core shared by score_frame and score_form.

    Returns the kernel result and the output layout as (name, kernel row,
    kind) with kind "score", "count" or "lr".
    """
    if toi_rule not in TOI_RULES:
        raise ValueError(f"toi_rule must be one of {TOI_RULES}, not {toi_rule!r}")
    has_arm, lr_codes = _check_columns(labels)
    plan = _plan(has_arm, lr_codes)
    result = _kernel(plan, [values_of(code) for code in plan.codes], n, toi_rule)
    if len(result.bad_rows):
        raise _invalid_cells_error(labels, value_at, plan, result.bad_items, result.bad_rows)
    score_rows = [*range(8), 8] if has_arm else list(range(8))
    names = output_columns(arm=has_arm)
    n_scores = len(score_rows)
    layout = [(name, i, "score") for name, i in zip(names[:n_scores], score_rows, strict=True)]
    layout += [
        (name, i, "count")
        for name, i in zip(names[n_scores : 2 * n_scores], score_rows, strict=True)
    ]
    layout += [(code, j, "lr") for j, code in enumerate(lr_codes)]
    return result, layout


def score_frame(df: pd.DataFrame, *, toi_rule: ToiRule = "facit") -> pd.DataFrame:
    """Score a wide DataFrame: one row per completed form, item codes as columns.

    Returns a new DataFrame on ``df``'s index with ``PWB SWB EWB FWB BCS FACTG
    FACTB TOI`` (+ ``ARM`` when B10–B13 are present) as float64, NaN where not
    scorable; then the items-answered counts ``PWB_N … TOI_N`` (+ ``ARM_N``)
    as int64; then, when present, the E2108 items ``LR1 … LR9`` as nullable
    Int64 item scores (8/9 become missing). Other columns are ignored. A total's
    count is the number of answered items among all of the total's items.

    Raises :class:`ScoringInputError` for a missing or duplicated item
    column, an incomplete B10–B13 set, or any cell that is not blank/NA,
    8, 9 or a whole number 0–4; ``ValueError`` for an unknown ``toi_rule``.
    """
    import pandas as pd

    labels = list(df.columns)
    position = {label: i for i, label in enumerate(labels)}
    result, layout = _score(
        labels,
        lambda code: _column_values(df[code]),
        lambda row, code: df.iloc[row, position[code]],
        len(df),
        toi_rule,
    )
    data: dict[str, Any] = {}
    for name, i, kind in layout:
        if kind == "score":
            data[name] = result.scores[i]
        elif kind == "count":
            data[name] = result.counts[i]
        else:
            values = result.lr[i]
            data[name] = pd.arrays.IntegerArray(values.astype(np.int64), values < 0)
    frame = pd.DataFrame(data, index=df.index, copy=False)
    frame.attrs["scoring_version"] = SCORING_VERSION
    frame.attrs["toi_rule"] = toi_rule
    return frame


def _arrow_text_column(column: pa.ChunkedArray | pa.Array) -> npt.NDArray[Any]:
    """An Arrow text column as kernel input: the one-character fast path, else each
    distinct value parsed once (as :func:`_by_distinct_values` does for pandas text)."""
    import pyarrow as pa

    fast = _arrow_text_codes(column)
    if fast is not None:
        return fast
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode()
    dictionary = encoded.dictionary.to_pylist()
    table = np.array([_parse_value(v) for v in dictionary] + [np.nan], dtype=np.float64)
    indices = encoded.indices
    codes = np.frombuffer(indices.buffers()[1], dtype=np.int32)[
        indices.offset : indices.offset + len(indices)
    ].astype(np.intp)
    codes[~_validity(indices)] = len(dictionary)  # null: the trailing NaN
    result: FloatArray = table[codes]
    return result


def score_arrow(table: pa.Table, *, toi_rule: ToiRule = "facit") -> list[tuple[str, pa.Array]]:
    """Score an Arrow table whose item columns are text (as the CSV reader gives them).

    The same rules, kernel and errors as :func:`score_frame` on the DataFrame
    the table converts to, without pandas. Returns the output columns
    (:func:`output_columns` order) as Arrow arrays: scores float64 with nulls
    where not scorable, counts int64, LR items int64 with nulls. Every item
    column must be Arrow text (``string``/``large_string``); ``TypeError``
    otherwise.
    """
    import pyarrow as pa

    labels = list(table.column_names)
    position = {label: i for i, label in enumerate(labels)}

    def values_of(code: str) -> npt.NDArray[Any]:
        column = table.column(position[code])
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            raise TypeError(f"item column {code} is {column.type}, not text")
        return _arrow_text_column(column)

    result, layout = _score(
        labels,
        values_of,
        lambda row, code: table.column(position[code])[row].as_py(),
        table.num_rows,
        toi_rule,
    )
    out: list[tuple[str, pa.Array]] = []
    for name, i, kind in layout:
        if kind == "score":
            scores = result.scores[i]
            out.append((name, _to_arrow(scores, np.isnan(scores), pa.float64())))
        elif kind == "count":
            out.append((name, _to_arrow(result.counts[i], None, pa.int64())))
        else:
            values = result.lr[i]
            out.append((name, _to_arrow(values.astype(np.int64), values < 0, pa.int64())))
    return out


def _to_arrow(
    values: npt.NDArray[Any], null: npt.NDArray[np.bool_] | None, arrow_type: pa.DataType
) -> pa.Array:
    """An Arrow array over a NumPy buffer with ``null`` as its nulls.

    Built from buffers because ``pa.array(values, mask=...)`` imports pandas.
    """
    import pyarrow as pa

    data = pa.py_buffer(np.ascontiguousarray(values))
    if null is None or not null.any():
        return pa.Array.from_buffers(arrow_type, len(values), [None, data], null_count=0)
    bitmap = pa.py_buffer(np.packbits(~null, bitorder="little"))
    return pa.Array.from_buffers(
        arrow_type, len(values), [bitmap, data], null_count=int(null.sum())
    )


def score_form(
    answers: Mapping[str, int | None], *, toi_rule: ToiRule = "facit"
) -> dict[str, float | int | None]:
    """Score one completed form (item code -> response, None for unanswered).

    Same rules and kernel as :func:`score_frame` (a one-row block); returns
    score -> float (None when not scorable), ``*_N`` -> int, and ``LR1 … LR9``
    -> int or None for those items present in ``answers``. Keys that are not
    item codes are ignored; a missing required item raises
    :class:`ScoringInputError` (row 1).
    """
    result, layout = _score(
        list(answers),
        lambda code: np.array([_parse_value(answers[code])], dtype=np.float64),
        lambda row, code: answers[code],
        1,
        toi_rule,
    )
    out: dict[str, float | int | None] = {}
    for name, i, kind in layout:
        if kind == "score":
            value = float(result.scores[i, 0])
            out[name] = None if np.isnan(value) else value
        elif kind == "count":
            out[name] = int(result.counts[i, 0])
        else:
            code = int(result.lr[i, 0])
            out[name] = None if code < 0 else code
    return out
