"""Pass 3 of loading: references between sections, and policy (toll fraud, clashing codes, missing prompts).

Each check is a small function over the validated :class:`Config` that yields
problems located through the :class:`SourceMap`. Entries refused by pass 2 are
listed in :class:`Invalid`: references to them count as known, so one typo is
reported once, where it is.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from voxcenter.config.issues import ConfigIssue, Path_, SourceMap
from voxcenter.config.ivr_nodes import (
    CallbackNode,
    HoursNode,
    LanguageNode,
    OperatorNode,
    QueueNode,
    SetNode,
    SurveyNode,
    TransferNode,
)
from voxcenter.config.reach import language_reach
from voxcenter.config.schema import Config
from voxcenter.config.stranding import strandings
from voxcenter.media.prompts import EXTENSIONS as PROMPT_EXTENSIONS
from voxcenter.sip.certificates import certificate_validity


@dataclass(slots=True)
class Invalid:
    """What pass 2 refused: entries as (section, name), and whole sections."""

    entries: set[tuple[str, str]] = field(default_factory=set)
    """Named entries dropped, e.g. ``("queues", "sales")``."""
    sections: set[str] = field(default_factory=set)
    """Sections dropped (replaced by their defaults for pass 3)."""

    def __bool__(self) -> bool:
        return bool(self.entries or self.sections)


@dataclass(slots=True)
class _Context:
    config: Config
    source: SourceMap
    invalid: Invalid
    base_dir: Path
    check_prompts: bool

    def known(self, section: str, name: str) -> bool:
        names: dict[str, object] = getattr(self.config, section)
        return name in names or (section, name) in self.invalid.entries or section in self.invalid.sections

    def error(self, path: Path_, message: str, *, key: bool = False) -> ConfigIssue:
        position = self.source.key_position(path) if key else self.source.value_position(path)
        return ConfigIssue.at(position, message)

    def warning(self, path: Path_, message: str) -> ConfigIssue:
        return ConfigIssue.at(self.source.key_position(path), message, "warning")


def run_checks(
    config: Config, source: SourceMap, invalid: Invalid, *, base_dir: Path, check_prompts: bool = True
) -> list[ConfigIssue]:
    """Every cross-reference and policy problem of ``config``."""
    context = _Context(config, source, invalid, base_dir, check_prompts)
    issues: list[ConfigIssue] = []
    for check in CHECKS:
        issues.extend(check(context))
    return issues


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_numbers(c: _Context) -> Iterator[ConfigIssue]:
    for number, entry in c.config.numbers.items():
        if not c.known("ivr", entry.node):
            hint = _suggest(entry.node, c.config.ivr)
            message = f"number {number} is routed to unknown IVR node {entry.node!r}{hint}"
            yield c.error(("numbers", number, "node"), message)
        if entry.trunk is not None and not c.known("trunks", entry.trunk):
            yield c.error(("numbers", number, "trunk"), f"number {number}: unknown trunk {entry.trunk!r}")
        if entry.language is not None and "prompts" not in c.invalid.sections \
                and entry.language not in c.config.prompts.languages:
            yield c.error(("numbers", number, "language"),
                          f"number {number}: language {entry.language!r} is not in prompts.languages")


def _check_languages(c: _Context) -> Iterator[ConfigIssue]:
    if "prompts" in c.invalid.sections:
        return
    for language in c.config.prompts.sayer:
        if language not in c.config.prompts.languages:
            yield c.error(("prompts", "sayer", language), f"sayer for {language!r}, which is not in prompts.languages",
                          key=True)
    for prefix, language in c.config.prompts.caller_languages.items():
        if language not in c.config.prompts.languages:
            yield c.error(("prompts", "caller_languages", prefix),
                          f"callers from {prefix} get language {language!r}, which is not in prompts.languages "
                          f"{list(c.config.prompts.languages)}")


def _check_nodes(c: _Context) -> Iterator[ConfigIssue]:
    languages = c.config.prompts.languages
    check_languages = "prompts" not in c.invalid.sections
    for node_id, node in c.config.ivr.items():
        base: Path_ = ("ivr", node_id)
        for loc, target in node.targets():
            if not c.known("ivr", target):
                yield c.error((*base, *loc),
                              f"node {node_id!r} leads to unknown node {target!r}{_suggest(target, c.config.ivr)}")
        if isinstance(node, HoursNode) and not c.known("schedules", node.schedule):
            yield c.error((*base, "schedule"), f"node {node_id!r}: unknown schedule {node.schedule!r}")
        if isinstance(node, QueueNode | CallbackNode | OperatorNode) and node.queue is not None \
                and not c.known("queues", node.queue):
            yield c.error((*base, "queue"),
                          f"node {node_id!r}: unknown queue {node.queue!r}{_suggest(node.queue, c.config.queues)}")
        if isinstance(node, LanguageNode) and check_languages:
            for digit, code in node.options.items():
                if code not in languages:
                    yield c.error((*base, "options", digit),
                                  f"node {node_id!r}: language {code!r} is not in prompts.languages {list(languages)}")
        if isinstance(node, SetNode) and node.language is not None and check_languages \
                and node.language not in languages:
            yield c.error((*base, "language"), f"node {node_id!r}: language {node.language!r} is not available")
        if isinstance(node, TransferNode):
            yield from _check_transfer(c, node_id, node)


def _check_transfer(c: _Context, node_id: str, node: TransferNode) -> Iterator[ConfigIssue]:
    base: Path_ = ("ivr", node_id)
    if node.agent is not None and not c.known("agents", node.agent):
        yield c.error((*base, "agent"), f"node {node_id!r}: unknown agent {node.agent!r}")
    if node.number is None or node.route is None:
        return
    route = c.config.routes.get(node.route)
    if route is None:
        if not c.known("routes", node.route):
            yield c.error((*base, "route"), f"node {node_id!r}: unknown route {node.route!r}")
        return
    if not route.allow.ivr:
        yield c.error((*base, "route"),
                      f"node {node_id!r}: route {node.route!r} does not allow IVR transfers (set its allow.ivr: true)")
    if not any(re.fullmatch(pattern, node.number) for pattern in route.patterns):
        yield c.error((*base, "number"), f"node {node_id!r}: {node.number} matches no pattern of route {node.route!r}")


def _check_queues(c: _Context) -> Iterator[ConfigIssue]:
    members: dict[str, int] = {name: 0 for name in c.config.queues}
    for agent in c.config.agents.values():
        for membership in agent.queues:
            if membership.queue in members:
                members[membership.queue] += 1
    agents_complete = not any(section == "agents" for section, _ in c.invalid.entries) \
        and "agents" not in c.invalid.sections
    for name, queue in c.config.queues.items():
        base: Path_ = ("queues", name)
        if agents_complete and members[name] == 0:
            yield c.error(base, f"queue {name!r} has no agents (list it in some agent's queues:)", key=True)
        if queue.survey is not None and not c.known("ivr", queue.survey.node):
            yield c.error((*base, "survey", "node"), f"queue {name!r}: survey node {queue.survey.node!r} "
                          f"is not an IVR node{_suggest(queue.survey.node, c.config.ivr)}")
        elif queue.survey is not None and queue.survey.node in c.config.ivr \
                and not isinstance(c.config.ivr[queue.survey.node], SurveyNode):
            yield c.error((*base, "survey", "node"),
                          f"queue {name!r}: survey node {queue.survey.node!r} is not of type survey")
        hours = queue.callback.hours
        if hours is not None and not c.known("schedules", hours):
            yield c.error((*base, "callback", "hours"),
                          f"queue {name!r}: callback hours name unknown schedule {hours!r}"
                          f"{_suggest(hours, c.config.schedules)}")
        for reason in ("timeout", "full", "empty"):
            target = getattr(queue.overflow, reason)
            if target is None:
                continue
            where: Path_ = (*base, "overflow", reason)
            if target.queue is not None:
                if target.queue == name:
                    yield c.error((*where, "queue"), f"queue {name!r} overflows into itself")
                elif not c.known("queues", target.queue):
                    yield c.error((*where, "queue"), f"queue {name!r}: unknown overflow queue {target.queue!r}"
                                                     f"{_suggest(target.queue, c.config.queues)}")
            if target.node is not None and not c.known("ivr", target.node):
                yield c.error((*where, "node"), f"queue {name!r}: overflow to unknown IVR node {target.node!r}")
        if queue.backup_group is not None and not c.known("groups", queue.backup_group):
            yield c.error((*base, "backup_group"), f"queue {name!r}: unknown agent group {queue.backup_group!r}")
        yield from _check_routing(c, name)
        for index, group in enumerate(queue.supervisors):
            if not c.known("groups", group):
                yield c.error((*base, "supervisors", index), f"queue {name!r}: unknown supervisor group {group!r}")


def _check_routing(c: _Context, name: str) -> Iterator[ConfigIssue]:
    """Routing settings of a queue that would do nothing, or strand its callers: warnings."""
    queue = c.config.queues[name]
    base: Path_ = ("queues", name)
    agents = [agent for agent in c.config.agents.values() if any(m.queue == name for m in agent.queues)]
    if queue.skills and agents:
        needed = dict(queue.skills)  # once every relaxation step applied
        for step in queue.relaxation:
            if step.drop is not None:
                needed.pop(step.drop, None)
            if step.min_level is not None:
                needed = {skill: min(level, step.min_level) for skill, level in needed.items()}
        if not any(all(agent.skills.get(skill, 0) >= level for skill, level in needed.items()) for agent in agents):
            wanted = ", ".join(f"{skill} {level}" for skill, level in needed.items())
            yield c.warning((*base, "skills"), f"queue {name!r}: no agent of the queue has {wanted} (or more), "
                                               "even after its relaxation steps: its callers wait for nobody")
    if queue.backup_group is not None and queue.max_wait is not None and queue.backup_after >= queue.max_wait:
        yield c.warning((*base, "backup_after"), f"queue {name!r}: backup_after is not shorter than max_wait: "
                                                 "callers leave before the backup group is ever rung")
    if queue.cost_aware and agents and len({agent.cost for agent in agents}) == 1:
        yield c.warning((*base, "cost_aware"), f"queue {name!r}: every agent of the queue has the same cost: "
                                               "cost_aware changes nothing (set agents' cost)")


def _check_campaigns(c: _Context) -> Iterator[ConfigIssue]:
    for name, campaign in c.config.campaigns.items():
        base: Path_ = ("campaigns", name)
        for section, reference in (("queues", campaign.queue), ("routes", campaign.route),
                                   ("schedules", campaign.hours)):
            if reference is not None and not c.known(section, reference):
                key = {"queues": "queue", "routes": "route", "schedules": "hours"}[section]
                yield c.error((*base, key), f"campaign {name!r}: unknown {key} {reference!r}"
                                            f"{_suggest(reference, getattr(c.config, section))}")


    if c.config.campaigns and c.config.cluster.shared_queues:
        # Their pacing counts the free agents of the node it runs on: with one router for every node that
        # count is the router's alone, and a campaign on another node would overdial.
        yield c.error(("cluster", "shared_queues"), "campaigns are not run with cluster.shared_queues yet: run "
                      "them on a node of their own (its own dial plan, without shared_queues)")


def _check_agents(c: _Context) -> Iterator[ConfigIssue]:
    for extension, agent in c.config.agents.items():
        for index, membership in enumerate(agent.queues):
            if not c.known("queues", membership.queue):
                yield c.error(("agents", extension, "queues", index),
                              f"agent {extension} is in unknown queue {membership.queue!r}"
                              f"{_suggest(membership.queue, c.config.queues)}")
        if extension in c.config.numbers:
            yield c.error(("agents", extension), f"extension {extension} is also a number under numbers:", key=True)
        follow_me = agent.follow_me
        if follow_me is not None:
            route = c.config.routes.get(follow_me.route)
            if route is None:
                if not c.known("routes", follow_me.route):
                    yield c.error(("agents", extension, "follow_me", "route"),
                                  f"agent {extension}: unknown route {follow_me.route!r}")
            elif not any(re.fullmatch(pattern, follow_me.number) for pattern in route.patterns):
                yield c.error(("agents", extension, "follow_me", "number"),
                              f"agent {extension}: {follow_me.number} matches no pattern of route {follow_me.route!r}")
    for group, extensions in c.config.groups.items():
        for index, extension in enumerate(extensions):
            if not c.known("agents", extension):
                yield c.error(("groups", group, index), f"group {group!r}: unknown agent {extension!r}")


def _check_routes(c: _Context) -> Iterator[ConfigIssue]:
    for name, route in c.config.routes.items():
        base: Path_ = ("routes", name)
        trunk = c.config.trunks.get(route.trunk)
        if trunk is None and not c.known("trunks", route.trunk):
            yield c.error((*base, "trunk"), f"route {name!r}: unknown trunk {route.trunk!r}")
        elif trunk is not None and trunk.outbound is None:
            yield c.error((*base, "trunk"), f"route {name!r}: trunk {route.trunk!r} has no outbound part")
        for index, name_ in enumerate(route.failover):
            spare = c.config.trunks.get(name_)
            if spare is None and not c.known("trunks", name_):
                yield c.error((*base, "failover", index), f"route {name!r}: unknown trunk {name_!r}")
            elif spare is not None and spare.outbound is None:
                yield c.error((*base, "failover", index), f"route {name!r}: trunk {name_!r} has no outbound part")
        allow = route.allow
        if allow.unauthenticated:
            yield c.error((*base, "allow", "unauthenticated"),
                          f"route {name!r} is open to unauthenticated callers (toll fraud): refused; "
                          "allow agents or groups instead")
        for index, agent in enumerate(allow.agents):
            if agent != "all" and not c.known("agents", agent):
                yield c.error((*base, "allow", "agents", index), f"route {name!r}: unknown agent {agent!r}")
        for index, group in enumerate(allow.groups):
            if not c.known("groups", group):
                yield c.error((*base, "allow", "groups", index), f"route {name!r}: unknown group {group!r}")
        if not (allow.agents or allow.groups or allow.ivr or allow.unauthenticated):
            yield c.warning(base, f"route {name!r} allows nobody (set allow.agents, allow.groups or allow.ivr)")


def _check_trunks(c: _Context) -> Iterator[ConfigIssue]:
    for name, trunk in c.config.trunks.items():
        inbound = trunk.inbound
        if inbound is not None and inbound.auth == "none" and any(
            net in ("0.0.0.0/0", "::/0") for net in inbound.allow_from
        ):
            yield c.warning(("trunks", name, "inbound", "allow_from"),
                            f"trunk {name!r} trusts calls from any address without authentication")


def _check_codes(c: _Context) -> Iterator[ConfigIssue]:
    if "feature_codes" in c.invalid.sections:
        return
    codes = [(name, code) for name, code in c.config.feature_codes.model_dump().items() if isinstance(code, str)]
    for index, (name, code) in enumerate(codes):
        for other_name, other in codes[:index]:
            if code.startswith(other) or other.startswith(code):
                yield c.error(("feature_codes", name),
                              f"feature code {name} {code} overlaps {other_name} {other}: "
                              "a caller could never dial the longer one")
        for number in (*c.config.agents, *c.config.numbers):
            if number.startswith(code):
                yield c.error(("feature_codes", name), f"feature code {name} {code} is a prefix of extension {number}")


def _check_listen(c: _Context) -> Iterator[ConfigIssue]:
    seen: set[tuple[str, str, int]] = set()
    for index, listen in enumerate(c.config.sip.listen):
        key = (listen.transport, listen.address, listen.effective_port)
        if key in seen:
            yield c.error(("sip", "listen", index), f"listening twice on {listen.transport} "
                                                    f"{listen.address}:{listen.effective_port}")
        seen.add(key)
        if listen.cert is not None and listen.cert.is_file():
            yield from _check_certificate(c, ("sip", "listen", index, "cert"), listen.cert)


def _check_certificate(c: _Context, path: Path_, cert: Path) -> Iterator[ConfigIssue]:
    """A warning for a certificate that is not valid now: every TLS phone refuses it, the rest works on."""
    try:
        not_before, not_after = certificate_validity(str(cert))
    except (OSError, ValueError) as error:
        yield c.error(path, f"{cert} is not a PEM certificate: {error}")
        return
    now = time.time()
    if now > not_after:
        yield c.warning(path, f"certificate {cert} expired on {time.strftime('%Y-%m-%d', time.gmtime(not_after))}: "
                              "TLS phones will refuse it")
    elif now < not_before:
        yield c.warning(path, f"certificate {cert} is valid only from "
                              f"{time.strftime('%Y-%m-%d', time.gmtime(not_before))}")


def prompt_references(config: Config) -> list[tuple[Path_, str]]:
    """Every prompt the dial plan may play, with where it is named (the player can preload these)."""
    refs: list[tuple[Path_, str]] = []
    for node_id, node in config.ivr.items():
        refs.extend((("ivr", node_id, *loc), name) for loc, name in node.prompts_used())
    for queue_name, queue in config.queues.items():
        if queue.announcements.music_on_hold is not None:
            refs.append((("queues", queue_name, "announcements", "music_on_hold"), queue.announcements.music_on_hold))
        if queue.callback.enabled:
            refs.append((("queues", queue_name, "callback", "prompt"), queue.callback.prompt))
    for campaign_name, campaign in config.campaigns.items():
        refs.append((("campaigns", campaign_name, "abandon_prompt"), campaign.abandon_prompt))
    return refs


def _check_prompts(c: _Context) -> Iterator[ConfigIssue]:
    if not c.check_prompts or "prompts" in c.invalid.sections:
        return
    directory = c.config.prompts.directory
    if not directory.is_absolute():
        directory = c.base_dir / directory
    shown = c.config.prompts.directory
    references = prompt_references(c.config)
    if references and not directory.is_dir():  # one line for the directory, not one per prompt it would hold
        yield c.error(("prompts", "directory"), f"prompts directory {shown} does not exist ({directory.resolve()})")
        return
    cache: dict[Path, bool] = {}

    def exists(path: Path) -> bool:
        if path not in cache:
            cache[path] = path.is_file()
        return cache[path]

    reach = language_reach(c.config)
    for path, name in references:
        reasons = (reach.nodes if path[0] == "ivr" else reach.queues).get(str(path[1]), {})
        # A language no number or menu brings a caller to this place in is never played here: not needed.
        missing = [
            language
            for language in c.config.prompts.languages
            if language in reasons
            and not any(exists(directory / language / f"{name}{ext}") for ext in PROMPT_EXTENSIONS)
        ]
        if not missing:
            continue
        written = path in c.source or (isinstance(path[-1], int) and path[:-1] in c.source)
        default = "" if written else f" (the default {path[-1]} of {'.'.join(map(str, path[:2]))})"
        looked = ", ".join(f"{shown}/{language}/{name}.wav" for language in missing)
        why = "; ".join(f"{language} is reached through {_reason(reasons[language])} at "
                        f"{c.source.key_position(reasons[language])}" for language in missing)
        yield c.error(path, f"prompt {name!r}{default} is missing: no {looked} (nor .mp3, .flac, .ogg); {why}")


def _reason(path: Path_) -> str:
    """What a path of :func:`language_reach` is, for a person."""
    match path:
        case ("numbers", number, "language"):
            return f"the language of number {number}"
        case ("numbers", number):
            return f"number {number} (prompts.default_language)"
        case ("prompts", "caller_languages", prefix):
            return f"callers from {prefix} (prompts.caller_languages)"
        case ("ivr", node, "options", digit):
            return f"key {digit} of language node {node!r}"
        case ("ivr", node, "language"):
            return f"set node {node!r}"
        case ("ivr", node):
            return f"the customer record of lookup node {node!r}"
    return ".".join(map(str, path))


def _check_reachable(c: _Context) -> Iterator[ConfigIssue]:
    if c.invalid:
        return  # a refused entry may hold the only reference
    roots = [number.node for number in c.config.numbers.values()]
    for queue in c.config.queues.values():
        for reason in ("timeout", "full", "empty"):
            target = getattr(queue.overflow, reason)
            if target is not None and target.node is not None:
                roots.append(target.node)
    reached: set[str] = set()
    stack = [root for root in roots if root in c.config.ivr]
    while stack:
        node_id = stack.pop()
        if node_id in reached:
            continue
        reached.add(node_id)
        stack.extend(t for _, t in c.config.ivr[node_id].targets() if t in c.config.ivr and t not in reached)
    for node_id in c.config.ivr:
        if node_id not in reached:
            yield c.warning(("ivr", node_id), f"node {node_id!r} is unreachable from any number")


def _check_strandings(c: _Context) -> Iterator[ConfigIssue]:
    if c.invalid:
        return  # a refused entry may be the exit that was meant
    for stranding in strandings(c.config):
        yield c.warning(stranding.path, stranding.message)


def _check_api_tokens(c: _Context) -> Iterator[ConfigIssue]:
    if "api" in c.invalid.sections or "agents" in c.invalid.sections:
        return
    for index, entry in enumerate(c.config.api.tokens):
        if entry.agent is not None and entry.agent not in c.config.agents:
            yield c.error(("api", "tokens", index, "agent"),
                          f"API token for agent {entry.agent!r}, who is not in agents")


def _check_desk(c: _Context) -> Iterator[ConfigIssue]:
    """The browser phone needs its library where the dial plan says, and a WebSocket listener to register on."""
    library = c.config.desk.phone_library
    if library is None:
        return
    where = library if library.is_absolute() else c.base_dir / library
    if not (where / "jssip" / "package.json").is_file():
        yield c.error(("desk", "phone_library"), f"no JsSIP in {where} (install it: npm install --prefix "
                                                 f"{where.parent} jssip)")
    if "sip" not in c.invalid.sections and not any(item.transport in ("ws", "wss") for item in c.config.sip.listen):
        yield c.error(("desk", "phone_library"), "a browser phone registers over SIP on WebSocket: add a ws or "
                                                 "wss listener to sip.listen")


def _check_recording(c: _Context) -> Iterator[ConfigIssue]:
    """The key recordings are sealed with must be a key; the codes an agent keys during a call must not hide
    one another."""
    if "recording" in c.invalid.sections:
        return
    recording = c.config.recording
    if recording.key_file is not None:
        from voxcenter.media.sealed import SealError, load_key

        where = recording.key_file if recording.key_file.is_absolute() else c.base_dir / recording.key_file
        try:
            load_key(where)
        except SealError as error:
            yield c.error(("recording", "key_file"), str(error))
    codes = [("recording.pause_code", recording.pause_code), ("recording.resume_code", recording.resume_code)]
    if "transfers" not in c.invalid.sections:
        codes.append(("transfers.conference", c.config.transfers.conference))
    present = [(name, code) for name, code in codes if code]
    for index, (name, code) in enumerate(present):
        for other_name, other in present[index + 1:]:
            if name.startswith("recording.") and (other.startswith(code) or code.startswith(other)):
                yield c.error(("recording", name.split(".")[1]), f"{name} {code} overlaps {other_name} {other}: "
                                                                 "the agent could never key the longer one")


CHECKS: tuple[Callable[[_Context], Iterator[ConfigIssue]], ...] = (
    _check_listen,
    _check_recording,
    _check_desk,
    _check_trunks,
    _check_routes,
    _check_numbers,
    _check_languages,
    _check_nodes,
    _check_queues,
    _check_campaigns,
    _check_agents,
    _check_codes,
    _check_api_tokens,
    _check_prompts,
    _check_reachable,
    _check_strandings,
)
"""Every pass-3 check, in the order their problems are listed (before sorting by position)."""
