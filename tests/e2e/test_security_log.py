"""The fail2ban filter of docs/operations.md, run by fail2ban-regex over the log of a real ``voxcenter run``.

The server is attacked from loopback addresses other than the agents' 127.0.0.1: wrong passwords from two
sources (each banned after 5), enough failures on agent 1001 to throttle it, two guesses at once (one is
checked, one is not), and a flood from another source. Every security line must match the filter, with the
right host, and no other line.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_shutdown import ServerProcess
from tests.e2e.whole_call_peers import write_plan
from tests.interop.rawclient import UdpClient, sip_request
from voxcenter.sip.auth import DigestClient

pytestmark = pytest.mark.interop

REPO = Path(__file__).resolve().parents[2]


def documented_filter() -> str:
    """The filter.d/voxcenter.conf block of docs/operations.md, exactly as an operator copies it."""
    text = (REPO / "docs" / "operations.md").read_text()
    match = re.search(r"`/etc/fail2ban/filter\.d/voxcenter\.conf`:\n\n```ini\n(.*?)```", text, re.S)
    assert match is not None
    return match.group(1)


async def guess(client: UdpClient, port: int, call_id: str) -> None:
    def register(cseq: int, authorization: str = "") -> bytes:
        extra = "Expires: 300" + (f"\nAuthorization: {authorization}" if authorization else "")
        return sip_request("REGISTER", client.port, call_id=call_id, cseq=cseq, extra=extra, uri="sip:127.0.0.1")

    client.send(register(1), "127.0.0.1", port)
    challenge = await client.final_response(timeout=5.0)
    assert challenge is not None and challenge.status == 401
    answer = DigestClient("1001", "wrong").authorize("REGISTER", "sip:127.0.0.1",
                                                     challenge.headers.get_all("WWW-Authenticate"))
    assert answer is not None
    client.send(register(2, answer), "127.0.0.1", port)
    assert await client.final_response(timeout=5.0) is not None


async def test_fail2ban_regex_matches_every_security_line_and_nothing_else(tmp_path: Path) -> None:
    fail2ban_regex = shutil.which("fail2ban-regex")
    assert fail2ban_regex is not None, "scripts/bootstrap --dev installs fail2ban"
    config, sip_port = write_plan(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'voxcenter.db'}")
    server = ServerProcess(config, tmp_path / "server.log", drain=0.0)
    await server.start()
    try:
        async with UdpClient("127.0.0.21") as first, UdpClient("127.0.0.22") as second, \
                UdpClient("127.0.0.23") as third, UdpClient("127.0.0.25") as fourth, \
                UdpClient("127.0.0.24") as flooder:
            for n in range(5):
                await guess(first, sip_port, f"a{n}")
                await guess(second, sip_port, f"b{n}")
            # The account is throttled now: of two guesses at once, one is checked and one is not.
            await asyncio.gather(guess(third, sip_port, "c0"), guess(fourth, sip_port, "d0"))
            for n in range(20):
                flooder.send(sip_request("OPTIONS", flooder.port, call_id=f"f{n}", uri="sip:127.0.0.1"),
                             "127.0.0.1", sip_port)
            await asyncio.sleep(0.5)
    finally:
        await server.kill()
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    security = [line for line in lines if line["event"] in ("sip_auth_failed", "sip_account_throttled",
                                                             "sip_flood_banned")]
    assert {line["event"] for line in security} == {"sip_auth_failed", "sip_account_throttled", "sip_flood_banned"}
    late = sorted(line["reason"] for line in security if line.get("src_ip") in ("127.0.0.23", "127.0.0.25"))
    assert late == ["account_throttled", "wrong_password"]
    (tmp_path / "voxcenter.conf").write_text(documented_filter())
    result = await asyncio.to_thread(
        subprocess.run,
        [fail2ban_regex, "--print-all-matched", str(tmp_path / "server.log"), str(tmp_path / "voxcenter.conf")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = re.search(r"Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", result.stdout)
    assert summary is not None, result.stdout
    assert int(summary[3]) == len(security), result.stdout
    matched = result.stdout.split("Missed line(s)")[0]
    hosts = re.findall(r'"src_ip": "(127\.0\.0\.\d+)"', matched)
    assert set(hosts) >= {"127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24", "127.0.0.25"}, result.stdout
