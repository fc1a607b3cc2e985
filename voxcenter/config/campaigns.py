"""Outbound campaigns: a contact list dialled for a queue's agents, in preview, progressive or predictive mode."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from voxcenter.config.base import Duration, Model, Name, PromptName


class OutcomeRetry(Model):
    """Retries of a contact after one kind of outcome."""

    attempts: int = Field(ge=1)
    """Dials of the contact in all (this outcome's first included) after which it is given up."""
    delay: Duration
    """Wait before the next attempt."""


class CampaignRetries(Model):
    """Retries by the outcome of the last dial. A contact reached by an agent is never dialled again."""

    busy: OutcomeRetry = OutcomeRetry.model_validate({"attempts": 3, "delay": "10m"})
    no_answer: OutcomeRetry = OutcomeRetry.model_validate({"attempts": 3, "delay": "1h"})
    failed: OutcomeRetry = OutcomeRetry.model_validate({"attempts": 2, "delay": "1h"})
    """The network refused the call (a wrong number, no trunk)."""
    abandoned: OutcomeRetry = OutcomeRetry.model_validate({"attempts": 2, "delay": "1h"})
    """The customer answered and no agent was free in time."""


class Campaign(Model):
    """An outbound campaign. Contacts are imported from CSV through the API or ``voxcenter campaign import``;
    the campaign dials only once started, and stops dialling when paused."""

    queue: Name
    """The queue whose agents take the campaign's calls (its members; their state and wrap-up as for any
    call of the queue)."""
    route: Name | None = None
    """The outbound route the customers are dialled through; none: the first route whose patterns take the
    contact's number."""
    mode: Literal["preview", "progressive", "predictive"] = "progressive"
    """``preview``: the agent's phone rings first, showing the contact, and the customer is dialled once the
    agent answers; ``progressive``: one customer dialled per free agent; ``predictive``: dials ahead of the
    agents from the measured answer rate, answer time and handle time, within ``abandon_limit``."""
    hours: Name | None = None
    """The calling window: a schedule of ``schedules``, read in each contact's own time zone (its opening
    hours; its holidays count too). None: any time."""
    abandon_limit: Annotated[float, Field(ge=0.0, le=0.5)] = 0.03
    """Predictive mode: the share of answered customers who may find no agent, over ``abandon_window``."""
    abandon_window: Annotated[Duration, Field(gt=0)] = 86400.0
    """The rolling window over which the abandon rate is measured."""
    connect_within: Annotated[Duration, Field(gt=0)] = 2.0
    """An answered customer not offered to an agent this soon is an abandon: they hear ``abandon_prompt``
    and the call ends."""
    abandon_prompt: PromptName = "campaign-abandoned"
    """What an abandoned customer hears (who called, and that they will be called again)."""
    ring_time: Annotated[Duration, Field(gt=0)] = 25.0
    """How long a customer's phone rings before the dial counts as not answered."""
    caller_id: str | None = None
    """The number the customers see; none: the route's trunk's own."""
    retries: CampaignRetries = CampaignRetries()
    """Retries by outcome."""
