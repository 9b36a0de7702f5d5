"""A fixed table in place of DNS (``URL_RESOLVER`` in tests/settings.py): the suite makes no
DNS query, and can say what a name resolves to."""

from __future__ import annotations

import socket

#: example.com's address: public, so the default policy accepts names resolving to it.
PUBLIC = "93.184.215.14"
TABLE: dict[str, list[str]] = {
    "intranet.example.com": ["10.20.30.40"],
    "metadata.example.com": ["169.254.169.254"],
    "mapped.example.com": ["::ffff:127.0.0.1"],
    # One public and one loopback address: the fetcher may pick either.
    "rebind.example.com": [PUBLIC, "127.0.0.1"],
    "v6.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
}


def resolve(host: str) -> list[str]:
    """``*.invalid`` (RFC 6761) never resolves; the table's names as listed; others public."""
    if host == "invalid" or host.endswith(".invalid"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return TABLE.get(host, [PUBLIC])
