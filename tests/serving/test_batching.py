"""serving.batching.MicroBatcher: who is batched with whom, the order of the steps, and where
results and errors go."""

from __future__ import annotations

import asyncio
import threading

import pytest

from serving.batching import BoosterThread, MicroBatcher, one_by_one


class Steps:
    """prepare / complete that record what they are called with; the job (on the booster thread)
    answers item * 10, and waits for `gate` while it is closed. An item that is an exception is
    that item's answer."""

    def __init__(self) -> None:
        self.log: list[tuple] = []
        self.gate = threading.Event()
        self.gate.set()
        self.job_threads: set[int] = set()

    def prepare(self, items: list):
        self.log.append(("prepare", list(items)))

        def job():
            self.job_threads.add(threading.get_ident())
            self.gate.wait(5)
            return [item if isinstance(item, Exception) else item * 10 for item in items]

        return list(items), job

    def complete(self, items: list, scored: list) -> list:
        self.log.append(("complete", items))
        return scored

    def batches(self) -> list[list]:
        return [items for step, items in self.log if step == "prepare"]


def run(coroutine_function):
    async def main():
        booster = BoosterThread()
        try:
            return await asyncio.wait_for(coroutine_function(booster), timeout=10)
        finally:
            booster.shutdown()

    return asyncio.run(main())


def test_a_lone_request_is_answered_at_once_in_a_batch_of_one():
    steps = Steps()

    async def scenario(booster):
        batcher = MicroBatcher(steps.prepare, steps.complete, booster)
        return [await batcher.submit(4), await batcher.submit(5)]

    assert run(scenario) == [40, 50]
    assert steps.batches() == [[4], [5]]
    assert threading.get_ident() not in steps.job_threads  # the booster call ran off the loop


def test_requests_arriving_during_a_batch_form_the_next_batch():
    steps = Steps()
    steps.gate.clear()

    async def scenario(booster):
        batcher = MicroBatcher(steps.prepare, steps.complete, booster)
        first = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0.05)  # batch [1] is on the booster, held at the gate
        later = [asyncio.ensure_future(batcher.submit(n)) for n in (2, 3, 4)]
        await asyncio.sleep(0.05)
        steps.gate.set()
        return await asyncio.gather(first, *later)

    assert run(scenario) == [10, 20, 30, 40]  # each caller gets the answer to its own item
    assert steps.batches() == [[1], [2, 3, 4]]


def test_the_next_batch_is_prepared_before_the_previous_one_completes():
    steps = Steps()
    steps.gate.clear()

    async def scenario(booster):
        batcher = MicroBatcher(steps.prepare, steps.complete, booster)
        first = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(batcher.submit(2))
        await asyncio.sleep(0.05)
        steps.gate.set()
        return await asyncio.gather(first, second)

    assert run(scenario) == [10, 20]
    assert steps.log == [("prepare", [1]), ("prepare", [2]), ("complete", [1]),
                         ("complete", [2])]


def test_max_size_splits_a_long_queue():
    steps = Steps()
    steps.gate.clear()

    async def scenario(booster):
        batcher = MicroBatcher(steps.prepare, steps.complete, booster, max_size=2)
        futures = [asyncio.ensure_future(batcher.submit(n)) for n in range(5)]
        await asyncio.sleep(0.05)
        steps.gate.set()
        return await asyncio.gather(*futures)

    assert run(scenario) == [0, 10, 20, 30, 40]
    assert steps.batches() == [[0, 1], [2, 3], [4]]


def test_an_error_for_one_item_reaches_only_its_caller():
    steps = Steps()
    steps.gate.clear()

    async def scenario(booster):
        batcher = MicroBatcher(steps.prepare, steps.complete, booster)
        futures = [asyncio.ensure_future(batcher.submit(item))
                   for item in (1, ValueError("item 2 is bad"), 3)]
        await asyncio.sleep(0.05)
        steps.gate.set()
        return await asyncio.gather(*futures, return_exceptions=True)

    one, two, three = run(scenario)
    assert (one, three) == (10, 30)
    assert isinstance(two, ValueError) and "item 2" in str(two)


@pytest.mark.parametrize("failing", ["prepare", "job", "complete"])
def test_a_failing_batch_fails_its_callers_and_the_batcher_keeps_serving(failing):
    calls = []

    def prepare(items):
        calls.append(list(items))
        first = len(calls) == 1
        if first and failing == "prepare":
            raise RuntimeError("the model is still loading")

        def job():
            if first and failing == "job":
                raise RuntimeError("the booster failed")
            return [item * 10 for item in items]

        return first, job

    def complete(first, scored):
        if first and failing == "complete":
            raise RuntimeError("the rules failed")
        return scored

    async def scenario(booster):
        batcher = MicroBatcher(prepare, complete, booster)
        with pytest.raises(RuntimeError):
            await batcher.submit(1)
        return await batcher.submit(2)

    assert run(scenario) == 20


def test_a_caller_that_goes_away_does_not_disturb_the_others():
    steps = Steps()
    steps.gate.clear()

    async def scenario(booster):
        batcher = MicroBatcher(steps.prepare, steps.complete, booster)
        gone = asyncio.ensure_future(batcher.submit(1))
        stays = asyncio.ensure_future(batcher.submit(2))
        await asyncio.sleep(0.05)
        gone.cancel()
        steps.gate.set()
        return await stays, gone.cancelled()

    assert run(scenario) == (20, True)


def test_one_by_one_answers_on_the_loop_and_keeps_errors_per_item():
    def answer(value, request_id):
        if value < 0:
            raise LookupError(f"{request_id}: negative")
        return (value, request_id, threading.get_ident())

    async def scenario(booster):
        batcher = MicroBatcher(*one_by_one(answer), booster)
        results = await asyncio.gather(*(batcher.submit(item)
                                         for item in ((1, "a"), (-1, "b"), (2, "c"))),
                                       return_exceptions=True)
        return results, threading.get_ident()

    (first, error, third), loop_thread = run(scenario)
    assert first == (1, "a", loop_thread) and third == (2, "c", loop_thread)
    assert isinstance(error, LookupError) and "b: negative" in str(error)


def test_after_the_booster_is_shut_down_callers_get_an_error_not_a_hang():
    steps = Steps()

    async def scenario(booster):
        batcher = MicroBatcher(steps.prepare, steps.complete, booster)
        booster.shutdown()
        with pytest.raises(RuntimeError, match="shutdown"):
            await batcher.submit(1)
        return True

    assert run(scenario) is True
