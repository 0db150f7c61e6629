"""A second thread for the end-of-epoch costs of the compiled small-network loops.

For a tiny network the cost on the whole set after every epoch takes a quarter of the run (the
paper's 2-2-3-2 example: 10 forward passes per 10 single-point steps). The cost of epoch e needs
only the parameters at its end, so a second thread can compute it while the first trains epoch
e + 1. The training thread (the *trainer*) copies the parameters and optimiser state at the end
of each epoch into a ring of :data:`SLOTS` snapshots and goes on; the cost thread computes the
costs of each snapshot in turn, records them and the last finite parameters, and says where a
cost is not finite. The trainer then stops and goes back to that epoch's snapshot, so the run
ends as the one-thread loop ends: same parameters, optimiser state, costs and step count, bit
for bit (both threads run the same code on the same numbers).

The cost thread also draws the epochs' row orders (:mod:`mlplab.engine.orders`), up to
:data:`SLOTS` epochs ahead of the trainer, into a ring the trainer reads: the draws, 5% of an
epoch of the paper's example, leave the training thread. The generator is then the cost
thread's alone, and it makes the one-thread loop's draws in the same order. After a stop on a
non-finite cost the generator has drawn the orders of the epochs past it (at most
2 · :data:`SLOTS`): the trainer runs at most :data:`SLOTS` epochs ahead of the costs, the draws
at most :data:`SLOTS` ahead of the trainer.

The two threads are the two iterations of a Numba ``prange`` region and talk through a small
int64 array, ``state`` (:mod:`mlplab.engine.atomics`). Each thread's counts sit on cache lines
of their own, and the trainer rereads the cost thread's counts only when its last reading says
that it must wait: reading a line that the other thread has just written costs a transfer
between the cores, and two such reads an epoch took a twentieth of the paper's example. The
threads wait for each other by spinning, so the region must run both iterations at once (see
:func:`mlplab.engine.threads.two_at_once`).
Should it not, the trainer finds no partner (:func:`~mlplab.engine.atomics.partner`) and trains
alone, computing the costs itself, and the cost thread, when it starts, finds that and returns.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mlplab.engine.atomics import JOINED, load, pause, store
from mlplab.engine.orders import epoch_order, order_length

#: Snapshots the trainer may run ahead of the cost thread.
SLOTS = 8
# state[...], each group a cache line (8 int64) from the next, so that a thread's writes do not
# evict the line the other reads: whether the cost thread joined (mlplab.engine.atomics); epochs
# published (the trainer writes); epochs costed and stop (e + 1) (the cost thread writes);
# epochs whose row orders are drawn (the cost thread writes); the trainer's last reads of the
# costed and drawn counts (the trainer's own line: it rereads the counts only when these say
# it must wait).
_PUBLISHED = JOINED + 8
_COSTED, _STOP = JOINED + 16, JOINED + 17
_DRAWN = JOINED + 24
_SEEN_COSTED, _SEEN_DRAWN = JOINED + 32, JOINED + 33


def new_state() -> np.ndarray:
    """A fresh ``state`` array for one call of a compiled loop."""
    return np.zeros(_SEEN_DRAWN + 1, np.int64)


@njit(cache=True, nogil=True)
def ring(params, n, batch_size, shuffle):
    """Room for :data:`SLOTS` snapshots of the parameters and the optimiser state (m, v, each
    of the parameters' shape as the compiled loops keep them), their step counts, and the row
    orders of :data:`SLOTS` epochs over ``n`` rows: shapes (SLOTS, 3, p), (SLOTS,),
    (SLOTS, :func:`~mlplab.engine.orders.order_length`)."""
    return (np.empty((SLOTS, 3, params.shape[0]), params.dtype), np.empty(SLOTS, np.int64),
            np.empty((SLOTS, order_length(n, batch_size, shuffle)), np.int64))  # fmt: skip


@njit(cache=True, nogil=True)
def no_ring(params):
    """An empty ``state`` and ring: for a loop that computes its costs itself."""
    dt = params.dtype
    return (np.zeros(0, np.int64), np.empty((0, 3, params.shape[0]), dt), np.empty(0, np.int64),
            np.empty((0, 0), np.int64))  # fmt: skip


@njit(cache=True, nogil=True)
def _copy(src, dst):
    for k in range(src.shape[0]):  # element by element: no shape check with its message
        dst[k] = src[k]


@njit(cache=True, nogil=True)
def _reach(state, count, seen, target):
    """The trainer: wait until the cost thread's ``state[count]`` is at least ``target``.
    Its last reading, ``state[seen]``, answers first; only where that is short does it read
    the count (a cache line the other thread writes) again, and keep the reading. Returns 0,
    or the stop mark should the cost thread stop the run meanwhile."""
    if state[seen] >= target:
        return 0
    while True:
        now = load(state, count)
        if now >= target:
            state[seen] = now
            return 0
        stop = load(state, _STOP)
        if stop != 0:
            return stop
        pause()


@njit(cache=True, nogil=True)
def publish(state, snaps, steps, e, params, m, v, t):
    """The trainer, after epoch ``e``: snapshot its parameters and state for the cost thread
    (once there is room in the ring). Returns 0 (go on), or the stop mark (the epochs the run
    takes, see :func:`finish`) that it found while it waited for room: a trainer that does not
    wait goes on, at most :data:`SLOTS` epochs past a stop, and then waits."""
    stop = _reach(state, _COSTED, _SEEN_COSTED, e - SLOTS + 1)
    if stop != 0:
        return stop
    slot = e % SLOTS
    _copy(params, snaps[slot, 0])
    _copy(m, snaps[slot, 1])
    _copy(v, snaps[slot, 2])
    steps[slot] = t[0]
    store(state, _PUBLISHED, e + 1)
    return 0


@njit(cache=True, nogil=True)
def finish(state, snaps, steps, epochs, params, m, v, t):
    """The trainer, done or stopped: wait for the cost thread's last word; after a non-finite
    cost, go back to that epoch's snapshot. Returns the epochs run."""
    while True:
        stop = load(state, _STOP)
        if stop != 0:
            slot = (stop - 1) % SLOTS
            _copy(snaps[slot, 0], params)
            _copy(snaps[slot, 1], m)
            _copy(snaps[slot, 2], v)
            t[0] = steps[slot]
            return stop
        if load(state, _COSTED) == epochs:
            return epochs
        pause()


@njit(cache=True, nogil=True)
def wait_for(state, e, rng, n, shuffle, orders, epochs):
    """The cost thread: wait until epoch ``e``'s snapshot is published, drawing meanwhile the
    row orders the trainer will need (:func:`draw_ahead`); its slot. The spin calls
    :func:`draw_ahead` only when there is an order to draw: a call counts references to its
    arrays, atomic operations on cache lines that the trainer's calls touch too."""
    while True:
        published = load(state, _PUBLISHED)
        if state[_DRAWN] < _draw_limit(published, epochs):
            draw_ahead(state, rng, n, shuffle, orders, epochs)
        if published > e:
            return e % SLOTS
        pause()


@njit(cache=True, nogil=True)
def _draw_limit(published, epochs):
    """How many epochs' row orders the cost thread may have drawn once the trainer has
    published ``published`` epochs: :data:`SLOTS` more, up to the run's ``epochs``."""
    return min(epochs, published + SLOTS)


@njit(cache=True, nogil=True)
def draw_ahead(state, rng, n, shuffle, orders, epochs):
    """The cost thread: draw the row orders of the next epochs, up to the run's ``epochs``,
    into the slots that the trainer is done with (epoch d's slot once it has published epoch
    d − SLOTS). While the two threads run together the generator is this thread's alone, so
    the draws are those of the one-thread loop, in the same order."""
    drawn = state[_DRAWN]  # written by this thread only
    limit = _draw_limit(load(state, _PUBLISHED), epochs)
    while drawn < limit:
        epoch_order(rng, n, shuffle, orders[drawn % SLOTS])
        drawn += 1
        store(state, _DRAWN, drawn)


@njit(cache=True, nogil=True)
def next_order(together, state, e, rng, n, shuffle, own, orders):
    """The trainer, before epoch ``e``: its row order. Alone, drawn here into ``own``
    (:func:`~mlplab.engine.orders.order_buffer`); ``together``, the cost thread's draw
    (:func:`draw_ahead`), once it is there, or an empty order where the cost thread has
    stopped the run meanwhile."""
    if not together:
        epoch_order(rng, n, shuffle, own)
        return own
    if _reach(state, _DRAWN, _SEEN_DRAWN, e + 1) != 0:
        return own[:0]
    return orders[e % SLOTS]


@njit(cache=True, nogil=True)
def costed(state, e, finite):
    """The cost thread, epoch ``e``'s costs recorded: go on (``finite``) or stop the run there.
    Whether to go on."""
    if finite:
        store(state, _COSTED, e + 1)
    else:
        store(state, _STOP, e + 1)
    return finite
