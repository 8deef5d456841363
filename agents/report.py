"""``report.html``: a self-contained evaluation report (every image embedded as base64 PNG).

Sections: the summary table (policies × metrics, mean and 95 % interval, the best mean of
each metric in bold where two or more policies have a value) and a table of the paired
differences against the baseline, one number format per metric (:func:`column_decimals`,
:func:`format_number`: fixed decimals from the metric's magnitude, thousands separators,
never scientific notation) and its unit in the column header; per-metric bar charts with
their intervals; and for one episode of each policy (the first seed; captured by
:func:`sagsim.agents.comparison.run_job` with ``capture``) the region map at the end of the
episode (targets, events, satellite tracks and swaths, drone trails, stations; the
environment's own ``rgb_array`` frame) and a timeline of every agent's actions with the
images it took and delivered, rows named as the scenario names them
(:func:`sagsim.agents.report_maps.agent_names`) with the env's agent ids; with fusers, the fused
map's PSNR over time and, per episode, the truth, the fused map and the best single image
side by side (:mod:`sagsim.agents.report_maps`); with ``evaluate.py --animate``, the episode's
animation (:mod:`sagsim.agents.animation`: embedded as a GIF data URI, or linked to the file
beside the report when larger than ``MAX_EMBED_BYTES``); for trained checkpoints whose run
folder holds ``train.py``'s ``state.json``, the learning curve (on the run's held-out
evaluation seeds, not the report's).
"""

from __future__ import annotations

import base64
import html
import io
import math

import numpy as np

__all__ = ["ACTION_KINDS", "HIGHER_IS_BETTER", "REPORT_METRICS", "agent_label", "animation",
           "column_decimals", "format_number", "metric_label", "render_report",
           "steps_formatter"]  # fmt: skip

# (metric, name, unit ("" for none), higher is better (None: neither))
REPORT_METRICS = (
    ("return", "team return", "", True),
    ("information", "map quality, time integral", "priority·h", True),
    ("map_quality_mean", "map quality, mean share of the best", "0–1", True),
    ("task_completion", "task completion, priority-weighted", "0–1", True),
    ("aoi_mean_h", "age of information", "h", False),
    ("revisit_mean_h", "revisit gap, mean", "h", False),
    ("detection_delay_h", "event detection delay", "h", False),
    ("events_detected", "fraction of events detected", "0–1", True),
    ("images_delivered", "images delivered", "images", True),
    ("mean_latency_h", "delivery latency", "h", False),
    ("gbit_delivered", "data delivered", "Gbit", True),
    ("energy_kwh", "activity energy", "kWh", False),
    ("drone_km", "drone distance", "km", None),
    ("storage_peak", "storage, peak fill", "0–1", None),
    ("storage_full_in_view", "tasks in view with storage full", "0–1", None),
    ("downlink_busy", "contact time used to downlink", "0–1", None),
    ("access_used", "imaging time used in view of tasks", "0–1", None),
    ("drone_flight_used", "drone free time flown", "0–1", None),
    ("duty_cycle_peak", "imaging seconds per orbit, peak share", "0–1", None),
    ("task_psnr_mean_db", "fused map PSNR over tasks, time mean", "dB", True),
    ("fusion_psnr_db", "fused map PSNR", "dB", True),
    ("fusion_ssim", "fused map SSIM", "0–1", True),
    ("fusion_event_iou", "event extent IoU", "0–1", True),
)
HIGHER_IS_BETTER = {m: h for m, _, _, h in REPORT_METRICS}
_NAME_UNIT = {m: (name, unit) for m, name, unit, _ in REPORT_METRICS}
MAX_DECIMALS = 6  # 3 significant digits down to a largest value of 1e-4
MINUS = "−"  # a real minus sign: as wide as the plus, unlike the hyphen
# "failed": the agent has failed (for good); "outage": a station that is down (faults);
# "contact": a station with a live satellite in view that downlinked nothing this step.
ACTION_KINDS = ("task", "downlink", "relay", "return", "idle", "masked", "failed", "outage",
                "contact")  # fmt: skip
