#!/usr/bin/python3
"""bench/failover/driver.py: the driver behind bench/failover_vs_patroni.sh (run that).

Builds the same PostgreSQL 15 topology (a primary and two streaming standbys on
127.0.0.1, synchronous replication) once per system, fronted by the same HAProxy,
crashes the primary under a pgbench write load --trials times, freezes it --freezes
times, and measures everything through one shared client probe
(bench/failover_probe.py). See the header of bench/failover_vs_patroni.sh for what each
number means. Runs as root; the databases and Patroni run as the postgres user.
"""

import argparse
import csv
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

import psycopg2

PG_BIN = "/usr/lib/postgresql/15/bin"
PASSWORD = "ward"  # test-only credentials; everything listens on 127.0.0.1 only
AS_PG = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "env", "HOME=/var/lib/postgresql"]

# Patroni's timing settings. Defaults: Patroni's own (config.py __DEFAULT_CONFIG:
# ttl 30, loop_wait 10, retry_timeout 10). Tuned: the minimums its documentation
# allows (docs/dynamic_configuration.rst: "loop_wait ... minimum possible value: 1",
# "ttl ... minimum possible value: 20", "retry_timeout ... minimum possible value: 3",
# under the rule loop_wait + 2 * retry_timeout <= ttl). Patroni >= 3.0.3 enforces the
# same minimums in code (patroni/config.py, Config._validate_and_adjust_timeouts:
# "loop_wait: 1 second; retry_timeout: 3 seconds; ttl: 20 seconds", smaller values are
# raised with a warning); Debian 12's Patroni 3.0.2 predates that check and would run
# with smaller values, but that is outside what Patroni supports, so it is not used.
# HAProxy: Patroni's documented pattern (its haproxy.cfg example: OPTIONS /primary,
# expect 200, inter 3s fall 3 rise 2, on-marked-down shutdown-sessions) at defaults;
# tuned, the fastest checks that still mean something: every 500 ms, down after 2
# failures, up after 1 success (one success is already Patroni's word that it holds
# the leader key).
PATRONI = {
    "patroni-default": {"ttl": 30, "loop_wait": 10, "retry_timeout": 10,
                        "haproxy": "inter 3s fall 3 rise 2"},
    "patroni-tuned": {"ttl": 20, "loop_wait": 1, "retry_timeout": 3,
                      "haproxy": "inter 500ms fall 2 rise 1"},
    # Not in the default set: tuned without synchronous_mode_strict, to see what strict
    # costs Patroni (a new primary may then take writes before any standby follows it).
    "patroni-tuned-nonstrict": {"ttl": 20, "loop_wait": 1, "retry_timeout": 3,
                                "haproxy": "inter 500ms fall 2 rise 1", "strict": False},
}

PATRONI_PG_PORTS = [25432, 25433, 25434]
PATRONI_REST_PORTS = [28008, 28009, 28010]
PATRONI_FRONTEND = 25000
ETCD_CLIENT, ETCD_PEER = 23790, 23800
WARD_PG_PORTS = [26432, 26433, 26434]
WARD_DIRS = ["primary", "standby1", "standby2"]  # scripts/db-up.sh's names for pg1..pg3
WARD_FRONTEND = 26000
WARD_API = "127.0.0.1:26080"
# Ward's sync setting: every node's name is listed, because roles rotate in this bench
# (after the first failover "primary" is a standby of "standby1"); a server ignores its
# own name. ANY 1: a commit waits for one standby, whichever.
WARD_SYNC = "ANY 1 (primary, standby1, standby2)"

T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


class BenchError(Exception):
    pass


