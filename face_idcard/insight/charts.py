"""Bar charts drawn on the server as inline SVG (no script, no CDN), each bar with its number
beside it. Every text goes through ``format_html`` (escaped)."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

ROW = 22
LABEL_WIDTH = 220
BAR_WIDTH = 300
NUMBER_WIDTH = 90
COLOURS = ("#417690", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#757575")


def bars(
    title: str,
    rows: Sequence[tuple[str, float]],
    *,
    number_format: str = "{:,.0f}",
    colour: str = COLOURS[0],
    colours: Sequence[str] = (),
    name: str = "",
) -> SafeString:
    """A horizontal bar chart of ``(label, value)`` rows; ``colours``, when given, one per row
    (where the colour means something: a match green, no match red)."""
    peak = max((value for _, value in rows), default=0) or 1
    height = ROW * max(len(rows), 1) + 4
    width = LABEL_WIDTH + BAR_WIDTH + NUMBER_WIDTH
    body = format_html_join(
        "",
        '<g class="face-idcard-bar" data-label="{}" data-value="{}">'
        '<text x="{}" y="{}" text-anchor="end" font-size="12">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"></rect>'
        '<text x="{}" y="{}" font-size="12" class="face-idcard-number">{}</text></g>',
        (
            (
                label,
                value,
                LABEL_WIDTH - 6,
                index * ROW + 15,
                label,
                LABEL_WIDTH,
                index * ROW + 4,
                round(BAR_WIDTH * value / peak, 1),
                ROW - 6,
                colours[index] if index < len(colours) else colour,
                LABEL_WIDTH + round(BAR_WIDTH * value / peak, 1) + 6,
                index * ROW + 15,
                number_format.format(value),
            )
            for index, (label, value) in enumerate(rows)
        ),
    )
    return format_html(
        '<svg class="face-idcard-chart" data-chart="{}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}">'
        "<title>{}</title>{}</svg>",
        name,
        title,
        width,
        height,
        width,
        height,
        title,
        body,
    )


def stacked_histogram(
    title: str,
    bins: Sequence[tuple[str, int, int]],
    legend: tuple[str, str],
    *,
    name: str = "",
) -> SafeString:
    """Vertical bars of two series side by side per bin (``(label, first, second)``), with
    the counts written above them."""
    peak = max((max(first, second) for _, first, second in bins), default=0) or 1
    column = 34
    plot = 160
    width = column * max(len(bins), 1) + 20
    height = plot + 60
    parts = []
    for index, (label, first, second) in enumerate(bins):
        x = 10 + index * column
        for offset, value, colour in ((0, first, COLOURS[2]), (15, second, COLOURS[1])):
            bar = round(plot * value / peak, 1)
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="13" height="{}" fill="{}" data-value="{}"></rect>'
                    '<text x="{}" y="{}" font-size="9" text-anchor="middle" '
                    'class="face-idcard-number">{}</text>',
                    x + offset,
                    20 + plot - bar,
                    bar,
                    colour,
                    value,
                    x + offset + 6,
                    16 + plot - bar,
                    value,
                )
            )
        parts.append(
            format_html(
                '<text x="{}" y="{}" font-size="9" text-anchor="middle">{}</text>',
                x + 14,
                plot + 34,
                label,
            )
        )
    legend_svg = format_html(
        '<rect x="10" y="{}" width="10" height="10" fill="{}"></rect>'
        '<text x="24" y="{}" font-size="11">{}</text>'
        '<rect x="160" y="{}" width="10" height="10" fill="{}"></rect>'
        '<text x="174" y="{}" font-size="11">{}</text>',
        plot + 42,
        COLOURS[2],
        plot + 51,
        legend[0],
        plot + 42,
        COLOURS[1],
        plot + 51,
        legend[1],
    )
    return format_html(
        '<svg class="face-idcard-chart" data-chart="{}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}">'
        "<title>{}</title>{}{}</svg>",
        name,
        title,
        width,
        height,
        width,
        height,
        title,
        SafeString("".join(parts)),
        legend_svg,
    )
