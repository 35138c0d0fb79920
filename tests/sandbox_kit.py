"""The sandbox provider served for tests: real HTTP on an OS-picked loopback port.

``sandbox()`` copies a state directory made once per session (key generation is the slow part),
starts :class:`SandboxServer` on a frozen clock at ``T0`` and yields a :class:`Kit`: a signing
WeChat client per merchant (``kit.wechat(mchid)``, which verifies every 2xx signature like the
SDK does), the control API (``kit.control``) and shortcuts for the usual steps.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from jifen.sandbox import SandboxServer, authorization, oaep_encrypt, verify_headers
from jifen.sandbox._crypto import load_private, load_public
from loopback_tls import LOOPBACK_TLS

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 China time, a Monday
SP, OPERATOR, RESERVE, SHOP_A, SHOP_B = (
    "1900000001",
    "1900000002",
    "1900000003",
    "1900000101",
    "1900000102",
)
NAMES = {
    OPERATOR: "积分联盟运营管理有限公司",
    RESERVE: "积分联盟积分备付金存管账户",
    SHOP_A: "示例餐饮管理有限公司",
}
WAIT_S = 10.0
_TEMPLATE: dict[str, Path] = {}


def template_dir(tmp_factory: Any) -> Path:
    """A state directory with keys and the default alliance, made once per session."""
    if "dir" not in _TEMPLATE:
        path = tmp_factory.mktemp("sandbox-template")
        server = SandboxServer(path, start=T0)
        server.engine.save_if_dirty()
        _TEMPLATE["dir"] = path
    return _TEMPLATE["dir"]


class WeChat(httpx.Client):
    """Signs each request as ``mchid`` and checks each 2xx answer's platform signature."""

    def __init__(self, base_url: str, credentials: dict[str, Any], mchid: str) -> None:
        super().__init__(base_url=base_url, timeout=30, trust_env=False, verify=LOOPBACK_TLS)
        merchant = next(m for m in credentials["merchants"] if m["mchid"] == mchid)
        self.mchid, self.serial = mchid, merchant["cert_serial_no"]
        self.key = load_private(Path(merchant["private_key_file"]).read_bytes())
        self.platform = load_public(Path(credentials["public_key_file"]).read_bytes())
        self.public_key_id = credentials["public_key_id"]
        self.skew_s = 0

    def call(self, method: str, url: str, body: Any = None, **headers: str) -> httpx.Response:
        content = b"" if body is None else json.dumps(body).encode()
        auth = authorization(
            self.key,
            mchid=self.mchid,
            serial_no=self.serial,
            method=method,
            url=url,
            body=content,
            timestamp=int(time.time()) + self.skew_s,
        )
        headers = {"Authorization": auth, "Content-Type": "application/json", **headers}
        response = self.request(method, url, content=content or None, headers=headers)
        is_file = response.headers.get("content-type") == "application/octet-stream"
        if response.is_success and not is_file:
            assert verify_headers(self.platform, dict(response.headers), response.content)
            assert response.headers["Wechatpay-Serial"] == self.public_key_id
        return response

    def post(self, url: str, body: Any = None, **headers: str) -> httpx.Response:  # type: ignore[override]
        return self.call("POST", url, body, **headers)

    def get(self, url: str, **headers: str) -> httpx.Response:  # type: ignore[override]
        return self.call("GET", url, None, **headers)

    def encrypt(self, text: str) -> str:
        return oaep_encrypt(self.platform, text)


