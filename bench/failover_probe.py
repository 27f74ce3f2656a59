#!/usr/bin/python3
"""bench/failover_probe.py: the one client probe bench/failover_vs_patroni.sh uses for
every system (Patroni or Ward), so both are measured by the same client.

Every --interval-ms (default 50 ms) it STARTS a new attempt, whatever the earlier
ones are doing: `INSERT INTO bench_acked(id) VALUES (n)` through the service's address
(the HAProxy frontend), n = 1, 2, 3, ... (one id per attempt, never reused), each on
its own fresh autocommit connection with its own deadlines. Attempts overlap (at most
--in-flight-max at once; when that many hang, a new one waits for a slot and the gap
is visible in the ids' start times), so a recovery is seen within one interval of
when it happens, not after the previous attempt's timeout: a 454 ms switch reads as
about 0.45-0.5 s, not 1.1 s. One JSON line per attempt is appended to --out:

    {"id": n, "t0": <monotonic s at the attempt's start>, "t1": <at its end>,
     "ok": true|false, "port": <backend port that answered, on success>, "err": "..."}

"ok": true means ACKNOWLEDGED: the server returned success for the INSERT's commit.
Times are CLOCK_MONOTONIC (Python's time.monotonic() on Linux), the clock the driver
reads when it kills a node, so the two can be compared across processes.

Timeouts are enforced by the client, not the server: a SIGSTOPped (frozen) server runs
no statement_timeout and its kernel still ACKs TCP, so only a client-side deadline
ends the wait. psycopg2's asynchronous mode is driven with select() over every attempt
in flight, each against its own deadlines: connect (--connect-timeout-ms, default
1000) and statement (--statement-timeout-ms, default 1000).

One trap this avoids: when a commit waiting for synchronous replication is cancelled
(statement_timeout, pg_cancel_backend), PostgreSQL still returns COMMIT success with
only a WARNING ("canceling wait for synchronous replication ... committed locally, but
might not have been replicated"). Such a write is NOT counted as acknowledged here (it
would be reported lost by a failover that is behaving correctly); it is recorded with
"ok": false, "err": "sync-rep-cancelled". No server-side statement_timeout is set for
the same reason: the client gives up on its own and never reports that write.

Runs until SIGTERM/SIGINT or --duration-s (a bound: default 4 h).
"""

import argparse
import json
import os
import select
import signal
import sys
import time

import psycopg2
import psycopg2.extensions as ext


class Timeout(Exception):
    pass


class Attempt:
    """One INSERT on its own connection, driven step by step without blocking."""

    def __init__(self, n, dsn, connect_s, statement_s):
        self.rec = {"id": n, "t0": time.monotonic()}
        self.statement_s = statement_s
        self.deadline = self.rec["t0"] + connect_s
        self.cur = None
        self.conn = psycopg2.connect(dsn, async_=1)

    def fileno(self):
        return self.conn.fileno()

    def step(self):
        """Advances the attempt; returns the poll state, or None once finished."""
        state = self.conn.poll()
        if state != ext.POLL_OK:
            return state
        if self.cur is None:  # connected: send the INSERT, its own deadline starts now
            del self.conn.notices[:]
            self.cur = self.conn.cursor()
            self.cur.execute("INSERT INTO bench_acked(id) VALUES (%s) RETURNING inet_server_port()", (self.rec["id"],))
            self.deadline = time.monotonic() + self.statement_s
            return self.step()
        port = self.cur.fetchone()[0]
        if any("synchronous replication" in m for m in self.conn.notices):
            self.rec.update(ok=False, err="sync-rep-cancelled", port=port)
        else:
            self.rec.update(ok=True, port=port)
        return None

    def fail(self, e):
        self.rec.update(ok=False, err=(str(e).strip().splitlines() or [type(e).__name__])[0][:200])

    def close(self):
        self.rec["t1"] = time.monotonic()
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", required=True, help="libpq DSN of the service's address (the frontend)")
    ap.add_argument("--out", required=True, help="JSON lines, one per attempt")
    ap.add_argument("--interval-ms", type=int, default=50)
    ap.add_argument("--connect-timeout-ms", type=int, default=1000)
    ap.add_argument("--statement-timeout-ms", type=int, default=1000)
    ap.add_argument("--in-flight-max", type=int, default=40)
    ap.add_argument("--start-id", type=int, default=1)
    ap.add_argument("--duration-s", type=float, default=4 * 3600)
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    out = open(args.out, "a", buffering=1)
    interval = args.interval_ms / 1000.0
    ct, st = args.connect_timeout_ms / 1000.0, args.statement_timeout_ms / 1000.0
    n = args.start_id - 1
    started = time.monotonic()
    next_at = started
    flight = {}  # attempt -> its last poll state

    def finish(a):
        a.close()
        flight.pop(a, None)
        out.write(json.dumps(a.rec) + "\n")

    def advance(a):
        try:
            state = a.step()
        except Exception as e:  # every failure, whatever it is, is a failed attempt
            a.fail(e)
            state = None
        if state is None:
            finish(a)
        else:
            flight[a] = state

    while not stop and time.monotonic() - started < args.duration_s:
        now = time.monotonic()
        if now >= next_at and len(flight) < args.in_flight_max:
            next_at += interval
            if next_at < now:  # no burst to catch up after waiting for a slot
                next_at = now + interval
            n += 1
            try:
                advance(Attempt(n, args.dsn, ct, st))
            except Exception as e:  # the connection could not even start
                rec = {"id": n, "t0": now, "t1": time.monotonic(), "ok": False,
                       "err": (str(e).strip().splitlines() or [type(e).__name__])[0][:200]}
                out.write(json.dumps(rec) + "\n")
        for a in [a for a in flight if time.monotonic() >= a.deadline]:
            a.fail(Timeout("timeout"))
            finish(a)
        reads = [a for a, s in flight.items() if s == ext.POLL_READ]
        writes = [a for a, s in flight.items() if s == ext.POLL_WRITE]
        wait_s = max(0.0, min([next_at - time.monotonic()] + [a.deadline - time.monotonic() for a in flight]))
        if not reads and not writes:
            time.sleep(min(wait_s, interval))
            continue
        r, w, _ = select.select(reads, writes, [], min(wait_s, interval))
        for a in set(r) | set(w):
            if a in flight:
                advance(a)
    for a in list(flight):
        a.fail(Timeout("probe stopped"))
        finish(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
