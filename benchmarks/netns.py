"""Hosts on a private subnet for the multi-host test and benchmark: one Linux network
namespace per host, each with an ``eth0`` (a veth pair) plugged into a bridge that lives
in a switch namespace of its own. Nothing is routed to or from the machine's own network: traffic
goes only between these hosts (and each host's own loopback).

The hosts share the file system and process table (only the network is separate), so
every test still talks to a server over its address, never through a shared folder,
where the behaviour under test is the network's. Needs root (``ip netns``). Used by
tests/e2e/test_multihost.py and benchmarks/cluster_parallel.py --hosts.
"""
from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess


def available() -> str | None:
    """None if namespaces can be made here, else why not."""
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"gnnprobe{secrets.token_hex(3)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


class Network:
    """``Network(["server", "worker-1"])``: hosts 10.X.Y.1, .2, ... on a /24 chosen at random."""

    def __init__(self, hosts: list[str]):
        self.tag = secrets.token_hex(2)
        self.subnet = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
        self.switch = f"gnn{self.tag}sw"
        self.hosts = {name: (f"gnn{self.tag}{name}", f"{self.subnet}.{i}", f"v{self.tag}{i}")
                      for i, name in enumerate(hosts, 1)}
        self.made: list[str] = []
        try:
            self._build()
        except BaseException:
            self.remove()
            raise

    def _build(self) -> None:
        _ip("netns", "add", self.switch)
        self.made.append(self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for ns, address, veth in self.hosts.values():
            _ip("netns", "add", ns)
            self.made.append(ns)
            _ip("link", "add", f"{veth}h", "netns", ns, "type", "veth", "peer", "name", f"{veth}s",
                "netns", self.switch)
            _ip("-n", ns, "link", "set", f"{veth}h", "name", "eth0")
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            for link in ("lo", "eth0"):
                _ip("-n", ns, "link", "set", link, "up")
            _ip("-n", self.switch, "link", "set", f"{veth}s", "master", "br0", "up")

    def address(self, host: str) -> str:
        return self.hosts[host][1]

    def cmd(self, host: str, argv: list[str]) -> list[str]:
        """``argv`` run on ``host`` (in its network namespace)."""
        return ["ip", "netns", "exec", self.hosts[host][0], *argv]

    def set_link(self, host: str, up: bool) -> None:
        """Plug ``host``'s cable in or pull it out (at the switch: the host sees no change)."""
        _ip("-n", self.switch, "link", "set", f"{self.hosts[host][2]}s", "up" if up else "down")

    def remove(self) -> None:
        for ns in reversed(self.made):  # deleting a namespace deletes its veth ends
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made.clear()
