"""The auditor's console (docs/auditor.md): read-only views of the lanes' latest block hashes,
the blocks and the entries, and the one thing an auditor may ask the server to do: run
``jifen verify`` now and read its report. The operator may open it too."""

from __future__ import annotations

from fastapi import APIRouter

from jifen.web.auditor import journal, verify

router = APIRouter(include_in_schema=False)
for _pages in (journal, verify):
    router.include_router(_pages.router)
