"""Paths of the dial plan that hang up on a caller who is waiting for a person.

A caller waits for a person in a queue (a ``queue`` node, an ``operator`` node with a queue, a queue
overflowed into) and while a ``transfer`` (or an ``operator`` extension) rings. Such a caller is hung up when
a queue exit that can happen (``timeout`` with a ``max_wait``, ``full`` with a ``max_length``, ``empty``
unless the queue takes callers with nobody logged in and keeps them) has neither the node's ``on_exit`` nor
the queue's ``overflow``, when a failed transfer has no ``on_failure``, or when where they are sent leads,
without a choice of theirs, to a ``hangup`` node or a ``play`` node with no ``next``. A mailbox, a callback,
another queue, a menu or a question is not a hang-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from voxcenter.config.issues import Path_
from voxcenter.config.ivr_nodes import (
    GotoNode,
    HangupNode,
    HoursNode,
    LanguageNode,
    LookupNode,
    OperatorNode,
    PlayNode,
    QueueNode,
    SetNode,
    TransferNode,
)
from voxcenter.config.queues import Queue
from voxcenter.config.schema import Config

WHEN: dict[str, str] = {
    "timeout": "once it has waited max_wait",
    "full": "when the queue is full (max_length)",
    "empty": "when no agent is logged in (join_when, leave_when)",
}
"""Queue exit -> when it happens, for the message."""

PASSING = (PlayNode, GotoNode, SetNode, LookupNode, LanguageNode, HoursNode)
"""Nodes a caller goes through without a choice of theirs and without reaching anyone."""


@dataclass(frozen=True, slots=True)
class Stranding:
    """One path that hangs up on a waiting caller: where it is decided, and what happens."""

    path: Path_
    """The dial-plan place to change."""
    message: str
    """What hangs up on whom, and what to do."""


def possible_exits(queue: Queue) -> list[str]:
    """The exits (``timeout``, ``full``, ``empty``) a caller waiting in ``queue`` can take."""
    exits = []
    if queue.max_wait is not None:
        exits.append("timeout")
    if queue.max_length is not None:
        exits.append("full")
    if queue.join_when != "always" or queue.leave_when != "never":
        exits.append("empty")
    return exits


def hangs_up(config: Config, node_id: str) -> str | None:
    """The node that ends the call when a caller is sent to ``node_id`` (following it with no choice of
    theirs), or None when they reach a person, a mailbox, a callback or a choice on every branch."""
    seen: set[str] = set()
    stack = [node_id]
    while stack:
        current = stack.pop()
        node = config.ivr.get(current)
        if node is None or current in seen:
            continue
        seen.add(current)
        if isinstance(node, HangupNode) or (isinstance(node, PlayNode) and node.next is None):
            return current
        if isinstance(node, PASSING):
            stack.extend(target for _, target in node.targets())
    return None


def strandings(config: Config) -> Iterator[Stranding]:
    """Every path of ``config`` that hangs up on a caller waiting for a person (see the module docstring)."""
    overflows: dict[tuple[str, str], list[str]] = {}
    """(queue, exit) left to the queue's overflow -> the nodes whose callers take it."""
    for node_id, node in config.ivr.items():
        if isinstance(node, QueueNode | OperatorNode) and node.queue in config.queues:
            for exit_name in possible_exits(config.queues[node.queue]):
                target = getattr(node.on_exit, exit_name) if isinstance(node, QueueNode) else None
                if target is None:
                    overflows.setdefault((node.queue, exit_name), []).append(f"node {node_id!r}")
                elif (end := hangs_up(config, target)) is not None:
                    yield Stranding(("ivr", node_id, "on_exit", exit_name),
                                    f"node {node_id!r}: a caller waiting in queue {node.queue!r} is sent "
                                    f"{WHEN[exit_name]} to {target!r}, which hangs up (node {end!r}); send them to a "
                                    "mailbox, a callback or another queue")
        elif isinstance(node, TransferNode | OperatorNode) and (
                isinstance(node, TransferNode) or node.extension is not None):
            failure = node.on_failure if isinstance(node, TransferNode) else None
            if failure is None:
                yield Stranding(("ivr", node_id), f"node {node_id!r}: a caller whose transfer is not answered is "
                                                  "hung up (no on_failure); send them to a mailbox or a queue")
            elif (end := hangs_up(config, failure)) is not None:
                yield Stranding(("ivr", node_id, "on_failure"),
                                f"node {node_id!r}: a caller whose transfer is not answered is sent to {failure!r}, "
                                f"which hangs up (node {end!r}); send them to a mailbox or a queue")
    yield from _overflows(config, overflows)


def _overflows(config: Config, via: dict[tuple[str, str], list[str]]) -> Iterator[Stranding]:
    """The exits left to queues' overflows (``via``: (queue, exit) -> whose callers take it), followed through
    queues overflowing into queues."""
    work = list(via)
    while work:
        name, exit_name = work.pop()
        target = getattr(config.queues[name].overflow, exit_name)
        if target is not None and target.queue is not None and target.queue in config.queues:
            for next_exit in possible_exits(config.queues[target.queue]):
                key = (target.queue, next_exit)
                if key not in via:
                    work.append(key)
                via.setdefault(key, []).append(f"queue {name!r}")
    for (name, exit_name), whose in sorted(via.items()):
        target = getattr(config.queues[name].overflow, exit_name)
        who = ", ".join(sorted(set(whose)))
        if target is None:
            yield Stranding(("queues", name),
                            f"queue {name!r} hangs up on a waiting caller {WHEN[exit_name]} (callers of {who}): give "
                            f"it overflow.{exit_name} (a mailbox, a callback, another queue or a node)")
        elif target.node is not None and (end := hangs_up(config, target.node)) is not None:
            yield Stranding(("queues", name, "overflow", exit_name, "node"),
                            f"queue {name!r}: a caller waiting in it is sent {WHEN[exit_name]} to {target.node!r}, "
                            f"which hangs up (node {end!r}); send them to a mailbox, a callback or another queue")


__all__ = ["Stranding", "hangs_up", "possible_exits", "strandings"]
