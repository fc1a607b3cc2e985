"""The Dockerfile's entrypoint and health check, run as written but outside a container (no image is built here).

The image's layout (/opt/voxcenter/{config,prompts,var}) is laid out in a temporary directory, the example
dial plan copied into it with free ports (it listens on 127.0.0.1, as in the image), and the ENTRYPOINT + CMD
and the HEALTHCHECK command are read from the Dockerfile and run with /opt/voxcenter mapped there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.harness import REPO, rtp_base_for_test
from tests.interop.sipp import free_port

DOCKERFILE = (REPO / "Dockerfile").read_text()
IMAGE_ROOT = "/opt/voxcenter"


def instruction(name: str) -> str:
    """The text of the Dockerfile's (last) ``name`` instruction, continuation lines joined."""
    joined = DOCKERFILE.replace("\\\n", " ")
    found = re.findall(rf"^{name}\s+(.*)$", joined, flags=re.MULTILINE)
    assert found, f"no {name} in the Dockerfile"
    return str(found[-1])


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV\s+(.*)$", DOCKERFILE.replace("\\\n", " "), flags=re.MULTILINE):
        for key, value in re.findall(r"(\w+)=(\S+)", line):
            env[key] = value
    return env


def lay_out_image(root: Path) -> Path:
    """/opt/voxcenter of the image under ``root``: config (the example, free ports), prompts, an empty var."""
    home = root / IMAGE_ROOT.lstrip("/")
    (home / "config").mkdir(parents=True)
    (home / "var").mkdir()
    os.symlink(REPO / "prompts", home / "prompts")
    rtp = rtp_base_for_test()
    plan = (REPO / "config" / "voxcenter.yaml").read_text()
    plan = plan.replace("port: 5080", f"port: {free_port()}", 2).replace("port_min: 20000", f"port_min: {rtp}") \
        .replace("port_max: 20999", f"port_max: {rtp + 99}")
    plan += f"\napi:\n  port: {free_port()}\n"
    (home / "config" / "voxcenter.yaml").write_text(plan)
    return home


def command(words: list[str], home: Path) -> list[str]:
    """An exec-form command of the image with ``voxcenter`` from this venv and /opt/voxcenter mapped."""
    voxcenter = str(Path(sys.executable).with_name("voxcenter"))
    return [voxcenter if word == "voxcenter" else word.replace(IMAGE_ROOT, str(home)) for word in words]


def test_entrypoint_and_health_check_of_the_image(tmp_path: Path) -> None:
    home = lay_out_image(tmp_path)
    env = {**os.environ, **{k: v.replace(IMAGE_ROOT, str(home)) for k, v in image_env().items()}}
    entrypoint = json.loads(instruction("ENTRYPOINT"))
    cmd = json.loads(instruction("CMD"))
    health = instruction("HEALTHCHECK")
    assert "--interval=" in health
    health_cmd = json.loads(health[health.index("CMD") + 3:].strip())
    assert health_cmd[0] == "voxcenter" and "/opt/voxcenter/config/voxcenter.yaml" in health_cmd

    def healthy() -> subprocess.CompletedProcess[str]:
        return subprocess.run(command(health_cmd, home), env=env, capture_output=True, text=True, timeout=30,
                              cwd=home)

    before = healthy()
    assert before.returncode == 1 and "no answer" in before.stderr  # nothing runs yet
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(command(entrypoint + cmd, home), env=env, cwd=home, stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while '"voxcenter.started"' not in (tmp_path / "server.log").read_text():
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.1)
        result = healthy()
        assert result.returncode == 0, result.stderr
        # The database went to the writable volume, not next to the dial plan.
        assert (home / "var" / "voxcenter.db").is_file()
        assert not (home / "config" / "voxcenter.db").exists()
        assert (home / "var" / "journal").is_dir() and (home / "var" / "recordings").is_dir()
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()
    assert healthy().returncode == 1
    lines = (tmp_path / "server.log").read_text().splitlines()
    assert all(line.startswith("{") for line in lines)  # --log-json: every line is JSON
    shutil.rmtree(home / "var", ignore_errors=True)
