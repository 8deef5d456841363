"""sagsim.agents.report as a reader sees it: one number format per metric column, units in the
headers, station rows that show downlink only with a satellite in view, the scenario's names
on the timeline, curves that stay distinguishable, legends off the data, and GIF frames
whose text can be read at their size."""

from __future__ import annotations

import html as html_lib
import re

import numpy as np
import pytest

from sagsim.agents import report
from sagsim.agents.report import (
    ACTION_KINDS,
    coinciding,
    column_decimals,
    format_number,
    metric_label,
    summary_table,
)


def ci(mean, lo, hi, n=3):
    return {"n": n, "mean": mean, "ci_low": lo, "ci_high": hi}


def empty():
    return {"n": 0, "mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}


def summary_of(rows: dict[str, dict]) -> dict:
    """A summary as :func:`sagsim.agents.comparison.summarise_records` makes it (every report
    metric; those not given have no value)."""
    out = {}
    for label, cells in rows.items():
        out[label] = {m: cells.get(m, empty()) for m, *_ in report.REPORT_METRICS}
        for key, value in cells.items():
            if key.startswith("vs_"):
                out[label][key] = {m: value.get(m, empty()) for m, *_ in report.REPORT_METRICS}
    return out


def columns(page: str, table_id: str) -> tuple[list[str], list[list[list[str]]]]:
    """(header texts, per row the list of each cell's numbers as shown) of a table."""
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S).group(1)
    head = [
        html_lib.unescape(re.sub(r"<[^>]+>", " ", h)).split()
        for h in re.findall(r"<th[^>]*>(.*?)</th>", table.split("</thead>")[0], re.S)
    ]
    rows = []
    for body in re.findall(r"<tr class=\"[a-z]+\"[^>]*><th>[^<]*</th>(.*?)</tr>", table, re.S):
        cells = re.findall(r"<td>(.*?)</td>", body, re.S)
        rows.append([[t.strip("[],") for t in html_lib.unescape(re.sub(r"<[^>]+>", " ", c)).split()]
                     for c in cells])  # fmt: skip
    return [" ".join(h) for h in head], rows


def decimals_of(number: str) -> int:
    return len(number.split(".")[1]) if "." in number else 0


SUMMARY = summary_of({
    "greedy": {"return": ci(1010.3, 960.2, 1071.4), "mean_latency_h": ci(0.171, 0.165, 0.174),
               "energy_kwh": ci(1.01, 0.93, 1.17), "gbit_delivered": ci(12345.6, 12001.0, 13020.5)},
    "random": {"return": ci(13.5, 11.1, 14.9), "mean_latency_h": ci(0.0118, 0.0117, 0.0119),
               "energy_kwh": ci(0.00062, 0.0006, 0.00067), "gbit_delivered": ci(5.9, 4.8, 6.5),
               "vs_greedy": {"return": ci(-996.8, -1060.0, -949.0),
                             "mean_latency_h": ci(-0.159, -0.163, -0.153),
                             "energy_kwh": ci(-1.0, -1.17, -0.93),
                             "gbit_delivered": ci(-12339.7, -13015.0, -11995.2)}},
})  # fmt: skip


def test_numbers_have_fixed_decimals_from_the_magnitude_and_no_exponent():
    assert column_decimals([1010.3, 13.5, 960.2]) == 0
    assert column_decimals([19.8, 0.3]) == 1
    assert column_decimals([0.171, 0.0118]) == 3
    assert column_decimals([0.00062]) == 6  # capped, still 3 significant digits
    assert column_decimals([float("nan"), None, 0.0]) == 0
    assert format_number(1234567.891, 0) == "1,234,568"
    assert format_number(-1060.0, 0, signed=True) == "−1,060"
    assert format_number(0.5, 2, signed=True) == "+0.50"
    assert format_number(-0.0004, 2, signed=True) == "0.00"  # no "−0.00"
    assert format_number(float("inf"), 2) == format_number(None, 2) == "—"
    assert format_number(1e-7, 6) == "0.000000" and "e" not in format_number(3.2e12, 0)


