"""Dashboard in a real browser (Playwright driving Debian's chromium): a replayed call's alerts appear."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from test_server import TOKEN, Server, kinds, stream_call

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian chromium not installed (set-up installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


def test_replayed_call_alerts_appear_on_the_dashboard(browser, server: Server, calls_dir: Path) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.http}/#token={TOKEN}")
    page.wait_for_function("document.getElementById('status').textContent === 'live'", timeout=10_000)
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(r=stream_call(server, "browser-call", calls_dir / "en_cold.wav", 20)))
    t.start()
    t.join(60)
    msgs, code, _ = result["r"]
    assert code == 1000
    expected = kinds(msgs)
    page.wait_for_function(f"document.querySelectorAll('#alerts li').length >= {len(expected)}", timeout=10_000)
    shown = page.eval_on_selector_all("#alerts li", "els => els.map(e => e.dataset.kind)")
    assert sorted(shown) == sorted(expected)
    assert shown.count("agent_interrupts") == 2 and "dead_air" in shown
    row = page.locator('tr.call[data-call="browser-call"]')
    assert row.count() == 1
    assert "ended" in (row.get_attribute("class") or "")
    assert row.locator("td.n-alerts").inner_text() == str(len(expected))
    row.click()  # drill-down: the call's own alerts and meters
    page.wait_for_selector("#detail:not([hidden])", timeout=5_000)
    assert "browser-call" in page.inner_text("#detail-id")
    assert page.locator("#detail-alerts li").count() == len(expected)
    assert "overtalk" in page.inner_text("#detail-meters")
    assert errors == []
    page.close()


def test_dashboard_with_a_wrong_token_asks_for_one(browser, server: Server) -> None:
    page = browser.new_page()
    page.goto(f"{server.http}/#token=wrong")
    page.wait_for_selector("#tokenbox:not([hidden])", timeout=10_000)
    assert page.inner_text("#status") == "disconnected"
    page.close()
