"""Issue 14: a newcomer's own site, built only from the README's "Try it in your own site".

A fresh ``django-admin startproject`` site gets exactly the README's lines (read from
README.md, so the README cannot drift from what works), then the README's commands
run, a real gunicorn serves it, and a browser-like client signs in through the
stand-in. Restarting the server (what runserver's autoreloader does on every code
change) keeps both the key and the user: the same demo user is the same Django user.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from .processes import serving

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def readme_section(title: str) -> str:
    readme = (REPO / "README.md").read_text()
    start = readme.index(f"## {title}\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def code_after(section: str, caption: str) -> str:
    """The fenced block right after the line that names ``caption`` (e.g. `mysite/urls.py`)."""
    match = re.search(rf"`{re.escape(caption)}`[^\n]*\n+```python\n(.*?)```", section, re.S)
    assert match, f"README: no python block after {caption}"
    return match.group(1)


def clean_env(home: Path) -> dict[str, str]:
    """What a newcomer's shell has: no DJANGO_SETTINGS_MODULE (pytest-django set ours)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}


def run(site: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=site, capture_output=True,
                          text=True, timeout=120, check=False, env=clean_env(site))
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def field(page: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page).group(1))


def sign_in(base: str, upn: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{base}/", timeout=30)  # login_required -> Sign-on URL -> the stand-in
    assert "/entra-standin/" in page.url, page.url
    users = re.findall(r'name="user" value="(\d+)" data-upn="([^"]+)"', page.text)
    index = next(i for i, u in users if u == upn)
    posted = browser.post(page.url.split("?")[0], timeout=30, data={
        "SAMLRequest": field(page.text, "SAMLRequest"), "RelayState": field(page.text, "RelayState"),
        "user": index})
    acs = browser.post(f"{base}/saml2/acs/", allow_redirects=False, timeout=30,
                       data={"SAMLResponse": field(posted.text, "SAMLResponse")})
    assert acs.status_code == 302, acs.text[-2000:]
    assert acs.headers["Location"] == "/"
    return browser


def test_the_readme_gets_a_new_site_signing_in_and_a_restart_keeps_the_user(tmp_path, listener):
    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)],
                   check=True, timeout=60, env=clean_env(tmp_path))
    site = tmp_path
    section = readme_section("Try it in your own site")
    settings_lines = code_after(section, "mysite/settings.py").replace(
        "http://localhost:8000", listener.base_url)
    with (site / "mysite" / "settings.py").open("a") as settings:
        settings.write("\n" + settings_lines)
    with (site / "mysite" / "urls.py").open("a") as urls:
        urls.write("\n" + code_after(section, "mysite/urls.py"))

    migrate = run(site, "migrate")
    assert "django-csp" not in migrate.stdout + migrate.stderr  # no noise on every command
    refreshed = run(site, "refresh_entra_metadata")
    assert refreshed.stdout.startswith("stored Entra metadata for default: https://sts.windows.net/")
    checked = run(site, "check")
    assert "thoropass_sso" not in checked.stdout + checked.stderr, checked.stderr

    argv = [sys.executable, "-m", "gunicorn", "mysite.wsgi", "--bind", listener.bind,
            "--workers", "2", "--timeout", "30"]
    env = clean_env(tmp_path)
    with serving(argv, listener=listener, cwd=site, env=env):
        first = sign_in(listener.base_url, "adele.vance@contoso.example")
        assert first.get(f"{listener.base_url}/", timeout=30).text == \
            "Hello, adele.vance@contoso.example"
    # A restart: new processes, nothing kept in memory.
    with serving(argv, listener=listener, cwd=site, env=env):
        again = sign_in(listener.base_url, "adele.vance@contoso.example")
        assert again.get(f"{listener.base_url}/", timeout=30).text == \
            "Hello, adele.vance@contoso.example"
    users = run(site, "shell", "-c",
                "from thoropass_sso.models import EntraIdentity as I; "
                "print(I.objects.count(), I.objects.values_list('user_id').distinct().count())")
    assert users.stdout.strip().splitlines()[-1] == "1 1"  # one identity, one user, two sign-ins
