"""``voxcenter run`` that cannot start says why in one line and exits non-zero, without a traceback.

Each case runs the real command line in a child process against a fault of the machine around it: the SIP
port taken by another process, the journal locked by another voxcenter, a database that does not answer,
the prompts directory missing.
"""

from __future__ import annotations

import fcntl
import json
import socket
import subprocess
import sys
from pathlib import Path

from tests.e2e.harness import REPO, dial_plan, rtp_base_for_test
from tests.interop.sipp import free_port


def run_until_exit(plan: Path) -> tuple[int, list[str]]:
    """Exit status and output lines of ``voxcenter run`` on ``plan`` (JSON logs)."""
    finished = subprocess.run(
        [sys.executable, "-m", "voxcenter.cli", "run", "--config", str(plan), "--log-json"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, text=True,
    )
    return finished.returncode, finished.stdout.splitlines()


def the_one_error(lines: list[str]) -> str:
    """The single error line of a failed start (everything else it printed is info)."""
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    records = [json.loads(line) for line in lines]  # every line, Alembic's too, is JSON
    errors = [record for record in records if record["level"] == "error"]
    assert len(errors) == 1, "\n".join(lines)
    assert errors[0]["event"] == "voxcenter.start_failed"
    return str(errors[0]["error"])


def test_sip_port_in_use(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        status, lines = run_until_exit(dial_plan(tmp_path, sip_port=port, rtp_base=rtp_base_for_test()))
    assert status == 1
    assert the_one_error(lines) == f"cannot listen on udp:127.0.0.1:{port}: address already in use"


def test_journal_locked_by_another_process(tmp_path: Path) -> None:
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test())
    journal = tmp_path / "journal"
    journal.mkdir()
    # Another process holds the journal: a child that takes the lock the way voxcenter's journal does.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         f"fd = os.open({str(journal / 'lock')!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        status, lines = run_until_exit(plan)
    finally:
        holder.kill()
        holder.wait()
    assert status == 1
    assert the_one_error(lines) == f"journal {journal} is in use by another process"
    with (journal / "lock").open("rb") as lock:  # voxcenter left nothing locked behind
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_database_unreachable(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test())
    text = plan.read_text().replace(f"sqlite+aiosqlite:///{tmp_path / 'voxcenter.db'}",
                                    f"postgresql+asyncpg://voxcenter:secret@127.0.0.1:{port}/voxcenter")
    plan.write_text(text)
    status, lines = run_until_exit(plan)
    assert status == 1
    error = the_one_error(lines)
    assert error.startswith(f"database postgresql+asyncpg://voxcenter:***@127.0.0.1:{port}/voxcenter unreachable: ")
    assert "refused" in error and "secret" not in "\n".join(lines)


def test_prompts_directory_missing(tmp_path: Path) -> None:
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test())
    missing = tmp_path / "no-such-prompts"
    plan.write_text(plan.read_text().replace(f"directory: {REPO / 'prompts'}", f"directory: {missing}"))
    status, lines = run_until_exit(plan)
    assert status == 2
    errors = [line for line in lines if ": warning: " not in line]  # the plan's warnings are printed too
    assert errors == [f"{plan}:{_line_of(plan, str(missing))}:14: prompts directory {missing} does not exist "
                      f"({missing})"]


def _line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)
