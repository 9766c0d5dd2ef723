"""policy.decide: detection beats errors, the strictest action wins, the
notification block follows the action, log-and-permit is logged."""
from __future__ import annotations

import json
import logging

import pytest

from avgate.errors import REASONS
from avgate.policy import NOTIFICATION_FOR_ACTION, decide
from avgate.profile import DEFAULT_FALLBACK, Notice, Profile
from avgate.result import Detection, Problem, ScanResult


def result(*, detections=(), errors=()) -> ScanResult:
    return ScanResult(path="upload.zip", detections=list(detections), errors=list(errors))


def test_clean_is_permitted_without_notification():
    decision = decide(result(), Profile())
    assert (decision.action, decision.reason, decision.notification, decision.notice) == ("permit", None, None, None)
    assert decision.reasons == () and decision.files == ()


def test_a_detection_beats_every_error():
    r = result(
        detections=[Detection("Win.Test.EICAR_HDB-1", "upload.zip//eicar.com")],
        errors=[Problem("timeout", "upload.zip//big.bin", "time limit"), Problem("password-file", "upload.zip//x")],
    )
    profile = Profile(fallback={"timeout": "permit", "password-file": "permit"},
                      notifications={"virus-detection": Notice(custom_message="Removed.")})
    decision = decide(r, profile)
    assert (decision.action, decision.reason, decision.notification) == ("block", "virus", "virus-detection")
    assert decision.notice == Notice(custom_message="Removed.")
    assert decision.threats == ("Win.Test.EICAR_HDB-1",)
    assert decision.files == ("upload.zip//eicar.com",)
    assert decision.findings == (("upload.zip//eicar.com", "Win.Test.EICAR_HDB-1"),)
    assert decision.reasons == ("timeout", "password-file")  # still reported
    assert decision.blocked


@pytest.mark.parametrize("reason", REASONS)
def test_each_reason_under_the_default_profile(reason):
    decision = decide(result(errors=[Problem(reason, "upload.zip", "what happened")]), Profile())
    assert decision.action == DEFAULT_FALLBACK[reason]
    assert decision.reason == reason
    assert decision.notification == NOTIFICATION_FOR_ACTION[decision.action]
    assert decision.detail == "what happened"
    assert decision.fallbacks == ((reason, DEFAULT_FALLBACK[reason]),)


@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("action, block", [("permit", None), ("log-and-permit", "fallback-non-block"), ("block", "fallback-block")])
def test_each_reason_under_a_non_default_profile(reason, action, block):
    profile = Profile(name="custom", fallback={reason: action},
                      notifications={"fallback-block": Notice(type="protocol-only")})
    decision = decide(result(errors=[Problem(reason, "upload.zip")]), profile)
    assert (decision.action, decision.notification, decision.profile) == (action, block, "custom")
    assert decision.notice == (None if block is None else profile.notice(block))


def test_several_reasons_the_strictest_action_decides():
    r = result(errors=[
        Problem("corrupt-file", "a//1"),  # log-and-permit
        Problem("timeout", "a//2"),  # block
        Problem("password-file", "a//3"),  # log-and-permit
    ])
    decision = decide(r, Profile())
    assert (decision.action, decision.reason) == ("block", "timeout")
    assert decision.reasons == ("corrupt-file", "timeout", "password-file")
    assert decision.files == ("a//1", "a//2", "a//3")
    assert dict(decision.fallbacks) == {"corrupt-file": "log-and-permit", "timeout": "block", "password-file": "log-and-permit"}
    # equal actions: the reason met first decides
    tie = decide(result(errors=[Problem("password-file", "a//3"), Problem("corrupt-file", "a//1")]), Profile())
    assert (tie.action, tie.reason) == ("log-and-permit", "password-file")
    permissive = Profile(fallback=dict.fromkeys(REASONS, "permit"))
    assert decide(r, permissive).action == "permit"


def test_an_unknown_reason_falls_back_to_default():
    decision = decide(result(errors=[Problem("cosmic-ray", "x")]), Profile(fallback={"default": "log-and-permit"}))
    assert (decision.action, decision.reason) == ("log-and-permit", "cosmic-ray")


def test_log_and_permit_writes_a_structured_record(caplog):
    r = result(errors=[Problem("corrupt-file", "upload.zip//a.gz", "truncated gzip input")])
    with caplog.at_level(logging.INFO, logger="avgate.policy"):
        decision = decide(r, Profile())
    assert decision.action == "log-and-permit"
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and record.name == "avgate.policy"
    assert "upload.zip//a.gz: corrupt-file: truncated gzip input" in record.getMessage()
    fields = record.avgate  # type: ignore[attr-defined]
    assert fields["event"] == "fallback"
    assert (fields["action"], fields["reason"], fields["path"]) == ("log-and-permit", "corrupt-file", "upload.zip")
    assert fields["errors"] == [{"reason": "corrupt-file", "path": "upload.zip//a.gz", "detail": "truncated gzip input"}]
    json.dumps(fields)  # ready for a JSON log handler


def test_block_and_permit_are_not_logged_as_fallbacks(caplog):
    with caplog.at_level(logging.DEBUG, logger="avgate.policy"):
        decide(result(errors=[Problem("timeout", "x")]), Profile())
        decide(result(errors=[Problem("timeout", "x")]), Profile(fallback={"timeout": "permit"}))
        decide(result(), Profile())
    assert caplog.records == []


def test_decision_serialises():
    decision = decide(result(detections=[Detection("T", "upload.zip")], errors=[Problem("timeout", "x")]), Profile())
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["action"] == "block" and data["notification"] == "virus-detection"
    assert data["threats"] == ["T"] and data["fallbacks"] == {"timeout": "block"}
    r = result(detections=[Detection("T", "upload.zip")])
    r.decision = decision
    assert r.to_dict()["decision"]["reason"] == "virus"
