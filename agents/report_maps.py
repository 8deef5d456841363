"""The report's map comparison of one ``imagery`` episode: the truth, the fused map and the
best single image at the episode's end, side by side, with the fused map's error.

Best single observation (:class:`BestObservation`): of every image fused at the fusion
centre during the episode (the agents' and open data's), the one whose *single-image map* has
the highest PSNR against the truth at the episode's end. An image's single-image map is what
the fusion centre would know from that image alone: its pixels painted onto the grid cells
they cover (:func:`sagsim.fusion.fusers.paint`; only valid pixels: not under cloud, not dropped),
and the fuser's prior (:attr:`sagsim.envs.world.perception.Perception.prior_mean`, the truth's band
means at t = 0) in every other cell and in the bands it does not measure. The PSNR is the fused
map's own score (``fusion_psnr_db``: the five reflectance bands, range 1, every grid cell), so the
two numbers compare directly: a wide, coarse, clear image usually beats a sharp one that sees
a few cells, and the gap between it and the fused map is what fusion added.

Memory stays bounded however long the episode: each arriving image is scored against the
truth *of its own acquisition time* inside its own window (the drop in squared error from
the prior there, which ranks images exactly as that PSNR would at that time), and only the
:data:`KEEP` best are kept; at the end those are re-scored against the final truth. So an
image that was outside the top :data:`KEEP` when taken but would win at the end (the scene
changed towards it) is missed; events only grow, so that is rare, and the figure says the
score is taken at the end, where a stale image is as stale as it really is.
"""

from __future__ import annotations

import heapq
import html
import io
import math

import numpy as np

from sagsim.envs.scenario.agent_names import agent_name
from sagsim.envs.views.render import RGB_BANDS, RGB_STRETCH, true_colour
from sagsim.fusion.fusers import paint
from sagsim.fusion.metrics import psnr
from sagsim.fusion.sensing.scene import N_REFLECTANCE

__all__ = ["ERROR_VMAX", "KEEP", "BestObservation", "agent_names", "caption", "comparison_png",
           "single_image_map", "source_name"]  # fmt: skip

KEEP = 4  # candidates kept through the episode (each: one image's pixels)
ERROR_VMAX = 0.1  # reflectance: top of the error colour scale (as the env's rgb_array frame)
REFLECTANCE_RANGE = 1.0  # the PSNR range of the reflectance bands (as sagsim.envs.world.perception)
_UNCOVERED_RGB = (0.78, 0.78, 0.78)  # cells an image does not cover
_FOOTPRINT = "tab:red"


