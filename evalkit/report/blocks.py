"""A tiny document model rendered to both HTML and Markdown, so the two formats never drift apart.

Inline content is a string or a list of parts (str, Code, Link, Strong). Blocks are the dataclasses
below. HTML output is escaped and uses <th scope> headers; Markdown output is GitHub-flavoured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

from evalkit.report.figures import SvgFigure


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Link:
    text: str
    href: str


Part = str | Code | Strong | Link
Inline = str | Code | Strong | Link | list


@dataclass
class Heading:
    level: int
    text: str
    anchor: str | None = None


@dataclass
class Para:
    content: Inline
    css: str | None = None


@dataclass
class Banner:
    text: str


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Inline]]
    numeric: set[int] = field(default_factory=set)
    caption: str | None = None
    row_headers: bool = True


@dataclass
class Fig:
    figure: SvgFigure


@dataclass
class BulletList:
    items: list[Inline]


@dataclass
class Pre:
    text: str


@dataclass
class Details:
    summary: str
    blocks: list


Block = Heading | Para | Banner | Table | Fig | BulletList | Pre | Details

_SAFE_HREF = re.compile(r"^(https?://|#)[^\s\"'<>]*$")


def _parts(content: Inline) -> list[Part]:
    return list(content) if isinstance(content, list) else [content]


# --------------------------------------------------------------------------- HTML


def inline_html(content: Inline) -> str:
    out = []
    for p in _parts(content):
        if isinstance(p, Code):
            out.append(f"<code>{escape(p.text)}</code>")
        elif isinstance(p, Strong):
            out.append(f"<strong>{escape(p.text)}</strong>")
        elif isinstance(p, Link):
            if _SAFE_HREF.match(p.href):
                out.append(f'<a href="{escape(p.href)}">{escape(p.text)}</a>')
            else:
                out.append(escape(p.text))
        else:
            out.append(escape(str(p)))
    return "".join(out)


def block_html(block: Block) -> str:
    if isinstance(block, Heading):
        anchor = f' id="{escape(block.anchor)}"' if block.anchor else ""
        return f"<h{block.level}{anchor}>{escape(block.text)}</h{block.level}>\n"
    if isinstance(block, Banner):
        return f'<p class="banner" role="note"><strong>{escape(block.text)}</strong></p>\n'
    if isinstance(block, Para):
        css = f' class="{escape(block.css)}"' if block.css else ""
        return f"<p{css}>{inline_html(block.content)}</p>\n"
    if isinstance(block, BulletList):
        items = "".join(f"<li>{inline_html(i)}</li>\n" for i in block.items)
        return f"<ul>\n{items}</ul>\n"
    if isinstance(block, Pre):
        return f"<pre><code>{escape(block.text)}</code></pre>\n"
    if isinstance(block, Table):
        lines = ['<div class="table-wrap"><table>']
        if block.caption:
            lines.append(f"<caption>{escape(block.caption)}</caption>")
        head = "".join(
            f'<th scope="col"{" class=num" if i in block.numeric else ""}>{escape(c)}</th>'
            for i, c in enumerate(block.columns)
        )
        lines.append(f"<thead><tr>{head}</tr></thead>")
        lines.append("<tbody>")
        for row in block.rows:
            cells = []
            for i, cell in enumerate(row):
                cls = ' class="num"' if i in block.numeric else ""
                if i == 0 and block.row_headers:
                    cells.append(f'<th scope="row"{cls}>{inline_html(cell)}</th>')
                else:
                    cells.append(f"<td{cls}>{inline_html(cell)}</td>")
            lines.append(f"<tr>{''.join(cells)}</tr>")
        lines.append("</tbody></table></div>")
        return "\n".join(lines) + "\n"
    if isinstance(block, Fig):
        f = block.figure
        return f'<figure id="{escape(f.slug)}">\n{f.inline()}<figcaption>{escape(f.alt)}</figcaption>\n</figure>\n'
    if isinstance(block, Details):
        inner = "".join(block_html(b) for b in block.blocks)
        return f"<details>\n<summary>{escape(block.summary)}</summary>\n{inner}</details>\n"
    raise TypeError(f"unknown block {block!r}")


# --------------------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|])")


def md_escape(text: str) -> str:
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("\n", " ")


def md_code(text: str, *, in_table: bool = False) -> str:
    """A CommonMark code span that holds `text` exactly, whatever backticks it contains.

    The fence is one backtick longer than the longest run inside (a run of the fence's length would
    close it early, so a path with backticks could break out and inject Markdown); a space pads text
    that starts or ends with a backtick (CommonMark strips one such space on each side). Line breaks
    become spaces (as CommonMark would), and in a GFM table a pipe is written `\\|`, which GFM
    requires inside code spans in cells and shows as `|`.
    """
    text = text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    if in_table:
        text = text.replace("|", "\\|")
    runs = {len(r) for r in re.findall(r"`+", text)}
    n = 1
    while n in runs:
        n += 1
    pad = " " if text[:1] == "`" or text[-1:] == "`" or (text[:1] == " " and text[-1:] == " " and text.strip()) else ""
    return f"{'`' * n}{pad}{text}{pad}{'`' * n}"


def inline_md(content: Inline, *, in_table: bool = False) -> str:
    out = []
    for p in _parts(content):
        if isinstance(p, Code):
            out.append(md_code(p.text, in_table=in_table))
        elif isinstance(p, Strong):
            # CommonMark: a closing ** must not follow whitespace, so keep the space outside.
            core = p.text.rstrip()
            out.append(f"**{md_escape(core)}**{p.text[len(core) :]}" if core else p.text)
        elif isinstance(p, Link):
            if p.href.startswith("#"):  # in-page anchors are HTML-only
                out.append(md_escape(p.text))
            elif _SAFE_HREF.match(p.href):
                out.append(f"[{md_escape(p.text)}](<{p.href}>)")
            else:
                out.append(md_escape(p.text))
        else:
            out.append(md_escape(str(p)))
    return "".join(out)


def block_md(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * block.level} {md_escape(block.text)}\n\n"
    if isinstance(block, Banner):
        return f"> **{md_escape(block.text)}**\n\n"
    if isinstance(block, Para):
        return f"{inline_md(block.content)}\n\n"
    if isinstance(block, BulletList):
        return "".join(f"- {inline_md(i)}\n" for i in block.items) + "\n"
    if isinstance(block, Pre):
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", block.text)), default=0))
        return f"{fence}\n{block.text}\n{fence}\n\n"
    if isinstance(block, Table):
        lines = []
        if block.caption:
            lines.append(f"*{md_escape(block.caption)}*")
            lines.append("")
        lines.append("| " + " | ".join(md_escape(c) for c in block.columns) + " |")
        lines.append(
            "| " + " | ".join("---:" if i in block.numeric else "---" for i in range(len(block.columns))) + " |"
        )
        for row in block.rows:
            lines.append("| " + " | ".join(inline_md(c, in_table=True) or " " for c in row) + " |")
        return "\n".join(lines) + "\n\n"
    if isinstance(block, Fig):
        f = block.figure
        return f"![{md_escape(f.alt)}]({f.filename})\n\n*{md_escape(f.title)}*\n\n"
    if isinstance(block, Details):
        return f"**{md_escape(block.summary)}**\n\n" + "".join(block_md(b) for b in block.blocks)
    raise TypeError(f"unknown block {block!r}")
