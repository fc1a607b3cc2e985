"""Per-account throttling over real sockets: 40 sources guessing one account are slowed, its phone is not."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.interop.apps import PASSWORDS, answer_and_wait, credentials, running_endpoint
from tests.interop.rawclient import UdpClient, sip_request
from voxcenter.sip.auth import DigestClient
from voxcenter.sip.message import Response

DELAY = 0.5


def register(port: int, call_id: str, cseq: int, authorization: str = "") -> bytes:
    extra = "Expires: 300" + (f"\nAuthorization: {authorization}" if authorization else "")
    return sip_request("REGISTER", port, call_id=call_id, cseq=cseq, extra=extra, user="1001", uri="sip:127.0.0.1")


async def attempt(client: UdpClient, server_port: int, call_id: str, password: str) -> tuple[Response, float]:
    """Challenge, then answer with ``password``: the final response and how long the answer took."""
    loop = asyncio.get_running_loop()
    client.send(register(client.port, call_id, 1), "127.0.0.1", server_port)
    challenge = await client.final_response(timeout=5.0)
    assert challenge is not None and challenge.status == 401
    answer = DigestClient("1001", password).authorize("REGISTER", "sip:127.0.0.1",
                                                      challenge.headers.get_all("WWW-Authenticate"))
    assert answer is not None
    started = loop.time()
    client.send(register(client.port, call_id, 2, answer), "127.0.0.1", server_port)
    response = await client.final_response(timeout=5.0)
    assert response is not None
    return response, loop.time() - started


async def test_forty_sources_guessing_one_account_are_slowed_and_the_agent_still_registers(
    capfd: pytest.CaptureFixture[str],
) -> None:
    checked: list[str] = []

    def counting(username: str, realm: str, algorithm: str) -> str | None:
        checked.append(username)  # called once for every guess that is really checked
        return credentials(username, realm, algorithm)

    async with running_endpoint(answer_and_wait, trusted=(), credential_lookup=counting, account_delay=DELAY) \
            as endpoint, UdpClient() as phone:
        port = endpoint.address("udp").port
        registered, _ = await attempt(phone, port, "desk-1", PASSWORDS["1001"])
        assert registered.status == 200  # the agent's desk phone, at 127.0.0.1
        loop = asyncio.get_running_loop()
        clients = [UdpClient(f"127.0.0.{10 + n}") for n in range(40)]
        for client in clients:
            await client.__aenter__()
        try:
            async def guesser(n: int, client: UdpClient) -> list[float]:
                taken = []
                for guess in range(5):
                    response, seconds = await attempt(client, port, f"g{n}-{guess}", f"guess-{guess}")
                    assert response.status == 401
                    taken.append(seconds)
                return taken

            started = loop.time()
            attack = asyncio.gather(*(guesser(n, client) for n, client in enumerate(clients)))
            await asyncio.sleep(0.5)
            # Meanwhile the real agent re-registers from the phone's address: answered at once, no lockout.
            during, seconds = await attempt(phone, port, "desk-2", PASSWORDS["1001"])
            assert during.status == 200 and seconds < DELAY
            times = await attack
            elapsed = loop.time() - started
        finally:
            for client in clients:
                await client.__aexit__()
        guesses = [username for username in checked if username == "1001"][1:-1]  # less the phone's two
        # 10 failures start the throttle; from then on one guess per DELAY is checked, whatever the sources.
        assert len(guesses) <= 10 + elapsed / DELAY + 1, (len(guesses), elapsed)
        assert len(guesses) < 100  # of the 200 guesses sent
        assert sorted(t for per_source in times for t in per_source)[-100] >= DELAY * 0.9  # most were slowed
        assert endpoint.accounts.is_throttled("1001", endpoint._now())
        # Checked or not, every guess counted against its source: all 40 are banned after their 5.
        assert len(endpoint.failures.bans(time.time())) == 40
    log = capfd.readouterr().err
    alerts = [line for line in log.splitlines() if "sip_account_throttled" in line]
    assert len(alerts) == 1 and "user=1001" in alerts[0] and "failures=10" in alerts[0], alerts
    assert "reason=account_throttled" in log
