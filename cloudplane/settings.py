"""One validated settings object, built once by the CLI (or a test) and passed down.

Nothing here is read at import time; `Settings.from_env()` is the only place
environment variables are consulted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DATA_DIR = Path(".cloudplane")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    db_url: str | None = None  # None: SQLite file under data_dir
    host: str = "127.0.0.1"
    port: int = 8080
    ray_address: str | None = None  # None: start a local Ray instance
    shards: int = 2  # shard actors per management node
    placement: str = "grouped"  # grouped | dedicated
    namespace: str = "cloudplane"  # Ray namespace of this cloud's shards (several clouds may share Ray)
    passivate_after_s: float = 300.0
    fault_injection: bool = False  # allows test-only operations such as a shard crash
    admin_password: str | None = None
    extra_kind_modules: tuple[str, ...] = field(default_factory=tuple)

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'cloudplane.db').resolve()}"

    def with_(self, **kw: object) -> Settings:
        return replace(self, **kw)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        base = cls(
            data_dir=Path(env.get("CLOUDPLANE_DATA_DIR", str(DEFAULT_DATA_DIR))),
            db_url=env.get("CLOUDPLANE_DB_URL") or None,
            admin_password=env.get("CLOUDPLANE_ADMIN_PASSWORD") or None,
        )
        return base.with_(**{k: v for k, v in overrides.items() if v is not None})
