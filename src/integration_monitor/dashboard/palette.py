"""The dashboard's colours, with the contrast arithmetic of WCAG 2.2 to check them.

Status colours are pairs of text on background and must reach 4.5:1 (normal text). Marks in
charts and timelines stand on the white page and must reach 3:1 (graphical objects). Every
status also has a symbol and a word, so colour is never the only carrier of meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_BACKGROUND = "#ffffff"
TEXT = "#1f2328"
MUTED_TEXT = "#505a66"
LINK = "#0b57a4"


@dataclass(frozen=True)
class StatusColours:
    text: str
    background: str
    border: str


STATUS = {
    "OK": StatusColours(text="#14532d", background="#dcf5e3", border="#2e7d32"),
    "DEGRADED": StatusColours(text="#5c3a00", background="#ffe9b8", border="#a86400"),
    "BROKEN": StatusColours(text="#7f1d1d", background="#fde2e1", border="#c62828"),
    "NO_DATA": StatusColours(text="#3a2d6b", background="#ebe6fa", border="#6a4fc0"),
    "NOT_CHECKED": StatusColours(text="#374151", background="#eceff3", border="#6b7280"),
}

# Fills of the status timeline, on the white page.
TIMELINE = {
    "ready": "#2e7d32",
    "not_ready": "#c62828",
    "mixed": "#a86400",
    "no_result": "#6b7280",
}

# Chart lines and bars, on the white page.
SERIES = ("#0b57a4", "#a8328c", "#1b7a5a", "#8a5a00")
FAILURE_KINDS = {
    "refused": "#b91c1c",
    "dns": "#7c2d12",
    "tls": "#9d174d",
    "timeout": "#c2410c",
    "http_4xx": "#6d28d9",
    "http_5xx": "#1d4ed8",
    "rate_limited": "#0e7490",
    "unauthorized": "#4d7c0f",
    "invalid_payload": "#a16207",
    "truncated": "#57534e",
    "oversized": "#334155",
    "schema_drift": "#be185d",
    "empty": "#4b5563",
}


def relative_luminance(colour: str) -> float:
    """Return the relative luminance of an sRGB colour written ``#rrggbb``."""
    value = colour.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"expected a colour as #rrggbb, got {colour!r}")
    channels = [int(value[index:index + 2], 16) / 255 for index in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def css_variables() -> str:
    """Return the palette as CSS custom properties for the page's ``:root``."""
    lines = [f"--page:{PAGE_BACKGROUND}", f"--text:{TEXT}", f"--muted:{MUTED_TEXT}", f"--link:{LINK}"]
    for name, colours in STATUS.items():
        key = name.lower().replace("_", "-")
        lines += [f"--{key}-text:{colours.text}", f"--{key}-bg:{colours.background}",
                  f"--{key}-border:{colours.border}"]
    for name, colour in TIMELINE.items():
        lines.append(f"--timeline-{name.replace('_', '-')}:{colour}")
    return ":root{" + ";".join(lines) + "}"
