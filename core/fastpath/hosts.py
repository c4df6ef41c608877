"""Which Ollama host answers a request for a mapping served by several: the direct path's choice.

Random choice is wrong for coding agents: each turn of a conversation resends the whole prompt,
and only the host that answered the turn before holds it in its cache (a host that never saw it
processes all of it again, ~20k tokens for Claude Code's first turn). So:

- a conversation (:func:`core.fastpath.conversation.conversation_key`) stays on the host that
  last answered it (a bounded LRU of conversation → host);
- a new conversation goes to the healthy host with the fewest requests in flight (counted
  here, as the direct path sends and finishes them), ties taken in turn;
- a host that fails (refuses the connection, drops it before answering) is skipped until its
  health check passes: while any host is down, a task probes each down host's
  ``/api/version`` every ``check_every_s`` seconds. A conversation whose host is down moves to
  another, and stays there;
- when every host is down, they are all tried anyway, in config order (the request fails or
  falls back as it would with one host).

One chooser per running gateway, used on the gateway's loop only (:class:`core.fastpath.route.
DirectRoute` holds it and stops its health checks when the gateway stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

from core.fastpath.plan import Target

log = logging.getLogger(__name__)

#: How many conversations are remembered (the oldest unused go first).
REMEMBERED = 4096
#: How often a down host is probed, in seconds.
CHECK_EVERY_S = 2.0

Probe = Callable[[str], Awaitable[bool]]


class HostChooser:
    """Conversation affinity, in-flight counts and health of the Ollama hosts.

    Args:
        probe: whether the Ollama at an ``api_base`` answers (its ``/api/version``); awaited
            on the gateway's loop.
        check_every_s: the pause between two probes of the hosts that are down.
        remembered: how many conversations keep their host.
    """

    def __init__(
        self, probe: Probe, *, check_every_s: float = CHECK_EVERY_S, remembered: int = REMEMBERED
    ) -> None:
        self.check_every_s = check_every_s
        self._probe = probe
        self._remembered = remembered
        self._affinity: OrderedDict[tuple[str, bytes], str] = OrderedDict()
        self._in_flight: dict[str, int] = {}
        self._down: set[str] = set()
        self._turn = 0
        self._checks: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ choosing
    def order(self, group: str, key: bytes | None, targets: Sequence[Target]) -> tuple[Target, ...]:
        """``targets`` (a group's deployments, one per host) in the order to try them: the
        conversation's host, else the least busy healthy one, then the other healthy ones by
        load, then those that are down."""
        if len(targets) < 2:
            return tuple(targets)
        up = [t for t in targets if t.api_base not in self._down]
        down = [t for t in targets if t.api_base in self._down]
        if not up:
            return tuple(targets)
        pinned = self._affinity.get((group, key)) if key is not None else None
        mine = next((t for t in up if t.api_base == pinned), None)
        if mine is None:
            self._turn += 1  # a new conversation (or one whose host is down): the next in turn
        turn = self._turn
        # fewest in flight first; equals in turn (a rotation of config order)
        rank = {id(t): (self._in_flight.get(t.api_base, 0), (i - turn) % len(up)) for i, t in enumerate(up)}
        up.sort(key=lambda t: rank[id(t)])
        if mine is not None:
            assert key is not None
            self._affinity.move_to_end((group, key))
            up.remove(mine)
            up.insert(0, mine)
        return (*up, *down)

    def served(self, group: str, key: bytes | None, api_base: str) -> None:
        """``api_base`` took the conversation's request: its next turns go there too."""
        if key is None:
            return
        self._affinity[(group, key)] = api_base
        self._affinity.move_to_end((group, key))
        while len(self._affinity) > self._remembered:
            self._affinity.popitem(last=False)

    def host_of(self, group: str, key: bytes) -> str | None:
        """The host a conversation sticks to (``None``: a new one)."""
        return self._affinity.get((group, key))

    # ------------------------------------------------------------------ load
    def begin(self, api_base: str) -> None:
        """A request went to ``api_base``."""
        self._in_flight[api_base] = self._in_flight.get(api_base, 0) + 1

    def end(self, api_base: str) -> None:
        """A request to ``api_base`` is over (answered, failed or abandoned)."""
        left = self._in_flight.get(api_base, 0) - 1
        if left > 0:
            self._in_flight[api_base] = left
        else:
            self._in_flight.pop(api_base, None)

    def in_flight(self, api_base: str) -> int:
        return self._in_flight.get(api_base, 0)

    # ------------------------------------------------------------------ health
    def is_down(self, api_base: str) -> bool:
        return api_base in self._down

    def failed(self, api_base: str) -> None:
        """``api_base`` could not be reached: skip it until a probe finds it answering."""
        if api_base not in self._down:
            log.info("Ollama at %s is not answering; its requests go to the mapping's other hosts", api_base)
        self._down.add(api_base)
        if self._checks is None or self._checks.done():
            self._checks = asyncio.get_running_loop().create_task(self._check_down_hosts())

    def keep_only(self, hosts: set[str]) -> None:
        """Forget the health of hosts other than ``hosts`` (the config no longer uses them)."""
        self._down &= hosts

    async def _check_down_hosts(self) -> None:
        while self._down:
            await asyncio.sleep(self.check_every_s)
            for api_base in sorted(self._down):
                answers = False
                with contextlib.suppress(Exception):  # any failure to answer is "still down"
                    answers = await self._probe(api_base)
                if answers:
                    self._down.discard(api_base)
                    log.info("Ollama at %s answers again; it takes requests again", api_base)

    async def close(self) -> None:
        """Stop the health checks (the gateway is stopping)."""
        task, self._checks = self._checks, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
