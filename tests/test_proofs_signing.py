"""Checkpoint signatures (issue 15): the operator's key signs a checkpoint's canonical bytes, and
the signature is checkable by anyone — through jifen.proofs.signing, through the standalone
tools/verify_proof.py, and through OpenSSL 3's command line, which shows the encodings are the
standard ones (Ed25519; SM2 with SM3 and GB/T 32918's default user id 1234567812345678)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jifen.app import Secrets
from jifen.proofs.errors import SignatureInvalid, SignatureUnchecked, SigningKeyInvalid
from jifen.proofs.signing import (
    ALGORITHMS,
    SigningKey,
    canonical,
    generate_key_file,
    key_file_from_env,
    load_signing_key,
    signature_record,
    verify_signature,
)
from jifen.transparency import SumTree, leaf_salt

TOOL = Path(__file__).resolve().parents[1] / "tools" / "verify_proof.py"
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="no openssl command")
# SubjectPublicKeyInfo prefixes: id-Ed25519; id-ecPublicKey with the SM2 curve (1.2.156.10197.1.301)
SPKI_PREFIX = {
    "ed25519": "302a300506032b6570032100",
    "sm2": "3059301306072a8648ce3d020106082a811ccf5501822d034200",
}
DOCUMENT: dict[str, Any] = {
    "snapshot": {"root": "ab" * 32, "total": 12345},
    "lanes": {"0": "cd" * 32},
    "operator": "积分联盟",
}


def _key(algorithm: str, tmp_path: Path) -> SigningKey:
    return generate_key_file(tmp_path / f"{algorithm}.pem", algorithm)


def test_canonical_is_sorted_compact_utf8_json() -> None:
    expected = json.dumps(DOCUMENT, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical(DOCUMENT) == expected.encode()


def test_the_derived_key_is_stable_per_secret_and_differs_across_secrets() -> None:
    one = load_signing_key(Secrets(b"secret-one"), None)
    assert one.algorithm == "ed25519" and len(bytes.fromhex(one.public_key)) == 32
    assert load_signing_key(Secrets(b"secret-one"), None) == one
    assert load_signing_key(Secrets(b"secret-two"), None).public_key != one.public_key
    assert one.key_id == hashlib.sha256(bytes.fromhex(one.public_key)).hexdigest()[:16]
    assert len(Secrets(b"secret-one").checkpoint_signing_seed()) == 32


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_signature_verifies_and_a_changed_document_does_not(
    algorithm: str, tmp_path: Path
) -> None:
    key = _key(algorithm, tmp_path)
    record = signature_record(key, DOCUMENT)
    assert set(record) == {"algorithm", "key_id", "public_key", "value"}
    assert record["algorithm"] == algorithm and record["key_id"] == key.key_id
    verify_signature(DOCUMENT, record)
    changed = {**DOCUMENT, "snapshot": {**DOCUMENT["snapshot"], "total": 12346}}
    with pytest.raises(SignatureInvalid):
        verify_signature(changed, record)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_swapped_key_a_wrong_key_id_or_garbage_is_invalid(algorithm: str, tmp_path: Path) -> None:
    record = signature_record(_key(algorithm, tmp_path), DOCUMENT)
    other = generate_key_file(tmp_path / "other.pem", algorithm)
    swapped = {**record, "public_key": other.public_key}
    borrowed = {**swapped, "key_id": other.key_id}  # consistent id, but not the signer's key
    wrong_id = {**record, "key_id": "0" * 16}
    garbage = {**record, "value": "zz" + record["value"][2:]}
    short = {**record, "value": record["value"][:-2]}
    noise = {**record, "value": "5a" * 70}
    unknown = {**record, "algorithm": "rsa"}
    missing = {k: v for k, v in record.items() if k != "value"}
    for bad in (swapped, borrowed, wrong_id, garbage, short, noise, unknown, missing, {}):
        with pytest.raises(SignatureInvalid):
            verify_signature(DOCUMENT, bad)


def test_a_compressed_sm2_point_is_refused(tmp_path: Path) -> None:
    record = signature_record(_key("sm2", tmp_path), DOCUMENT)
    point = bytes.fromhex(record["public_key"])
    compressed = bytes([2 + point[-1] % 2]) + point[1:33]
    key_id = hashlib.sha256(compressed).hexdigest()[:16]
    with pytest.raises(SignatureInvalid, match="uncompressed"):
        verify_signature(DOCUMENT, {**record, "public_key": compressed.hex(), "key_id": key_id})


def test_without_tongsuopy_an_sm2_signature_is_unchecked_not_passed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = signature_record(_key("sm2", tmp_path), DOCUMENT)
    for name in [name for name in sys.modules if name.split(".")[0] == "tongsuopy"]:
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "tongsuopy", None)  # type: ignore[arg-type]
    with pytest.raises(SignatureUnchecked, match="tongsuopy"):
        verify_signature(DOCUMENT, record)
    with pytest.raises(SigningKeyInvalid, match=r"jifen\[sm2\]"):
        load_signing_key(Secrets(b"s"), str(tmp_path / "sm2.pem"))
    with pytest.raises(SigningKeyInvalid, match=r"jifen\[sm2\]"):
        generate_key_file(tmp_path / "new.pem", "sm2")
    verify_signature(DOCUMENT, signature_record(load_signing_key(Secrets(b"s"), None), DOCUMENT))


def _openssl_verifies(
    tmp_path: Path, record: dict[str, str], message: bytes, *options: str
) -> bool:
    """``openssl pkeyutl -verify -rawin`` over a public key PEM built here from the record's hex
    by hand (the standard SubjectPublicKeyInfo prefix and the key's bytes), not by a library."""
    der = bytes.fromhex(SPKI_PREFIX[record["algorithm"]] + record["public_key"])
    pem = b"-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END PUBLIC KEY-----\n"
    (tmp_path / "pub.pem").write_bytes(pem)
    (tmp_path / "msg").write_bytes(message)
    (tmp_path / "sig").write_bytes(bytes.fromhex(record["value"]))
    result = subprocess.run(
        [str(OPENSSL), "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin",
         *options, "-in", "msg", "-sigfile", "sig"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return result.returncode == 0 and "Verified Successfully" in result.stdout


SM2_OPTIONS = ("-digest", "sm3", "-pkeyopt", "distid:1234567812345678")


@needs_openssl
@pytest.mark.parametrize(
    ("algorithm", "options"), [("ed25519", ()), ("sm2", SM2_OPTIONS)], ids=ALGORITHMS
)
def test_openssl_verifies_the_signature_with_the_standard_encodings(
    algorithm: str, options: tuple[str, ...], tmp_path: Path
) -> None:
    record = signature_record(_key(algorithm, tmp_path), DOCUMENT)
    assert _openssl_verifies(tmp_path, record, canonical(DOCUMENT), *options)
    assert not _openssl_verifies(
        tmp_path, record, canonical({**DOCUMENT, "operator": ""}), *options
    )
    if algorithm == "sm2":  # the user id is part of what SM2 signs: the default one, no other
        wrong_id = ("-digest", "sm3", "-pkeyopt", "distid:1234567812345679")
        assert not _openssl_verifies(tmp_path, record, canonical(DOCUMENT), *wrong_id)


@needs_openssl
@pytest.mark.parametrize("algorithm", ["ED25519", "SM2"])
def test_a_key_file_made_by_openssl_loads_and_signs(algorithm: str, tmp_path: Path) -> None:
    path = tmp_path / "openssl.pem"
    subprocess.run([str(OPENSSL), "genpkey", "-algorithm", algorithm, "-out", str(path)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    key = load_signing_key(Secrets(b"s"), str(path))
    assert key.algorithm == algorithm.lower()
    verify_signature(DOCUMENT, signature_record(key, DOCUMENT))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_generated_key_file_is_private_never_overwritten_and_loads_as_the_same_key(
    algorithm: str, tmp_path: Path
) -> None:
    path = tmp_path / "checkpoint.pem"
    key = generate_key_file(path, algorithm)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert load_signing_key(Secrets(b"s"), str(path)) == key
    before = path.read_bytes()
    with pytest.raises(SigningKeyInvalid, match="never overwritten"):
        generate_key_file(path, algorithm)
    assert path.read_bytes() == before


def test_a_key_never_shows_its_private_half() -> None:
    key = load_signing_key(Secrets(b"s"), None)
    assert "private" not in repr(key) and key.public_key in repr(key)


def test_an_unknown_algorithm_is_not_generated(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyInvalid, match="rsa"):
        generate_key_file(tmp_path / "k.pem", "rsa")
    assert not (tmp_path / "k.pem").exists()


def _pkcs8(key: Any, encryption: Any = None) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            encryption or serialization.NoEncryption(),
        )
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot be read"),
        (b"not a key\n", "is not a PKCS#8 PEM private key"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "cannot be parsed"),
        (
            _pkcs8(Ed25519PrivateKey.generate(), serialization.BestAvailableEncryption(b"pw")),
            "is encrypted",
        ),
        (_pkcs8(ec.generate_private_key(ec.SECP256R1())), "neither an Ed25519 nor an SM2"),
    ],
    ids=["missing", "not-pem", "garbage", "encrypted", "p256"],
)
def test_a_bad_key_file_is_refused_in_one_line_naming_the_file(
    content: bytes | None, words: str, tmp_path: Path
) -> None:
    path = tmp_path / "key.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SigningKeyInvalid) as caught:
        load_signing_key(Secrets(b"s"), str(path))
    message = caught.value.message
    assert words in message and "\n" not in message
    assert message.count(str(path)) == 2 and "签名密钥文件" in message
    assert caught.value.status == 500 and caught.value.code == "checkpoint.signing_key_invalid"


def test_the_key_file_comes_from_jifen_signing_key() -> None:
    assert key_file_from_env({"JIFEN_SIGNING_KEY": "/etc/jifen/signing.pem"}) == (
        "/etc/jifen/signing.pem"
    )
    assert key_file_from_env({}) is None and key_file_from_env({"JIFEN_SIGNING_KEY": ""}) is None


def _proof_file(tmp_path: Path, key: SigningKey, **changes: Any) -> Path:
    """A downloaded proof file: a member's proof, the checkpoint that signs its root and total."""
    balances = {f"m{i:03d}": i * 37 for i in range(50)}
    tree = SumTree([(m, b, leaf_salt(b"k" * 32, "s1", m)) for m, b in balances.items()])
    root, total = tree.root
    checkpoint = {"snapshot": {"root": root.hex(), "total": total}, "lanes": {"0": "ef" * 32}}
    document = {
        "format": "jifen-liability-proof/1",
        "proof": tree.proof("m007", leaf_salt(b"k" * 32, "s1", "m007")).as_dict(),
        "checkpoint": checkpoint,
        "signature": signature_record(key, checkpoint),
    } | changes
    path = tmp_path / f"proof-{key.algorithm}.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def _tool(path: Path, *flags: str, isolated: bool = False) -> subprocess.CompletedProcess[str]:
    python = [sys.executable, "-I", "-S"] if isolated else [sys.executable]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([*python, str(TOOL), str(path), *flags], capture_output=True,
                          text=True, timeout=60, env=env)  # fmt: skip


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_standalone_verifier_checks_the_checkpoint_signature(
    algorithm: str, tmp_path: Path
) -> None:
    key = _key(algorithm, tmp_path)
    valid = _tool(_proof_file(tmp_path, key))
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "included" in valid.stdout and f"signature: valid ({algorithm}" in valid.stdout
    assert key.key_id in valid.stdout and "signed checkpoint" in valid.stdout
    document = json.loads(_proof_file(tmp_path, key).read_text(encoding="utf-8"))
    forged = document["checkpoint"] | {"lanes": {"0": "00" * 32}}
    invalid = _tool(_proof_file(tmp_path, key, checkpoint=forged))
    assert invalid.returncode == 1 and "signature: INVALID" in invalid.stdout
    unchecked = _tool(_proof_file(tmp_path, key), isolated=True)  # neither library importable
    assert unchecked.returncode == 0, unchecked.stdout + unchecked.stderr
    assert "signature NOT CHECKED" in unchecked.stdout and "not installed" in unchecked.stdout


def test_the_verifier_takes_root_and_total_from_the_checkpoint_and_holds_the_proof_to_them(
    tmp_path: Path,
) -> None:
    key = load_signing_key(Secrets(b"s"), None)
    document = json.loads(_proof_file(tmp_path, key).read_text(encoding="utf-8"))
    snapshot = document["checkpoint"]["snapshot"]
    root, total = snapshot["root"], snapshot["total"]
    given = _tool(_proof_file(tmp_path, key), "--root", root, "--total", str(total))
    assert given.returncode == 0 and "signed checkpoint" not in given.stdout
    other_total = _tool(_proof_file(tmp_path, key), "--total", str(total + 1), isolated=True)
    assert other_total.returncode == 1 and "NOT included" in other_total.stdout
    # a proof of another tree, under a checkpoint that signs this one: never included
    lying = document["proof"] | {"root": {"hash": "00" * 32, "sum": total}}
    mismatch = _tool(_proof_file(tmp_path, key, proof=lying), isolated=True)
    assert mismatch.returncode == 1 and "not the checkpoint's" in mismatch.stdout
    old_shape = _tool(_proof_file(tmp_path, key, format="jifen-liability-proof/0"))
    assert old_shape.returncode == 2 and "jifen-liability-proof/1" in old_shape.stderr
