"""The in-memory action repository (shared/actions/store.py's twin)."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.actions.domain import Action
from shared.actions.store import ActionQuery


@dataclass
class FakeActions:
    rows: dict[str, Action] = field(default_factory=dict)

    async def add(self, action: Action) -> bool:
        if action.action_id in self.rows:
            return False
        self.rows[action.action_id] = action
        return True

    async def get(self, action_id: str, *, for_update: bool = False) -> Action | None:
        return self.rows.get(action_id)

    async def save(self, action: Action) -> None:
        self.rows[action.action_id] = action

    async def find(self, query: ActionQuery) -> list[Action]:
        found = sorted((a for a in self.rows.values() if query.matches(a)), key=lambda a: (a.due_date, a.action_id))
        return found[query.offset : query.offset + query.limit]

    async def of_origin(self, origin_id: str) -> list[Action]:
        return sorted(
            (a for a in self.rows.values() if a.origin_id == origin_id), key=lambda a: (a.raised_at, a.action_id)
        )
