"""Onboard FIFO queues: partial sends, relays within the receiver's room, drops."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagsim.envs.world.datapath import DataPath, Packet

# DataPath treats ≤ 1e-6 bits left as sent; sums of a few dozen float sizes round at ~1e-9.
BITS_ATOL = 1e-5


def packet(bits: float, task: int = 0) -> Packet:
    return Packet(
        bits_total=float(bits),
        bits_left=float(bits),
        source=0,
        task=task,
        t_acq_s=0.0,
        obs_variance=0.01,
        window=(0, 1, 0, 1),
    )


def queue_sum(dp: DataPath, node: int) -> float:
    return sum(p.bits_left for p in dp.queues[node])


def test_fifo_order_and_partial_send_resumes():
    dp = DataPath(np.array([1000.0]))
    for i, bits in enumerate([100.0, 200.0, 50.0]):
        assert dp.push(0, packet(bits, task=i))
    assert dp.queued_bits[0] == 350.0
    # 150 bits: the first packet (100) completes, the second is half sent.
    done = dp.send(0, 150.0)
    assert [p.task for p in done] == [0]
    assert dp.queues[0][0].task == 1
    assert dp.queues[0][0].bits_left == 150.0
    assert dp.queued_bits[0] == 200.0
    # The next step resumes the second packet before the third.
    done = dp.send(0, 150.0)
    assert [p.task for p in done] == [1]
    assert dp.queues[0][0].task == 2
    assert dp.queues[0][0].bits_left == 50.0
    done = dp.send(0, 1e9)
    assert [p.task for p in done] == [2]
    assert dp.queued_bits[0] == 0.0
    assert not dp.queues[0]


def test_packet_arrives_only_with_its_last_bit():
    dp = DataPath(np.array([1000.0]))
    dp.push(0, packet(100.0))
    for _ in range(9):
        assert dp.send(0, 10.0) == []
    done = dp.send(0, 10.0)
    assert len(done) == 1 and done[0].bits_left == 0.0
    assert dp.send(0, 10.0) == []


def test_push_respects_capacity():
    dp = DataPath(np.array([100.0, 50.0]))
    assert dp.push(0, packet(60.0))
    assert not dp.push(0, packet(60.0))
    assert dp.push(0, packet(40.0))
    assert dp.queued_bits[0] == 100.0
    assert not dp.push(1, packet(51.0))
    np.testing.assert_array_equal(dp.free_bits, [0.0, 50.0])
    np.testing.assert_array_equal(dp.fill_fraction(), [1.0, 0.0])


def test_relay_reserves_room_for_a_partially_sent_head():
    dp = DataPath(np.array([1000.0, 100.0]))
    dp.push(0, packet(80.0, task=0))
    dp.push(0, packet(80.0, task=1))
    # Destination has 100 bits of room: packet 0 (80) arrives; packet 1 gets 20 bits.
    moved = dp.relay(0, 1, 500.0)
    assert [p.task for p in moved] == [0]
    assert dp.queued_bits[1] == 80.0
    assert dp.queues[0][0].bits_left == 60.0
    # Drain the destination partly; the head's 20 sent bits still need room there.
    dp.send(1, 50.0)  # destination: 30 queued, 70 free
    moved = dp.relay(0, 1, 500.0)
    # Only 70 − 20 = 50 more bits may go: not enough for the 60 left.
    assert moved == []
    assert dp.queues[0][0].bits_left == 10.0
    assert dp.queued_bits[1] <= dp.capacity_bits[1]
    dp.send(1, 1e9)
    moved = dp.relay(0, 1, 500.0)
    assert [p.task for p in moved] == [1]
    # Arrived packets join the destination whole, ready to be sent again.
    assert moved[0].bits_left == moved[0].bits_total == 80.0
    assert dp.queued_bits[1] == 80.0
    assert dp.queued_bits[0] == 0.0


def test_relay_with_no_room_moves_nothing():
    dp = DataPath(np.array([1000.0, 100.0]))
    dp.push(0, packet(50.0))
    dp.push(1, packet(100.0))
    assert dp.relay(0, 1, 1e9) == []
    assert dp.queues[0][0].bits_left == 50.0


def test_drop_counts_lost_bits():
    dp = DataPath(np.array([1000.0, 1000.0]))
    dp.push(0, packet(100.0))
    dp.push(0, packet(200.0))
    dp.send(0, 30.0)
    assert dp.drop(0) == 270.0
    assert dp.lost_bits == 270.0
    assert dp.queued_bits[0] == 0.0 and not dp.queues[0]
    dp.push(1, packet(5.0))
    dp.drop(1)
    assert dp.lost_bits == 275.0
    assert dp.drop(0) == 0.0


N_NODE = 3
_push = st.tuples(st.just("push"), st.integers(0, N_NODE - 1), st.floats(1.0, 400.0))
_send = st.tuples(st.just("send"), st.integers(0, N_NODE - 1), st.floats(0.0, 500.0))
_relay = st.tuples(
    st.just("relay"), st.integers(0, N_NODE - 1), st.integers(0, N_NODE - 1), st.floats(0.0, 500.0)
)
_drop = st.tuples(st.just("drop"), st.integers(0, N_NODE - 1))


@given(ops=st.lists(st.one_of(_push, _send, _relay, _drop), max_size=40))
def test_queue_accounting_invariants(ops):
    capacity = np.array([1000.0, 300.0, 600.0])
    dp = DataPath(capacity, n_task=len(ops))
    n_pushed = 0
    held: set[int] = set()  # ids of accepted packets neither delivered nor dropped
    for op in ops:
        if op[0] == "push":
            _, node, bits = op
            fits = bits <= dp.free_bits[node] + 1e-6
            pk = packet(bits, task=n_pushed)
            pk.source, pk.weight = node, 1.0 + n_pushed  # distinct weights per image
            assert dp.push(node, pk) == fits
            if fits:
                held.add(n_pushed)
            n_pushed += 1
        elif op[0] == "send":
            _, node, budget = op
            before = dp.queued_bits[node]
            done = dp.send(node, budget)
            assert before - dp.queued_bits[node] <= budget + BITS_ATOL
            assert all(p.bits_left == 0.0 for p in done)
            held -= {p.task for p in done}
        elif op[0] == "relay":
            _, src, dst, budget = op
            if src == dst:
                continue
            moved = dp.relay(src, dst, budget)
            tail = list(dp.queues[dst])[len(dp.queues[dst]) - len(moved) :]
            assert all(a is b for a, b in zip(tail, moved, strict=True))
            assert all(p.bits_left == p.bits_total for p in moved)
        else:
            held -= {p.task for p in dp.queues[op[1]]}
            dp.drop(op[1])
        # Every packet is in exactly one queue until it is delivered or dropped.
        ids = [p.task for q in dp.queues for p in q]
        assert sorted(ids) == sorted(held)
        # ... and counts as pending for its task exactly while it is on board.
        np.testing.assert_array_equal(np.flatnonzero(dp.pending), sorted(held))
        assert set(np.unique(dp.pending)) <= {0, 1}
        # ... and its weight counts for the node that took it, wherever it is now.
        by_source = np.zeros(N_NODE)
        for q in dp.queues:
            for p in q:
                by_source[p.source] += p.weight
        np.testing.assert_allclose(dp.weight_by_source, by_source, atol=1e-9)
        for node in range(N_NODE):
            np.testing.assert_allclose(dp.queued_bits[node], queue_sum(dp, node), atol=BITS_ATOL)
            for p in dp.queues[node]:
                assert 0.0 < p.bits_left <= p.bits_total
        assert np.all(dp.queued_bits >= -BITS_ATOL)
        assert np.all(dp.queued_bits <= capacity + BITS_ATOL)
        assert dp.lost_bits >= 0.0


def test_other_data_take_room_and_go_down_after_the_teams_packets():
    dp = DataPath(np.array([1000.0, 1000.0]), n_task=1)
    assert dp.store_other(np.array([600.0, 0.0])).tolist() == [600.0, 0.0]
    assert dp.push(0, packet(300.0))
    assert not dp.push(0, packet(200.0))  # 600 + 300 + 200 > 1000
    # Only the room left is stored: the operator does not overbook the recorder.
    assert dp.store_other(np.array([500.0, 0.0])).tolist() == [100.0, 0.0]
    assert dp.queued_bits[0] == 1000.0 and dp.team_bits[0] == 300.0
    # A downlink sends the team's packet first, then other data with the rest.
    done = dp.send(0, 350.0)
    assert len(done) == 1 and dp.pending[0] == 0
    assert dp.other_bits[0] == 650.0 and dp.queued_bits[0] == 650.0
    assert dp.other_sent_bits == 50.0
    # A relay moves only the team's packets: other data stay on their satellite.
    dp.push(0, packet(100.0))
    moved = dp.relay(0, 1, 1000.0)
    assert len(moved) == 1 and dp.queued_bits.tolist() == [650.0, 100.0]
    assert dp.drop(0) == 650.0 and dp.other_bits[0] == 0.0


def test_stations_serve_team_data_first_then_the_fullest_recorder():
    dp = DataPath(np.full(3, 1000.0), n_task=1)
    dp.store_other(np.array([900.0, 100.0, 0.0]))
    dp.push(1, packet(50.0))
    dp.push(2, packet(10.0))
    # Node 1 holds the most team data; node 2 some; node 0 only other data, but the most.
    assert np.argsort(-dp.downlink_priority()).tolist() == [1, 2, 0]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["push", "other", "send", "relay"]),
            st.integers(0, 1),
            st.floats(1.0, 400.0),
        ),
        max_size=40,
    )
)
def test_queued_bits_are_the_packets_plus_other_data(ops):
    dp = DataPath(np.array([1000.0, 700.0]), n_task=1)
    for op, node, bits in ops:
        if op == "push":
            dp.push(node, packet(bits))
        elif op == "other":
            stored = np.zeros(2)
            stored[node] = bits
            dp.store_other(stored)
        elif op == "send":
            dp.send(node, bits)
        else:
            dp.relay(node, 1 - node, bits)
        for n in range(2):
            assert dp.queued_bits[n] == pytest.approx(queue_sum(dp, n) + dp.other_bits[n],
                                                      abs=BITS_ATOL)  # fmt: skip
            assert dp.queued_bits[n] <= dp.capacity_bits[n] + BITS_ATOL
            assert dp.other_bits[n] >= 0.0
