"""扫描二维码 in Chromium: a fake camera films a QR code and the URL field fills.

Chromium's fake capture device plays a Y4M file, made here from a QR picture. Desktop
Linux Chromium has no ``BarcodeDetector``, so this exercises the fallback that sends
frames to ``/api/decode``; where the detector exists the page uses it instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from suolink.qr import encode
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS, Server, sync_api
from tests.http_scenarios import BROWSER, TOKEN

SCANNED = "https://example.org/seen-by-the-camera"


def _y4m(picture: Path, target: Path, size: int = 480) -> None:
    """One frame of YUV 4:2:0 video holding ``picture`` centred on white."""
    frame = Image.new("RGB", (size, size), "white")
    qr = Image.open(picture).convert("RGB")
    qr.thumbnail((size - 80, size - 80))
    frame.paste(qr, ((size - qr.width) // 2, (size - qr.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (size // 2, size // 2)
    data = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    header = f"YUV4MPEG2 W{size} H{size} F10:1 Ip A1:1 C420jpeg\n".encode()
    target.write_bytes(header + b"FRAME\n" + data)


@pytest.fixture(scope="module")
def camera_browser(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("camera")
    (folder / "qr.png").write_bytes(encode(SCANNED, scale=10))
    _y4m(folder / "qr.png", folder / "qr.y4m")
    args = [
        *LAUNCH_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={folder / 'qr.y4m'}",
    ]
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield chromium
        finally:
            chromium.close()


def test_scanning_with_the_camera_fills_the_url(camera_browser: Any, server: Server) -> None:
    context = camera_browser.new_context(
        user_agent=BROWSER, extra_http_headers={"Accept-Language": "en"}
    )
    context.grant_permissions(["camera"], origin=server.url)
    page = context.new_page()
    page.goto(server.url + "/")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Scan a QR code").click()
    page.wait_for_function("() => document.getElementById('url').value !== ''", timeout=20_000)
    assert page.get_by_label("Long URL").input_value() == SCANNED
    assert page.locator("#camera").is_hidden()  # the camera stops once a code is read
    assert page.get_by_role("button", name="Scan a QR code").is_visible()
