"""Public-service codes sent in the ``X-Service-Code`` header.

Service number ``n`` of the appendix has the code ``DVC-`` followed by ``n`` in two digits,
so service 1 is ``DVC-01`` and service 25 is ``DVC-25``.
"""

from __future__ import annotations

import re

SERVICE_CODE_PREFIX = "DVC-"
MAX_SERVICE_NUMBER = 99

_SERVICE_CODE = re.compile(r"^DVC-(\d{2})$")


def service_code(number: int) -> str:
    """Return the public-service code of appendix service ``number`` (1..99)."""
    if isinstance(number, bool) or not isinstance(number, int):
        raise TypeError(f"service number must be an int, got {type(number).__name__}")
    if not 1 <= number <= MAX_SERVICE_NUMBER:
        raise ValueError(f"service number {number} is out of range 1..{MAX_SERVICE_NUMBER}")
    return f"{SERVICE_CODE_PREFIX}{number:02d}"


def service_number(code: str) -> int:
    """Return the appendix service number of a code such as ``DVC-07``.

    Raises ``ValueError`` for anything that is not ``DVC-`` and two digits, or for ``DVC-00``.
    """
    match = _SERVICE_CODE.match(code)
    if match is None:
        raise ValueError(f"service code {code!r} is invalid: expected DVC- and two digits, e.g. DVC-01")
    number = int(match.group(1))
    if number == 0:
        raise ValueError(f"service code {code!r} is invalid: service numbers start at 1")
    return number
