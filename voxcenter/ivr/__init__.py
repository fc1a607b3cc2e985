"""voxcenter.ivr: the pure IVR interpreter, its actions, sayers and business hours."""

from voxcenter.ivr.actions import (
    Action,
    EnterQueue,
    Hangup,
    LeaveQueue,
    LookupCaller,
    Play,
    RecordVoicemail,
    RequestCallback,
    StartCollect,
    StopCollect,
    StopPlayback,
    StoreSurvey,
    TimelineEvent,
    Transfer,
)
from voxcenter.ivr.context import CallContext, CallerProfile, CallInfo
from voxcenter.ivr.engine import SYSTEM_PROMPTS, IvrRun
from voxcenter.ivr.entry import DigitEntry, EntryRules
from voxcenter.ivr.hours import HoursStatus, WallClock, schedule_status, wall_clock_from_offset
from voxcenter.ivr.machine import ACCEPTS, Input, Phase
from voxcenter.ivr.sayers import ALL_FRAGMENTS, SAYERS, DigitSayer, EnglishSayer, FrenchSayer, Sayer, sayer_for

__all__ = [
    "ACCEPTS",
    "ALL_FRAGMENTS",
    "SAYERS",
    "SYSTEM_PROMPTS",
    "Action",
    "CallContext",
    "CallInfo",
    "CallerProfile",
    "DigitEntry",
    "DigitSayer",
    "EnglishSayer",
    "EnterQueue",
    "EntryRules",
    "FrenchSayer",
    "Hangup",
    "HoursStatus",
    "Input",
    "IvrRun",
    "LeaveQueue",
    "LookupCaller",
    "Phase",
    "Play",
    "RecordVoicemail",
    "RequestCallback",
    "Sayer",
    "StartCollect",
    "StopCollect",
    "StopPlayback",
    "StoreSurvey",
    "TimelineEvent",
    "Transfer",
    "WallClock",
    "sayer_for",
    "schedule_status",
    "wall_clock_from_offset",
]