def wait_until(what, fn, timeout, every=0.25):
    """Polls fn() until it returns something truthy; bounded by timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - a poll that fails is "not yet"
            last = e
        time.sleep(every)
    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last})" if last else ""))


def sql(port, query, params=None, timeout=2.0, fetch=True):
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password=PASSWORD, dbname="postgres",
                            connect_timeout=max(1, int(timeout)), options=f"-c statement_timeout={int(timeout * 1000)}")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if fetch and cur.description else None
    finally:
        conn.close()


def http_status(url, timeout=1.0, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def descendants(pids):
    """pids and every process descending from them (from /proc, one pass per level)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [p for p in pids if p]
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def postmaster_pid(data_dir):
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            pid = int(f.readline().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def signal_all(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


class Cluster:
    """What both systems share: three PostgreSQL nodes, HAProxy in front, the probe."""

    name = "?"
    pg_ports = []
    frontend = 0

    def __init__(self, args, run_dir):
        self.args = args
        self.run = run_dir
        self.procs = {}  # name -> Popen, everything this system started and must stop
        self.probe_out = os.path.join(run_dir, f"probe-{self.name}.jsonl")
        self.probe_pos = 0
        self.acked = set()
        self.missing_before = set()

    # ------------------------------------------------------------------ processes
    def spawn(self, key, argv, logname, **kw):
        f = open(os.path.join(self.run, logname), "ab")
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
        self.procs[key] = p
        return p

    def stop_proc(self, key, sig=signal.SIGTERM, grace=15):
        p = self.procs.pop(key, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)

    # ------------------------------------------------------------------ cluster view
    def primary(self):
        """Index of the one node out of recovery (None if none, BenchError if two)."""
        prim = []
        for i, port in enumerate(self.pg_ports):
            try:
                if not sql(port, "SELECT pg_is_in_recovery()", timeout=1)[0][0]:
                    prim.append(i)
            except Exception:  # noqa: BLE001 - down, frozen, starting: not a primary
                pass
        if len(prim) > 1:
            raise BenchError(f"{self.name}: two primaries at once: {[self.pg_ports[i] for i in prim]}")
        return prim[0] if prim else None

    def healthy(self):
        """One primary with two streaming standbys, one of them synchronous, and a write
        through the frontend lands on it."""
        p = self.primary()
        if p is None:
            return False
        rows = sql(self.pg_ports[p], "SELECT state, sync_state FROM pg_stat_replication")
        streaming = [r for r in rows if r[0] == "streaming"]
        if len(streaming) < 2 or not any(r[1] in ("sync", "quorum") for r in streaming):
            return False
        port = sql(self.frontend, "SELECT inet_server_port()", timeout=1)[0][0]
        return port == self.pg_ports[p] and self.extra_healthy(p)

    def extra_healthy(self, p):
        return True

    def wait_healthy(self, timeout=None):
        wait_until(f"{self.name} healthy (a primary, two streaming standbys, the frontend on the primary)",
                   self.healthy, timeout or self.args.heal_timeout_s, every=0.5)

    # ------------------------------------------------------------------ load and probe
    def create_tables(self):
        wait_until("the frontend to take writes", lambda: sql(self.frontend, """
            CREATE TABLE IF NOT EXISTS bench_acked (id bigint PRIMARY KEY, at timestamptz DEFAULT now());
            CREATE TABLE IF NOT EXISTS bench_load (id bigserial PRIMARY KEY, v double precision,
                                                   at timestamptz DEFAULT now());""", fetch=False) or True, 60)

    def start_probe(self):
        self.spawn("probe", ["/usr/bin/python3", os.path.join(self.args.repo, "bench/failover_probe.py"),
                             "--dsn", f"host=127.0.0.1 port={self.frontend} user=postgres password={PASSWORD} dbname=postgres",
                             "--out", self.probe_out, "--duration-s", str(self.args.limit_s)], f"probe-{self.name}.log")

    def start_load(self):
        script = os.path.join(self.run, "load.sql")
        with open(script, "w") as f:
            f.write("INSERT INTO bench_load(v) VALUES (random());\n")
        env = dict(os.environ, PGPASSWORD=PASSWORD, PGCONNECT_TIMEOUT="2")
        self.spawn("pgbench", ["pgbench", "-n", "-c", str(self.args.clients), "-j", "1", "-R", str(self.args.rate),
                               "-T", "300", "-f", script, "-h", "127.0.0.1", "-p", str(self.frontend),
                               "-U", "postgres", "postgres"], f"pgbench-{self.name}.log", env=env)

    def stop_load(self):
        self.stop_proc("pgbench", signal.SIGINT, grace=5)

    def probe_records(self):
        """New records of the probe since the last call (complete lines only)."""
        out = []
        try:
            with open(self.probe_out) as f:
                f.seek(self.probe_pos)
                while True:
                    line = f.readline()
                    if not line.endswith("\n"):
                        break
                    self.probe_pos += len(line.encode())
                    rec = json.loads(line)
                    if rec.get("ok"):
                        self.acked.add(rec["id"])
                    out.append(rec)
        except FileNotFoundError:
            pass
        return out

    def first_ack_after(self, t, timeout):
        """The first acknowledged write that STARTED after monotonic instant t."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for rec in self.probe_records():
                if rec.get("ok") and rec["t0"] >= t:
                    return rec
            time.sleep(0.05)
        return None

    def lost_writes(self):
        """Acknowledged ids missing from the primary now, less the ones already missing before."""
        self.probe_records()
        present = {r[0] for r in sql(self.frontend, "SELECT id FROM bench_acked", timeout=10)}
        missing = {i for i in self.acked if i not in present}
        new = missing - self.missing_before
        self.missing_before = missing
        return sorted(new)

    # ------------------------------------------------------------------ per system
    def start(self):
        raise NotImplementedError

    def node_pids(self, i):
        raise NotImplementedError

    def rejoin(self, i, new_primary):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def notes(self):
        return ""


class Patroni(Cluster):
    pg_ports = PATRONI_PG_PORTS
    frontend = PATRONI_FRONTEND

    def __init__(self, args, run_dir, variant):
        self.name = variant
        self.cfg = PATRONI[variant]
        super().__init__(args, run_dir)
        self.base = os.path.join(args.data_root, "patroni")

    def notes(self):
        c = self.cfg
        return (f"ttl {c['ttl']} s, loop_wait {c['loop_wait']} s, retry_timeout {c['retry_timeout']} s, "
                f"synchronous_mode{' + strict' if c.get('strict', True) else ' (not strict)'}; HAProxy OPTIONS /primary, {c['haproxy']}")

    def patroni_yaml(self, i):
        c = self.cfg
        name = f"pg{i + 1}"
        data = os.path.join(self.base, name)
        return f"""# generated by bench/failover/driver.py ({self.name})
scope: wardbench
namespace: /service/
name: {name}
log:
  level: INFO
restapi:
  listen: 127.0.0.1:{PATRONI_REST_PORTS[i]}
  connect_address: 127.0.0.1:{PATRONI_REST_PORTS[i]}
etcd:
  host: 127.0.0.1:{ETCD_CLIENT}
  protocol: http
bootstrap:
  dcs:
    ttl: {c['ttl']}
    loop_wait: {c['loop_wait']}
    retry_timeout: {c['retry_timeout']}
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: {'true' if c.get('strict', True) else 'false'}
    postgresql:
      use_pg_rewind: true
      remove_data_directory_on_rewind_failure: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        fsync: "on"
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - auth-host: scram-sha-256
    - auth-local: peer
postgresql:
  listen: 127.0.0.1:{self.pg_ports[i]}
  connect_address: 127.0.0.1:{self.pg_ports[i]}
  data_dir: {data}
  bin_dir: {PG_BIN}
  pgpass: {self.base}/pgpass-{name}
  authentication:
    superuser:
      username: postgres
      password: {PASSWORD}
    replication:
      username: replicator
      password: {PASSWORD}
  parameters:
    unix_socket_directories: {self.base}
  pg_hba:
    - local all all peer
    - host all all 127.0.0.1/32 scram-sha-256
    - host replication replicator 127.0.0.1/32 scram-sha-256
"""

    def haproxy_cfg(self):
        servers = "\n".join(f"    server pg{i + 1} 127.0.0.1:{p} maxconn 100 check port {PATRONI_REST_PORTS[i]}"
                            for i, p in enumerate(self.pg_ports))
        return f"""# generated by bench/failover/driver.py ({self.name}): Patroni's usual HAProxy pattern
global
    maxconn 200
    stats socket {self.run}/haproxy-{self.name}.sock mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 30m
    timeout server 30m
    timeout check 1s
listen patroni_pg
    bind 127.0.0.1:{self.frontend}
    option httpchk OPTIONS /primary
    http-check expect status 200
    default-server {self.cfg['haproxy']} on-marked-down shutdown-sessions
{servers}
"""

    def start(self):
        shutil.rmtree(self.base, ignore_errors=True)
        os.makedirs(self.base)
        shutil.chown(self.base, "postgres", "postgres")
        os.chmod(self.base, 0o700)
        etcd_dir = os.path.join(self.run, f"etcd-{self.name}")
        self.spawn("etcd", ["etcd", "--name", "bench", "--data-dir", etcd_dir,
                            "--listen-client-urls", f"http://127.0.0.1:{ETCD_CLIENT}",
                            "--advertise-client-urls", f"http://127.0.0.1:{ETCD_CLIENT}",
                            "--listen-peer-urls", f"http://127.0.0.1:{ETCD_PEER}",
                            "--initial-advertise-peer-urls", f"http://127.0.0.1:{ETCD_PEER}",
                            "--initial-cluster", f"bench=http://127.0.0.1:{ETCD_PEER}",
                            "--initial-cluster-state", "new",
                            # Patroni's `etcd:` section speaks the v2 API (python3-etcd); etcd 3.4 serves it only when asked.
                            "--enable-v2=true"], f"etcd-{self.name}.log")
        wait_until("etcd", lambda: http_status(f"http://127.0.0.1:{ETCD_CLIENT}/health") == 200, 30)
        for i in range(3):
            path = os.path.join(self.base, f"pg{i + 1}.yml")
            with open(path, "w") as f:
                f.write(self.patroni_yaml(i))
            shutil.chown(path, "postgres", "postgres")
        self.start_agent(0)
        wait_until("pg1 to bootstrap and lead", lambda: http_status(f"http://127.0.0.1:{PATRONI_REST_PORTS[0]}/primary") == 200, 120)
        self.start_agent(1)
        self.start_agent(2)
        cfg = os.path.join(self.run, f"haproxy-{self.name}.cfg")
        with open(cfg, "w") as f:
            f.write(self.haproxy_cfg())
        self.spawn("haproxy", ["haproxy", "-db", "-f", cfg], f"haproxy-{self.name}.log")
        self.wait_healthy(180)
        self.create_tables()

    def start_agent(self, i):
        name = f"pg{i + 1}"
        self.spawn(name, AS_PG + ["patroni", os.path.join(self.base, f"{name}.yml")], f"patroni-{self.name}-{name}.log",
                   cwd="/")

    def extra_healthy(self, p):
        # every agent answers (a restarted node's Patroni is back in charge of its postgres)
        return all(http_status(f"http://127.0.0.1:{port}/health") == 200 for port in PATRONI_REST_PORTS)

    def node_pids(self, i):
        agent = self.procs.get(f"pg{i + 1}")
        agent_pid = agent.pid if agent and agent.poll() is None else None
        return descendants([agent_pid, postmaster_pid(os.path.join(self.base, f"pg{i + 1}"))])

    def crashed(self, i):
        p = self.procs.pop(f"pg{i + 1}", None)
        if p:
            p.wait(10)

    def rejoin(self, i, new_primary):
        # Patroni restarts postgres, pg_rewinds it against the new leader and follows it.
        self.start_agent(i)

    def stop(self):
        for i in (1, 2, 0):
            self.stop_proc(f"pg{i + 1}", signal.SIGTERM, grace=30)
        for i in range(3):  # an agent killed without its postgres: stop what is left
            pid = postmaster_pid(os.path.join(self.base, f"pg{i + 1}"))
            if pid:
                os.kill(pid, signal.SIGQUIT)
        for key in list(self.procs):
            self.stop_proc(key)


class Ward(Cluster):
    name = "ward"
    pg_ports = WARD_PG_PORTS
    frontend = WARD_FRONTEND

    def __init__(self, args, run_dir):
        if args.ward_standin:
            self.name = "standin"
        super().__init__(args, run_dir)
        self.db_dir = os.path.join(args.data_root, "ward")
        self.pg_dir = os.path.join(self.db_dir, "pg")
        self.env = dict(os.environ, WARD_DB_DIR=self.db_dir, WARD_PG_PORT=str(WARD_PG_PORTS[0]), WARD_DB_ONLY="pg",
                        WARD_PG_SYNC_STANDBYS=WARD_SYNC)
        self.inventory = os.path.join(run_dir, "ward.toml")

    def notes(self):
        if self.args.ward_standin:
            return ("NOT Ward: bench/failover/standin.py, a naive stand-in controller (no fencing, no quorum) that "
                    "checks the Ward side's plumbing; its figures say nothing about Ward")
        return (f"postgres check every 250 ms, fall 2 (refused), timeout_fall 32 (grace for a freeze: 8 s); "
                f"synchronous_standby_names '{WARD_SYNC}'; HAProxy without checks, set by Ward's runtime-API actuator")

    def render_inventory(self):
        with open(os.path.join(self.args.repo, "bench/failover/ward.toml")) as f:
            text = f.read()
        text = text.replace("@RUN_DIR@", self.run)
        with open(self.inventory, "w") as f:
            f.write(text)

    def validate(self):
        """None if Ward can run this bench, else why not."""
        if self.args.ward_standin:
            return None
        if not self.args.ward_bin or not os.access(self.args.ward_bin, os.X_OK):
            return f"no ward binary at {self.args.ward_bin!r}"
        self.render_inventory()
        r = subprocess.run([self.args.ward_bin, "validate", self.inventory], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            lines = (r.stdout + r.stderr).strip().splitlines()
            errors = [line.split(": ", 1)[-1] for line in lines if ": " in line and not line.strip().startswith("hint")]
            return (f"skipped: `ward validate` rejects bench/failover/ward.toml ({'; '.join(errors[:6])}); it needs the "
                    "postgres and haproxy hook kinds, `follows` on vip services and `timeout_fall` on checks, which "
                    "this ward binary does not have yet\n" + "\n".join("    " + line for line in lines[:16]))
        return None

    def haproxy_cfg(self):
        servers = "\n".join(f"    server pg{i + 1} 127.0.0.1:{p} maxconn 100" + ("" if i == 0 else " disabled")
                            for i, p in enumerate(self.pg_ports))
        return f"""# generated by bench/failover/driver.py (ward): no health checks; Ward sets each server's
# state through the runtime API socket (ready / maint), initially only pg1 ready.
global
    maxconn 200
    stats socket {self.run}/haproxy.sock mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 30m
    timeout server 30m
backend ward_pg
{servers}
frontend ward_rw
    bind 127.0.0.1:{self.frontend}
    default_backend ward_pg
"""

    def start(self):
        subprocess.run(["bash", os.path.join(self.args.repo, "scripts/db-down.sh")], env=self.env, timeout=120,
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(self.db_dir, ignore_errors=True)
        os.makedirs(self.db_dir)
        r = subprocess.run(["bash", os.path.join(self.args.repo, "scripts/db-up.sh")], env=self.env, timeout=300,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"scripts/db-up.sh failed:\n{r.stdout}{r.stderr}")
        cfg = os.path.join(self.run, "haproxy-ward.cfg")
        with open(cfg, "w") as f:
            f.write(self.haproxy_cfg())
        self.spawn("haproxy", ["haproxy", "-db", "-f", cfg], "haproxy-ward.log")
        if self.args.ward_standin:
            self.spawn("ward", ["/usr/bin/python3", os.path.join(self.args.repo, "bench/failover/standin.py"),
                                "--socket", os.path.join(self.run, "haproxy.sock")], "standin.log")
        else:
            self.render_inventory()
            self.spawn("ward", [self.args.ward_bin, "run", "--inventory", self.inventory,
                                "--data-dir", os.path.join(self.run, "ward-data"), "--listen", WARD_API], "ward.log")
        self.wait_healthy(120)
        self.create_tables()

    def node_pids(self, i):
        return descendants([postmaster_pid(os.path.join(self.pg_dir, WARD_DIRS[i]))])

    def crashed(self, i):
        pass

    def rejoin(self, i, new_primary):
        r = subprocess.run(["bash", os.path.join(self.args.repo, "scripts/pg-rejoin.sh"),
                            os.path.join(self.pg_dir, WARD_DIRS[i]), str(self.pg_ports[new_primary])],
                           env=self.env, timeout=self.args.heal_timeout_s, capture_output=True, text=True)
        with open(os.path.join(self.run, "rejoin.log"), "a") as f:
            f.write(r.stdout + r.stderr)
        if r.returncode != 0:
            raise BenchError(f"scripts/pg-rejoin.sh {WARD_DIRS[i]} failed (see rejoin.log)")

    def stop(self):
        self.stop_proc("ward", signal.SIGTERM, grace=40)
        for key in list(self.procs):
            self.stop_proc(key)
        subprocess.run(["bash", os.path.join(self.args.repo, "scripts/db-down.sh")], env=self.env, timeout=120,
                       stdout=subprocess.DEVNULL)


# ---------------------------------------------------------------------------- trials


def crash_trial(sys_, n, rnd, rows):
    sys_.wait_healthy()
    sys_.start_load()
    time.sleep(rnd.uniform(3, 8))
    p = sys_.primary()
    if p is None:
        raise BenchError(f"{sys_.name}: no primary before trial {n}")
    pids = sys_.node_pids(p)
    t_kill = time.monotonic()
    signal_all(pids, signal.SIGKILL)
    sys_.crashed(p)
    ack = sys_.first_ack_after(t_kill, sys_.args.recovery_timeout_s)
    sys_.stop_load()
    rec_s = (ack["t1"] - t_kill) if ack else None
    new_port = ack["port"] if ack else None
    new = sys_.pg_ports.index(new_port) if new_port in sys_.pg_ports else None
    log(f"{sys_.name} crash {n}: killed pg{p + 1} ({len(pids)} processes); "
        + (f"writes back after {rec_s:.2f} s on pg{new + 1}" if ack else
           f"NO write acknowledged within {sys_.args.recovery_timeout_s:.0f} s"))
    if ack is None:
        rows.append(dict(system=sys_.name, kind="crash", trial=n, node=f"pg{p + 1}", new_primary="",
                         recovery_s="", lost=0, lost_ids="", primary_changed="", note="no recovery within bound"))
        raise BenchError(f"{sys_.name}: no recovery in trial {n}")
    row = dict(system=sys_.name, kind="crash", trial=n, node=f"pg{p + 1}", new_primary=f"pg{new + 1}",
               recovery_s=f"{rec_s:.3f}", lost=0, lost_ids="", primary_changed=int(new != p), note="rejoin failed")
    rows.append(row)  # measured: it counts even if healing fails below
    sys_.rejoin(p, new)
    sys_.wait_healthy()
    lost = sys_.lost_writes()
    if lost:
        log(f"{sys_.name} crash {n}: {len(lost)} acknowledged writes LOST: {lost[:10]}")
    row.update(lost=len(lost), lost_ids=" ".join(map(str, lost[:50])), note="")


def freeze_trial(sys_, n, rnd, rows):
    sys_.wait_healthy()
    sys_.start_load()
    time.sleep(rnd.uniform(3, 8))
    p = sys_.primary()
    if p is None:
        raise BenchError(f"{sys_.name}: no primary before freeze {n}")
    pids = sys_.node_pids(p)
    t_stop = time.monotonic()
    signal_all(pids, signal.SIGSTOP)
    time.sleep(max(0.0, t_stop + sys_.args.freeze_s - time.monotonic()))
    signal_all(pids, signal.SIGCONT)
    t_cont = time.monotonic()
    ack = sys_.first_ack_after(t_cont, sys_.args.recovery_timeout_s)
    # Let each system's own timers run out: a failover the freeze provoked shows by now.
    time.sleep(sys_.args.freeze_observe_s)
    sys_.stop_load()
    new = wait_until("a primary after the freeze", sys_.primary, sys_.args.heal_timeout_s, every=0.5) \
        if sys_.primary() is None else sys_.primary()
    changed = new != p
    outage = (ack["t1"] - t_stop) if ack else None
    log(f"{sys_.name} freeze {n}: froze pg{p + 1} ({len(pids)} processes) for {sys_.args.freeze_s:.0f} s; "
        f"{'PRIMARY CHANGED to pg%d' % (new + 1) if changed else 'primary unchanged'}; "
        + (f"writes back {outage:.2f} s after the freeze began" if ack else "no write acknowledged after it"))
    if changed:
        # The frozen node was replaced while it slept: Patroni's agent rejoins it by itself
        # once awake; for Ward it is re-attached like a crashed primary.
        if isinstance(sys_, Ward):
            sys_.rejoin(p, new)
    sys_.wait_healthy()
    lost = sys_.lost_writes()
    rows.append(dict(system=sys_.name, kind="freeze", trial=n, node=f"pg{p + 1}", new_primary=f"pg{new + 1}",
                     recovery_s=f"{outage:.3f}" if outage else "", lost=len(lost),
                     lost_ids=" ".join(map(str, lost[:50])), primary_changed=int(changed), note=""))


def summarize(name, rows, notes):
    crashes = [r for r in rows if r["system"] == name and r["kind"] == "crash"]
    freezes = [r for r in rows if r["system"] == name and r["kind"] == "freeze"]
    rec = [float(r["recovery_s"]) for r in crashes if r["recovery_s"] != ""]
    return {
        "system": name, "trials": len(rec),
        "median": statistics.median(rec) if rec else None, "worst": max(rec) if rec else None,
        "lost": sum(int(r["lost"]) for r in crashes + freezes),
        "false": sum(int(r["primary_changed"] or 0) for r in freezes), "freezes": len(freezes), "notes": notes,
    }


def report(text, path):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    with open(path, "a") as f:
        f.write(text + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--systems", default="patroni-default,patroni-tuned,ward")
    ap.add_argument("--trials", type=int, default=20, help="primary crashes per system")
    ap.add_argument("--freezes", type=int, default=3, help="primary freezes per system")
    ap.add_argument("--freeze-s", type=float, default=5.0)
    ap.add_argument("--freeze-observe-s", type=float, default=15.0,
                    help="after SIGCONT, how long to wait before asking who is primary")
    ap.add_argument("--clients", type=int, default=2, help="pgbench clients")
    ap.add_argument("--rate", type=int, default=200, help="pgbench transactions per second (-R)")
    ap.add_argument("--recovery-timeout-s", type=float, default=120.0)
    ap.add_argument("--heal-timeout-s", type=float, default=180.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--data-root", default="/var/tmp/ward-bench")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--ward-bin", default="")
    ap.add_argument("--limit-s", type=float, default=4 * 3600)
    ap.add_argument("--ward-standin", action="store_true",
                    help="run the ward system with bench/failover/standin.py instead of ward (a plumbing check; "
                         "reported as `standin`, never as Ward)")
    args = ap.parse_args()

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rnd = random.Random(seed)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in systems:
        if s not in PATRONI and s != "ward":
            ap.error(f"unknown system {s!r} ({', '.join(PATRONI)}, ward)")
    log(f"run dir {args.run_dir}; systems {', '.join(systems)}; {args.trials} crashes and {args.freezes} freezes each; "
        f"seed {seed}")

    rows, summaries, skipped = [], [], {}
    csv_path = os.path.join(args.run_dir, "trials.csv")
    fields = ["system", "kind", "trial", "node", "new_primary", "recovery_s", "lost", "lost_ids", "primary_changed", "note"]

    def write_csv():
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)

    current = []

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    failed = False
    try:
        for name in systems:
            if name == "ward":
                sys_ = Ward(args, args.run_dir)
                why = sys_.validate()
                if why:
                    log(f"ward: {why}")
                    skipped[name] = why.splitlines()[0]
                    continue
            else:
                sys_ = Patroni(args, args.run_dir, name)
            current[:] = [sys_]
            log(f"{name}: starting ({sys_.notes()})")
            try:
                sys_.start()
                sys_.start_probe()
                log(f"{name}: up, primary pg{sys_.primary() + 1}")
                for n in range(1, args.trials + 1):
                    crash_trial(sys_, n, rnd, rows)
                    write_csv()
                for n in range(1, args.freezes + 1):
                    freeze_trial(sys_, n, rnd, rows)
                    write_csv()
            except BenchError as e:
                failed = True
                log(f"{name}: ABORTED: {e}")
                skipped[sys_.name] = f"aborted: {e}"
            finally:
                write_csv()
                summaries.append(summarize(sys_.name, rows, sys_.notes()))
                log(f"{name}: stopping")
                sys_.stop()
                current.clear()
    except KeyboardInterrupt:
        log("interrupted: stopping what was started")
        for s in current:
            s.stop()
        write_csv()
        return 130

    out = []
    def emit(line=""):  # the report: stdout and summary.md in the run dir
        out.append(line)

    emit()
    emit(f"Failover under load: {args.trials} primary crashes (SIGKILL of the whole node) and {args.freezes} "
          f"{args.freeze_s:.0f}-second freezes (SIGSTOP/SIGCONT) per system; pgbench -c {args.clients} -R {args.rate}; "
          f"probe: one INSERT every 50 ms through HAProxy, 1 s client timeouts.")
    emit()
    emit("| system | trials | median recovery | worst | acknowledged writes lost | false failovers / freezes |")
    emit("|---|---:|---:|---:|---:|---:|")
    for s in summaries:
        med = f"{s['median']:.2f} s" if s["median"] is not None else "-"
        worst = f"{s['worst']:.2f} s" if s["worst"] is not None else "-"
        emit(f"| {s['system']} | {s['trials']} | {med} | {worst} | {s['lost']} | {s['false']} / {s['freezes']} |")
    for name, why in skipped.items():
        if not any(s["system"] == name for s in summaries):
            emit(f"| {name} | skipped | - | - | - | - |")
    emit()
    for s in summaries:
        emit(f"- {s['system']}: {s['notes']}")
    for name, why in skipped.items():
        emit(f"- {name}: {why}")
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"]
    emit(f"- machine: {os.cpu_count()} cores, load average {' '.join(load)} at the end; seed {seed}; "
          f"per-trial data: {csv_path}")
    report("\n".join(out), os.path.join(args.run_dir, "summary.md"))
    default = next((s for s in summaries if s["system"] == "patroni-default" and s["median"]), None)
    ward = next((s for s in summaries if s["system"] == "ward" and s["median"]), None)
    tuned = next((s for s in summaries if s["system"] == "patroni-tuned" and s["median"]), None)
    if ward and default:
        ok = (ward["median"] <= default["median"] / 5 and (not tuned or ward["median"] < tuned["median"])
              and ward["lost"] == 0 and ward["false"] == 0)
        report(f"\ntarget: Ward's median <= 1/5 of default Patroni's, below tuned Patroni's, 0 lost, "
              f"0 false failovers: {'PASS' if ok else 'FAIL'}", os.path.join(args.run_dir, "summary.md"))
        if not ok:
            return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