def test_summary_table_one_format_per_metric_column_units_in_the_headers():
    page = summary_table(SUMMARY, "greedy")
    assert "e+" not in page and "e-0" not in page
    for table_id in ("summary", "paired"):
        head, rows = columns(page, table_id)
        metrics = [m for m, *_ in report.REPORT_METRICS
                   if any(SUMMARY[k][m]["n"] for k in SUMMARY)]  # fmt: skip
        assert len(head) == 1 + len(metrics)
        for j, metric in enumerate(metrics):
            name, unit = report._NAME_UNIT[metric]
            assert name in head[1 + j] and (not unit or f"({unit})" in head[1 + j])
            shown = [x for row in rows for x in row[j]]
            assert shown, metric
            assert len({decimals_of(x) for x in shown}) == 1, (table_id, metric, shown)
    _, rows = columns(page, "summary")
    # return: 0 decimals with thousands separators; latency: 3 decimals for both rows.
    assert rows[0][0] == ["1,010", "960", "1,071"] and rows[1][0] == ["14", "11", "15"]
    latency = [m for m, *_ in report.REPORT_METRICS if SUMMARY["greedy"][m]["n"]].index(
        "mean_latency_h")  # fmt: skip
    assert rows[0][latency] == ["0.171", "0.165", "0.174"]
    assert rows[1][latency] == ["0.012", "0.012", "0.012"]
    _, paired = columns(page, "paired")
    assert paired[0][0] == ["−997", "−1,060", "−949"]
    assert "delivery latency&nbsp;↓<br><span class='unit'>(h)</span>" in page


def test_metric_labels_carry_units():
    assert metric_label("mean_latency_h") == "delivery latency (h)"
    assert metric_label("return") == "team return"


@pytest.fixture(scope="module")
def minimal_capture():
    """One captured greedy episode of ``minimal`` through its satellite's first station
    pass (about 3.2–3.4 h), and the world's geometry."""
    from sagsim.agents.comparison import run_job
    from sagsim.envs.scenario.shipped import resolve_scenario
    from sagsim.envs.world.world import World

    scenario = resolve_scenario("minimal")
    record = run_job((scenario, "greedy", None, 1, 430, True))
    return record["_capture"], World(scenario, n_steps=430)


def test_a_station_shows_downlink_only_with_a_satellite_in_view(minimal_capture):
    capture, world = minimal_capture
    kinds = np.asarray(capture["kinds"])  # (steps, agents): sat_0, uav_0, gs_0
    steps = kinds.shape[0]
    in_view = world.geom.gs_visible[:steps, 0, 0]  # the one satellite above the one station
    station, sat = kinds[:, 2], kinds[:, 0]
    downlink, contact, idle = (ACTION_KINDS.index(k) for k in ("downlink", "contact", "idle"))
    assert 0 < in_view.sum() < steps / 10  # a pass of minutes in hours
    assert not (station == downlink)[~in_view].any()  # never without a satellite in view
    assert (station[~in_view] == idle).all()
    assert set(station[in_view].tolist()) <= {downlink, contact}
    # Exactly the steps where the satellite in view downlinked (greedy does, once).
    np.testing.assert_array_equal(station == downlink, in_view & (sat == downlink))
    assert (station == downlink).any() and (station == contact).any()


def test_the_timeline_names_agents_as_the_scenario_and_the_inspector_do(minimal_capture,
                                                                         monkeypatch):  # fmt: skip
    from sagsim.envs.scenario.shipped import resolve_scenario
    from sagsim.envs.views.inspector import inspect_scenario

    capture, _ = minimal_capture
    info = inspect_scenario(resolve_scenario("minimal"))
    satellites = [n for g in info["satellites"] for n in g["satellites"]]
    stations = [s["name"] for s in info["ground_stations"]]
    assert capture["agents"] == ["sat_0", "uav_0", "gs_0"]
    assert capture["names"] == [*satellites, "uav-0", *stations] == [
        "eo-P1-S1", "uav-0", "wuhan_gs"]  # fmt: skip
    figures = []
    monkeypatch.setattr(report, "_png", lambda fig: figures.append(fig) or "<img>")
    page = report.timeline(capture)
    labels = [t.get_text() for t in figures[0].axes[0].get_yticklabels()]
    assert labels == ["eo-P1-S1 (sat_0)", "uav-0 (uav_0)", "wuhan_gs (gs_0)"]
    assert "none downlinks" in page  # the caption says what a station's row shows


