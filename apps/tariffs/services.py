from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.errors import DomainError
from apps.core.events import ChangeKind, DomainChange, change_announce
from apps.core.money import validate_currency
from apps.core.services import Actor, audit_log_record, model_snapshot
from apps.core.upsert import Outcome, Upserted, is_stale
from apps.partners.models import PartnerConnection, Party
from apps.tariffs.enums import VersionOrigin
from apps.tariffs.models import Tariff, TariffVersion
from apps.tariffs.pricing import TariffSpec, tariff_spec, tariff_spec_from_content


@dataclass(frozen=True)
class TariffContent:
    """Everything a tariff version holds, in canonical form (Decimals, aware datetimes)."""

    currency: str
    elements: list[dict[str, Any]]
    last_updated: datetime
    type: str = ""
    alt_text: list[dict[str, str]] = field(default_factory=list)
    alt_url: str = ""
    min_price_excl_vat: Decimal | None = None
    min_price_incl_vat: Decimal | None = None
    max_price_excl_vat: Decimal | None = None
    max_price_incl_vat: Decimal | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    energy_mix: dict[str, Any] | None = None

    def content_hash(self) -> str:
        """Hash of the prices and rules, not of ``last_updated``: re-sending the same tariff
        with a new timestamp is not a new version."""
        data = asdict(self)
        data.pop("last_updated")
        encoded = json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(encoded.encode()).hexdigest()


def tariff_version_record(
    *,
    tariff: Tariff,
    content: TariffContent,
    origin: VersionOrigin,
    source_connection: PartnerConnection | None = None,
    actor: Actor = None,
) -> tuple[TariffVersion, bool]:
    """Record ``content`` as the tariff's newest version, unless it equals the newest one.

    Returns ``(version, created)``. A version is never updated: a change is a new version.
    """
    validate_currency(content.currency)
    digest = content.content_hash()
    with transaction.atomic():
        locked = Tariff.objects.select_for_update().get(pk=tariff.pk)
        latest = locked.latest_version()
        if latest is not None and latest.content_hash == digest:
            return latest, False
        version = TariffVersion.objects.create(
            tariff=locked,
            number=(latest.number + 1) if latest else 1,
            source_connection=source_connection,
            origin=origin,
            content_hash=digest,
            **asdict(content),
        )
        Tariff.objects.filter(pk=locked.pk).update(
            currency=content.currency, type=content.type, last_updated=content.last_updated
        )
        tariff.currency, tariff.type = content.currency, content.type
        tariff.last_updated = content.last_updated
        audit_log_record(
            actor=actor,
            action="tariff.version_recorded",
            obj=locked,
            before={"version": latest.number} if latest else None,
            after={"version": version.number, "content_hash": digest},
        )
    return version, True


def tariff_version_in_effect(*, tariff: Tariff, at: datetime) -> TariffVersion | None:
    """The version that was current at ``at``: the newest one whose change time is not later."""
    return tariff.versions.filter(last_updated__lte=at).order_by("-last_updated", "-number").first()


def tariff_version_spec(version: TariffVersion) -> TariffSpec:
    """The version's content as the tariff engine prices it (``apps.tariffs.pricing``).

    Raises ``InvalidTariff`` when the stored elements cannot be priced.
    """
    return tariff_spec(
        currency=version.currency,
        elements=version.elements,
        tariff_id=version.tariff.tariff_id,
        min_price_excl_vat=version.min_price_excl_vat,
        min_price_incl_vat=version.min_price_incl_vat,
        max_price_excl_vat=version.max_price_excl_vat,
        max_price_incl_vat=version.max_price_incl_vat,
        start_date_time=version.start_date_time,
        end_date_time=version.end_date_time,
    )


def tariff_publish_version(
    *, tariff: Tariff, content: TariffContent, actor: Actor = None
) -> tuple[TariffVersion, bool]:
    """Publish new content for one of OUR tariffs: checked by the engine's parser, recorded
    as a new immutable version (unless nothing changed), and announced to partners."""
    if not tariff.party.is_own:
        raise DomainError("only our own tariffs are published here; a partner's come from it")
    tariff_spec_from_content(content, tariff_id=tariff.tariff_id)  # raises InvalidTariff
    with transaction.atomic():
        version, created = tariff_version_record(
            tariff=tariff, content=content, origin=VersionOrigin.PUBLISHED, actor=actor
        )
        if created:
            change_announce(DomainChange(kind=ChangeKind.TARIFF, object_id=tariff.pk))
    return version, created


