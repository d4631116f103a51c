"""Guards for records that must never change once written (ledger-style rows, final CDRs,
tariff versions, audit entries).

Two layers: the ORM refuses ``save()`` on an existing row, ``delete()``, and queryset
``update()``/``delete()``; and a database trigger (see :func:`protect_rows`) refuses UPDATE and
DELETE even from raw SQL or another client.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from apps.core.errors import ImmutableRecordError

_M = TypeVar("_M", bound=models.Model)


class AppendOnlyQuerySet(models.QuerySet[_M]):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableRecordError(f"{self.model.__name__} rows cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError(f"{self.model.__name__} rows cannot be deleted")


class AppendOnlyModel(models.Model):
    """A row that is written once and never changed or deleted."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRecordError(f"{type(self).__name__} {self.pk} is immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError(f"{type(self).__name__} {self.pk} cannot be deleted")


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION roamdesk_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'roamdesk: % of a row in % is not allowed (immutable record)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def protect_rows(table: str, *, when: str | None = None) -> migrations.RunPython:
    """A migration operation installing triggers that refuse UPDATE and DELETE on ``table``.

    ``when`` is an SQL condition on ``OLD`` (e.g. ``OLD.status = 'FINAL'``) limiting the
    protection to some rows. PostgreSQL refuses UPDATE and DELETE; SQLite (the embedded
    development default) refuses UPDATE; other vendors get only the ORM guard.
    """
    name = f"{table}_immutable"

    def forwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            condition = f"WHEN ({when})" if when else ""
            schema_editor.execute(_PG_FUNCTION, params=None)
            schema_editor.execute(
                f"CREATE TRIGGER {name} BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW {condition} EXECUTE FUNCTION roamdesk_refuse_change();"
            )
        elif vendor == "sqlite":
            # UPDATE only: SQLite's flush (tests, `manage.py flush`) deletes row by row, and
            # SQLite cannot tell that from any other DELETE. PostgreSQL flushes with TRUNCATE,
            # which fires no row trigger, so there DELETE is refused too.
            condition = f"WHEN {when}" if when else ""
            for op in ("UPDATE",):
                schema_editor.execute(
                    f"CREATE TRIGGER {name}_{op.lower()} BEFORE {op} ON {table} "
                    f"FOR EACH ROW {condition} BEGIN "
                    f"SELECT RAISE(ABORT, 'roamdesk: {op} of a row in {table} is not allowed "
                    f"(immutable record)'); END;"
                )

    def backwards(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table};")
        elif vendor == "sqlite":
            for op in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}_{op};")

    return migrations.RunPython(forwards, backwards, elidable=False)
