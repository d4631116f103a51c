"""Operations journeys in a real headless Chromium against the running portal: log in through
the login form, invite a partner, register with a second real roamdesk platform, see its
health, and resolve a partner's mispriced CDR in the review queue.

Each step leaves a screenshot (tests/browser/conftest.py says where) for a person to look at.
"""

from __future__ import annotations

import base64
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import simplejson
from django.contrib.auth import get_user_model

from apps.cdrs.models import Cdr, CdrReview
from apps.ocpi.common import jsonutil
from apps.partners.enums import ConnectionStatus
from apps.partners.models import PartnerConnection
from tests.browser.driver import Browser
from tests.ocpi.callers import own_party, partner_caller
from tests.ocpi.peer import PeerPlatform
from tests.ocpi.peer import peer_platform as peer_platform  # fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USERNAME = "operator"
PASSWORD = "a-long-operator-passphrase"
CDR_EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures/ocpi/2.2.1/cdrs/cdr_example.json"


@pytest.fixture
def operator(db: None) -> str:
    get_user_model().objects.create_superuser(username=USERNAME, password=PASSWORD)
    return USERNAME


def open_connections(browser: Browser) -> None:
    """Home → Partner connections, as an operator clicks there."""
    browser.visit("/admin/")
    browser.click_and_load(browser.find("tr.model-partnerconnection th a"))  # the model's link
    assert browser.heading().startswith("Select partner connection")


