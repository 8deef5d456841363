"""Onboard data queues and their transfer over links (downlink, inter-satellite, drone relay).

Every platform that stores data (satellites, then drones: *nodes* 0 … n_node − 1) has a
FIFO queue of :class:`Packet` s, one per acquisition of the team, and ``other_bits``
``(n_node,)``: data without value to the team that take room on board (the operator's
other customers' images, :mod:`sagsim.envs.world.other_customers`; a storage's initial
fill). A downlink of ``bits`` from a node sends the team's oldest packets first, then
other data (an emergency's images are played back first); a packet that does not fit in
the remaining budget is sent in part and keeps its remaining bits at the head of the queue
(the next step resumes it). A relay moves only the team's packets. A packet *arrives* (at
the fusion centre, or in a relay's queue) only when its last bit has been sent: an image
that never arrives is worth nothing.

Queues are Python deques of small objects: only nodes that transmit in a step touch them,
so the step cost scales with the number of transfers, not with the data stored.

``pending`` ``(n_task,)`` counts the images of each task that are on board somewhere and
not yet delivered (a scheduler's "already taken, on its way" knowledge): +1 when queued,
−1 when it arrives at the fusion centre or is lost; a relay moves it without changing it.
``weight_by_source`` ``(n_node,)`` sums the same way, per node that took the image, each
packet's ``weight`` (the world's reward-shaping potential, see
:meth:`sagsim.envs.world.world.World.onboard_value`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["DataPath", "Packet"]


@dataclass(slots=True)
class Packet:
    """One acquisition in flight.

    ``bits_total``/``bits_left``: size and what remains to send (bits). ``source``: agent
    index that took it; ``task``: task index it was pointed at (-1: data without value);
    ``t_acq_s``: when it was taken; ``obs_variance``: per-cell noise variance; ``window``:
    (r0, r1, c0, c1) grid window it covers; ``valid``: bool mask of the window (None: all
    valid); ``weight``: its value when taken (on the as-if-delivered map), which prices it
    in the shaping potential.
    """

    bits_total: float
    bits_left: float
    source: int
    task: int
    t_acq_s: float
    obs_variance: float
    window: tuple[int, int, int, int]
    valid: np.ndarray | None = None
    weight: float = 0.0
    gsd_m: float = 0.0  # its ground sample distance (m): which resolution levels it informs
    observation: object | None = None  # imagery mode: the image (sagsim.fusion.Observation)


class DataPath:
    """Queues of ``n_node`` nodes with capacities ``capacity_bits`` ``(n_node,)``."""

    def __init__(self, capacity_bits: np.ndarray, n_task: int = 0):
        self.capacity_bits = np.asarray(capacity_bits, float).copy()
        self.pending = np.zeros(n_task, np.int64)
        self.weight_by_source = np.zeros(self.capacity_bits.size)
        self._track = n_task > 0  # without tasks (n_task 0) nothing is counted
        self.queues: list[deque[Packet]] = [deque() for _ in range(self.capacity_bits.size)]
        self.queued_bits = np.zeros(self.capacity_bits.size)  # packets + other data
        self.other_bits = np.zeros(self.capacity_bits.size)
        self.lost_bits = 0.0
        self.delivered_bits = 0.0
        self.other_sent_bits = 0.0  # other data downlinked (bits)

    @property
    def free_bits(self) -> np.ndarray:
        """Free capacity per node (bits, ``(n_node,)``)."""
        return self.capacity_bits - self.queued_bits

    def fill_fraction(self) -> np.ndarray:
        """Queued / capacity per node, ``(n_node,)``."""
        return self.queued_bits / self.capacity_bits

    @property
    def team_bits(self) -> np.ndarray:
        """Bits of the team's packets queued per node (``(n_node,)``): other data excluded."""
        return np.maximum(self.queued_bits - self.other_bits, 0.0)

    def downlink_priority(self) -> np.ndarray:
        """Who a station serves first ``(n_node,)``: the team's queued bits, ties (no team
        data, most often) broken by all queued bits (the added term is below one bit)."""
        return self.team_bits + self.queued_bits / (float(self.queued_bits.max(initial=0.0)) + 1.0)

    def store_other(self, bits: np.ndarray) -> np.ndarray:
        """Store other data ``bits`` ``(n_node,)`` where there is room, in part where there
        is less; return the bits stored ``(n_node,)``."""
        stored = np.clip(np.minimum(np.asarray(bits, float), self.free_bits), 0.0, None)
        self.other_bits += stored
        self.queued_bits += stored
        return stored

    def push(self, node: int, packet: Packet) -> bool:
        """Queue ``packet`` at ``node`` if its remaining bits fit; return whether it did."""
        if packet.bits_left > self.free_bits[node] + 1e-6:
            return False
        self.queues[node].append(packet)
        self.queued_bits[node] += packet.bits_left
        self._count(packet, +1)
        return True

    def _count(self, packet: Packet, sign: int) -> None:
        """Add (``sign`` +1) or remove (−1) ``packet`` from the on-board tallies."""
        if self._track and packet.task >= 0:
            self.pending[packet.task] += sign
            self.weight_by_source[packet.source] += sign * packet.weight

    def send(self, node: int, budget_bits: float, other: bool = True) -> list[Packet]:
        """Send up to ``budget_bits`` from ``node``'s queue, oldest first, then (``other``)
        its other data with what is left of the budget; return the packets whose last bit
        went out this call (they leave the queue)."""
        queue, done = self.queues[node], []
        budget = float(budget_bits)
        while queue and budget > 0.0:
            head = queue[0]
            sent = min(head.bits_left, budget)
            head.bits_left -= sent
            budget -= sent
            self.queued_bits[node] -= sent
            if head.bits_left <= 1e-6:
                head.bits_left = 0.0
                done.append(queue.popleft())
                self._count(head, -1)
        if other and budget > 0.0 and self.other_bits[node] > 0.0:
            sent = min(budget, float(self.other_bits[node]))
            self.other_bits[node] -= sent
            self.queued_bits[node] -= sent
            self.other_sent_bits += sent
        if not queue:  # no float residue on an empty queue
            self.queued_bits[node] = self.other_bits[node]
        return done

    def relay(self, src: int, dst: int, budget_bits: float) -> list[Packet]:
        """Move packets from ``src`` to ``dst`` over a link of ``budget_bits``: only as many
        bits as ``dst`` has room for; arrived packets join ``dst``'s queue whole."""
        queue = self.queues[src]
        # Bits of the head packet sent in earlier steps arrive with it: reserve room for them.
        head_sent = queue[0].bits_total - queue[0].bits_left if queue else 0.0
        budget = min(float(budget_bits), max(self.free_bits[dst] - head_sent, 0.0))
        moved = self.send(src, budget, other=False)
        for packet in moved:
            packet.bits_left = packet.bits_total
            self.queues[dst].append(packet)
            self.queued_bits[dst] += packet.bits_total
            self._count(packet, +1)  # still on board: undo send's arrival
        return moved

    def drop(self, node: int) -> float:
        """Lose everything queued at ``node`` (a failed platform), other data included;
        return the bits lost."""
        lost = float(self.queued_bits[node])
        for packet in self.queues[node]:
            self._count(packet, -1)
        self.queues[node].clear()
        self.queued_bits[node] = 0.0
        self.other_bits[node] = 0.0
        self.lost_bits += lost
        return lost
