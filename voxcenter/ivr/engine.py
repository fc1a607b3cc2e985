"""The IVR interpreter: one call walking the dial plan's node graph. Pure and sans-IO.

``IvrRun`` is driven by verbs (``start``, ``digit``, ``prompt_finished``, ``handle_timer``,
``lookup_result``, ``queue_result``, ``transfer_result``, ``recording_finished``, ``hangup``), each taking
``now`` (loop time), and is asked for its outputs: ``next_action()`` (see :mod:`voxcenter.ivr.actions`)
and ``get_timer()``. No sockets, no sleeps, no wall clock: business hours use the injected ``wall_clock``.

Rules that affect the interpreter's behaviour:

- Keys during prompts. Menus, ``collect``, ``language``, ``survey`` and ``callback`` prompts take barge-in
  (as Asterisk's ``Background``/``Read`` and FreeSWITCH's ``play_and_get_digits``): the first key stops the
  prompt and counts as input. A ``play`` node with ``barge_in`` stops and moves on, keeping the key for the
  next node that takes keys (type-ahead). Prompts without barge-in (``play`` by default, goodbyes, voicemail
  greetings, transfer announcements) **ignore** keys, as Asterisk's ``Playback`` does; an ignored key is on
  the timeline as ``digit-ignored`` without its value, because the caller may be typing a secret early.
- Timeouts start when the prompts end: first key ``timeout``/``first_digit_timeout`` (10 s by default),
  then ``inter_digit_timeout`` (5 s) between keys.
- A menu's invalid key or timeout plays ``invalid_prompt``/``timeout_prompt`` and the menu again; after
  ``max_failures`` (3) the call goes to ``on_failure``, or when none is given to the dial plan's first
  ``operator`` node, or else it is hung up.
- Keys of a ``sensitive`` node appear on the timeline only as ``digit-masked`` events; the collected value is
  stored masked in :meth:`CallContext.loggable_variables` and is never part of an exception message.
- Inputs that can race with outputs (a ``prompt_finished`` after ``StopPlayback``, a key after the call
  left the IVR, a late timer) are ignored; an input that cannot be explained by any race (``queue_result``
  while no queue was entered) raises :class:`~voxcenter.sip.errors.LocalProtocolError`: a bug in the shell.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from voxcenter.config.ivr_nodes import (
    CallbackNode,
    CollectNode,
    GotoNode,
    HangupNode,
    HoursNode,
    LanguageNode,
    LookupNode,
    MenuNode,
    NodeBase,
    OperatorNode,
    PlayNode,
    QueueExits,
    QueueNode,
    RecordingNode,
    SetNode,
    SurveyNode,
    TransferNode,
    VoicemailNode,
)
from voxcenter.config.schema import Config
from voxcenter.ivr.actions import (
    EnterQueue,
    LeaveQueue,
    LookupCaller,
    RecordingControl,
    RecordVoicemail,
    RequestCallback,
    StopPlayback,
    StoreSurvey,
    Transfer,
)
from voxcenter.ivr.context import MASK, CallerProfile, CallInfo
from voxcenter.ivr.entry import DEFAULT_FIRST_DIGIT_TIMEOUT, DEFAULT_MAX_FAILURES, DigitEntry, EntryRules
from voxcenter.ivr.hours import HoursStatus, WallClock, schedule_status
from voxcenter.ivr.machine import Input, Phase, RunCore
from voxcenter.sip.errors import LocalProtocolError

VOICEMAIL_DEFAULTS = VoicemailNode(type="voicemail", mailbox="-")
"""Recording limits used when a queue overflows to a mailbox."""
CALLBACK_ENTRY = EntryRules(min_digits=3, max_digits=16, terminator="#", pattern=r"\+?[0-9]+")
"""How a caller types a callback number."""
SURVEY_ENTRY_INTER_DIGIT = 3.0
"""Wait for the ``0`` of a survey's ``10`` after the ``1``."""