ACTION_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e8e8e8", "#d62728", "#222222",
                  "#ff9f1c", "#b5dfb0")  # fmt: skip
ACTION_LEGEND = ("task (image / fly to a target)", "downlink (station: a satellite in view "
                 "downlinks)", "relay", "return to base", "idle (station: no satellite in view)",
                 "masked (ran as idle)", "failed", "station outage",
                 "station: satellite in view, none downlinks")  # fmt: skip


def metric_label(metric: str) -> str:
    """``delivery latency (h)``: the metric's name with its unit (none for a plain number)."""
    name, unit = _NAME_UNIT[metric]
    return f"{name} ({unit})" if unit else name


def agent_label(name: str, agent: str) -> str:
    """A timeline row's label: the scenario's name and the env's agent id, ``miyun (gs_0)``."""
    return f"{name} ({agent})" if name and name != agent else agent


def column_decimals(values) -> int:
    """Decimals of one metric's numbers in the report: enough to show its largest finite
    magnitude with 3 significant digits (none from 100 up), at most :data:`MAX_DECIMALS`;
    0 when there is no finite non-zero value."""
    top = max((abs(float(v)) for v in values if v is not None and math.isfinite(v)),
              default=0.0)  # fmt: skip
    if top == 0.0:
        return 0
    return min(MAX_DECIMALS, max(0, 2 - math.floor(math.log10(top))))


def format_number(value, decimals: int, signed: bool = False) -> str:
    """``value`` in fixed notation with ``decimals`` decimals and thousands separators
    (``1,010``, ``0.171``, ``−5.2``; ``+`` before a positive value when ``signed``);
    ``—`` when it is None or not finite. Never scientific notation."""
    if value is None or not math.isfinite(value):
        return "—"
    value = round(float(value), decimals)
    if value == 0.0:
        value = 0.0  # no "−0.0"
    sign = "+" if signed and value else ""
    return f"{value:{sign},.{decimals}f}".replace("-", MINUS)


def _png(fig) -> str:
    """A matplotlib figure as a base64 PNG ``<img>`` (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return _img(buf.getvalue())


def _img(png: bytes, alt: str = "figure") -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def animation(capture: dict) -> str:
    """The episode's GIF (``capture["animation_gif"]``) as an ``<img>``: a data URI up to
    :data:`sagsim.agents.animation.MAX_EMBED_BYTES`, else a link to ``capture["animation_file"]``
    (evaluate.py writes it beside the report), with a line on how it was made."""
    from urllib.parse import quote

    from sagsim.agents.animation import FRAME_MS, MAX_EMBED_BYTES

    gif, name = capture["animation_gif"], capture.get("animation_file")
    alt = f"animation of the {capture['policy']} episode"
    every = capture["animation_every_steps"]
    about = (f"The episode as the environment renders it (<code>rgb_array</code>): one frame "
             f"every {f'{every} steps' if every > 1 else 'step'} "
             f"({every * capture['step_s'] / 60:g} min of simulated time) "
             f"and at the end, {capture['animation_frames']} frames at "
             f"{1000 / FRAME_MS:g} frames/s, looping")  # fmt: skip
    if len(gif) <= MAX_EMBED_BYTES or not name:
        data = base64.b64encode(gif).decode("ascii")
        img = f'<img alt="{html.escape(alt)}" src="data:image/gif;base64,{data}">'
        if name:
            about += f"; also saved as <code>{html.escape(name)}</code>"
    else:
        img = f'<img alt="{html.escape(alt)}" src="{html.escape(quote(name))}">'
        about += (f"; {len(gif) / 2**20:.1f} MB, too large to embed: linked to "
                  f"<code>{html.escape(name)}</code> in the report's folder")  # fmt: skip
    return f"{img}<p class='caption'>{about}.</p>"


def _finite_cell(cell: dict | None) -> bool:
    return bool(cell) and cell.get("n", 0) > 0 and math.isfinite(cell["mean"])


def _metrics_present(summary: dict) -> list[str]:
    return [m for m, *_ in REPORT_METRICS
            if any(cell.get(m, {}).get("n", 0) for cell in summary.values())]  # fmt: skip


def _diff(cell: dict) -> tuple[str, dict] | None:
    """``(baseline label, {metric: paired difference})`` of a summary row, None without."""
    return next(((k[3:], v) for k, v in cell.items() if k.startswith("vs_")), None)


def _decimals(summary: dict, metrics: list[str]) -> dict[str, int]:
    """:func:`column_decimals` of each metric over every row's mean and interval."""
    return {m: column_decimals([c[m][k] for c in summary.values() if c[m].get("n", 0)
                                for k in ("mean", "ci_low", "ci_high")])
            for m in metrics}  # fmt: skip


