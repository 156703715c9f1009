"""Campaign and gift pages: the catalog, making and starting a campaign, redemptions, the report, and roles."""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))  # the campaign test builders
from helpers_campaigns import T0, add_customer, add_order, add_run  # noqa: E402

from ravingfans.clock import fixed  # noqa: E402
from ravingfans.config import Settings  # noqa: E402
from ravingfans.db import Database  # noqa: E402
from ravingfans.db.models import Campaign, CampaignMember, Gift, OutboxMessage  # noqa: E402
from ravingfans.services.business import BusinessChange, save_business  # noqa: E402
from ravingfans.services.campaigns import close_campaign, create_campaign, start_campaign  # noqa: E402
from ravingfans.services.gifts import add_gift  # noqa: E402
from ravingfans.web.pages.campaigns import interval_chart  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ClientAs = Callable[[str], TestClient]


@pytest.fixture
def lost(db: Database, web_settings: Settings, shop: Any) -> list[int]:
    """40 lost customers who agreed to e-mail, in a scoring run, and a postal address for marketing mail."""
    with db.session(write=True) as s:
        ids = [add_customer(s, f"Lost{n}") for n in range(40)]
        add_run(s, {c: "Lost" for c in ids} | {shop.grace: "Champions"})
        save_business(s, web_settings, BusinessChange(business_name="Shoe & Co", business_address="1 Main St",
                                                      time_zone="Asia/Tokyo", currency="EUR"), user_id=None)
    return ids


def _gift(db: Database, name: str = "Ten off") -> int:
    with db.session(write=True) as s:
        return add_gift(s, name=name, kind="discount_code", code="BACK10", value="10").id


# --- the gift catalog ------------------------------------------------------------------------------------------------


def test_managers_add_and_retire_gifts_staff_only_read(client_as: ClientAs, db: Database) -> None:
    manager, staff = client_as("manager"), client_as("staff")
    page = manager.get("/gifts")
    assert page.status_code == 200 and 'id="gift-form"' in page.text and "No gifts yet." in page.text
    added = manager.post("/gifts", data={"name": "Ten off", "kind": "discount_code", "code": "BACK10", "value": "10"})
    assert added.status_code == 303 and added.headers["location"] == "/gifts?saved=added"
    listed = staff.get("/gifts")
    assert "Ten off" in listed.text and "BACK10" in listed.text and "€10.00" in listed.text
    assert 'id="gift-form"' not in listed.text and "/retire" not in listed.text
    assert staff.post("/gifts", data={"name": "X", "kind": "voucher", "value": "5"}).status_code == 403
    with db.session() as s:
        gift_id = s.scalar(select(Gift.id).where(Gift.name == "Ten off"))
    assert staff.post(f"/gifts/{gift_id}/retire").status_code == 403
    assert manager.post(f"/gifts/{gift_id}/retire").status_code == 303
    assert "retired" in manager.get("/gifts").text


def test_a_bad_gift_shows_the_form_again_with_the_problem(client_as: ClientAs) -> None:
    manager = client_as("manager")
    bad = manager.post("/gifts", data={"name": "Half off", "kind": "discount_code", "code": "", "value": "5"})
    assert bad.status_code == 422
    assert 'data-field="code"' in bad.text and "needs its code and its value" in bad.text
    assert 'value="Half off"' in bad.text and 'aria-invalid="true"' in bad.text
    assert manager.post("/gifts", data={"name": "Half off", "kind": "voucher", "value": "5"}).status_code == 303
    again = manager.post("/gifts", data={"name": "half off", "kind": "voucher", "value": "5"})
    assert again.status_code == 422 and "already a gift called" in again.text and 'data-field="name"' in again.text


# --- a campaign from start to report -----------------------------------------------------------------------------


