"""The work side of the durable inbox: record what the ingress acknowledges, claim, work, finish.

``Inbox.accept`` records a request in ``inbox_events`` (:mod:`store.inbox`) and
answers only once the record has committed, so an ack means the request survives
a crash of either process. Requests arriving together are recorded in one
transaction (whatever came while the previous one committed): one commit per
batch, not per request, under a burst.

Recorded requests are claimed from the store, not from memory, by whichever replica
gets there first: after a burst (once no new request has come for ``quiet`` seconds,
or the oldest has waited ``max_wait``), and every ``poll`` seconds for the others'
leftovers. At most ``capacity`` clicks and ``capacity`` other requests are held at a
time (someone is looking at a button: clicks do not wait behind a burst of messages),
each under a lease renewed while it runs; a replica that dies stops renewing, and
another claims its rows once the lease runs out. A request whose run fails is finished
all the same (the failure was answered to the employee); one that was claimed
``MAX_ATTEMPTS`` times without finishing (it took its replica down each time) is given
up, with a log line.

``stop`` ends claiming, lets what runs finish within its grace and hands the rest
back for another replica; what the ingress still records meanwhile stays queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from actions.turns import start_turn
from bot.slack.server import Accepted
from config import metrics
from config.logging import get_logger
from store.inbox import CLICK, Claimed, InboxState, InboxStore, Incoming
from store.leases import new_holder

log = get_logger("helpdesk.inbox")

RECORD_TIMEOUT = 2.0  # seconds a record may take before the ingress answers 503
RECORD_ATTEMPTS = 3  # writes of one batch within that time, when one fails fast
LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 3

Run = Callable[[dict[str, Any]], Awaitable[Any]]


def kind_of(key: str) -> str:
    """The inbox key's kind: ``event``, ``action``, ``command`` or ``body``."""
    return key.split(":", 1)[0][:32]


