"""The state directory: keys, ``credentials.json`` and ``state.json``.

Layout of ``DIR``::

    keys/wechatpay_private_key.pem   the sandbox's platform key (its own secret, never a client's)
    keys/wechatpay_public_key.pem    the platform public key clients verify responses with
    keys/<mchid>_apiclient_key.pem   each API merchant's private key (clients sign with it)
    credentials.json                 everything a client needs, rewritten on every start
    state.json                       the whole sandbox state, saved after changes

A first start creates the keys and a default alliance (:func:`seed`); later starts reuse them, so
a client configured once keeps working. Files holding secrets are written ``0600``.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jifen.sandbox._crypto import load_private, new_private_key, private_pem, public_pem
from jifen.sandbox._state import Merchant, MerchantKind, MerchantRole, SandboxState
from jifen.sandbox.errors import StateInvalid

PLATFORM_PRIVATE = "keys/wechatpay_private_key.pem"
PLATFORM_PUBLIC = "keys/wechatpay_public_key.pem"
_ALNUM = string.ascii_letters + string.digits

# The default alliance of a fresh sandbox: the platform's service-provider account (it calls
# the API for its sub-merchants and holds no money), the operator's own fee account and the points
# reserve (both MERCHANT_ID receivers), and two sub-merchants that take customers' payments.
DEFAULT_MERCHANTS: tuple[tuple[str, str, MerchantKind, MerchantRole], ...] = (
    ("1900000001", "积分联盟科技有限公司", "service_provider", "platform"),
    ("1900000002", "积分联盟运营管理有限公司", "direct", "operator"),
    ("1900000003", "积分联盟积分备付金存管账户", "direct", "reserve"),
    ("1900000101", "示例餐饮管理有限公司", "sub_merchant", "merchant"),
    ("1900000102", "示例零售连锁有限公司", "sub_merchant", "merchant"),
)
PLATFORM_MCHID = "1900000001"


def _write_secret(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _atomic_write(path: Path, text: str, *, secret: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if secret:
        _write_secret(tmp, text.encode())
    else:
        tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class StateDir:
    def __init__(self, path: Path) -> None:
        self.path = path.resolve()

    def _file(self, name: str) -> Path:
        return self.path / name

    def platform_key(self) -> tuple[bytes, str]:
        """The platform private key PEM (created on first use) and its public-key id."""
        private = self._file(PLATFORM_PRIVATE)
        if not private.exists():
            key = new_private_key()
            _write_secret(private, private_pem(key))
            self._file(PLATFORM_PUBLIC).write_bytes(public_pem(key.public_key()))
        pem = private.read_bytes()
        try:
            load_private(pem)
        except ValueError as exc:
            raise StateInvalid(f"平台私钥不可读 / unreadable platform key {private}") from exc
        digits = "".join(str(b % 10) for b in pem[-60:-32])
        return pem, f"PUB_KEY_ID_01{digits}"

    def api_keys(self, mchid: str) -> dict[str, str]:
        """A new API identity for ``mchid``: key file, certificate serial, APIv3 key."""
        key = new_private_key()
        key_file = self._file(f"keys/{mchid}_apiclient_key.pem")
        _write_secret(key_file, private_pem(key))
        return {
            "private_key_file": str(key_file),
            "public_key_pem": public_pem(key.public_key()).decode(),
            "cert_serial_no": secrets.token_hex(20).upper(),
            "apiv3_key": "".join(secrets.choice(_ALNUM) for _ in range(32)),
        }

    def load(self, start: datetime, public_key_id: str) -> SandboxState:
        """The saved state, or a freshly seeded one on a first start."""
        saved = self._file("state.json")
        if not saved.exists():
            state = SandboxState(clock_now=start, platform_public_key_id=public_key_id)
            for mchid, name, kind, role in DEFAULT_MERCHANTS:
                self.add_merchant(state, mchid=mchid, name=name, kind=kind, role=role)
            return state
        try:
            state = SandboxState.model_validate_json(saved.read_text(encoding="utf-8"))
        except (ValidationError, ValueError) as exc:
            raise StateInvalid(f"state.json 已损坏 / {saved} is not a sandbox state") from exc
        state.platform_public_key_id = public_key_id
        for merchant in state.merchants.values():  # the directory may have been moved or copied
            if merchant.private_key_file is not None:
                key_file = self._file(f"keys/{merchant.mchid}_apiclient_key.pem")
                merchant.private_key_file = str(key_file)
        return state

    def add_merchant(
        self,
        state: SandboxState,
        *,
        mchid: str,
        name: str,
        kind: MerchantKind,
        role: MerchantRole,
        sp_mchid: str | None = None,
    ) -> Merchant:
        if kind == "sub_merchant" and sp_mchid is None:
            sp_mchid = next(
                (m.mchid for m in state.merchants.values() if m.kind == "service_provider"), None
            )
        keys: dict[str, Any] = self.api_keys(mchid) if kind != "sub_merchant" else {}
        merchant = Merchant(
            mchid=mchid, name=name, kind=kind, role=role, sp_mchid=sp_mchid,
            appid="wx" + secrets.token_hex(8),
            controller_mchid=PLATFORM_MCHID if role == "reserve" else None,
            **keys,
        )  # fmt: skip
        state.merchants[mchid] = merchant
        return merchant

    def save(self, state: SandboxState) -> None:
        _atomic_write(self._file("state.json"), state.model_dump_json(), secret=True)

    def credentials(self, state: SandboxState, base_url: str) -> dict[str, Any]:
        return credentials_of(state, base_url, str(self._file(PLATFORM_PUBLIC)))

    def write_credentials(self, state: SandboxState, base_url: str) -> dict[str, Any]:
        credentials = self.credentials(state, base_url)
        text = json.dumps(credentials, ensure_ascii=False, indent=2) + "\n"
        _atomic_write(self._file("credentials.json"), text, secret=True)
        return credentials


def credentials_of(state: SandboxState, base_url: str, public_key_file: str) -> dict[str, Any]:
    """What a client needs: the platform SP's identity at the top (what ``WeChatPay(…)`` takes),
    every merchant below it, and which merchant plays which part."""
    merchants = [
        {
            "mchid": m.mchid, "name": m.name, "kind": m.kind, "role": m.role,
            "sp_mchid": m.sp_mchid, "appid": m.appid, "private_key_file": m.private_key_file,
            "cert_serial_no": m.cert_serial_no, "apiv3_key": m.apiv3_key,
        }
        for m in state.merchants.values()
    ]  # fmt: skip
    platform = state.merchants.get(PLATFORM_MCHID) or next(
        (m for m in state.merchants.values() if m.kind == "service_provider"), None
    )
    roles: dict[str, list[str]] = {}
    for m in state.merchants.values():
        roles.setdefault(m.role, []).append(m.mchid)
    return {
        "provider": "wechatpay-v3-sandbox",
        "base_url": base_url,
        "control_url": f"{base_url}/sandbox",
        "mchid": platform.mchid if platform else None,
        "appid": platform.appid if platform else None,
        "private_key_file": platform.private_key_file if platform else None,
        "cert_serial_no": platform.cert_serial_no if platform else None,
        "apiv3_key": platform.apiv3_key if platform else None,
        "public_key_id": state.platform_public_key_id,
        "public_key_file": public_key_file,
        "roles": roles,
        "merchants": merchants,
    }
