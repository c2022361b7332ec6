"""Plotly figures for the cost analytics page, built from the DataFrames of ``smallchat.analytics``.

Colours, fonts and backgrounds are left to Streamlit's chart theme, which follows the app's
light or dark theme, except where one series needs two colours (the grey "other" bar).

Money reaches Plotly as floats, and only here: Plotly draws numbers as JavaScript doubles, and
a bar's length needs no more precision than that. Every label and hover text a person reads
carries the exact amount as text instead.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from smallchat.money import format_usd, usd_text

# Set only where bars of one series need two colours; both read well on light and dark.
ACCENT = "#3b82f6"  # blue-500
NEUTRAL = "#94a3b8"  # slate-400
TOP_SESSIONS = 15
LABEL_CHARS = 38
CHART_HEIGHT = 380


def _plot_dollars(amounts: pd.Series) -> list[float]:
    """Dollar amounts as floats for Plotly to draw (see the module docstring)."""
    return [float(amount) for amount in amounts]


def _exact_text(amounts: pd.Series) -> list[str]:
    return ["$" + usd_text(amount) for amount in amounts]


def _short(title: str) -> str:
    return title if len(title) <= LABEL_CHARS else title[: LABEL_CHARS - 1].rstrip() + "…"


def _layout(figure: go.Figure, *, height: int = CHART_HEIGHT, **extra: object) -> go.Figure:
    figure.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 36, "b": 8},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "title": None},
        hoverlabel={"namelength": -1},
        **extra,
    )
    return figure


def build_session_cost_chart(sessions: pd.DataFrame, *, top: int = TOP_SESSIONS) -> go.Figure:
    """The costliest sessions as bars, the rest together as one "other" bar."""
    ranked = sessions.sort_values("cost_picodollars", ascending=False, kind="stable")
    shown = ranked.head(top)
    rest = ranked.iloc[top:]
    # Numbered labels: two chats with the same title must stay two bars.
    labels = [f"{rank}. {_short(title)}" for rank, title in enumerate(shown["title"], start=1)]
    costs = list(shown["cost"])
    hover = [f"{title}<br>${usd_text(cost)}" for title, cost in zip(shown["title"], costs, strict=True)]
    colors = [ACCENT] * len(labels)
    if len(rest):
        other = sum(rest["cost"], Decimal(0))
        labels.append(f"Other {len(rest):,} sessions")
        costs.append(other)
        hover.append(f"{len(rest):,} other sessions<br>${usd_text(other)}")
        colors.append(NEUTRAL)
    figure = go.Figure(
        go.Bar(
            x=_plot_dollars(pd.Series(costs, dtype=object)),
            y=labels,
            orientation="h",
            text=[format_usd(cost) for cost in costs],
            textposition="auto",
            hovertext=hover,
            hoverinfo="text",
            marker={"color": colors},
        )
    )
    figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_xaxes(title="Cost (USD)", tickprefix="$", rangemode="tozero")
    return _layout(figure, height=max(CHART_HEIGHT, 28 * len(labels) + 80))


_DAY_MS = 86_400_000  # plotly measures date axes in milliseconds


def build_daily_chart(daily: pd.DataFrame, *, measure: str) -> go.Figure:
    """Cost (``measure="cost"``) or tokens in + out (``"tokens"``) per UTC day, stacked by model."""
    figure = go.Figure()
    for model, rows in daily.groupby("model", sort=True):
        if measure == "cost":
            values: list[float] | pd.Series = _plot_dollars(rows["cost"])
            hover = [
                f"{model}<br>{day:%Y-%m-%d}<br>{text}"
                for day, text in zip(rows["day"], _exact_text(rows["cost"]), strict=True)
            ]
        else:
            values = rows["prompt_tokens"] + rows["completion_tokens"]
            hover = [
                f"{model}<br>{day:%Y-%m-%d}<br>{prompt:,} in · {completion:,} out"
                for day, prompt, completion in zip(
                    rows["day"], rows["prompt_tokens"], rows["completion_tokens"], strict=True
                )
            ]
        figure.add_bar(
            x=rows["day"],
            y=values,
            name=str(model),
            hovertext=hover,
            hoverinfo="text",
            width=_DAY_MS * 0.8,  # a day wide, whatever the number of days shown
        )
    figure.update_layout(barmode="stack")
    if measure == "cost":
        figure.update_yaxes(title="Cost (USD)", tickprefix="$")
    else:
        figure.update_yaxes(title="Tokens (in + out)")
    # Whole days only: with a single day plotly would otherwise zoom into its hours.
    days = pd.to_datetime(daily["day"])
    first, last = days.min(), days.max()
    figure.update_xaxes(
        title=None,
        type="date",
        tickformat="%b %-d",
        dtick=_DAY_MS * max(1, (last - first).days // 10 + 1),
        range=[first - pd.Timedelta(hours=12), last + pd.Timedelta(hours=12)],
    )
    return _layout(figure)


def build_model_cost_chart(models: pd.DataFrame) -> go.Figure:
    """Cost per model; models without a known price show their reply count instead of a bar."""
    labels = [
        f"{model} ({unpriced:,} unpriced)" if unpriced else str(model)
        for model, unpriced in zip(models["model"], models["unpriced_replies"], strict=True)
    ]
    # A model none of whose replies has a price gets words, never a "$0.00" bar.
    no_price = [
        replies == unpriced for replies, unpriced in zip(models["replies"], models["unpriced_replies"], strict=True)
    ]
    figure = go.Figure(
        go.Bar(
            x=_plot_dollars(models["cost"]),
            y=labels,
            orientation="h",
            text=[
                "price unknown" if unknown else format_usd(cost)
                for unknown, cost in zip(no_price, models["cost"], strict=True)
            ],
            textposition=["outside" if unknown else "auto" for unknown in no_price],
            hovertext=[
                f"{model}<br>${usd_text(cost)}<br>{replies:,} replies · {prompt:,} in · {completion:,} out"
                for model, cost, replies, prompt, completion in zip(
                    models["model"],
                    models["cost"],
                    models["replies"],
                    models["prompt_tokens"],
                    models["completion_tokens"],
                    strict=True,
                )
            ],
            hoverinfo="text",
        )
    )
    figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_xaxes(title="Cost (USD)", tickprefix="$", rangemode="tozero")
    return _layout(figure, height=max(260, 40 * len(labels) + 80))


def build_tokens_in_out_chart(sessions: pd.DataFrame) -> go.Figure:
    """One point per session: tokens sent (prompt) against tokens received (completion)."""
    figure = go.Figure(
        go.Scattergl(
            x=sessions["prompt_tokens"],
            y=sessions["completion_tokens"],
            mode="markers",
            marker={"size": 7, "opacity": 0.6},
            hovertext=[
                f"{_short(title)}<br>{prompt:,} in · {completion:,} out<br>${usd_text(cost)}"
                for title, prompt, completion, cost in zip(
                    sessions["title"],
                    sessions["prompt_tokens"],
                    sessions["completion_tokens"],
                    sessions["cost"],
                    strict=True,
                )
            ],
            hoverinfo="text",
        )
    )
    # Log axes: a long chat resends its whole history, so sessions span orders of magnitude.
    figure.update_xaxes(title="Tokens in (prompt, log scale)", type="log")
    figure.update_yaxes(title="Tokens out (completion, log scale)", type="log")
    return _layout(figure)


def build_cumulative_cost_chart(messages: pd.DataFrame) -> go.Figure:
    """Per reply: the prompt tokens sent (cached part apart) and the session's running cost."""
    replies = messages[messages["role"] == "assistant"].reset_index(drop=True)
    turn = list(range(1, len(replies) + 1))
    cached = replies["cached_tokens"].fillna(0).astype("int64")
    uncached = replies["prompt_tokens"].fillna(0).astype("int64") - cached
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_bar(x=turn, y=uncached, name="Prompt tokens, not cached", secondary_y=False)
    figure.add_bar(x=turn, y=cached, name="Prompt tokens, cached", secondary_y=False)
    figure.add_scatter(
        x=turn,
        y=_plot_dollars(replies["cumulative_cost"]),
        name="Cost so far",
        mode="lines+markers",
        hovertext=[
            f"Reply {n}: {text} so far" for n, text in zip(turn, _exact_text(replies["cumulative_cost"]), strict=True)
        ],
        hoverinfo="text",
        secondary_y=True,
    )
    figure.update_layout(barmode="stack")
    figure.update_xaxes(title="Reply")
    figure.update_yaxes(title="Prompt tokens", secondary_y=False)
    figure.update_yaxes(title="Cost so far (USD)", tickprefix="$", rangemode="tozero", secondary_y=True, showgrid=False)
    return _layout(figure)


def build_what_if_chart(what_if: pd.DataFrame) -> go.Figure:
    """What the same tokens cost under each model; the recorded cost first, in grey."""
    priced = what_if[what_if["cost"].notna()]
    colors = [NEUTRAL if model == "Recorded" else ACCENT for model in priced["model"]]
    figure = go.Figure(
        go.Bar(
            x=_plot_dollars(priced["cost"]),
            y=list(priced["model"]),
            orientation="h",
            text=[format_usd(cost) for cost in priced["cost"]],
            textposition="auto",
            hovertext=[
                f"{model}<br>{text}" for model, text in zip(priced["model"], _exact_text(priced["cost"]), strict=True)
            ],
            hoverinfo="text",
            marker={"color": colors},
        )
    )
    figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_xaxes(title="Cost of the same tokens (USD)", tickprefix="$", rangemode="tozero")
    return _layout(figure, height=max(260, 40 * len(priced) + 80))
