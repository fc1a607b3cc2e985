"""IVR nodes: the dial plan's call-flow graph, one model per ``type:``.

Nodes live under ``ivr:`` keyed by their id. A field that names another node
(``next``, ``on_failure``, menu ``options``, ``open``/``closed``...) is checked to
exist when the file loads; ``None`` where allowed means "hang up". Every node can
say where it leads with :meth:`targets` and which prompts it plays with
:meth:`prompts_used`, so the checker and the interpreter share one definition.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from voxcenter.config.base import (
    DialString,
    Digit,
    Duration,
    Kind,
    LanguageCode,
    Model,
    Name,
    PromptList,
    PromptName,
    PromptType,
    Regex,
    SkillLevel,
    has_marker,
    keys_to_text,
)

Loc = tuple[str | int, ...]
"""Where a value sits inside a node, as YAML keys and list indexes (``("options", "1")``)."""

DigitMap = Annotated[dict[Digit, Name], BeforeValidator(keys_to_text)]


class NodeBase(Model):
    """Fields every node has."""

    description: str = ""
    """Free text for people reading the dial plan; never played."""

    def targets(self) -> list[tuple[Loc, str]]:
        """Every node this node can lead to, with where the reference sits."""
        out: list[tuple[Loc, str]] = []
        for name in ("next", "on_failure"):
            value = getattr(self, name, None)
            if isinstance(value, str):
                out.append(((name,), value))
        return out

    def prompts_used(self) -> list[tuple[Loc, str]]:
        """Every prompt this node may play, with where the reference sits."""
        out: list[tuple[Loc, str]] = []
        for name, field in type(self).model_fields.items():
            if not (has_marker(field.annotation, PromptType) or any(isinstance(m, PromptType) for m in field.metadata)):
                continue
            value = getattr(self, name)
            if isinstance(value, str):
                out.append(((name,), value))
            elif isinstance(value, tuple):
                out.extend(((name, index), prompt) for index, prompt in enumerate(value))
        return out


class PlayNode(NodeBase):
    """Play prompts, then continue."""

    type: Literal["play"]
    prompts: PromptList
    """Prompts played in order."""
    barge_in: bool = False
    """A key press stops the prompts and moves on at once (the digit is kept for a following menu)."""
    next: Name | None = None
    """Node after the prompts; none means hang up."""


class MenuNode(NodeBase):
    """Play a menu and branch on the digit pressed (RFC 4733 events, SIP INFO or in-band)."""

    type: Literal["menu"]
    prompts: PromptList
    """The menu prompts, played with barge-in."""
    options: DigitMap
    """Digit -> node. Quote ``'*'`` and ``'#'``."""
    invalid_prompt: PromptName | None = None
    """Played when a digit that is not an option is pressed."""
    timeout_prompt: PromptName | None = None
    """Played when no digit arrives in time."""
    timeout: Duration = 10.0
    """Wait for the first digit after the prompts end."""
    max_failures: int = Field(default=3, ge=1)
    """Invalid or missing digits allowed before ``on_failure`` (each failure replays the menu)."""
    on_failure: Name | None = None
    """Node after ``max_failures``; none means hang up."""

    def targets(self) -> list[tuple[Loc, str]]:
        return [(("options", digit), node) for digit, node in self.options.items()] + super().targets()


class CollectNode(NodeBase):
    """Collect digits into a call variable (account number, PIN...)."""

    type: Literal["collect"]
    prompts: PromptList
    """Prompts asking for the digits."""
    variable: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"), Kind("variable name")]
    """Call variable that receives the digits."""
    min_digits: int = Field(default=1, ge=1)
    """Fewest digits accepted."""
    max_digits: int = Field(default=20, ge=1)
    """Collection ends by itself once this many digits are in."""
    terminator: Digit | None = "#"
    """Key that ends the entry early (not stored); none disables it."""
    first_digit_timeout: Duration = 10.0
    """Wait for the first digit after the prompts end."""
    inter_digit_timeout: Duration = 5.0
    """Wait between digits; expiry ends the entry."""
    pattern: Regex | None = None
    """The entry must match this regular expression entirely."""
    sensitive: bool = False
    """Never written to logs, CDRs or events (PINs, card numbers)."""
    invalid_prompt: PromptName | None = None
    """Played when the entry is too short, too long or does not match ``pattern``."""
    max_failures: int = Field(default=3, ge=1)
    """Failed entries allowed before ``on_failure``."""
    next: Name
    """Node after a valid entry."""
    on_failure: Name | None = None
    """Node after ``max_failures``; none means hang up."""

    @model_validator(mode="after")
    def _digits_in_order(self) -> CollectNode:
        if self.min_digits > self.max_digits:
            raise ValueError(f"min_digits ({self.min_digits}) is more than max_digits ({self.max_digits})")
        return self


class GotoNode(NodeBase):
    """Continue at another node."""

    type: Literal["goto"]
    next: Name
    """The node to continue at."""


class HoursNode(NodeBase):
    """Branch on a schedule: open, closed, or a holiday."""

    type: Literal["hours"]
    schedule: Name
    """A schedule under ``schedules:``."""
    open: Name
    """Node while the schedule is open."""
    closed: Name
    """Node while it is closed."""
    holiday: Name | None = None
    """Node on a holiday; none means ``closed``."""

    def targets(self) -> list[tuple[Loc, str]]:
        out: list[tuple[Loc, str]] = [(("open",), self.open), (("closed",), self.closed)]
        if self.holiday is not None:
            out.append((("holiday",), self.holiday))
        return out


class LanguageNode(NodeBase):
    """Let the caller choose the language of the prompts that follow."""

    type: Literal["language"]
    prompts: PromptList
    """The choice prompts (usually one per language, each in its own language)."""
    options: Annotated[dict[Digit, LanguageCode], BeforeValidator(keys_to_text)]
    """Digit -> language code from ``prompts.languages``."""
    timeout: Duration = 10.0
    """Wait for the digit; on expiry the language stays as it is."""
    next: Name
    """Node after the choice (or the timeout)."""


class LookupNode(NodeBase):
    """Identify the caller (by caller id) and load what is known: name, language, priority, agent last spoken to."""

    type: Literal["lookup"]
    by: Literal["caller-id", "variable"] = "caller-id"
    """What to look up: the caller's number, or the digits held in ``variable``."""
    variable: str | None = None
    """Call variable holding the key when ``by: variable``."""
    next: Name
    """Node after the lookup, found or not."""

    @model_validator(mode="after")
    def _variable_when_needed(self) -> LookupNode:
        if self.by == "variable" and not self.variable:
            raise ValueError("by: variable needs a 'variable' to look up")
        return self


