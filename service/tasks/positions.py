"""Position keys: strings that sort in the user's own order, so a move rewrites one row.

Fractional indexing (the scheme of Figma's and Google Tasks' orderings): a key is an integer part
and a fraction, in base-62 digits whose ASCII order is their numeric order, compared byte by byte
(the column's C collation). The integer's first character says how many digits follow ('a' one,
'b' two, ... ; 'Z' one, 'Y' two, ... for those below 'a0'), so appending after the last task or
before the first increments or decrements an integer: ten thousand appends take keys of three or
four characters. A move between two tasks takes the midpoint of their fractions, one character
longer every log2(62) ~ 6 moves into the same gap, until ``LONGEST`` calls for a rebalance of
that place (sql/tasks.sql, rebalance_place); docs/lists.md gives the numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE = len(DIGITS)
FIRST = "a0"
# A key longer than this after a move makes the service rebalance its place: it rewrites every
# key there as consecutive integers, each a few characters long.
LONGEST = 48


def _integer_length(head: str) -> int:
    if "a" <= head <= "z":
        return ord(head) - ord("a") + 2
    if "A" <= head <= "Z":
        return ord("Z") - ord(head) + 2
    raise ValueError(f"not a position key: {head!r}")


def _split(key: str) -> tuple[str, str]:
    length = _integer_length(key[0])
    if len(key) < length:
        raise ValueError(f"not a position key: {key!r}")
    return key[:length], key[length:]


def _increment(integer: str) -> str | None:
    head, digits = integer[0], list(integer[1:])
    for place in reversed(range(len(digits))):
        value = DIGITS.index(digits[place]) + 1
        if value < BASE:
            digits[place] = DIGITS[value]
            return head + "".join(digits)
        digits[place] = "0"
    if head == "Z":
        return FIRST
    if head == "z":
        return None
    head = chr(ord(head) + 1)
    if head > "a":
        digits.append("0")
    else:
        digits.pop()
    return head + "".join(digits)


def _decrement(integer: str) -> str | None:
    head, digits = integer[0], list(integer[1:])
    for place in reversed(range(len(digits))):
        value = DIGITS.index(digits[place]) - 1
        if value >= 0:
            digits[place] = DIGITS[value]
            return head + "".join(digits)
        digits[place] = DIGITS[-1]
    if head == "a":
        return "Z" + DIGITS[-1]
    if head == "A":
        return None
    head = chr(ord(head) - 1)
    if head < "Z":
        digits.append(DIGITS[-1])
    else:
        digits.pop()
    return head + "".join(digits)


def _midpoint(low: str, high: str | None) -> str:
    """A fraction strictly between ``low`` and ``high`` (None: 1); neither ends in '0'."""
    prefix = ""
    while True:
        if high is not None:
            common = 0
            while common < len(high) and (low[common] if common < len(low) else "0") == high[common]:
                common += 1
            prefix += high[:common]
            low, high = low[common:], high[common:]
        low_digit = DIGITS.index(low[0]) if low else 0
        high_digit = DIGITS.index(high[0]) if high is not None else BASE
        if high_digit - low_digit > 1:
            return prefix + DIGITS[(low_digit + high_digit) // 2]
        if high is not None and len(high) > 1:
            return prefix + high[:1]
        prefix += DIGITS[low_digit]
        low, high = low[1:], None


def between(low: str | None, high: str | None) -> str:
    """A key after ``low`` and before ``high``; None is the start, or the end, of the place."""
    if low is not None and high is not None and not low < high:
        raise ValueError(f"{low!r} is not before {high!r}")
    if low is None and high is None:
        return FIRST
    if low is None:
        assert high is not None
        integer, fraction = _split(high)
        if fraction:
            return integer
        lower = _decrement(integer)
        return lower if lower is not None else integer + _midpoint("", fraction)
    integer, fraction = _split(low)
    if high is None:
        higher = _increment(integer)
        return higher if higher is not None else integer + _midpoint(fraction, None)
    high_integer, high_fraction = _split(high)
    if integer == high_integer:
        return integer + _midpoint(fraction, high_fraction)
    higher = _increment(integer)
    if higher is not None and higher < high:
        return higher
    return integer + _midpoint(fraction, None)


def after(low: str | None, count: int) -> Iterator[str]:
    """``count`` keys in order, each after the one before, the first after ``low``."""
    for _ in range(count):
        low = between(low, None)
        yield low
