#!/usr/bin/python3
"""bench/failover/driver.py: the driver behind bench/failover_vs_patroni.sh (run that).

Builds the same PostgreSQL 15 topology once per system: a primary and two streaming
standbys with synchronous replication, each node in its own network namespace
(bench/failover/netns.py), fronted by one HAProxy in the root namespace, under a
pgbench write load. Then, per case, it breaks the primary's node --trials times and
measures everything through one shared client probe (bench/failover_probe.py) and a
watch of which servers take writes. See the header of bench/failover_vs_patroni.sh for
what each number means. Runs as root; the databases and Patroni run as postgres.
"""

import argparse
import bisect
import csv
import json
import os
import random
import select
import socket
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import psycopg2
import psycopg2.extensions as ext

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402 - the bench's own module, next to this file

PG_BIN = "/usr/lib/postgresql/15/bin"
PASSWORD = "ward"  # test-only credentials; every server listens in a private namespace
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

PG_PORT = 5432
REST_PORT = 8008
PATRONI_FRONTEND = 25000
ETCD_CLIENT, ETCD_PEER = 23790, 23800
WARD_FRONTEND = 26000
WARD_API_PORT = 26080
CASES = ["crash-pg", "crash-node", "unreachable", "freeze"]

T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


class BenchError(Exception):
    pass


def wait_until(what, fn, timeout, every=0.25, accept=bool):
    """Polls fn() until accept(its answer) (default: truthy); bounded by timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if accept(v):
                return v
        except Exception as e:  # noqa: BLE001 - a poll that fails is "not yet"
            last = e
        time.sleep(every)
    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last})" if last else ""))


def sql(host, port, query, params=None, timeout=2.0, fetch=True):
    conn = psycopg2.connect(host=host, port=port, user="postgres", password=PASSWORD, dbname="postgres",
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
            children.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], [p for p in pids if p]
    while todo:
        p = todo.pop()
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


def haproxy_routable(sock_path, backend, names):
    """Indexes (into names) of the backend's servers HAProxy would send a new connection to:
    operationally running (2) and administratively ready (0), from `show servers state`."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(sock_path)
        s.sendall(f"show servers state {backend}\n".encode())
        out = b""
        while len(out) < 1 << 20:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    routed = set()
    for line in out.decode(errors="replace").splitlines():
        f = line.split()
        # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
        if len(f) > 6 and not line.startswith("#") and f[1] == backend and f[3] in names:
            if f[5] == "2" and f[6] == "0":
                routed.add(names.index(f[3]))
    return routed


class WriterWatch:
    """Which servers take writes, as seen from the root namespace (the front end's):
    one thread per node asks every 50 ms, on its own connection with a client-side
    deadline, whether the server is out of recovery and not read-only. A node cut off
    or frozen does not answer, so it is not counted: what is measured is two writable
    primaries reachable through the front end."""

    def __init__(self, hosts, haproxy_sock=None, backend=None):
        self.hosts = hosts
        self.samples = [[] for _ in hosts]  # per node: (monotonic t, writable)
        # And which servers HAProxy would send a new connection to: (monotonic t, {node index}).
        self.haproxy_sock, self.backend = haproxy_sock, backend
        self.routes = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._watch, args=(i,), daemon=True) for i in range(len(hosts))]
        if haproxy_sock:
            self.threads.append(threading.Thread(target=self._watch_haproxy, daemon=True))
        for t in self.threads:
            t.start()

    def _watch_haproxy(self):
        names = [f"pg{i + 1}" for i in range(len(self.hosts))]
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                routed = haproxy_routable(self.haproxy_sock, self.backend, names)
            except Exception:  # noqa: BLE001 - no answer from HAProxy: unknown, not "nothing routed"
                routed = None
            if routed is not None:
                self.routes.append((t, routed))
            self.stop.wait(max(0.0, 0.05 - (time.monotonic() - t)))

    def front_two_writers_ms(self, t_from, t_to, step=0.01):
        """Milliseconds within [t_from, t_to] during which HAProxy would route to at least
        two servers that answered as writable (both sampled every 50 ms; each sample holds
        until the next one). None when HAProxy was not watched."""
        if not self.haproxy_sock:
            return None
        routes = list(self.routes)
        series = [list(s) for s in self.samples]
        if not routes:
            return 0
        r_t = [t for t, _ in routes]
        s_t = [[t for t, _ in s] for s in series]
        total, t = 0, t_from
        while t < t_to:
            k = bisect.bisect_right(r_t, t) - 1
            routed = routes[k][1] if k >= 0 else set()
            writers = 0
            for i in routed:
                j = bisect.bisect_right(s_t[i], t) - 1
                if j >= 0 and series[i][j][1]:
                    writers += 1
            if writers >= 2:
                total += 1
            t += step
        return round(total * step * 1000)

    def _poll(self, conn, deadline):
        while True:
            state = conn.poll()
            if state == ext.POLL_OK:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timeout")
            fd = conn.fileno()
            r = select.select([fd], [], [], left) if state == ext.POLL_READ else select.select([], [fd], [], left)
            if not any(r[:2]) and time.monotonic() >= deadline:
                raise TimeoutError("timeout")

    def _watch(self, i):
        conn = None
        while not self.stop.is_set():
            t = time.monotonic()
            writable = False
            try:
                if conn is None:
                    conn = psycopg2.connect(host=self.hosts[i], port=PG_PORT, user="postgres", password=PASSWORD,
                                            dbname="postgres", async_=1)
                    self._poll(conn, t + 0.3)
                cur = conn.cursor()
                cur.execute("SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'")
                self._poll(conn, time.monotonic() + 0.3)
                writable = bool(cur.fetchone()[0])
            except Exception:  # noqa: BLE001 - no answer is not a writer
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                conn = None
            self.samples[i].append((t, writable))
            self.stop.wait(max(0.0, 0.05 - (time.monotonic() - t)))

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(5)

    def two_writers_ms(self, t_from, t_to):
        """Milliseconds within [t_from, t_to] during which at least two nodes answered
        as writable (each sample holds until that node's next sample)."""
        events = []
        for samples in self.samples:
            s = list(samples)
            for k, (t, w) in enumerate(s):
                end = s[k + 1][0] if k + 1 < len(s) else t + 0.05
                lo, hi = max(t, t_from), min(end, t_to)
                if w and hi > lo:
                    events += [(lo, 1), (hi, -1)]
        events.sort()
        total, count, last = 0.0, 0, None
        for t, d in events:
            if count >= 2 and last is not None:
                total += t - last
            count += d
            last = t
        return round(total * 1000)


