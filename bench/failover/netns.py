"""bench/failover/netns.py: the bench's network, one namespace per database node.

A bridge `wbnbr` (10.232.9.1/24) in the root namespace, and namespaces wbn1..wbn3, each
with a veth into the bridge and the address 10.232.9.11..13. Everything that is a node
(PostgreSQL, Patroni's agent, `ward agent`) runs inside its namespace; etcd, HAProxy,
`ward run`, pgbench and the client probe run in the root namespace and reach the nodes
through the bridge. `cut(i)` takes the bridge-side end of node i's veth down: its
packets are dropped, nobody gets an answer, an RST or an ICMP error, and inside the
namespace the node still reaches itself (its own address and loopback).
"""

import subprocess

NET = "10.232.9"
BRIDGE = "wbnbr"
BRIDGE_IP = f"{NET}.1"
NODES = 3


def ns(i):
    return f"wbn{i + 1}"


def host(i):
    return f"{NET}.1{i + 1}"


def _veth(i):
    return f"wbn{i + 1}h"


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def down():
    """Removes every namespace, veth and the bridge (idempotent)."""
    for i in range(NODES):
        _ip("netns", "del", ns(i), check=False)
        _ip("link", "del", _veth(i), check=False)
    _ip("link", "del", BRIDGE, check=False)


def up():
    down()
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{BRIDGE_IP}/24", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    for i in range(NODES):
        _ip("netns", "add", ns(i))
        _ip("link", "add", _veth(i), "type", "veth", "peer", "name", "eth0", "netns", ns(i))
        _ip("link", "set", _veth(i), "master", BRIDGE, "up")
        _ip("-n", ns(i), "addr", "add", f"{host(i)}/24", "dev", "eth0")
        _ip("-n", ns(i), "link", "set", "eth0", "up")
        _ip("-n", ns(i), "link", "set", "lo", "up")
        _ip("-n", ns(i), "route", "add", "default", "via", BRIDGE_IP)


def cut(i):
    _ip("link", "set", _veth(i), "down")


def heal(i):
    _ip("link", "set", _veth(i), "up")


def inside(i, argv):
    """argv run inside node i's namespace."""
    return ["ip", "netns", "exec", ns(i)] + list(argv)
