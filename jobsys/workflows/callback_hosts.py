"""Which hosts DAG-run HTTP callbacks may POST to (``callback_allowed_hosts``): no SSRF.

Entries of the setting are host names (``hooks.example.com``), wildcards
(``*.example.com``: any name below it), IP addresses or networks (``10.1.0.0/16``),
or ``*`` (any host). With no entry, any host whose addresses are all public is
allowed: loopback, private, link-local (a cloud metadata service), multicast and
reserved addresses are refused.

A URL is checked twice. ``HostPolicy.refusal(url)`` is the static check, when a
manifest is applied and when a run starts: the host as written, no DNS. A URL
carrying a password is refused there too, so that no credential is stored in a
template (put it in a header as a ``secret://`` reference instead).
``HostPolicy.refusal_now(url)`` is the check just before each POST: the host's
addresses as DNS gives them then.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from jobsys.errors import ConfigError

SETTING = "JOBSYS_CALLBACK_ALLOWED_HOSTS"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], list[str]]


def _resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def _address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _kind(address: Address) -> str | None:
    """Why an address is not public, or None when it is."""
    for kind in ("loopback", "link_local", "private", "multicast", "unspecified", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "non-public"


def display_url(url: str) -> str:
    """``url`` with any password in it replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{netloc[2]}").geturl()


class HostPolicy:
    """The parsed ``callback_allowed_hosts`` setting."""

    def __init__(self, entries: Sequence[str], resolve: Resolver = _resolve) -> None:
        self.any_host = False
        self.names: set[str] = set()
        self.suffixes: set[str] = set()
        self.networks: list[Network] = []
        self._resolve = resolve
        for i, raw in enumerate(entries):
            entry = raw.strip().lower()
            if entry == "*":
                self.any_host = True
            elif entry.startswith("*."):
                self.suffixes.add(entry[1:])
            elif _address(entry) is not None or "/" in entry:
                try:
                    self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                except ValueError:
                    raise ConfigError(
                        f"{SETTING} entry {i} ({raw!r}) is not an IP address or network",
                        setting=SETTING,
                    ) from None
            elif entry and all(c.isalnum() or c in "-._" for c in entry):
                self.names.add(entry.rstrip("."))
            else:
                raise ConfigError(
                    f"{SETTING} entry {i} ({raw!r}) is not a host name, *.domain, "
                    "IP address, network or *",
                    setting=SETTING,
                )

    @property
    def open(self) -> bool:
        """No entry: any public host."""
        return not (self.any_host or self.names or self.suffixes or self.networks)

    def _named(self, host: str) -> bool:
        return host in self.names or any(host.endswith(s) for s in self.suffixes)

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be called, from the URL alone (no DNS); None if it may."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.password is not None:
            return (
                f"{display_url(url)} carries a password: send credentials in a header "
                "given as a secret reference (Authorization: secret://env/NAME)"
            )
        if not host:
            return f"{url} names no host"
        if self.any_host or self._named(host):
            return None
        address = _address(host)
        if self.open:
            if host == "localhost" or host.endswith(".localhost"):
                return f"host {host} is a loopback name; allow it with {SETTING}"
            if address is not None and _kind(address):
                return f"host {host} is a {_kind(address)} address; allow it with {SETTING}"
            return None
        if address is not None:
            if any(address in n for n in self.networks):
                return None
            return f"host {host} is not in {SETTING}"
        if self.networks:  # a name: its addresses decide, just before the POST
            return None
        return f"host {host} is not in {SETTING}"

    def refusal_now(self, url: str) -> str | None:
        """Why ``url`` may not be called now, its host's addresses resolved; None if it may."""
        static = self.refusal(url)
        if static is not None:
            return static
        host = (urlsplit(url).hostname or "").lower()
        if self.any_host or self._named(host):
            return None
        literal = _address(host)
        if literal is not None:
            return None  # the static check decided on the address itself
        try:
            addresses = [a for a in (_address(x) for x in self._resolve(host)) if a is not None]
        except OSError as exc:
            return f"host {host} does not resolve: {exc}"
        if not addresses:
            return f"host {host} does not resolve"
        for address in addresses:
            kind = _kind(address)
            if self.open and kind:
                return (
                    f"host {host} resolves to {address}, a {kind} address; allow it with " + SETTING
                )
            if not self.open and not any(address in n for n in self.networks):
                return f"host {host} resolves to {address}, not in {SETTING}"
        return None
