"""``voxcenter health``: is the server of this dial plan answering SIP? (the container's health check)

It reads the dial plan, takes its first UDP listener (TCP when it has none) and sends an OPTIONS there; any
SIP response means alive (exit 0), silence or a refused connection means not (exit 1). The port is the dial
plan's own, so the check follows the plan instead of a number written into the image.
"""

from __future__ import annotations

import argparse
import socket
import sys
import uuid
from typing import Any

from voxcenter.config import ConfigError, load_config
from voxcenter.config.durations import cli_duration


def add_commands(subparsers: Any) -> None:
    health = subparsers.add_parser("health", help="exit 0 when the dial plan's SIP listener answers an OPTIONS")
    health.add_argument("--config", default="config/voxcenter.yaml", help="the dial plan (default: %(default)s)")
    health.add_argument("--timeout", type=cli_duration, default="5s",
                        help="how long to wait for the answer (default: %(default)s)")
    health.set_defaults(handler=run_health)


def options_request(host: str, port: int, local_port: int, transport: str) -> bytes:
    """A minimal OPTIONS (RFC 3261 §11) from ``local_port``, unique per probe."""
    token = uuid.uuid4().hex
    return (
        f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport.upper()} 127.0.0.1:{local_port};branch=z9hG4bK{token};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:health@127.0.0.1>;tag={token[:8]}\r\n"
        f"To: <sip:{host}:{port}>\r\n"
        f"Call-ID: {token}@health\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def probe(transport: str, host: str, port: int, timeout: float) -> str | None:
    """None when a SIP response came back, else why not."""
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((host, port))
            sock.sendall(options_request(host, port, sock.getsockname()[1], transport))
            answer = sock.recv(4096)
        except OSError as error:
            return f"no answer from {transport}:{host}:{port}: {error.strerror or error}"
    return None if answer.startswith(b"SIP/2.0 ") else f"{transport}:{host}:{port} answered something not SIP"


def run_health(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, check_prompts=False)
    except ConfigError as error:
        print(f"voxcenter health: {error.errors[0]}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"voxcenter health: {args.config}: {error.strerror}", file=sys.stderr)
        return 1
    listeners = sorted((listener for listener in config.sip.listen if listener.transport in ("udp", "tcp")),
                       key=lambda listener: listener.transport != "udp")
    if not listeners:
        print("voxcenter health: the dial plan has no UDP or TCP listener to probe", file=sys.stderr)
        return 1
    listener = listeners[0]
    host = str(listener.address)
    if host in ("0.0.0.0", "::"):  # listening everywhere: loopback is one of them
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    problem = probe(listener.transport, host, listener.port or 5060, args.timeout)
    if problem is not None:
        print(f"voxcenter health: {problem}", file=sys.stderr)
        return 1
    return 0
