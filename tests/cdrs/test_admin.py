"""The CDR admin: the signed-data panel and its findings, the verify action, the findings admin,
and credit CDRs issued one at a time with a reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from apps.cdrs.enums import CdrOrigin
from apps.cdrs.models import Cdr
from apps.cdrs.services import cdr_check_signed_data, cdr_finalize
from apps.core.models import AuditLogEntry
from apps.partners.models import Party
from tests.cdrs.ocmf import Meter
from tests.factories import CdrFactory, PartyFactory

pytestmark = pytest.mark.django_db


def own_party() -> Party:
    return PartyFactory.create(partner=None, roles=["CPO"])


def final_cdr(**fields: object) -> Cdr:
    """A final CDR, by default one of our own parties (only those can be credited by us)."""
    fields.setdefault("total_cost_incl_vat", Decimal("12.7050"))
    if "party" not in fields:
        fields["party"] = own_party()
    return cdr_finalize(cdr=CdrFactory.create(**fields))


def change_url(cdr: Cdr) -> str:
    return reverse("admin:cdrs_cdr_change", args=[cdr.pk])


def credit_url(cdr: Cdr) -> str:
    return reverse("admin:cdrs_cdr_credit", args=[cdr.pk])


def texts(response: Any) -> list[str]:
    """The messages the request of a test client ``response`` left."""
    return [str(m) for m in get_messages(response.wsgi_request)]


# -- signed meter data -----------------------------------------------------------------------
def test_change_page_shows_outcomes_readings_energy_and_findings(staff_client: Client) -> None:
    cdr = final_cdr(signed_data=Meter().session(end="1031.250"))
    cdr_check_signed_data(cdr=cdr)

    response = staff_client.get(change_url(cdr))

    assert response.status_code == 200
    content = response.content.decode()
    assert "Signed meter data" in content
    assert content.count("<strong>VERIFIED</strong>") == 2
    for shown in ("1000.000", "1031.250", "kWh", "2026-10-01 10:00:00+02:00 (S)", "begin", "end"):
        assert f"<td>{shown}</td>" in content  # in the readings table
    assert "Signed energy <strong>31.25 kWh</strong>" in content
    assert "total_energy <strong>30 kWh</strong>" in content
    assert "they differ by 1.25 kWh" in content
    # The recorded findings, read-only.
    assert "SIGNED_ENERGY_MISMATCH" in content
    assert 'name="findings-0-message"' not in content


def test_change_page_shows_refused_values_and_cdrs_without_signed_data(
    staff_client: Client,
) -> None:
    data = Meter().session()
    data["public_key"] = Meter().public_key_hex()
    content = staff_client.get(change_url(final_cdr(signed_data=data))).content.decode()
    assert content.count("<strong>INVALID_SIGNATURE</strong>") == 2
    assert "Claimed by the record, not proven" in content
    assert "No verified value" in content

    response = staff_client.get(change_url(final_cdr()))
    assert response.status_code == 200
    assert "No signed meter data." in response.content.decode()


def test_partner_url_is_a_link_only_when_it_is_a_web_address(staff_client: Client) -> None:
    data = Meter().session()
    data["url"] = "javascript:alert(1)"
    content = staff_client.get(change_url(final_cdr(signed_data=data))).content.decode()
    assert 'href="javascript:' not in content
    assert "javascript:alert(1)" in content


def test_verify_action_records_findings(staff_client: Client) -> None:
    good = final_cdr(signed_data=Meter().session())
    bad = final_cdr(signed_data=Meter().session(end="1040.000"))
    before = Cdr.objects.filter(pk=bad.pk).values().get()

    response = staff_client.post(
        reverse("admin:cdrs_cdr_changelist"),
        {"action": "verify_signed_data", "_selected_action": [good.pk, bad.pk]},
    )

    assert response.status_code == 302
    assert set(good.findings.values_list("code", flat=True)) == {
        "SIGNED_VALUE_VERIFIED",
        "SIGNED_ENERGY_MATCHES",
    }
    assert bad.findings.filter(code="SIGNED_ENERGY_MISMATCH", severity="ERROR").exists()
    assert Cdr.objects.filter(pk=bad.pk).values().get() == before
    messages = texts(response)
    assert "Signed meter data checked for 2 CDRs: 1 with errors, 0 with warnings." in messages
    assert any(bad.cdr_id in m for m in messages)


def test_findings_admin_lists_filters_and_shows_a_finding(staff_client: Client) -> None:
    cdr = final_cdr(signed_data=Meter().session(end="1040.000"))
    findings = cdr_check_signed_data(cdr=cdr)
    url = reverse("admin:cdrs_cdrfinding_changelist")

    response = staff_client.get(
        url, {"source": "SIGNED_DATA", "severity": "ERROR", "code": "SIGNED_ENERGY_MISMATCH"}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "SIGNED_ENERGY_MISMATCH" in content
    assert "differs from total_energy" in content
    assert "signature valid" not in content  # the VERIFIED findings are filtered out
    assert staff_client.get(url, {"q": cdr.cdr_id}).status_code == 200

    response = staff_client.get(reverse("admin:cdrs_cdrfinding_change", args=[findings[-1].pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "difference_kwh" in content
    assert 'name="message"' not in content  # read-only


# -- credit CDRs -----------------------------------------------------------------------------
def test_credit_needs_a_reason_then_links_original_and_credit(staff_client: Client) -> None:
    original = final_cdr()
    page = staff_client.get(change_url(original)).content.decode()
    assert f'href="{credit_url(original)}"' in page  # the button

    response = staff_client.get(credit_url(original))
    assert response.status_code == 200
    assert 'name="reason"' in response.content.decode()

    response = staff_client.post(credit_url(original), {"reason": "   "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Cdr.objects.filter(credit=True).exists()

    response = staff_client.post(credit_url(original), {"reason": "Wrong tariff applied"})

    credit = Cdr.objects.get(credit=True)
    assert response.status_code == 302
    assert response["Location"] == change_url(credit)
    assert credit.cdr_id == f"{original.cdr_id}-C"
    assert credit.credit_reference_id == original.cdr_id
    assert credit.credited_cdr_id == original.pk
    assert credit.is_final
    assert credit.remark == "Wrong tariff applied"
    assert credit.total_cost_excl_vat == -original.total_cost_excl_vat
    assert credit.total_cost_incl_vat == -Decimal("12.7050")
    entry = AuditLogEntry.objects.get(action="cdr.credited")
    assert entry.after is not None
    assert entry.after["reason"] == "Wrong tariff applied"
    assert entry.actor_label == "ops"
    assert Cdr.objects.get(pk=original.pk).remark == ""

    # Both visible, each linking to the other.
    original_page = staff_client.get(change_url(original)).content.decode()
    assert "Credited by" in original_page
    assert f'<a href="{change_url(credit)}">{credit.cdr_id}</a>' in original_page
    assert f'href="{credit_url(original)}"' not in original_page  # no second button
    credit_page = staff_client.get(change_url(credit)).content.decode()
    assert f'cancels <a href="{change_url(original)}">{original.cdr_id}</a>' in credit_page
    assert f'href="{credit_url(credit)}"' not in credit_page  # a credit is not credited


def test_second_credit_is_refused_with_a_clear_message(staff_client: Client) -> None:
    original = final_cdr()
    staff_client.post(credit_url(original), {"reason": "Duplicate session"})

    response = staff_client.post(credit_url(original), {"reason": "Again"})

    assert response.status_code == 302
    assert response["Location"] == change_url(original)
    assert texts(response)[-1] == (
        f"{original.cdr_id} cannot be credited: "
        f"CDR {original.cdr_id} was already credited by {original.cdr_id}-C"
    )
    assert Cdr.objects.filter(credited_cdr=original).count() == 1


def test_drafts_and_credits_cannot_be_credited(staff_client: Client) -> None:
    draft = CdrFactory.create(party=own_party())
    response = staff_client.get(credit_url(draft))
    assert response.status_code == 302
    assert "only a final CDR can be credited" in texts(response)[0]
    assert f'href="{credit_url(draft)}"' not in staff_client.get(change_url(draft)).content.decode()


def test_a_partners_cdr_is_never_credited_by_us_the_operator_is_told_to_dispute_it(
    staff_client: Client,
) -> None:
    received = final_cdr(party=PartyFactory.create(roles=["CPO"]), origin=CdrOrigin.RECEIVED)
    assert not received.party.is_own
    expected = (
        f"{received.cdr_id} cannot be credited: CDR {received.cdr_id} was issued by "
        f"{received.party.code}, a partner's party: only the party that issued a CDR can "
        "credit it. To contest it, open a dispute with the partner instead."
    )

    page = staff_client.get(change_url(received)).content.decode()
    assert f'href="{credit_url(received)}"' not in page  # no button

    response = staff_client.post(
        reverse("admin:cdrs_cdr_changelist"),
        {"action": "issue_credit", "_selected_action": [received.pk]},
    )
    assert response.status_code == 302
    assert texts(response) == [expected]

    # Even posted straight to the reason page, the reason is not enough.
    response = staff_client.post(credit_url(received), {"reason": "Wrong tariff applied"})
    assert response.status_code == 302
    assert response["Location"] == change_url(received)
    assert texts(response)[-1] == expected
    assert not Cdr.objects.filter(credit=True).exists()
    assert not AuditLogEntry.objects.filter(action="cdr.credited").exists()


def test_list_action_leads_to_the_reason_page_for_one_cdr(staff_client: Client) -> None:
    first, second = final_cdr(), final_cdr()
    changelist = reverse("admin:cdrs_cdr_changelist")

    response = staff_client.post(
        changelist, {"action": "issue_credit", "_selected_action": [first.pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == credit_url(first)

    response = staff_client.post(
        changelist, {"action": "issue_credit", "_selected_action": [first.pk, second.pk]}
    )
    assert response.status_code == 302
    assert "each credit CDR needs its own reason" in texts(response)[0]
    assert not Cdr.objects.filter(credit=True).exists()


def test_a_cdr_without_cost_lines_is_not_said_to_add_up_to_zero(staff_client: Client) -> None:
    """A partner's CDR carries totals only; 'lines add up to 0' read as a mismatch."""
    cdr = CdrFactory.create(
        total_cost_excl_vat=Decimal("9.00"), total_cost_incl_vat=Decimal("9.90")
    )
    page = staff_client.get(reverse("admin:cdrs_cdr_change", args=[cdr.pk])).content.decode()
    assert "No cost lines (a CDR as a partner sent it carries its totals only)." in page
    assert "lines add up to 0" not in page
