"""The answers, one module per endpoint (recommend, similar_items, cross_sell, homepage,
popular), built from the list operations of `lists.py` over `Candidates`. Each module gives the
answer's cache key and computes the answer from the loaded `ModelState` and the `Visitor`;
`serving.engine.Engine` reads profiles, assigns arms, caches and records around them.
"""


class LookupError404(Exception):
    """An id to look up (not merely to filter by) is unknown: a 404 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def id_set(ids: list[str]) -> tuple[str, ...]:
    """A list of ids as part of a cache key: order and repeats do not change an answer."""
    return tuple(sorted(set(ids)))
