from __future__ import annotations

import pytest
from django.test import override_settings

from apps.partners.models import Party
from apps.partners.services import party_ensure_own_default


@pytest.mark.django_db
def test_own_party_exists_after_migrate_and_is_created_from_settings_once() -> None:
    own = Party.objects.own().get()  # created by the post_migrate hook
    assert (own.country_code, own.party_id) == ("NL", "RDK")
    assert own.roles == ["CPO", "EMSP"]
    assert party_ensure_own_default() is None  # one exists: nothing new

    own.delete()
    with override_settings(OCPI_COUNTRY_CODE="BE", OCPI_PARTY_ID="XYZ", OCPI_ROLES=["CPO"]):
        created = party_ensure_own_default()
    assert created is not None
    assert created.is_own
    assert (created.country_code, created.party_id, created.roles) == ("BE", "XYZ", ["CPO"])
    assert Party.objects.own().count() == 1
