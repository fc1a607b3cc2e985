"""SIP over WebSocket listeners in the dial plan: ``ws`` on loopback only, ``wss`` with the TLS certificate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.certificates import certificate
from voxcenter.config import ConfigError, load_config
from voxcenter.runtime.mapping import endpoint_settings


def write(tmp_path: Path, listen: str) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text("numbers: {}\nsip:\n  listen:\n" + listen)
    return path


def test_ws_listens_on_loopback_only(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "    - {transport: ws}\n"), check_prompts=False)
    assert config.sip.listen[0].effective_port == 5066
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "    - {transport: ws, address: 0.0.0.0}\n"), check_prompts=False)
    [issue] = [i for i in caught.value.errors if i.severity == "error"]
    assert issue.line == 4 and "loopback" in issue.message and "wss" in issue.message


def test_wss_uses_the_certificate_of_the_tls_listener(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path)
    config = load_config(write(tmp_path, f"    - {{transport: tls, cert: {cert}, key: {key}}}\n"
                                         "    - {transport: wss, address: 0.0.0.0}\n"), check_prompts=False)
    wss = endpoint_settings(config).listeners[1]
    assert (wss.transport, wss.port, wss.certificate, wss.private_key) == ("wss", 7443, str(cert), str(key))
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "    - {transport: wss}\n"), check_prompts=False)
    assert any("tls listener" in issue.message for issue in caught.value.errors)
