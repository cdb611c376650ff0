"""Plots as self-contained SVG, written at build time: ROC curves, a method x condition heatmap, AUROC versus query
cost with its Pareto front.

Takes entries (and the suite's conditions); produces SVG markup to inline in pages. Every text and attribute goes
through `_esc`, numbers are printed with fixed precision and nothing depends on the clock or on dict order, so the
same input gives the same bytes. No fonts, scripts or external references: the SVG inherits the page's font.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from distillbench.publish.entries import Entry

# Okabe-Ito: distinguishable with the common colour-vision deficiencies; dashes tell curves apart in grey too.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#7F7F7F")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
CHAR_W = 6.6  # average glyph width at font-size 12, for laying out labels without measuring text


def _esc(value: object) -> str:
    return escape(str(value), quote=True)


def _n(x: float) -> str:
    """A coordinate: two decimals, no trailing zeros, no negative zero."""
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _attrs(attrs: dict[str, object]) -> str:
    return "".join(f' {k.rstrip("_").replace("_", "-")}="{_esc(v)}"' for k, v in attrs.items() if v is not None and v != "")


def _el(tag: str, body: str = "", **attrs: object) -> str:
    return f"<{tag}{_attrs(attrs)}>{body}</{tag}>" if body else f"<{tag}{_attrs(attrs)}/>"


def _text(x: float, y: float, text: str, **attrs: object) -> str:
    return _el("text", _esc(text), x=_n(x), y=_n(y), **attrs)


def _svg(uid: str, width: float, height: float, title: str, desc: str, body: list[str]) -> Markup:
    head = f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 {_n(width)} {_n(height)}" ' \
           f'width="{_n(width)}" height="{_n(height)}" role="img" aria-labelledby="{_esc(uid)}-t {_esc(uid)}-d" ' \
           f'font-size="12">'
    parts = [head, _el("title", _esc(title), id=f"{uid}-t"), _el("desc", _esc(desc), id=f"{uid}-d"), *body, "</svg>"]
    return Markup("\n".join(parts))


def _short(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "…"


def _ink(fill: str) -> str:
    """Black or white text, whichever reads better on `fill`."""
    r, g, b = (int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "#000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "#fff"


# -- ROC ---------------------------------------------------------------------------------------------------------

def roc_plot(uid: str, entries: list[Entry], title: str) -> Markup:
    """ROC curves of several entries on one suite split, with the chance diagonal and a legend below."""
    size, left, top, pad = 240.0, 44.0, 12.0, 14.0
    legend_top = top + size + 48
    labels = [f"{e.name} (AUROC {e.result.overall.auroc:.2f})" for e in entries]
    # The legend may run wider than the plot (long method names), up to a limit past which names are shortened.
    legend_chars = 38
    width = max(left + size + pad, left + 28 + CHAR_W * min(legend_chars, max((len(t) for t in labels), default=0)) + 4)
    height = legend_top + 18 * len(entries) + 4
    x = lambda f: left + f * size  # noqa: E731
    y = lambda t: top + (1 - t) * size  # noqa: E731
    body = [_el("rect", x=_n(left), y=_n(top), width=_n(size), height=_n(size), fill="#fff", stroke="#888")]
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(_el("line", x1=_n(x(v)), y1=_n(top), x2=_n(x(v)), y2=_n(top + size), stroke="#e6e6e6"))
        body.append(_el("line", x1=_n(left), y1=_n(y(v)), x2=_n(left + size), y2=_n(y(v)), stroke="#e6e6e6"))
        body.append(_text(x(v), top + size + 14, f"{v:g}", text_anchor="middle", fill="#333"))
        body.append(_text(left - 5, y(v) + 4, f"{v:g}", text_anchor="end", fill="#333"))
    body.append(_el("line", x1=_n(x(0)), y1=_n(y(0)), x2=_n(x(1)), y2=_n(y(1)), stroke="#999", stroke_dasharray="3 3"))
    body.append(_text(left + size / 2, top + size + 34, "false-positive rate", text_anchor="middle", fill="#333"))
    body.append(_text(12, top + size / 2, "true-positive rate", text_anchor="middle", fill="#333",
                      transform=f"rotate(-90 12 {_n(top + size / 2)})"))
    for i, e in enumerate(entries):
        stroke, dash = PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)]
        label = labels[i]
        if e.roc:
            d = "M" + " L".join(f"{_n(x(f))} {_n(y(t))}" for f, t in e.roc)
            body.append(_el("path", _el("title", _esc(label)), d=d, fill="none", stroke=stroke, stroke_width="2",
                            stroke_dasharray=dash or None, stroke_linejoin="round"))
        ly = legend_top + 18 * i
        body.append(_el("line", x1=_n(left), y1=_n(ly - 4), x2=_n(left + 22), y2=_n(ly - 4), stroke=stroke,
                        stroke_width="2", stroke_dasharray=dash or None))
        body.append(_text(left + 28, ly, _short(label, legend_chars), fill="#222"))
    desc = "; ".join(f"{e.name}: AUROC {e.result.overall.auroc:.3f}" for e in entries) or "no entries"
    return _svg(uid, width, height, title, desc, body)


# -- heatmap -----------------------------------------------------------------------------------------------------

# Share flagged at the detector's global threshold: more is better on distilled kinds (white to blue), worse on
# hard negatives (white to red). Two scales, each labelled, so a cell never reads as the other kind of number.
CATCH_STOPS = ((0.0, (247, 247, 247)), (0.5, (146, 197, 222)), (1.0, (33, 102, 172)))
FALSE_STOPS = ((0.0, (247, 247, 247)), (0.25, (244, 165, 130)), (0.5, (178, 24, 43)))
FPR_SCALE_TOP = 0.5  # false-positive rates from here up share the darkest red


def _scale(stops: tuple, v: float) -> str:
    v = min(stops[-1][0], max(stops[0][0], v))
    for (a, ca), (b, cb) in zip(stops, stops[1:]):
        if v <= b:
            t = (v - a) / (b - a)
            return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb))
    return "#" + "".join(f"{x:02x}" for x in stops[-1][1])


@dataclass(frozen=True)
class ConditionColumn:
    name: str
    kind: str  # "positive" (a distilled kind: share detected) or "negative" (a negative type: share wrongly flagged)
    n_pairs: int


def _share(m, kind: str) -> float | None:
    return m.detected_at_threshold if kind == "positive" else m.fpr_at_threshold


def heatmap(uid: str, entries: list[Entry], conditions: list[ConditionColumn], title: str) -> Markup:
    """Share of pairs flagged at each method's global threshold (5% FPR over all negatives of the split), per method
    (rows) and condition (columns): on distilled kinds the share detected, on negative types the share wrongly
    flagged (their false-positive rate). Values printed in the cells, intervals and p<0.05 rates in tooltips."""
    cell_w, cell_h = 54.0, 26.0
    label_w = min(220.0, max(80.0, CHAR_W * max((len(e.name) for e in entries), default=8) + 12))
    # Column names are written at 45 degrees: each reaches up and right by its length / sqrt(2).
    reach = [CHAR_W * len(c.name) * 0.71 for c in conditions]
    head_h = max(reach, default=40) + 14
    track_w = CHAR_W * 13
    width = max(label_w + cell_w * len(conditions) + 12 + track_w, label_w + 36 * 5 + 150)
    if conditions:
        width = max(width, max(label_w + cell_w * j + cell_w / 2 + r + 8 for j, r in enumerate(reach)))
    groups_y = head_h + cell_h * len(entries) + 6
    legend_y = groups_y + 34
    height = legend_y + 34 * 2 + 8
    body = []
    for j, c in enumerate(conditions):
        cx = label_w + cell_w * j + cell_w / 2
        body.append(_text(cx - 4, head_h - 8, c.name, transform=f"rotate(-45 {_n(cx - 4)} {_n(head_h - 8)})", fill="#222"))
    # Brackets under the columns: which are distilled kinds and which are negative types.
    names = {"positive": "distilled kinds: share detected", "negative": "negative types: FPR"}
    j = 0
    while j < len(conditions):
        k = j
        while k + 1 < len(conditions) and conditions[k + 1].kind == conditions[j].kind:
            k += 1
        x0, x1 = label_w + cell_w * j + 3, label_w + cell_w * (k + 1) - 3
        body.append(_el("path", d=f"M{_n(x0)} {_n(groups_y)} V{_n(groups_y + 5)} H{_n(x1)} V{_n(groups_y)}",
                        fill="none", stroke="#888"))
        label = names.get(conditions[j].kind, conditions[j].kind)
        body.append(_el("text", _el("title", _esc(label)) + _esc(_short(label, int((x1 - x0) / CHAR_W))),
                        x=_n((x0 + x1) / 2), y=_n(groups_y + 19), text_anchor="middle", fill="#333"))
        j = k + 1
    for i, e in enumerate(entries):
        ry = head_h + cell_h * i
        if i == 0 or entries[i - 1].track != e.track:
            # Rows come grouped by track: a rule above each group and its name beside it.
            n_group = next((k for k in range(i, len(entries)) if entries[k].track != e.track), len(entries)) - i
            gx = label_w + cell_w * len(conditions) + 8
            if i:
                body.append(_el("line", x1="4", y1=_n(ry), x2=_n(gx + track_w - 4), y2=_n(ry), stroke="#666"))
            body.append(_text(gx, ry + cell_h * n_group / 2 + 4, e.track, fill="#555"))
        body.append(_el("text", _el("title", _esc(e.name)) + _esc(_short(e.name, int((label_w - 10) / CHAR_W))),
                        x=_n(label_w - 8), y=_n(ry + cell_h / 2 + 4), text_anchor="end", fill="#222"))
        for j, c in enumerate(conditions):
            rx = label_w + cell_w * j
            m = e.result.conditions.get(c.name)
            v = None if m is None else _share(m, c.kind)
            if v is None:
                body.append(_el("rect", _el("title", _esc(f"{e.name}, {c.name}: not measured")), x=_n(rx + 1),
                                y=_n(ry + 1), width=_n(cell_w - 2), height=_n(cell_h - 2), fill="#fff", stroke="#ddd"))
                body.append(_text(rx + cell_w / 2, ry + cell_h / 2 + 4, "–", text_anchor="middle", fill="#666"))
                continue
            fill = _scale(CATCH_STOPS, v) if c.kind == "positive" else _scale(FALSE_STOPS, v)
            ci = f" [{m.ci[0]:.2f}, {m.ci[1]:.2f}]" if m.ci else " (no interval: fewer than three teachers)"
            p05 = m.detected_at_p05 if c.kind == "positive" else m.fpr_at_p05
            what = "detected at its 5%-FPR threshold" if c.kind == "positive" else "wrongly flagged at its 5%-FPR threshold"
            tip = (f"{e.name}, {c.name}: {v:.2f} {what}{ci}"
                   + (f"; at p<0.05: {p05:.2f}" if p05 is not None else "")
                   + f"; {m.n_pairs} pairs, {m.n_teachers} teachers")
            body.append(_el("rect", _el("title", _esc(tip)), x=_n(rx + 1), y=_n(ry + 1), width=_n(cell_w - 2),
                            height=_n(cell_h - 2), fill=fill))
            body.append(_text(rx + cell_w / 2, ry + cell_h / 2 + 4, f"{v:.2f}", text_anchor="middle",
                              fill=_ink(fill), pointer_events="none"))
    # Legends: each scale as five swatches (a gradient would need an id-referenced definition).
    scales = [("detected", CATCH_STOPS, (0.0, 0.25, 0.5, 0.75, 1.0), "{:g}"),
              ("FPR", FALSE_STOPS, (0.0, 0.05, 0.15, 0.3, FPR_SCALE_TOP), "{:g}")]
    for row, (name, stops, ticks, fmt) in enumerate(scales):
        ly = legend_y + 34 * row
        for k, v in enumerate(ticks):
            lx = label_w + 36 * k
            body.append(_el("rect", x=_n(lx), y=_n(ly), width="34", height="12", fill=_scale(stops, v), stroke="#ccc"))
            label = fmt.format(v) + ("+" if stops is FALSE_STOPS and v == FPR_SCALE_TOP else "")
            body.append(_text(lx + 17, ly + 26, label, text_anchor="middle", fill="#333"))
        body.append(_text(label_w - 8, ly + 10, name, text_anchor="end", fill="#333"))

    def line(e: Entry) -> str:
        cells = []
        for c in conditions:
            m = e.result.conditions.get(c.name)
            v = None if m is None else _share(m, c.kind)
            if v is not None:
                cells.append(f"{c.name} {v:.2f}")
        return f"{e.name}: " + ", ".join(cells) + "."
    desc = ("Share of pairs flagged at each method's 5%-FPR threshold: detected on distilled kinds, wrongly flagged "
            "on negative types. " + " ".join(line(e) for e in entries))
    return _svg(uid, width, height, title, desc, body)


# -- cost --------------------------------------------------------------------------------------------------------

def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (fewer or equal queries, higher or equal AUROC,
    one strictly), ordered by cost."""
    front = []
    for i, (q, a) in enumerate(points):
        if not any((q2 <= q and a2 >= a) and (q2 < q or a2 > a) for q2, a2 in points):
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], -points[i][1], i))