def test_a_manager_makes_previews_and_starts_a_campaign_staff_redeem(client_as: ClientAs, db: Database,
                                                                     lost: list[int]) -> None:
    gift = _gift(db)
    manager, staff = client_as("manager"), client_as("staff")
    form = manager.get("/campaigns/new")
    assert form.status_code == 200 and "Ten off (discount code)" in form.text
    assert staff.get("/campaigns/new").status_code == 403
    made = manager.post("/campaigns", data={
        "name": "Come back", "kind": "win_back", "gift_id": str(gift), "segments_win_back": ["Lost"],
        "segments_appreciation": ["Champions"], "delivery": "email", "holdout_share": "25", "window_days": "30",
        "seed": "42", "message": "We restocked your size."})
    assert made.status_code == 303
    campaign_url = made.headers["location"].split("?")[0]
    cid = int(campaign_url.rsplit("/", 1)[1])
    with db.session() as s:
        campaign = s.get(Campaign, cid)
        assert campaign is not None and campaign.audience == {"segments": ["Lost"], "slipping": False}
        assert campaign.holdout_share == 0.25 and campaign.seed == 42 and campaign.status == "draft"
    draft = staff.get(campaign_url)
    assert draft.status_code == 200 and "Come back" in draft.text and 'id="preview-form"' not in draft.text
    assert staff.post(f"{campaign_url}/preview").status_code == 403
    preview = manager.post(f"{campaign_url}/preview")
    assert preview.status_code == 200 and "Would start campaign" in preview.text
    assert re.search(r"Treated: get the gift</td><td class=\"num\">30<", preview.text)
    assert re.search(r"Held out: no gift, for comparison</td><td class=\"num\">10<", preview.text)
    with db.session() as s:
        assert s.scalar(select(CampaignMember.id).limit(1)) is None
    assert staff.post(f"{campaign_url}/start", data={"confirm": "yes"}).status_code == 403
    started = manager.post(f"{campaign_url}/start", data={"confirm": "yes"})
    assert started.status_code == 303 and started.headers["location"].endswith("saved=started")
    again = manager.post(f"{campaign_url}/start", data={"confirm": "yes"})
    assert again.headers["location"].endswith("saved=running")
    with db.session() as s:
        assert len(s.scalars(select(OutboxMessage.id)).all()) == 30
        treated = s.scalar(select(CampaignMember.customer_id).where(CampaignMember.campaign_id == cid,
                                                                    CampaignMember.group == "treated"))
    running = staff.get(campaign_url)
    assert "30 treated, 10 held out" in running.text and 'id="redeem-form"' in running.text
    assert 'id="close-form"' not in running.text and 'id="members"' in running.text
    redeemed = staff.post(f"{campaign_url}/redemptions", data={"customer_id": str(treated), "order_id": ""})
    assert redeemed.status_code == 303 and redeemed.headers["location"].endswith("saved=redeemed")
    assert "Redemption recorded." in staff.get(redeemed.headers["location"]).text
    assert staff.post(f"{campaign_url}/redemptions", data={"customer_id": str(treated)}).headers[
        "location"].endswith("saved=already")
    bad = staff.post(f"{campaign_url}/redemptions", data={"customer_id": "abc"})
    assert bad.status_code == 422 and "Customer: write a whole number." in bad.text
    assert staff.post(f"{campaign_url}/close").status_code == 403
    closed = manager.post(f"{campaign_url}/close")
    assert closed.status_code == 303
    report = staff.get(f"{campaign_url}")
    assert 'id="report"' in report.text and 'id="groups"' in report.text and "Did the gift work?" in report.text
    assert "Not enough customers to tell" in report.text  # 10 held out is too few for a verdict
    listing = staff.get("/campaigns")
    assert "Come back" in listing.text and "Not enough customers to tell" in listing.text


def test_a_bad_campaign_shows_the_form_again(client_as: ClientAs, db: Database, lost: list[int]) -> None:
    gift = _gift(db)
    manager = client_as("manager")
    bad = manager.post("/campaigns", data={"name": "Thanks", "kind": "appreciation", "gift_id": str(gift),
                                           "segments_win_back": ["Lost"], "delivery": "email"})
    assert bad.status_code == 422 and 'data-field="segments"' in bad.text
    assert "choose at least one segment" in bad.text and 'value="Thanks"' in bad.text
    share = manager.post("/campaigns", data={"name": "Back", "kind": "win_back", "gift_id": str(gift),
                                             "slipping": "yes", "holdout_share": "80", "delivery": "email"})
    assert share.status_code == 422 and "Hold-out share" in share.text
    ok = manager.post("/campaigns", data={"name": "Back", "kind": "win_back", "gift_id": str(gift),
                                          "slipping": "yes", "delivery": "email"})
    assert ok.status_code == 303
    taken = manager.post("/campaigns", data={"name": "back", "kind": "win_back", "gift_id": str(gift),
                                             "slipping": "yes", "delivery": "email"})
    assert taken.status_code == 422 and 'data-field="name"' in taken.text


