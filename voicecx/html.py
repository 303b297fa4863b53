"""Self-contained HTML report: inline SVG plots, embedded audio, every transcript string escaped.

Why inline SVG rather than a plotting library: the report must be one file that opens anywhere with
no network, stays crisp when zoomed, and lets a click on any event seek the embedded audio.
Escaping is jinja2's autoescape; SVG built here goes through ``markupsafe.escape`` for every string.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

if TYPE_CHECKING:
    from voicecx.report import Report

WIDTH = 1000  # px of the plot area; every plot shares the same time axis
LEFT = 90  # px for lane labels
ROLE_COLOURS = {"agent": "#2b6cb0", "customer": "#c05621", "unknown": "#4a5568"}
EVENT_STYLE = {
    "interruption": ("#e53e3e", "Interruption"),
    "overtalk": ("#f56565", "Overtalk"),
    "backchannel": ("#38a169", "Backchannel"),
    "dead_air": ("#a0aec0", "Dead air"),
    "monologue": ("#805ad5", "Monologue"),
    "cue": ("#d69e2e", "Cue"),
}

_env = Environment(loader=PackageLoader("voicecx", "templates"), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def render_html(report: "Report") -> str:
    duration = max(report.call.duration_s, 1e-3)
    roles = {s.label: s.role for s in report.speakers}
    order = sorted(roles, key=lambda lab: (roles[lab] != "agent", roles[lab] != "customer", lab))
    return _env.get_template("report.html").render(
        r=report,
        d=report.to_dict(),
        gauge=Markup(gauge_svg(report.empathy.score, report.empathy.grade)),
        timeline=Markup(timeline_svg(report, order, roles, duration)),
        prosody=Markup(prosody_svg(report, order, roles, duration)),
        roles=roles,
        role_colours=ROLE_COLOURS,
        event_style=EVENT_STYLE,
        fmt_t=fmt_t,
        plot_left=LEFT,
        plot_width=WIDTH,
    )


def fmt_t(t: float) -> str:
    m, s = divmod(max(0.0, float(t)), 60)
    return f"{int(m)}:{s:04.1f}"


def _x(t: float, duration: float) -> float:
    return LEFT + WIDTH * min(max(t, 0.0), duration) / duration


def gauge_svg(score: float, grade: str) -> str:
    """A half-ring gauge 0-100 with the grade in the middle."""
    frac = min(max(score / 100.0, 0.0), 1.0)
    r, cx, cy = 70, 90, 85
    angle = math.pi * (1 - frac)
    x, y = cx + r * math.cos(angle), cy - r * math.sin(angle)
    colour = "#38a169" if score >= 65 else "#d69e2e" if score >= 50 else "#e53e3e"
    large = 0
    return (
        f'<svg class="gauge" viewBox="0 0 180 110" width="180" height="110" role="img" aria-label="empathy score {score:.0f}">'
        f'<path d="M{cx - r},{cy} A{r},{r} 0 0 1 {cx + r},{cy}" stroke="#e2e8f0" stroke-width="16" fill="none"/>'
        f'<path d="M{cx - r},{cy} A{r},{r} 0 {large} 1 {x:.1f},{y:.1f}" stroke="{colour}" stroke-width="16" fill="none"/>'
        f'<text x="{cx}" y="{cy - 12}" text-anchor="middle" font-size="34" font-weight="bold">{score:.0f}</text>'
        f'<text x="{cx}" y="{cy + 20}" text-anchor="middle" font-size="16">grade {escape(grade)}</text></svg>'
    )


def _axis(duration: float, y: float) -> list[str]:
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600) if duration / s <= 12)
    parts = []
    t = 0.0
    while t <= duration + 1e-9:
        x = _x(t, duration)
        parts.append(f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 5}" stroke="#718096"/>'
                     f'<text x="{x:.1f}" y="{y + 17}" font-size="11" text-anchor="middle" fill="#4a5568">{fmt_t(t)}</text>')
        t += step
    return parts


def timeline_svg(report: "Report", order: Sequence[str], roles: dict[str, str], duration: float) -> str:
    """Speaker lanes with turns, overlaps, interruptions, backchannels and dead air; click to seek."""
    lane_h, gap, top = 34, 14, 10
    height = top + len(order) * (lane_h + gap) + 40
    parts = [f'<svg class="timeline" viewBox="0 0 {LEFT + WIDTH + 10} {height}" width="100%" role="img" '
             f'aria-label="speaker timeline">']
    lane_y = {lab: top + i * (lane_h + gap) for i, lab in enumerate(order)}
    for e in report.events:  # dead air behind everything
        if e.type == "dead_air":
            x0, x1 = _x(e.start, duration), _x(e.end, duration)
            parts.append(f'<rect class="ev seek" data-t="{e.start:.2f}" x="{x0:.1f}" y="{top - 4}" width="{max(x1 - x0, 1):.1f}" '
                         f'height="{height - top - 36}" fill="#edf2f7" stroke="#a0aec0" stroke-dasharray="4 3">'
                         f'<title>dead air {e.end - e.start:.1f} s at {fmt_t(e.start)}</title></rect>')
    for lab in order:
        y = lane_y[lab]
        role = roles.get(lab, "unknown")
        parts.append(f'<text x="{LEFT - 8}" y="{y + lane_h / 2 - 2}" text-anchor="end" font-size="13" '
                     f'fill="{ROLE_COLOURS.get(role, "#4a5568")}">{escape(role)}'
                     f'<tspan x="{LEFT - 8}" dy="14" font-size="11" fill="#718096">{escape(lab)}</tspan></text>')
        parts.append(f'<rect x="{LEFT}" y="{y}" width="{WIDTH}" height="{lane_h}" fill="#f7fafc"/>')
    for seg in _turns_for_timeline(report):
        lab, start, end = seg
        if lab not in lane_y:
            continue
        x0, x1 = _x(start, duration), _x(end, duration)
        parts.append(f'<rect class="turn seek" data-t="{start:.2f}" x="{x0:.1f}" y="{lane_y[lab] + 4}" '
                     f'width="{max(x1 - x0, 1):.1f}" height="{lane_h - 8}" rx="2" '
                     f'fill="{ROLE_COLOURS.get(roles.get(lab, "unknown"), "#4a5568")}" opacity="0.55">'
                     f'<title>{escape(lab)} {fmt_t(start)}–{fmt_t(end)}</title></rect>')
    for e in report.events:
        colour, name = EVENT_STYLE.get(e.type, ("#000", e.type))
        if e.type == "dead_air" or e.speaker not in lane_y:
            continue
        y = lane_y[e.speaker]
        x0, x1 = _x(e.start, duration), _x(e.end, duration)
        title = f"{name} by {e.speaker} at {fmt_t(e.start)}" + (f" on {e.target}" if e.target else "")
        if e.type == "overtalk":
            parts.append(f'<rect class="ev seek" data-t="{e.start:.2f}" x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 2):.1f}" '
                         f'height="{lane_h}" fill="{colour}" opacity="0.35"><title>{escape(title)}</title></rect>')
        elif e.type == "interruption":
            parts.append(f'<path class="ev seek" data-t="{e.start:.2f}" d="M{x0:.1f},{y - 2} l-7,-9 h14 z" fill="{colour}">'
                         f'<title>{escape(title)}</title></path>')
        elif e.type == "backchannel":
            parts.append(f'<circle class="ev seek" data-t="{e.start:.2f}" cx="{x0:.1f}" cy="{y + lane_h / 2}" r="5" '
                         f'fill="{colour}" stroke="#fff"><title>{escape(title)}</title></circle>')
        elif e.type == "monologue":
            parts.append(f'<line class="ev seek" data-t="{e.start:.2f}" x1="{x0:.1f}" y1="{y + lane_h - 2}" x2="{x1:.1f}" '
                         f'y2="{y + lane_h - 2}" stroke="{colour}" stroke-width="4"><title>{escape(title)}</title></line>')
        else:
            parts.append(f'<rect class="ev seek" data-t="{e.start:.2f}" x="{x0 - 2:.1f}" y="{y}" width="4" height="{lane_h}" '
                         f'fill="{colour}"><title>{escape(title)}</title></rect>')
    axis_y = top + len(order) * (lane_h + gap)
    parts += _axis(duration, axis_y)
    parts.append(f'<line id="playhead" x1="{LEFT}" y1="{top - 6}" x2="{LEFT}" y2="{axis_y}" stroke="#1a202c" stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)


def _turns_for_timeline(report: "Report") -> list[tuple[str, float, float]]:
    turns = report.roles.get("turns") if isinstance(report.roles, dict) else None
    if turns:
        return [(t["speaker"], t["start"], t["end"]) for t in turns]
    return [(s.speaker, s.start, s.end) for s in report.segments]


def prosody_svg(report: "Report", order: Sequence[str], roles: dict[str, str], duration: float) -> str:
    """Pitch (line, Hz, left scale) and energy (area, dB) per speaker, smiled stretches shaded."""
    if not report.tracks:
        return '<p class="muted">No prosody tracks in this report.</p>'
    panel_h, gap = 120, 26
    labels = [lab for lab in order if lab in report.tracks]
    height = len(labels) * (panel_h + gap) + 30
    parts = [f'<svg class="prosody" viewBox="0 0 {LEFT + WIDTH + 10} {height}" width="100%" role="img" '
             f'aria-label="pitch and energy per speaker">']
    for i, lab in enumerate(labels):
        tr = report.tracks[lab]
        y0 = 10 + i * (panel_h + gap)
        colour = ROLE_COLOURS.get(roles.get(lab, "unknown"), "#4a5568")
        parts.append(f'<rect x="{LEFT}" y="{y0}" width="{WIDTH}" height="{panel_h}" fill="#f7fafc" stroke="#e2e8f0"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y0 + 16}" text-anchor="end" font-size="13" fill="{colour}">'
                     f'{escape(roles.get(lab, "unknown"))}</text>')
        for a, b in tr.smiled:
            x0, x1 = _x(a, duration), _x(b, duration)
            parts.append(f'<rect class="smile seek" data-t="{a:.2f}" x="{x0:.1f}" y="{y0}" width="{max(x1 - x0, 2):.1f}" '
                         f'height="{panel_h}" fill="#faf089" opacity="0.6"><title>smiled {fmt_t(a)}–{fmt_t(b)}</title></rect>')
        energy = [(t, e) for t, e in zip(tr.t, tr.energy_db) if math.isfinite(e)]
        if energy:
            lo = max(min(e for _, e in energy), -80.0)
            hi = max(max(e for _, e in energy), lo + 1)
            pts = " ".join(f"{_x(t, duration):.1f},{y0 + panel_h - (min(max(e, lo), hi) - lo) / (hi - lo) * panel_h * 0.45:.1f}"
                           for t, e in energy)
            parts.append(f'<polyline points="{pts}" fill="none" stroke="#a0aec0" stroke-width="1"/>')
        fmin, fmax = 60.0, 400.0
        runs: list[list[str]] = [[]]
        for t, f in zip(tr.t, tr.f0):
            if f and f > 0:
                yv = y0 + panel_h - (math.log(min(max(f, fmin), fmax) / fmin) / math.log(fmax / fmin)) * panel_h
                runs[-1].append(f"{_x(t, duration):.1f},{yv:.1f}")
            elif runs[-1]:
                runs.append([])
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        for f in (100, 200, 300):
            yv = y0 + panel_h - (math.log(f / fmin) / math.log(fmax / fmin)) * panel_h
            parts.append(f'<text x="{LEFT + 4}" y="{yv - 2:.1f}" font-size="10" fill="#718096">{f} Hz</text>'
                         f'<line x1="{LEFT}" y1="{yv:.1f}" x2="{LEFT + WIDTH}" y2="{yv:.1f}" stroke="#e2e8f0" stroke-dasharray="2 4"/>')
    parts += _axis(duration, height - 28)
    parts.append("</svg>")
    return "".join(parts)
