"""The SIP core against SIPp, a peer nobody here wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.apps import PASSWORDS, answer_and_hang_up, answer_and_wait, running_endpoint
from tests.interop.sipp import run_sipp

pytestmark = pytest.mark.interop


def target(endpoint, transport: str = "udp") -> str:
    address = endpoint.address(transport)
    return f"{address.host}:{address.port}"


async def test_register_with_digest(tmp_path: Path) -> None:
    async with running_endpoint(answer_and_wait) as endpoint:
        ok = await run_sipp(
            "register_auth.xml", target(endpoint), tmp_path, service="1001",
            extra=["-au", "1001", "-ap", PASSWORDS["1001"]],
        )
        assert ok.successful == 1 and ok.failed == 0, ok.describe()
        assert endpoint.registrar.is_registered("1001")
        [binding] = endpoint.registrar.lookup("1001")
        assert binding.source.host == "127.0.0.1"


async def test_register_with_wrong_password_fails(tmp_path: Path) -> None:
    async with running_endpoint(answer_and_wait) as endpoint:
        bad = await run_sipp(
            "register_auth.xml", target(endpoint), tmp_path, service="1001",
            extra=["-au", "1001", "-ap", "wrong"], timeout=10,
        )
        # The second REGISTER is challenged again (401): SIPp expected a 200.
        assert bad.failed == 1 and bad.successful == 0, bad.describe()
        assert not endpoint.registrar.is_registered("1001")


@pytest.mark.parametrize("transport", ["u1", "t1"])
async def test_call_answered_then_caller_hangs_up(tmp_path: Path, transport: str) -> None:
    async with running_endpoint(answer_and_wait) as endpoint:
        name = "udp" if transport == "u1" else "tcp"
        result = await run_sipp("uac_call.xml", target(endpoint, name), tmp_path, transport=transport, calls=5,
                                rate=20)
        assert result.successful == 5 and result.failed == 0, result.describe()
        assert endpoint.sessions == {}


async def test_call_answered_then_server_hangs_up(tmp_path: Path) -> None:
    async with running_endpoint(answer_and_hang_up) as endpoint:
        result = await run_sipp("uac_remote_bye.xml", target(endpoint), tmp_path, calls=5, rate=20)
        assert result.successful == 5 and result.failed == 0, result.describe()