def _head(metrics: list[str], first: str) -> str:
    cells = []
    for m in metrics:
        name, unit = _NAME_UNIT[m]
        arrow = {True: "&nbsp;↑", False: "&nbsp;↓"}.get(HIGHER_IS_BETTER[m], "")  # kept on the line
        unit_html = f"<br><span class='unit'>({html.escape(unit)})</span>" if unit else ""
        cells.append(f"<th>{html.escape(name)}{arrow}{unit_html}</th>")
    return f"<thead><tr><th class='policy'>{first}</th>{''.join(cells)}</tr></thead>"


def _cell(cell: dict | None, decimals: int, signed: bool = False, bold: bool = False) -> str:
    """A table cell: the mean over its interval; ``—`` without a finite value."""
    if not _finite_cell(cell):
        return "<td>—</td>"
    mean = format_number(cell["mean"], decimals, signed)
    lo = format_number(cell["ci_low"], decimals, signed)
    hi = format_number(cell["ci_high"], decimals, signed)
    mean = f"<b>{mean}</b>" if bold else mean
    return f"<td>{mean}<br><span class='ci'>[{lo}, {hi}]</span></td>"


def summary_table(summary: dict, baseline: str) -> str:
    """The summary as HTML tables: policies × metrics (mean and interval, the best mean per
    metric in bold where two or more policies have a value: one alone is no best) and,
    below, each policy's paired difference against the baseline (on the same seeds). Each
    metric has one number format (:func:`column_decimals` over its means and intervals, the
    differences alike), its unit in the column header."""
    metrics = _metrics_present(summary)
    decimals = _decimals(summary, metrics)
    best = {}
    for m in metrics:
        means = {k: c[m]["mean"] for k, c in summary.items() if _finite_cell(c[m])}
        if len(means) >= 2 and HIGHER_IS_BETTER[m] is not None:
            best[m] = (max if HIGHER_IS_BETTER[m] else min)(means, key=means.get)
    rows, diff_rows = [], []
    for label, cell in summary.items():
        tds = "".join(_cell(cell[m], decimals[m], bold=best.get(m) == label) for m in metrics)
        rows.append(f'<tr class="policy"><th>{html.escape(label)}</th>{tds}</tr>')
        diff = _diff(cell)
        if diff is not None:
            base, d = diff
            tds = "".join(_cell(d[m], decimals[m], signed=True,
                                bold=_finite_cell(d[m]) and (d[m]["ci_low"] > 0
                                                             or d[m]["ci_high"] < 0))
                          for m in metrics)  # fmt: skip
            diff_rows.append(
                f'<tr class="difference" title="{html.escape(label)} − '
                f'{html.escape(base)}"><th>{html.escape(label)}</th>{tds}</tr>'
            )
    out = (f'<div class="table-wrap"><table id="summary">{_head(metrics, "policy")}'
           f'<tbody>{"".join(rows)}</tbody></table></div>'
           "<p class='caption'>Mean over seeds and, below it, its 95 % bootstrap interval; "
           "bold: the best mean of the metric, where two or more policies have one; "
           "↑ / ↓: higher / lower is better.</p>")  # fmt: skip
    if diff_rows:
        out += (f"<h3>Paired difference against <i>{html.escape(baseline)}</i></h3>"
                f'<div class="table-wrap"><table id="paired">{_head(metrics, "policy")}'
                f'<tbody>{"".join(diff_rows)}</tbody></table></div>'
                "<p class='caption'>Mean over seeds of the per-seed difference (the policy's "
                f"episode minus <i>{html.escape(baseline)}</i>'s on the same seed, with the same "
                "fuser) and its 95 % bootstrap interval, in the metric's unit; bold: the "
                "interval excludes 0."
                "</p>")  # fmt: skip
    return out


