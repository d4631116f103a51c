from __future__ import annotations

import json
from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.forms.models import model_to_dict

from apps.core.models import AuditLogEntry

Actor = AbstractBaseUser | AnonymousUser | str | None


def model_snapshot(obj: models.Model, *, fields: list[str] | None = None) -> dict[str, Any]:
    """A JSON-safe dict of a model's concrete field values (Decimals and datetimes as text)."""
    data = model_to_dict(obj, fields=fields)
    for field in obj._meta.concrete_fields:
        if (fields is None or field.name in fields) and field.name not in data:
            data[field.name] = field.value_from_object(obj)
    result: dict[str, Any] = json.loads(json.dumps(data, cls=DjangoJSONEncoder, default=str))
    return result


def audit_log_record(
    *,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLogEntry:
    """Append an audit entry. Call it inside the transaction of the change it describes."""
    user = actor if isinstance(actor, AbstractBaseUser) else None
    if user is not None:
        label = user.get_username()
    elif isinstance(actor, str):
        label = actor
    else:
        label = "system"
    return AuditLogEntry.objects.create(
        actor=cast(Any, user),
        actor_label=label[:150],
        action=action,
        content_type=ContentType.objects.get_for_model(obj) if obj is not None else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        before=before,
        after=after,
    )
