#!/usr/bin/env python3
"""Vendor htmx and its SSE extension from the npm registry into static/vendor/.

We pin htmx 2.x on purpose: htmx 4 exists, but htmx-ext-sse targets the 2.x
extension API, so upgrading htmx alone would break live updates.

Usage: vendor_htmx.py [--htmx VERSION --sse VERSION] | --check

Standard library only, so no node/npm is needed. Tarballs are verified against
the registry's sha512 `dist.integrity` before anything is written; versions.json
records sha384 SRI hashes of the vendored files so `--check` (and the tests) can
detect local edits offline.
"""
import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent.parent / "static" / "vendor"
VERSIONS_FILE = "versions.json"

# npm package -> (CLI option, {path inside tarball: vendored file name})
PACKAGES = {
    "htmx.org": ("htmx", {"dist/htmx.min.js": "htmx.min.js", "LICENSE": "htmx.LICENSE"}),
    "htmx-ext-sse": ("sse", {"dist/sse.min.js": "htmx-ext-sse.js", "LICENSE": "htmx-ext-sse.LICENSE"}),
}
# Only used when versions.json does not exist yet.
FALLBACK_VERSIONS = {"htmx.org": "2.0.11", "htmx-ext-sse": "2.2.4"}


class VendorError(Exception):
    pass


def sri(algorithm: str, data: bytes) -> str:
    return f"{algorithm}-" + base64.b64encode(hashlib.new(algorithm, data).digest()).decode()


def registry_base() -> str:
    # Same variable npm itself honours, so mirrors/proxies work unchanged.
    return os.environ.get("npm_config_registry", "https://registry.npmjs.org").rstrip("/")


def fetch(url: str) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "direto-vendor-htmx"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.read()
    except urllib.error.HTTPError as exc:  # e.g. 404 for a version that doesn't exist
        raise VendorError(f"GET {url} failed: HTTP {exc.code} {exc.reason}") from None


def verify_integrity(data: bytes, integrity: str, label: str) -> None:
    # An SRI string may list several hashes; we require (and trust) only sha512.
    wanted = [h for h in integrity.split() if h.startswith("sha512-")]
    if not wanted:
        raise VendorError(f"{label}: registry gave no sha512 integrity ({integrity!r})")
    actual = sri("sha512", data)
    if actual not in wanted:
        raise VendorError(f"{label}: tarball integrity mismatch\n  expected {wanted[0]}\n  got      {actual}")


def download(name: str, version: str) -> tuple[dict, dict[str, bytes]]:
    """Return (versions.json entry, {vendored file name: bytes}) for one package."""
    meta = json.loads(fetch(f"{registry_base()}/{name}/{version}"))
    if meta.get("version") != version:
        raise VendorError(f"{name}: asked for {version}, registry answered {meta.get('version')}")
    integrity = meta["dist"]["integrity"]
    tarball = fetch(meta["dist"]["tarball"])
    verify_integrity(tarball, integrity, f"{name}@{version}")

    files = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for src, dest in PACKAGES[name][1].items():
            try:  # npm tarballs put everything under "package/"
                files[dest] = tar.extractfile(f"package/{src}").read()
            except KeyError:
                if src != "LICENSE":
                    raise VendorError(f"{name}@{version}: tarball has no {src}") from None
                # No license file shipped: record what package.json declares.
                files[dest] = (f"{name}@{version} ships no LICENSE file; package.json declares:\n"
                               f"license: {meta.get('license', 'UNKNOWN')}\n"
                               f"author: {meta.get('author', 'UNKNOWN')}\n").encode()
    entry = {"name": name, "version": version, "integrity": integrity,
             "files": {dest: sri("sha384", data) for dest, data in files.items()}}
    return entry, files


def load_versions(vendor_dir: Path) -> dict:
    return json.loads((vendor_dir / VERSIONS_FILE).read_text())


def check(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Return a list of problems (empty if every vendored file matches versions.json)."""
    try:
        packages = load_versions(vendor_dir)["packages"]
    except (OSError, ValueError, KeyError) as exc:
        return [f"cannot read {vendor_dir / VERSIONS_FILE}: {exc}"]
    problems = []
    for pkg in packages:
        for fname, expected in pkg["files"].items():
            path = vendor_dir / fname
            if not path.is_file():
                problems.append(f"{fname} ({pkg['name']}@{pkg['version']}): missing")
            elif (actual := sri("sha384", path.read_bytes())) != expected:
                problems.append(f"{fname} ({pkg['name']}@{pkg['version']}): hash mismatch\n"
                                f"  expected {expected}\n  got      {actual}")
    return problems


def write(results: list[tuple[dict, dict[str, bytes]]], vendor_dir: Path = VENDOR_DIR) -> None:
    vendor_dir.mkdir(parents=True, exist_ok=True)
    for entry, files in results:
        for dest, data in files.items():
            (vendor_dir / dest).write_bytes(data)
        print(f"vendored {entry['name']}@{entry['version']}: {', '.join(files)}")
    doc = {"packages": [entry for entry, _ in results]}
    (vendor_dir / VERSIONS_FILE).write_text(json.dumps(doc, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--htmx", metavar="VERSION", help="htmx.org version (default: versions.json)")
    parser.add_argument("--sse", metavar="VERSION", help="htmx-ext-sse version (default: versions.json)")
    parser.add_argument("--check", action="store_true", help="only verify vendored files offline")
    args = parser.parse_args(argv)

    if args.check:
        problems = check()
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            print("vendored htmx files do not match versions.json; re-run scripts/vendor_htmx.py",
                  file=sys.stderr)
            return 1
        print("vendored htmx files match versions.json")
        return 0

    recorded = FALLBACK_VERSIONS
    if (VENDOR_DIR / VERSIONS_FILE).exists():
        recorded = {p["name"]: p["version"] for p in load_versions(VENDOR_DIR)["packages"]}
    wanted = {name: getattr(args, opt) or recorded[name] for name, (opt, _) in PACKAGES.items()}
    try:  # download and verify everything first, so any failure leaves the disk untouched
        results = [download(name, version) for name, version in wanted.items()]
    except (VendorError, OSError, KeyError, ValueError, tarfile.TarError) as exc:
        # OSError covers network failures (urllib's URLError, timeouts).
        print(f"error: {exc}\nnothing was written", file=sys.stderr)
        return 1
    write(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