def bar_charts(summary: dict) -> str:
    """One horizontal bar chart per metric (policies as rows), intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = _metrics_present(summary)
    labels = list(summary)
    n, cols = len(metrics), 3
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(13, rows * (0.3 * len(labels) + 1.0)),
                             squeeze=False, sharey=True, layout="constrained")  # fmt: skip
    y = np.arange(len(labels))
    for ax, m in zip(axes.flat, metrics, strict=False):
        mean = np.array([summary[k][m]["mean"] for k in labels], float)
        lo = np.array([summary[k][m]["ci_low"] for k in labels], float)
        hi = np.array([summary[k][m]["ci_high"] for k in labels], float)
        ax.barh(y, np.nan_to_num(mean), color="#4c72b0", height=0.7,
                xerr=[np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)], capsize=3)  # fmt: skip
        for i in np.flatnonzero(~np.isfinite(mean)):
            ax.text(0, i, " no value", va="center", fontsize=8, color="0.4")
        arrow = {True: ", higher is better", False: ", lower is better"}.get(
            HIGHER_IS_BETTER[m], "")  # fmt: skip
        ax.set_title(metric_label(m) + arrow, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0, 0].set_yticks(y, labels)
    axes[0, 0].invert_yaxis()  # the table's order, top to bottom
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Mean over seeds with 95 % bootstrap intervals", fontsize=11)
    return _png(fig)


def timeline(capture: dict) -> str:
    """Every agent's action per step (colours), images taken (black ticks) and delivered
    (dots), for one episode; rows labelled with the scenario's names (``capture["names"]``)
    and the env's agent ids. Stations: ``downlink`` where a live satellite in view
    downlinked in the step, ``contact`` where one was in view but none downlinked, ``idle``
    where none was in view (:class:`sagsim.agents.comparison` ``_Log``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    kinds = np.asarray(capture["kinds"])  # (n_steps, n_agents) index into ACTION_KINDS
    step_h = capture["step_s"] / 3600.0
    agents = capture["agents"]
    names = capture.get("names") or agents
    labels = [agent_label(n, a) for n, a in zip(names, agents, strict=True)]
    fig, ax = plt.subplots(figsize=(12, 0.24 * len(agents) + 2.0), layout="constrained")
    for j in range(len(agents)):
        col = kinds[:, j]
        starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
        ends = np.r_[starts[1:], col.size]
        for a, b in zip(starts, ends, strict=True):
            ax.broken_barh([(a * step_h, (b - a) * step_h)], (j - 0.4, 0.8),
                           color=ACTION_COLOURS[col[a]], linewidth=0)  # fmt: skip
        took = np.flatnonzero(np.asarray(capture["acquired"])[:, j])
        sent = np.flatnonzero(np.asarray(capture["delivered"])[:, j])
        ax.plot((took + 0.5) * step_h, np.full(took.size, j - 0.25), "|", color="black", ms=4)
        ax.plot((sent + 0.5) * step_h, np.full(sent.size, j + 0.25), ".", color="#17becf", ms=4)
    ax.set_yticks(range(len(agents)), labels, fontsize=8)
    ax.set_ylim(len(agents) - 0.5, -0.5)
    ax.set_xlim(0, kinds.shape[0] * step_h)
    ax.set_xlabel("time since the scenario epoch (h)")
    shown = sorted(set(np.unique(kinds).tolist()))  # only the kinds that occur
    handles = [Patch(color=ACTION_COLOURS[k], label=ACTION_LEGEND[k]) for k in shown]
    handles += [
        plt.Line2D([], [], marker="|", ls="", color="black", label="image taken"),
        plt.Line2D([], [], marker=".", ls="", color="#17becf", label="image delivered"),
    ]
    fig.legend(handles=handles, ncol=4, fontsize=8, loc="outside lower center", frameon=False)
    ax.set_title(f"{capture['policy']}, seed {capture['seed']}: actions per agent")
    text = (
        "Each agent's action per step. A ground station shows <i>downlink</i> in a step "
        "where a live satellite in its view (elevation above the station's mask) "
        "downlinked, <i>satellite in view, none downlinks</i> where one was in view but "
        "none downlinked, and <i>idle</i> where none was in view; a satellite that sees "
        "two stations at once is drawn as downlinking to both (the simulator does not "
        "record which one received it). Drones' downlinks show on the drones' rows."
    )
    return f"{_png(fig)}<p class='caption'>{text}</p>"


# Curves closer than this fraction of the plot's value range at every point coincide on
# the plot (they touch: about 5 px, two line widths, on the figure's axes).
COINCIDE_FRACTION = 0.02
_LINE_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<")


def coinciding(series: dict[str, list[tuple[float, float]]], tol: float
               ) -> list[list[str]]:  # fmt: skip
    """Groups (two or more labels) of curves ``{label: [(t, y), …]}`` sampled at the same
    times whose values differ by at most ``tol`` at every point, in ``series`` order."""
    groups: list[list[str]] = []
    for label, pts in series.items():
        for group in groups:
            ref = series[group[0]]
            if len(ref) == len(pts) and all(
                t0 == t1 and abs(y0 - y1) <= tol
                for (t0, y0), (t1, y1) in zip(ref, pts, strict=True)
            ):
                group.append(label)
                break
        else:
            groups.append([label])
    return [g for g in groups if len(g) > 1]


def fusion_over_time(captures: list[dict]) -> str | None:
    """PSNR of the fused map (reflectance bands) over time, one line per captured episode,
    each with its own line style and hollow marker (curves that coincide stay visible),
    the legend beside the plot, and a caption naming the curves that coincide."""
    drawn = [c for c in captures if c.get("fusion_series")]
    if not drawn:
        return None
    seeds = sorted({c["seed"] for c in drawn})
    series = {c["policy"] + ("" if len(seeds) == 1 else f" (seed {c['seed']})"):
              [(p["t_s"] / 3600.0, p["psnr_db"]) for p in c["fusion_series"]]
              for c in drawn}  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.5, 3.4), layout="constrained")
    for i, (label, pts) in enumerate(series.items()):
        t, y = zip(*pts, strict=True)
        # Later curves thinner with smaller markers: one drawn over another leaves it seen.
        ax.plot(t, y, ls=_LINE_STYLES[i % len(_LINE_STYLES)],
                marker=_MARKERS[i % len(_MARKERS)], mfc="none", ms=max(4.0, 9.0 - 1.5 * i),
                lw=max(1.0, 2.4 - 0.4 * i), label=label)  # fmt: skip
    ax.set_xlabel("time since the scenario epoch (h)")
    ax.set_ylabel("fused map PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    text = (
        "PSNR of the fused map against the truth (5 reflectance bands) whenever the "
        "fusion centre scores it, in each policy's report episode"
        + (f" (seed {seeds[0]})." if len(seeds) == 1 else ".")
    )
    values = [y for pts in series.values() for _, y in pts]
    for group in coinciding(series, COINCIDE_FRACTION * (max(values) - min(values))):
        gap = max(abs(a[1] - b[1]) for other in group[1:]
                  for a, b in zip(series[group[0]], series[other], strict=True))  # fmt: skip
        names = " and ".join(html.escape(x) for x in group)
        text += (
            f" {names} coincide on this scale (they differ by at most {gap:.3f} dB; "
            "drawn with different line styles and markers)."
        )
    return f"{_png(fig)}<p class='caption'>{text}</p>"


