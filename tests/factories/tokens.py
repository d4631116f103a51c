"""Factories for the tokens app beyond ``TokenFactory`` (tests only)."""

from __future__ import annotations

import factory

from apps.tokens.models import TokenLocationRestriction
from tests.factories import TokenFactory


class TokenLocationRestrictionFactory(factory.django.DjangoModelFactory[TokenLocationRestriction]):
    class Meta:
        model = TokenLocationRestriction

    token = factory.SubFactory(TokenFactory)
    cpo = None
    location_id = factory.Sequence(lambda n: f"LOC{n}")
    evse_uids = factory.LazyFunction(list)