def test_coinciding_curves_are_named_and_drawn_apart(monkeypatch):
    t = [3600.0 * h for h in (1, 2, 3)]
    psnr_db = (22.0, 26.0, 25.0)
    offsets = (("greedy", 0.0), ("random", 0.5), ("contact_aware", 0.01))
    captures = [{"policy": p, "seed": 5, "fusion_series": [
                    {"t_s": ti, "psnr_db": v + off} for ti, v in zip(t, psnr_db, strict=True)]}
                for p, off in offsets]  # fmt: skip
    assert coinciding({"a": [(1, 2.0)], "b": [(1, 2.04)], "c": [(1, 2.2)]}, 0.05) == [["a", "b"]]
    assert coinciding({"a": [(1, 2.0)], "b": [(2, 2.0)]}, 0.05) == []  # other times: not compared
    figures = []
    monkeypatch.setattr(report, "_png", lambda fig: figures.append(fig) or "<img>")
    page = report.fusion_over_time(captures)
    assert "greedy and contact_aware coincide" in page and "at most 0.010 dB" in page
    assert "(seed 5)" in page
    ax = figures[0].axes[0]
    styles = {(line.get_linestyle(), line.get_marker()) for line in ax.get_lines()}
    assert len(styles) == 3
    assert not overlaps(ax.get_legend(), ax)


def overlaps(legend, ax) -> bool:
    """The legend's box overlaps the plotting area's."""
    fig = ax.figure
    fig.canvas.draw()
    a, b = legend.get_window_extent(), ax.get_window_extent()
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_the_learning_curve_legend_is_off_the_plot(monkeypatch):
    curve = [{"num_timesteps": n, "n": 3, "mean": m, "ci_low": m - 1, "ci_high": m + 1}
             for n, m in ((1000, 5.0), (2000, 7.0), (3000, 9.0))]  # fmt: skip
    state = {"curve": curve, "greedy_return": {"mean": 8.0}, "random_return": {"mean": 4.0}}
    figures = []
    monkeypatch.setattr(report, "_png", lambda fig: figures.append(fig) or "<img>")
    report.learning_curves({"run/best": state})
    ax = figures[0].axes[0]
    assert len(ax.get_legend().get_texts()) == 3
    assert not overlaps(ax.get_legend(), ax)


def test_gif_frame_text_is_readable_at_its_size(monkeypatch):
    """Every text of a 480 px frame (sagsim.agents.animation.FRAME_PX), the legend's included, is
    at least 10 px high, and the legend lies inside the frame."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    from sagsim.agents.animation import FRAME_PX
    from sagsim.envs.sag_env import SagEnv
    from sagsim.envs.scenario.shipped import resolve_scenario
    from sagsim.envs.views.render import render_rgb

    seen = []
    draw = FigureCanvasAgg.draw

    def spy(canvas, *args, **kwargs):
        fig = canvas.figure
        texts = [t for t in fig.findobj(Text) if t.get_text() and t.get_visible()]
        out = draw(canvas, *args, **kwargs)
        seen.append(([t.get_fontsize() * fig.dpi / 72.0 for t in texts],
                     [legend.get_window_extent() for legend in fig.legends]))  # fmt: skip
        return out

    monkeypatch.setattr(FigureCanvasAgg, "draw", spy)
    for kw in ({}, {"perception": "imagery", "fusion": {"fuser": "kalman"}}):
        env = SagEnv(resolve_scenario("minimal"), **kw)
        env.reset(seed=0)
        render_rgb(env.world, size_px=FRAME_PX)
        sizes_px, (box,) = seen[-1]
        assert sizes_px and min(sizes_px) >= 10.0 - 1e-6, sorted(sizes_px)[:3]
        assert min(box.x0, box.y0) >= 0 and max(box.x1, box.y1) <= FRAME_PX


def test_events_detected_is_in_the_table_and_the_charts(monkeypatch):
    """metrics.csv's ``events_detected`` (the fraction of the episode's events that were
    detected, sagsim.agents.episode_metrics) has its column, unit in the header, and its chart."""
    from sagsim.agents.comparison import METRICS, summarise_records

    records = [{"policy": p, "fuser": "", "seed": s, **dict.fromkeys(METRICS, 1.0),
                "events_detected": frac}
               for p, fracs in (("greedy", (0.5, 1.0)), ("random", (0.0, 0.5)))
               for s, frac in enumerate(fracs)]  # fmt: skip
    summary = summarise_records(records, "greedy")
    page = summary_table(summary, "greedy")
    head, rows = columns(page, "summary")
    j = head.index("fraction of events detected ↑ (0–1)") - 1
    assert rows[0][j][0] == "0.75" and rows[1][j][0] == "0.25"  # 2 decimals: largest 1.0
    figures = []
    monkeypatch.setattr(report, "_png", lambda fig: figures.append(fig) or "<img>")
    report.bar_charts(summary)
    titles = [ax.get_title() for ax in figures[0].axes]
    assert f"{metric_label('events_detected')}, higher is better" in titles


def bolded(page: str, table_id: str, metric: str) -> list[bool]:
    """Per row of a table, whether the metric's cell has a bold number."""
    metrics = [m for m, *_ in report.REPORT_METRICS
               if f"<th>{html_lib.escape(report._NAME_UNIT[m][0])}" in page]  # fmt: skip
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S).group(1)
    j = metrics.index(metric)
    return [
        "<b>" in re.findall(r"<td>(.*?)</td>", body, re.S)[j]
        for body in re.findall(r'<tr class="[a-z]+"[^>]*>(.*?)</tr>', table, re.S)
    ]


