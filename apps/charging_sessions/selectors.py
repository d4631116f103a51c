"""Reading charging sessions."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Prefetch, Q, QuerySet

from apps.charging_sessions.models import (
    ChargingSession,
    SessionChargingDimension,
    SessionChargingPeriod,
)
from apps.partners.models import Party


def sessions_with_periods() -> QuerySet[ChargingSession]:
    """Sessions with their owner, periods (in order) and dimensions (in the order given)
    fetched up front: rendering a page of them costs a fixed number of queries."""
    periods = SessionChargingPeriod.objects.order_by("sequence").prefetch_related(
        Prefetch("dimensions", queryset=SessionChargingDimension.objects.order_by("pk"))
    )
    return ChargingSession.objects.select_related("party").prefetch_related(
        Prefetch("charging_periods", queryset=periods)
    )


def session_get(*, party: Party, session_id: str) -> ChargingSession | None:
    """The session ``session_id`` (case-insensitive) of CPO ``party``, ready to render."""
    return sessions_with_periods().filter(party=party, session_id__iexact=session_id).first()


def sessions_of_drivers(
    *, cpo_parties: QuerySet[Party], token_owners: Iterable[Party]
) -> QuerySet[ChargingSession]:
    """The sessions at ``cpo_parties`` whose token belongs to one of ``token_owners`` (the
    eMSPs a partner speaks for see their own drivers' sessions, nobody else's)."""
    owners = Q()
    for party in token_owners:
        owners |= Q(token_country_code__iexact=party.country_code) & Q(
            token_party_id__iexact=party.party_id
        )
    if not owners:
        return ChargingSession.objects.none()
    return sessions_with_periods().filter(owners, party__in=cpo_parties)
