"""The SMS senders (jifen.sms) and members' one-time sign-in codes (jifen.alliance.signin_codes):
codes are 6 digits, live five minutes, serve once, lock after five wrong tries, are limited per
number and per address, are kept only as a keyed MAC, and a number nobody enrolled gets the same
answer and no SMS."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from jifen.alliance import members, signin_codes
from jifen.alliance.errors import SignInCodeInvalid, SignInCodeLocked, SignInRateLimited
from jifen.app import SimulatedClock, open_alliance
from jifen.app.context import Context
from jifen.sms import ConsoleSms, SmsFailed, SmsNotConfigured
from jifen.sms.aliyun import AliyunSettings, AliyunSms, load_settings
from jifen.store import tables as t

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
PHONE = "13800138000"
STRANGER = "13700137000"
CONSENTS = {"terms": True, "privacy": True}
LOG_LINE = re.compile(r"sms code for (\S+): (\d{6})")


class Recorder:
    """An ``SmsSender`` that keeps what it was asked to send."""

    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int]] = []

    def send_code(self, phone: str, code: str, ttl_minutes: int) -> None:
        self.sent.append((phone, code, ttl_minutes))


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    ctx = open_alliance(f"sqlite:///{tmp_path / 'codes.db'}", secret="s", clock=SimulatedClock(NOW))
    members.enrol(ctx, PHONE, CONSENTS, NOW)
    yield ctx
    ctx.engine.dispose()


def test_console_sms_logs_the_one_line_the_browser_tests_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="jifen.sms"):
        ConsoleSms().send_code(PHONE, "042917", 5)
    [record] = [r for r in caplog.records if r.name == "jifen.sms"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "sms code for 138****8000: 042917 (console SMS provider: development only)"
    )
    found = LOG_LINE.search(record.getMessage())
    assert found and found.groups() == ("138****8000", "042917")


def test_a_code_signs_in_once_and_is_stored_only_as_a_mac(ctx: Context) -> None:
    sms = Recorder()
    sent = signin_codes.send_code(ctx, sms, PHONE, "10.0.0.1", NOW)
    [(phone, code, ttl)] = sms.sent
    assert (phone, ttl, len(code), sent.expires_at) == (PHONE, 5, 6, NOW + timedelta(minutes=5))
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(t.signin_codes)).all()
    assert all(code not in str(tuple(r)) for r in rows)
    member_id = signin_codes.check_code(ctx, "138 0013 8000", code, NOW + timedelta(minutes=1))
    assert member_id == members.member_id_for(ctx, PHONE)
    with pytest.raises(SignInCodeInvalid):  # reused
        signin_codes.check_code(ctx, PHONE, code, NOW + timedelta(minutes=2))


def test_an_expired_code_is_refused(ctx: Context) -> None:
    sms = Recorder()
    signin_codes.send_code(ctx, sms, PHONE, "10.0.0.1", NOW)
    with pytest.raises(SignInCodeInvalid):
        signin_codes.check_code(ctx, PHONE, sms.sent[0][1], NOW + timedelta(minutes=5))


def test_five_wrong_codes_lock_it_even_against_the_right_one(ctx: Context) -> None:
    sms = Recorder()
    signin_codes.send_code(ctx, sms, PHONE, "10.0.0.1", NOW)
    code = sms.sent[0][1]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(signin_codes.MAX_TRIES):
        with pytest.raises(SignInCodeInvalid):
            signin_codes.check_code(ctx, PHONE, wrong, NOW)
    with pytest.raises(SignInCodeLocked):
        signin_codes.check_code(ctx, PHONE, code, NOW)
    # a new code (after the minute) works again
    signin_codes.send_code(ctx, sms, PHONE, "10.0.0.1", NOW + timedelta(seconds=61))
    later = NOW + timedelta(seconds=62)
    assert signin_codes.check_code(ctx, PHONE, sms.sent[1][1], later)


def test_codes_are_limited_per_number_and_per_address(ctx: Context) -> None:
    sms = Recorder()
    signin_codes.send_code(ctx, sms, PHONE, "10.0.0.1", NOW)
    with pytest.raises(SignInRateLimited) as refused:
        signin_codes.send_code(ctx, sms, PHONE, "10.0.0.2", NOW + timedelta(seconds=30))
    assert refused.value.context["retry_after_s"] == 31
    for minute in range(1, 5):  # five an hour
        signin_codes.send_code(ctx, sms, PHONE, "10.0.0.1", NOW + timedelta(minutes=minute))
    with pytest.raises(SignInRateLimited):
        signin_codes.send_code(ctx, sms, PHONE, "10.0.0.1", NOW + timedelta(minutes=10))
    assert len(sms.sent) == 5
    # per address: many numbers from one address
    [(_, most)] = signin_codes.PER_ADDRESS
    for n in range(most):
        signin_codes.send_code(ctx, sms, f"1390000{n:04d}", "10.9.9.9", NOW)
    with pytest.raises(SignInRateLimited):
        signin_codes.send_code(ctx, sms, "13911112222", "10.9.9.9", NOW)


def test_a_number_nobody_enrolled_gets_the_same_answer_and_no_sms(ctx: Context) -> None:
    sms = Recorder()
    known = signin_codes.send_code(ctx, sms, PHONE, "10.0.0.1", NOW)
    unknown = signin_codes.send_code(ctx, sms, STRANGER, "10.0.0.1", NOW)
    assert known == unknown and [s[0] for s in sms.sent] == [PHONE]
    with pytest.raises(SignInCodeInvalid):
        signin_codes.check_code(ctx, STRANGER, "123456", NOW)
    with pytest.raises(SignInRateLimited):  # the same limits too
        signin_codes.send_code(ctx, sms, STRANGER, "10.0.0.1", NOW + timedelta(seconds=5))


# -- the Aliyun adapter, against a loopback stub of its endpoint ----------------------------------


class _Stub(BaseHTTPRequestHandler):
    answer: ClassVar[dict[str, Any]] = {}
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode()
        query = parse_qs(urlsplit(self.path).query) | parse_qs(body)
        self.seen.append({"headers": dict(self.headers), "query": query})
        out = json.dumps(self.answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def aliyun_stub() -> Iterator[tuple[str, type[_Stub]]]:
    handler = type("Stub", (_Stub,), {"seen": [], "answer": {}})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}", handler
    server.shutdown()
    server.server_close()


def _aliyun(endpoint: str) -> AliyunSms:
    return AliyunSms(
        AliyunSettings("LTAIkeyid", "secret", "积分联盟", "SMS_123", endpoint, protocol="http")
    )


def test_the_aliyun_adapter_sends_send_sms_with_the_code(
    aliyun_stub: tuple[str, type[_Stub]],
) -> None:
    endpoint, stub = aliyun_stub
    stub.answer = {"Code": "OK", "Message": "OK", "RequestId": "r-1", "BizId": "b-1"}
    _aliyun(endpoint).send_code(PHONE, "042917", 5)
    [request] = stub.seen
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["x-acs-action"] == "SendSms" and headers["x-acs-version"] == "2017-05-25"
    assert "LTAIkeyid" in headers["authorization"]  # signed with the access key
    q = request["query"]
    assert q["PhoneNumbers"] == [PHONE] and q["SignName"] == ["积分联盟"]
    assert q["TemplateCode"] == ["SMS_123"]
    assert json.loads(q["TemplateParam"][0]) == {"code": "042917"}


def test_a_refusal_by_aliyun_is_a_clear_error(aliyun_stub: tuple[str, type[_Stub]]) -> None:
    endpoint, stub = aliyun_stub
    stub.answer = {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控", "RequestId": "r"}
    with pytest.raises(SmsFailed) as failed:
        _aliyun(endpoint).send_code(PHONE, "042917", 5)
    assert failed.value.code == "sms.failed"
    assert failed.value.context == {"provider_code": "isv.BUSINESS_LIMIT_CONTROL"}


def test_an_unreachable_aliyun_is_a_clear_error() -> None:
    with pytest.raises(SmsFailed):
        _aliyun("127.0.0.1:9").send_code(PHONE, "042917", 5)


def test_the_credentials_file_is_checked_and_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "sms.json"
    path.write_text(json.dumps({"access_key_id": "LTAI", "access_key_secret": "shh"}))
    with pytest.raises(SmsNotConfigured):
        load_settings(path)
    with pytest.raises(SmsNotConfigured):
        load_settings(tmp_path / "missing.json")
    path.write_text(
        json.dumps({"access_key_id": "LTAI", "access_key_secret": "shh", "sign_name": "积分",
                    "template_code": "SMS_1"})
    )  # fmt: skip
    settings = load_settings(path)
    assert settings.endpoint == "dysmsapi.aliyuncs.com" and "shh" not in repr(settings)


def test_serve_picks_the_sms_sender_by_name_and_refuses_aliyun_without_credentials(
    tmp_path: Path,
) -> None:
    import typer

    from jifen.cli._sms import open_sms

    assert open_sms("none", None) is None and open_sms(None, None) is None
    assert isinstance(open_sms("console", None), ConsoleSms)
    with pytest.raises(typer.BadParameter):
        open_sms("aliyun", None)
    bad = tmp_path / "sms.json"
    bad.write_text("{}")
    with pytest.raises(typer.BadParameter):
        open_sms("aliyun", bad)
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps({"access_key_id": "LTAI", "access_key_secret": "shh", "sign_name": "积分",
                    "template_code": "SMS_1"})
    )  # fmt: skip
    sender = open_sms("aliyun", good)
    assert isinstance(sender, AliyunSms) and sender.name == "aliyun"


def test_a_refused_text_after_the_answer_is_logged_not_raised(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    class Refusing:
        name = "refusing"

        def send_code(self, phone: str, code: str, ttl_minutes: int) -> None:
            raise SmsFailed("refused", provider_code="isv.MOBILE_NUMBER_ILLEGAL")

    _, delivery = signin_codes.request_code(ctx, PHONE, "10.0.0.1", NOW)
    assert delivery.message is not None and delivery.message[1] not in repr(delivery)
    with caplog.at_level(logging.ERROR):
        signin_codes.deliver(Refusing(), delivery)
    assert "isv.MOBILE_NUMBER_ILLEGAL" in caplog.text
    _, nobody = signin_codes.request_code(ctx, STRANGER, "10.0.0.1", NOW)
    assert nobody.message is None
