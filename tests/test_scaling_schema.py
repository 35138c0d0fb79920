"""The distribution plan (``jifen.store.distribution``, explained in docs/scaling.md) holds for the
schema the migrations build: every table is placed, and the Citus rules hold for every key, or the
breach is one the page names with the change it needs.

The rules (Citus documentation, "Creating and Modifying Distributed Objects (DDL)"): a distributed
table's primary key and unique constraints must include its distribution column; foreign keys go
between co-located distributed tables (including the distribution column), from a distributed to a
reference table, or between local tables, never from a reference table to a distributed one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    inspect,
)
from sqlalchemy.engine.reflection import Inspector

from jifen.store import make_engine, migrate
from jifen.store.distribution import (
    CHANGES,
    PLAN,
    Distributed,
    Local,
    Placement,
    Reference,
    citus_ddl,
)

PAGE = Path(__file__).parent.parent / "docs" / "scaling.md"
UPDATE = "update PLAN in src/jifen/store/distribution.py and its tables in docs/scaling.md"


@dataclass(frozen=True, order=True)
class Breach:
    table: str
    subject: str  # what breaks the rule, as CHANGES and the page name it
    rule: str


def _cols(columns: list[Any]) -> str:
    return ", ".join(str(c) for c in columns)


def _kind(placement: Placement) -> str:
    return {Distributed: "distributed", Reference: "reference", Local: "local"}[type(placement)]


def unplanned(inspector: Inspector, plan: dict[str, Placement]) -> tuple[set[str], set[str]]:
    """(tables the schema has and the plan does not, tables the plan names and the schema lacks)."""
    tables = set(inspector.get_table_names()) - {"alembic_version"}
    return tables - set(plan), set(plan) - tables


def _keys(inspector: Inspector, table: str) -> list[tuple[str, list[str]]]:
    """The primary key and every unique constraint or unique index, once each."""
    keys = [("primary key", inspector.get_pk_constraint(table)["constrained_columns"])]
    uniques = [u["column_names"] for u in inspector.get_unique_constraints(table)]
    uniques += [i["column_names"] for i in inspector.get_indexes(table) if i["unique"]]
    seen: set[tuple[str, ...]] = set()
    for columns in uniques:
        if tuple(columns) not in seen:
            seen.add(tuple(columns))
            keys.append(("unique", list(columns)))
    return keys


def _foreign_keys(
    inspector: Inspector, table: str, placement: Placement, plan: dict[str, Placement]
) -> list[Breach]:
    breaches = []
    for fk in inspector.get_foreign_keys(table):
        target = plan.get(fk["referred_table"])
        subject = (
            f"foreign key ({_cols(fk['constrained_columns'])}) -> "
            f"{fk['referred_table']} ({_cols(fk['referred_columns'])})"
        )
        if isinstance(placement, Distributed) and isinstance(target, Distributed):
            pairs = set(zip(fk["constrained_columns"], fk["referred_columns"], strict=True))
            if target.group != placement.group or (placement.column, target.column) not in pairs:
                rule = "a foreign key between distributed tables joins co-located tables on the distribution column"  # noqa: E501
                breaches.append(Breach(table, subject, rule))
        elif isinstance(target, Distributed) or (
            isinstance(placement, Distributed) and isinstance(target, Local)
        ):
            rule = f"a {_kind(placement)} table cannot point at a {_kind(target)} table"  # type: ignore[arg-type]
            breaches.append(Breach(table, subject, rule))
    return breaches


def check(inspector: Inspector, plan: dict[str, Placement]) -> list[Breach]:
    """Every breach of the Citus rules in the inspected schema under ``plan``."""
    breaches: list[Breach] = []
    group_types: dict[str, str] = {}  # the first table of a group (in plan order) sets its type
    tables = set(inspector.get_table_names())
    for table in [t for t in plan if t in tables]:
        placement = plan[table]
        if isinstance(placement, Distributed):
            columns = {c["name"]: str(c["type"]) for c in inspector.get_columns(table)}
            if placement.column not in columns:
                rule = "the distribution column exists"
                breaches.append(Breach(table, f"no column {placement.column}", rule))
            else:
                kind = group_types.setdefault(placement.group, columns[placement.column])
                if columns[placement.column] != kind:
                    subject = (
                        f"{placement.column} is {columns[placement.column]}, its group's {kind}"
                    )
                    rule = "the distribution columns of a co-location group have one type"
                    breaches.append(Breach(table, subject, rule))
                for kind, key in _keys(inspector, table):
                    if placement.column not in key:
                        rule = f"every key of a distributed table includes {placement.column}"
                        breaches.append(Breach(table, f"{kind} ({_cols(key)})", rule))
        breaches += _foreign_keys(inspector, table, placement, plan)
    return sorted(breaches)


# -- the migrated schema -------------------------------------------------------------------------


def test_every_table_of_the_migrated_schema_is_placed_and_the_rules_hold(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        inspector = inspect(engine)
        new, gone = unplanned(inspector, dict(PLAN))
        assert not new, f"tables without a place in the distribution plan: {sorted(new)}; {UPDATE}"
        assert not gone, f"the distribution plan names tables the schema lacks: {sorted(gone)}"
        found = {(b.table, b.subject): b.rule for b in check(inspector, dict(PLAN))}
    finally:
        engine.dispose()
    unexpected = {k: r for k, r in found.items() if k not in CHANGES}
    assert not unexpected, (
        f"these keys break the Citus rules ({unexpected}): make them include the distribution "
        f"column, or name the change they need in CHANGES (distribution.py) and docs/scaling.md"
    )
    made = set(CHANGES) - set(found)
    assert not made, f"these changes are made (or named wrongly): {sorted(made)}; delete them"


# -- the page says what the plan says -----------------------------------------------------------


def _rows(header: str) -> list[list[str]]:
    """The rows of the page's table that starts with ``header`` (cells stripped of backticks)."""
    lines = PAGE.read_text().splitlines()
    assert header in lines, f"docs/scaling.md lost its table {header!r}"
    rows = []
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip().strip("`") for c in line.strip().strip("|").split("|")])
    return rows


