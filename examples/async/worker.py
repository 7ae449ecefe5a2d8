"""An asyncio worker that consumes two queues (urgent first) on one connection, with a
per-job deadline and a lock around the device — the "web-style worker" of docs/ASYNC.md.

    python3 examples/async/worker.py [SOCKET]     (stops after a "stop" job)
"""

import asyncio
import sys

import xproc.aio


async def handle(job, device):
    async with device:  # an xproc lock, held across processes
        await asyncio.sleep(0)  # ... real work here ...
    return {"job": job, "done": True}


async def main(path=None):
    async with xproc.aio.connect(path) as c:
        urgent, jobs, results = c.Queue("urgent"), c.Queue("jobs"), c.Queue("results")
        device = c.Lock("device")
        while True:
            try:
                # One request waits on both queues; urgent wins when both have work.
                async with asyncio.timeout(30):
                    q, job = await xproc.aio.get_any([urgent, jobs])
            except TimeoutError:
                continue  # the cancelled get took nothing
            if job == "stop":
                return
            await results.put(await handle(job, device))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:2]))