def test_log_in_and_invite_a_partner(browser: Browser, operator: str, us: str) -> None:
    # A wrong password is refused on the form.
    browser.driver.delete_all_cookies()
    browser.visit("/admin/")
    browser.fill("#id_username", operator)
    browser.fill("#id_password", "not-the-password")
    browser.click_and_load(browser.find('#login-form input[type="submit"]'))
    assert "Please enter the correct username and password" in browser.text(".errornote")
    browser.screenshot("wrong password refused")

    browser.log_in(operator, PASSWORD)
    assert "Partner connections" in browser.text("#content-main")
    browser.screenshot("logged in home")

    open_connections(browser)
    browser.click_and_load(browser.find("#invite-partner"))
    assert browser.heading() == "Invite a partner"
    browser.fill("#id_new_partner", "Lumen Roaming")
    browser.fill("#id_name", "lumen main")
    browser.screenshot("invite form")
    browser.click_and_load(browser.find('input[type="submit"][value="Create the invitation"]'))

    assert browser.heading() == "Invitation created"
    assert "shown only this once" in browser.text("#token-warning")
    connection = PartnerConnection.objects.get(partner__name="Lumen Roaming", name="lumen main")
    token_a = browser.text(f"#token-a-{connection.pk}")
    versions_url = browser.text("table.roamdesk-facts code")
    browser.screenshot("versions url and token a")
    assert versions_url == f"{us}/ocpi/versions"
    assert connection.status == ConnectionStatus.PENDING
    assert connection.issued_token_matches(token_a)

    # What the page shows is what the partner needs: the token opens our versions URL.
    encoded = base64.b64encode(token_a.encode()).decode()
    answer = httpx.get(versions_url, headers={"Authorization": f"Token {encoded}"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["status_code"] == 1000

    # The pending connection is listed.
    open_connections(browser)
    assert "lumen main" in browser.text("#result_list")
    browser.screenshot("pending connection listed")


@pytest.mark.slow  # the partner platform runs in its own process
def test_register_with_a_partner_platform_and_see_its_health(
    browser: Browser, operator: str, us: str, peer_platform: PeerPlatform
) -> None:
    peer = peer_platform
    invite = peer.invite("roamdesk NL")
    browser.log_in(operator, PASSWORD)
    open_connections(browser)
    browser.click_and_load(browser.find("#register-with-partner"))
    assert browser.heading() == "Register with a partner"
    browser.fill("#id_new_partner", "Peer eMSP")
    browser.fill("#id_versions_url", invite["versions_url"])
    browser.fill("#id_token_a", invite["token_a"])
    browser.fill("#id_name", "peer main")
    browser.screenshot("register form")
    browser.click_and_load(browser.find('input[type="submit"][value="Register"]'))

    assert browser.heading() == "Registered with the partner", browser.text("#content-main")
    assert "the connection is connected" in browser.text(".messagelist")
    steps = [li.text for li in browser.find_all("ol.roamdesk-steps li")]
    for step in ("versions fetched", "token B issued", "credentials POSTed", "registered"):
        assert any(step in s for s in steps), (step, steps)
    facts = browser.text("table.roamdesk-facts")
    assert "2.2.1" in facts
    assert "DE*PBB" in facts
    assert invite["token_a"] not in browser.driver.page_source
    browser.screenshot("handshake result")
    connection = PartnerConnection.objects.get(partner__name="Peer eMSP", name="peer main")
    assert connection.status == ConnectionStatus.CONNECTED
    assert peer.connection_state(invite["id"])["status"] == ConnectionStatus.CONNECTED

    # The connection page: version, parties and the operations of a connected connection.
    browser.click_and_load(browser.find("#connection-link"))
    assert f"/partners/partnerconnection/{connection.pk}/change/" in browser.driver.current_url
    page = browser.text("#content-main")
    assert "DE*PBB" in page
    assert "Connected" in page
    assert "2.2.1" in page
    source = browser.driver.page_source
    for operation in ("rotate", "suspend", "unregister"):
        assert f"/{connection.pk}/{operation}/" in source
    browser.screenshot("connection page")

    # Partner connections → Health: the connection with the handshake's calls.
    open_connections(browser)
    browser.click_and_load(browser.find("#partner-health"))
    assert browser.heading() == "Partner health"
    content = browser.text("#content")
    assert re.search(r"peer main.*\(Connected, OCPI 2\.2\.1\)", content), content
    section = health_section(browser, "peer main")
    modules = {row[0]: row for row in section}
    assert "versions" in modules, section
    assert int(modules["versions"][1]) >= 1  # calls ok
    assert modules["versions"][2] == "0"  # failed
    browser.screenshot("partner health")


def health_section(browser: Browser, connection_label: str) -> list[list[str]]:
    """The rows (cells as text) of the module table under the connection's heading."""
    from selenium.webdriver.common.by import By

    heading = next(h for h in browser.find_all("#content h2") if connection_label in h.text)
    table = heading.find_element(By.XPATH, "following-sibling::table[1]")
    return [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]


def post_mispriced_cdr(live_server_url: str) -> Cdr:
    """A partner CPO (BE*BEC) POSTs the spec's example CDR over HTTP with its totals inflated:
    1.973 h at 2.00/h in 5-minute steps is 4.00 excl. VAT, the CDR says 9.00."""
    own_party("EMSP")
    cpo = partner_caller("CPO", country_code="BE", party_id="BEC")
    cdr: dict[str, Any] = jsonutil.loads(CDR_EXAMPLE.read_bytes())
    cdr["id"] = "DEAR-1"
    cdr["total_cost"] = {"excl_vat": Decimal("9.00"), "incl_vat": Decimal("9.90")}
    cdr["total_time_cost"] = {"excl_vat": Decimal("9.00"), "incl_vat": Decimal("9.90")}
    response = httpx.post(
        f"{live_server_url}/ocpi/2.2.1/emsp/cdrs",
        content=simplejson.dumps(cdr, use_decimal=True),
        headers={**cpo.headers(), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status_code"] == 1000
    return Cdr.objects.get(cdr_id="DEAR-1")


def test_resolve_a_cdr_in_the_review_queue(browser: Browser, operator: str, us: str) -> None:
    cdr = post_mispriced_cdr(us)
    assert list(Cdr.objects.needs_review()) == [cdr]

    browser.log_in(operator, PASSWORD)
    browser.visit("/admin/")
    browser.click_and_load(browser.find("tr.model-cdr th a"))
    browser.click_and_load(browser.link("Needs review (unresolved errors)"))
    assert "queue=review" in browser.driver.current_url
    rows = browser.text("#result_list tbody")
    assert "DEAR-1" in rows
    assert "BE*BEC" in rows
    browser.screenshot("review queue")

    browser.click_and_load(browser.link("DEAR-1"))
    findings = browser.text("#findings-group")
    assert "PRICE_MISMATCH" in findings
    assert "REVIEW_REQUIRED" in findings
    browser.screenshot("cdr page")
    browser.screenshot("cdr findings", focus="#findings-group")

    browser.click_and_load(browser.link("Record review"))
    assert browser.heading() == "Review CDR DEAR-1"
    unresolved = browser.text("#content-main table:nth-of-type(2)")
    assert "PRICE_MISMATCH" in unresolved
    assert "REVIEW_REQUIRED" in unresolved
    browser.screenshot("review form")

    # A dispute without a note is refused: the partner must be told why.
    browser.find('input[name="decision"][value="DISPUTED"]').click()
    browser.click_and_load(browser.find('input[type="submit"][value="Record review"]'))
    assert "say why the CDR is disputed" in browser.text("#content-main")
    browser.screenshot("dispute needs a note")
    assert not CdrReview.objects.exists()

    note = "Billed 9.00 for 2 h at 2.00/h: expected 4.00 excl. VAT."
    browser.find('input[name="decision"][value="DISPUTED"]').click()
    browser.fill("#id_note", note)
    browser.click_and_load(browser.find('input[type="submit"][value="Record review"]'))
    assert "Review of DEAR-1 recorded: Disputed" in browser.text(".messagelist")
    reviews = browser.text("#reviews-group")
    assert note in reviews
    assert operator in reviews
    browser.screenshot("review recorded")
    browser.screenshot("review in the cdr reviews", focus="#reviews-group")
    review = CdrReview.objects.get(cdr=cdr)
    assert (review.decision, review.note, review.reviewer_label) == ("DISPUTED", note, operator)

    # Out of the queue; the CDR itself is unchanged.
    browser.visit("/admin/cdrs/cdr/?queue=review")
    assert not browser.find_all("#result_list")
    assert "0 CDRs" in browser.text("#changelist-form")
    browser.screenshot("review queue empty")
    assert not Cdr.objects.needs_review().exists()
    cdr.refresh_from_db()
    assert cdr.total_cost_excl_vat == Decimal("9.00")
