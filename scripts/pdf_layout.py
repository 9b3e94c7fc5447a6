#!/usr/bin/env python3
"""Layout facts of a PDF, for the browser tests (tests/it/browser.rs).

Usage:
    python3 scripts/pdf_layout.py REPORT.pdf [MARGIN_PT]

Prints one JSON object: the page count, the first page's size in points,
the outline (bookmarks) as [level, title, page], the words that lie outside
the page's printable area (MARGIN_PT from each side, default 20) as
[page, word, x0, x1], the pages without their "N / TOTAL" number, and the
last page's last line of text. Needs PyMuPDF
(Debian: python3-fitz; PyPI: pymupdf).
"""
import json
import sys

import fitz  # PyMuPDF


def main() -> None:
    path = sys.argv[1]
    margin = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    doc = fitz.open(path)
    outside = []
    for number, page in enumerate(doc, start=1):
        width, height = page.rect.width, page.rect.height
        for x0, y0, x1, y1, word, *_ in page.get_text("words"):
            if x0 < margin or x1 > width - margin or y0 < 0 or y1 > height:
                outside.append([number, word, round(x0, 1), round(x1, 1)])
    last = doc[len(doc) - 1].get_text().strip().splitlines() if len(doc) else []
    first = doc[0].rect if len(doc) else fitz.Rect(0, 0, 0, 0)
    print(
        json.dumps(
            {
                "pages": len(doc),
                "width": round(first.width, 1),
                "height": round(first.height, 1),
                "outline": doc.get_toc(),
                "outside": outside,
                "unnumbered": [
                    i
                    for i, p in enumerate(doc, start=1)
                    if f"{i} / {len(doc)}" not in p.get_text()
                ],
                "last_line": last[-1] if last else "",
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
