"""A marketer builds a segment in a real browser: rows added through htmx, the live estimate
updating as they type, then the saved segment in the list."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.core.roles import Role
from apps.segments.estimates import segment_estimate
from apps.segments.models import Segment
from tests.accounts.factories import UserFactory
from tests.e2e.conftest import log_in
from tests.segments.factories import EventFactory, ProfileFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _seed() -> None:
    """Three people qualify: Indians who were Charged more than 100 in the last 30 days."""
    now = timezone.now()

    def person(identity: str, country: str, amount: float, days_ago: int) -> None:
        profile = ProfileFactory(identity=identity, name=identity.title(), country=country)
        EventFactory(
            profile=profile,
            name="Charged",
            ts=now - timedelta(days=days_ago),
            properties={"Amount": amount},
        )

    person("asha", "India", 250, 2)
    person("ravi", "India", 101, 29)
    person("meera", "India", 1000, 10)
    person("kiran", "India", 100, 3)  # not more than 100
    person("dev", "India", 500, 45)  # too long ago
    person("jean", "France", 900, 1)  # not in India
    ProfileFactory(identity="nobody", country="India")  # never Charged


def _estimate_total(page) -> str:
    return page.locator("#estimate-total").get_attribute("data-total")


def test_a_marketer_builds_a_segment_and_watches_the_estimate(page, screenshot):
    cache.clear()  # estimates are cached in Redis per definition: count this test's data
    UserFactory(username="mia", role=Role.MARKETER)
    _seed()
    log_in(page, "mia")

    page.goto("/segments/")
    page.click("text=New segment")
    page.wait_for_selector("h1:has-text('New segment')")
    page.wait_for_function("document.querySelector('#estimate-total')?.dataset.total === '7'")

    page.fill("input[name=name]", "Indian big spenders")
    page.click("button:has-text('+ Event condition')")
    page.wait_for_selector("input[name=cond-0-event]")
    page.fill("input[name=cond-0-event]", "Charged")
    page.select_option("select[name=cond-0-period]", "last_days")
    page.fill("input[name=cond-0-days]", "30")
    page.wait_for_function("document.querySelector('#estimate-total')?.dataset.total === '5'")

    page.click("#section-behaviour button:has-text('+ Event property filter')")
    page.wait_for_selector("input[name=cond-0-prop-0-name]")
    assert page.input_value("input[name=cond-0-days]") == "30"  # the swap kept what was typed
    page.fill("input[name=cond-0-prop-0-name]", "Amount")
    page.select_option("select[name=cond-0-prop-0-operator]", "greater_than")
    page.fill("input[name=cond-0-prop-0-value]", "100")
    page.wait_for_function("document.querySelector('#estimate-total')?.dataset.total === '4'")

    page.click("button:has-text('+ Profile property filter')")
    page.wait_for_selector("input[name=profile-0-name]")
    page.fill("input[name=profile-0-name]", "Country")
    page.fill("input[name=profile-0-value]", "India")
    page.wait_for_function("document.querySelector('#estimate-total')?.dataset.total === '3'")
    estimate = page.locator("#estimate").inner_text()
    assert "Asha" in estimate and "Meera" in estimate and "Ravi" in estimate
    assert "Kiran" not in estimate and "Jean" not in estimate
    screenshot(page, "segment-builder-estimate")

    page.get_by_role("button", name="Save segment").click()
    page.wait_for_selector("h1:has-text('Indian big spenders')")
    assert "Did Charged at least once in the last 30 days where Amount > 100" in page.inner_text(
        "main"
    )
    segment = Segment.objects.get(name="Indian big spenders")
    assert segment.definition["profile"] == [
        {"name": "Country", "operator": "equals", "value": "India"}
    ]

    page.click("text=Refresh reach")
    page.wait_for_selector("#reach-total:has-text('3')")
    screenshot(page, "segment-detail")

    page.goto("/segments/")
    row = page.locator("tr", has_text="Indian big spenders")
    assert "3" in row.inner_text() and "mia" in row.inner_text()
    screenshot(page, "segment-list")

    # On a phone the builder's rows wrap instead of widening the page.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/segments/{segment.pk}/edit/")
    page.wait_for_selector("input[name=cond-0-prop-0-value]")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "segment-builder-phone")


def test_a_bad_radius_is_shown_beside_its_field_and_in_the_estimate(page, screenshot):
    cache.clear()
    UserFactory(username="mia", role=Role.MARKETER)
    log_in(page, "mia")

    page.goto("/segments/new/")
    page.fill("input[name=name]", "Near Atlantis")
    page.click("button:has-text('+ Centre')")
    page.wait_for_selector("input[name=radius-0-label]")
    page.fill("input[name=radius-0-label]", "Atlantis")  # not a known city, no coordinates
    page.wait_for_selector("#estimate-errors:has-text('Radius centre 1')")

    page.get_by_role("button", name="Save segment").click()
    error = page.locator("#radius-0-latitude-error")
    error.wait_for()
    assert error.is_visible() and "centre" in error.inner_text()
    assert page.input_value("input[name=radius-0-label]") == "Atlantis"
    screenshot(page, "segment-builder-error")

    page.fill("input[name=radius-0-label]", "Paris, France")  # a demo city: its centre is used
    page.get_by_role("button", name="Save segment").click()
    page.wait_for_selector("h1:has-text('Near Atlantis')")
    assert "Within 25 km of Paris, France" in page.inner_text("main")
    assert Segment.objects.get(name="Near Atlantis").definition["radius"][0]["latitude"] == 48.8566


def _seed_carts() -> None:
    """Carts of the last week; three of them were not followed by Charged within a day (of those
    whose day has elapsed)."""
    now = timezone.now()

    def person(identity: str, *events: tuple[str, timedelta]) -> None:
        profile = ProfileFactory(identity=identity, name=identity.title())
        for name, ago in events:
            EventFactory(profile=profile, name=name, ts=now - ago)

    cart, charged = "Added To Cart", "Charged"
    person("ana", (cart, timedelta(days=2)))  # never charged
    person("ben", (cart, timedelta(days=3)), (charged, timedelta(days=3, hours=-2)))  # bought
    person("cai", (cart, timedelta(days=5)), (charged, timedelta(days=3)))  # two days later
    person("dee", (cart, timedelta(days=10)))  # cart too long ago
    person("eve", (cart, timedelta(hours=1)))  # no charge yet, but its day has not elapsed
    person(
        "fay",
        (cart, timedelta(days=4)),
        (charged, timedelta(days=4, minutes=-30)),
        (cart, timedelta(days=2)),  # this later cart was left
    )
    ProfileFactory(identity="gus")  # no cart at all


def test_a_marketer_builds_an_abandoned_cart_segment(page, screenshot):
    cache.clear()
    UserFactory(username="mia", role=Role.MARKETER)
    _seed_carts()
    log_in(page, "mia")

    page.goto("/segments/new/")
    page.fill("input[name=name]", "Abandoned carts")
    page.click("button:has-text('+ Event condition')")
    page.wait_for_selector("input[name=cond-0-event]")
    page.fill("input[name=cond-0-event]", "Added To Cart")
    page.select_option("select[name=cond-0-period]", "last_days")
    page.fill("input[name=cond-0-days]", "7")
    page.wait_for_function("document.querySelector('#estimate-total')?.dataset.total === '5'")

    page.fill("input[name=cond-0-nf_event]", "Charged")
    page.fill("input[name=cond-0-nf_n]", "1")
    page.select_option("select[name=cond-0-nf_unit]", "days")
    page.wait_for_function("document.querySelector('#estimate-total')?.dataset.total === '3'")
    shown_total = int(page.locator("#estimate-total").get_attribute("data-total"))
    estimate = page.locator("#estimate").inner_text()
    assert "Ben" not in estimate and "Dee" not in estimate and "Eve" not in estimate
    screenshot(page, "segment-builder-not-followed-by")

    # "Did not do" has no occurrence to follow: the fields are hidden, without JavaScript.
    page.select_option("select[name=cond-0-did]", "did_not")
    assert not page.locator("input[name=cond-0-nf_event]").is_visible()
    page.select_option("select[name=cond-0-did]", "did")
    assert page.locator("input[name=cond-0-nf_event]").is_visible()

    page.get_by_role("button", name="Save segment").click()
    page.wait_for_selector("h1:has-text('Abandoned carts')")
    assert (
        "Did Added To Cart at least once in the last 7 days, not followed by Charged within 1 day"
        in page.inner_text("main")
    )
    definition = Segment.objects.get(name="Abandoned carts").definition
    (condition,) = definition["behaviour"]["conditions"]
    assert condition["not_followed_by"] == {
        "event": "Charged",
        "within_minutes": 1440,
        "properties": [],
    }
    assert segment_estimate(definition=definition, use_cache=False).total == shown_total == 3

    # Editing it again on a phone: the window reads back as typed and the row wraps.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/segments/{Segment.objects.get(name='Abandoned carts').pk}/edit/")
    assert page.input_value("input[name=cond-0-nf_n]") == "1"
    assert page.input_value("select[name=cond-0-nf_unit]") == "days"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, "segment-builder-not-followed-by-phone")