def test_the_report_shows_the_groups_side_by_side_and_the_interval(client_as: ClientAs, db: Database,
                                                                  web_settings: Settings) -> None:
    import numpy as np

    with db.session(write=True) as s:
        ids = [add_customer(s, f"C{n}") for n in range(600)]
        add_run(s, {c: "At Risk" for c in ids})
        gift = add_gift(s, name="Socks", kind="free_item", description="Wool socks").id
        cid = create_campaign(s, web_settings, name="Socks for all", kind="win_back", gift_id=gift,
                              segments=["At Risk"], holdout_share=0.5, seed=3, delivery="task", window_days=30,
                              clock=fixed(T0)).id
        start_campaign(s, web_settings, cid, clock=fixed(T0))
        rng = np.random.default_rng(4)
        for member in s.scalars(select(CampaignMember).where(CampaignMember.campaign_id == cid)
                                .order_by(CampaignMember.customer_id)):
            if rng.random() < (0.45 if member.group == "treated" else 0.20):
                add_order(s, member.customer_id, T0 + timedelta(days=3), "30.00")
        close_campaign(s, web_settings, cid, clock=fixed(T0 + timedelta(days=31)))
    page = client_as("staff").get(f"/campaigns/{cid}")
    assert page.status_code == 200
    assert "Won back " in page.text and "more customers per 100" in page.text
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="rate-interval"' in page.text
    assert 'id="revenue-interval"' in page.text and 'role="img"' in page.text
    assert re.search(r"<th scope=\"row\">Customers</th><td class=\"num\">300</td><td class=\"num\">300</td>",
                     page.text)
    assert "Incremental revenue (per customer × 300 treated)" in page.text
    assert "<script" not in page.text.split("</head>")[1] and "style=" not in page.text
    assert "Tasks for staff</dt><dd>300 (0 done)" in page.text


def test_interval_chart_draws_zero_the_bar_and_the_estimate() -> None:
    svg = str(interval_chart(-3.0, 4.0, 11.0, chart_id="c<1>", title='A "title"', describe="d", label="+4"))
    assert svg.startswith("<svg") and 'id="c&lt;1&gt;"' in svg and "A &quot;title&quot;" in svg
    bar = re.search(r'<rect class="bar" x="([\d.]+)" y="22" width="([\d.]+)"', svg)
    zero = re.search(r'<line class="axis" x1="([\d.]+)" y1="8"', svg)
    assert bar and zero
    left, width, at_zero = float(bar.group(1)), float(bar.group(2)), float(zero.group(1))
    assert left < at_zero < left + width  # the interval crosses zero
    harm = str(interval_chart(-9.0, -6.0, -2.0, chart_id="h", title="t", describe="d", label="-6"))
    assert 'class="bar negative"' in harm


def test_unknown_campaign_is_a_404(client_as: ClientAs) -> None:
    staff = client_as("staff")
    assert staff.get("/campaigns/999").status_code == 404
    assert staff.get("/campaigns").status_code == 200


@pytest.mark.browser
def test_campaign_pages_have_no_serious_accessibility_violations(live_server: Any, db: Database,
                                                                 web_settings: Settings, lost: list[int]) -> None:
    from signin import sign_in_page
    from test_web_accessibility import CHROMIUM, playwright_api, serious_violations

    gift = _gift(db)
    with db.session(write=True) as s:
        draft = create_campaign(s, web_settings, name="Draft", kind="win_back", gift_id=gift, slipping=True).id
        running = create_campaign(s, web_settings, name="Running", kind="win_back", gift_id=gift,
                                  segments=["Lost"], delivery="task", holdout_share=0.5).id
        start_campaign(s, web_settings, running)
        closed = create_campaign(s, web_settings, name="Closed", kind="win_back", gift_id=gift,
                                 segments=["Lost"], delivery="task", holdout_share=0.5, seed=2).id
        start_campaign(s, web_settings, closed)
        close_campaign(s, web_settings, closed)
    pages = ["/campaigns", "/campaigns/new", f"/campaigns/{draft}", f"/campaigns/{running}",
             f"/campaigns/{closed}", "/gifts"]
    report: dict[str, list[str]] = {}
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_context(base_url=live_server.url, bypass_csp=True).new_page()
            sign_in_page(tab)
            for path in pages:
                tab.goto(path)
                report[path] = serious_violations(tab)
            tab.goto(f"/campaigns/{draft}")
            tab.get_by_role("button", name="Count who it reaches").click()
            tab.wait_for_selector("#preview")
            report["preview"] = serious_violations(tab)
            assert tab.locator("#rate-interval").count() == 0
            tab.goto(f"/campaigns/{closed}")
            assert tab.locator("#rate-interval").is_visible()
        finally:
            browser.close()
    assert set(report) == {*pages, "preview"}
    assert {path: found for path, found in report.items() if found} == {}
