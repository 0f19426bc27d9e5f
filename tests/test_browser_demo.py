"""The newcomer demo in a real browser: headless Debian Chromium driven by Playwright.

The site is http://localhost:<port>; the Entra stand-in's pages are served from
http://127.0.0.1:<port>, another site, so the stand-in's POST back to the ACS is
cross-site exactly as Entra's is. Django's session cookie keeps its defaults
(SameSite=Lax). This is the class of failure only a real browser shows.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .example_site import Listener, example_env, gunicorn, manage

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# `./dev test` installs Playwright (a test dependency) and Debian's chromium, and .ci/run sets
# CI: there a missing one is a failure, never a quiet skip. Elsewhere (a bare pytest run on a
# machine without them) the test says what is missing and skips.
IN_CI = bool(os.environ.get("CI"))
try:
    from playwright import sync_api as playwright
except ImportError:  # pragma: no cover - depends on the machine
    if IN_CI:
        raise
    pytest.skip("playwright is not installed (pip install -e .[test])", allow_module_level=True)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not IN_CI,
                       reason="Debian's chromium is not installed (./dev test installs it)"),
]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser-demo")
    listener = Listener()
    port = listener.port
    env = example_env(tmp, port)
    env["THOROPASS_SSO_BASE_URL"] = f"http://localhost:{port}"
    env["EXAMPLE_STANDIN_BASE_URL"] = f"http://127.0.0.1:{port}/entra-standin"
    for command in (("migrate", "--verbosity", "0"), ("refresh_entra_metadata",)):
        result = manage(env, *command)
        assert result.returncode == 0, result.stdout + result.stderr
    with listener, gunicorn(env, listener):
        yield f"http://localhost:{port}", f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser):
    context = browser.new_context()
    # A loaded 2-core CI machine can be slow: be patient, not flaky.
    context.set_default_timeout(60_000)
    return context, context.new_page()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_sp_initiated_deep_link_then_sign_out(browser, demo_site):
    site, idp = demo_site
    context, page = new_page(browser)

    page.goto(f"{site}/")
    shot(page, "01-home-signed-out")
    page.goto(f"{site}/private/")
    # Two customers use this site: the Sign-on URL asks for the work email first.
    page.wait_for_url(f"{site}/saml2/login/**")
    page.fill("#sign-on-email", "adele.vance@contoso.example")
    shot(page, "02-sign-on-work-email")
    page.click("#sign-on-continue")
    page.wait_for_url(f"{idp}/entra-standin/**")
    assert "Contoso" in page.inner_text("body")
    shot(page, "03-standin-pick-account")
    page.click('button[data-upn="adele.vance@contoso.example"]')

    page.wait_for_url(f"{site}/private/")
    assert page.inner_text("#private") == "A private page"
    session_cookie = next(c for c in context.cookies() if c["name"] == "sessionid")
    assert session_cookie["sameSite"] == "Lax"
    page.goto(f"{site}/")
    assert "Adele Vance" in page.inner_text("#signed-in")
    shot(page, "04-home-signed-in-with-claims")

    page.click("#sign-out")
    page.wait_for_url(f"{site}/")
    assert page.locator("#sign-in").is_visible()
    response = page.goto(f"{site}/whoami/")
    assert response.status == 401
    context.close()


def test_idp_initiated_from_my_apps(browser, demo_site):
    site, idp = demo_site
    context, page = new_page(browser)

    page.goto(f"{idp}/entra-standin/myapps/")
    shot(page, "06-standin-my-apps")
    page.click('button[data-upn="megan.bowen@contoso.example"]')

    page.wait_for_url(f"{site}/")
    assert "Megan Bowen" in page.inner_text("#signed-in")
    me = page.goto(f"{site}/whoami/").json()
    assert me["upn"] == "megan.bowen@contoso.example"
    context.close()


def test_the_sign_in_button_finds_each_customers_tenant_by_email(browser, demo_site):
    site, idp = demo_site
    for email, tenant, name in (("megan.bowen@contoso.example", "Contoso", "Megan Bowen"),
                                ("nestor.wilke@fabrikam.example", "Fabrikam", "Nestor Wilke")):
        context, page = new_page(browser)
        page.goto(f"{site}/")
        page.click("#sign-in")
        page.wait_for_url(f"{site}/saml2/login/**")
        page.fill("#sign-on-email", email)
        page.press("#sign-on-email", "Enter")  # the form works with the keyboard, no script
        page.wait_for_url(f"{idp}/entra-standin/**")
        assert tenant in page.inner_text("body")
        if tenant == "Fabrikam":
            shot(page, "05-standin-fabrikam")
        page.click(f'button[data-upn="{email}"]')
        page.wait_for_url(f"{site}/")
        assert name in page.inner_text("#signed-in")
        me = page.goto(f"{site}/whoami/").json()
        assert me["connection"] == ("default" if tenant == "Contoso" else "fabrikam")
        context.close()


def test_an_unknown_domain_stays_on_the_site(browser, demo_site):
    site, _ = demo_site
    context, page = new_page(browser)
    page.goto(f"{site}/saml2/login/")
    page.fill("#sign-on-email", "someone@nowhere.example")
    page.click("#sign-on-continue")
    page.wait_for_load_state()
    assert page.url.startswith(f"{site}/saml2/login/")
    assert "not set up for your organization" in page.inner_text("#sign-on-message")
    context.close()