class SetNode(NodeBase):
    """Set call variables and routing attributes."""

    type: Literal["set"]
    variables: dict[str, str | int | bool] = Field(default_factory=dict)
    """Call variables to set (name -> value)."""
    priority: int | None = None
    """Queue priority of the call: a higher number is served first."""
    skills: dict[Name, SkillLevel] = Field(default_factory=dict)
    """Skills the call requires, with the minimum level (added to the queue's own)."""
    language: str | None = None
    """Language of the prompts from here on."""
    next: Name
    """Node after setting."""


class RecordingNode(NodeBase):
    """Pause or resume the call's recording (PCI: around the collection of a card number); the file holds
    silence meanwhile and the timeline says so. Nothing happens to a call that is not being recorded."""

    type: Literal["recording"]
    action: Literal["pause", "resume"]
    """``pause``: silence in the recording from now on; ``resume``: record again."""
    next: Name
    """Node after."""


class QueueExits(Model):
    """Where a caller goes when leaving a queue without being answered; none means the queue's overflow."""

    timeout: Name | None = None
    """The queue's ``max_wait`` passed."""
    full: Name | None = None
    """The queue already held ``max_length`` callers."""
    empty: Name | None = None
    """No agent could take the call (``join_when``/``leave_when``)."""
    callback: Name | None = None
    """The caller accepted a callback and keeps the place in the queue."""
    key: Name | None = None
    """The caller pressed ``exit_key``."""


class QueueNode(NodeBase):
    """Put the caller into a queue."""

    type: Literal["queue"]
    queue: Name
    """A queue under ``queues:``."""
    priority: int | None = None
    """Priority in the queue: a higher number is served first; none keeps the call's (default 0)."""
    required_skills: dict[Name, SkillLevel] = Field(default_factory=dict)
    """Skills an agent must have, with the minimum level."""
    preferred_skills: dict[Name, SkillLevel] = Field(default_factory=dict)
    """Skills that make an agent a better match without being required."""
    exit_key: Digit | None = None
    """Key the caller may press to leave the queue (to ``on_exit.key``)."""
    on_exit: QueueExits = QueueExits()
    """Node per exit reason."""

    def targets(self) -> list[tuple[Loc, str]]:
        return [
            (("on_exit", reason), node)
            for reason, node in self.on_exit.model_dump().items()
            if isinstance(node, str)
        ]


