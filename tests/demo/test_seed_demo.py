"""seed_demo builds the promised dataset and a second run changes nothing."""

from __future__ import annotations

import hashlib
import io
from collections import Counter

import pytest
from django.apps import apps
from django.core import serializers
from django.core.management import CommandError, call_command

from apps.cdrs.models import Cdr
from apps.cdrs.services import cdr_cost_mismatches
from apps.charging_sessions.models import ChargingSession
from apps.locations.models import Evse, Location
from apps.partners.models import Partner, PartnerConnection, Party
from apps.tariffs.models import Tariff
from apps.tokens.models import Token

DOMAIN_APPS = ["core", "partners", "locations", "tariffs", "tokens", "charging_sessions", "cdrs"]


def snapshot() -> tuple[dict[str, int], str]:
    counts: dict[str, int] = {}
    digest = hashlib.sha256()
    for label in DOMAIN_APPS:
        for model in apps.get_app_config(label).get_models():
            qs = model._default_manager.order_by("pk")
            counts[model._meta.label] = qs.count()
            stream = io.StringIO()
            serializers.serialize("json", qs, stream=stream)
            digest.update(stream.getvalue().encode())
    return counts, digest.hexdigest()


@pytest.mark.django_db
def test_seed_demo_is_complete_and_idempotent() -> None:
    call_command("seed_demo", allow_production=True, verbosity=0)
    first = snapshot()
    call_command("seed_demo", allow_production=True, verbosity=0)
    second = snapshot()
    assert second[0] == first[0]
    assert second[1] == first[1], "the second run changed stored values"

    assert Party.objects.own().count() == 2
    assert all({"CPO", "EMSP"} <= set(p.roles) for p in Party.objects.own())
    assert Partner.objects.count() == 3
    versions = Counter(PartnerConnection.objects.values_list("version", flat=True))
    assert sorted(versions.values()) == [1, 2]
    assert len(versions) == 2
    hubs = [c for c in PartnerConnection.objects.all() if c.represented_parties.count() > 1]
    assert len(hubs) == 1  # the hub speaks for several parties
    assert any("HUB" in p.roles for p in hubs[0].represented_parties.all())

    assert 45 <= Location.objects.count() <= 55
    assert 140 <= Evse.objects.count() <= 160
    assert len(set(Location.objects.values_list("country", flat=True))) >= 3
    assert len(set(Location.objects.values_list("time_zone", flat=True))) >= 3
    assert Tariff.objects.count() == 6
    assert all(t.versions.count() >= 2 for t in Tariff.objects.all())
    assert Token.objects.count() == 500
    assert ChargingSession.objects.count() == 300

    finished = ChargingSession.objects.filter(status="COMPLETED").count()
    assert Cdr.objects.filter(credit=False).count() == finished
    assert Cdr.objects.filter(credit=True).count() == 1
    assert not Cdr.objects.exclude(status="FINAL").exists()
    for cdr in Cdr.objects.prefetch_related("cost_lines"):
        assert cdr_cost_mismatches(cdr=cdr) == [], cdr.cdr_id
        assert cdr.cost_lines.exists()
        assert cdr.tariff_version_at_start_id is not None


@pytest.mark.django_db
def test_seed_demo_refuses_a_production_database_unless_told() -> None:
    with pytest.raises(CommandError, match="allow-production"):
        call_command("seed_demo", verbosity=0)
    assert not Cdr.objects.exists()