class Cluster:
    """What both systems share: three PostgreSQL nodes in namespaces, HAProxy in front,
    the probe, the writer watch."""

    name = "?"
    frontend = 0

    def __init__(self, args, run_dir):
        self.args = args
        self.run = run_dir
        self.hosts = [netns.host(i) for i in range(netns.NODES)]
        self.procs = {}  # name -> Popen, everything this system started and must stop
        self.probe_out = os.path.join(run_dir, f"probe-{self.name}.jsonl")
        self.probe_pos = 0
        self.acked = set()
        self.missing_before = set()
        self.watch = None

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
        """Index of the one node that takes writes: out of recovery and not read-only (a
        fenced old primary is neither). None if none, BenchError if two answer."""
        prim = []
        for i, h in enumerate(self.hosts):
            try:
                q = "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'"
                if sql(h, PG_PORT, q, timeout=1)[0][0]:
                    prim.append(i)
            except Exception:  # noqa: BLE001 - down, frozen, cut off, starting: not a primary
                pass
        if len(prim) > 1:
            raise BenchError(f"{self.name}: two primaries at once: {[self.hosts[i] for i in prim]}")
        return prim[0] if prim else None

    def healthy(self):
        """One writable primary with two streaming standbys, one of them synchronous, and
        the frontend on it."""
        p = self.primary()
        if p is None:
            return False
        rows = sql(self.hosts[p], PG_PORT, "SELECT state, sync_state FROM pg_stat_replication")
        streaming = [r for r in rows if r[0] == "streaming"]
        if len(streaming) < 2 or not any(r[1] in ("sync", "quorum") for r in streaming):
            return False
        addr = sql("127.0.0.1", self.frontend, "SELECT host(inet_server_addr())", timeout=1)[0][0]
        return addr == self.hosts[p] and self.extra_healthy(p)

    def extra_healthy(self, p):
        return True

    def wait_healthy(self, timeout=None):
        wait_until(f"{self.name} healthy (a writable primary, two streaming standbys, the frontend on the primary)",
                   self.healthy, timeout or self.args.heal_timeout_s, every=0.5)

    # ------------------------------------------------------------------ load and probe
    def create_tables(self):
        wait_until("the frontend to take writes", lambda: sql("127.0.0.1", self.frontend, """
            CREATE TABLE IF NOT EXISTS bench_acked (id bigint PRIMARY KEY, at timestamptz DEFAULT now());
            CREATE TABLE IF NOT EXISTS bench_load (id bigserial PRIMARY KEY, v double precision,
                                                   at timestamptz DEFAULT now());""", fetch=False) or True, 60)

    def start_probe(self):
        self.spawn("probe", ["/usr/bin/python3", os.path.join(self.args.repo, "bench/failover_probe.py"),
                             "--dsn", f"host=127.0.0.1 port={self.frontend} user=postgres password={PASSWORD} dbname=postgres",
                             "--out", self.probe_out, "--duration-s", str(self.args.limit_s)], f"probe-{self.name}.log")
        self.watch = WriterWatch(self.hosts, *self.haproxy_watch())

    def start_load(self):
        script = os.path.join(self.run, "load.sql")
        with open(script, "w") as f:
            f.write("INSERT INTO bench_load(v) VALUES (random());\n")
        env = dict(os.environ, PGPASSWORD=PASSWORD, PGCONNECT_TIMEOUT="2")
        self.spawn("pgbench", ["pgbench", "-n", "-c", str(self.args.clients), "-j", "1", "-R", str(self.args.rate),
                               "-T", "600", "-f", script, "-h", "127.0.0.1", "-p", str(self.frontend),
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
        """The first acknowledged write that STARTED after monotonic instant t. The probe
        starts one every 50 ms whatever the others do, so this is within 50 ms of when
        writes were possible again."""
        deadline = time.monotonic() + timeout
        best = None
        while time.monotonic() < deadline:
            for rec in self.probe_records():
                if rec.get("ok") and rec["t0"] >= t and (best is None or rec["t0"] < best["t0"]):
                    best = rec
            # Attempts finish out of order: wait until those started before it are done.
            if best is not None and time.monotonic() > best["t0"] + 2.5:
                return best
            time.sleep(0.05)
        return best

    def lost_writes(self):
        """Acknowledged ids missing from the primary now, less the ones already missing before."""
        self.probe_records()
        present = {r[0] for r in sql("127.0.0.1", self.frontend, "SELECT id FROM bench_acked", timeout=10)}
        missing = {i for i in self.acked if i not in present}
        new = missing - self.missing_before
        self.missing_before = missing
        return sorted(new)

    # ------------------------------------------------------------------ per system
    def node_pids(self, i, agent):
        """The node's PostgreSQL processes, and its agent's with `agent`."""
        raise NotImplementedError

    def crashed(self, i, agent):
        pass

    def haproxy_watch(self):
        """HAProxy's runtime socket and the backend whose servers it routes writes to."""
        return None, None

    def rejoin(self, i, new_primary):
        raise NotImplementedError

    def stop(self):
        if self.watch:
            self.watch.close()
        for key in list(self.procs):
            self.stop_proc(key)

    def notes(self):
        return ""


class Patroni(Cluster):
    frontend = PATRONI_FRONTEND

    def __init__(self, args, run_dir, variant):
        self.name = variant
        self.cfg = PATRONI[variant]
        super().__init__(args, run_dir)
        self.base = os.path.join(args.data_root, "patroni")

    def grace_s(self):
        """The longest freeze of the leader's node that can never cost it the leader key: the key
        was renewed at most loop_wait before the freeze and holds for ttl."""
        return self.cfg["ttl"] - self.cfg["loop_wait"]

    def notes(self):
        c = self.cfg
        return (f"ttl {c['ttl']} s, loop_wait {c['loop_wait']} s, retry_timeout {c['retry_timeout']} s, "
                f"synchronous_mode{' + strict' if c.get('strict', True) else ' (not strict)'}; HAProxy OPTIONS /primary, {c['haproxy']}")

    def patroni_yaml(self, i):
        c = self.cfg
        name = f"pg{i + 1}"
        data = os.path.join(self.base, name)
        h = self.hosts[i]
        return f"""# generated by bench/failover/driver.py ({self.name})
scope: wardbench
namespace: /service/
name: {name}
log:
  level: INFO
restapi:
  listen: {h}:{REST_PORT}
  connect_address: {h}:{REST_PORT}
etcd:
  host: {netns.BRIDGE_IP}:{ETCD_CLIENT}
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
  listen: {h}:{PG_PORT}
  connect_address: {h}:{PG_PORT}
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
    unix_socket_directories: {self.base}/sock-{name}
  pg_hba:
    - local all all peer
    - host all all {netns.NET}.0/24 scram-sha-256
    - host replication replicator {netns.NET}.0/24 scram-sha-256
"""

    def haproxy_watch(self):
        return os.path.join(self.run, f"haproxy-{self.name}.sock"), "patroni_pg"

    def haproxy_cfg(self):
        servers = "\n".join(f"    server pg{i + 1} {h}:{PG_PORT} maxconn 100 check port {REST_PORT}"
                            for i, h in enumerate(self.hosts))
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
        for i in range(netns.NODES):
            os.makedirs(os.path.join(self.base, f"sock-pg{i + 1}"))
            shutil.chown(os.path.join(self.base, f"sock-pg{i + 1}"), "postgres", "postgres")
        shutil.chown(self.base, "postgres", "postgres")
        os.chmod(self.base, 0o700)
        etcd_dir = os.path.join(self.run, f"etcd-{self.name}")
        urls = f"http://127.0.0.1:{ETCD_CLIENT},http://{netns.BRIDGE_IP}:{ETCD_CLIENT}"
        self.spawn("etcd", ["etcd", "--name", "bench", "--data-dir", etcd_dir,
                            "--listen-client-urls", urls,
                            "--advertise-client-urls", f"http://{netns.BRIDGE_IP}:{ETCD_CLIENT}",
                            "--listen-peer-urls", f"http://127.0.0.1:{ETCD_PEER}",
                            "--initial-advertise-peer-urls", f"http://127.0.0.1:{ETCD_PEER}",
                            "--initial-cluster", f"bench=http://127.0.0.1:{ETCD_PEER}",
                            "--initial-cluster-state", "new",
                            # Patroni's `etcd:` section speaks the v2 API (python3-etcd); etcd 3.4 serves it only when asked.
                            "--enable-v2=true"], f"etcd-{self.name}.log")
        wait_until("etcd", lambda: http_status(f"http://127.0.0.1:{ETCD_CLIENT}/health") == 200, 30)
        for i in range(netns.NODES):
            path = os.path.join(self.base, f"pg{i + 1}.yml")
            with open(path, "w") as f:
                f.write(self.patroni_yaml(i))
            shutil.chown(path, "postgres", "postgres")
        self.start_agent(0)
        wait_until("pg1 to bootstrap and lead", lambda: http_status(f"http://{self.hosts[0]}:{REST_PORT}/primary") == 200, 120)
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
        self.spawn(name, netns.inside(i, AS_PG + ["patroni", os.path.join(self.base, f"{name}.yml")]),
                   f"patroni-{self.name}-{name}.log", cwd="/")

    def extra_healthy(self, p):
        # every agent answers (a restarted node's Patroni is back in charge of its postgres)
        return all(http_status(f"http://{h}:{REST_PORT}/health") == 200 for h in self.hosts)

    def node_pids(self, i, agent):
        pids = [postmaster_pid(os.path.join(self.base, f"pg{i + 1}"))]
        if agent:
            p = self.procs.get(f"pg{i + 1}")
            pids += descendants([p.pid]) if p and p.poll() is None else []
        return descendants(pids)

    def crashed(self, i, agent):
        if agent:
            p = self.procs.pop(f"pg{i + 1}", None)
            if p:
                p.wait(10)

    def rejoin(self, i, new_primary):
        # Patroni restarts postgres, pg_rewinds it against the new leader and follows it;
        # only an agent that was killed needs starting.
        if f"pg{i + 1}" not in self.procs:
            self.start_agent(i)

    def stop(self):
        for i in (1, 2, 0):
            self.stop_proc(f"pg{i + 1}", signal.SIGTERM, grace=30)
        for i in range(netns.NODES):  # an agent killed without its postgres: stop what is left
            pid = postmaster_pid(os.path.join(self.base, f"pg{i + 1}"))
            if pid:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGQUIT)
        super().stop()


class Ward(Cluster):
    name = "ward"
    frontend = WARD_FRONTEND

    def __init__(self, args, run_dir):
        super().__init__(args, run_dir)
        self.base = os.path.join(args.data_root, "ward")
        self.inventory = os.path.join(run_dir, "ward.toml")
        self.token = os.path.join(run_dir, "agent-token")
        self.api = f"{netns.BRIDGE_IP}:{WARD_API_PORT}"

    def data(self, i):
        return os.path.join(self.base, f"pg{i + 1}")

    def timing(self):
        """lease, renew_every and margin (seconds) from bench/failover/ward.toml's [policy.agent]."""
        out = {}
        with open(os.path.join(self.args.repo, "bench/failover/ward.toml")) as f:
            section = ""
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line.startswith("["):
                    section = line
                elif section == "[policy.agent]" and "=" in line:
                    k, v = (x.strip() for x in line.split("=", 1))
                    v = v.strip('"')
                    if k in ("lease", "renew_every", "margin"):
                        out[k] = float(v[:-2]) / 1000 if v.endswith("ms") else float(v.rstrip("s"))
        missing = {"lease", "renew_every", "margin"} - set(out)
        if missing:
            raise BenchError(f"bench/failover/ward.toml: [policy.agent] lacks {', '.join(sorted(missing))}")
        return out

    def grace_s(self):
        """The longest freeze of the primary's node that must never move the primary: the
        controller counts the node fenced by its lease only lease + margin after the last
        renewal it received, and that renewal was sent at most renew_every before the freeze."""
        t = self.timing()
        return t["lease"] + t["margin"] - t["renew_every"]

    def notes(self):
        return ("postgres check every 250 ms, fall 2 (refused), timeout_fall 32 (a node that does not answer: down "
                "after 8 s); ward agent on every node, lease 5 s renewed every 1 s, margin 2 s; "
                "synchronous_standby_names 'ANY 1 (*)'; HAProxy without checks, set by Ward's runtime-API actuator")

    def render_inventory(self):
        with open(os.path.join(self.args.repo, "bench/failover/ward.toml")) as f:
            text = f.read()
        with open(self.inventory, "w") as f:
            f.write(text.replace("@RUN_DIR@", self.run))

    def validate(self):
        """None if Ward can run this bench, else why not."""
        if not self.args.ward_bin or not os.access(self.args.ward_bin, os.X_OK):
            return f"no ward binary at {self.args.ward_bin!r}"
        self.render_inventory()
        r = subprocess.run([self.args.ward_bin, "validate", self.inventory], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            return "skipped: `ward validate` rejects bench/failover/ward.toml:\n" + (r.stdout + r.stderr)[:2000]
        return None

    def haproxy_watch(self):
        return os.path.join(self.run, "haproxy.sock"), "ward_pg"

    def haproxy_cfg(self):
        servers = "\n".join(f"    server pg{i + 1} {h}:{PG_PORT} maxconn 100" + ("" if i == 0 else " disabled")
                            for i, h in enumerate(self.hosts))
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

    def pg(self, i, argv, **kw):
        return subprocess.run(netns.inside(i, AS_PG + argv), capture_output=True, text=True, **kw)

    def start_pg(self, i):
        r = self.pg(i, [f"{PG_BIN}/pg_ctl", "-D", self.data(i), "-l", self.data(i) + ".log", "-w", "-t", "60", "start"],
                    timeout=90)
        if r.returncode != 0:
            raise BenchError(f"pg{i + 1} did not start: {r.stdout}{r.stderr}")

    def start(self):
        shutil.rmtree(self.base, ignore_errors=True)
        os.makedirs(self.base)
        shutil.chown(self.base, "postgres", "postgres")
        os.chmod(self.base, 0o755)
        pw = os.path.join(self.base, "pwfile")
        with open(pw, "w") as f:
            f.write(PASSWORD)
        shutil.chown(pw, "postgres", "postgres")
        r = subprocess.run(AS_PG + [f"{PG_BIN}/initdb", "-D", self.data(0), "-U", "postgres", f"--pwfile={pw}",
                                    "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
                           capture_output=True, text=True, timeout=120)
        os.remove(pw)
        if r.returncode != 0:
            raise BenchError(f"initdb failed: {r.stderr}")
        with open(os.path.join(self.data(0), "pg_hba.conf"), "a") as f:
            f.write(f"host replication postgres {netns.NET}.0/24 scram-sha-256\nhost all postgres {netns.NET}.0/24 scram-sha-256\n")
        with open(os.path.join(self.data(0), "postgresql.conf"), "a") as f:
            f.write(f"""listen_addresses = '*'
port = {PG_PORT}
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
wal_receiver_status_interval = 1s
wal_retrieve_retry_interval = 1s
wal_sender_timeout = 5s
wal_receiver_timeout = 5s
wal_log_hints = on
synchronous_standby_names = 'ANY 1 (*)'
include_if_exists = 'ward-node.conf'
""")
        self.node_conf(0)
        self.start_pg(0)
        for i in (1, 2):
            sql(self.hosts[0], PG_PORT, f"SELECT pg_create_physical_replication_slot('pg{i + 1}')", fetch=False)
            r = self.pg(i, [f"{PG_BIN}/pg_basebackup", "-D", self.data(i), "-R", "-X", "stream", "-S", f"pg{i + 1}", "-c", "fast",
                            "-d", f"host={self.hosts[0]} port={PG_PORT} user=postgres password={PASSWORD} application_name=pg{i + 1}"],
                        timeout=300)
            if r.returncode != 0:
                raise BenchError(f"pg_basebackup for pg{i + 1} failed: {r.stderr}")
            self.node_conf(i)
            self.start_pg(i)
        with open(self.token, "w") as f:
            f.write(os.urandom(16).hex())
        os.chmod(self.token, 0o600)
        cfg = os.path.join(self.run, "haproxy-ward.cfg")
        with open(cfg, "w") as f:
            f.write(self.haproxy_cfg())
        self.spawn("haproxy", ["haproxy", "-db", "-f", cfg], "haproxy-ward.log")
        self.render_inventory()
        self.spawn("ward", [self.args.ward_bin, "run", "--inventory", self.inventory, "--data-dir",
                            os.path.join(self.run, "ward-data"), "--listen", self.api, "--agent-token-file", self.token],
                   "ward.log")
        for i in range(netns.NODES):
            self.start_ward_agent(i)
        self.wait_healthy(120)
        self.create_tables()

    def node_conf(self, i):
        sock = os.path.join(self.base, f"sock{i + 1}")
        os.makedirs(sock, exist_ok=True)
        shutil.chown(sock, "postgres", "postgres")
        path = os.path.join(self.data(i), "ward-node.conf")
        with open(path, "w") as f:
            f.write(f"unix_socket_directories = '{sock}'\n")
        shutil.chown(path, "postgres", "postgres")

    def start_ward_agent(self, i):
        state = os.path.join(self.run, f"agent-pg{i + 1}")
        os.makedirs(state, exist_ok=True)
        self.spawn(f"agent{i + 1}", netns.inside(i, [self.args.ward_bin, "agent", "--inventory", self.inventory,
                                                   "--node", f"pg{i + 1}", "--controller", f"http://{self.api}",
                                                   "--token-file", self.token, "--state-dir", state]),
                   f"ward-agent-pg{i + 1}.log")

    def extra_healthy(self, p):
        return all(self.procs.get(f"agent{i + 1}") and self.procs[f"agent{i + 1}"].poll() is None for i in range(netns.NODES))

    def node_pids(self, i, agent):
        pids = [postmaster_pid(self.data(i))]
        if agent:
            p = self.procs.get(f"agent{i + 1}")
            pids += [p.pid] if p and p.poll() is None else []
        return descendants(pids)

    def crashed(self, i, agent):
        if agent:
            p = self.procs.pop(f"agent{i + 1}", None)
            if p:
                p.wait(10)

    def rejoin(self, i, new_primary):
        """The old primary becomes a streaming standby of the new one (pg_rewind, or a
        fresh pg_basebackup when that fails), inside its namespace; its agent runs."""
        pid = postmaster_pid(self.data(i))
        if pid:
            signal_all(descendants([pid]), signal.SIGCONT)
            self.pg(i, [f"{PG_BIN}/pg_ctl", "-D", self.data(i), "-m", "fast", "-w", "-t", "20", "stop"], timeout=40)
            if postmaster_pid(self.data(i)):
                self.pg(i, [f"{PG_BIN}/pg_ctl", "-D", self.data(i), "-m", "immediate", "-w", "-t", "20", "stop"], timeout=40)
        wait_until(f"pg{i + 1}'s postmaster gone", lambda: postmaster_pid(self.data(i)) is None or
                   open(f"/proc/{postmaster_pid(self.data(i))}/stat").read().rsplit(")", 1)[1].split()[0] == "Z", 30)
        for lock in (os.path.join(self.data(i), "postmaster.pid"), os.path.join(self.base, f"sock{i + 1}", f".s.PGSQL.{PG_PORT}.lock")):
            try:
                os.remove(lock)
            except FileNotFoundError:
                pass
        src = f"host={self.hosts[new_primary]} port={PG_PORT} user=postgres password={PASSWORD} dbname=postgres"
        sql(self.hosts[new_primary], PG_PORT, "CHECKPOINT", fetch=False, timeout=30)
        keep = open(os.path.join(self.data(i), "ward-node.conf")).read()
        r = self.pg(i, [f"{PG_BIN}/pg_rewind", "-D", self.data(i), f"--source-server={src}"], timeout=300)
        if r.returncode != 0:
            log(f"ward: pg_rewind of pg{i + 1} failed ({r.stderr.strip()[-200:]}); cloning it again")
            shutil.rmtree(self.data(i))
            r = self.pg(i, [f"{PG_BIN}/pg_basebackup", "-D", self.data(i), "-X", "stream", "-c", "fast", "-d", src], timeout=300)
            if r.returncode != 0:
                raise BenchError(f"pg_basebackup for pg{i + 1} failed: {r.stderr}")
        with open(os.path.join(self.data(i), "ward-node.conf"), "w") as f:
            f.write(keep)
        sql(self.hosts[new_primary], PG_PORT, f"SELECT pg_create_physical_replication_slot('pg{i + 1}') WHERE NOT EXISTS "
            f"(SELECT 1 FROM pg_replication_slots WHERE slot_name = 'pg{i + 1}')", fetch=False)
        auto = os.path.join(self.data(i), "postgresql.auto.conf")
        lines = [ln for ln in open(auto).read().splitlines() if not ln.strip().startswith(("primary_conninfo", "primary_slot_name"))]
        lines += [f"primary_conninfo = '{src} application_name=pg{i + 1}'", f"primary_slot_name = 'pg{i + 1}'"]
        with open(auto, "w") as f:
            f.write("\n".join(lines) + "\n")
        open(os.path.join(self.data(i), "standby.signal"), "w").close()
        subprocess.run(["chown", "-R", "postgres:postgres", self.data(i)], check=True, timeout=60)
        self.start_pg(i)
        if f"agent{i + 1}" not in self.procs:
            self.start_ward_agent(i)

    def stop(self):
        self.stop_proc("ward", signal.SIGTERM, grace=40)
        for i in range(netns.NODES):
            self.stop_proc(f"agent{i + 1}", signal.SIGTERM, grace=10)
            pid = postmaster_pid(self.data(i))
            if pid:
                signal_all(descendants([pid]), signal.SIGCONT)
                self.pg(i, [f"{PG_BIN}/pg_ctl", "-D", self.data(i), "-m", "immediate", "-w", "-t", "20", "stop"], timeout=40)
        super().stop()


# ---------------------------------------------------------------------------- trials


def trial(sys_, case, n, rnd, rows):
    """Breaks the primary's node one way, measures until writes succeed again, heals."""
    args = sys_.args
    sys_.wait_healthy()
    sys_.start_load()
    time.sleep(rnd.uniform(3, 8))
    p = sys_.primary()
    if p is None:
        raise BenchError(f"{sys_.name}: no primary before {case} {n}")
    t0 = time.monotonic()
    if case == "crash-pg":  # the database dies, the host and its agent stay
        pids = sys_.node_pids(p, agent=False)
        signal_all(pids, signal.SIGKILL)
        what = f"killed pg{p + 1}'s PostgreSQL ({len(pids)} processes; its agent stays)"
    elif case == "crash-node":  # everything on the node, agent included
        pids = sys_.node_pids(p, agent=True)
        signal_all(pids, signal.SIGKILL)
        sys_.crashed(p, agent=True)
        what = f"killed every process of pg{p + 1} ({len(pids)})"
    elif case == "unreachable":
        netns.cut(p)
        what = f"cut pg{p + 1}'s link for {args.unreachable_s:.0f} s (no answer, no RST)"
    elif case == "freeze":
        pids = sys_.node_pids(p, agent=True)
        signal_all(pids, signal.SIGSTOP)
        time.sleep(max(0.0, t0 + args.freeze_s - time.monotonic()))
        signal_all(pids, signal.SIGCONT)
        what = f"froze every process of pg{p + 1} for {args.freeze_s:.0f} s"
    else:
        raise BenchError(f"unknown case {case}")
    ack = sys_.first_ack_after(t0, args.recovery_timeout_s)
    if case == "unreachable":
        time.sleep(max(0.0, t0 + args.unreachable_s - time.monotonic()))
        netns.heal(p)
    elif case == "freeze":
        time.sleep(args.freeze_observe_s)  # each system's own timers run out: a failover it provoked shows by now
    sys_.stop_load()
    # accept: node index 0 (pg1) is an answer although falsy; None (no writable primary yet) is not.
    new = wait_until("a primary after the fault", sys_.primary, args.heal_timeout_s, every=0.5,
                     accept=lambda v: v is not None)
    t_end = time.monotonic()
    rec_s = (ack["t1"] - t0) if ack else None
    two_ms = sys_.watch.two_writers_ms(t0, t_end)
    front_two_ms = sys_.watch.front_two_writers_ms(t0, t_end)
    log(f"{sys_.name} {case} {n}: {what}; " + (f"writes back after {rec_s:.2f} s" if ack else
        f"NO write acknowledged within {args.recovery_timeout_s:.0f} s") +
        f"; primary {'pg%d -> pg%d' % (p + 1, new + 1) if new != p else 'unchanged'}; two writable primaries {two_ms} ms")
    # A freeze within the system's grace must not move the primary (a false failover); one
    # beyond it may, and a move then is reported as such, not as false.
    false = int(case == "freeze" and new != p and args.freeze_s < sys_.grace_s())
    note = [] if ack else ["no recovery within bound"]
    if case == "freeze" and new != p:
        note.append(f"false failover: a {args.freeze_s:g} s freeze is within the {sys_.grace_s():g} s grace" if false
                    else f"failover after a {args.freeze_s:g} s freeze, beyond the {sys_.grace_s():g} s grace (allowed)")
    row = dict(system=sys_.name, case=case, trial=n, node=f"pg{p + 1}", new_primary=f"pg{new + 1}",
               recovery_s=f"{rec_s:.3f}" if ack else "", lost=0, lost_ids="", primary_changed=int(new != p),
               false_failover=false, two_writers_ms=two_ms,
               front_two_writers_ms="" if front_two_ms is None else front_two_ms, note="; ".join(note))
    rows.append(row)
    if new != p:
        sys_.rejoin(p, new)
    sys_.wait_healthy()
    lost = sys_.lost_writes()
    if lost:
        log(f"{sys_.name} {case} {n}: {len(lost)} acknowledged writes LOST: {lost[:10]}")
    row.update(lost=len(lost), lost_ids=" ".join(map(str, lost[:50])))
    if not ack:
        raise BenchError(f"{sys_.name}: no recovery in {case} {n}")


def summarize(name, case, rows):
    mine = [r for r in rows if r["system"] == name and r["case"] == case]
    rec = [float(r["recovery_s"]) for r in mine if r["recovery_s"] != ""]
    return {
        "system": name, "case": case, "trials": len(mine), "recovered": len(rec),
        "median": statistics.median(rec) if rec else None, "worst": max(rec) if rec else None,
        "lost": sum(int(r["lost"]) for r in mine), "two_ms": sum(int(r["two_writers_ms"]) for r in mine),
        "front_two_ms": sum(int(r["front_two_writers_ms"]) for r in mine if r.get("front_two_writers_ms") not in ("", None)),
        "changed": sum(int(r["primary_changed"]) for r in mine),
        "false": sum(int(r.get("false_failover") or 0) for r in mine),
    }


def report(text, path):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    with open(path, "a") as f:
        f.write(text + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--systems", default="patroni-tuned,ward")
    ap.add_argument("--cases", default=",".join(CASES), help=f"any of {', '.join(CASES)}")
    ap.add_argument("--trials", type=int, default=5, help="trials per case per system")
    ap.add_argument("--freeze-s", type=float, default=5.0, help="a freeze within every system's grace")
    ap.add_argument("--freeze-observe-s", type=float, default=15.0,
                    help="after SIGCONT, how long to wait before asking who is primary")
    ap.add_argument("--unreachable-s", type=float, default=90.0)
    ap.add_argument("--promotion-s", type=float, default=3.0,
                    help="the unreachable target's allowance for the promotion and the front end's switch, on top of "
                         "Ward's lease + margin")
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
    args = ap.parse_args()

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rnd = random.Random(seed)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for s in systems:
        if s not in PATRONI and s != "ward":
            ap.error(f"unknown system {s!r} ({', '.join(PATRONI)}, ward)")
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c!r} ({', '.join(CASES)})")
    log(f"run dir {args.run_dir}; systems {', '.join(systems)}; cases {', '.join(cases)}, {args.trials} each; seed {seed}")

    rows, summaries, skipped = [], [], {}
    csv_path = os.path.join(args.run_dir, "trials.csv")
    fields = ["system", "case", "trial", "node", "new_primary", "recovery_s", "lost", "lost_ids", "primary_changed",
              "false_failover", "two_writers_ms", "front_two_writers_ms", "note"]

    def write_csv():
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)

    current = []

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    aborted = False
    try:
        for name in systems:
            netns.up()
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
                for case in cases:
                    for n in range(1, args.trials + 1):
                        trial(sys_, case, n, rnd, rows)
                        write_csv()
            except BenchError as e:
                aborted = True
                log(f"{name}: ABORTED: {e}")
                skipped[sys_.name] = f"aborted: {e}"
            finally:
                write_csv()
                for case in cases:
                    summaries.append(summarize(sys_.name, case, rows))
                log(f"{name}: stopping")
                sys_.stop()
                current.clear()
                netns.down()
    except KeyboardInterrupt:
        log("interrupted: stopping what was started")
        for s in current:
            s.stop()
        netns.down()
        write_csv()
        return 130

    out = []
    emit = out.append
    emit("")
    emit(f"Failover under load, each node in its own network namespace: {args.trials} trial(s) per case per system; "
         f"pgbench -c {args.clients} -R {args.rate} through HAProxy; probe: a new INSERT every 50 ms through HAProxy, "
         f"overlapping, each with 1 s client deadlines; writers watched every 50 ms from the front end's namespace.")
    emit("")
    emit("| system | case | trials | median until writes succeed | worst | acknowledged writes lost | two writable primaries reachable (ms) | of them both routed by HAProxy (ms) | primary changed | false failovers |")
    emit("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in summaries:
        med = f"{s['median']:.2f} s" if s["median"] is not None else "-"
        worst = f"{s['worst']:.2f} s" if s["worst"] is not None else "-"
        emit(f"| {s['system']} | {s['case']} | {s['recovered']}/{s['trials']} | {med} | {worst} | {s['lost']} | {s['two_ms']} | {s['front_two_ms']} | {s['changed']}/{s['trials']} | {s['false']} |")
    for name, why in skipped.items():
        emit(f"- {name}: {why}")
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"]
    emit(f"- machine: {os.cpu_count()} cores, load average {' '.join(load)} at the end; seed {seed}; per-trial data: {csv_path}")
    path = os.path.join(args.run_dir, "summary.md")
    report("\n".join(out), path)

    # Targets. A system that was skipped or aborted never passes.
    def get(system, case):
        return next((s for s in summaries if s["system"] == system and s["case"] == case), None)

    # Every target gets its line; one without the data to judge it says so and FAILs. The
    # targets are Ward's: a run without it judges nothing.
    ward_ok = "ward" in systems and "ward" not in skipped
    verdicts = []
    if "ward" not in systems:
        report("targets: not judged (ward is not in --systems)", path)
    elif "unreachable" in cases:
        w, t = get("ward", "unreachable"), get("patroni-tuned", "unreachable")
        try:
            tm = Ward(args, args.run_dir).timing()
            bound = tm["lease"] + tm["margin"] + args.promotion_s
            bound_text = f"lease {tm['lease']:g} s + margin {tm['margin']:g} s + promotion {args.promotion_s:g} s = {bound:g} s"
        except (OSError, BenchError) as e:
            bound, bound_text = None, f"no bound ({e})"
        text = f"unreachable primary: writes back automatically within {bound_text}, at most 1/2 of tuned Patroni's"
        if not ward_ok or not w or w["median"] is None or w["recovered"] < w["trials"]:
            why = "Ward skipped or aborted" if not ward_ok else "Ward did not recover in every trial"
            verdicts.append((f"{text} ({why})", False))
        elif not t or t["median"] is None:
            verdicts.append((f"{text} (Ward's worst {w['worst']:.2f} s; patroni-tuned not measured)", False))
        else:
            ok = bound is not None and w["worst"] <= bound and w["median"] <= t["median"] / 2
            verdicts.append((f"{text} (Ward median {w['median']:.2f} s, worst {w['worst']:.2f} s; tuned Patroni median "
                             f"{t['median']:.2f} s)", ok))
    ward_rows = [s for s in summaries if s["system"] == "ward"]
    if "ward" in systems:
        verdicts.append(("Ward: 0 acknowledged writes lost" + ("" if ward_ok else " (Ward skipped or aborted)"),
                         ward_ok and bool(ward_rows) and all(s["lost"] == 0 for s in ward_rows)))
        verdicts.append(("Ward: 0 ms with two writable primaries reachable through the front end"
                         + ("" if ward_ok else " (Ward skipped or aborted)"),
                         ward_ok and bool(ward_rows) and all(s["two_ms"] == 0 for s in ward_rows)))
    f = get("ward", "freeze")
    if f:
        verdicts.append((f"Ward: no false failover from a {args.freeze_s:g} s freeze (a move only beyond the grace)",
                         ward_ok and f["false"] == 0))
    for text, ok in verdicts:
        report(f"target: {text}: {'PASS' if ok else 'FAIL'}", path)
    if aborted:
        return 1
    return 2 if any(not ok for _, ok in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