@dataclass
class Kit:
    server: SandboxServer
    credentials: dict[str, Any]
    control: httpx.Client
    clients: dict[str, WeChat] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def wechat(self, mchid: str = SP) -> WeChat:
        if mchid not in self.clients:
            self.clients[mchid] = WeChat(self.base_url, self.credentials, mchid)
        return self.clients[mchid]

    def ok(self, response: httpx.Response) -> Any:
        assert response.is_success, (response.status_code, response.text)
        return response.json() if response.content else None

    def advance(self, seconds: float) -> None:
        self.ok(self.control.post("/sandbox/clock/advance", json={"seconds": seconds}))

    def faults(self, **switches: Any) -> None:
        self.ok(self.control.put("/sandbox/faults", json=switches))

    def balances(self) -> dict[str, int]:
        result: dict[str, int] = self.ok(self.control.get("/sandbox/balances"))
        return result

    def ledger(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.ok(self.control.get("/sandbox/ledger"))["movements"]
        return rows

    def add_receiver(self, account: str, *, payer: str = SHOP_A, **extra: Any) -> httpx.Response:
        sp = self.wechat(SP)
        body = {"sub_mchid": payer, "appid": "wx0000000000000001", "type": "MERCHANT_ID"}
        body |= {"account": account, "relation_type": "PARTNER"}
        if account in NAMES:
            body["name"] = sp.encrypt(NAMES[account])
        body |= extra
        return sp.post(
            "/v3/profitsharing/receivers/add", body, **{"Wechatpay-Serial": sp.public_key_id}
        )

    def paid(
        self,
        out_trade_no: str,
        total_fen: int,
        *,
        payer: str = SHOP_A,
        split: bool = True,
        notify_url: str = "http://127.0.0.1:9/notify",
    ) -> str:
        """A JSAPI order created by the SP for ``payer`` and paid by the customer."""
        body = {
            "sp_appid": "wx0000000000000001",
            "sp_mchid": SP,
            "sub_mchid": payer,
            "description": "测试商品",
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": {"total": total_fen, "currency": "CNY"},
            "payer": {"sp_openid": "oCustomer0001"},
            "settle_info": {"profit_sharing": split},
        }
        self.ok(self.wechat(SP).post("/v3/pay/partner/transactions/jsapi", body))
        paid = self.ok(self.control.post("/sandbox/pay", json={"out_trade_no": out_trade_no}))
        transaction_id: str = paid["transaction_id"]
        return transaction_id

    def split(
        self,
        transaction_id: str,
        out_order_no: str,
        receivers: list[tuple[str, int]],
        *,
        payer: str = SHOP_A,
        unfreeze_unsplit: bool = False,
    ) -> httpx.Response:
        body = {
            "sub_mchid": payer,
            "transaction_id": transaction_id,
            "out_order_no": out_order_no,
            "receivers": [
                {"type": "MERCHANT_ID", "account": a, "amount": f, "description": "分账"}
                for a, f in receivers
            ],
            "unfreeze_unsplit": unfreeze_unsplit,
        }
        return self.wechat(SP).post("/v3/profitsharing/orders", body)

    def notifications(self, event_type: str | None = None) -> list[dict[str, Any]]:
        params = {"event_type": event_type} if event_type else {}
        found: list[dict[str, Any]] = self.ok(
            self.control.get("/sandbox/notifications", params=params)
        )["notifications"]
        return found

    def wait_for(self, condition: Callable[[], Any], timeout_s: float = WAIT_S) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError("the sandbox did not get there in time")


@contextmanager
def sandbox(tmp_path: Path, tmp_factory: Any) -> Iterator[Kit]:
    state_dir = tmp_path / "sandbox"
    shutil.copytree(template_dir(tmp_factory), state_dir)
    with SandboxServer(state_dir) as server:
        credentials = json.loads((state_dir / "credentials.json").read_text(encoding="utf-8"))
        with httpx.Client(
            base_url=server.base_url, timeout=30, trust_env=False, verify=LOOPBACK_TLS
        ) as control:
            kit = Kit(server, credentials, control)
            try:
                yield kit
            finally:
                for client in kit.clients.values():
                    client.close()


class Receiver:
    """A callback receiver on loopback: records what it gets, answers ``statuses`` in turn."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.append((dict(self.headers.items()), body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=WAIT_S)