#: The version fields a CDR's ``tariffs`` snapshot keeps (canonical form).
_SNAPSHOT_FIELDS = [
    "currency", "type", "alt_text", "alt_url", "min_price_excl_vat", "min_price_incl_vat",
    "max_price_excl_vat", "max_price_incl_vat", "elements", "start_date_time", "end_date_time",
    "energy_mix", "last_updated",
]  # fmt: skip


def tariff_version_snapshot(version: TariffVersion) -> dict[str, Any]:
    """A JSON-safe copy of a tariff version, as a CDR seals it."""
    return {
        "party": version.tariff.party.code,
        "tariff_id": version.tariff.tariff_id,
        "version": version.number,
        **model_snapshot(version, fields=_SNAPSHOT_FIELDS),
    }


# -- partners' tariffs (we are their eMSP) ------------------------------------------------------
@dataclass(frozen=True)
class TariffData:
    """A tariff as its owner sends it: the owner party's codes, the tariff id and the content."""

    country_code: str
    party_id: str
    tariff_id: str
    content: TariffContent


def tariff_get(*, party: Party, tariff_id: str) -> Tariff | None:
    """The party's tariff with this id (case-insensitive), unless it was withdrawn."""
    return (
        Tariff.objects.select_related("party")
        .filter(party=party, tariff_id__iexact=tariff_id, deleted_at__isnull=True)
        .first()
    )


def tariff_receive(
    *,
    party: Party,
    tariff_id: str,
    content: TariffContent,
    source_connection: PartnerConnection,
    actor: Actor = None,
) -> Upserted[Tariff]:
    """Create or replace a partner's tariff as it pushed it (PUT): the content becomes a new
    immutable ``TariffVersion`` (origin RECEIVED, from ``source_connection``) unless it equals
    the newest one (content hash), so a CDR priced later finds exactly the prices that applied.

    Content older than what we hold (``last_updated``) is ignored (STALE, nothing written). A
    withdrawn tariff that is pushed again is restored (CREATED: the partner created it anew);
    its older versions stay. Not announced: a partner's tariff is not ours to push.
    """
    if party.is_own:
        raise DomainError("a tariff received from a partner cannot belong to one of our parties")
    validate_currency(content.currency)
    with transaction.atomic():
        tariff = _tariff_locked(party=party, tariff_id=tariff_id)
        if tariff is not None and is_stale(content.last_updated, tariff.last_updated):
            return Upserted(Outcome.STALE, tariff)
        outcome = Outcome.UPDATED
        if tariff is None:
            try:
                with transaction.atomic():
                    tariff = Tariff.objects.create(
                        party=party,
                        tariff_id=tariff_id,
                        currency=content.currency,
                        type=content.type,
                        last_updated=content.last_updated,
                        source_connection=source_connection,
                    )
            except IntegrityError:  # created meanwhile by a concurrent push: replace that one
                tariff = _tariff_locked(party=party, tariff_id=tariff_id)
                assert tariff is not None
                if is_stale(content.last_updated, tariff.last_updated):
                    return Upserted(Outcome.STALE, tariff)
            else:
                outcome = Outcome.CREATED
        if tariff.deleted_at is not None:
            outcome = Outcome.CREATED
        tariff_version_record(
            tariff=tariff,
            content=content,
            origin=VersionOrigin.RECEIVED,
            source_connection=source_connection,
            actor=actor,
        )
        # Also when the content is unchanged: the owner's timestamp moved on.
        Tariff.objects.filter(pk=tariff.pk).update(
            last_updated=content.last_updated, deleted_at=None, source_connection=source_connection
        )
        tariff.refresh_from_db()
    return Upserted(outcome, tariff)


def _tariff_locked(*, party: Party, tariff_id: str) -> Tariff | None:
    return (
        Tariff.objects.select_for_update()
        .select_related("party")
        .filter(party=party, tariff_id__iexact=tariff_id)
        .first()
    )


def tariff_withdraw(*, tariff: Tariff, actor: Actor = None) -> Tariff:
    """Mark a partner's tariff as withdrawn by its owner (DELETE): it is no longer offered or
    listed, and its versions are kept (CDRs point at them). Withdrawing twice changes nothing.
    """
    with transaction.atomic():
        locked = Tariff.objects.select_for_update().get(pk=tariff.pk)
        if locked.deleted_at is None:
            locked.deleted_at = timezone.now()
            locked.save(update_fields=["deleted_at"])
            audit_log_record(
                actor=actor,
                action="tariff.withdrawn",
                obj=locked,
                after={"deleted_at": locked.deleted_at.isoformat()},
            )
    tariff.deleted_at = locked.deleted_at
    return locked
