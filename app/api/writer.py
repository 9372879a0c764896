"""One thread records this process's commands, in the order they arrive: the store takes one
writer at a time anyway, and a queue to one thread costs less than many threads taking turns
at a lock (each turn a hand-over of the interpreter)."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

Job = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, asyncio.Future[Any]]


class CommandWriter:
    """``await writer.submit(fn, *args)`` runs ``fn(*args)`` on the writer thread (started
    at the first command) and answers its result or raises its error."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    async def submit(self, function: Callable[..., Any], *args: Any) -> Any:
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="dossier-writer",
                                                    daemon=True)
                    self._thread.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((function, args, loop, future))
        return await future

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(10)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            function, args, loop, future = job
            try:
                result = function(*args)
            except BaseException as error:  # handed to the request that asked, as raised
                loop.call_soon_threadsafe(_settle, future, None, error)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the client went away: what was recorded stays recorded
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
