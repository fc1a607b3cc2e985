"""A call whose IVR only hangs up is answered and ended without a socket of its own; a prompt opens them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import CARRIER_IP, dial_plan, query, rtp_base_for_test, served, wait_for
from tests.interop.sipp import free_port, run_sipp
from voxcenter.media import ports

pytestmark = pytest.mark.interop


async def test_a_bare_hangup_node_answers_without_opening_a_socket(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test())
    text = plan.read_text().replace("numbers:\n", "numbers:\n  '299': {node: hang-up}\n  '298': {node: bye}\n", 1)
    plan.write_text(text.replace("ivr:\n", "ivr:\n  hang-up:\n    type: hangup\n", 1))
    binds: list[int] = []
    real_bind = ports._bind

    def counting_bind(family: object, host: str, port: int) -> object:
        binds.append(port)
        return real_bind(family, host, port)  # type: ignore[arg-type]

    monkeypatch.setattr(ports, "_bind", counting_bind)
    async with served(plan) as server:
        address = server.endpoint.address("udp")
        target = f"{address.host}:{address.port}"
        # SIPp from the carrier: INVITE, 200 (with an SDP answer), ACK, then voxcenter's BYE.
        result = await run_sipp("uac_remote_bye.xml", target, tmp_path, service="299", local_ip=CARRIER_IP)
        assert result.successful == 1, result.describe()
        await wait_for(lambda: not server.calls)
        assert binds == [] and server.ports.in_use == 0
        # The goodbye prompt of the other hangup node needs the sockets.
        result = await run_sipp("uac_remote_bye.xml", target, tmp_path, service="298", local_ip=CARRIER_IP)
        assert result.successful == 1, result.describe()
        await wait_for(lambda: not server.calls)
        assert len(binds) >= 2 and server.ports.in_use == 0
        await server.writer.flush(5.0)
    rows = query(tmp_path / "voxcenter.db", "select to_number, disposition, hangup_by from calls order by arrived_at")
    assert [(row[0], row[2]) for row in rows] == [("299", "system"), ("298", "system")]
    legs = query(tmp_path / "voxcenter.db", "select role, codec from call_legs")
    assert ("caller", "PCMU") in legs

