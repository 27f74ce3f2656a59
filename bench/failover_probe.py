#!/usr/bin/python3
"""bench/failover_probe.py: the one client probe bench/failover_vs_patroni.sh uses for
every system (Patroni or Ward), so both are measured by the same client.

Every --interval-ms (default 50 ms) it runs `INSERT INTO bench_acked(id) VALUES (n)`
through the service's address (the HAProxy frontend), n = 1, 2, 3, ... (one id per
attempt, never reused), on an autocommit connection, and appends one JSON line per
attempt to --out:

    {"id": n, "t0": <monotonic s at the attempt's start>, "t1": <at its end>,
     "ok": true|false, "port": <backend port that answered, on success>, "err": "..."}

"ok": true means ACKNOWLEDGED: the server returned success for the INSERT's commit.
Times are CLOCK_MONOTONIC (Python's time.monotonic() on Linux), the clock the driver
reads when it kills a node, so the two can be compared across processes.

Timeouts are enforced by the client, not the server: a SIGSTOPped (frozen) server runs
no statement_timeout and its kernel still ACKs TCP, so only a client-side deadline
ends the wait. psycopg2's asynchronous mode is driven with select() against one
deadline per phase: connect (--connect-timeout-ms, default 1000) and statement
(--statement-timeout-ms, default 1000). Any error or timeout closes the connection;
the next attempt opens a fresh one.

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


def wait(conn, deadline):
    """Drive an asynchronous psycopg2 connection until its current operation is done."""
    while True:
        state = conn.poll()
        if state == ext.POLL_OK:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout("timeout")
        fd = conn.fileno()
        if state == ext.POLL_READ:
            r, _, _ = select.select([fd], [], [], left)
        elif state == ext.POLL_WRITE:
            _, r, _ = select.select([], [fd], [], left)
        else:
            raise psycopg2.OperationalError(f"poll state {state}")
        if not r and time.monotonic() >= deadline:
            raise Timeout("timeout")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dsn", required=True, help="libpq DSN of the service's address (the frontend)")
    ap.add_argument("--out", required=True, help="JSON lines, one per attempt")
    ap.add_argument("--interval-ms", type=int, default=50)
    ap.add_argument("--connect-timeout-ms", type=int, default=1000)
    ap.add_argument("--statement-timeout-ms", type=int, default=1000)
    ap.add_argument("--start-id", type=int, default=1)
    ap.add_argument("--duration-s", type=float, default=4 * 3600)
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    out = open(args.out, "a", buffering=1)
    interval = args.interval_ms / 1000.0
    ct, st = args.connect_timeout_ms / 1000.0, args.statement_timeout_ms / 1000.0
    conn = None
    n = args.start_id - 1
    started = time.monotonic()
    next_at = started
    while not stop and time.monotonic() - started < args.duration_s:
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
            continue
        next_at += interval
        if next_at < time.monotonic():  # fell behind (a long timeout): no burst to catch up
            next_at = time.monotonic() + interval
        n += 1
        rec = {"id": n, "t0": time.monotonic()}
        try:
            if conn is None:
                conn = psycopg2.connect(args.dsn, async_=1)
                wait(conn, rec["t0"] + ct)
            del conn.notices[:]
            cur = conn.cursor()
            cur.execute("INSERT INTO bench_acked(id) VALUES (%s) RETURNING inet_server_port()", (n,))
            wait(conn, time.monotonic() + st)
            port = cur.fetchone()[0]
            if any("synchronous replication" in m for m in conn.notices):
                rec.update(ok=False, err="sync-rep-cancelled", port=port)
            else:
                rec.update(ok=True, port=port)
        except Exception as e:  # every failure, whatever it is, is a failed attempt
            rec.update(ok=False, err=(str(e).strip().splitlines() or [type(e).__name__])[0][:200])
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
        rec["t1"] = time.monotonic()
        out.write(json.dumps(rec) + "\n")
    if conn is not None:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
