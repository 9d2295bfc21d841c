"""Mean score by visit and arm with 95% confidence intervals (the paper's Fig 2C).

Drawn with matplotlib's object API on the Agg canvas (no pyplot state, safe
in a worker); PNG and SVG bytes, the SVG reproducible (fixed hash salt, no
date stamp).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

ARM_STYLES: tuple[dict[str, Any], ...] = (
    {"color": "#0b4f8a", "marker": "o", "linestyle": "-"},
    {"color": "#a1142a", "marker": "s", "linestyle": "--"},
    {"color": "#1a6b35", "marker": "^", "linestyle": ":"},
)


def mean_by_visit_plot(
    summary: pd.DataFrame,
    *,
    measure: str,
    measure_label: str,
    visits: Sequence[tuple[str, str]],
    arm_labels: Mapping[str, str],
) -> tuple[bytes, bytes]:
    """PNG and SVG of mean *measure* (95% CI) by visit, one line per arm.

    *summary* is :func:`scoring.extras.summary_by_visit`'s table; *visits*
    lists (code, label) in schedule order.
    """
    rows = summary.loc[summary["measure"] == measure]
    order = {code: i for i, (code, _) in enumerate(visits)}
    arms = sorted(rows["arm"].unique())
    fig = Figure(figsize=(7.5, 4.6), layout="constrained")
    ax = fig.subplots()
    width = 0.08
    for i, arm in enumerate(arms):
        part = rows.loc[rows["arm"] == arm].copy()
        part["x"] = part["visit"].map(order)
        part = part.dropna(subset=["x", "mean"]).sort_values("x")
        offset = (i - (len(arms) - 1) / 2) * width
        x = part["x"].to_numpy(dtype=float) + offset
        mean = part["mean"].to_numpy(dtype=float)
        low = mean - part["ci_low"].to_numpy(dtype=float)
        high = part["ci_high"].to_numpy(dtype=float) - mean
        style = ARM_STYLES[i % len(ARM_STYLES)]
        label = f"{arm}: {arm_labels.get(arm, arm)}"
        ax.errorbar(
            x,
            mean,
            yerr=[low, high],
            capsize=4,
            linewidth=1.8,
            markersize=6,
            label=label,
            **style,
        )
    counts = {
        (str(visit), str(arm)): int(n)
        for visit, arm, n in zip(rows["visit"], rows["arm"], rows["n"], strict=True)
    }
    ticks = [
        label + "\n" + "  ".join(f"{arm}: n={counts.get((code, arm), 0)}" for arm in arms)
        for code, label in visits
    ]
    ax.set_xticks(range(len(visits)), ticks)
    ax.set_xlim(-0.5, len(visits) - 0.5)
    ax.set_xlabel("Visit")
    ax.set_ylabel(f"Mean {measure_label}")
    ax.set_title(f"Mean {measure_label} by visit and arm (95% CI)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=8, frameon=False)
    png, svg = io.BytesIO(), io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "ecogprom", "svg.fonttype": "none"}):
        fig.savefig(png, format="png", dpi=144, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()
