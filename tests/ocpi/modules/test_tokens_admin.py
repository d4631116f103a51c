"""Operators see and edit what real-time authorization uses: a token's allowed locations, the
recorded decisions with the sessions and CDRs that used their reference, and the connection's
authorization timeout."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.partners.models import PartnerConnection
from apps.tokens.models import Token, TokenAuthorization
from apps.tokens.services import LocationReferences, token_authorize
from tests.cdrs.test_generation import change_form_data
from tests.factories import CdrFactory, ConnectionFactory, SessionFactory, TokenFactory
from tests.ocpi.callers import own_party

pytestmark = pytest.mark.django_db


def test_allowed_locations_are_edited_on_the_token(staff_client: Client) -> None:
    token = TokenFactory.create(party=own_party("EMSP"), uid="CARD1")
    url = reverse("admin:tokens_token_change", args=[token.pk])
    data = change_form_data(staff_client.get(url))
    prefix = "location_restrictions"
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-0-location_id": "LOC1",
            f"{prefix}-0-evse_uids": "E1, E2",
            "valid": "",  # unchecked
            "invalid_reason": "EXPIRED",
        }
    )
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else ""

    token.refresh_from_db()
    assert (token.valid, token.invalid_reason) == (False, "EXPIRED")
    (rule,) = token.location_restrictions.all()
    assert (rule.location_id, rule.evse_uids, rule.cpo) == ("LOC1", ["E1", "E2"], None)
    decision = token_authorize(
        parties=token.party, uid="CARD1", location=LocationReferences("LOC1")
    )
    assert decision.status == "EXPIRED"


def test_a_bad_evse_list_is_refused(staff_client: Client) -> None:
    token = TokenFactory.create(party=own_party("EMSP"), uid="CARD1")
    url = reverse("admin:tokens_token_change", args=[token.pk])
    data = change_form_data(staff_client.get(url))
    data.update(
        {
            "location_restrictions-TOTAL_FORMS": "1",
            "location_restrictions-0-location_id": "LOC1",
            "location_restrictions-0-evse_uids": "E1, " + "X" * 37,
        }
    )
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert "evse_uids" in str(response.context["inline_admin_formsets"][0].formset.errors)
    assert not token.location_restrictions.exists()


def test_a_decision_shows_the_sessions_and_cdrs_that_used_its_reference(
    staff_client: Client,
) -> None:
    token = TokenFactory.create(party=own_party("EMSP"), uid="CARD1")
    decision = token_authorize(parties=token.party, uid="CARD1")
    reference = decision.authorization_reference
    session = SessionFactory.create(session_id="S-USED", authorization_reference=reference)
    cdr = CdrFactory.create(cdr_id="CDR-USED", authorization_reference=reference)
    SessionFactory.create(session_id="S-OTHER", authorization_reference="OTHER")

    record = TokenAuthorization.objects.get()
    page = staff_client.get(reverse("admin:tokens_tokenauthorization_change", args=[record.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert reverse("admin:charging_sessions_chargingsession_change", args=[session.pk]) in html
    assert reverse("admin:cdrs_cdr_change", args=[cdr.pk]) in html
    assert "S-OTHER" not in html

    found = staff_client.get(
        reverse("admin:tokens_tokenauthorization_changelist"), {"q": reference}
    )
    assert list(found.context["cl"].result_list) == [record]


def test_the_authorization_timeout_is_edited_on_the_connection(staff_client: Client) -> None:
    connection = ConnectionFactory.create()
    assert connection.authorization_timeout == Decimal("3")
    url = reverse("admin:partners_partnerconnection_change", args=[connection.pk])
    page = staff_client.get(url)
    assert "authorization_timeout" in page.context["adminform"].form.fields
    data: dict[str, Any] = change_form_data(page)
    data["authorization_timeout"] = "1.5"
    response = staff_client.post(url, data)
    assert response.status_code == 302
    assert PartnerConnection.objects.get(pk=connection.pk).authorization_timeout == Decimal("1.5")

    data["authorization_timeout"] = "0"
    refused = staff_client.post(url, data)
    assert refused.status_code == 200
    assert "authorization_timeout" in refused.context["adminform"].form.errors


def test_tokens_keep_their_admin_list(staff_client: Client) -> None:
    TokenFactory.create(uid="LISTED")
    listed = staff_client.get(reverse("admin:tokens_token_changelist"), {"q": "LISTED"})
    assert [t.uid for t in listed.context["cl"].result_list] == ["LISTED"]
    assert Token.objects.count() == 1
