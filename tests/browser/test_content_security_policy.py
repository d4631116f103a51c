"""The admin under its Content-Security-Policy in a real Chromium: the pages render and their
scripts run with no violation reported, while a script injected inline is refused."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.browser.driver import Browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

USERNAME = "operator"
PASSWORD = "a-long-operator-passphrase"

# Runs in every new document before the page's own scripts (CDP: not subject to the page's CSP),
# collecting the violations the browser reports.
RECORD_VIOLATIONS = """
window.roamdeskCsp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.roamdeskCsp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' @ ' +
                          e.sourceFile + ':' + e.lineNumber);
});
"""


@pytest.fixture
def recording(browser: Browser) -> Any:
    added = browser.driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS}
    )
    yield browser
    browser.driver.execute_cdp_cmd(
        "Page.removeScriptToEvaluateOnNewDocument", {"identifier": added["identifier"]}
    )


def _violations(browser: Browser) -> list[str]:
    return list(browser.driver.execute_script("return window.roamdeskCsp || []"))


def test_admin_pages_work_under_the_policy(recording: Browser) -> None:
    browser = recording
    get_user_model().objects.create_superuser(username=USERNAME, password=PASSWORD)
    browser.log_in(USERNAME, PASSWORD)
    assert _violations(browser) == []

    pages = [
        reverse("admin:index"),
        reverse("admin:auth_user_add"),
        reverse("admin:partners_partnerconnection_changelist"),
        reverse("admin:partners_partnerconnection_health"),
        reverse("admin:partners_partnerconnection_invite"),
    ]
    for page in pages:
        browser.visit(page)
        assert _violations(browser) == [], page
        browser.screenshot(page.strip("/").replace("/", "-") or "index")

    # The admin's own scripts (static files) run: "select all" in a changelist ticks the rows.
    browser.visit(reverse("admin:auth_user_changelist"))
    browser.find("#action-toggle").click()
    assert all(box.is_selected() for box in browser.find_all("input.action-select"))
    assert _violations(browser) == []

    # An injected inline script does not run, and the browser reports why.
    ran = browser.driver.execute_script(
        "var s = document.createElement('script');"
        "s.textContent = 'window.roamdeskInjected = true';"
        "document.body.appendChild(s);"
        "return window.roamdeskInjected === true;"
    )
    assert ran is False
    browser.wait(
        "the violation report",
        lambda driver: any(
            v.startswith("script-src") for v in driver.execute_script("return window.roamdeskCsp")
        ),
    )
