"""Offline checks that the vendored htmx files match static/vendor/versions.json."""
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "vendor_htmx.py"

# scripts/ is not a package, so load the module straight from its file.
_spec = importlib.util.spec_from_file_location("vendor_htmx", SCRIPT)
vendor_htmx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vendor_htmx)


def test_vendored_files_match_recorded_hashes():
    assert vendor_htmx.check() == []
    # Also exercise the real CLI entry point; --check never touches the network.
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_check_reports_tampered_file(tmp_path):
    vendor = tmp_path / "vendor"
    shutil.copytree(vendor_htmx.VENDOR_DIR, vendor)
    assert vendor_htmx.check(vendor) == []

    target = vendor / "htmx-ext-sse.js"
    data = bytearray(target.read_bytes())
    data[0] ^= 0x01  # flip one bit
    target.write_bytes(bytes(data))

    problems = vendor_htmx.check(vendor)
    assert len(problems) == 1
    assert "htmx-ext-sse.js" in problems[0] and "hash mismatch" in problems[0]


def test_check_reports_missing_file(tmp_path):
    vendor = tmp_path / "vendor"
    shutil.copytree(vendor_htmx.VENDOR_DIR, vendor)
    (vendor / "htmx.min.js").unlink()
    assert any("htmx.min.js" in p and "missing" in p for p in vendor_htmx.check(vendor))