# One marker per budget tier, so a point says which tier it was ranked in, in grey too.
TIER_MARKERS = {"evidence-only": "circle", "1k": "square", "10k": "diamond", "100k": "triangle"}


def _marker(shape: str, cx: float, cy: float, body: str, **attrs: object) -> str:
    r = 5.0
    if shape == "circle":
        return _el("circle", body, cx=_n(cx), cy=_n(cy), r=_n(r), **attrs)
    if shape == "square":
        side = _n(2 * r - 1)
        return _el("rect", body, x=_n(cx - r + 0.5), y=_n(cy - r + 0.5), width=side, height=side, **attrs)
    corners = ([(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)] if shape == "diamond"
               else [(0, -r - 1), (r + 0.5, r - 0.5), (-r - 0.5, r - 0.5)])
    return _el("polygon", body, points=" ".join(f"{_n(cx + dx)},{_n(cy + dy)}" for dx, dy in corners), **attrs)


def cost_plot(uid: str, entries: list[Entry], title: str) -> Markup | None:
    """AUROC versus queries per pair, measured by the harness (log scale, 0 at the left edge), the budget tier as
    the marker's shape, with the Pareto front; None when no entry has a measured cost."""
    placed = [e for e in entries if e.queries_per_pair is not None]
    if not placed:
        return None
    w, h, left, top = 300.0, 220.0, 44.0, 12.0
    hi = max(1.0, math.log10(1 + max(e.queries_per_pair for e in placed)))
    decades = math.ceil(hi)
    x = lambda q: left + math.log10(1 + q) / math.log10(1 + 10**decades) * w  # noqa: E731
    lo_a = max(0.0, min(0.4, math.floor((min(e.result.overall.auroc for e in placed) - 0.05) * 10) / 10))
    y = lambda a: top + (1 - (a - lo_a) / (1 - lo_a)) * h  # noqa: E731
    body = [_el("rect", x=_n(left), y=_n(top), width=_n(w), height=_n(h), fill="#fff", stroke="#888")]
    for k in range(decades + 1):
        q = 0 if k == 0 else 10**k
        label = "0" if k == 0 else (f"{q:,}" if q < 10**6 else f"1e{k}")
        body.append(_el("line", x1=_n(x(q)), y1=_n(top), x2=_n(x(q)), y2=_n(top + h), stroke="#e6e6e6"))
        body.append(_text(x(q), top + h + 14, label, text_anchor="middle", fill="#333"))
    a = lo_a
    while a <= 1.0 + 1e-9:
        body.append(_el("line", x1=_n(left), y1=_n(y(a)), x2=_n(left + w), y2=_n(y(a)), stroke="#e6e6e6"))
        body.append(_text(left - 5, y(a) + 4, f"{a:.1f}", text_anchor="end", fill="#333"))
        a = round(a + 0.1, 10)
    if lo_a <= 0.5:
        body.append(_el("line", x1=_n(left), y1=_n(y(0.5)), x2=_n(left + w), y2=_n(y(0.5)), stroke="#999",
                        stroke_dasharray="3 3"))
    body.append(_text(left + w / 2, top + h + 30, "queries per pair, measured (log scale)", text_anchor="middle",
                      fill="#333"))
    body.append(_text(12, top + h / 2, "AUROC", text_anchor="middle", fill="#333", transform=f"rotate(-90 12 {_n(top + h / 2)})"))
    pts = [(float(e.queries_per_pair), e.result.overall.auroc) for e in placed]
    front = pareto_front(pts)
    if len(front) > 1:
        # A step line: moving right along the front costs queries and buys AUROC.
        coords = []
        for i in front:
            if coords:
                coords.append(f"{_n(x(pts[i][0]))} {_n(y(prev_a))}")
            coords.append(f"{_n(x(pts[i][0]))} {_n(y(pts[i][1]))}")
            prev_a = pts[i][1]
        body.append(_el("path", d="M" + " L".join(coords), fill="none", stroke="#0072B2", stroke_width="1.5"))
    legend_top = top + h + 48
    for i, e in enumerate(placed):
        on = i in front
        cx, cy = x(pts[i][0]), y(pts[i][1])
        tip = (f"{e.name}: AUROC {pts[i][1]:.3f}, {e.queries_per_pair:,} queries per pair, tier {e.budget.value}"
               + (" (Pareto front)" if on else ""))
        body.append(_marker(TIER_MARKERS[e.budget.value], cx, cy, _el("title", _esc(tip)),
                            fill="#0072B2" if on else "#fff", stroke="#0072B2", stroke_width="2"))
        body.append(_text(cx + 8, cy - 6, str(i + 1), fill="#222", font_weight="bold"))
        # The name is shortened first, so the numbers always show.
        tail = f": {pts[i][1]:.2f} at {e.queries_per_pair:,} queries ({e.budget.value})"
        name = _short(e.name, max(8, int(w / CHAR_W) - len(tail) - 4))
        body.append(_text(left, legend_top + 18 * i, f"{i + 1}. {name}{tail}", fill="#222"))
    height = legend_top + 18 * len(placed)
    desc = "; ".join(f"{e.name}: AUROC {p[1]:.3f} at {e.queries_per_pair:,} queries per pair, tier {e.budget.value}"
                     for e, p in zip(placed, pts))
    return _svg(uid, left + w + 28, height, title, desc, body)


def interval_bar(value: float, ci: tuple[float, float] | None) -> Markup:
    """A small inline picture of an interval on [0, 1]: the bar is the interval, the tick the estimate, the dashed
    line chance (0.5)."""
    w, h = 80.0, 12.0
    body = [_el("line", x1="0", y1=_n(h / 2), x2=_n(w), y2=_n(h / 2), stroke="#ddd"),
            _el("line", x1=_n(w / 2), y1="0", x2=_n(w / 2), y2=_n(h), stroke="#aaa", stroke_dasharray="2 2")]
    if ci:
        body.append(_el("rect", x=_n(ci[0] * w), y="3", width=_n(max(1.5, (ci[1] - ci[0]) * w)), height="6",
                        fill="#9ecae1"))
    body.append(_el("rect", x=_n(min(w - 2, max(0.0, value * w - 1))), y="1", width="2", height=_n(h - 2), fill="#08519c"))
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="ci-bar" viewBox="0 0 {_n(w)} {_n(h)}" '
                  f'width="{_n(w)}" height="{_n(h)}" aria-hidden="true">' + "".join(body) + "</svg>")