def _seeds_text(seeds) -> str:
    """``3 seeds (3,000,000–3,000,002)``: how many, and which when consecutive."""
    s = sorted(int(x) for x in seeds)
    if len(s) == 1:
        return f"seed {s[0]:,}"
    if s == list(range(s[0], s[0] + len(s))):
        return f"{len(s)} seeds ({s[0]:,}–{s[-1]:,})"
    return f"{len(s)} seeds (from {s[0]:,})"


def _run_seeds(state: dict) -> str:
    """The held-out evaluation seeds of a ``train.py`` run (``sagsim.agents.training.eval_seeds``:
    the first ``n`` from ``EVAL_SEED_BASE``), ``n`` from its greedy evaluation (else its
    curve's)."""
    from sagsim.agents.training import eval_seeds  # lazily: only a trained run's report needs it

    n = state.get("greedy_return", {}).get("n") or state["curve"][0].get("n")
    return _seeds_text(eval_seeds(int(n))) if n else "seeds"


def steps_formatter(top_steps: float):
    """A tick formatter for an axis of agent-steps up to ``top_steps``, one unit for the
    whole axis chosen from it: plain counts with thousands separators below 100,000
    (``9,000``), then thousands (``250k``), then millions (``1.5M``); never exponents."""
    from matplotlib.ticker import FuncFormatter

    if top_steps >= 1e6:
        scale, suffix = 1e6, "M"
    elif top_steps >= 1e5:
        scale, suffix = 1e3, "k"
    else:
        scale, suffix = 1.0, ""

    def tick(value: float, _pos) -> str:
        if scale == 1.0:
            return format_number(value, 0)
        text = format_number(value / scale, 3).rstrip("0").rstrip(".")
        return f"{text}{suffix}" if text != "0" else "0"

    return FuncFormatter(tick)


