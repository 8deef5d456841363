"""``report.html``: a self-contained evaluation report (every image embedded as base64 PNG).

Sections: the summary table (policies × metrics, mean and 95 % interval, the best mean of
each metric in bold; the paired difference against the baseline under it), per-metric bar
charts with their intervals, and for one episode of each policy (the first seed; captured
by :func:`agents.comparison.run_job` with ``capture``) the region map at the end of the
episode (targets, events, satellite tracks and swaths, drone trails, stations; the
environment's own ``rgb_array`` frame) and a timeline of every agent's actions with the
images it took and delivered; with fusers, the fused map's PSNR over time and, per episode,
the truth, the fused map and the best single image side by side (:mod:`agents.report_maps`);
with ``evaluate.py --animate``, the episode's animation (:mod:`agents.animation`: embedded
as a GIF data URI, or linked to the file beside the report when larger than
``MAX_EMBED_BYTES``); for trained checkpoints whose run folder holds ``train.py``'s
``state.json``, the learning curve.
"""

from __future__ import annotations

import base64
import html
import io
import math

import numpy as np

__all__ = ["HIGHER_IS_BETTER", "REPORT_METRICS", "animation", "render_report"]

# (metric, label with unit, higher is better)
REPORT_METRICS = (
    ("return", "team return", True),
    ("information", "delivered information", True),
    ("task_completion", "task completion (priority-weighted)", True),
    ("aoi_mean_h", "age of information (h)", False),
    ("revisit_mean_h", "revisit gap, mean (h)", False),
    ("detection_delay_h", "event detection delay (h)", False),
    ("images_delivered", "images delivered", True),
    ("mean_latency_h", "delivery latency (h)", False),
    ("gbit_delivered", "data delivered (Gbit)", True),
    ("energy_kwh", "activity energy (kWh)", False),
    ("drone_km", "drone distance (km)", None),
    ("fusion_psnr_db", "fused map PSNR (dB)", True),
    ("fusion_ssim", "fused map SSIM", True),
    ("fusion_event_iou", "event extent IoU", True),
)
HIGHER_IS_BETTER = {m: h for m, _, h in REPORT_METRICS}
# "failed": the agent has failed (for good); "outage": a station that is down (faults).
ACTION_KINDS = ("task", "downlink", "relay", "return", "idle", "masked", "failed", "outage")
ACTION_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e8e8e8", "#d62728", "#222222",
                  "#ff9f1c")  # fmt: skip


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
    :data:`agents.animation.MAX_EMBED_BYTES`, else a link to ``capture["animation_file"]``
    (evaluate.py writes it beside the report), with a line on how it was made."""
    from urllib.parse import quote

    from agents.animation import FRAME_MS, MAX_EMBED_BYTES

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


def _fmt(cell: dict) -> str:
    if not cell or cell.get("n", 0) == 0 or not math.isfinite(cell["mean"]):
        return "—"
    return f"{cell['mean']:.3g} [{cell['ci_low']:.3g}, {cell['ci_high']:.3g}]"


def _metrics_present(summary: dict) -> list[tuple[str, str, bool | None]]:
    return [(m, label, h) for m, label, h in REPORT_METRICS
            if any(cell.get(m, {}).get("n", 0) for cell in summary.values())]  # fmt: skip


def summary_table(summary: dict, baseline: str) -> str:
    """The summary as an HTML table (rows: policies; the best mean per metric in bold)."""
    metrics = _metrics_present(summary)
    best = {}
    for m, _, higher in metrics:
        means = {k: c[m]["mean"] for k, c in summary.items() if math.isfinite(c[m]["mean"])}
        if means and higher is not None:
            best[m] = (max if higher else min)(means, key=means.get)
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in metrics)
    rows = []
    for label, cell in summary.items():
        tds = []
        for m, _, _ in metrics:
            text = html.escape(_fmt(cell[m]))
            diff = next((v for k, v in cell.items() if k.startswith("vs_")), None)
            if diff is not None and diff[m].get("n", 0):
                text += f"<br><small>Δ {html.escape(_fmt(diff[m]))}</small>"
            tds.append(f"<td><b>{text}</b></td>" if best.get(m) == label else f"<td>{text}</td>")
        rows.append(f'<tr class="policy"><th>{html.escape(label)}</th>{"".join(tds)}</tr>')
    return (f'<table id="summary"><tr><th>policy</th>{head}</tr>{"".join(rows)}</table>'
            f"<p>Mean over seeds [95 % bootstrap interval]; Δ: paired difference against "
            f"<i>{html.escape(baseline)}</i> on the same seeds; bold: the best mean."
            "</p>")  # fmt: skip


def bar_charts(summary: dict) -> str:
    """One bar chart per metric, with the intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = _metrics_present(summary)
    n = len(metrics)
    cols = 3
    fig, axes = plt.subplots(math.ceil(n / cols), cols, figsize=(4.2 * cols, 2.8 * math.ceil(
        n / cols)), squeeze=False)  # fmt: skip
    labels = list(summary)
    for ax, (m, label, _) in zip(axes.flat, metrics, strict=False):
        mean = np.array([summary[k][m]["mean"] for k in labels], float)
        lo = np.array([summary[k][m]["ci_low"] for k in labels], float)
        hi = np.array([summary[k][m]["ci_high"] for k in labels], float)
        ax.bar(range(len(labels)), np.nan_to_num(mean), color="#4c72b0",
               yerr=[np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)], capsize=4)  # fmt: skip
        ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(label, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Mean over seeds with 95 % bootstrap intervals")
    fig.tight_layout()
    return _png(fig)


def timeline(capture: dict) -> str:
    """Every agent's action per step (colours), images taken (black ticks) and delivered
    (green dots), for one episode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    kinds = np.asarray(capture["kinds"])  # (n_steps, n_agents) index into ACTION_KINDS
    step_h = capture["step_s"] / 3600.0
    agents = capture["agents"]
    fig, ax = plt.subplots(figsize=(12, 0.22 * len(agents) + 1.8), layout="constrained")
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
    ax.set_yticks(range(len(agents)), agents, fontsize=7)
    ax.set_ylim(len(agents) - 0.5, -0.5)
    ax.set_xlabel("time since the scenario epoch (h)")
    handles = [Patch(color=c, label=k) for k, c in zip(ACTION_KINDS, ACTION_COLOURS, strict=True)]
    handles += [
        plt.Line2D([], [], marker="|", ls="", color="black", label="image taken"),
        plt.Line2D([], [], marker=".", ls="", color="#17becf", label="image delivered"),
    ]
    fig.legend(handles=handles, ncol=10, fontsize=8, loc="outside lower center")
    ax.set_title(f"{capture['policy']}, seed {capture['seed']}: actions per agent "
                 "(stations: serving a satellite counts as downlink)")  # fmt: skip
    return _png(fig)


def fusion_over_time(captures: list[dict]) -> str | None:
    """PSNR of the fused map (reflectance bands) over time, one line per captured episode."""
    series = [c for c in captures if c.get("fusion_series")]
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2))
    for c in series:
        t = [p["t_s"] / 3600.0 for p in c["fusion_series"]]
        ax.plot(t, [p["psnr_db"] for p in c["fusion_series"]], marker=".",
                label=f"{c['policy']} (seed {c['seed']})")  # fmt: skip
    ax.set_xlabel("time since the scenario epoch (h)")
    ax.set_ylabel("fused map PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def learning_curves(curves: dict) -> str | None:
    """Per evaluated training run (``{label: its state.json}``): the evaluation return over
    agent-steps with its interval, and the greedy and random returns on the same seeds."""
    curves = {k: v for k, v in curves.items() if v.get("curve")}
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 3.4), squeeze=False)
    for ax, (label, state) in zip(axes[0], curves.items(), strict=True):
        pts = state["curve"]
        x = np.array([p["num_timesteps"] for p in pts], float) / 1e6
        y = np.array([p["mean"] for p in pts], float)
        lo = np.array([p["ci_low"] for p in pts], float)
        hi = np.array([p["ci_high"] for p in pts], float)
        ax.errorbar(x, y, yerr=[y - lo, hi - y], marker="o", capsize=3, label=label)
        for name, style in (("greedy", "--"), ("random", ":")):
            ref = state.get(f"{name}_return")
            if ref:
                ax.axhline(ref["mean"], ls=style, color="grey", label=name)
        ax.set_xlabel("agent-steps trained (millions)")
        ax.set_ylabel(f"team return (mean of {pts[0].get('n', '?')} seeds)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Learning curves of the evaluated runs (their training-time evaluations)")
    return _png(fig)


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
    learned = learning_curves(curves or {})
    if learned:
        parts += ["<h2>Learning curves</h2>", learned]
    for c in captures:
        parts += [
            f"<h2>{html.escape(c['policy'])}: one episode (seed {c['seed']})</h2>",
            _img(c["frame_png"], "region map at the end of the episode"),
        ]
        if c.get("maps_png"):
            from agents.report_maps import caption

            parts += [_img(c["maps_png"], "truth, fused map and best single observation"),
                      caption(c["maps"])]  # fmt: skip
        if c.get("animation_gif"):
            parts.append(animation(c))
        parts.append(timeline(c))
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1300px}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;"
        "padding:4px;text-align:right}img{max-width:100%;display:block;margin:1em 0}"
        ".caption{font-size:13px;color:#333;max-width:1100px}"
    )
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>sagsim report: "
            f"{html.escape(meta['scenario'])}</title><style>{style}</style></head><body>"
            + "".join(parts) + "</body></html>")  # fmt: skip
