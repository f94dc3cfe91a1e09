"""Headless Chromium for tests that must see a page as a reader would: Debian's `chromium`, installed with
apt-get when missing (as root), else the test is skipped with the reason."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars",
         # Any request beyond the page itself goes to a closed port and fails: the page must stand alone.
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("headless Chromium is not installed and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    installed = subprocess.run("apt-get update -q && apt-get install -y -q chromium", shell=True, env=env,
                               capture_output=True, text=True, timeout=900)
    found = shutil.which("chromium")
    if installed.returncode != 0 or not found:
        pytest.skip(f"could not install Debian's chromium: {installed.stderr.strip()[-300:]}")
    return found


def _run(page: Path, *action: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *action, page.as_uri()],
                       check=True, capture_output=True, timeout=120)


def screenshot(page: Path, out: Path, *, width: int = 1200, height: int = 4000) -> Path:
    _run(page, f"--screenshot={out}", f"--window-size={width},{height}")
    return out


def print_to_pdf(page: Path, out: Path) -> Path:
    _run(page, f"--print-to-pdf={out}", "--no-pdf-header-footer")
    return out