def learning_curves(curves: dict, meta: dict | None = None) -> str | None:
    """Per evaluated training run (``{label: its state.json}``): the evaluation return over
    agent-steps (:func:`steps_formatter`) with its interval, and the greedy and random
    returns on the same seeds; the legend below the plot, off the data. The title and
    caption say these are the run's held-out evaluation seeds and episode length, not the
    report's (``meta``: the report's ``seeds`` and ``max_cycles``), so its greedy line need
    not equal the table's."""
    curves = {k: v for k, v in curves.items() if v.get("curve")}
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 4.0), squeeze=False,
                             layout="constrained")  # fmt: skip
    for ax, (label, state) in zip(axes[0], curves.items(), strict=True):
        pts = state["curve"]
        x = np.array([p["num_timesteps"] for p in pts], float)
        y = np.array([p["mean"] for p in pts], float)
        lo = np.array([p["ci_low"] for p in pts], float)
        hi = np.array([p["ci_high"] for p in pts], float)
        ax.errorbar(x, y, yerr=[y - lo, hi - y], marker="o", capsize=3, label=label)
        for name, style in (("greedy", "--"), ("random", ":")):
            ref = state.get(f"{name}_return")
            if ref:
                ax.axhline(ref["mean"], ls=style, color="grey", label=name)
        # From step 0: evaluations a few steps apart (one at the time limit, one at the
        # end) would otherwise span the whole axis with ticks like 500.01k500.015k.
        ax.set_xlim(0, 1.05 * float(x.max()) if x.max() > 0 else 1.0)
        # Units from the range: a short run in millions read as 0.002–0.009.
        ax.xaxis.set_major_locator(MaxNLocator(steps=[1, 2, 2.5, 5, 10], integer=True))
        ax.xaxis.set_major_formatter(steps_formatter(float(x.max())))
        ax.set_xlabel("agent-steps trained")
        ax.set_ylabel(f"team return (mean of {pts[0].get('n', '?')} seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3,
                  frameon=False)  # fmt: skip
    # Two short lines: one long line would be wider than a single run's plot.
    fig.suptitle("Learning curves of the evaluated runs (training-time evaluations)\n"
                 "greedy and random: on each run's held-out evaluation seeds, not this report's",
                 fontsize=10)  # fmt: skip
    runs = "; ".join(f"<i>{html.escape(k)}</i>: {_run_seeds(v)}" for k, v in curves.items())
    text = (
        "Each run's return at its evaluations during training (mean and 95 % interval over "
        "its held-out evaluation seeds) against the agent-steps trained, with greedy and "
        f"random on the same held-out evaluation seeds ({runs}) and the run's own episode "
        "length (the <code>max_cycles</code> in its <code>config.yaml</code>)"
    )
    if meta is not None:
        cycles = meta.get("max_cycles")
        text += (f", not this report's {_seeds_text(meta['seeds'])} and "
                 + (f"max_cycles {cycles:,}" if cycles else "full-length episodes")
                 + ": these greedy and random lines need not equal the table's")  # fmt: skip
    return f"{_png(fig)}<p class='caption'>{text}.</p>"