def test_no_bold_best_where_fewer_than_two_policies_have_a_value():
    summary = summary_of({
        "greedy": {"return": ci(10.0, 9.0, 11.0), "detection_delay_h": ci(1.23, 1.23, 1.23, n=1),
                   "drone_km": ci(3.0, 2.0, 4.0)},
        "random": {"return": ci(2.0, 1.0, 3.0)},
        "contact_aware": {"return": ci(5.0, 4.0, 6.0)},
    })  # fmt: skip
    page = summary_table(summary, "greedy")
    assert bolded(page, "summary", "detection_delay_h") == [False, False, False]
    assert bolded(page, "summary", "return") == [True, False, False]  # two or more: kept
    assert "two or more policies" in page  # the caption says when a mean is bold


def test_learning_curve_names_its_seeds_and_counts_steps_plainly(monkeypatch):
    """The learning curve's greedy and random lines are the run's (its held-out evaluation
    seeds and episode length), which the caption says, not the report's; the x axis counts
    agent-steps with thousands separators, not in fractions of millions."""
    curve = [{"num_timesteps": n, "n": 5, "mean": m, "ci_low": m - 1, "ci_high": m + 1}
             for n, m in ((2048, -3.0), (6144, -1.0), (9216, -0.42))]  # fmt: skip
    state = {"curve": curve, "greedy_return": {"n": 5, "mean": -0.42},
             "random_return": {"n": 5, "mean": -4.0}}  # fmt: skip
    meta = {
        "scenario": "minimal",
        "date_utc": "2025-01-01T00:00:00+00:00",
        "interval": "95 %",
        "baseline": "greedy",
        "seeds": [3_000_000, 3_000_001, 3_000_002],
        "max_cycles": 300,
    }
    figures = []
    monkeypatch.setattr(report, "_png", lambda fig: figures.append(fig) or "<img>")
    page = report.render_report(meta, SUMMARY, [], {"run/best": state})
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", page.split("<h2>Learning curves</h2>")[1]))
    assert "held-out evaluation seeds" in text and "5 seeds (1,000,000–1,000,004)" in text
    assert "not this report's 3 seeds (3,000,000–3,000,002) and max_cycles 300" in text
    (fig,) = [f for f in figures if "Learning curves" in f.get_suptitle()]
    assert "held-out evaluation seeds" in fig.get_suptitle()
    ax = fig.axes[0]
    fig.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "4,000" in ticks and "8,000" in ticks, ticks
    assert all("." not in t and "e" not in t for t in ticks), ticks
    assert "millions" not in ax.get_xlabel()
    # A long run: one unit for the axis from its range, labels short enough not to overlap.
    long = [{**curve[0], "num_timesteps": n} for n in range(500_000, 5_000_001, 500_000)]
    report.learning_curves({"run/best": {**state, "curve": long}})
    ax = figures[-1].axes[0]
    figures[-1].canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "2M" in ticks and all(t.endswith("M") or t == "0" for t in ticks), ticks
    assert report.steps_formatter(450_000)(250_000, 0) == "250k"
    # The demo's curve: an evaluation at the time limit and the final one 42 steps later.
    close = [{**curve[0], "num_timesteps": n} for n in (500_010, 500_052)]
    report.learning_curves({"run/best": {**state, "curve": close}})
    figures[-1].canvas.draw()
    ticks = [t.get_text() for t in figures[-1].axes[0].get_xticklabels() if t.get_text()]
    assert ticks[0] == "0" and "500k" in ticks and len(ticks) <= 8, ticks