class Recorder:
    """Records requests about to be acknowledged, many per transaction (the ack's path).

    Used where the requests arrive: in the HTTP ingress process (with its own connection
    to the store) and in the work process for Socket Mode. ``on_new`` is called after a
    batch that recorded something new (to have it claimed soon); ``on_click`` instead,
    when given, after a batch that recorded a new click (to have it claimed at once).
    """

    def __init__(
        self,
        store: InboxStore,
        on_new: Callable[[], None],
        record_timeout: float = RECORD_TIMEOUT,
        on_click: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.on_new = on_new
        self.on_click = on_click
        self.record_timeout = record_timeout
        self._pending: list[tuple[Incoming, asyncio.Future[Accepted]]] = []
        self._recorder: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[Any]] = set()  # records past their time, still running

    async def accept(self, key: str, payload: bytes, retry: int = 0) -> Accepted:
        """Record one request; ``NEW``/``DUPLICATE`` once committed, ``FAILED`` otherwise."""
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        item = Incoming(key, kind_of(key), payload.decode("utf-8"))
        self._pending.append((item, future))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record())
        try:
            # Its own deadline, from its arrival: a batch stuck ahead of it must not make
            # it wait for that batch's time and then its own (past Slack's 3 seconds).
            outcome = await asyncio.wait_for(asyncio.shield(future), self.record_timeout)
        except TimeoutError:
            log.error("inbox_record_failed", error="timeout", requests=1)
            return Accepted.FAILED
        if outcome is Accepted.DUPLICATE:
            log.info("duplicate_request_dropped", key=key, retry=retry)
            metrics.received("duplicate")
        return outcome

    async def _record(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            items = [item for item, _ in batch]
            deadline = loop.time() + self.record_timeout
            outcomes: list[Accepted] | None = None
            error = "timeout"
            # A write that fails fast (a connection the server closed: a failover, an idle
            # timeout) is tried again on a fresh connection while there is time.
            for _attempt in range(RECORD_ATTEMPTS):
                left = deadline - loop.time()
                if left <= 0:
                    break
                write = asyncio.create_task(self.store.record(items))
                self._writes.add(write)
                write.add_done_callback(self._write_over)
                done, _ = await asyncio.wait({write}, timeout=left)
                if not done or write.cancelled():
                    # Left to finish on its own (cancelling a write half-way helps nobody):
                    # if it commits after all, Slack's retry finds the row and adds nothing.
                    error = "timeout"
                    break
                failure = write.exception()
                if failure is None:
                    outcomes = [Accepted.NEW if new else Accepted.DUPLICATE
                                for new in write.result()]
                    break
                error = type(failure).__name__
            if outcomes is None:
                log.error("inbox_record_failed", error=error, requests=len(batch))
                outcomes = [Accepted.FAILED] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
            new = [item for item, outcome in zip(items, outcomes, strict=True)
                   if outcome is Accepted.NEW]
            if new and self.on_click is not None and any(i.kind == CLICK for i in new):
                self.on_click()
            elif new:
                self.on_new()

    def _write_over(self, task: asyncio.Task[Any]) -> None:
        self._writes.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a late failure was logged when it was late

    async def settle(self, limit: float) -> None:
        """Wait (up to ``limit`` seconds) for the requests being recorded, and late writes."""
        busy = set(self._writes)
        if self._recorder is not None and not self._recorder.done():
            busy.add(self._recorder)
        if busy:
            await asyncio.wait(busy, timeout=max(0.0, limit))


class Inbox:
    """Records acknowledged requests and works on recorded ones, once, across replicas."""

    def __init__(
        self,
        store: InboxStore,
        run: Run,
        *,
        capacity: int = 32,
        lease: timedelta = LEASE,
        quiet: float = 0.05,
        max_wait: float = 0.5,
        poll: float = 1.0,
        record_timeout: float = RECORD_TIMEOUT,
    ) -> None:
        self.store = store
        self.run = run
        self.owner = new_holder()
        self.capacity = capacity
        self.lease = lease
        self.quiet, self.max_wait, self.poll = quiet, max_wait, poll
        self.recorder = Recorder(store, lambda: self.arrived(True), record_timeout)
        self.stopping = False
        self._held: dict[int, asyncio.Task[None]] = {}
        self._lanes: dict[int, bool] = {}  # held row -> is it a click
        self._done: list[int] = []
        self._finisher: asyncio.Task[None] | None = None
        self._claiming: asyncio.Task[None] | None = None
        self._again = False
        self._timer: asyncio.TimerHandle | None = None
        self._oldest = 0.0
        self._poller: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None

    # -- recording (Socket Mode, and tests serving HTTP in one process) --------------------
    async def accept(self, key: str, payload: bytes, retry: int = 0) -> Accepted:
        """Record one request; ``NEW``/``DUPLICATE`` once committed, ``FAILED`` otherwise."""
        self._hold_claims()
        return await self.recorder.accept(key, payload, retry)

    def arrived(self, recorded: bool, *, click: bool = False) -> None:
        """A request is arriving (False) or was recorded, maybe by another process (True).

        ``click``: a click was recorded by the HTTP ingress process, where the acks are:
        it is claimed at once (someone is looking at the button, and claiming here
        takes nothing from the acks), with whatever else is waiting.
        """
        if recorded and click:
            self.claim_now()
        elif recorded:
            self._soon()
        else:
            self._hold_claims()

    def _hold_claims(self) -> None:
        """A request is arriving: push a claim that is due back to ``quiet`` from now (never
        past ``max_wait`` after the first): work started mid-burst slows the burst's acks."""
        if self._timer is not None:
            self._soon()

    # -- claiming and working ------------------------------------------------------------
    def _soon(self) -> None:
        """Claim once the burst is over: ``quiet`` after the last record, ``max_wait`` at most.

        Claiming mid-burst would start conversations on the cores the burst's acks need.
        """
        loop = asyncio.get_running_loop()
        if self._timer is None:
            self._oldest = loop.time()
        else:
            self._timer.cancel()
        left = self._oldest + self.max_wait - loop.time()
        self._timer = loop.call_later(max(0.0, min(self.quiet, left)), self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.claim_now()

    def claim_now(self) -> None:
        """Claim what this replica can take now (or right after the round in progress)."""
        if self.stopping:
            return
        if self._claiming is not None and not self._claiming.done():
            self._again = True
            return
        self._claiming = asyncio.create_task(self._claim())

    async def _claim(self) -> None:
        """Claim into two lanes of ``capacity`` each: clicks, and everything else."""
        self._again = True
        while self._again and not self.stopping:
            self._again = False
            for clicks in (True, False):
                held = sum(1 for lane in self._lanes.values() if lane is clicks)
                room = self.capacity - held
                if room <= 0:
                    continue  # a finishing row claims again
                try:
                    rows = await self.store.claim(self.owner, self.lease, room, clicks=clicks)
                except Exception as exc:
                    log.warning("inbox_claim_failed", error=type(exc).__name__)
                    return
                for row in rows:
                    self._lanes[row.id] = clicks
                    self._start(row)
                if len(rows) == room:
                    self._again = True  # there may be more
        self._ensure_renewer()

    def _start(self, row: Claimed) -> None:
        if row.attempts > MAX_ATTEMPTS:
            log.error("inbox_request_given_up", key=row.key, attempts=row.attempts - 1)
            self._held[row.id] = asyncio.create_task(self._give_up(row))
        else:
            self._held[row.id] = asyncio.create_task(self._work(row))

    async def _give_up(self, row: Claimed) -> None:
        try:
            await self.store.finish(self.owner, [row.id], InboxState.DEAD)
        except Exception as exc:
            log.warning("inbox_finish_failed", error=type(exc).__name__)
        self._held.pop(row.id, None)
        self._lanes.pop(row.id, None)

    async def _work(self, row: Claimed) -> None:
        started = time.perf_counter()
        try:
            payload = json.loads(row.payload)
            # The outbox keys this request's messages by it (``bot.slack.outbox.message``).
            start_turn(row.key)
            await self.run(payload)
        except asyncio.CancelledError:
            raise  # handed back by ``stop``
        except Exception as exc:  # answered by the surface's own handlers where it could be
            log.error("inbox_run_failed", key=row.key, error=type(exc).__name__)
        took = round(time.perf_counter() - started, 3)
        log.debug("inbox_request_done", key=row.key, seconds=took)
        self._done.append(row.id)
        if self._finisher is None or self._finisher.done():
            self._finisher = asyncio.create_task(self._finish())

    async def _finish(self) -> None:
        """Mark finished rows done, many per transaction; retried while the store is down."""
        delay = 0.1
        while self._done:
            batch = list(self._done)
            try:
                await self.store.finish(self.owner, batch)
            except Exception as exc:
                log.warning("inbox_finish_failed", error=type(exc).__name__, requests=len(batch))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.1
            for row_id in batch:
                self._done.remove(row_id)
                self._held.pop(row_id, None)
                self._lanes.pop(row_id, None)
            self.claim_now()

    def _ensure_renewer(self) -> None:
        if self._held and (self._renewer is None or self._renewer.done()):
            self._renewer = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        """Keep the lease of every row held while any is held (during ``stop``'s grace too)."""
        every = self.lease.total_seconds() / 3
        while any(not t.done() for t in self._held.values()):
            await asyncio.sleep(every)
            ids = [i for i in self._held if i not in self._done]
            try:
                kept = await self.store.renew(self.owner, ids, self.lease)
            except Exception as exc:
                log.warning("inbox_renew_failed", error=type(exc).__name__)
                continue
            if kept < len(ids):
                log.warning("inbox_leases_lost", held=len(ids), kept=kept)

    async def poll_forever(self) -> None:
        """Claim every ``poll`` seconds: other replicas' hand-backs, dead replicas' rows."""
        while not self.stopping:
            self.claim_now()
            await asyncio.sleep(self.poll)

    def start(self) -> None:
        """Start polling (the running bot; tests may rely on ``accept``'s own claims)."""
        if self._poller is None:
            self._poller = asyncio.create_task(self.poll_forever())

    @property
    def held(self) -> int:
        return len(self._held)

    # -- shutting down --------------------------------------------------------------------
    async def drain(self, grace: float = 10.0) -> None:
        """Claim and finish everything recorded by now, within ``grace`` (tests, shutdown)."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            await self.recorder.settle(deadline - time.monotonic())
            if self._timer is not None:
                self._timer.cancel()
                self._fire()
            busy = {t for t in (self._claiming, self._finisher) if t is not None and not t.done()}
            busy |= {t for t in self._held.values() if not t.done()}
            if not busy:
                return
            await asyncio.wait(busy, timeout=max(0.0, deadline - time.monotonic()))

    async def stop(self, grace: float = 20.0) -> None:
        """Stop claiming; let what runs finish within ``grace``; hand the rest back."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.stopping = True
        for task in (self._poller, self._claiming):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        running = [t for t in self._held.values() if not t.done()]
        if running:
            await asyncio.wait(running, timeout=grace)
        left = [i for i, t in self._held.items() if not t.done()]
        for row_id in left:
            self._held[row_id].cancel()
        if self._held:
            await asyncio.wait(set(self._held.values()), timeout=5)
        if self._finisher is not None and not self._finisher.done():
            await asyncio.wait({self._finisher}, timeout=5)
        if self._renewer is not None:
            self._renewer.cancel()
        if left:
            try:
                handed = await self.store.hand_back(self.owner, left)
                log.info("inbox_handed_back", requests=handed)
            except Exception as exc:  # their leases run out: another replica takes them then
                log.warning("inbox_hand_back_failed", error=type(exc).__name__, requests=len(left))