def render_report(meta: dict, summary: dict, captures: list[dict],
                  curves: dict | None = None) -> str:  # fmt: skip
    """The whole ``report.html`` as a string (``curves``: :func:`learning_curves`)."""
    parts = [f"<h1>{html.escape(meta['scenario'])}: {len(summary)} policies on "
             f"{len(meta['seeds'])} seeds</h1>",
             f"<p>{html.escape(meta['date_utc'])} · interval: {html.escape(meta['interval'])}"
             "</p>", "<h2>Summary</h2>", summary_table(summary, meta["baseline"]),
             "<h2>Metrics</h2>", bar_charts(summary)]  # fmt: skip
    fused = fusion_over_time(captures)
    if fused:
        parts += ["<h2>Fused map over time</h2>", fused]
    learned = learning_curves(curves or {}, meta)
    if learned:
        parts += ["<h2>Learning curves</h2>", learned]
    for c in captures:
        parts += [
            f"<h2>{html.escape(c['policy'])}: one episode (seed {c['seed']})</h2>",
            _img(c["frame_png"], "region map at the end of the episode"),
        ]
        if c.get("maps_png"):
            from sagsim.agents.report_maps import caption

            parts += [_img(c["maps_png"], "truth, fused map and best single observation"),
                      caption(c["maps"])]  # fmt: skip
        if c.get("animation_gif"):
            parts.append(animation(c))
        parts.append(timeline(c))
    # Cells never wrap (a number and its interval stay whole); a table wider than the
    # window scrolls sideways in its own box instead of squeezing the columns.
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1300px}"
        ".table-wrap{overflow-x:auto}"
        "table{border-collapse:collapse;font-size:12px;font-variant-numeric:tabular-nums}"
        "td,th{border:1px solid #ccc;padding:3px 4px;text-align:right;vertical-align:top}"
        "td{white-space:nowrap}thead th{vertical-align:bottom;background:#f4f4f4}"
        "tbody th{text-align:left;white-space:nowrap}th.policy{text-align:left}"
        ".ci{font-size:11px;color:#555}.unit{font-weight:normal;color:#555}"
        "img{max-width:100%;display:block;margin:1em 0}"
        ".caption{font-size:13px;color:#333;max-width:1100px}"
    )
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>sagsim report: "
            f"{html.escape(meta['scenario'])}</title><style>{style}</style></head><body>"
            + "".join(parts) + "</body></html>")  # fmt: skip
