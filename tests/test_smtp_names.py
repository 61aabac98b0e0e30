"""Our SMTP name: ``[smtp] hostname`` is the listener's greeting and the EHLO name the
sender gives the smarthost (many smarthosts refuse a name that is not fully qualified);
empty, both are this machine's fully-qualified name."""

from __future__ import annotations

import smtplib
import socket
from pathlib import Path

from mailgate.config import load_config
from mailgate.logs import configure_logging
from tests.conftest import RunningDaemon, make_mail
from tests.faultkit import Relay, RelayHandler, fault_config
from tests.support import free_port, wait_until


def _daemon(folder: Path, relay_port: int, hostname: str | None) -> RunningDaemon:
    settings: dict[str, dict[str, object]] = {
        "outbound": {"mode": "smtp", "host": "127.0.0.1", "port": relay_port,
                     "timeout": "5s", "retry_initial": "0.2s", "retry_max": "0.5s"},
        "processing": {"processes": 0}}
    if hostname is not None:
        settings["smtp"] = {"hostname": hostname}
    config = load_config(fault_config(folder, settings))
    configure_logging(config.logging)
    return RunningDaemon(config).start()


def _names(folder: Path, hostname: str | None) -> tuple[str, str]:
    """(the listener's greeting, the EHLO name the smarthost saw for our ack)."""
    relay_port = free_port()
    handler = RelayHandler()
    with Relay(relay_port, handler):
        running = _daemon(folder, relay_port, hostname)
        try:
            with smtplib.SMTP("127.0.0.1", running.port, timeout=10) as client:
                code, greeting = client.ehlo("client.example.org")
                assert code == 250
            code, text = running.send(make_mail("Name check"))
            assert code == 250, text
            [delivery] = wait_until(handler.delivered, 20, message="no ack at the smarthost")
        finally:
            running.stop()
    return greeting.decode().splitlines()[0], delivery.ehlo


def test_configured_hostname_is_greeting_and_outbound_ehlo(tmp_path: Path) -> None:
    greeting, ehlo = _names(tmp_path, "mail.example.net")
    assert greeting == "mail.example.net"
    assert ehlo == "mail.example.net"


def test_default_hostname_is_the_fqdn(tmp_path: Path) -> None:
    greeting, ehlo = _names(tmp_path, None)
    assert greeting == ehlo == socket.getfqdn()
