"""Micro-batching of concurrent requests, with the booster on its own thread.

A BentoML worker is one asyncio event loop. `MicroBatcher` answers the requests of an endpoint in
batches: those that arrive while a batch is being answered form the next one. Nothing waits for a
batch to fill: a lone request is answered at once, and under concurrent load the batches grow by
themselves. A batch goes through three steps:

1. `prepare` on the loop: for recommend, cache lookups and who gets a personal answer;
2. a job on the booster thread: for recommend, the compiled candidate and feature pass of all its
   personal requests and one XGBoost call over their candidates;
3. `complete` on the loop: rules, reasons, the answers.

The steps of consecutive batches overlap: when batch N's job returns, batch N+1 is prepared and
handed to the booster before batch N is completed, so the booster scores N+1 while the loop
completes N and sends its answers (the compiled pass and XGBoost release the GIL).
Preparing and completing stay on the loop thread: two Python threads that both need the GIL only
take turns, and their hand-overs cost more than they save.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# prepare(items) -> (work, job): job is None or a callable to run on the booster thread;
# complete(work, job's result or None) -> one result per item, in order. A result may be an
# exception, raised to that item's caller only; an exception raised by prepare, the job or
# complete goes to every caller of the batch.
Prepare = Callable[[list[Any]], tuple[Any, Callable[[], Any] | None]]
Complete = Callable[[Any, Any], Sequence[Any]]


class BoosterThread:
    """The one thread of a worker that runs booster calls, one at a time, in order."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tailor-booster")

    def submit(self, job: Callable[[], Any]) -> asyncio.Future:
        return asyncio.get_running_loop().run_in_executor(self._executor, job)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class MicroBatcher:
    def __init__(self, prepare: Prepare, complete: Complete, booster: BoosterThread,
                 max_size: int = 64) -> None:
        self._prepare = prepare
        self._complete = complete
        self._booster = booster
        self._max_size = max_size
        self._pending: list[tuple[Any, asyncio.Future]] = []
        self._draining = False

    async def submit(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((item, future))
        if not self._draining:
            self._draining = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            current = self._start()
            while current is not None:
                batch, work, scored = current
                failure, scores = None, None
                try:
                    scores = (await scored) if scored is not None else None
                except Exception as error:
                    failure = error
                following = self._start()  # its booster call runs while this batch completes
                if failure is None:
                    try:
                        results = self._complete(work, scores)
                    except Exception as error:
                        failure = error
                _settle(batch, results if failure is None else [failure] * len(batch))
                current = following
        finally:
            self._draining = False

    def _start(self) -> tuple[list, Any, asyncio.Future | None] | None:
        """Prepare the next batch of pending requests and hand its job to the booster."""
        while self._pending:
            batch = self._pending[: self._max_size]
            del self._pending[: self._max_size]
            try:
                work, job = self._prepare([item for item, _ in batch])
                return batch, work, (self._booster.submit(job) if job is not None else None)
            except Exception as error:  # e.g. no model loaded yet
                _settle(batch, [error] * len(batch))
        return None


def _settle(batch: list[tuple[Any, asyncio.Future]], results: Sequence[Any]) -> None:
    for (_, future), result in zip(batch, results, strict=True):
        if future.done():  # the client went away
            continue
        if isinstance(result, Exception):
            future.set_exception(result)
        else:
            future.set_result(result)


def one_by_one(answer: Callable[..., Any]) -> tuple[Prepare, Complete]:
    """prepare / complete for an endpoint with no batched form: each item answered on its own, on
    the loop, errors kept per item."""

    def prepare(items: list[tuple]) -> tuple[list[Any], None]:
        results = []
        for item in items:
            try:
                results.append(answer(*item))
            except Exception as error:
                results.append(error)
        return results, None

    def complete(results: list[Any], _: Any) -> list[Any]:
        return results

    return prepare, complete
