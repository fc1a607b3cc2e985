"""A campaign customer who answered: they wait in the campaign's queue for an agent, as a caller would.

The call is an inbound call from the moment of the answer on (the same queue, announcements, bridge,
recording, transfers, wrap-up and CDR), with three differences: its CDR, opened when the dial started, says
``outbound`` and names the campaign and the contact; there is no IVR before the queue; and a customer the
queue has not offered to an agent within the campaign's ``connect_within`` leaves the queue, hears the
campaign's ``abandon_prompt``, and is hung up (an abandon, which the pacing counts).
"""

from __future__ import annotations

import asyncio

import structlog

from voxcenter.acd.contacts import Contact
from voxcenter.config import Config
from voxcenter.config.campaigns import Campaign
from voxcenter.ivr import EnterQueue, starting_language
from voxcenter.runtime.call import Leg
from voxcenter.runtime.calllog import CallLog
from voxcenter.runtime.conversation import CallServices
from voxcenter.runtime.inbound import END_CAUSES, InboundCall
from voxcenter.runtime.legmedia import LegMedia
from voxcenter.sip.session import SipSession

logger = structlog.get_logger(__name__)

ABANDON_CAUSE = "no agent free in time"
"""The CDR's ``hangup_cause`` of an abandoned campaign call (``hangup_by: system``)."""


class CampaignCall(InboundCall):
    """See the module docstring."""

    def __init__(self, services: CallServices, config: Config, session: SipSession, leg: LegMedia,
                 name: str, campaign: Campaign, contact: Contact, log: CallLog) -> None:
        super().__init__(services, config, session, "", None, log)
        self.campaign_name = name
        self.campaign = campaign
        self.contact = contact
        self.customer_leg = leg
        self.language = starting_language(config, None, contact.number).language
        self.abandoned = False
        """No agent was offered the customer within ``connect_within`` (or they hung up before one answered)."""
        self.log.update(from_number=session.caller, trunk=session.trunk or "", sip_call_id=session.call_id,
                        answered_at=self.log.now())

    @property
    def caller(self) -> str:
        """The customer's number (what the agent's phone shows)."""
        return self.contact.number

    def _log_arrival(self) -> None:
        logger.info("campaign.answered", campaign=self.campaign_name, contact=self.contact.contact_id,
                    number=self.contact.number, trunk=self.session.trunk, sip_call_id=self.session.call_id)

    async def _run(self) -> None:
        session, leg = self.session, self.customer_leg
        self.leg = leg
        self.call.add(Leg("callee", self.contact.number, session, leg))
        leg.on_digit = self._digit
        leg.on_timeout = lambda _: self.inputs.put_nowait(("media-timeout", None))
        session.on_offer = lambda request: self._reoffer(leg, request.body)
        self._watch(session, "caller-hangup")
        self._enter_queue(EnterQueue(queue=self.campaign.queue, priority=0, required_skills={}, preferred_skills={},
                                     language=self.language, exit_key=None))
        offered = asyncio.get_running_loop().time() + self.campaign.connect_within
        self._spawn(self._abandon_unless_offered(offered))
        while True:
            if self.bridge is not None:
                node = await self._bridged()
                if node is None:
                    return
                await self._drive(self._restart_ivr(node))  # an agent transferred the customer on
                return
            kind, value = await self.inputs.get()
            if kind in END_CAUSES:
                self.hangup_by = "caller" if kind == "caller-hangup" else "system"
                self.cause = END_CAUSES[kind]
                self.abandoned = True
                self._leave_queue()
                return
            if kind == "system-hangup":
                self.hangup_by, self.cause = "system", str(value)
                self._leave_queue()
                return
            if kind == "queue-result" and value != "answered":  # the queue let the customer go (emptied, full)
                await self._abandon(f"queue {value}")
                return
            if kind == "campaign-abandon":
                await self._abandon(ABANDON_CAUSE)
                return

    async def _abandon_unless_offered(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - asyncio.get_running_loop().time()))
        if self.bridge is None and not self.acd.ringing_for(self.call_id):
            self.inputs.put_nowait(("campaign-abandon", None))

    async def _abandon(self, cause: str) -> None:
        """No agent: out of the queue, the campaign's message, and the end of the call."""
        self.abandoned = True
        self._leave_queue()  # the queue's ABANDON in the timeline
        self.disposition, self.hangup_by, self.cause = "abandoned_queue", "system", cause
        logger.info("campaign.abandoned", campaign=self.campaign_name, contact=self.contact.contact_id, reason=cause)
        if self.leg is None or self.session.is_ended:
            return
        player = await self.leg.play((self.campaign.abandon_prompt,), self.language)
        played: asyncio.Future[object] = asyncio.ensure_future(player.wait())
        hung_up: asyncio.Future[object] = asyncio.ensure_future(asyncio.shield(self.session.ended))
        await asyncio.wait((played, hung_up), return_when=asyncio.FIRST_COMPLETED)
        played.cancel()
        hung_up.cancel()
