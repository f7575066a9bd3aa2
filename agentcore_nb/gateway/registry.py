"""The tool registry in the project's DuckDB file: every version of every tool, one current."""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid

from ..db import Database
from .spec import ToolSpec, UnknownToolError

SCHEMA_VERSION = 1
_DDL = [
    """CREATE TABLE IF NOT EXISTS gateway_tools (
        name VARCHAR NOT NULL, version INTEGER NOT NULL, description VARCHAR NOT NULL,
        input_schema VARCHAR NOT NULL, output_schema VARCHAR, target VARCHAR NOT NULL,
        timeout DOUBLE NOT NULL, created DOUBLE NOT NULL, updated DOUBLE NOT NULL,
        current BOOLEAN NOT NULL)""",
]
_COLS = "name, version, description, input_schema, output_schema, target, timeout, created, updated"


def _spec(row: tuple) -> ToolSpec:
    return ToolSpec(
        name=row[0],
        version=row[1],
        description=row[2],
        input_schema=json.loads(row[3]),
        output_schema=json.loads(row[4]) if row[4] else None,
        target=json.loads(row[5]),
        timeout=row[6],
        created=row[7],
        updated=row[8],
    )


class Registry:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema("gateway", SCHEMA_VERSION, _DDL)
        #: Replaced after every change, by whichever process of the project made it, so each
        #: process's cache of current tools notices the others' registrations (one ``stat``).
        self.stamp_path = db.path.with_name(db.path.stem + ".tools-stamp")

    def stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.stamp_path)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    def _touch(self) -> None:
        tmp = self.stamp_path.with_name(f".{self.stamp_path.name}.{uuid.uuid4().hex}")
        with contextlib.suppress(OSError):
            tmp.write_text(str(time.time()))
            os.replace(tmp, self.stamp_path)  # a new inode every time: the stamp always changes

    def current(self) -> dict[str, ToolSpec]:
        rows = self.db.execute(f"SELECT {_COLS} FROM gateway_tools WHERE current ORDER BY name")
        return {r[0]: _spec(r) for r in rows}

    def get(self, name: str, version: int | None = None) -> ToolSpec:
        if version is None:
            rows = self.db.execute(f"SELECT {_COLS} FROM gateway_tools WHERE name = ? AND current", [name])
        else:
            rows = self.db.execute(
                f"SELECT {_COLS} FROM gateway_tools WHERE name = ? AND version = ?", [name, version]
            )
        if not rows:
            raise UnknownToolError(
                f"unknown tool '{name}{'' if version is None else f'@{version}'}'",
                hint="see `agentcore gateway list` or %tool list",
            )
        return _spec(rows[0])

    def versions(self, name: str) -> list[int]:
        return [
            r[0]
            for r in self.db.execute(
                "SELECT version FROM gateway_tools WHERE name = ? ORDER BY version", [name]
            )
        ]

    def save(self, spec: ToolSpec, *, new_version: bool) -> ToolSpec:
        """Store ``spec`` as the current version (a new row, or the current row updated)."""
        now = time.time()
        with self.db.lock:
            cur = self.db.cursor()
            cur.execute("BEGIN")
            try:
                row = cur.execute(
                    "SELECT max(version), min(created) FROM gateway_tools WHERE name = ?", [spec.name]
                ).fetchall()[0]
                latest, created = row[0], row[1]
                if latest is None or new_version:
                    spec.version = (latest or 0) + 1
                    spec.created = now if created is None else created
                    cur.execute("UPDATE gateway_tools SET current = false WHERE name = ?", [spec.name])
                    cur.execute(
                        "INSERT INTO gateway_tools VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, true)",
                        [spec.name, spec.version, spec.description, json.dumps(spec.input_schema),
                         json.dumps(spec.output_schema) if spec.output_schema is not None else None,
                         json.dumps(spec.target), spec.timeout, spec.created, now],
                    )  # fmt: skip
                else:
                    spec.version = latest
                    spec.created = created
                    cur.execute(
                        "UPDATE gateway_tools SET description = ?, output_schema = ?, target = ?, timeout = ?, "
                        "updated = ?, current = true WHERE name = ? AND version = ?",
                        [spec.description, json.dumps(spec.output_schema) if spec.output_schema is not None else None,
                         json.dumps(spec.target), spec.timeout, now, spec.name, latest],
                    )  # fmt: skip
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        spec.updated = now
        self._touch()
        return spec

    def remove(self, name: str) -> int:
        self.get(name)
        with self.db.lock:
            rows = self.db.con.execute(
                "DELETE FROM gateway_tools WHERE name = ? RETURNING version", [name]
            ).fetchall()
        self._touch()
        return len(rows)
