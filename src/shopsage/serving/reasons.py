"""Why an item is in a list: every stage that touched it leaves a :class:`Reason`.

A reason names its ``stage`` (candidates, ranking, rules, diversity, fallback) and ``source`` (the
generator, model or rule), carries its machine-readable ``evidence`` (the item a shopper viewed,
the matched query terms, the category an item is popular in, with counts) and a ``text`` a
shopper can read. Tests check the evidence against the data, so it must always be the true one.
The class lives in :mod:`shopsage.types` (search builds reasons too, below serving).
"""

from __future__ import annotations

from shopsage.types import Reason

__all__ = ["Reason"]
