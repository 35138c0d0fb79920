"""``jifen audit …``: proofs anyone can check (issue 15, docs/transparency.md) — take a liability
snapshot and sign its checkpoint, read the feed, keep a checkpoint, check a member's proof or a
kept checkpoint, and (``export``/``verify``) the auditor's export."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated

import typer

from jifen.cli._options import DbOption
from jifen.cli._output import data, json_text, out, say, yuan
from jifen.store import require_existing

__all__ = ["audit_app"]

audit_app = typer.Typer(help="负债证明与审计 proof of liabilities, checkpoints, auditor's export.")

JsonOption = Annotated[bool, typer.Option("--json", help="JSON, for scripts")]


@audit_app.command("snapshot")
def snapshot(
    key: Annotated[
        str | None, typer.Option(help="idempotency key: the same key, the same checkpoint")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """负债快照 take a liability snapshot now and sign its checkpoint."""
    from jifen.app import open_alliance
    from jifen.proofs import take_checkpoint

    ctx = open_alliance(require_existing(db))
    try:
        made = take_checkpoint(ctx, idem_key=key or f"cli-{uuid.uuid4().hex}")
    finally:
        ctx.engine.dispose()
    if as_json:
        out.print(json_text(made.published(), indent=2), markup=False)
        return
    _describe(made.document, made.signature)


def _describe(document: dict[str, object], signature: dict[str, object]) -> None:
    snap = document["snapshot"]
    assert isinstance(snap, dict)
    say(out, f"检查点 checkpoint {document['seq']} · ", data(document["taken_at"]))
    say(
        out, f"  会员 members {snap['members']:,} · 未使用积分 outstanding {snap['total']:,} points"
    )
    say(
        out,
        f"  备付金 reserve {yuan(snap['reserve_fen'])} · 积分价值 liability "
        f"{yuan(snap['liability_fen'])}",
    )
    say(out, "  root ", data(snap["root"]))
    say(out, f"  {signature.get('algorithm')} key ", data(signature.get("key_id")))


@audit_app.command("checkpoints")
def checkpoints(
    limit: Annotated[int, typer.Option(min=1, max=100, help="how many, newest last")] = 20,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """检查点 the feed of signed checkpoints (the latest ``--limit``)."""
    from jifen.app import open_alliance
    from jifen.proofs import latest_checkpoint, list_checkpoints

    ctx = open_alliance(require_existing(db))
    try:
        latest = latest_checkpoint(ctx)
        first = 0 if latest is None else max(0, latest.seq - limit)
        from jifen.app.paging import encode_cursor

        cursor = encode_cursor([first]) if first else None
        items = list_checkpoints(ctx, cursor=cursor, limit=limit).items
    finally:
        ctx.engine.dispose()
    if as_json:
        out.print(json_text([c.published() for c in items], indent=2), markup=False)
        return
    if not items:
        out.print("尚无检查点 / no checkpoint yet (jifen audit snapshot, or the daily jobs)")
    for c in items:
        snap = c.document["snapshot"]
        say(
            out,
            f"{c.seq:>6}  ",
            data(c.document["taken_at"]),
            f"  {snap['members']:>9,} members  {snap['total']:>14,} points  ",
            data(snap["root"][:16] + "…"),
        )


@audit_app.command("checkpoint")
def checkpoint(
    seq: Annotated[str, typer.Argument(help="the checkpoint's number, or 'latest'")] = "latest",
    output: Annotated[
        Path | None, typer.Option("--out", help="write it to this file to keep it")
    ] = None,
    db: DbOption = None,
) -> None:
    """保存检查点 one signed checkpoint as published, to keep and compare later."""
    from jifen.app import open_alliance
    from jifen.proofs import get_checkpoint, latest_checkpoint

    ctx = open_alliance(require_existing(db))
    try:
        found = latest_checkpoint(ctx) if seq == "latest" else get_checkpoint(ctx, _number(seq))
    finally:
        ctx.engine.dispose()
    if found is None:
        out.print("尚无检查点 / no checkpoint yet")
        raise typer.Exit(1)
    text = json.dumps(found.published(), indent=2, sort_keys=True) + "\n"
    if output is None:
        out.print(text, markup=False, end="")
    else:
        output.write_text(text, encoding="utf-8")
        say(out, f"检查点 checkpoint {found.seq} → ", data(output))


def _number(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise typer.BadParameter("a checkpoint number (1, 2, …) or 'latest'")
    return int(text)


@audit_app.command("check-proof")
def check_proof(
    proof_file: Annotated[Path, typer.Argument(help="the proof a member downloaded")],
    root: Annotated[str | None, typer.Option(help="the published root (hex)")] = None,
    total: Annotated[int | None, typer.Option(help="the published total of points")] = None,
    kept: Annotated[
        Path | None, typer.Option("--checkpoint", help="a checkpoint file kept earlier")
    ] = None,
    public_key: Annotated[
        str | None, typer.Option(help="the operator's public key (hex), to pin it")
    ] = None,
) -> None:
    """校验证明 check that a member's balance is counted in a published, signed total.

    Needs no store and no network: copy --root and --total from the public page, or give a
    checkpoint you kept. Exit 0 only if the proof leads to them and the signature holds."""
    from jifen.proofs.checking import check_proof as check
    from jifen.proofs.checking import read_json

    verdict = check(
        read_json(proof_file),
        root=root,
        total=total,
        kept=read_json(kept) if kept else None,
        public_key=public_key,
    )
    if verdict.included is None:
        say(
            out,
            ("✔ ", "green"),
            f"已包含 included: {verdict.balance:,} points of ",
            data(verdict.member_id),
            f" are counted in checkpoint {verdict.seq}'s total {verdict.total:,}",
        )
    else:
        say(out, ("✘ ", "red"), "未包含 NOT included: ", data(verdict.included))
    say(out, "签名 signature: ", data(verdict.signature), " · key ", data(verdict.key_id))
    if root is None and kept is None:
        out.print(
            "注意：根哈希与总额取自文件中的检查点，请与公示值核对 / note: root and total were "
            "taken from the file's own checkpoint; compare them with the published ones"
        )
    if not verdict.ok:
        raise typer.Exit(1)


@audit_app.command("check-checkpoint")
def check_checkpoint(
    kept: Annotated[Path, typer.Argument(help="a checkpoint file kept earlier")],
    db: DbOption = None,
) -> None:
    """对照检查点 compare the journal as it is now with a checkpoint kept earlier.

    Exit 1 if any lane's block at the signed height is missing or different: history was
    rewritten after the checkpoint was signed, even if every later hash was recomputed."""
    from jifen.app import open_alliance
    from jifen.proofs import compare_with_journal
    from jifen.proofs.checking import read_json, signature_state, signed_checkpoint

    document, signature = signed_checkpoint(read_json(kept))
    state = signature_state(document, signature, None)
    ctx = open_alliance(require_existing(db))
    try:
        found = compare_with_journal(ctx, document)
    finally:
        ctx.engine.dispose()
    say(out, f"检查点 checkpoint {document['seq']} · 签名 signature: ", data(state))
    for line in found:
        say(out, ("✘ ", "red"), data(line))
    if not found:
        say(
            out,
            ("✔ ", "green"),
            f"账本与检查点一致 the journal agrees with all {len(document['lanes'])} lanes",
        )
    if found or state != "valid":
        raise typer.Exit(1)


@audit_app.command("check-feed")
def check_feed(db: DbOption = None) -> None:
    """检查点链 check every stored checkpoint: signed, chained, agreeing with the journal."""
    from jifen.app import open_alliance
    from jifen.proofs import check_feed as check

    ctx = open_alliance(require_existing(db))
    try:
        problems = check(ctx)
    finally:
        ctx.engine.dispose()
    for line in problems:
        say(out, ("✘ ", "red"), data(line))
    if problems:
        raise typer.Exit(1)
    say(out, ("✔ ", "green"), "所有检查点有效 every checkpoint is signed, chained and agrees")


@audit_app.command("keygen")
def keygen(
    output: Annotated[Path, typer.Option("--out", help="the new key file (PKCS#8 PEM, 0600)")],
    algorithm: Annotated[str, typer.Option(help="ed25519 (default) or sm2 (国密)")] = "ed25519",
) -> None:
    """签名密钥 make a new signing key file; point JIFEN_SIGNING_KEY at it to sign with it."""
    from jifen.proofs.signing import generate_key_file

    key = generate_key_file(output, algorithm)
    say(out, f"{key.algorithm} key ", data(key.key_id), " → ", data(output))
    say(out, "公钥 public key (publish it) ", data(key.public_key))


@audit_app.command("export")
def export(
    until: Annotated[
        str, typer.Option(help="the checkpoint whose blocks to export: its number, or 'latest'")
    ],
    output: Annotated[Path, typer.Option("--out", help="a new or empty folder")],
    db: DbOption = None,
) -> None:
    """审计导出 the journal up to a signed checkpoint, its snapshot, and a Beancount ledger."""
    from jifen.app import open_alliance
    from jifen.proofs.auditor import export_checkpoint

    ctx = open_alliance(require_existing(db))
    try:
        found, manifest = export_checkpoint(
            ctx, None if until == "latest" else _number(until), output
        )
    finally:
        ctx.engine.dispose()
    say(
        out,
        f"检查点 checkpoint {found.seq}: {len(manifest.until)} lanes, "
        f"{len(manifest.files)} files → ",
        data(output),
    )
    out.print("校验 check it with: jifen audit verify DIR · bean-check DIR/ledger.beancount")


@audit_app.command("verify")
def verify_export(
    folder: Annotated[Path, typer.Argument(help="an export folder (jifen audit export)")],
) -> None:
    """校验导出 re-derive balances, the chain and the snapshot from an export's files alone."""
    from jifen.proofs.auditor import verify_checkpoint_export

    report = verify_checkpoint_export(folder)
    for f in report.findings:
        say(out, ("✘ ", "red"), data(f.code), " ", data(f.message))
    if not report.ok or report.books is None:
        raise typer.Exit(1)
    books = report.books
    say(
        out,
        ("✔ ", "green"),
        f"导出校验通过 export verified: {books.blocks:,} blocks, {books.entries:,} entries, "
        f"outstanding {books.totals.get('outstanding', 0):,} points = the signed snapshot",
    )
