"""``recording.storage: database``: each call's recording is kept in the ``recordings`` table too."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import AgentPhone, query, rtp_base_for_test, served, wait_for
from tests.e2e.queue_peers import call_of, calling, queue_dial_plan
from tests.interop.sipp import free_port

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


async def test_a_recording_kept_in_the_database_is_the_file_written(tmp_path: Path) -> None:
    plan = queue_dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test())
    text = plan.read_text().replace("recording:\n  enabled: true\n",
                                    "recording:\n  enabled: true\n  storage: database\n")
    plan.write_text(text)
    async with served(plan) as server:
        async with AgentPhone("1003", "pw-1003", server.endpoint.address("udp")) as carol:
            assert await carol.register() == 200 and await carol.dial("*45") == 200
            async with calling(server, tmp_path, "304", name="caller", number="0611111111", hold=3.0) as caller:
                assert (await caller.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="the call's end")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    [(path, size, data)] = query(db, "select path, size_bytes, data from recordings where call_id=?",
                                 call_of(db, "0611111111"))
    written = Path(str(path)).read_bytes()
    assert len(written) == size > 44 and bytes(data) == written  # a WAV with audio, byte for byte
