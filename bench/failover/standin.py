#!/usr/bin/python3
"""bench/failover/standin.py: a NAIVE stand-in controller for the `ward` system of
bench/failover_vs_patroni.sh, to check the bench's Ward-side plumbing (scripts/db-up.sh's
cluster, the HAProxy runtime socket, scripts/pg-rejoin.sh, the health and lost-write
checks) before Ward's postgres and haproxy hooks exist. It is NOT Ward and its figures are
not Ward's: it is selected with `--ward-standin` and reported as the system `standin`.

What it does, the way the inventory asks Ward to: every 250 ms it connects to each node
(1 s connect timeout, 200 ms budget per query) and asks pg_is_in_recovery(). The primary
counts as down after 2 consecutive refused/failed connections, or after 32 consecutive
timeouts (8 s: the grace a frozen server gets). Then it promotes the reachable standby with
the highest replay LSN (pg_promote), points the other standby at it (primary_conninfo,
primary_slot_name, reload), and sets HAProxy's servers through the runtime API socket: the
new primary `ready`, the others `maint`, and shuts the old one's sessions. No fencing, no
quorum, no journal. Runs until SIGTERM.
"""

import argparse
import signal
import socket
import sys
import time

import psycopg2

DIRS = ["primary", "standby1", "standby2"]


def haproxy(sock_path, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(sock_path)
    s.sendall((cmd + "\n").encode())
    out = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    s.close()
    return out.decode().strip()


def query(port, q, timeout_ms=1000):
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password="ward", dbname="postgres",
                            connect_timeout=1, options=f"-c statement_timeout={timeout_ms}")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(q)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def log(msg):
    print(f"{time.strftime('%H:%M:%S')} standin: {msg}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--backend", default="ward_pg")
    ap.add_argument("--ports", default="26432,26433,26434")
    args = ap.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    holder = 0
    refused = timeouts = 0
    while not stop:
        t = time.monotonic()
        try:
            t0 = time.monotonic()
            query(ports[holder], "SELECT 1")
            refused = timeouts = 0
        except psycopg2.OperationalError as e:
            if "timeout" in str(e) or time.monotonic() - t0 >= 0.9:
                timeouts += 1
            else:
                refused += 1
        if refused >= 2 or timeouts >= 32:
            log(f"pg{holder + 1} down ({refused} refused, {timeouts} timeouts)")
            best = None
            for i, port in enumerate(ports):
                if i == holder:
                    continue
                try:
                    rec, lsn = query(port, "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn() - '0/0'::pg_lsn")[0]
                    if rec and (best is None or lsn > best[1]):
                        best = (i, lsn)
                except psycopg2.Error:
                    pass
            if best is None:
                log("no standby to promote")
            else:
                new = best[0]
                query(ports[new], "SELECT pg_promote(true, 30)", timeout_ms=35000)
                for i, port in enumerate(ports):
                    if i in (new, holder):
                        continue
                    try:
                        query(ports[new], f"SELECT pg_create_physical_replication_slot('{DIRS[i]}') WHERE NOT EXISTS "
                                          f"(SELECT 1 FROM pg_replication_slots WHERE slot_name = '{DIRS[i]}')")
                        query(port, f"ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port={ports[new]} "
                                    f"user=postgres password=ward application_name={DIRS[i]}'")
                        query(port, f"ALTER SYSTEM SET primary_slot_name = '{DIRS[i]}'")
                        query(port, "SELECT pg_reload_conf()")
                    except psycopg2.Error as e:
                        log(f"repoint pg{i + 1}: {e}")
                haproxy(args.socket, f"set server {args.backend}/pg{new + 1} state ready")
                for i in range(len(ports)):
                    if i != new:
                        haproxy(args.socket, f"set server {args.backend}/pg{i + 1} state maint")
                haproxy(args.socket, f"shutdown sessions server {args.backend}/pg{holder + 1}")
                log(f"promoted pg{new + 1}, HAProxy points at it")
                holder = new
            refused = timeouts = 0
        time.sleep(max(0.0, 0.25 - (time.monotonic() - t)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
