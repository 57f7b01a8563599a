"""What the console and the certificate feature keep per server process (app.state.console)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from sync_server.admin.issuing import CertificateIssuer
from sync_server.admin.queries import Queries


@dataclass
class ConsoleState:
    issuer: CertificateIssuer
    queries: Queries


def console_state(request: Request) -> ConsoleState:
    return request.app.state.console  # type: ignore[no-any-return]
