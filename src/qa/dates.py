"""Month names, read and written the one way every module reads and writes them."""
from __future__ import annotations

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
# A month in a regular expression (compile with re.I): its name, or its abbreviation.
MONTH_PATTERN = "|".join(MONTHS) + "|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"


def month_number(name: str) -> int:
    """1-12 for a month's name or its abbreviation ("Sept", "dec"); ValueError otherwise."""
    prefix = name[:3].lower()
    for n, month in enumerate(MONTHS, 1):
        if month[:3].lower() == prefix:
            return n
    raise ValueError(f"not a month: {name!r}")