SYSTEM_PROMPTS: tuple[str, ...] = (
    "goodbye",
    "callback-number-is",
    "callback-confirm",
    "callback-enter-number",
    "callback-booked",
)
"""Prompts the interpreter plays by itself (``prompts/prompts.yaml``, ``prompts/sayers.yaml``)."""


QUEUE_EXIT_REASONS: dict[str, str] = {
    "timeout": "timeout",
    "overflow-loop": "timeout",
    "full": "full",
    "queue-full": "full",
    "empty": "empty",
    "join-empty": "empty",
    "callback": "callback",
    "callback-requested": "callback",
    "key": "key",
}
"""Reasons ``queue_result`` accepts (``QueueExits`` names and the ACD's ``ExitReason`` values) -> exit."""
QUEUE_END_REASONS = frozenset({"answered", "abandoned", "callback-failed", "callback-cancelled"})
"""Reasons that end the IVR's part of the call: an agent took it, or the caller is gone."""

class IvrRun(RunCore):
    """One call's walk through the IVR graph of one (immutable) config snapshot."""

    def __init__(self, config: Config, entry_node: str, call: CallInfo, *, wall_clock: WallClock) -> None:
        super().__init__(config, entry_node, call, wall_clock=wall_clock)
        self._queue_exits = QueueExits()
        self._queue_exit_key: str | None = None
        self._transfer_failure: str | None = None
        self._after_recording: str | None = None
        self._after_lookup: str | None = None


    # -------------------------------------------------------------------------------------------- inputs

    def start(self, now: float) -> None:
        """Enter the entry node."""
        if self._accept(Input.START):
            start = self.starting_language
            if start.source == "caller-prefix":
                self._timeline("language", now, language=start.language, prefix=start.prefix)
            self._goto(self._entry_node, now)

    def digit(self, key: str, now: float) -> None:
        """The caller pressed ``key`` (RFC 4733 event, SIP INFO or in-band; ``0``-``9``, ``*``, ``#``)."""
        if len(key) != 1 or key not in "0123456789*#":
            raise LocalProtocolError("a DTMF key is one of 0-9, * or # (A-D and flash are not IVR input)")
        if not self._accept(Input.DIGIT):
            return
        if self._phase is Phase.PLAYING and self._barge_in:
            self._emit(StopPlayback())
            self._phase = Phase.WAITING
            self._on_digit(key, now)
        elif self._phase is Phase.WAITING:
            self._on_digit(key, now)
        elif self._phase is Phase.LOOKING_UP:
            self._typeahead.append(key)  # the lookup is quick; the caller may already answer the next menu
        elif self._phase is Phase.IN_QUEUE and key == self._queue_exit_key:
            self._digit_event(key, now)
            queue = self.context.queue or ""
            self._emit(LeaveQueue(queue, "key"))
            self._queue_exit("key", now)
        elif self._phase is Phase.IN_QUEUE:
            self._digit_event(key, now)  # a callback offer's key: the shell hands it to the router
        else:
            self._timeline("digit-ignored", now)

    def prompt_finished(self, now: float) -> None:
        """The prompts of the last ``Play`` have all been played."""
        if self._accept(Input.PROMPT_FINISHED):
            self._phase = Phase.WAITING
            then, self._then = self._then, self._no_continuation
            then(now)

    def handle_timer(self, now: float) -> None:
        """The deadline of ``get_timer()`` passed (an early call does nothing)."""
        if not self._accept(Input.TIMER) or self._deadline is None or now < self._deadline:
            return
        self._deadline = None
        self._on_timeout(now)

    def lookup_result(self, profile: CallerProfile | None, now: float) -> None:
        """The customer store answered a ``LookupCaller`` (None: the store is unavailable)."""
        if not self._accept(Input.LOOKUP_RESULT):
            return
        if profile is None:
            self._timeline("lookup-failed", now)
        else:
            self.context.caller = profile
            if self.context.priority is None and profile.priority is not None:
                self.context.priority = profile.priority
            if profile.language is not None and profile.language in self.config.prompts.languages:
                self.context.language = profile.language
            self._timeline("caller-identified", now, known=profile.known, name=profile.name,
                           language=self.context.language, previous_calls=profile.previous_calls)
        self._goto(self._after_lookup, now)

    def queue_result(self, reason: str | enum.Enum, now: float) -> None:
        """The caller left the queue: ``answered``, ``abandoned``, or an exit (``timeout``, ``full``, ``empty``,
        ``callback``, ``key``, or the ACD's ``ExitReason``) that continues at ``on_exit`` or the overflow."""
        if not self._accept(Input.QUEUE_RESULT):
            return
        text = str(reason.value) if isinstance(reason, enum.Enum) else reason
        if text in QUEUE_END_REASONS:
            self._timeline(f"queue-{text}", now, queue=self.context.queue)
            self._set_phase(Phase.DONE)
        elif text in QUEUE_EXIT_REASONS:
            self._queue_exit(QUEUE_EXIT_REASONS[text], now)
        else:
            known = sorted({*QUEUE_EXIT_REASONS, *QUEUE_END_REASONS})
            raise LocalProtocolError(f"unknown queue exit reason {text!r} (expected one of {known})")

    def transfer_result(self, answered: bool, now: float) -> None:
        """The transfer target answered (the IVR is done) or did not (``on_failure``)."""
        if not self._accept(Input.TRANSFER_RESULT):
            return
        if answered:
            self._timeline("transferred", now)
            self._set_phase(Phase.DONE)
        else:
            self._timeline("transfer-failed", now)
            self._goto(self._transfer_failure, now, cause="transfer failed")

    def recording_finished(self, duration: float, reason: str, now: float) -> None:
        """A voicemail recording ended after ``duration`` seconds (``silence``, ``key``, ``max-length``...)."""
        if not self._accept(Input.RECORDING_FINISHED):
            return
        self._timeline("voicemail-recorded", now, duration=round(duration, 3), reason=reason)
        self._goto(self._after_recording, now, cause="voicemail left")

    def hangup(self, now: float) -> None:
        """The caller hung up; nothing more is asked of the call."""
        if self._accept(Input.HANGUP):
            self._drop_typeahead(now)
            self._timeline("caller-hangup", now, phase=self._phase.value)
            self._set_phase(Phase.DONE)
    # -------------------------------------------------------------------------------------------- nodes

    def _enter(self, node: NodeBase, now: float) -> None:
        match node:
            case PlayNode():
                self._enter_play(node, now)
            case MenuNode():
                self._enter_menu(node, now)
            case CollectNode():
                self._enter_collect(node, now)
            case GotoNode():
                self._goto(node.next, now)
            case HoursNode():
                self._enter_hours(node, now)
            case LanguageNode():
                self._enter_language(node, now)
            case LookupNode():
                self._enter_lookup(node, now)
            case SetNode():
                self._enter_set(node, now)
            case RecordingNode():
                self._emit(RecordingControl(node.action, self._node_id or ""))
                self._timeline("recording", now, action=node.action)
                self._goto(node.next, now)
            case QueueNode():
                self._enter_queue_node(node, now)
            case TransferNode():
                self._enter_transfer(node, now)
            case VoicemailNode():
                self._enter_voicemail(node, now)
            case CallbackNode():
                self._enter_callback(node, now)
            case OperatorNode():
                self._enter_operator(node, now)
            case SurveyNode():
                self._enter_survey(node, now)
            case HangupNode():
                self._enter_hangup(node, now)
            case _:
                self._hang_up(f"node type {type(node).__name__} is not supported by the interpreter", now)

    def _enter_play(self, node: PlayNode, now: float) -> None:
        if node.barge_in:

            def skip(key: str, at: float) -> None:
                self._typeahead.append(key)
                self._goto(node.next, at)

            self._on_digit = skip
        else:
            self._drop_typeahead(now)
        self._play(node.prompts, now, barge_in=node.barge_in, then=lambda at: self._goto(node.next, at))

    # menu ----------------------------------------------------------------------------------------------

    def _enter_menu(self, node: MenuNode, now: float) -> None:
        self._start_collect(self._node_id or "", False)
        self._menu_ask(node, (), now)

    def _menu_ask(self, node: MenuNode, before: Sequence[str], now: float) -> None:
        def on_digit(key: str, at: float) -> None:
            self._digit_event(key, at)
            target = node.options.get(key)
            if target is not None:
                self._timeline("menu-choice", at, digit=key, target=target)
                self._goto(target, at)
            else:
                self._menu_failure(node, "invalid", node.invalid_prompt, at)

        self._ask([*before, *node.prompts], now, lambda: node.timeout, on_digit,
                  lambda at: self._menu_failure(node, "timeout", node.timeout_prompt, at))

    def _menu_failure(self, node: MenuNode, kind: str, prompt: str | None, now: float) -> None:
        self._failures += 1
        self._timeline(kind, now, failures=self._failures, max_failures=node.max_failures)
        if self._failures >= node.max_failures:
            self._fail(node.on_failure, now, "max failures")
        else:
            self._drop_typeahead(now)
            self._menu_ask(node, [prompt] if prompt else [], now)

    # collect, and the digit entries of callback and survey ------------------------------------------------

    def _enter_collect(self, node: CollectNode, now: float) -> None:
        self._start_collect(self._node_id or "", node.sensitive)
        rules = EntryRules(node.min_digits, node.max_digits, node.terminator, node.pattern,
                           node.first_digit_timeout, node.inter_digit_timeout)

        def done(entry: DigitEntry, at: float) -> None:
            problem = entry.problem()
            if problem is None:
                value = entry.text
                self.context.set_variable(node.variable, value, sensitive=node.sensitive)
                shown = MASK if node.sensitive else value
                self._timeline("collected", at, variable=node.variable, value=shown)
                self._goto(node.next, at)
                return
            self._failures += 1
            self._timeline("invalid", at, reason=problem, failures=self._failures, max_failures=node.max_failures)
            if self._failures >= node.max_failures:
                self._fail(node.on_failure, at, "max failures")
            else:
                self._drop_typeahead(at)
                again = [node.invalid_prompt] if node.invalid_prompt and problem != "no input" else []
                self._collect([*again, *node.prompts], rules, at, done)

        self._collect(node.prompts, rules, now, done)

    # branches and attributes --------------------------------------------------------------------------

    def _enter_hours(self, node: HoursNode, now: float) -> None:
        schedule = self.config.schedules.get(node.schedule)
        if schedule is None:
            self._hang_up(f"unknown schedule {node.schedule!r}", now)
            return
        status = schedule_status(schedule, self._wall_clock(now))
        self._timeline("hours", now, schedule=node.schedule, status=status.value)
        if status is HoursStatus.OPEN:
            self._goto(node.open, now)
        elif status is HoursStatus.HOLIDAY and node.holiday is not None:
            self._goto(node.holiday, now)
        else:
            self._goto(node.closed, now)

    def _enter_language(self, node: LanguageNode, now: float) -> None:
        self._start_collect(self._node_id or "", False)

        def on_digit(key: str, at: float) -> None:
            self._digit_event(key, at)
            chosen = node.options.get(key)
            if chosen is not None:
                self.context.language = chosen
                self._timeline("language", at, language=chosen)
            else:
                self._timeline("invalid", at, reason="not an option", language=self.context.language)
            self._goto(node.next, at)

        def on_timeout(at: float) -> None:
            self._timeline("timeout", at, language=self.context.language)
            self._goto(node.next, at)

        self._ask(node.prompts, now, lambda: node.timeout, on_digit, on_timeout)

    def _enter_lookup(self, node: LookupNode, now: float) -> None:
        if node.by == "variable":
            value = self.context.variables.get(node.variable or "")
            key = None if value is None else str(value)
        else:
            key = self.call.caller
        if not key:
            self._timeline("lookup-skipped", now, by=node.by)
            self._goto(node.next, now)
            return
        self._after_lookup = node.next
        self._emit(LookupCaller(key, node.by))
        self._set_phase(Phase.LOOKING_UP)

    def _enter_set(self, node: SetNode, now: float) -> None:
        for name, value in node.variables.items():
            self.context.set_variable(name, value)
        if node.priority is not None:
            self.context.priority = node.priority
        for skill, level in node.skills.items():
            self.context.skills[skill] = max(level, self.context.skills.get(skill, 0))
        if node.language is not None and node.language in self.config.prompts.languages:
            self.context.language = node.language
        self._timeline("set", now, variables=",".join(node.variables) or None, priority=self.context.priority,
                       skills=",".join(f"{s}:{lv}" for s, lv in sorted(self.context.skills.items())) or None,
                       language=self.context.language)
        self._goto(node.next, now)

    # destinations ---------------------------------------------------------------------------------------

    def _enter_queue_node(self, node: QueueNode, now: float) -> None:
        self._drop_typeahead(now)
        priority = node.priority if node.priority is not None else self.context.priority
        required = {**self.context.skills}
        for skill, level in node.required_skills.items():
            required[skill] = max(level, required.get(skill, 0))
        self._join(node.queue, priority or 0, required, dict(node.preferred_skills), node.exit_key, node.on_exit,
                   now)

    def _join(self, queue: str, priority: int, required: Mapping[str, int], preferred: Mapping[str, int],
              exit_key: str | None, exits: QueueExits, now: float) -> None:
        self.context.queue = queue
        self._queue_exits = exits
        self._queue_exit_key = exit_key
        self._timeline("queue", now, queue=queue, priority=priority)
        self._emit(EnterQueue(queue, priority, dict(required), dict(preferred), self.context.language, exit_key))
        self._set_phase(Phase.IN_QUEUE)

    def _queue_exit(self, exit_name: str, now: float) -> None:
        queue = self.context.queue or ""
        self._timeline("queue-exit", now, queue=queue, reason=exit_name)
        target: str | None = getattr(self._queue_exits, exit_name)
        if target is not None:
            self._goto(target, now)
            return
        settings = self.config.queues.get(queue)
        overflow = getattr(settings.overflow, exit_name, None) if settings else None
        if overflow is not None and overflow.node is not None:
            self._goto(overflow.node, now)
        elif overflow is not None and overflow.queue is not None:
            self._join(overflow.queue, self.context.priority or 0, dict(self.context.skills), {}, None, QueueExits(),
                       now)
        elif overflow is not None and overflow.voicemail is not None:
            self._record(overflow.voicemail, VOICEMAIL_DEFAULTS, None, now)
        elif (overflow is not None and overflow.callback) or exit_name == "callback":
            if exit_name != "callback" and self.call.caller:  # the router books its own callbacks
                self._emit(RequestCallback(self.call.caller, queue))
            self._play(["callback-booked"], now, barge_in=False, then=lambda at: self._hang_up("callback", at))
        else:
            self._play(["goodbye"], now, barge_in=False, then=lambda at: self._hang_up(f"queue {exit_name}", at))

    def _enter_operator(self, node: OperatorNode, now: float) -> None:
        self._drop_typeahead(now)
        if node.queue is not None:
            priority = self.context.priority or 0
            self._join(node.queue, priority, dict(self.context.skills), {}, None, QueueExits(), now)
        else:
            self._transfer_failure = None
            self._timeline("transfer", now, kind="extension", target=node.extension)
            self._emit(Transfer("extension", node.extension or "", None, 30.0))
            self._set_phase(Phase.TRANSFERRING)

    def _enter_transfer(self, node: TransferNode, now: float) -> None:
        self._drop_typeahead(now)
        self._transfer_failure = node.on_failure
        if node.agent is not None:
            transfer = Transfer("agent", node.agent, None, node.ring_timeout)
        elif node.extension is not None:
            transfer = Transfer("extension", node.extension, None, node.ring_timeout)
        else:
            transfer = Transfer("number", node.number or "", node.route, node.ring_timeout)

        def ring(at: float) -> None:
            self._timeline("transfer", at, kind=transfer.kind, target=transfer.target)
            self._emit(transfer)
            self._set_phase(Phase.TRANSFERRING)

        self._play([node.announce] if node.announce else [], now, barge_in=False, then=ring)

    def _enter_voicemail(self, node: VoicemailNode, now: float) -> None:
        self._drop_typeahead(now)
        self._record(node.mailbox, node, node.next, now)

    def _record(self, mailbox: str, limits: VoicemailNode, after: str | None, now: float) -> None:
        self._after_recording = after

        def record(at: float) -> None:
            self._timeline("voicemail", at, mailbox=mailbox)
            self._emit(RecordVoicemail(mailbox, limits.max_length, limits.silence_stop, limits.beep))
            self._set_phase(Phase.RECORDING)

        self._play([limits.greeting] if limits.greeting else [], now, barge_in=False, then=record)

    def _enter_callback(self, node: CallbackNode, now: float) -> None:
        self._start_collect(self._node_id or "", False)
        number = self.call.caller if self.call.caller and self.call.caller.lstrip("+").isdigit() else None

        def book(value: str, at: float) -> None:
            queue = node.queue or self.context.queue
            self.context.set_variable("callback_number", value)
            self._timeline("callback-requested", at, queue=queue, number=value)
            self._emit(RequestCallback(value, queue))
            if node.next is not None:
                self._goto(node.next, at)
            else:
                self._stop_collect()
                self._play(["callback-booked"], at, barge_in=False, then=lambda t: self._hang_up("callback", t))

        def failure(at: float, why: str) -> None:
            self._failures += 1
            self._timeline("invalid", at, reason=why, failures=self._failures)
            if self._failures >= DEFAULT_MAX_FAILURES:
                self._fail(None, at, "max failures")
            elif number is None:
                ask_number(at)
            else:
                confirm(number, at)

        def ask_number(at: float) -> None:
            def entered(entry: DigitEntry, t: float) -> None:
                nonlocal number
                if entry.problem() is not None:
                    failure(t, entry.problem() or "invalid")
                elif node.confirm:
                    number = entry.text
                    confirm(entry.text, t)
                else:
                    book(entry.text, t)

            self._collect(["callback-enter-number"], CALLBACK_ENTRY, at, entered)

        def confirm(value: str, at: float) -> None:
            def on_digit(key: str, t: float) -> None:
                self._digit_event(key, t)
                if key == "1":
                    book(value, t)
                elif key == "2":
                    ask_number(t)
                else:
                    failure(t, "not an option")

            prompts = ["callback-number-is", *self.sayer.digits(value), "callback-confirm"]
            self._ask(prompts, at, lambda: DEFAULT_FIRST_DIGIT_TIMEOUT, on_digit, lambda t: failure(t, "timeout"))

        def offered(at: float) -> None:
            if number is None:
                ask_number(at)
            elif node.confirm:
                confirm(number, at)
            else:
                book(number, at)

        def skip_offer(key: str, at: float) -> None:
            self._digit_event(key, at)  # a key during the offer accepts it (callback-offer says "press 1")
            offered(at)

        self._on_digit = skip_offer
        self._play(node.prompts, now, barge_in=True, then=offered)

    def _enter_survey(self, node: SurveyNode, now: float) -> None:
        self._start_collect(self._node_id or "", False)
        rules = EntryRules(1, 2, "#", r"[0-9]|10", node.timeout, SURVEY_ENTRY_INTER_DIGIT,
                           complete=lambda text: text != "1")

        def done(entry: DigitEntry, at: float) -> None:
            self._stop_collect()
            if entry.problem() is None:
                score = int(entry.text)
                self._timeline("survey", at, name=node.name, score=score)
                self._emit(StoreSurvey(node.name, score))
                thanks = [node.thanks_prompt] if node.thanks_prompt else []
                self._play(thanks, at, barge_in=False, then=lambda t: self._goto(node.next, t, cause="survey done"))
            else:
                self._timeline("survey", at, name=node.name, score=None, reason=entry.problem())
                self._goto(node.next, at, cause="survey done")

        self._collect(node.prompts, rules, now, done)

    def _enter_hangup(self, node: HangupNode, now: float) -> None:
        self._drop_typeahead(now)
        self._play(node.prompts, now, barge_in=False, then=lambda at: self._hang_up("hangup node", at))

