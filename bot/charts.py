"""Draw the trends chart as a PNG with matplotlib. The only matplotlib importer.

Figures are built with `matplotlib.figure.Figure` and the Agg canvas directly: no pyplot, so no global
figure state survives a call, and no display is ever needed.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.trends import Trends

MAX_LINES = 8  # more lines than this are unreadable; the rest are summed into "other"


def render_trends_png(trends: Trends, title: str) -> bytes:
    """Render daily matched-cluster counts per rule as a labelled line chart; return PNG bytes."""
    figure = Figure(figsize=(10, 5.2), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    days = trends.days
    x = list(range(len(days)))  # day indices; labelled with dates below
    active = trends.active
    shown = list(active[:MAX_LINES])
    for series in shown:
        axes.plot(x, series.counts, marker="o", markersize=3.5, linewidth=1.8, label=_label(series.name))
    rest = active[MAX_LINES:]
    if rest:
        other = [sum(s.counts[i] for s in rest) for i in range(len(days))]
        axes.plot(x, other, color="0.6", linestyle="--", linewidth=1.2, label=f"{len(rest)} other rules")
    if not active:
        axes.text(
            0.5,
            0.5,
            "No matched stories in this period",
            ha="center",
            va="center",
            transform=axes.transAxes,
            fontsize=12,
            color="0.4",
        )
    axes.set_title(title, fontsize=13, loc="left")
    axes.set_ylabel("matched stories (clusters) per day")
    axes.set_xlabel(f"day ({trends.timezone})")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(bottom=0)
    axes.margins(x=0.02)
    axes.grid(True, color="0.9")
    axes.spines[["top", "right"]].set_visible(False)
    step = max(1, len(days) // 10)
    axes.set_xticks(x[::step], [d.strftime("%d %b") for d in days[::step]])
    if active:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _label(name: str) -> str:
    return name if len(name) <= 38 else name[:37] + "…"
