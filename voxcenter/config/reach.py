"""Which languages a caller can be in at each IVR node and queue, and what brings each language there.

A call starts in its number's ``language``, else the language of a matching ``prompts.caller_languages``
prefix, else ``prompts.default_language``. On its way a ``language`` node adds the languages of its keys, a
``set`` node with a ``language`` replaces the language, and a ``lookup`` node may bring any language of
``prompts.languages`` (the customer record's). A queue hears the languages of the nodes that put callers into
it (and of the queues overflowing into it); its overflow and survey nodes continue in them.

Every language reached is kept with the first place (dial-plan path) that makes it reachable, so a check can
say *why* a prompt must exist in it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from voxcenter.config.issues import Path_
from voxcenter.config.ivr_nodes import CallbackNode, LanguageNode, LookupNode, OperatorNode, QueueNode, SetNode
from voxcenter.config.schema import Config

Reasons = dict[str, Path_]
"""Language -> the dial-plan path that makes a caller reach the place in it."""


@dataclass(slots=True)
class LanguageReach:
    """Languages per IVR node and per queue, each with the path that brings it."""

    nodes: dict[str, Reasons] = field(default_factory=dict)
    """IVR node -> languages callers can be in when the node runs."""
    queues: dict[str, Reasons] = field(default_factory=dict)
    """Queue -> languages of the callers waiting in it."""


def _merge(into: Reasons, new: Reasons) -> bool:
    grown = False
    for language, why in new.items():
        if language not in into:
            into[language] = why
            grown = True
    return grown


def _starting(config: Config) -> dict[str, Reasons]:
    """Node -> the languages calls to the numbers routed to it start in."""
    prompts = config.prompts
    roots: dict[str, Reasons] = {}
    for number, entry in config.numbers.items():
        languages: Reasons = {}
        if entry.language is not None:
            languages[entry.language] = ("numbers", number, "language")
        else:
            languages[prompts.default_language] = ("numbers", number)
            for prefix, language in prompts.caller_languages.items():
                languages.setdefault(language, ("prompts", "caller_languages", prefix))
        _merge(roots.setdefault(entry.node, {}), languages)
    return roots


def _after(config: Config, node_id: str, languages: Reasons) -> Reasons:
    """The languages a caller can be in when leaving ``node_id``, having entered it in ``languages``."""
    node = config.ivr[node_id]
    available = config.prompts.languages
    if isinstance(node, SetNode) and node.language is not None and node.language in available:
        return {node.language: ("ivr", node_id, "language")}
    out = dict(languages)
    if isinstance(node, LanguageNode):
        for digit, language in node.options.items():
            if language in available:
                out.setdefault(language, ("ivr", node_id, "options", digit))
    elif isinstance(node, LookupNode):
        for language in available:
            out.setdefault(language, ("ivr", node_id))
    return out


def language_reach(config: Config) -> LanguageReach:
    """The languages of every reachable node and queue (see the module docstring)."""
    reach = LanguageReach()
    pending: dict[str, Reasons] = {}
    order: deque[str] = deque()  # first in, first out: the reason kept is the one found first from the numbers

    def send(node_id: str, languages: Reasons) -> None:
        if node_id not in pending:
            order.append(node_id)
        _merge(pending.setdefault(node_id, {}), languages)

    for node_id, languages in _starting(config).items():
        send(node_id, languages)
    while order:
        node_id = order.popleft()
        languages = pending.pop(node_id)
        node = config.ivr.get(node_id)
        if node is None or not _merge(reach.nodes.setdefault(node_id, {}), languages):
            continue
        leaving = _after(config, node_id, reach.nodes[node_id])
        for _, target in node.targets():
            send(target, leaving)
        queue = node.queue if isinstance(node, QueueNode | CallbackNode | OperatorNode) else None
        if queue is not None and queue in config.queues:
            _enter_queue(config, reach, queue, leaving, send)
    return reach


def _enter_queue(config: Config, reach: LanguageReach, name: str, languages: Reasons,
                 send: Callable[[str, Reasons], None]) -> None:
    queue = config.queues[name]
    if not _merge(reach.queues.setdefault(name, {}), languages):
        return
    for reason in ("timeout", "full", "empty"):
        target = getattr(queue.overflow, reason)
        if target is None:
            continue
        if target.node is not None:
            send(target.node, reach.queues[name])
        if target.queue is not None and target.queue in config.queues:
            _enter_queue(config, reach, target.queue, reach.queues[name], send)
    if queue.survey is not None:
        send(queue.survey.node, reach.queues[name])


__all__ = ["LanguageReach", "Reasons", "language_reach"]
