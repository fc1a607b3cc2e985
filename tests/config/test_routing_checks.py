"""``voxcenter check`` warns about routing settings that would do nothing or leave callers waiting for nobody."""

from __future__ import annotations

import textwrap
from pathlib import Path

from voxcenter.config import analyse

PLAN = textwrap.dedent("""\
    numbers:
      '100': {node: q}
    ivr:
      q: {type: queue, queue: experts, on_exit: {timeout: menu, empty: menu, full: menu}}
      menu: {type: voicemail, mailbox: m}
    queues:
      experts:
        join_when: always
        leave_when: never
        skills: {tech: 4}
        relaxation: [{after: 30s, min_level: 3}]
        max_wait: 1m
        backup_group: seniors
        backup_after: 1m
        cost_aware: true
      relaxed:
        skills: {tech: 4}
        relaxation: [{after: 30s, min_level: 2}]
        max_wait: 2m
        backup_group: seniors
        backup_after: 1m
        cost_aware: true
    groups:
      seniors: ['1002']
    agents:
      '1001': {name: A, password: pw, skills: {tech: 2}, cost: 10, queues: [experts, relaxed]}
      '1002': {name: B, password: pw, skills: {tech: 2}, cost: 10, queues: [experts]}
      '1003': {name: C, password: pw, skills: {tech: 2}, cost: 20, queues: [relaxed]}
    """)


def line_of(text: str) -> int:
    return PLAN.splitlines().index(text) + 1


def test_routing_settings_that_do_nothing_or_strand_callers_are_warnings_where_they_are_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "voxcenter.yaml"
    path.write_text(PLAN)
    issues, config = analyse(path, check_prompts=False)
    assert config is not None
    routing = [issue for issue in issues if "'experts'" in issue.message or "'relaxed'" in issue.message]
    assert all(issue.severity == "warning" for issue in routing)
    assert [(issue.line, issue.column, issue.message.split(":")[0]) for issue in routing] == [
        (line_of("    skills: {tech: 4}"), 5, "queue 'experts'"),
        (line_of("    backup_after: 1m"), 5, "queue 'experts'"),
        (line_of("    cost_aware: true"), 5, "queue 'experts'"),
    ], [str(issue) for issue in issues]
    assert "no agent of the queue has tech 3 (or more)" in routing[0].message
    assert all(str(path) in str(issue) for issue in routing)  # file:line:column
