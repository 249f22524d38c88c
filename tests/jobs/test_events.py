"""Job events reach the channel layer in the order a process published them, from any thread."""

import asyncio

from channels.layers import get_channel_layer

from jobs.events import job_group, publish_job_event

WAIT = 60.0  # seconds of patience for a message: generous on a loaded machine, never a claim about speed


async def test_events_reach_the_group_in_the_order_published_from_the_loop_and_from_threads(bound_loop):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = job_group(987654)
    await layer.group_add(group, channel)
    try:
        publish_job_event(987654, "status", {"status": "Inited"})  # on the loop's thread, as a socket's submit

        def runner_thread() -> None:  # a runner's thread, as a job moves on
            for n in range(60):
                publish_job_event(987654, "progress", {"progress": n})

        await asyncio.to_thread(runner_thread)
        publish_job_event(987654, "status", {"status": "Succeed"})
        received = []
        for _ in range(62):
            message = await asyncio.wait_for(layer.receive(channel), WAIT)
            received.append(message.get("status", message.get("progress")))
        assert received == ["Inited", *range(60), "Succeed"]
    finally:
        await layer.group_discard(group, channel)
