"""Targeted patches that cut LiteLLM's per-request work GateDeck does not need (issue 9).

Each :class:`Patch` replaces one function of LiteLLM 1.106.2 that py-spy showed on every
request through the embedded proxy. A patch is applied only when the function it replaces is
the very code it was written against (a sha256 of its source, pinned here); after a LiteLLM
upgrade that changed it the gateway keeps LiteLLM's own code (slower, still correct) and
``tests/core/test_gateway_speedups.py`` fails, saying which patch to re-check.

Set ``GATEDECK_GATEWAY_SPEEDUPS=0`` to run the stock proxy (``bench/gateway.py`` measures both).
GateDeck's own callbacks (the metrics logger, the routing hook) are never touched.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import importlib
import inspect
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ENV = "GATEDECK_GATEWAY_SPEEDUPS"
_LOCAL_PROVIDERS = frozenset({"ollama", "ollama_chat"})


def enabled(environ: dict[str, str] | None = None) -> bool:
    """False when ``GATEDECK_GATEWAY_SPEEDUPS`` is ``0``/``false``/``off`` (stock LiteLLM)."""
    value = (os.environ if environ is None else environ).get(ENV, "1")
    return value.strip().lower() not in ("0", "false", "off", "no")


@dataclass(frozen=True)
class Patch:
    """Replace ``owner.attr`` (``owner`` a module, or ``module:Class``) with ``make(original)``.

    Attributes:
        name: what the patch is called in logs and test failures.
        owner: ``"litellm.x.y"`` (a module) or ``"litellm.x.y:Class"``.
        attr: the function (or method) replaced.
        sha256: of ``inspect.getsource`` of the original, as of LiteLLM 1.106.2.
        make: builds the replacement from the original; ``None`` means "leave it alone here".
        why: one line, for the reader.
    """

    name: str
    owner: str
    attr: str
    sha256: str
    make: Callable[[Any], Any | None]
    why: str

    def resolve_owner(self) -> Any:
        module_name, _, class_name = self.owner.partition(":")
        owner = importlib.import_module(module_name)
        return getattr(owner, class_name) if class_name else owner

    def original(self) -> Any:
        """LiteLLM's own function, whether or not the patch is applied now."""
        current = inspect.getattr_static(self.resolve_owner(), self.attr)
        return getattr(current, "__gatedeck_original__", current)

    def source_hash(self) -> str:
        function = self.original()
        function = getattr(function, "__func__", function)  # staticmethod/classmethod
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


# --------------------------------------------------------------------------- replacements


def _no_tenant_otel(original: Any) -> Any:
    # user_api_key_auth._seed_request_destinations resolves per-tenant OpenTelemetry
    # destinations after every successful key check. Its first step imports
    # litellm.integrations.otel.*, which fails without the optional OTel packages, and a
    # failed import is retried (a full sys.path search) on every request: ~4% of the proxy's
    # CPU. GateDeck configures no OTel, so there is never a destination to seed; the original
    # swallows every error and returns None, which is what this does at once.
    def _seed_request_destinations(user_api_key_dict: Any, request: Any = None) -> None:
        return None

    return _seed_request_destinations


def _no_prisma_search(original: Any) -> Any | None:
    # log_db_metrics.is_exception_related_to_db imports prisma on each call; the proxy calls it
    # for exceptions raised inside its DB-logging wrapper, which happen on ordinary requests
    # without a database. prisma is not installed with GateDeck, so each call searched sys.path
    # and raised ModuleNotFoundError. Raise the same error without the search. If prisma is
    # installed the import is cached by Python and the original is left alone.
    try:
        importlib.import_module("prisma.errors")
    except ImportError:
        pass
    else:
        return None

    def is_exception_related_to_db(e: Exception) -> bool:
        raise ModuleNotFoundError("No module named 'prisma'", name="prisma")

    return is_exception_related_to_db


def _free_local_models(original: Any) -> Any:
    # Logging.response_cost_calculator prices every answer (cost map lookups, token-type
    # breakdowns, a zero-cost diagnostic): ~5% of the CPU per request. Ollama models are free,
    # and GateDeck renders them with a zero price anyway, so the answer is always 0.0 for them;
    # cloud mappings still get LiteLLM's own pricing.
    def response_cost_calculator(self: Any, result: object, *args: Any, **kwargs: Any) -> float | None:
        if self.model_call_details.get("custom_llm_provider") in _LOCAL_PROVIDERS:
            return 0.0
        result_cost: float | None = original(self, result, *args, **kwargs)
        return result_cost

    return response_cost_calculator


