"""Host networking an engine owns: its slot (a 10.N.0.0/16 range), bridges and iptables rules.

Every Docker engine started by tests/infra gets a slot N, unique on the machine while the
engine lives (allocated under :func:`tests.infra.processes.host_lock`):

- default bridge ``wfb<id>`` (created here, passed as ``--bridge``) with ``10.N.0.1/24``;
- swarm's ``docker_gwbridge`` as a Linux bridge ``wfg<id>`` on ``10.N.1.0/24``;
- local networks from ``10.N.128.0/17``, overlay networks from ``10.N.64.0/18``;
- swarm addresses on the loopback address ``127.0.N.1``.

So concurrent engines (other sessions, other checkouts) never share ``docker0``,
``docker_gwbridge``, an address or the swarm gossip port 7946, and cleanup can find what
an engine left on the host by its slot alone.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from typing import Any

SLOTS = range(100, 200)


@dataclass(frozen=True)
class Slot:
    number: int
    bridge: str
    gwbridge: str

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"10.{self.number}.0.0/16")

    @property
    def bridge_cidr(self) -> str:
        return f"10.{self.number}.0.1/24"

    @property
    def gwbridge_subnet(self) -> str:
        return f"10.{self.number}.1.0/24"

    @property
    def local_pool(self) -> str:
        return f"10.{self.number}.128.0/17"

    @property
    def overlay_pool(self) -> str:
        return f"10.{self.number}.64.0/18"

    @property
    def loopback(self) -> str:
        return f"127.0.{self.number}.1"

    def to_json(self) -> dict[str, object]:
        return {"number": self.number, "bridge": self.bridge, "gwbridge": self.gwbridge}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Slot:
        return cls(int(str(data["number"])), str(data["bridge"]), str(data["gwbridge"]))


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def _ip_json(*args: str) -> list[dict[str, Any]]:
    done = _ip("-j", *args)
    if done.returncode != 0 or not done.stdout.strip():
        return []
    data = json.loads(done.stdout)
    return data if isinstance(data, list) else []


def used_networks() -> list[ipaddress.IPv4Network]:
    """IPv4 networks the host already has on an interface or in any routing table."""
    found: list[ipaddress.IPv4Network] = []
    for link in _ip_json("-4", "addr", "show"):
        for info in link.get("addr_info") or []:
            with contextlib.suppress(KeyError, ValueError, TypeError):
                found.append(
                    ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False)
                )
    for route in _ip_json("-4", "route", "show", "table", "all"):
        destination = str(route.get("dst", ""))
        if destination in ("", "default"):
            continue
        with contextlib.suppress(ValueError):
            found.append(ipaddress.IPv4Network(destination, strict=False))
    return found


def allocate_slot(token: str) -> Slot:
    """Pick a free slot and create its default bridge. Call under the host lock."""
    used = used_networks()
    for number in SLOTS:
        candidate = ipaddress.IPv4Network(f"10.{number}.0.0/16")
        if any(candidate.overlaps(network) for network in used):
            continue
        slot = Slot(number, bridge=f"wfb{token}", gwbridge=f"wfg{token}")
        create_bridge(slot.bridge, slot.bridge_cidr)
        return slot
    raise RuntimeError("no free 10.N.0.0/16 range for a test engine (N in 100..199)")


def create_bridge(name: str, cidr: str) -> None:
    for args in (
        ("link", "add", "name", name, "type", "bridge"),
        ("addr", "add", cidr, "dev", name),
        ("link", "set", name, "up"),
    ):
        done = _ip(*args)
        if done.returncode != 0:
            _ip("link", "del", name)
            raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def owns_range(slot: Slot) -> bool:
    """Whether the slot's range is still ours: its default bridge (holding 10.N.0.1) exists.

    Once that bridge is gone another engine may hold the same N, so cleanup must then go by
    our interface names only.
    """
    return any(link.get("ifname") == slot.bridge for link in _ip_json("link", "show"))


def links_of(slot: Slot, *, by_range: bool = True) -> list[str]:
    """Our bridges plus (``by_range``) any interface with an address in the slot (br-*)."""
    names = {slot.bridge, slot.gwbridge}
    for link in _ip_json("-4", "addr", "show") if by_range else []:
        for info in link.get("addr_info") or []:
            with contextlib.suppress(KeyError, ValueError, TypeError):
                if ipaddress.IPv4Address(str(info["local"])) in slot.network:
                    names.add(str(link["ifname"]))
    existing = {str(link.get("ifname")) for link in _ip_json("link", "show")}
    return sorted(names & existing)


def delete_iptables_rules(slot: Slot, links: list[str], *, by_range: bool = True) -> None:
    """Delete the rules Docker left for our bridges and subnets (other engines' stay)."""
    names = {slot.bridge, slot.gwbridge, *links}
    words = re.compile(
        r"(?<![\w.-])(" + "|".join(re.escape(n) for n in sorted(names)) + r")(?![\w.-])"
    )
    subnet = re.compile(rf"(?<![\d.])10\.{slot.number}\.\d+\.\d+") if by_range else None

    def ours(line: str) -> bool:
        return bool(words.search(line) or (subnet and subnet.search(line)))

    for table in ("filter", "nat"):
        listing = subprocess.run(
            ["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True, check=False
        )
        for line in listing.stdout.splitlines():
            if line.startswith("-A ") and ours(line):
                rule = shlex.split(line)
                rule[0] = "-D"
                subprocess.run(
                    ["iptables", "-w", "-t", table, *rule], capture_output=True, check=False
                )


def release_slot(slot: Slot) -> None:
    """Remove every link and iptables rule of the slot from the host (under the host lock).

    The default bridge goes last: while it exists, the slot's range is ours.
    """
    by_range = owns_range(slot)
    links = links_of(slot, by_range=by_range)
    delete_iptables_rules(slot, links, by_range=by_range)
    for name in sorted(links, key=lambda name: name == slot.bridge):
        _ip("link", "del", name)
