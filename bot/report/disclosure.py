"""Small numbers: no count of 1 to 4 people is published, nor can one be worked
out from what is published.

The rule, as the report states it to its readers:

1. A count of 1 to 4 people is shown as "<5". Zero is shown as 0.
2. Many figures add up: the people handed off are the sum of the postcode
   districts; the people who started are those who went on plus those who did
   not. Each such sum is declared here (`Ledger.adds_up`), including those a
   reader could *assume* because the numbers happen to match. A reader knows
   every printed figure, every sum, and the rule itself: a "<5" is 1 to 4, a
   rounded count is within 2 of what is printed (and at least 10), a hidden one
   is at least 5. A small count, printed or only implied by a difference ("did
   not go on"), is safe only when another whole set of numbers fits all of that
   and gives it a different value: `Ledger.protect` looks for such a set (a
   *witness*) for every small count, and never calls one safe without it.
3. Where there is none, more is blurred: the counts around it are rounded to the
   nearest 5 (shown "≈") or hidden (shown "–"), nearest first, until there is;
   then every one it does not need is put back, headline figures first.
4. If nothing around it can be blurred enough, its whole table is withheld.

The tests attack the output independently: by brute force on small tables, and
with an integer program on whole reports.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

Bound = tuple[float, float]


class Shown(Enum):
    """How one count is published."""

    EXACT = "exact"  # as it is (0 and 5 or more)
    SMALL = "small"  # "<5": it is 1 to 4
    ROUNDED = "rounded"  # to the nearest 5 ("≈"), so it is 10 or more
    HIDDEN = "hidden"  # "–": hidden so that a small number cannot be worked out
    WITHHELD = "withheld"  # its whole table is not shown
    IMPLIED = "implied"  # never printed, but a difference a reader could take


#: Counts below this are hidden rather than rounded: "≈5" of 7 says too little.
ROUND_FROM = 10
#: How long the search for a witness may go on (steps) before a count is
#: treated as pinned, and blurred more: slow is never taken for safe.
SEARCH_BUDGET = 4_000


def round5(value: int) -> int:
    """To the nearest 5 (halves do not occur: counts are whole)."""
    return 5 * round(value / 5)


@dataclass
class Count:
    key: str
    value: int
    table: str
    printed: bool = True
    roundable: bool = True
    #: What blurring it costs the reader: headline figures more than a breakdown's rows.
    weight: int = 1


@dataclass(frozen=True)
class Sum:
    """`total` = the sum of `parts`, as a reader could add or subtract."""

    total: str
    parts: tuple[str, ...]


@dataclass
class Protection:
    """How each count is shown, the sums a reader knows, and for every small
    count a witness: other numbers that fit everything printed."""

    counts: dict[str, Count]
    shown: dict[str, Shown]
    sums: list[Sum] = field(default_factory=list)
    witnesses: dict[str, dict[str, int]] = field(default_factory=dict)

    def value(self, key: str) -> int | None:
        """The number as printed (rounded when it is), or None when it is not a number."""
        count, shown = self.counts[key], self.shown[key]
        if shown is Shown.EXACT:
            return count.value
        if shown is Shown.ROUNDED:
            return round5(count.value)
        return None


class Ledger:
    """The counts of one report and the sums that tie them together."""

    def __init__(self) -> None:
        self.counts: dict[str, Count] = {}
        self.sums: list[Sum] = []

    def count(
        self,
        key: str,
        value: int,
        table: str,
        *,
        printed: bool = True,
        roundable: bool = True,
        weight: int = 1,
    ) -> str:
        if key in self.counts:
            raise ValueError(f"count {key!r} declared twice")
        if value < 0:
            raise ValueError(f"a count of people cannot be negative: {key}={value}")
        self.counts[key] = Count(key, value, table, printed, roundable, weight)
        return key

    def adds_up(self, total: str, parts: Iterable[str]) -> None:
        parts = tuple(parts)
        if not parts:
            return
        missing = [k for k in (total, *parts) if k not in self.counts]
        if missing:
            raise KeyError(f"undeclared counts {missing}")
        actual = sum(self.counts[p].value for p in parts)
        if actual != self.counts[total].value:
            raise ValueError(f"{total} is {self.counts[total].value}, its parts add up to {actual}")
        self.sums.append(Sum(total, parts))

    def adds_up_if_equal(self, total: str, parts: Iterable[str]) -> None:
        """Declare a sum a reader could assume because the numbers happen to match
        (each person referred once, so referrals equal people referred)."""
        parts = tuple(parts)
        if sum(self.counts[p].value for p in parts) == self.counts[total].value:
            self.adds_up(total, parts)

    def protect(self) -> Protection:
        return _Protector(self).run()


class _Protector:
    """Rule 2 to 4 of the module, for one ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.counts = ledger.counts
        self.keys = list(ledger.counts)
        self.index = {key: i for i, key in enumerate(self.keys)}
        self.sums = [(self.index[s.total], [self.index[p] for p in s.parts]) for s in ledger.sums]
        self.ledger_sums = list(ledger.sums)
        self.truth = [ledger.counts[k].value for k in self.keys]
        # No count can be larger than this in any set of numbers worth looking at.
        self.cap = 2 * max(self.truth, default=0) + 10
        self.guarded = [i for i, v in enumerate(self.truth) if 1 <= v <= 4]
        self.witnesses: dict[int, list[int]] = {}
        self._direct: list[set[int]] | None = None
        self._rings: dict[int, list[list[int]]] = {}

    def run(self) -> Protection:
        shown = {key: _first_shown(count) for key, count in self.counts.items()}
        while True:
            pinned = self.pinned(shown)
            if not pinned:
                witnesses = {
                    self.keys[i]: dict(zip(self.keys, w, strict=True))
                    for i, w in self.witnesses.items()
                    if i in self.guarded
                }
                return Protection(self.counts, shown, self.ledger_sums, witnesses)
            target = pinned[0]
            blurred = self._unpin(target, shown)
            if blurred is not None:
                shown = blurred
                continue
            # Nothing around it can be blurred enough: its table goes, then the
            # tables of the counts it adds up with.
            near = self.rings(target)[0] if self.rings(target) else []
            for tables in (
                {self.counts[self.keys[target]].table},
                {self.counts[self.keys[k]].table for k in near},
            ):
                if self._withhold(tables, shown):
                    break
            else:  # cannot happen for consistent sums; never loop forever
                raise RuntimeError(f"cannot protect {self.keys[target]}")

    # -- is a small count pinned? --------------------------------------------------

    def pinned(self, shown: dict[str, Shown]) -> list[int]:
        """The small counts that no other set of numbers fitting `shown` moves."""
        low, high = self._bounds(shown)
        narrowed = self._propagate(list(low), list(high))
        found = []
        for i in self.guarded:
            witness = self.witnesses.get(i)
            if witness is not None and self._fits(witness, low, high):
                continue
            if narrowed is None or narrowed[1][i] - narrowed[0][i] < 1:
                found.append(i)
                continue
            witness = self._search(i, narrowed[0], narrowed[1])
            if witness is None:
                found.append(i)
            else:
                self.witnesses[i] = witness
        return found

    def _bounds(self, shown: dict[str, Shown]) -> tuple[list[int], list[int]]:
        """What the rule tells a reader about each count, as whole-number ranges."""
        low, high = [], []
        for key in self.keys:
            lo, hi = _reader_bound(self.counts[key], shown[key])
            low.append(int(lo))
            high.append(int(min(hi, self.cap)))
        return low, high

    def _fits(self, values: list[int], low: list[int], high: list[int]) -> bool:
        return all(lo <= v <= hi for v, lo, hi in zip(values, low, high, strict=True))

    def _propagate(self, low: list[int], high: list[int]) -> tuple[list[int], list[int]] | None:
        """Narrow every range through every sum until nothing changes; None when
        nothing fits. Sound: no value that fits is ever taken out."""
        changed = True
        while changed:
            changed = False
            for total, parts in self.sums:
                parts_low = sum(low[p] for p in parts)
                parts_high = sum(high[p] for p in parts)
                if parts_low > low[total]:
                    low[total], changed = parts_low, True
                if parts_high < high[total]:
                    high[total], changed = parts_high, True
                if low[total] > high[total]:
                    return None
                for p in parts:
                    p_low = low[total] - (parts_high - high[p])
                    p_high = high[total] - (parts_low - low[p])
                    if p_low > low[p]:
                        low[p], changed = p_low, True
                    if p_high < high[p]:
                        high[p], changed = p_high, True
                    if low[p] > high[p]:
                        return None
        return low, high

    def _search(self, target: int, low: list[int], high: list[int]) -> list[int] | None:
        """A whole set of numbers that fits the ranges and every sum, with `target`
        anything but its true value; None if none turns up within the budget."""
        budget = [SEARCH_BUDGET]
        truth = self.truth

        def dfs(low: list[int], high: list[int]) -> list[int] | None:
            budget[0] -= 1
            if budget[0] < 0:
                return None
            narrowed = self._propagate(low, high)
            if narrowed is None:
                return None
            low, high = narrowed
            open_ = [i for i in range(len(low)) if low[i] < high[i]]
            if not open_:
                return low
            i = min(open_, key=lambda k: (high[k] - low[k], k))
            values = range(low[i], high[i] + 1)
            for v in sorted(values, key=lambda v: (abs(v - truth[i]), v)):
                found = dfs(low[:i] + [v] + low[i + 1 :], high[:i] + [v] + high[i + 1 :])
                if found is not None:
                    return found
                if budget[0] < 0:
                    return None
            return None

        others = [v for v in range(low[target], high[target] + 1) if v != truth[target]]
        for v in sorted(others, key=lambda v: abs(v - truth[target])):
            fixed_low, fixed_high = list(low), list(high)
            fixed_low[target] = fixed_high[target] = v
            found = dfs(fixed_low, fixed_high)
            if found is not None:
                return found
            if budget[0] < 0:
                return None
        return None

    # -- blurring --------------------------------------------------------------------

    def _unpin(self, target: int, shown: dict[str, Shown]) -> dict[str, Shown] | None:
        """Blur the counts around `target`, nearest first (rounding them all, then
        hiding them), until it is no longer pinned; then put back, headline
        figures first, every one it does not need."""
        trial = dict(shown)
        changed: list[str] = []
        freed = False
        for level in (Shown.ROUNDED, Shown.HIDDEN):
            for ring in self.rings(target):
                for i in ring:
                    key = self.keys[i]
                    after = _blurrier(self.counts[key], trial[key], level)
                    if after is not None:
                        trial[key] = after
                        changed.append(key)
                if target not in self.pinned(trial):
                    freed = True
                    break
            if freed:
                break
        if not freed:
            return None
        allowed = len(self.pinned(trial))
        order = sorted(dict.fromkeys(changed), key=lambda k: -self.counts[k].weight)
        for key in order:
            for back in (shown[key], Shown.ROUNDED):
                if back is trial[key]:
                    continue
                if back is Shown.ROUNDED and _blurrier(self.counts[key], shown[key], back) is None:
                    continue
                attempt = {**trial, key: back}
                if len(self.pinned(attempt)) <= allowed:
                    trial = attempt
                    break
        return trial

    def _withhold(self, tables: set[str], shown: dict[str, Shown]) -> bool:
        changed = False
        for key, count in self.counts.items():
            printed = shown[key] in (Shown.EXACT, Shown.SMALL, Shown.ROUNDED, Shown.HIDDEN)
            if count.table in tables and printed and count.value > 0:
                shown[key], changed = Shown.WITHHELD, True
        return changed

    def rings(self, i: int) -> list[list[int]]:
        """The counts one sum away from count `i`, two sums away, and so on (worked
        out only for a count that is pinned: at scale, most reports have none)."""
        if i not in self._rings:
            if self._direct is None:
                self._direct = [set() for _ in self.keys]
                for total, parts in self.sums:
                    members = {total, *parts}
                    for k in members:
                        self._direct[k] |= members - {k}
            direct = self._direct
            seen, ring, rings = {i}, [i], []
            while True:
                ring = sorted({n for k in ring for n in direct[k]} - seen)
                if not ring:
                    break
                seen |= set(ring)
                rings.append(ring)
            self._rings[i] = rings
        return self._rings[i]


def _first_shown(count: Count) -> Shown:
    if not count.printed:
        return Shown.IMPLIED
    return Shown.SMALL if 1 <= count.value <= 4 else Shown.EXACT


def _blurrier(count: Count, now: Shown, level: Shown) -> Shown | None:
    """How `count` would be shown blurred up to `level`, or None if it cannot be
    (it is under 5, implied, or already that blurred)."""
    if count.value < 5 or now not in (Shown.EXACT, Shown.ROUNDED):
        return None
    if level is Shown.ROUNDED:
        roundable = count.roundable and count.value >= ROUND_FROM
        return Shown.ROUNDED if now is Shown.EXACT and roundable else None
    return Shown.HIDDEN


def _reader_bound(count: Count, shown: Shown) -> Bound:
    if shown is Shown.EXACT:
        return (count.value, count.value)
    if shown is Shown.SMALL:
        return (1, 4)
    if shown is Shown.ROUNDED:
        rounded = round5(count.value)
        return (max(ROUND_FROM, rounded - 2), rounded + 2)
    if shown is Shown.HIDDEN:
        return (5, math.inf)
    return (0, math.inf)