def test_the_page_places_every_table_as_the_plan_does() -> None:
    rows = _rows("| table | placement | distribution column | co-location group | why |")
    on_page = {r[0]: (r[1], r[2], r[3]) for r in rows}
    assert len(on_page) == len(rows), "a table is placed twice on the page"
    planned = {
        t: (_kind(p), p.column, p.group) if isinstance(p, Distributed) else (_kind(p), "—", "—")
        for t, p in PLAN.items()
    }
    assert on_page == planned, UPDATE


def test_the_page_names_exactly_the_changes_the_plan_names() -> None:
    rows = _rows("| table | what breaks the rule | the change it needs |")
    on_page = {(r[0], r[1]): r[2] for r in rows}
    assert len(on_page) == len(rows), "a change is named twice on the page"
    assert on_page == dict(CHANGES)


def test_the_page_gives_the_citus_calls_of_the_plan() -> None:
    block = re.search(r"```sql\n(.*?)```", PAGE.read_text(), re.S)
    assert block is not None
    assert block.group(1).strip().splitlines() == citus_ddl()


# -- the checker itself catches what it must ----------------------------------------------------


def _synthetic() -> MetaData:
    md = MetaData()
    Table("rules", md, Column("number", Integer, primary_key=True))
    Table(
        "wallets",
        md,
        Column("member_id", String(32), nullable=False),
        Column("wallet_id", String(32), nullable=False),
        Column("phone", String(32), nullable=False),
        Column("rule", Integer, nullable=False),
        PrimaryKeyConstraint("member_id", "wallet_id"),
        UniqueConstraint("phone"),  # unique across members: breaks the rule
        ForeignKeyConstraint(["rule"], ["rules.number"]),  # distributed -> reference: fine
    )
    Table(
        "moves",
        md,
        Column("move_id", String(32), primary_key=True),  # no member_id in the key
        Column("member_id", String(32), nullable=False),
        Column("wallet_id", String(32), nullable=False),
        Column("ref", String(32), nullable=False),
        ForeignKeyConstraint(
            ["member_id", "wallet_id"], ["wallets.member_id", "wallets.wallet_id"]
        ),
        Index("ix_moves_ref", "ref", unique=True),  # a unique index without member_id
    )
    Table(
        "stray",
        md,
        Column("wallet_id", String(32), primary_key=True),
        Column("member_id", String(32), nullable=False),
        ForeignKeyConstraint(
            ["wallet_id", "member_id"], ["wallets.wallet_id", "wallets.member_id"]
        ),
    )
    Table(
        "notes",
        md,
        Column("note_id", Integer, primary_key=True),
        Column("member_id", String(32), nullable=False),
        Column("wallet_id", String(32), nullable=False),
        ForeignKeyConstraint(
            ["member_id", "wallet_id"], ["wallets.member_id", "wallets.wallet_id"]
        ),
    )
    return md


SYNTHETIC: dict[str, Placement] = {
    "rules": Reference(),
    "wallets": Distributed("member_id", "member"),
    "moves": Distributed("member_id", "member"),
    "stray": Distributed("wallet_id", "member"),
    "notes": Reference(),
}


@pytest.fixture
def synthetic() -> Inspector:
    engine = create_engine("sqlite://")
    _synthetic().create_all(engine)
    return inspect(engine)


def test_the_checker_names_each_key_and_foreign_key_that_breaks_a_rule(
    synthetic: Inspector,
) -> None:
    found = {(b.table, b.subject) for b in check(synthetic, SYNTHETIC)}
    assert found == {
        ("wallets", "unique (phone)"),
        ("moves", "primary key (move_id)"),
        ("moves", "unique (ref)"),
        # joins the other table's distribution column to a column that is not its own
        ("stray", "foreign key (wallet_id, member_id) -> wallets (wallet_id, member_id)"),
        ("notes", "foreign key (member_id, wallet_id) -> wallets (member_id, wallet_id)"),
    }


def test_the_checker_names_a_missing_distribution_column(synthetic: Inspector) -> None:
    plan = {**SYNTHETIC, "rules": Distributed("member_id", "member")}
    assert Breach("rules", "no column member_id", "the distribution column exists") in check(
        synthetic, plan
    )


def test_a_new_table_without_a_place_is_found(synthetic: Inspector) -> None:
    plan = {t: p for t, p in SYNTHETIC.items() if t != "notes"}
    assert unplanned(synthetic, plan) == ({"notes"}, set())
    assert unplanned(synthetic, {**SYNTHETIC, "gone": Local()}) == (set(), {"gone"})


def test_a_clean_plan_has_no_breach(synthetic: Inspector) -> None:
    plan: dict[str, Placement] = {t: Local() for t in SYNTHETIC}
    assert check(synthetic, plan) == []
