"""voxcenter.acd: the pure ACD router, its inputs and decisions, estimates, statistics, simulator."""

from voxcenter.acd.agents import TRANSITIONS, AgentInput, AgentState, AgentStateChanged
from voxcenter.acd.estimate import announceable_ewt, estimate_wait
from voxcenter.acd.events import (
    Announce,
    Bridge,
    CallbackQueued,
    CallCompleted,
    CancelRing,
    Decision,
    Ender,
    Enqueued,
    ExitReason,
    OfferCallback,
    Overflow,
    QueueExit,
    RingAgent,
    RingNoAnswer,
    StartCallback,
    WrapUpEnded,
)
from voxcenter.acd.model import (
    AgentProfile,
    CallRequest,
    ConfigError,
    Discipline,
    OverflowKind,
    OverflowTarget,
    QueuePolicy,
    RelaxationStep,
    SkillRequirement,
    Strategy,
)
from voxcenter.acd.ordering import order_key
from voxcenter.acd.router import Router, RouterError
from voxcenter.acd.stats import QueueStats
from voxcenter.acd.waiting import WaitingView

__all__ = [
    "TRANSITIONS",
    "AgentInput",
    "AgentProfile",
    "AgentState",
    "AgentStateChanged",
    "Announce",
    "Bridge",
    "CallCompleted",
    "CallRequest",
    "CallbackQueued",
    "CancelRing",
    "ConfigError",
    "Decision",
    "Discipline",
    "Ender",
    "Enqueued",
    "ExitReason",
    "OfferCallback",
    "Overflow",
    "OverflowKind",
    "OverflowTarget",
    "QueueExit",
    "QueuePolicy",
    "QueueStats",
    "RelaxationStep",
    "RingAgent",
    "RingNoAnswer",
    "Router",
    "RouterError",
    "SkillRequirement",
    "StartCallback",
    "Strategy",
    "WaitingView",
    "WrapUpEnded",
    "announceable_ewt",
    "estimate_wait",
    "order_key",
]
