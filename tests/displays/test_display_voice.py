"""The hall display's voice switch in headless Chromium against a real server process: it tells the
truth about sound. A kiosk-mode screen (Chromium with --autoplay-policy=no-user-gesture-required)
speaks at once and says 语音播报 开; a plain Chromium waits for a first tap, and until then the switch
says so (点击开启语音) instead of claiming the voice is on."""
from __future__ import annotations

from typing import Any

from tests.browser import ARGS, CHROMIUM, SHOTS
from tests.displays.conftest import CENTER, SIZES, Server
from tests.displays.test_pages import until

AUTOPLAY = "--autoplay-policy=no-user-gesture-required"


async def voice_label(page: Any) -> tuple[str, str]:
    return await page.get_attribute("#voice", "data-voice"), " ".join((await page.inner_text("#voice")).split())


async def test_display_voice_switch_tells_when_the_browser_waits_for_a_tap(server: Server, open_page: Any, browser: Any) -> None:
    url = f"{server.url}/display/{CENTER}?token={await server.token('display')}"
    # A kiosk-mode screen (Chromium started with the autoplay flag, as the test browser is): on at once.
    allowed = await open_page("display", url)
    await until(allowed.page, "document.querySelector('#voice').dataset.voice === 'on'")
    assert await voice_label(allowed.page) == ("on", "语音播报 开 Voice on")
    assert await allowed.page.locator("#audio-hint").is_hidden()

    # A plain Chromium: audio waits for a first tap, and the switch says so until then.
    args = [a for a in ARGS if a != AUTOPLAY]
    plain = await browser.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    try:
        context = await plain.new_context(viewport=SIZES["display"], locale="zh-CN", timezone_id="Asia/Shanghai")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(url)
        await until(page, "document.querySelector('#voice').dataset.voice === 'blocked'")
        await page.wait_for_timeout(500)
        state, label = await voice_label(page)
        assert (state, label) == ("blocked", "点击开启语音 Tap to enable voice")
        assert await page.get_attribute("#voice", "aria-pressed") == "false"
        await page.screenshot(path=str(SHOTS / "display-voice-blocked.png"))
        await page.click("#voice")   # the tap that lets it speak: voice on, not off
        await until(page, "document.querySelector('#voice').dataset.voice === 'on'")
        assert await voice_label(page) == ("on", "语音播报 开 Voice on")
        assert await page.get_attribute("#voice", "aria-pressed") == "true"
        await page.click("#voice")   # now the switch turns the voice off
        await until(page, "document.querySelector('#voice').dataset.voice === 'off'")
        assert await voice_label(page) == ("off", "语音播报 关 Voice off")
        assert not errors, errors
    finally:
        await plain.close()
    allowed.assert_clean()
