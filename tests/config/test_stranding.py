"""``voxcenter check`` warns about every path that hangs up on a caller who is waiting for a person."""

from __future__ import annotations

import textwrap
from pathlib import Path

from voxcenter.config import analyse

PLAN = textwrap.dedent("""\
    numbers:
      '100': {node: menu}
    ivr:
      menu:
        type: menu
        prompts: hello
        options: {1: plain, 2: kept, 3: ring, 4: saved, 5: desk, 6: first, 7: patient}
      plain: {type: queue, queue: plain}
      kept: {type: queue, queue: kept, on_exit: {timeout: sorry, full: message, empty: again}}
      sorry: {type: play, prompts: sorry, next: bye}
      again: {type: goto, next: menu}
      message: {type: voicemail, mailbox: kept}
      ring: {type: transfer, agent: '1001'}
      saved: {type: transfer, agent: '1001', on_failure: message}
      desk: {type: operator, extension: '1001'}
      first: {type: queue, queue: first}
      patient: {type: queue, queue: patient}
      bye: {type: hangup, prompts: bye}
    queues:
      plain: {}
      kept: {max_wait: 1m, max_length: 5}
      first: {max_wait: 1m, overflow: {timeout: {queue: second}, empty: {callback: true}}}
      second: {join_when: always, leave_when: never, max_length: 3, overflow: {full: {node: sorry}}}
      patient: {join_when: always, leave_when: never}
    agents:
      '1001': {name: A, password: pw, queues: [plain, kept, first, second, patient]}
    """)


def line_of(text: str) -> int:
    return PLAN.splitlines().index(text) + 1


def test_each_path_that_hangs_up_on_a_waiting_caller_is_a_warning_where_it_is_decided(tmp_path: Path) -> None:
    path = tmp_path / "voxcenter.yaml"
    path.write_text(PLAN)
    issues, config = analyse(path, check_prompts=False)
    assert config is not None
    assert all(issue.severity == "warning" for issue in issues)
    assert [(issue.line, issue.message) for issue in issues] == [
        (line_of("  kept: {type: queue, queue: kept, on_exit: {timeout: sorry, full: message, empty: again}}"),
         "node 'kept': a caller waiting in queue 'kept' is sent once it has waited max_wait to 'sorry', which "
         "hangs up (node 'bye'); send them to a mailbox, a callback or another queue"),
        (line_of("  ring: {type: transfer, agent: '1001'}"),
         "node 'ring': a caller whose transfer is not answered is hung up (no on_failure); send them to a mailbox "
         "or a queue"),
        (line_of("  desk: {type: operator, extension: '1001'}"),
         "node 'desk': a caller whose transfer is not answered is hung up (no on_failure); send them to a mailbox "
         "or a queue"),
        (line_of("  plain: {}"),
         "queue 'plain' hangs up on a waiting caller when no agent is logged in (join_when, leave_when) (callers "
         "of node 'plain'): give it overflow.empty (a mailbox, a callback, another queue or a node)"),
        # first's timeout goes on to 'second', which takes everyone and keeps them, but is full at 3.
        (line_of("  second: {join_when: always, leave_when: never, max_length: 3, overflow: {full: {node: sorry}}}"),
         "queue 'second': a caller waiting in it is sent when the queue is full (max_length) to 'sorry', which "
         "hangs up (node 'bye'); send them to a mailbox, a callback or another queue"),
    ]
