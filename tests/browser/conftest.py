"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Never downloads a browser: without ``/usr/bin/chromium`` (``make browser``
installs Debian's package) every test here is skipped, with the reason.
One Chromium for the package, a fresh context (cookies, storage) per test.
Screenshots go to ``test-artifacts/screenshots/`` (gitignored).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
TABLET = {"width": 768, "height": 1024}
PIN = "2468"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for all the browser tests, closed when they are done.

    While Playwright runs, its sync API keeps an event loop in this thread,
    which Django takes for an async context; the ORM calls these tests make
    between browser steps are ordinary blocking calls, hence
    DJANGO_ALLOW_ASYNC_UNSAFE for exactly that time (never for other tests).
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (`make browser`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _fast_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def context(browser, live_server) -> Iterator[Any]:
    ctx = browser.new_context(viewport=TABLET, base_url=live_server.url, locale="en-US")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context) -> Any:
    return context.new_page()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header belongs at the top of the shot
    page.screenshot(path=str(path), full_page=True)
    return path


#: axe-core's tags for the WCAG 2.0, 2.1 and 2.2 success criteria at levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Every axe-core violation of a WCAG 2.2 A/AA rule on this page (any impact)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the Content-Security-Policy does not
        # govern (an injected <script> tag would be refused: no inline script is allowed).
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async (tags) => await axe.run(document, {
            runOnly: {type: 'tag', values: tags},
            resultTypes: ['violations'],
        })""",
        WCAG_TAGS,
    )
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
    ]


#: Every target a person can click or tap that is too small: (element, width, height).
#: A radio button or checkbox hidden behind its label is measured by its label; a link
#: inside a sentence is exempt on staff pages (WCAG 2.5.8 "inline"), never on the tablet.
SMALL_TARGETS_JS = """([minimum, inlineExempt]) => {
  const small = [];
  const visible = (el) => {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return style.visibility !== 'hidden' && style.display !== 'none'
      && box.width > 1 && box.height > 1 && box.right > 0 && box.bottom > 0
      && box.left < document.documentElement.scrollWidth;
  };
  const inSentence = (el) => {
    if (getComputedStyle(el).display !== 'inline') return false;
    const parent = el.parentElement;
    const text = Array.from(parent.childNodes)
      .filter((n) => n !== el && n.nodeType === Node.TEXT_NODE)
      .map((n) => n.textContent.trim()).join('');
    return text.length > 0;
  };
  const targets = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]');
  for (const el of targets) {
    let box = el.getBoundingClientRect();
    if ((el.type === 'radio' || el.type === 'checkbox') && el.labels && el.labels.length) {
      const label = el.labels[0].getBoundingClientRect();
      if (!visible(el) || label.width * label.height > box.width * box.height) box = label;
    } else if (!visible(el)) {
      continue;
    }
    if (inlineExempt && el.tagName === 'A' && inSentence(el)) continue;
    if (box.width < minimum - 0.5 || box.height < minimum - 0.5) {
      small.push([el.outerHTML.slice(0, 120), Math.round(box.width), Math.round(box.height)]);
    }
  }
  return small;
}"""


def small_targets(page: Any, minimum: int, *, inline_exempt: bool) -> list[Any]:
    return page.evaluate(SMALL_TARGETS_JS, [minimum, inline_exempt])


def scrolls_sideways(page: Any) -> list[str]:
    """What sticks out of the window when the page scrolls horizontally ([] when it does not)."""
    return list(
        page.evaluate(
            """() => {
              const root = document.documentElement;
              if (root.scrollWidth <= root.clientWidth) return [];
              const out = Array.from(document.querySelectorAll('body *'))
                .filter((el) => el.getBoundingClientRect().right > root.clientWidth + 0.5)
                .map((el) => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
                  + ' ' + Math.round(el.getBoundingClientRect().right));
              return out.length ? out.slice(0, 8) : ['(the page)'];
            }"""
        )
    )


def check_page(page: Any, name: str, *, patient: bool | None = None) -> None:
    """Screenshot the page, then require no WCAG 2.2 A/AA violation and large enough targets.

    Targets: at least 44 × 44 CSS px on the patient's tablet pages, 24 × 24 on
    staff pages (*patient* defaults to: the page is a tablet page, hand-off excepted).
    """
    shot(page, name)
    violations = axe_violations(page)
    assert violations == [], f"{name}: {violations}"
    if patient is None:
        patient = bool(page.evaluate("() => document.body.classList.contains('tablet')"))
    minimum = 44 if patient else 24
    assert small_targets(page, minimum, inline_exempt=not patient) == [], name


@dataclass
class Patient:
    """An open assessment of a participant at a site with its coordinator."""

    assessment: Any
    coordinator: Any
    username: str


@pytest.fixture
def patient(db) -> Patient:
    return make_patient()


def make_patient(language: str = "en") -> Patient:
    from django.utils import timezone

    from surveys.models import Trial
    from surveys.trial.setup import trial_create_e2108
    from tests.factories import SiteFactory, coordinator_of, randomize

    trial = Trial.objects.filter(protocol_id="E2108").first() or trial_create_e2108()
    site = SiteFactory()
    username = f"coord_{site.code.lower()}"
    coordinator = coordinator_of(site, username=username)
    participant = randomize(
        trial, site, randomized_on=timezone.localdate(), now=timezone.now(), language=language
    )
    return Patient(participant.assessments.get(visit__is_baseline=True), coordinator, username)


def open_kiosk(context: Any, live_server: Any, patient: Patient, **kwargs: Any) -> Any:
    """Start a hand-off through the service and give this browser the kiosk session cookie."""
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from surveys.tablet.kiosk import kiosk_start
    from surveys.tablet.middleware import SESSION_KEY

    kiosk = kiosk_start(
        assessment_id=patient.assessment.pk,
        started_by=patient.coordinator,
        pin=PIN,
        assistance=kwargs.get("assistance", "none"),
        language=kwargs.get("language"),
        now=timezone.now(),
    )
    store = SessionStore()
    store[SESSION_KEY] = kiosk.token
    store.create()
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": store.session_key, "url": live_server.url}]
    )
    return kiosk


def answer(page: Any, item: str, value: int) -> None:
    page.click(f"label[for='{item}-{value}']")


def wait_saved(page: Any, assessment_id: int) -> None:
    """Every tap on the server: the page's queue is empty and the status says so."""
    page.wait_for_function(f"() => !localStorage.getItem('ecogprom.tablet.queue.{assessment_id}')")
    page.wait_for_selector("[data-save-status][data-state='saved']")
