"""Markdown (CONTRIBUTING.md, dataset cards, submission READMEs) to HTML that is safe to inline in a page.

Takes markdown text; produces HTML through markdown-it-py (CommonMark + tables) with raw HTML disabled, so `<script>`
in the source shows as text. On top of markdown-it's own link check (no `javascript:`/`vbscript:`/`file:`/`data:`):
- images are never loaded from elsewhere (the site makes no external requests): an image becomes a link to it;
- relative links point into the repository, not the site: with a repository URL they are rewritten to it, without
  one they become plain text rather than broken links;
- headings move down `shift` levels, so a document's `#` title sits under the page's own <h1>, and get ids.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

_ABSOLUTE = re.compile(r"^(?:https?:|mailto:)", re.IGNORECASE)


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _rewrite(tokens: list[Token], repo_url: str | None, shift: int, ids: set[str]) -> None:
    for i, tok in enumerate(tokens):
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(6, int(tok.tag[1]) + shift)}"
            if tok.type == "heading_open":
                inline = tokens[i + 1]
                base = "doc-" + _slugify(inline.content)
                anchor, n = base, 2
                while anchor in ids:
                    anchor, n = f"{base}-{n}", n + 1
                ids.add(anchor)
                tok.attrSet("id", anchor)
        if tok.children:
            _rewrite_inline(tok.children, repo_url)


def _rewrite_inline(children: list[Token], repo_url: str | None) -> None:
    for j, tok in enumerate(children):
        if tok.type == "image":
            src = str(tok.attrGet("src") or "")
            alt = tok.content or src
            url = src if _ABSOLUTE.match(src) else (f"{repo_url.rstrip('/')}/{src.lstrip('./')}" if repo_url else None)
            text = Token("text", "", 0, content=f"[image: {alt}]")
            if url:
                opening = Token("link_open", "a", 1, attrs={"href": url})
                children[j : j + 1] = [opening, text, Token("link_close", "a", -1)]
            else:
                children[j] = text
        elif tok.type == "link_open":
            href = str(tok.attrGet("href") or "")
            if href.startswith("#") or _ABSOLUTE.match(href):
                continue
            if repo_url and href and not re.match(r"^[a-z][a-z0-9+.-]*:", href, re.IGNORECASE):
                tok.attrSet("href", f"{repo_url.rstrip('/')}/{href.lstrip('./')}")
            else:
                # No repository to point at: keep the words, drop the dead link.
                tok.type, tok.tag, tok.attrs = "span_open", "span", {"class": "dead-link"}
                close = next(k for k in range(j + 1, len(children)) if children[k].type == "link_close")
                children[close].type, children[close].tag = "span_close", "span"


def render_markdown(text: str, repo_url: str | None = None, shift: int = 1) -> Markup:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    env: dict = {}
    tokens = md.parse(text, env)
    _rewrite(tokens, repo_url, shift, set())
    return Markup(md.renderer.render(tokens, md.options, env))
