"""Cross-cutting pieces of the web layer: security headers, languages, health, page-or-fragment rendering."""
