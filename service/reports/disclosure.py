"""Small counts hidden in statistics shown outside the security department.

With about thirty full-time officials, a count of one or two incidents can
point at a person. Everything the statistics page and its CSV show to anyone
but the security department goes through :func:`protect_table` (called by
``statistics.disclose``, the one function both use), with these rules:

1. **Primary**: a count of 1 or 2 is hidden and shown as "<3" ("färre än
   3"). Zeros are shown: that nothing happened reveals no one.
2. **Secondary**: when a table's total is shown, a hidden count must not be
   possible to work out from the total and the counts shown — not by
   subtraction (one hidden count = total minus the others), and not by
   knowing these rules (a count hidden as small is 1 or 2; any other hidden
   count is at least 3 and at most the smallest count still shown). While one
   could be worked out, the smallest shown count above zero is hidden too. With exactly one small count hidden this
   always hides at least one more count.
3. **Total**: a total of 1 or 2 is hidden. If rule 2 runs out of counts to
   hide (every count above zero is already hidden and one can still be
   worked out: e.g. 1 and 3 of a total of 4), the total itself must be
   hidden. The same total is every table's total of that year and the key
   figure, so the caller hides it everywhere for that year
   (``total_must_hide``) and calls again with ``total_hidden=True``: then
   each table hides, besides its small counts, its smallest count of 3 or
   more, so that the total is not the sum of the counts shown.

Rule 3 is a best effort against combining several tables; rules 1 and 2 are
what the guideline's readers rely on. The security department sees exact
counts (``exact=True`` skips all of it).
"""

from __future__ import annotations

from dataclasses import dataclass

THRESHOLD = 3


@dataclass(frozen=True)
class Figure:
    """One count as shown: ``value`` is None when hidden (``small``: hidden because 1 or 2)."""

    value: int | None
    small: bool = False

    @property
    def hidden(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Protected:
    rows: tuple[Figure, ...]
    total: Figure | None
    # Rule 3: the total could not be protected here; hide it in every table of the year.
    total_must_hide: bool = False


def is_small(count: int) -> bool:
    return 0 < count < THRESHOLD


def shown(count: int, exact: bool) -> Figure:
    """A figure standing alone (no table around it): only rule 1 applies."""
    if not exact and is_small(count):
        return Figure(None, small=True)
    return Figure(count)


def _determinable(counts: list[int], small: set[int], hidden: set[int], total: int) -> bool:
    """Whether some hidden small count has only one possible value.

    What a reader knows: the total, the counts shown, that a count hidden as
    small is 1 or 2, and that any other hidden count is at least 3 and (being
    chosen smallest first) at most the smallest count above zero still shown.
    """
    rest = total - sum(c for i, c in enumerate(counts) if i not in hidden)
    still_shown = [c for i, c in enumerate(counts) if i not in hidden and c > 0]
    cap = min(still_shown) if still_shown else rest
    for i in small:
        others = hidden - {i}
        least = sum(1 if j in small else THRESHOLD for j in others)
        most = sum(2 if j in small else cap for j in others)
        low = max(1, rest - most)
        high = min(2, rest - least)
        if low >= high:
            return True
    return False


def _smallest_shown(counts: list[int], hidden: set[int]) -> int | None:
    candidates = [(c, i) for i, c in enumerate(counts) if i not in hidden and c > 0]
    return min(candidates)[1] if candidates else None


def protect_table(
    counts: list[int], total: int | None, *, exact: bool, total_hidden: bool = False
) -> Protected:
    """The rules above for one table. ``total`` None: the table has no total row."""
    if exact:
        return Protected(
            tuple(Figure(c) for c in counts), Figure(total) if total is not None else None
        )
    small = {i for i, c in enumerate(counts) if is_small(c)}
    hidden = set(small)
    must_hide = False
    hide_total = total_hidden or (total is not None and is_small(total))
    if total is not None and not hide_total:
        while small and _determinable(counts, small, hidden, total):
            extra = _smallest_shown(counts, hidden)
            if extra is None:
                must_hide = True
                break
            hidden.add(extra)
    elif total is not None and not any(counts[i] >= THRESHOLD for i in hidden):
        # The total is hidden: it must not be the sum of the counts shown either.
        extra = _smallest_shown(counts, hidden)
        if extra is not None:
            hidden.add(extra)
    rows = tuple(
        Figure(None, small=i in small) if i in hidden else Figure(c) for i, c in enumerate(counts)
    )
    total_figure = None
    if total is not None:
        total_figure = (
            Figure(None, small=is_small(total)) if hide_total or must_hide else Figure(total)
        )
    return Protected(rows, total_figure, total_must_hide=must_hide)
