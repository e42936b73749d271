"""The palette meets WCAG contrast, and every dashboard text has a Vietnamese translation."""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from integration_monitor.dashboard import palette

DASHBOARD = Path(__file__).resolve().parents[2] / "src" / "integration_monitor" / "dashboard"
PO_FILE = DASHBOARD.parent / "locale" / "vi" / "LC_MESSAGES" / "dashboard.po"
MESSAGE_CALL = re.compile(r'''\b_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')''')


def test_contrast_ratio_reference_values():
    assert palette.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert palette.contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert palette.contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="#rrggbb"):
        palette.relative_luminance("red")


@pytest.mark.parametrize("status", sorted(palette.STATUS))
def test_status_text_reaches_normal_text_contrast(status):
    colours = palette.STATUS[status]
    assert palette.contrast_ratio(colours.text, colours.background) >= 4.5
    assert palette.contrast_ratio(colours.border, palette.PAGE_BACKGROUND) >= 3.0


def test_chart_marks_reach_graphics_contrast():
    marks = [*palette.TIMELINE.values(), *palette.SERIES, *palette.FAILURE_KINDS.values()]
    for colour in marks:
        assert palette.contrast_ratio(colour, palette.PAGE_BACKGROUND) >= 3.0, colour
    for colour in (palette.TEXT, palette.MUTED_TEXT, palette.LINK):
        assert palette.contrast_ratio(colour, palette.PAGE_BACKGROUND) >= 4.5, colour


def test_every_failure_kind_has_a_colour():
    from integration_monitor.fetch import FailureKind

    assert {kind.value for kind in FailureKind} <= set(palette.FAILURE_KINDS)


def test_css_variables_cover_every_status():
    css = palette.css_variables()
    for name in palette.STATUS:
        key = name.lower().replace("_", "-")
        assert f"--{key}-text:" in css
        assert f"--{key}-bg:" in css
    stylesheet = (DASHBOARD / "static" / "dashboard.css").read_text(encoding="utf-8")
    for variable in re.findall(r"var\((--[\w-]+)\)", stylesheet):
        assert f"{variable}:" in css, variable


def used_message_ids() -> set[str]:
    ids = set()
    for path in [*DASHBOARD.glob("*.py"), *DASHBOARD.glob("templates/*.html")]:
        for literal in MESSAGE_CALL.findall(path.read_text(encoding="utf-8")):
            ids.add(ast.literal_eval(literal) if path.suffix == ".py" else literal[1:-1].replace('\\"', '"'))
    return ids


def po_messages() -> dict[str, str]:
    with PO_FILE.open("rb") as handle:
        catalog = read_po(handle, locale="vi", domain="dashboard")
    return {str(message.id): str(message.string) for message in catalog if message.id}


def test_every_message_has_a_vietnamese_translation():
    messages = po_messages()
    used = used_message_ids()
    assert len(used) > 200
    missing = sorted(text for text in used if not messages.get(text))
    assert missing == []
    unused = sorted(set(messages) - used)
    assert unused == []


def test_translations_keep_placeholders_and_are_nfc():
    for message_id, translation in po_messages().items():
        assert sorted(re.findall(r"\{\w+\}", message_id)) == sorted(re.findall(r"\{\w+\}", translation)), message_id
        assert unicodedata.normalize("NFC", translation) == translation, message_id