PATCHES: tuple[Patch, ...] = (
    Patch(
        name="no per-request OTel destination import",
        owner="litellm.proxy.auth.user_api_key_auth",
        attr="_seed_request_destinations",
        sha256="c7685468c8f19b6298e579ccd9978475298fee7af3b019e735585e89f4160ab4",
        make=_no_tenant_otel,
        why="a failed import retried on every request",
    ),
    Patch(
        name="no per-request prisma import",
        owner="litellm.proxy.db.log_db_metrics",
        attr="is_exception_related_to_db",
        sha256="5c5944dfd6ca0a21d9a6bee8e492b2da987740594d9b003aea9c713ac23d405c",
        make=_no_prisma_search,
        why="a failed import retried on every DB-wrapper exception",
    ),
    Patch(
        name="local models cost nothing",
        owner="litellm.litellm_core_utils.litellm_logging:Logging",
        attr="response_cost_calculator",
        sha256="f486b03e933f7d6b38c6ea4a7ddafe6a7216178180c5b976d1ca6b5632cb5c13",
        make=_free_local_models,
        why="cost calculation for free models",
    ),
)


# --------------------------------------------------------------------------- the executor hop


# LiteLLM functions that ``loop.run_in_executor`` is handed in async mode, and the keyword that
# says "async mode" (the function then only builds a coroutine that does the I/O on the loop).
_INLINE_CALLS = {
    ("litellm.main", "completion"): "acompletion",  # litellm.acompletion (OpenAI route)
    (
        "litellm.llms.anthropic.pass_through.messages.handler",
        "anthropic_messages_handler",
    ): "is_async",  # litellm.anthropic_messages (/v1/messages, Claude Code)
}


def _is_local_completion(fn: Callable[..., Any]) -> bool:
    """Is ``fn`` LiteLLM's ``partial(ctx.run, partial(<call>, ..., <async flag>=True))`` for an
    Ollama model, ``<call>`` one of :data:`_INLINE_CALLS`?"""
    if not isinstance(fn, functools.partial) or len(fn.args) != 1 or fn.keywords:
        return False
    inner = fn.args[0]
    if not isinstance(inner, functools.partial) or inner.args:
        return False
    target = inner.func
    flag = _INLINE_CALLS.get((getattr(target, "__module__", ""), getattr(target, "__name__", "")))
    keywords = inner.keywords
    if flag is None or keywords.get(flag) is not True:
        return False
    provider = keywords.get("custom_llm_provider")
    model = str(keywords.get("model") or "")
    return provider in _LOCAL_PROVIDERS or (provider is None and model.split("/", 1)[0] in _LOCAL_PROVIDERS)


class InlineLocalCompletions(concurrent.futures.ThreadPoolExecutor):
    """The gateway loop's default executor: runs LiteLLM's async-mode ``completion()`` and
    ``anthropic_messages_handler()`` for Ollama models inline, everything else on worker
    threads as usual.

    ``litellm.acompletion`` and ``litellm.anthropic_messages`` run those synchronous functions
    through ``loop.run_in_executor`` even when they only build a coroutine (which an Ollama
    call does: the HTTP request is made by the coroutine, on the loop). The hop to a worker thread and
    back cost ~10% of the proxy's CPU per request and a GIL hand-off each way, shared with the
    UI thread. Cloud providers, DNS lookups (``getaddrinfo``) and anything else keep their
    worker threads, so nothing that can block is moved onto the loop.
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        if args or kwargs or not _is_local_completion(fn):
            return super().submit(fn, *args, **kwargs)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn())
        except Exception as exc:  # delivered to the awaiting acompletion, as from a thread
            future.set_exception(exc)
        return future


def use_inline_executor(loop: asyncio.AbstractEventLoop) -> None:
    """Make :class:`InlineLocalCompletions` the default executor of the gateway ``loop``."""
    loop.set_default_executor(InlineLocalCompletions(thread_name_prefix="gatedeck-litellm"))


def apply(patches: tuple[Patch, ...] = PATCHES) -> list[str]:
    """Apply the patches whose target is unchanged; returns the names of those applied.

    Idempotent. Call after LiteLLM's proxy is imported, before the gateway serves.
    """
    applied = []
    for patch in patches:
        try:
            owner = patch.resolve_owner()
            current = inspect.getattr_static(owner, patch.attr)
            if getattr(current, "__gatedeck_original__", None) is not None:
                applied.append(patch.name)
                continue
            if patch.source_hash() != patch.sha256:
                log.warning("gateway speedup %r skipped: LiteLLM's %s changed", patch.name, patch.attr)
                continue
            replacement = patch.make(current)
            if replacement is None:
                continue
            replacement.__gatedeck_original__ = current
            setattr(owner, patch.attr, replacement)
            applied.append(patch.name)
        except Exception as exc:  # a speedup must never keep the gateway from starting
            log.warning("gateway speedup %r skipped: %s", patch.name, exc)
    return applied