class TransferNode(NodeBase):
    """Transfer the caller to one agent, an extension, or an outside number through a route."""

    type: Literal["transfer"]
    agent: str | None = None
    """An agent's extension (rings that agent whatever the queues)."""
    extension: DialString | None = None
    """Any extension or number handled by this server."""
    number: DialString | None = None
    """An outside number; needs ``route`` and that route must allow IVR transfers."""
    route: Name | None = None
    """Outbound route used for ``number``."""
    announce: PromptName | None = None
    """Played to the caller before the transfer."""
    ring_timeout: Duration = 30.0
    """How long the target rings."""
    on_failure: Name | None = None
    """Node when the target does not answer or is busy; none means hang up."""

    @model_validator(mode="after")
    def _one_target(self) -> TransferNode:
        chosen = [n for n in ("agent", "extension", "number") if getattr(self, n) is not None]
        if len(chosen) != 1:
            raise ValueError("a transfer needs exactly one of 'agent', 'extension' or 'number'")
        if self.number is not None and self.route is None:
            raise ValueError("a transfer to an outside 'number' needs a 'route'")
        if self.number is None and self.route is not None:
            raise ValueError("'route' only applies to a transfer to an outside 'number'")
        return self


class VoicemailNode(NodeBase):
    """Record a message for a mailbox."""

    type: Literal["voicemail"]
    mailbox: str
    """Mailbox name (an agent extension, a queue, or any label)."""
    greeting: PromptName | None = None
    """Played before the beep."""
    max_length: Duration = 120.0
    """Longest message kept."""
    silence_stop: Duration = 5.0
    """Silence that ends the recording."""
    beep: bool = True
    """Play a beep before recording."""
    next: Name | None = None
    """Node after the message; none means hang up."""


class CallbackNode(NodeBase):
    """Offer a callback to the number the caller is calling from (or types in)."""

    type: Literal["callback"]
    prompts: PromptList
    """The offer."""
    confirm: bool = True
    """Read the number back and ask for 1 to confirm."""
    queue: Name | None = None
    """Queue the callback waits in; none means the queue the caller was in."""
    next: Name | None = None
    """Node after the callback is booked; none means hang up (after a goodbye)."""


class OperatorNode(NodeBase):
    """Where a caller goes when the menu cannot help: a queue or an extension."""

    type: Literal["operator"]
    queue: Name | None = None
    """Queue of the operators."""
    extension: DialString | None = None
    """Or one extension."""

    @model_validator(mode="after")
    def _one_target(self) -> OperatorNode:
        if (self.queue is None) == (self.extension is None):
            raise ValueError("an operator node needs exactly one of 'queue' or 'extension'")
        return self


class SurveyNode(NodeBase):
    """Ask a 0-10 question (net promoter score) after the call; the answer goes to the CDR."""

    type: Literal["survey"]
    prompts: PromptList
    """The question."""
    name: Name = "nps"
    """Name the answer is stored under."""
    thanks_prompt: PromptName | None = None
    """Played after an answer."""
    timeout: Duration = 10.0
    """Wait for the answer (10 is entered as 1 then 0, or 1 then ``#``)."""
    next: Name | None = None
    """Node after the survey; none means hang up."""


class HangupNode(NodeBase):
    """End the call."""

    type: Literal["hangup"]
    prompts: PromptList = ()
    """Played before hanging up (a goodbye)."""


IvrNode = Annotated[
    PlayNode
    | MenuNode
    | CollectNode
    | GotoNode
    | HoursNode
    | LanguageNode
    | LookupNode
    | SetNode
    | RecordingNode
    | QueueNode
    | TransferNode
    | VoicemailNode
    | CallbackNode
    | OperatorNode
    | SurveyNode
    | HangupNode,
    Field(discriminator="type"),
]
"""Any IVR node, chosen by its ``type:``."""

NODE_TYPES: dict[str, type[NodeBase]] = {
    "play": PlayNode,
    "menu": MenuNode,
    "collect": CollectNode,
    "goto": GotoNode,
    "hours": HoursNode,
    "language": LanguageNode,
    "lookup": LookupNode,
    "set": SetNode,
    "recording": RecordingNode,
    "queue": QueueNode,
    "transfer": TransferNode,
    "voicemail": VoicemailNode,
    "callback": CallbackNode,
    "operator": OperatorNode,
    "survey": SurveyNode,
    "hangup": HangupNode,
}
"""``type:`` value -> node model, in the order the reference documents them."""


def node_from_data(data: Any) -> NodeBase:
    """Validate one node from plain data (for tests and tools; the loader validates whole files)."""
    from pydantic import TypeAdapter

    node: NodeBase = TypeAdapter(IvrNode).validate_python(data)
    return node
