"""C4: an HTML body becomes plain text a person wrote — never style sheets or scripts."""
from portal.ews_soap.items import html_to_text


def test_c4_html_body_drops_style_script_and_head():
    html = ("<html><head><title>t</title><style>p{color:red}</style></head><body>"
            "<script>alert(1)</script><p>Bring ID</p><div>Edits above this line will be synced</div></body></html>")
    text = html_to_text(html)
    assert text == "Bring ID\nEdits above this line will be synced"
    assert "color" not in text and "alert" not in text


def test_c4_line_breaks_survive_and_whitespace_collapses():
    assert html_to_text("<p>a   b<br>c</p><p></p><p>d</p>") == "a b\nc\n\nd"
