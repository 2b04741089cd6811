"""Spend held in memory: what a session (or a visitor) has spent, and the bound on runs in flight.

    Spend          spent and reserved dollars, counted by PLAYGROUND_MAX_USD_PER_SESSION
    VisitorLedger  one Spend per visitor and UTC day, shared by every session of that visitor
    visitor_key    who a request comes from: its network address (a /64 for IPv6)
    RunSlots       at most MAX_RUNS_IN_FLIGHT runs at once in one process, whoever started them

On a Space the app binds each browser session's Spend to its visitor's (`Playground.bind_visitor`),
so a stranger cannot reset the session cap by opening a new client: every session from one
address shares it for the UTC day (elsewhere each browser session keeps its own). An address is not an identity: a stranger with many addresses (a
proxy pool, an IPv6 range wider than a /64) gets a budget per address, and several visitors
behind one address share one. The day cap (PLAYGROUND_MAX_USD_PER_DAY) is the bound that holds
whatever the addresses. Nothing here is written to disk: a restart starts every visitor at $0.
"""

from __future__ import annotations

import asyncio
import ipaddress
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_RUNS_IN_FLIGHT = 8  # the README's promise: Generate, Compare and batch share it
MAX_VISITORS = 65_536  # visitors remembered per day; the oldest idle ones are forgotten first

# Hops of a proxy chain that are the hosting platform's own network, never a visitor.
_INTERNAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


@dataclass
class Spend:
    """Dollars spent (logged costs) and reserved (worst cases of runs in flight)."""

    spent_usd: float = 0.0
    reserved_usd: float = 0.0

    @property
    def total_usd(self) -> float:
        return self.spent_usd + self.reserved_usd


class VisitorLedger:
    """One Spend per (UTC day, visitor): a visitor's sessions share it; a new day starts at $0."""

    def __init__(self, max_visitors: int = MAX_VISITORS) -> None:
        self.max_visitors = max_visitors
        self._day = ""
        self._spend: OrderedDict[str, Spend] = OrderedDict()

    def spend(self, visitor: str) -> Spend:
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        if today != self._day:  # runs still in flight keep the Spend object they hold
            self._day, self._spend = today, OrderedDict()
        spend = self._spend.get(visitor)
        if spend is None:
            spend = self._spend[visitor] = Spend()
            self._forget_oldest_idle()
        return spend

    def _forget_oldest_idle(self) -> None:
        while len(self._spend) > self.max_visitors:
            idle = next((k for k, s in self._spend.items() if s.reserved_usd <= 0), None)
            if idle is None:
                return
            del self._spend[idle]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(address.version == net.version and address in net for net in _INTERNAL)


def _key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))  # one subscriber's usual allocation
    return str(address)


def visitor_key(headers: Mapping[str, str], peer: str | None, behind_proxy: bool) -> str:
    """Who a request comes from. Behind the hosting platform's proxy (a Space) that is the last
    address in X-Forwarded-For that is not the platform's own network: the proxy appends the
    address it saw, so what a client writes in the header itself only adds hops to the left of
    it [guess: how the Hugging Face proxy fills the header is not documented]. Elsewhere nothing
    vouches for the header: the connection's own address."""
    if behind_proxy:
        forwarded = next((v for k, v in headers.items() if k.lower() == "x-forwarded-for"), "")
        for hop in reversed(forwarded.split(",")):
            address = _address(hop)
            if address is not None and not _internal(address):
                return _key(address)
    address = _address(peer or "")
    return _key(address) if address is not None else (peer or "unknown")


class RunSlots:
    """At most `size` runs at once in this process (Generate, Compare and batch alike); the rest
    wait their turn. One semaphore per event loop (the app has one; tests and CLI calls start
    their own)."""

    def __init__(self, size: int = MAX_RUNS_IN_FLIGHT) -> None:
        self.size = size
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def semaphore(self) -> asyncio.Semaphore:
        """The running event loop's semaphore: acquire it for a slot, release it after the run."""
        loop = asyncio.get_running_loop()
        semaphore = self._by_loop.get(loop)
        if semaphore is None:
            semaphore = self._by_loop[loop] = asyncio.Semaphore(self.size)
        return semaphore

    def full(self) -> bool:
        return self.semaphore().locked()


RUN_SLOTS = RunSlots()  # process-wide: every Playground of the process shares it
