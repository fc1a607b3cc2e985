"""What the interpreter knows about one call: who called, and the variables the dial plan set."""

from __future__ import annotations

from dataclasses import dataclass, field

VariableValue = str | int | bool
"""A call variable's value (``set`` node values and collected digits)."""

MASK = "***"
"""Shown instead of a sensitive value, whatever its length."""


@dataclass(frozen=True, slots=True)
class CallInfo:
    """The call as signalling saw it when it reached the IVR."""

    call_id: str
    """The call's id (unique across nodes); carried in every log line about the call."""
    caller: str | None
    """The caller's number (From / P-Asserted-Identity user part); None when withheld."""
    called: str
    """The number dialled (the ``numbers:`` key that chose the entry node)."""
    language: str | None = None
    """The number's ``language``; None: the caller's prefix (``prompts.caller_languages``) or the default."""
    trunk: str | None = None
    """The trunk the call came from; None for local callers."""


@dataclass(frozen=True, slots=True)
class CallerProfile:
    """What the customer store knows about a caller, as a ``lookup`` node receives it."""

    key: str
    """The number (or account digits) looked up."""
    known: bool
    """False when the caller was unknown and the lookup created the record."""
    name: str | None = None
    """Display name, for the agent's screen."""
    priority: int | None = None
    """Queue priority of this customer (a higher number is served first); None keeps the call's."""
    language: str | None = None
    """Preferred language; applied when the dial plan offers it."""
    last_agent: str | None = None
    """Extension of the agent the caller last spoke to."""
    previous_calls: int = 0
    """Calls from this customer before this one."""


@dataclass(slots=True)
class CallContext:
    """Mutable per-call state the nodes read and write (owned by one :class:`~voxcenter.ivr.engine.IvrRun`)."""

    language: str
    """Language of the prompts played from now on."""
    variables: dict[str, VariableValue] = field(default_factory=dict)
    """Call variables (``set`` and ``collect`` nodes)."""
    sensitive: set[str] = field(default_factory=set)
    """Variables collected by a ``sensitive`` node: never logged, never on the timeline."""
    priority: int | None = None
    """Queue priority set by ``set`` or ``lookup``; None means the queue node's or 0."""
    skills: dict[str, int] = field(default_factory=dict)
    """Skills the call requires, with minimum levels."""
    caller: CallerProfile | None = None
    """The caller's profile once a ``lookup`` node ran."""
    queue: str | None = None
    """The last queue the caller entered (a ``callback`` node without a queue books into it)."""

    def set_variable(self, name: str, value: VariableValue, *, sensitive: bool = False) -> None:
        """Store a variable; a sensitive one stays masked until it is overwritten by a plain value."""
        self.variables[name] = value
        if sensitive:
            self.sensitive.add(name)
        else:
            self.sensitive.discard(name)

    def loggable_variables(self) -> dict[str, VariableValue]:
        """The variables with sensitive values replaced by :data:`MASK`, safe for logs and CDRs."""
        return {name: MASK if name in self.sensitive else value for name, value in self.variables.items()}
