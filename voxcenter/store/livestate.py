"""What a restart must not forget, read back from the database: registrations, agent states, pending callbacks,
queue members, campaigns, desk sign-ins, webhook deliveries being retried.

The running server writes these through the durable writer like every other record (so a crash loses at
most what the journal had not yet received); :func:`load_live_state` reads them when the server starts,
after the journal's leftovers have been replayed into the database.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select

from voxcenter.store.db import make_engine
from voxcenter.store.models import TABLE_OF_KIND
from voxcenter.store.records import (
    AgentStateRecord,
    CallbackRecord,
    CampaignStateRecord,
    ContactRecord,
    DeskSessionRecord,
    DoNotCallRecord,
    QueueMemberRecord,
    RegistrationRecord,
    WebhookDeliveryRecord,
)

LIVE_CALLBACK_STATUSES = ("pending", "dialing")
"""Callback statuses that are still owed to the customer ("dialing": the attempt died with the process)."""


@dataclass(frozen=True, slots=True)
class LiveState:
    """The state a node restores at start."""

    registrations: tuple[RegistrationRecord, ...]
    """This node's bindings that had not expired at ``now``."""
    agent_states: tuple[AgentStateRecord, ...]
    """The latest state of every agent the database knows."""
    callbacks: tuple[CallbackRecord, ...]
    """Callbacks still owed, oldest request first."""
    queue_members: tuple[QueueMemberRecord, ...] = ()
    """Members added at run time and not removed since."""
    contacts: tuple[ContactRecord, ...] = ()
    """Every campaign's contacts, in import order."""
    do_not_call: tuple[DoNotCallRecord, ...] = ()
    """Numbers on the do-not-call list."""
    campaign_states: tuple[CampaignStateRecord, ...] = ()
    """Whether each campaign was dialling."""
    desk_sessions: tuple[DeskSessionRecord, ...] = ()
    """Desk sign-ins neither revoked nor expired at ``now``."""
    webhook_deliveries: tuple[WebhookDeliveryRecord, ...] = ()
    """Webhook deliveries still to be tried, oldest first."""


_R = TypeVar("_R")


def record_of(cls: type[_R], row: Any) -> _R:
    """The record ``cls`` a row of its table stands for."""
    mapping = row._mapping
    return cls(**{f.name: mapping[f.name] for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


async def load_live_state(url: str, node: str, now: float, *, statement_timeout: float = 10.0) -> LiveState:
    """The live state in the database at ``url`` for ``node`` at wall-clock time ``now``."""
    engine = make_engine(url, statement_timeout=statement_timeout, connect_timeout=statement_timeout)
    try:
        async with engine.connect() as connection:
            bindings = TABLE_OF_KIND["registration"]
            registrations = await connection.execute(
                select(bindings).where(bindings.c.node == node, bindings.c.expires_at > now)
            )
            states = await connection.execute(select(TABLE_OF_KIND["agent_state"]))
            owed = TABLE_OF_KIND["callback"]
            callbacks = await connection.execute(
                select(owed).where(owed.c.status.in_(LIVE_CALLBACK_STATUSES)).order_by(owed.c.requested_at)
            )
            members = TABLE_OF_KIND["queue_member"]
            dynamic = await connection.execute(select(members).where(members.c.active.is_(True)))
            contact_table = TABLE_OF_KIND["campaign_contact"]
            contacts = await connection.execute(select(contact_table).order_by(contact_table.c.imported_at))
            barred = TABLE_OF_KIND["do_not_call"]
            do_not_call = await connection.execute(select(barred).where(barred.c.active.is_(True)))
            campaigns = await connection.execute(select(TABLE_OF_KIND["campaign_state"]))
            signed_in = TABLE_OF_KIND["desk_session"]
            sessions = await connection.execute(
                select(signed_in).where(signed_in.c.revoked.is_(False), signed_in.c.expires_at > now)
            )
            hooks = TABLE_OF_KIND["webhook_delivery"]
            deliveries = await connection.execute(
                select(hooks).where(hooks.c.status == "pending").order_by(hooks.c.delivery)
            )
            return LiveState(
                registrations=tuple(record_of(RegistrationRecord, row) for row in registrations),
                agent_states=tuple(record_of(AgentStateRecord, row) for row in states),
                callbacks=tuple(record_of(CallbackRecord, row) for row in callbacks),
                queue_members=tuple(record_of(QueueMemberRecord, row) for row in dynamic),
                contacts=tuple(record_of(ContactRecord, row) for row in contacts),
                do_not_call=tuple(record_of(DoNotCallRecord, row) for row in do_not_call),
                campaign_states=tuple(record_of(CampaignStateRecord, row) for row in campaigns),
                desk_sessions=tuple(record_of(DeskSessionRecord, row) for row in sessions),
                webhook_deliveries=tuple(record_of(WebhookDeliveryRecord, row) for row in deliveries),
            )
    finally:
        await engine.dispose()
