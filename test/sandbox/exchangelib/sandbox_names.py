"""
Makes the sandbox's host names reach the sandbox inside this Python process, the way curl's --resolve does,
without touching /etc/hosts: the names stay in the URLs (so TLS SNI, the certificate check and the Host header
use them), only the address and port a socket connects to are changed.

Read from the environment (set by the test that runs the script):
  SANDBOX_HOSTS      comma-separated host names of the sandbox (contoso.test, autodiscover.contoso.test, ...)
  SANDBOX_PORT       the sandbox's HTTPS port; connections to a sandbox name on port 443 go there
  SANDBOX_HTTP_PORT  the sandbox's plain-HTTP port (Autodiscover redirect probe); port 80 goes there, if set
TLS is verified against the sandbox's CA through REQUESTS_CA_BUNDLE, which requests reads itself.

Any other name does not resolve: the script must never reach a real server. DNS lookups that exchangelib makes
with dnspython (an A lookup before each Autodiscover candidate, an SRV lookup for _autodiscover._tcp) are
answered the same way: the sandbox's names exist, nothing else does.
"""
import os
import socket

import dns.name
import dns.resolver

HOSTS = {h.strip().lower() for h in os.environ.get("SANDBOX_HOSTS", "").split(",") if h.strip()}
PORT = int(os.environ["SANDBOX_PORT"])
HTTP_PORT = int(os.environ["SANDBOX_HTTP_PORT"]) if os.environ.get("SANDBOX_HTTP_PORT") else None

# Every (host, port) this process connected to, as mapped: the test reads it to tell which way a client went.
CONNECTIONS = []

_real_getaddrinfo = socket.getaddrinfo


def _target(host, port):
    name = (host.decode() if isinstance(host, bytes) else str(host or "")).lower().rstrip(".")
    if name in ("127.0.0.1", "localhost"):
        return "127.0.0.1", int(port)
    if name not in HOSTS:
        raise socket.gaierror(socket.EAI_NONAME, f"{name} is not a sandbox host name")
    port = int(port) if port is not None else 443
    if port == 443:
        port = PORT
    elif port == 80 and HTTP_PORT is not None:
        port = HTTP_PORT
    CONNECTIONS.append((name, port))
    return "127.0.0.1", port


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    address, mapped = _target(host, port)
    return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, mapped))]


socket.getaddrinfo = getaddrinfo


class _Answer(list):
    """What exchangelib reads of an A answer: nothing but its existence."""


def _resolve(self, qname, rdtype="A", *args, **kwargs):
    name = str(qname).lower().rstrip(".")
    if str(rdtype).upper().endswith("A") and name in HOSTS:
        return _Answer(["127.0.0.1"])
    raise dns.resolver.NXDOMAIN(qnames=[dns.name.from_text(name + ".")])


dns.resolver.Resolver.resolve = _resolve
dns.resolver.Resolver.query = _resolve
