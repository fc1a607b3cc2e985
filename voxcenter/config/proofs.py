"""Which test proves each dial-plan key: rendered into docs/dialplan.md, checked by tests/config/test_key_proofs.py.

Every key of the dial plan names a test (``path::test_name``) that exercises it. A key without one is listed
in :data:`UNPROVEN` (and the reference says so) until a test is written or the key removed. A new key must
be added to one of the two: the check fails, saying exactly what to add.

The first names were found by searching the tests for each key (in their dial plans, or as a keyword next to
the model it belongs to): a named test uses the key. Replace a name by a sharper test whenever one is written.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel

from voxcenter.config.ivr_nodes import NODE_TYPES


def key_of(model: type[BaseModel], path: str, name: str) -> str:
    """The name of a key in :data:`PROOFS`: its path, with the node type for IVR nodes (their keys differ)."""
    for node_type, node_model in NODE_TYPES.items():
        if node_model is model:
            path = f"{path}[type: {node_type}]"
    return f"{path}.{name}" if path else name


CAMPAIGN_E2E: Final = "tests/e2e/test_campaign.py::test_a_progressive_campaign_dials_its_contacts_for_the_free_agent"

CAMPAIGN_PACING_E2E: Final = \
    "tests/e2e/test_campaign.py::test_a_predictive_campaign_paces_with_its_own_limit_window_and_wait"
CAMPAIGN_LIMITS_E2E: Final = "tests/e2e/test_campaign.py::test_abandons_rings_out_and_calling_hours"

CLUSTER_E2E: Final = \
    "tests/e2e/test_cluster.py::test_kill_9_of_a_node_loses_only_its_live_calls_and_the_survivor_closes_them"

SHARED_QUEUES_E2E: Final = \
    "tests/e2e/test_cluster_queue.py::test_callers_on_both_nodes_are_answered_in_the_order_they_came"

PROOFS: Final[dict[str, str]] = {
    "cluster": CLUSTER_E2E,
    "cluster.shared_queues": SHARED_QUEUES_E2E,
    "cluster.secret": SHARED_QUEUES_E2E,
    "cluster.address": "tests/runtime/test_cluster_settings.py::test_a_node_tells_the_others_where_it_takes_sip",
    "cluster.heartbeat": CLUSTER_E2E,
    "cluster.dead_after": CLUSTER_E2E,
    "trunks.<name>.inbound.agents": "tests/e2e/test_cluster.py::"
    "test_an_agent_registered_through_the_proxy_takes_calls_that_entered_on_either_node",
    "campaigns.<name>.route": CAMPAIGN_LIMITS_E2E,
    "campaigns.<name>.hours": CAMPAIGN_LIMITS_E2E,
    "campaigns.<name>.connect_within": CAMPAIGN_LIMITS_E2E,
    "campaigns.<name>.abandon_prompt": CAMPAIGN_LIMITS_E2E,
    "campaigns.<name>.ring_time": CAMPAIGN_LIMITS_E2E,
    "campaigns.<name>.caller_id": CAMPAIGN_LIMITS_E2E,
    "campaigns.<name>.retries.no_answer": CAMPAIGN_LIMITS_E2E,
    "campaigns.<name>.retries.failed": CAMPAIGN_LIMITS_E2E,
    "campaigns.<name>.abandon_limit": CAMPAIGN_PACING_E2E,
    "campaigns.<name>.abandon_window": CAMPAIGN_PACING_E2E,
    "campaigns.<name>.retries.abandoned": CAMPAIGN_LIMITS_E2E,
    "campaigns": CAMPAIGN_E2E,
    "campaigns.<name>.queue": CAMPAIGN_E2E,
    "campaigns.<name>.mode": CAMPAIGN_E2E,
    "campaigns.<name>.retries": CAMPAIGN_E2E,
    "campaigns.<name>.retries.busy": CAMPAIGN_E2E,
    "campaigns.<name>.retries.busy.attempts": CAMPAIGN_E2E,
    "campaigns.<name>.retries.busy.delay": CAMPAIGN_E2E,
    "include": "tests/config/test_includes.py::test_include_as_single_name",
    "sip": "tests/interop/test_sipp_trunks.py::test_trunk_registers_with_digest",
    "rtp": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "trunks": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "routes": "tests/e2e/test_early_media.py::test_the_agent_hears_the_carriers_early_media_before_the_answer",
    "numbers": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr": "tests/config/test_includes.py::test_include_as_single_name",
    "queues": "tests/e2e/test_demo.py::test_a_plan_without_numbers_is_refused_plainly",
    "agents": "tests/e2e/test_early_media.py::test_the_agent_hears_the_carriers_early_media_before_the_answer",
    "feature_codes": "tests/config/test_includes.py::test_merged",
    "transfers":
        "tests/e2e/test_transfer.py::test_failed_blind_transfer_goes_back_into_the_queue_when_the_plan_says_so",
    "internal_calls":
        "tests/e2e/test_internal_calls.py::test_paused_agents_can_be_made_unreachable_and_busy_can_mean_voicemail",
    "schedules": "tests/reports/test_periods_and_output.py::test_the_time_zone_comes_from_the_dial_plan",
    "prompts": "tests/config/test_example.py::test_with_prompt_files_present",
    "recording": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "database": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "security": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "api": "tests/config/test_api_section.py::test_listening_beyond_loopback_needs_a_token",
    "sip.listen": "tests/interop/test_stream_faults.py::test_an_expired_certificate_is_reported_by_check_and_at_start",
    "sip.message_timeout": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "sip.tls_handshake_timeout": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "sip.listen[].transport":
        "tests/interop/test_stream_faults.py::test_an_expired_certificate_is_reported_by_check_and_at_start",
    "sip.listen[].address":
        "tests/interop/test_stream_faults.py::test_an_expired_certificate_is_reported_by_check_and_at_start",
    "sip.listen[].port":
        "tests/interop/test_stream_faults.py::test_an_expired_certificate_is_reported_by_check_and_at_start",
    "sip.listen[].cert":
        "tests/interop/test_stream_faults.py::test_an_expired_certificate_is_reported_by_check_and_at_start",
    "sip.listen[].key":
        "tests/interop/test_stream_faults.py::test_an_expired_certificate_is_reported_by_check_and_at_start",
    "rtp.address": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "rtp.port_min": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "rtp.port_max": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "rtp.inactivity_timeout": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "trunks.<name>.inbound": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "trunks.<name>.outbound":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "trunks.<name>.inbound.allow_from":
        "tests/e2e/test_early_media.py::test_the_agent_hears_the_carriers_early_media_before_the_answer",
    "trunks.<name>.inbound.auth": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "trunks.<name>.inbound.username": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "trunks.<name>.inbound.password": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "trunks.<name>.outbound.proxy":
        "tests/e2e/test_early_media.py::test_the_agent_hears_the_carriers_early_media_before_the_answer",
    "trunks.<name>.outbound.username":
        "tests/e2e/test_runtime.py::test_caller_is_queued_and_bridged_to_a_logged_in_agent",
    "trunks.<name>.outbound.password":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "trunks.<name>.outbound.options_interval":
        "tests/e2e/test_early_media.py::test_the_agent_hears_the_carriers_early_media_before_the_answer",
    "trunks.<name>.outbound.caller_id":
        "tests/e2e/test_runtime.py::test_agent_dials_out_through_an_allowed_route_and_can_hold",
    "routes.<name>.patterns":
        "tests/e2e/test_early_media.py::test_the_agent_hears_the_carriers_early_media_before_the_answer",
    "routes.<name>.trunk":
        "tests/e2e/test_early_media.py::test_the_agent_hears_the_carriers_early_media_before_the_answer",
    "routes.<name>.failover": "tests/e2e/test_failover.py::test_a_call_passes_over_a_dead_trunk_and_a_503_to_the_next",
    "routes.<name>.allow":
        "tests/e2e/test_early_media.py::test_the_agent_hears_the_carriers_early_media_before_the_answer",
    "routes.<name>.allow.agents":
        "tests/e2e/test_early_media.py::test_the_agent_hears_the_carriers_early_media_before_the_answer",
    "routes.<name>.allow.ivr":
        "tests/e2e/test_transfer.py::test_blind_transfer_to_an_outside_number_through_a_route_that_allows_the_agent",
    "numbers.<name>.node": "tests/config/test_includes.py::test_include_as_single_name",
    "numbers.<name>.trunk": "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "numbers.<name>.language": "tests/ivr/test_languages.py::test_the_customer_record_sets_the_language",
    "numbers.<name>.client":
        "tests/e2e/test_agent_page.py::test_an_agent_signs_in_goes_ready_sees_the_screen_pop_and_writes_up_the_call",
    "ivr.<name>[type: play].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: play].prompts":
        "tests/ivr/test_languages.py::test_a_prefix_to_an_unavailable_language_is_refused",
    "ivr.<name>[type: play].next":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: menu].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: menu].prompts":
        "tests/ivr/test_languages.py::test_a_prefix_to_an_unavailable_language_is_refused",
    "ivr.<name>[type: menu].options":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: menu].invalid_prompt":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: menu].timeout_prompt":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: menu].timeout":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "ivr.<name>[type: menu].max_failures":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: menu].on_failure":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "ivr.<name>[type: collect].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: collect].prompts":
        "tests/ivr/test_languages.py::test_a_prefix_to_an_unavailable_language_is_refused",
    "ivr.<name>[type: collect].sensitive":
        "tests/ivr/test_engine.py::test_sensitive_entry_after_barge_in_play_is_masked_too",
    "ivr.<name>[type: collect].invalid_prompt":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: collect].max_failures":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: collect].next":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: collect].on_failure":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "ivr.<name>[type: goto].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: goto].next":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: hours].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: language].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: language].prompts":
        "tests/ivr/test_languages.py::test_a_prefix_to_an_unavailable_language_is_refused",
    "ivr.<name>[type: language].options":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: language].timeout":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "ivr.<name>[type: language].next":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: lookup].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: lookup].next":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: set].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: set].priority":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "ivr.<name>[type: set].skills":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "ivr.<name>[type: set].next":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: queue].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: queue].queue": "tests/config/test_includes.py::test_merged",
    "ivr.<name>[type: queue].priority":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "ivr.<name>[type: queue].required_skills":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "ivr.<name>[type: queue].on_exit":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "ivr.<name>.on_exit.timeout":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "ivr.<name>.on_exit.callback":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "ivr.<name>.on_exit.key":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "ivr.<name>[type: transfer].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: transfer].agent":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "ivr.<name>[type: transfer].number":
        "tests/e2e/test_transfer.py::test_blind_transfer_to_an_outside_number_through_a_route_that_allows_the_agent",
    "ivr.<name>[type: transfer].ring_timeout": "tests/config/test_includes.py::test_merged",
    "ivr.<name>[type: transfer].on_failure":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "ivr.<name>[type: voicemail].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: voicemail].mailbox":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: voicemail].greeting":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: voicemail].max_length":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: voicemail].silence_stop":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: voicemail].next":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: callback].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: callback].prompts":
        "tests/ivr/test_languages.py::test_a_prefix_to_an_unavailable_language_is_refused",
    "ivr.<name>[type: callback].queue": "tests/config/test_includes.py::test_merged",
    "ivr.<name>[type: callback].next":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: operator].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: operator].queue": "tests/config/test_includes.py::test_merged",
    "ivr.<name>[type: survey].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: survey].prompts":
        "tests/ivr/test_languages.py::test_a_prefix_to_an_unavailable_language_is_refused",
    "ivr.<name>[type: survey].name": "tests/config/test_includes.py::test_merged",
    "ivr.<name>[type: survey].timeout":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "ivr.<name>[type: survey].next":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "ivr.<name>[type: hangup].type": "tests/config/test_includes.py::test_include_as_single_name",
    "ivr.<name>[type: hangup].prompts":
        "tests/ivr/test_languages.py::test_a_prefix_to_an_unavailable_language_is_refused",
    "queues.<name>.strategy": "tests/config/test_includes.py::test_merged",
    "queues.<name>.selection":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "queues.<name>.ring_timeout": "tests/config/test_changes.py::test_added_removed_and_changed_agents_and_queues",
    "queues.<name>.retry_delay":
        "tests/acd/test_callback_settings.py::test_every_callback_setting_of_the_dial_plan_reaches_the_router",
    "queues.<name>.wrap_up": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "queues.<name>.max_length":
        "tests/e2e/test_crash.py::test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql",
    "queues.<name>.max_wait": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "queues.<name>.join_when":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "queues.<name>.leave_when":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "queues.<name>.overflow":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "queues.<name>.announcements":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "queues.<name>.callback":
        "tests/acd/test_callback_settings.py::test_every_callback_setting_of_the_dial_plan_reaches_the_router",
    "queues.<name>.auto_pause_after":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "queues.<name>.weight": "tests/acd/test_router.py::test_agent_in_two_queues_gets_the_longest_weighted_wait",
    "queues.<name>.backup_group":
        "tests/e2e/test_routing_settings.py::test_the_backup_group_is_rung_after_backup_after_and_the_callers_keep_their_places",
    "queues.<name>.backup_after":
        "tests/e2e/test_routing_settings.py::test_the_backup_group_is_rung_after_backup_after_and_the_callers_keep_their_places",
    "agents.<name>.queues[].penalty":
        "tests/e2e/test_routing_settings.py::test_linear_rings_the_lower_penalty_first_and_the_higher_one_only_when_it_is_busy",
    "agents.<name>.queues[].weight":
        "tests/e2e/test_routing_settings.py::test_weighted_random_follows_the_membership_weights",
    "queues.<name>.skills":
        "tests/e2e/test_routing_settings.py::test_the_queue_skills_leave_out_the_unskilled_and_cost_aware_takes_the_cheaper_expert",
    "queues.<name>.cost_aware":
        "tests/e2e/test_routing_settings.py::test_the_queue_skills_leave_out_the_unskilled_and_cost_aware_takes_the_cheaper_expert",
    "agents.<name>.cost":
        "tests/e2e/test_routing_settings.py::test_the_queue_skills_leave_out_the_unskilled_and_cost_aware_takes_the_cheaper_expert",
    "queues.<name>.announcements.first_after":
        "tests/e2e/test_routing_settings.py::test_the_first_announcement_waits_first_after",
    "agents.<name>.max_calls":
        "tests/e2e/test_routing_settings.py::test_an_agent_with_two_lines_takes_a_second_call_while_on_the_first",
    "queues.<name>.overflow.timeout":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "queues.<name>.overflow.timeout.queue":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "queues.<name>.overflow.timeout.voicemail":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "queues.<name>.overflow.timeout.callback":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "queues.<name>.overflow.timeout.node":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "queues.<name>.announcements.music_on_hold":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "queues.<name>.announcements.position_every":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "queues.<name>.callback.enabled":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "queues.<name>.callback.offer_after":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "queues.<name>.callback.key":
        "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "queues.<name>.callback.attempts":
        "tests/e2e/test_callback_retry.py::test_unanswered_callback_rings_its_ring_time_is_retried_then_recorded_as_failed",
    "queues.<name>.callback.retry_delay":
        "tests/e2e/test_callback_retry.py::test_unanswered_callback_rings_its_ring_time_is_retried_then_recorded_as_failed",
    "queues.<name>.callback.ring_time":
        "tests/e2e/test_callback_retry.py::test_unanswered_callback_rings_its_ring_time_is_retried_then_recorded_as_failed",
    "queues.<name>.callback.hours":
        "tests/acd/test_callback_settings.py::test_a_callback_booked_outside_the_window_waits_for_it_to_open",
    "queues.<name>.callback.expire_after":
        "tests/acd/test_callback_settings.py::test_every_callback_setting_of_the_dial_plan_reaches_the_router",
    "queues.<name>.survey":
        "tests/e2e/test_post_call_survey.py::test_the_caller_answers_the_survey_after_the_agent_hangs_up",
    "queues.<name>.survey.node":
        "tests/e2e/test_post_call_survey.py::test_the_caller_answers_the_survey_after_the_agent_hangs_up",
    "queues.<name>.survey.every":
        "tests/runtime/test_surveys.py::test_every_nth_eligible_caller_is_surveyed",
    "queues.<name>.survey.min_talk":
        "tests/runtime/test_surveys.py::test_short_calls_are_skipped_and_do_not_count_towards_every",
    "queues.<name>.survey.not_within":
        "tests/e2e/test_post_call_survey.py::test_the_caller_answers_the_survey_after_the_agent_hangs_up",
    "queues.<name>.callback.sla":
        "tests/e2e/test_callback_api.py::test_a_callback_booked_through_the_api_is_dialled_by_the_first_free_agent",
    "queues.<name>.language_relaxation": "tests/e2e/test_agent_languages.py::"
        "test_a_polish_caller_goes_to_the_polish_speaker_then_to_anyone_after_the_relaxation",
    "queues.<name>.relaxation[].min_level":
        "tests/acd/test_router.py::test_skills_best_first_then_relaxation_keeps_the_place",
    "queues.<name>.relaxation[].drop":
        "tests/acd/test_router.py::test_skills_best_first_then_relaxation_keeps_the_place",
    "agents.<name>.name": "tests/config/test_changes.py::test_added_removed_and_changed_agents_and_queues",
    "agents.<name>.password":
        "tests/acd/test_callback_settings.py::test_every_callback_setting_of_the_dial_plan_reaches_the_router",
    "agents.<name>.skills": "tests/e2e/test_callback_hold.py::test_the_agent_holds_and_resumes_a_callback_conversation",
    "agents.<name>.queues":
        "tests/acd/test_callback_settings.py::test_every_callback_setting_of_the_dial_plan_reaches_the_router",
    "agents.<name>.wrap_up": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "agents.<name>.languages": "tests/e2e/test_agent_languages.py::"
        "test_a_polish_caller_goes_to_the_polish_speaker_then_to_anyone_after_the_relaxation",
    "agents.<name>.queues[].queue": "tests/config/test_includes.py::test_merged",
    "agents.<name>.follow_me.number":
        "tests/e2e/test_follow_me.py::test_an_unregistered_agent_is_rung_on_the_personal_number_and_must_confirm",
    "agents.<name>.follow_me.route":
        "tests/e2e/test_follow_me.py::test_an_unregistered_agent_is_rung_on_the_personal_number_and_must_confirm",
    "agents.<name>.follow_me.confirm_within":
        "tests/e2e/test_follow_me.py::test_an_unregistered_agent_is_rung_on_the_personal_number_and_must_confirm",
    "feature_codes.login": "tests/e2e/test_feature_codes.py::test_pause_reasons_unknown_code_and_codes_not_allowed_now",
    "feature_codes.logout":
        "tests/e2e/test_feature_codes.py::test_pause_reasons_unknown_code_and_codes_not_allowed_now",
    "feature_codes.pause": "tests/e2e/test_feature_codes.py::test_pause_reasons_unknown_code_and_codes_not_allowed_now",
    "feature_codes.pause_reasons":
        "tests/e2e/test_feature_codes.py::test_pause_reasons_unknown_code_and_codes_not_allowed_now",
    "feature_codes.wrap_up_end":
        "tests/e2e/test_feature_codes.py::test_pause_reasons_unknown_code_and_codes_not_allowed_now",
    "feature_codes.voicemail": "tests/e2e/test_feature_codes.py::test_own_voicemail_plays_messages_and_deletes_by_key",
    "feature_codes.echo_test": "tests/e2e/test_feature_codes.py::test_echo_test_sends_the_phone_its_own_voice",
    "feature_codes.listen": "tests/e2e/test_monitoring.py::test_listen_whisper_barge_from_the_phone_and_the_api",
    "feature_codes.whisper": "tests/e2e/test_monitoring.py::test_listen_whisper_barge_from_the_phone_and_the_api",
    "feature_codes.barge": "tests/e2e/test_monitoring.py::test_listen_whisper_barge_from_the_phone_and_the_api",
    "queues.<name>.supervisors":
        "tests/e2e/test_monitoring.py::test_listen_whisper_barge_from_the_phone_and_the_api",
    "groups": "tests/runtime/test_monitoring.py::test_only_the_queue_s_supervisor_groups_may_monitor",
    "transfers.ring_timeout":
        "tests/e2e/test_transfer.py::test_failed_blind_transfer_goes_back_into_the_queue_when_the_plan_says_so",
    "transfers.on_failure":
        "tests/e2e/test_transfer.py::test_failed_blind_transfer_goes_back_into_the_queue_when_the_plan_says_so",
    "internal_calls.busy":
        "tests/e2e/test_internal_calls.py::test_paused_agents_can_be_made_unreachable_and_busy_can_mean_voicemail",
    "internal_calls.paused_reachable":
        "tests/e2e/test_internal_calls.py::test_paused_agents_can_be_made_unreachable_and_busy_can_mean_voicemail",
    "schedules.<name>.timezone":
        "tests/reports/test_periods_and_output.py::test_the_time_zone_comes_from_the_dial_plan",
    "schedules.<name>.hours": "tests/reports/test_periods_and_output.py::test_the_time_zone_comes_from_the_dial_plan",
    "schedules.<name>.hours[].days":
        "tests/reports/test_periods_and_output.py::test_the_time_zone_comes_from_the_dial_plan",
    "schedules.<name>.hours[].open":
        "tests/reports/test_periods_and_output.py::test_the_time_zone_comes_from_the_dial_plan",
    "schedules.<name>.hours[].close":
        "tests/reports/test_periods_and_output.py::test_the_time_zone_comes_from_the_dial_plan",
    "prompts.directory": "tests/config/test_changes.py::test_added_removed_and_changed_agents_and_queues",
    "prompts.default_language":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "prompts.languages": "tests/ivr/test_languages.py::test_a_prefix_to_an_unavailable_language_is_refused",
    "prompts.caller_languages": "tests/ivr/test_languages.py::test_a_prefix_to_an_unavailable_language_is_refused",
    "recording.enabled": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "recording.directory": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "recording.pause_code":
        "tests/e2e/test_recording_control.py::test_agent_code_and_api_pause_leave_silence_where_the_timeline_says",
    "recording.resume_code":
        "tests/e2e/test_recording_control.py::test_agent_code_and_api_pause_leave_silence_where_the_timeline_says",
    "recording.key_file":
        "tests/e2e/test_recording_encryption.py::test_a_recording_is_sealed_on_disk_and_served_decrypted",
    "recording.retention_days":
        "tests/e2e/test_recording_retention.py::test_recordings_older_than_the_period_are_deleted_at_start",
    "numbers.<name>.record":
        "tests/e2e/test_recording_control.py::test_a_number_recorded_from_the_answer_pauses_around_the_card_number",
    "ivr.<name>[type: recording].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: recording].type":
        "tests/e2e/test_recording_control.py::test_a_number_recorded_from_the_answer_pauses_around_the_card_number",
    "ivr.<name>[type: recording].action":
        "tests/e2e/test_recording_control.py::test_a_number_recorded_from_the_answer_pauses_around_the_card_number",
    "ivr.<name>[type: recording].next":
        "tests/e2e/test_recording_control.py::test_a_number_recorded_from_the_answer_pauses_around_the_card_number",
    "queues.<name>.record": "tests/e2e/test_recording_control.py::"
        "test_a_queue_recorded_from_the_queue_keeps_the_wait_and_the_conversation_in_one_file",
    "recording.format":
        "tests/e2e/test_dialplan_ivr.py::test_sipp_caller_presses_2_then_1_and_waits_in_support_with_billing",
    "database.url": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "database.journal_directory":
        "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "security.realm": "tests/config/test_includes.py::test_include_as_single_name",
    "security.ban_time": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "security.account_failures": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "security.account_window": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "security.account_delay": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "security.never_ban": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "security.flood": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "security.max_calls_in_progress":
        "tests/e2e/test_overload.py::test_a_bridged_call_counts_once_against_max_calls_in_progress",
    "security.max_call_rate":
        "tests/e2e/test_overload.py::test_a_bridged_call_counts_once_against_max_calls_in_progress",
    "security.max_loop_lag":
        "tests/e2e/test_overload.py::test_a_bridged_call_counts_once_against_max_calls_in_progress",
    "security.flood.requests": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "security.flood.window": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "security.flood.ban_time": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "security.flood.trunk_requests": "tests/runtime/test_security_settings.py::test_every_key_is_mapped",
    "api.enabled": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "api.address": "tests/config/test_api_section.py::test_listening_beyond_loopback_needs_a_token",
    "api.port": "tests/e2e/test_bad_sdp.py::test_offers_that_cannot_be_right_are_refused_and_leave_a_cdr",
    "api.token": "tests/config/test_api_section.py::test_listening_beyond_loopback_needs_a_token",
    "desk": "tests/api/test_desk.py::test_the_dial_plan_gives_the_desk_its_outcomes_pause_reasons_and_agents_secrets",
    "webhooks":
        "tests/e2e/test_agent_page.py::test_an_agent_signs_in_goes_ready_sees_the_screen_pop_and_writes_up_the_call",
    "webhooks[].url":
        "tests/e2e/test_agent_page.py::test_an_agent_signs_in_goes_ready_sees_the_screen_pop_and_writes_up_the_call",
    "webhooks[].secret":
        "tests/e2e/test_agent_page.py::test_an_agent_signs_in_goes_ready_sees_the_screen_pop_and_writes_up_the_call",
    "webhooks[].events":
        "tests/e2e/test_agent_page.py::test_an_agent_signs_in_goes_ready_sees_the_screen_pop_and_writes_up_the_call",
    "desk.phone_library": "tests/e2e/test_agent_page.py::"
        "test_the_browser_is_the_phone_the_agent_answers_with_alt_a_and_both_hear_each_other",
    "desk.outcomes":
        "tests/e2e/test_agent_page.py::test_an_agent_signs_in_goes_ready_sees_the_screen_pop_and_writes_up_the_call",
    "ivr.<name>[type: play].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: menu].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: collect].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: goto].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: hours].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: language].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: lookup].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: set].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: queue].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: transfer].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: voicemail].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: callback].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: operator].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: survey].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>[type: hangup].description":
        "tests/ivr/test_node_keys.py::test_a_description_is_never_played_and_changes_nothing",
    "ivr.<name>.on_exit.full":
        "tests/ivr/test_node_keys.py::test_a_queue_nodes_full_and_empty_exits_win_over_the_queues_overflow",
    "ivr.<name>.on_exit.empty":
        "tests/ivr/test_node_keys.py::test_a_queue_nodes_full_and_empty_exits_win_over_the_queues_overflow",
    "ivr.<name>[type: set].language":
        "tests/ivr/test_node_keys.py::test_a_set_node_changes_the_language_of_what_follows_and_of_the_queue",
    "ivr.<name>[type: transfer].extension":
        "tests/ivr/test_node_keys.py::test_a_transfer_to_an_extension_rings_it_for_its_ring_timeout",
    "prompts.sayer": "tests/ivr/test_node_keys.py::test_the_dial_plans_sayer_reads_a_languages_numbers",
    "sip.user_agent": "tests/runtime/test_mapped_keys.py::"
        "test_the_endpoint_says_its_user_agent_asks_for_the_digest_algorithms_listed_and_bans_after_failures",
    "sip.external_address":
        "tests/e2e/test_external_addresses.py::test_the_invite_to_an_agent_names_the_external_addresses",
    "security.digest_algorithms": "tests/runtime/test_mapped_keys.py::"
        "test_the_endpoint_says_its_user_agent_asks_for_the_digest_algorithms_listed_and_bans_after_failures",
    "security.auth_failures": "tests/runtime/test_mapped_keys.py::"
        "test_the_endpoint_says_its_user_agent_asks_for_the_digest_algorithms_listed_and_bans_after_failures",
    "security.auth_window": "tests/runtime/test_mapped_keys.py::"
        "test_the_endpoint_says_its_user_agent_asks_for_the_digest_algorithms_listed_and_bans_after_failures",
    "agents.<name>.ha1":
        "tests/runtime/test_mapped_keys.py::test_an_agents_ha1_is_its_digest_credential_for_its_algorithm",
    "trunks.<name>.outbound.registration":
        "tests/runtime/test_mapped_keys.py::test_a_trunk_registers_when_asked_for_the_expiry_given",
    "trunks.<name>.outbound.registration_expiry":
        "tests/runtime/test_mapped_keys.py::test_a_trunk_registers_when_asked_for_the_expiry_given",
    "queues.<name>.service_level": "tests/runtime/test_mapped_keys.py::test_queue_settings_reach_the_router",
    "queues.<name>.announcements.position_limit":
        "tests/runtime/test_mapped_keys.py::test_queue_settings_reach_the_router",
    "queues.<name>.relaxation": "tests/runtime/test_mapped_keys.py::test_queue_settings_reach_the_router",
    "queues.<name>.relaxation[].after": "tests/runtime/test_mapped_keys.py::test_queue_settings_reach_the_router",
    "routes.<name>.strip": "tests/runtime/test_mapped_keys.py::test_a_route_strips_prepends_and_lets_its_groups_dial",
    "routes.<name>.prepend": "tests/runtime/test_mapped_keys.py::test_a_route_strips_prepends_and_lets_its_groups_dial",
    "routes.<name>.allow.groups":
        "tests/runtime/test_mapped_keys.py::test_a_route_strips_prepends_and_lets_its_groups_dial",
    "api.tokens": "tests/e2e/test_api_tokens.py::test_each_dial_plan_token_has_its_role_and_an_agent_token_its_agent",
    "api.tokens[].token":
        "tests/e2e/test_api_tokens.py::test_each_dial_plan_token_has_its_role_and_an_agent_token_its_agent",
    "api.tokens[].role":
        "tests/e2e/test_api_tokens.py::test_each_dial_plan_token_has_its_role_and_an_agent_token_its_agent",
    "api.tokens[].agent":
        "tests/e2e/test_api_tokens.py::test_each_dial_plan_token_has_its_role_and_an_agent_token_its_agent",
    "ivr.<name>[type: collect].variable": "tests/ivr/test_engine.py::test_collect_with_terminator",
    "ivr.<name>[type: collect].terminator": "tests/ivr/test_engine.py::test_collect_with_terminator",
    "ivr.<name>[type: collect].max_digits": "tests/ivr/test_engine.py::test_collect_ends_at_max_digits",
    "ivr.<name>[type: collect].inter_digit_timeout":
        "tests/ivr/test_engine.py::test_collect_inter_digit_timeout_ends_the_entry",
    "ivr.<name>[type: collect].first_digit_timeout":
        "tests/ivr/test_engine.py::test_collect_first_digit_timeout_counts_a_failure_and_replays",
    "ivr.<name>[type: collect].pattern": "tests/ivr/test_engine.py::test_collect_pattern_and_min_digits",
    "ivr.<name>[type: collect].min_digits": "tests/ivr/test_engine.py::test_collect_pattern_and_min_digits",
    "ivr.<name>[type: play].barge_in":
        "tests/ivr/test_engine.py::test_play_with_barge_in_keeps_the_key_for_the_next_menu",
    "ivr.<name>[type: set].variables": "tests/ivr/test_engine.py::test_goto_and_set_build_the_queue_request",
    "ivr.<name>[type: queue].preferred_skills": "tests/ivr/test_engine.py::test_goto_and_set_build_the_queue_request",
    "ivr.<name>[type: queue].exit_key": "tests/ivr/test_engine.py::test_queue_exit_key_leaves_the_queue",
    "ivr.<name>[type: hours].schedule": "tests/ivr/test_engine.py::test_hours_across_dst_and_holidays",
    "ivr.<name>[type: hours].open": "tests/ivr/test_engine.py::test_hours_across_dst_and_holidays",
    "ivr.<name>[type: hours].closed": "tests/ivr/test_engine.py::test_hours_across_dst_and_holidays",
    "ivr.<name>[type: hours].holiday": "tests/ivr/test_engine.py::test_hours_across_dst_and_holidays",
    "schedules.<name>.holidays": "tests/ivr/test_hours.py::test_status",
    "schedules.<name>.holidays[].date": "tests/ivr/test_hours.py::test_status",
    "schedules.<name>.holidays[].name": "tests/ivr/test_hours.py::test_status",
    "ivr.<name>[type: lookup].by": "tests/ivr/test_engine.py::test_lookup_by_variable",
    "ivr.<name>[type: lookup].variable": "tests/ivr/test_engine.py::test_lookup_by_variable",
    "ivr.<name>[type: transfer].announce": "tests/ivr/test_engine.py::test_transfer_with_announce_and_failure_branch",
    "ivr.<name>[type: transfer].route": "tests/ivr/test_engine.py::test_transfer_to_outside_number_and_answered",
    "ivr.<name>[type: operator].extension": "tests/ivr/test_engine.py::test_operator_extension_transfers",
    "ivr.<name>[type: voicemail].beep":
        "tests/ivr/test_engine.py::test_voicemail_without_greeting_records_at_once_and_hangs_up_after",
    "ivr.<name>[type: callback].confirm":
        "tests/ivr/test_engine.py::test_callback_for_withheld_number_asks_for_one_without_confirm",
    "ivr.<name>[type: survey].thanks_prompt":
        "tests/e2e/test_post_call_survey.py::test_the_caller_answers_the_survey_after_the_agent_hangs_up",
    "queues.<name>.overflow.full": "tests/ivr/test_engine.py::test_queue_without_on_exit_uses_the_queue_overflow",
    "queues.<name>.overflow.empty": "tests/e2e/test_dialplan_ivr.py::"
        "test_key_0_with_no_support_agent_logged_in_leaves_a_message_and_is_never_hung_up",
    "routes.<name>.allow.unauthenticated": "tests/config/test_broken.py::test_expected_problems",
    "transfers.conference":
        "tests/e2e/test_conference.py::test_three_way_conference_each_hears_the_other_two_and_not_itself",
    "agents.<name>.follow_me":
        "tests/e2e/test_follow_me.py::test_an_unregistered_agent_is_rung_on_the_personal_number_and_must_confirm",
    "agents.<name>.follow_me.after": "tests/runtime/test_followme.py::"
        "test_in_parallel_after_n_seconds_the_mobile_wins_and_the_softphone_is_cancelled",
    "agents.<name>.follow_me.confirm_key":
        "tests/runtime/test_followme.py::test_unregistered_rings_the_mobile_which_must_confirm",
    "rtp.external_address":
        "tests/e2e/test_external_addresses.py::test_the_invite_to_an_agent_names_the_external_addresses",
    "queues.<name>.announcements.announce_position":
        "tests/e2e/test_queues.py::test_callers_queue_hear_their_position_and_reach_the_agent_after_wrap_up",
    "queues.<name>.callback.prompt":
        "tests/e2e/test_queues.py::test_callback_is_booked_then_the_agent_is_called_first_and_the_customer_dialed",
    "internal_calls.ring_timeout":
        "tests/e2e/test_internal_ring_timeout.py::test_an_unanswered_internal_call_rings_for_the_dial_plans_ring_timeout",
    "recording.storage":
        "tests/e2e/test_recording_storage.py::test_a_recording_kept_in_the_database_is_the_file_written",
    "queues.<name>.announcements.estimated_wait":
        "tests/e2e/test_estimated_wait.py::test_the_estimated_wait_is_said_only_where_the_queue_says_so",
}
"""Dial-plan key (``queues.<name>.ring_timeout``) → the test that proves it."""

UNPROVEN: Final[frozenset[str]] = frozenset()
"""Keys no test exercises yet (the reference marks them)."""
