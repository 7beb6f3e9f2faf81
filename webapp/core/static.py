"""Static files carry their modification time in the URL, so a deploy never serves yesterday's CSS or JS."""
from __future__ import annotations

import os

from flask import Flask


def init_app(app: Flask) -> None:
    versions: dict[str, int] = {}

    @app.url_defaults
    def static_version(endpoint, values):
        if endpoint != "static" or "filename" not in values or "v" in values:
            return
        filename = values["filename"]
        if filename not in versions or app.debug:
            try:
                versions[filename] = int(os.stat(os.path.join(app.static_folder, filename)).st_mtime)
            except OSError:
                return
        values["v"] = versions[filename]
