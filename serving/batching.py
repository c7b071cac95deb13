"""Micro-batching of concurrent requests, with the booster off the event loop.

A BentoML worker is one asyncio event loop. `MicroBatcher` answers the requests of an endpoint in
batches: the requests that arrive while a batch is being answered form the next one. Nothing waits
for a batch to fill: a lone request is answered at once, and under concurrent load the batches grow
by themselves. A batch of recommend requests shares one ranking pass, whose XGBoost call runs on a
separate thread (`BoosterThread`): XGBoost releases the GIL while it walks its trees, so meanwhile
the loop parses, validates and answers other requests on the other core.

Everything else stays on the loop thread: two Python threads that both hold the GIL most of the
time only take turns, and their hand-overs cost more than they save.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# answer_many(items) -> one result per item, in order; a result may be an exception, raised to
# that item's caller only. An exception raised by answer_many itself goes to every caller.
AnswerMany = Callable[[list[Any]], Awaitable[Sequence[Any]]]


class MicroBatcher:
    def __init__(self, answer_many: AnswerMany, max_size: int = 64) -> None:
        self._answer_many = answer_many
        self._max_size = max_size
        self._pending: list[tuple[Any, asyncio.Future]] = []
        self._draining = False

    async def submit(self, item: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_size]
                del self._pending[: self._max_size]
                try:
                    results = await self._answer_many([item for item, _ in batch])
                except Exception as error:  # the whole batch failed (e.g. no model loaded yet)
                    results = [error] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # the client went away
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._draining = False


class BoosterThread:
    """One thread for the booster calls of a worker (XGBoost's predictions are not meant to run
    concurrently on one booster)."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tailor-booster")

    async def run(self, predict: Callable[[Any], Any], features: Any) -> Any:
        if len(features) == 0:
            return predict(features)
        return await asyncio.get_running_loop().run_in_executor(self._executor, predict, features)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def one_by_one(answer: Callable[..., Any]) -> AnswerMany:
    """answer_many for an endpoint with no batched form: each item on its own, on the loop, errors
    kept per item."""

    async def answer_many(items: list[tuple]) -> list[Any]:
        results = []
        for item in items:
            try:
                results.append(answer(*item))
            except Exception as error:
                results.append(error)
        return results

    return answer_many
