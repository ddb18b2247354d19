"""MkDocs hook: list the generated benchmark pages under docs/results/ on its index page.

The pages are written by ``archscore bench <name> --out DIR`` (``DIR/results.md``)
and copied to ``docs/results/<name>.md``; nobody edits the index when one is
added, so the list is built here at build time.
"""

from __future__ import annotations

import posixpath

INDEX = "results/index.md"


def _title(markdown: str, fallback: str) -> str:
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != INDEX:
        return markdown
    pages = [f for f in files.documentation_pages() if f.src_uri.startswith("results/") and f.src_uri != INDEX]
    if not pages:
        return markdown + "No results page has been generated yet.\n"
    items = []
    for f in sorted(pages, key=lambda f: f.src_uri):
        link = posixpath.relpath(f.src_uri, "results")
        items.append(f"- [{_title(f.content_string, link)}]({link}) (`{f.src_uri}`)")
    return markdown + "\n".join(items) + "\n"
