"""The SIP modules split by job keep every old import path, and each new module imports on its own."""

import importlib
import subprocess
import sys

import pytest

import voxcenter.sip

# (old module, new module, names that moved from the old to the new one)
MOVED = [
    ("message", "parser", ["DEFAULT_LIMITS", "MAX_HEADER_COUNT", "MAX_LINE_LENGTH", "MAX_MESSAGE_SIZE", "Limits",
                           "MessageHead", "message_from_head", "parse_head", "parse_message"]),
    ("sdp", "offer_answer", ["DEFAULT_CODECS", "G722", "PCMA", "PCMU", "Codec", "NegotiatedMedia", "accept_answer",
                             "answer_offer", "create_offer"]),
    ("transaction", "builders", ["BRANCH_PLACEHOLDER", "MAGIC_COOKIE", "make_cancel", "make_non2xx_ack", "new_branch",
                                 "new_tag"]),
    ("transaction", "transaction_events", ["AckReceived", "CancelReceived", "Destination", "MessageRejected",
                                           "RequestReceived", "ResponseReceived", "StrayResponse", "TransactionEvent",
                                           "TransactionTerminated", "TransactionTimedOut", "TransportFailed"]),
    ("transaction", "transaction_tables", ["ABSORBABLE", "INVITE_CLIENT", "INVITE_SERVER", "NON_INVITE_CLIENT",
                                           "NON_INVITE_SERVER", "Stimulus", "Table", "TransactionState"]),
    ("dialog", "builders", ["new_call_id", "new_request"]),
    ("dialog", "dialog_events", ["AckTimedOut", "DialogAckReceived", "DialogConfirmed", "DialogCreated",
                                 "DialogEvent", "DialogTerminated", "InDialogRequest", "RequestRejected"]),
    ("dialog", "dialog_state", ["TARGET_REFRESH", "Dialog", "DialogId", "DialogState", "dialog_as_uac",
                                "dialog_as_uas", "glare_retry_delay"]),
]


@pytest.mark.parametrize(("old", "new", "names"), MOVED, ids=[f"{old}->{new}" for old, new, _ in MOVED])
def test_moved_names_are_the_same_objects_under_the_old_path(old: str, new: str, names: list[str]) -> None:
    old_module = importlib.import_module(f"voxcenter.sip.{old}")
    new_module = importlib.import_module(f"voxcenter.sip.{new}")
    for name in names:
        assert getattr(old_module, name) is getattr(new_module, name), name


def test_package_exports_what_it_lists() -> None:
    for name in voxcenter.sip.__all__:
        assert getattr(voxcenter.sip, name) is not None, name
    assert voxcenter.sip.parse_message is importlib.import_module("voxcenter.sip.parser").parse_message


@pytest.mark.parametrize("module", ["parser", "offer_answer", "dialog_events", "transaction_events"])
def test_new_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    # The re-exports make message↔parser and sdp↔offer_answer cycles; the package __init__ resolves them.
    result = subprocess.run(
        [sys.executable, "-c", f"import voxcenter.sip.{module}"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