def single_image_map(obs, prior_mean: np.ndarray, shape: tuple[int, int],
                     window: tuple[int, int, int, int] | None = None,
                     ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``obs`` alone as a map (module doc): ``(map, covered)``, ``map`` float64 ``(n_bands,
    rows, cols)`` (``prior_mean`` ``(n_bands,)`` where not seen), ``covered`` bool ``(rows,
    cols)`` the cells a valid pixel fills. ``shape`` is the grid's (rows, cols); with
    ``window`` (r0, r1, c0, c1) only that part of the grid (it must hold ``obs.window``)."""
    w0 = (0, shape[0], 0, shape[1]) if window is None else window
    out = np.broadcast_to(np.asarray(prior_mean, float)[:, None, None],
                          (len(prior_mean), w0[1] - w0[0], w0[3] - w0[2])).copy()  # fmt: skip
    covered = np.zeros(out.shape[1:], bool)
    r0, r1, c0, c1 = obs.window
    win = np.s_[r0 - w0[0] : r1 - w0[0], c0 - w0[2] : c1 - w0[2]]
    covered[win] = paint(obs.valid, obs.factor)
    cells = paint(obs.values, obs.factor)
    seen = covered[win]
    for row, band in enumerate(obs.band_index):
        out[band][win][seen] = cells[row][seen]
    return out, covered


def agent_names(world) -> list[str]:
    """The scenario's name of every agent of ``world``, in the env's agent order (satellites,
    drones, stations): satellites as the inspector names them
    (:func:`sagsim.envs.platforms.assembly.build_satellites`: ``<group>-P<plane>-S<slot>`` in a
    Walker shell, ``<group>/<TLE name>``), drones and stations as the world's fleets do
    (``<group>-<k>``,
    the station's ``name``)."""
    from sagsim.envs.platforms.assembly import build_satellites

    satellites = build_satellites(world.scenario).constellation.names
    return [*satellites, *world.drones.names, *world.stations.names]


def source_name(world, source: int) -> str:
    """The agent (``eo-P1-S1 (sat_0)``, ``uav-1 (uav_1)``: the scenario's name and the
    env's id) or open-data satellite an image's source id names."""
    if source < world.n_sat + world.n_uav:
        n_sat = world.n_sat
        agent = agent_name("sat", source) if source < n_sat else agent_name("uav", source - n_sat)
        return f"{agent_names(world)[source]} ({agent})"
    j = source - world.n_agents
    try:  # cached: the imagery mode computed the same schedule when the world was built
        from sagsim.fusion.sensing.acquisitions import open_data_schedule

        return f"{open_data_schedule(world.scenario)[0][j]['name']} (open data)"
    except (IndexError, KeyError, ValueError):
        return f"open data #{j}"


class BestObservation:
    """An observer of :class:`sagsim.envs.world.perception.Perception` (append it to ``observers``)
    that keeps the :data:`KEEP` most promising images and picks the best single observation at
    the end (:meth:`result`; the definition is the module doc's)."""

    def __init__(self, perception, keep: int = KEEP) -> None:
        self.perception = perception
        self.keep = int(keep)
        self.n_seen = 0  # images fused this episode
        self._heap: list[tuple[float, int, object]] = []  # (gain, -arrival order, image)

    def __call__(self, obs) -> None:
        self.n_seen += 1
        item = (self._gain(obs), -self.n_seen, obs)  # a tie keeps the earlier image
        if len(self._heap) < self.keep:
            heapq.heappush(self._heap, item)
        elif item[:2] > self._heap[0][:2]:
            heapq.heapreplace(self._heap, item)

    def _gain(self, obs) -> float:
        """Σ over the image's window and the reflectance bands of (prior − truth)² −
        (image − truth)², the truth at the image's own time: the drop of the whole-grid
        squared error this image alone gives (the rest of the grid is the prior either way)."""
        p = self.perception
        refl = slice(0, N_REFLECTANCE)
        truth = p.scene.truth_window(obs.t_s, *obs.window)[refl].astype(float)
        alone, _ = single_image_map(obs, p.prior_mean, p.world.grid.shape, window=obs.window)
        prior = np.asarray(p.prior_mean[refl], float)[:, None, None]
        return float(((prior - truth) ** 2).sum() - ((alone[refl] - truth) ** 2).sum())

    @property
    def candidates(self) -> list:
        """The images kept, best gain first."""
        return [obs for *_, obs in sorted(self._heap, key=lambda x: x[:2], reverse=True)]

    def result(self, t_s: float) -> dict | None:
        """The best single observation against the truth at ``t_s`` (s; the episode's end),
        None when no image was fused: ``{"observation", "map"`` (its single-image map),
        ``"covered"``, ``"psnr_db"`` (whole grid), ``"psnr_seen_db"`` (its covered cells
        only; NaN when it covers none), ``"coverage"`` (fraction of grid cells),
        ``"candidates"`` (kept), ``"seen"`` (images fused)}."""
        if not self._heap:
            return None
        p = self.perception
        truth = p.scene.truth_at(t_s)[:N_REFLECTANCE]
        best = None
        for obs in self.candidates:
            alone, covered = single_image_map(obs, p.prior_mean, p.world.grid.shape)
            score = psnr(alone[:N_REFLECTANCE], truth, REFLECTANCE_RANGE)
            if best is None or score > best["psnr_db"]:
                seen = (psnr(alone[:N_REFLECTANCE], truth, REFLECTANCE_RANGE, valid=covered)
                        if covered.any() else math.nan)  # fmt: skip
                best = {"observation": obs, "map": alone, "covered": covered, "psnr_db": score,
                        "psnr_seen_db": seen, "coverage": float(covered.mean())}  # fmt: skip
        best.update(candidates=len(self._heap), seen=self.n_seen)
        return best


def _share(covered: np.ndarray) -> str:
    """``68 % of cells``, or for a small image ``3 of 9600 cells``."""
    n = int(covered.sum())
    if n and n < 0.01 * covered.size:
        return f"{n} of {covered.size} cells"
    return f"{100 * n / covered.size:.0f} % of cells"


def comparison_png(world, tracker: BestObservation, title: str) -> tuple[bytes, dict]:
    """The figure (PNG bytes) and its numbers for the world at its episode's end: truth,
    fused map, best single observation (grey where it does not see) and |fused − truth|.
    The numbers: ``t_h``, ``fused_psnr_db`` and, when an image was fused, ``source``,
    ``taken_h``, ``psnr_db``, ``psnr_seen_db``, ``coverage``, ``pixel_m`` (its pixel side
    on the grid), ``cell_m``, ``kind``, ``tag``, ``seen``, ``candidates``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    p, t_s = world.perception, float(world.t_s)
    truth, fused = p.images(t_s)
    refl = slice(0, N_REFLECTANCE)
    info = {"t_h": t_s / 3600.0,
            "fused_psnr_db": psnr(fused[refl], truth[refl], REFLECTANCE_RANGE)}  # fmt: skip
    best = tracker.result(t_s)
    x0, y0, x1, y1 = (float(v) / 1e3 for v in world.grid.bounds_m)
    extent = (x0, x1, y0, y1)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.9), layout="constrained")
    kw = {"extent": extent, "origin": "upper", "interpolation": "nearest"}
    axes[0].imshow(true_colour(truth), **kw)
    axes[0].set_title(f"ground truth\nat the episode's end, t = {info['t_h']:.2f} h", fontsize=10)
    axes[1].imshow(true_colour(fused), **kw)
    axes[1].set_title(f"fused map ({world.scenario.fusion.fuser}, {tracker.n_seen} images)\n"
                      f"PSNR {info['fused_psnr_db']:.1f} dB", fontsize=10)  # fmt: skip
    single = np.empty((*truth.shape[1:], 3))
    single[:] = _UNCOVERED_RGB
    if best is None:
        axes[2].set_title("best single observation:\nno image reached the fusion centre",
                          fontsize=10)  # fmt: skip
    else:
        obs = best["observation"]
        measured = set(int(b) for b in obs.band_index)
        no_rgb = not measured >= set(RGB_BANDS)  # SAR: a water index, no colour to show
        if not no_rgb:
            single[best["covered"]] = true_colour(best["map"])[best["covered"]]
        info.update(source=source_name(world, obs.source), taken_h=obs.t_s / 3600.0,
                    psnr_db=best["psnr_db"], psnr_seen_db=best["psnr_seen_db"],
                    coverage=best["coverage"], seen=best["seen"],
                    candidates=best["candidates"],
                    pixel_m=float(obs.factor * world.scenario.region.grid_resolution_m),
                    cell_m=float(world.scenario.region.grid_resolution_m),
                    kind=obs.kind, tag=obs.tag)  # fmt: skip
        seen_txt = "" if math.isnan(best["psnr_seen_db"]) else (
            f" ({best['psnr_seen_db']:.1f} dB where seen)")  # fmt: skip
        axes[2].set_title(f"best single observation: {info['source']}, taken "
                          f"t = {info['taken_h']:.2f} h\nPSNR {best['psnr_db']:.1f} dB alone"
                          f"{seen_txt}, sees {_share(best['covered'])}"
                          + (" (no colour bands)" if no_rgb else ""), fontsize=10)  # fmt: skip
        # Its footprint: a drone's image may be a cell or two, too small to find otherwise.
        rows, cols = truth.shape[1:]
        dx, dy = (x1 - x0) / cols, (y1 - y0) / rows
        r0, r1, c0, c1 = obs.window
        axes[2].add_patch(Rectangle((x0 + c0 * dx, y1 - r1 * dy), (c1 - c0) * dx,
                                    (r1 - r0) * dy, fill=False, ec=_FOOTPRINT, lw=1.2,
                                    zorder=3))  # fmt: skip
    axes[2].imshow(single, **kw)
    error = np.abs(fused[refl] - truth[refl]).mean(axis=0)
    im = axes[3].imshow(error, cmap="magma", vmin=0.0, vmax=ERROR_VMAX, **kw)
    axes[3].set_title("|fused − truth|, mean over the\n5 reflectance bands", fontsize=10)
    bar = fig.colorbar(im, ax=axes[3], fraction=0.046, pad=0.02, extend="max")
    bar.set_label("absolute reflectance error (unitless, 0–1)", fontsize=9)
    for i, ax in enumerate(axes):
        ax.set_xlabel("x east (km)", fontsize=9)
        if i == 0:
            ax.set_ylabel("y north (km)", fontsize=9)
        ax.tick_params(labelsize=8)
    fig.legend(handles=[Patch(fc=_UNCOVERED_RGB, ec="0.5",
                              label="not seen by that image: outside its footprint or under cloud "
                                    "(scored as the prior there)"),
                        Patch(fc="none", ec=_FOOTPRINT, label="that image's footprint")],
               loc="outside lower center", fontsize=9, frameon=False, ncol=2)  # fmt: skip
    fig.suptitle(f"{title}: true colour (red, green, blue reflectance 0–{RGB_STRETCH:g} "
                 "stretched to full brightness)", fontsize=11)  # fmt: skip
    fig.get_layout_engine().set(h_pad=0.08)  # room between the suptitle and two-line titles
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue(), info


def caption(info: dict) -> str:
    """The figure's caption (an HTML paragraph): what is shown, and the best single
    observation's definition."""
    text = (f"At the episode's end (t = {info['t_h']:.2f} h): the ground truth, the fused map "
            f"(PSNR {info['fused_psnr_db']:.1f} dB), the best single observation and the "
            "fused map's absolute error. ")  # fmt: skip
    if "source" not in info:
        text += "No image reached the fusion centre in this episode: the map is the prior. "
    else:
        tag = f", tagged {html.escape(repr(info['tag']))}" if info.get("tag") else ""
        text += (f"The best single observation is {html.escape(info['source'])}'s "
                 f"{info['kind']} image taken at t = {info['taken_h']:.2f} h (pixels of "
                 f"{info['pixel_m']:g} m on the {info['cell_m']:g} m grid{tag}), one of "
                 f"{info['seen']} images that reached the fusion centre. ")  # fmt: skip
    text += ("<i>Best single observation</i>: the image whose single-image map (its valid "
             "pixels painted onto the grid cells they cover; the fuser's prior, the truth's "
             "band means at t = 0, everywhere else) has the highest PSNR against the truth "
             "at the episode's end, over the same cells and bands as the fused map's PSNR "
             "(5 reflectance bands, range 1, every grid cell). Images are ranked as they "
             f"arrive, against the truth of their own time; the best {KEEP} are re-scored at "
             "the end. The gap between the two PSNRs is what fusion added.")  # fmt: skip
    return f"<p class='caption'>{text}</p>"
