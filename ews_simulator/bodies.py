"""Item bodies: Exchange converts between HTML and text when a client asks for a BodyType
(MSDOC web-service-reference/bodytype)."""
from __future__ import annotations

import html

import lxml.html


def html_to_text(value: str) -> str:
    if not value.strip():
        return ""
    return lxml.html.fromstring(value).text_content().strip()


def text_to_html(value: str) -> str:
    escaped = html.escape(value).replace("\n", "<br>\r\n")
    return ('<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
            f"</head>\r\n<body>\r\n<div>{escaped}</div>\r\n</body>\r\n</html>\r\n")


def body_as(item, body_type: str) -> tuple[str, str]:
    """BodyType Best/HTML/Text: Exchange converts between HTML and text on request."""
    if body_type in ("Best", None) or body_type == item.body_type:
        return item.body_type, item.body
    if body_type == "Text":
        return "Text", html_to_text(item.body)
    return "HTML", text_to_html(item.body)
