import asyncio

import pytest

from cloudplane.actors.mailbox import Mailbox


async def test_runs_one_at_a_time_in_order() -> None:
    mb = Mailbox()
    order: list[int] = []
    active = 0
    peak = 0

    def op(i: int):  # noqa: ANN202
        async def run() -> int:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0)
            order.append(i)
            active -= 1
            return i

        return run

    futs = [mb.submit(None, op(i)) for i in range(1000)]
    assert await asyncio.gather(*futs) == list(range(1000))
    assert order == list(range(1000))
    assert peak == 1


async def test_identical_pending_key_is_joined() -> None:
    mb = Mailbox()
    runs = 0
    gate = asyncio.Event()

    async def start() -> str:
        nonlocal runs
        runs += 1
        await gate.wait()
        return "Running"

    a = mb.submit(("start", b"{}"), start)
    b = mb.submit(("start", b"{}"), start)
    c = mb.submit(("start", b'{"x":1}'), start)  # different arguments: its own run
    assert a is b
    gate.set()
    assert await asyncio.gather(a, b, c) == ["Running"] * 3
    assert runs == 2


async def test_idle_mailbox_holds_no_task_and_exceptions_reach_caller() -> None:
    mb = Mailbox()
    assert mb.idle and mb.depth == 0

    async def boom() -> None:
        raise ValueError("x")

    with pytest.raises(ValueError):
        await mb.submit(None, boom)
    await asyncio.sleep(0)
    assert mb.idle and mb._queue is None
