"""Pictures and text summaries of a :class:`sagsim.envs.world.world.World` (``rgb_array`` /
``ansi``).

:func:`render_rgb` draws one frame in the region's grid frame (km) with matplotlib's Agg
canvas only (no pyplot, no GUI backend; matplotlib is imported inside the function, so
importing :mod:`envs` does not pay for it):

- background: the fusion centre's variance / prior variance (white = nothing known,
  dark green = freshly observed); cells outside the region are left blank;
- clouds: a translucent grey overlay of the cloud field (coarse cells mapped to the grid);
- tasks: active ones as circles of their current radius, filled by priority; events
  (kind != 0) outlined (flood blue, fire red, other kinds magenta);
- satellites: ground track from about 10 min before to 10 min after now, the current
  sub-satellite point and a square swath footprint of side ``sat_swath_m`` (only what
  falls in the view is seen); dotted lines to the ground stations in contact now;
- drones with a short trail (a :class:`DroneTrail` the caller keeps, one per world,
  passed as ``trail``; none without one), their bases;
- ground stations; one outside the view is pinned to its edge as a hollow marker.

In the ``imagery`` perception mode the map shrinks to the top of the frame and a row
below shows the ground truth, the fused map (true-colour composites, reflectance 0–0.3
stretched) and the fused map's error (mean absolute reflectance error over the bands).

Text is sized for reading at the frame's size: below about 700 px every font grows (at
most 1.5×) so that the legend's smallest text stays ``_MIN_TEXT_PX`` pixels high (a 480 px
GIF frame of :mod:`sagsim.agents.animation`), and the map takes the room the legend and the title
leave. The image is ``(size_px, size_px, 3)`` uint8 whatever the content. Rendering reads the
world and never changes it (only the given trail records the drones' positions).
:func:`render_ansi` returns a few lines of text with the same headline numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RGB_BANDS", "RGB_STRETCH", "TRAIL_LENGTH", "DroneTrail", "render_ansi", "render_rgb",
           "true_colour"]  # fmt: skip

TRAIL_LENGTH = 200  # drone positions kept for the trail
_TRACK_HALF_STEPS = 20  # ground track: this many steps either side of now
_TRACK_MAX_DIST_M = 3.0e6  # track points farther than this from the grid origin are dropped
_VIEW_MARGIN = 0.08  # view = grid bounds + this fraction of the larger side on each edge
_FIG_IN = 6.4  # figure side (inches); dpi = size_px / _FIG_IN keeps the layout scale-free
_EVENT_COLOURS = {1: "tab:blue", 2: "tab:red"}  # flood, fire; other kinds: magenta
_CLOUD_RGBA = (0.45, 0.5, 0.6, 0.35)
_MIN_TEXT_PX = 10.0  # the smallest text's height (px) wherever the frame allows it
_MAX_TEXT_SCALE = 1.5


class DroneTrail:
    """The drones' recent positions for the rendered trail: the renderer's state, one per
    world (an environment keeps one and passes it to every :func:`render_rgb` call).

    :meth:`update` appends the positions once per step index ``world.k``, keeps the last
    ``TRAIL_LENGTH`` and starts over when the world goes back in time (a reset) or another
    world is given."""

    def __init__(self) -> None:
        # The world followed: a plain reference (the world never refers back, so no cycle),
        # which pickles and deep-copies with the environment that holds both.
        self._world = None
        self._k = -1  # the step index of the last positions appended
        self._xy: list[np.ndarray] = []  # (n_uav, 2) positions in m, oldest first

    def update(self, world) -> np.ndarray:
        """Record ``world``'s drone positions (once per step index); the trail so far,
        ``(n_pos, n_uav, 2)`` grid x, y in m, oldest first (``n_pos ≤ TRAIL_LENGTH``)."""
        if self._world is not world or self._k > world.k:  # another world, or it was reset
            self._world, self._k, self._xy = world, -1, []
        if self._k != world.k:
            self._xy.append(np.array(world.drones.position_xy_m, float, copy=True))
            del self._xy[:-TRAIL_LENGTH]
            self._k = world.k
        return np.stack(self._xy) if self._xy else np.zeros((0, world.n_uav, 2))


def _sat_tracks(world) -> tuple[np.ndarray, np.ndarray]:
    """Ground tracks ``(n_sat, n_pts)`` x and y in m, NaN where dropped; now at ``k - k0``."""
    g, k = world.geom, world.k
    k0 = max(0, k - _TRACK_HALF_STEPS)
    k1 = min(g.sat_lat_deg.shape[0], k + _TRACK_HALF_STEPS + 1)
    lat, lon = g.sat_lat_deg[k0:k1].T, g.sat_lon_deg[k0:k1].T
    x, y = world.grid.to_grid(lon, lat)
    far = ~np.isfinite(x) | ~np.isfinite(y) | (np.hypot(x, y) > _TRACK_MAX_DIST_M)
    return np.where(far, np.nan, x), np.where(far, np.nan, y)


def _view_km(grid) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) / 1e3 for v in grid.bounds_m)
    pad = _VIEW_MARGIN * max(x1 - x0, y1 - y0)
    return x0 - pad, x1 + pad, y0 - pad, y1 + pad


def _draw_fields(ax, world, extent) -> None:
    """Variance ratio background and cloud overlay."""
    grid = world.grid
    ratio = world.fusion.variance() / world.fusion.prior_variance
    ratio = np.where(grid.mask, ratio, np.nan)
    ax.imshow(ratio, extent=extent, origin="upper", cmap="Greens_r", vmin=0.0, vmax=1.0,
              alpha=0.7, interpolation="nearest", zorder=0)  # fmt: skip
    c = world.clouds
    cloudy = c.cloudy_coarse[np.ix_(c.coarse_row_of, c.coarse_col_of)]
    rgba = np.zeros((*cloudy.shape, 4))
    rgba[cloudy] = _CLOUD_RGBA
    ax.imshow(rgba, extent=extent, origin="upper", interpolation="nearest", zorder=1)
    boundary = getattr(grid, "boundary_lonlat_deg", None)
    if boundary is not None and len(boundary) > 2:
        bx, by = grid.to_grid(boundary[:, 0], boundary[:, 1])
        ax.plot(np.append(bx, bx[0]) / 1e3, np.append(by, by[0]) / 1e3, color="0.35",
                lw=0.8, ls="--", zorder=2)  # fmt: skip


def _draw_tasks(ax, world) -> None:
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Circle

    tasks, t_s = world.tasks, world.t_s
    radius = tasks.radius_m(t_s)
    idx = np.flatnonzero(tasks.active(t_s))
    if idx.size == 0:
        return
    pmax = max(float(tasks.priority.max()), 1.0)
    circles = [Circle((tasks.x_m[i] / 1e3, tasks.y_m[i] / 1e3), max(radius[i], 1.0) / 1e3)
               for i in idx]  # fmt: skip
    edges = [_EVENT_COLOURS.get(int(tasks.kind[i]), "m") if tasks.kind[i] else "0.2"
             for i in idx]  # fmt: skip
    widths = [2.0 if tasks.kind[i] else 0.8 for i in idx]
    coll = PatchCollection(circles, cmap="YlOrRd", alpha=0.55, zorder=3,
                           edgecolors=edges, linewidths=widths)  # fmt: skip
    coll.set_array(tasks.priority[idx])
    coll.set_clim(0.0, pmax)
    ax.add_collection(coll)
    ax.scatter(tasks.x_m[idx] / 1e3, tasks.y_m[idx] / 1e3, s=4, c="k", zorder=4)


def _draw_satellites(ax, world, view) -> None:
    from matplotlib.patches import Rectangle

    if world.n_sat == 0:
        return
    tx, ty = _sat_tracks(world)
    now = world.k - max(0, world.k - _TRACK_HALF_STEPS)
    alive = world.sats.alive
    for s in range(world.n_sat):
        ax.plot(tx[s] / 1e3, ty[s] / 1e3, color="tab:purple", lw=1.0, alpha=0.8, zorder=5)
        x, y = tx[s, now], ty[s, now]
        if not (alive[s] and np.isfinite(x) and np.isfinite(y)):
            continue
        cx, cy = _clamp((x / 1e3, y / 1e3), view)
        if not (np.isclose(cx, x / 1e3) and np.isclose(cy, y / 1e3)):  # off-frame: pin it
            ax.plot(cx, cy, marker="*", ms=10, mfc="none", mec="tab:purple", zorder=7,
                    clip_on=False)  # fmt: skip
        half = 0.5 * float(world.sat_swath_m[s])
        ax.add_patch(Rectangle(((x - half) / 1e3, (y - half) / 1e3), 2 * half / 1e3,
                               2 * half / 1e3, fill=False, ec="tab:purple", ls="--",
                               lw=1.2, zorder=5))  # fmt: skip
        ax.plot(x / 1e3, y / 1e3, marker="*", ms=12, color="tab:purple", mec="k", zorder=7)
        for g in np.flatnonzero(world.geom.gs_visible[world.k, s] & world.gs_alive):
            gx, gy = _clamp(world.gs_xy_m[g] / 1e3, view)
            ax.plot([x / 1e3, gx], [y / 1e3, gy], color="tab:purple", ls=":", lw=1.2, zorder=6)


def _clamp(xy_km, view) -> tuple[float, float]:
    return float(np.clip(xy_km[0], view[0], view[1])), float(np.clip(xy_km[1], view[2], view[3]))


def _draw_ground(ax, world, view, trail_xy) -> None:
    dr = world.drones
    if world.n_uav:
        for j in range(world.n_uav):
            ax.plot(trail_xy[:, j, 0] / 1e3, trail_xy[:, j, 1] / 1e3, color="tab:cyan", lw=1.2,
                    alpha=0.9, zorder=8)  # fmt: skip
        pos = dr.position_xy_m / 1e3
        ax.scatter(pos[dr.alive, 0], pos[dr.alive, 1], marker="o", s=40, c="tab:cyan",
                   edgecolors="k", zorder=9)  # fmt: skip
        ax.scatter(pos[~dr.alive, 0], pos[~dr.alive, 1], marker="x", s=40, c="k", zorder=9)
        bases = np.unique(dr.base_xy_m, axis=0) / 1e3
        ax.scatter(bases[:, 0], bases[:, 1], marker="s", s=50, facecolors="none",
                   edgecolors="tab:cyan", linewidths=1.5, zorder=8)  # fmt: skip
    for g in range(world.n_gs):
        xy = world.gs_xy_m[g] / 1e3
        cx, cy = _clamp(xy, view)
        inside = np.isclose(cx, xy[0]) and np.isclose(cy, xy[1])
        ok = bool(world.gs_alive[g])
        ax.scatter([cx], [cy], marker="^", s=80, zorder=9, linewidths=1.5, clip_on=False,
                   facecolors="tab:green" if inside and ok else "none",
                   edgecolors="tab:green" if ok else "0.5")  # fmt: skip


def _legend_handles():
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    def mk(label, **kw):
        return Line2D([], [], label=label, ls=kw.pop("ls", "none"), **kw)

    return [
        mk("satellite (now)", marker="*", color="tab:purple", mec="k", ms=10),
        mk("ground track ±10 min", color="tab:purple", ls="-"),
        mk("swath footprint", color="tab:purple", ls="--"),
        mk("GS contact", color="tab:purple", ls=":"),
        mk("drone + trail", marker="o", color="tab:cyan", mec="k", ls="-"),
        mk("drone base", marker="s", mfc="none", mec="tab:cyan"),
        mk("ground station", marker="^", color="tab:green"),
        Patch(fc="orange", ec="0.2", alpha=0.55, label="target (priority)"),
        Patch(fc="none", ec="tab:blue", lw=2, label="flood event"),
        Patch(fc="none", ec="tab:red", lw=2, label="fire event"),
        Patch(fc=_CLOUD_RGBA[:3], alpha=0.5, label="cloud"),
        Patch(fc="darkgreen", alpha=0.6, label="low map variance"),
    ]


def _text_scale(dpi: float) -> float:
    """Factor on every font size: the legend's 7 pt text at least ``_MIN_TEXT_PX`` pixels
    high at this dpi (a 480 px GIF frame), at most ``_MAX_TEXT_SCALE`` (tiny frames are
    not for reading); 1 from about 700 px up."""
    return float(np.clip(_MIN_TEXT_PX * 72.0 / (7.0 * dpi), 1.0, _MAX_TEXT_SCALE))


def render_rgb(world, *, size_px: int = 640, trail: DroneTrail | None = None) -> np.ndarray:
    """One frame of ``world`` as an ``(size_px, size_px, 3)`` uint8 RGB array; the drones'
    trail is ``trail``'s, updated with the world's current positions first (None: no
    trail drawn)."""
    size_px = int(size_px)
    if size_px < 64:
        raise ValueError(f"size_px must be an integer >= 64, got {size_px}")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    trail_xy = trail.update(world) if trail is not None else np.zeros((0, world.n_uav, 2))
    dpi = size_px / _FIG_IN
    scale = _text_scale(dpi)

    def inch(pt: float) -> float:  # a height in points as a fraction of the figure
        return pt / 72.0 / _FIG_IN

    fig = Figure(figsize=(_FIG_IN, _FIG_IN), dpi=dpi, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    try:
        imagery = getattr(world, "perception", None) is not None
        # The legend first, above the imagery row (its titles included) or at the bottom;
        # the map then takes the room between it and the title, whatever the text size.
        legend_y = 0.24 + inch(9.0 * scale + 4.0) if imagery else 0.0
        legend = fig.legend(handles=_legend_handles(), loc="lower center", fontsize=7 * scale,
                            ncol=4, frameon=False, handlelength=1.8, columnspacing=1.0,
                            bbox_to_anchor=(0.5, legend_y))  # fmt: skip
        legend_top = legend.get_window_extent(canvas.get_renderer()).y1 / size_px
        bottom = legend_top + inch(15.0 * scale + 12.0)  # tick labels and the x label
        top = 1.0 - inch(2 * 9.0 * scale * 1.25 + 8.0)  # the two-line title
        left = 0.04 + inch(3.6 * 7.0 * scale + 8.0 * scale)  # y tick labels and the y label
        ax = fig.add_axes((left, bottom, 0.97 - left, max(top - bottom, 0.1)))
        ax.set_facecolor("#f4f1ea")
        x0, y0, x1, y1 = (float(v) / 1e3 for v in world.grid.bounds_m)
        view = _view_km(world.grid)
        _draw_fields(ax, world, (x0, x1, y0, y1))
        _draw_tasks(ax, world)
        _draw_satellites(ax, world, view)
        _draw_ground(ax, world, view, trail_xy)
        ax.set_xlim(view[0], view[1])
        ax.set_ylim(view[2], view[3])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("x east (km)", fontsize=8 * scale, labelpad=1)
        ax.set_ylabel("y north (km)", fontsize=8 * scale, labelpad=2)
        ax.tick_params(labelsize=7 * scale)
        tot = world.totals
        ax.set_title(
            f"{world.scenario.name}   t = {world.t_s / 3600:.2f} h   "
            f"(step {world.k}/{world.n_steps})\n"
            f"images delivered {tot['images_delivered']}/{tot['images_acquired']}   "
            f"information {tot['information']:.3f}",
            fontsize=9 * scale,
        )
        if imagery:
            _draw_perception(fig, world, scale)
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[..., :3]
        out = np.full((size_px, size_px, 3), 255, np.uint8)
        h, w = min(rgb.shape[0], size_px), min(rgb.shape[1], size_px)
        out[:h, :w] = rgb[:h, :w]
    finally:
        fig.clear()
        del canvas, fig
    return out


RGB_BANDS = (2, 1, 0)  # red, green, blue rows of the scene's bands
RGB_STRETCH = 0.3  # reflectance shown as full brightness


def true_colour(img: np.ndarray) -> np.ndarray:
    """True colour ``(rows, cols, 3)`` in [0, 1] of a ``(n_bands, rows, cols)`` map: the
    red, green and blue reflectances, ``RGB_STRETCH`` shown as full brightness."""
    return np.clip(np.moveaxis(img[list(RGB_BANDS)], 0, -1) / RGB_STRETCH, 0.0, 1.0)


def _draw_perception(fig, world, scale: float = 1.0) -> None:
    """Truth, fused map and error of the imagery mode, in a row at the frame's bottom
    (font sizes × ``scale``)."""
    from sagsim.fusion.sensing.scene import N_REFLECTANCE

    truth, fused = world.perception.images(world.t_s)
    error = np.abs(fused[:N_REFLECTANCE] - truth[:N_REFLECTANCE]).mean(axis=0)
    panels = (("ground truth", truth), ("fused map", fused))
    for i, (title, img) in enumerate(panels):
        ax = fig.add_axes((0.02 + 0.29 * i, 0.02, 0.29, 0.22))
        ax.imshow(true_colour(img), interpolation="nearest")
        ax.set_title(title, fontsize=7 * scale, pad=2)
        ax.set_axis_off()
    ax = fig.add_axes((0.6, 0.02, 0.29, 0.22))
    im = ax.imshow(error, cmap="magma", vmin=0.0, vmax=0.1, interpolation="nearest")
    ax.set_title("|fused − truth|, reflectance", fontsize=7 * scale, pad=2)
    ax.set_axis_off()
    # Its own axes right of the panel: the tick labels stay inside the frame.
    cax = fig.add_axes((0.88, 0.04, 0.015, 0.18))
    bar = fig.colorbar(im, cax=cax, ticks=(0.0, 0.05, 0.1))
    bar.ax.tick_params(labelsize=7 * scale, pad=1)


def render_ansi(world) -> str:
    """A few lines of text: time, counts alive, queues, batteries, contacts, totals."""
    n_sat, n_uav = world.n_sat, world.n_uav
    alive = world.alive
    q = world.data.queued_bits
    tot = world.totals
    lines = [
        f"{world.scenario.name}  step {world.k}/{world.n_steps}  t = {world.t_s:.0f} s "
        f"({world.t_s / 3600:.2f} h)",
        f"alive: sats {int(alive[:n_sat].sum())}/{n_sat}  drones "
        f"{int(alive[n_sat : n_sat + n_uav].sum())}/{n_uav}  stations "
        f"{int(world.gs_alive.sum())}/{world.n_gs}",
        f"queued: sats {q[:n_sat].sum() / 8e6:.1f} MB  drones {q[n_sat:].sum() / 8e6:.1f} MB",
    ]
    if n_sat:
        soc = world.sats.charge_fraction
        in_contact = world.geom.gs_visible[min(world.k, world.geom.gs_visible.shape[0] - 1)]
        lines.append(
            f"sats: battery {soc.min():.0%}..{soc.max():.0%}  in contact "
            f"{int(in_contact.any(axis=1).sum())}/{n_sat}"
        )
    if n_uav:
        dr = world.drones
        soc = dr.battery_wh / np.maximum(dr.battery_capacity_wh, 1e-12)
        lines.append(
            f"drones: battery {soc.min():.0%}..{soc.max():.0%}  airborne "
            f"{int(((dr.mode != 0) & dr.alive).sum())}/{n_uav}"
        )
    lines.append(
        f"totals: images acquired {tot['images_acquired']} delivered "
        f"{tot['images_delivered']}  information {tot['information']:.3f}  "
        f"energy {tot['energy_wh']:.1f} Wh"
    )
    return "\n".join(lines)
