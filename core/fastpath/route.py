"""The gateway's direct path: chat requests for Ollama-only mappings, answered without LiteLLM.

An ASGI middleware between GateDeck's key check and the LiteLLM app. For
``POST /v1/chat/completions``, ``POST /v1/messages`` and ``POST /v1/responses`` (the Responses
API, Codex's: :mod:`core.fastpath.responses`) whose model lands on a group of
Ollama deployments (:mod:`core.fastpath.plan`), it sends the request straight
to Ollama's ``/api/chat`` (the same body LiteLLM would build: the mapping's ``options``,
``keep_alive``, tools) and translates the answer (:mod:`core.fastpath.openai`,
:mod:`core.fastpath.anthropic`), streaming chunk by chunk. Everything else — other routes,
cloud models, requests using features the translation does not cover — goes to LiteLLM
unchanged (a chat request's client hanging up cancels LiteLLM's work on it); for an Ollama
mapping's request, LiteLLM's record says why the fast path passed it on
(:attr:`core.metrics.recorder.RequestRecord.declined`, through :data:`HANDED_ON`). For a mapping on
several Ollama hosts, :class:`core.fastpath.hosts.HostChooser` picks the host: the one that
served the conversation before (its prompt is in that host's cache), else the least busy
healthy one; a host that refuses or drops the connection before answering is skipped, the next
one tried, until its health check passes.
``POST /v1/embeddings`` goes to Ollama's ``/api/embed`` the same way
(:mod:`core.fastpath.embeddings`), the fast path on or off (LiteLLM cannot embed with the Ollama
deployments it is given); a request of the wrong kind for its model (as Ollama listed the
model's capabilities at start) is a 400.

A mapping's fallbacks are tried when its Ollama model fails before anything reached the client
(refused, Ollama's 5xx, a timeout, the model not installed; not a 400, which the next model
would refuse too): an Ollama fallback here, a cloud one by handing the request, renamed, to
LiteLLM. Once the answer has begun, a failure is the client's error event, never a second
answer. The record names the mapping that failed and the fallback that answered. Each request it answers is recorded like LiteLLM's
(:class:`core.metrics.recorder.RequestRecord`), and answers carry ``x-gatedeck-path: direct``.
A request with GateDeck's probe header (:data:`core.metrics.recorder.PROBE_HEADER`) is marked
for its record, this one's or LiteLLM's (through :data:`core.metrics.litellm_hook.PROBE`).

Why (issue 9, measured with bench/gateway.py): LiteLLM's per-request machinery added 20–40 ms
and ~10 ms of CPU per request under the GIL the window shares.

Errors keep GateDeck's wording (the same as the LiteLLM path's): Ollama not running → 503
saying how to start it, a model that is not pulled → 404, Ollama's own errors with its text, a
connection lost mid-stream → the client's error event. A backend that refuses a connection is
skipped for the next requests (the engine's breaker) and the mapping's next backend is tried.
When the client goes away before its answer is complete, streamed or not, the request to
Ollama is closed so generation stops.

Local models, as Claude Code meets them (issue 14): a prompt estimated
(:mod:`core.fastpath.tokens`) to be longer than the mapping's context, less the room its answer
asks for, is refused with the API's own "too long" 400 when the mapping says so (Ollama would
cut it silently; Claude Code compacts on Anthropic's), and ``/v1/messages/count_tokens``
answers with the same estimate. Tool calls the model wrote as text become real calls
(:mod:`core.fastpath.tool_repair`) before any dialect translates the answer, so all three
APIs get them; the record says so, and carries Ollama's ``load_duration``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import (
    ModelNotFound,
    OllamaConnectionLost,
    OllamaServerError,
    OllamaTimeout,
    OllamaUnreachable,
)
from core.fastpath import anthropic as direct_anthropic
from core.fastpath import embeddings as direct_embeddings
from core.fastpath import models
from core.fastpath import openai as direct_openai
from core.fastpath import responses as direct_responses
from core.fastpath.conversation import conversation_key
from core.fastpath.dialect import Dialect
from core.fastpath.hosts import HostChooser
from core.fastpath.plan import DirectPlan, Route, Target
from core.fastpath.responses_memory import ResponseMemory
from core.fastpath.tokens import IMAGE_TOKENS, PromptSize, images_in, prompt_limit
from core.fastpath.tool_repair import StreamRepair, offered_tools, repair_answer
from core.fastpath.wire import RequestError, Unsupported, dumps, loads, requires_a_tool_call
from core.gateway.auth import ASGIApp, Message, Receive, Scope, Send
from core.gateway.intake import PARSED_BODY
from core.logs import scrub
from core.metrics.litellm_hook import HANDED_ON, PROBE, HandedOn
from core.metrics.recorder import (
    DECLINED_ERROR,
    DECLINED_MAX,
    PROBE_HEADER,
    MetricsRecorder,
    RequestRecord,
    generation_speed,
    likely_truncated,
)

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

#: The dialect modules by path (the Responses API makes one exchange per request instead).
_DIALECTS: dict[str, Dialect] = {
    "/v1/chat/completions": direct_openai,
    "/chat/completions": direct_openai,
    "/v1/messages": direct_anthropic,
}
_JSON = [(b"content-type", b"application/json")]
_COUNT_TOKENS = frozenset({"/v1/messages/count_tokens", "/messages/count_tokens"})
_MARK = (b"x-gatedeck-path", b"direct")
_PROBE = PROBE_HEADER.encode()
_FINAL = (b"x-should-retry", b"false")
_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    404: "not_found_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), _MARK]


@dataclass
class _Call:
    """One request on its way: what the record needs."""

    dialect: str
    requested: str
    group: str
    stream: bool
    at: float
    began: float
    target: Target | None = None
    model: str = ""
    num_ctx: int | None = None
    size: int = 0  # the request's bytes less its images' (for the prompt-token estimate)
    images: int = 0  # the images it carries
    tools: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # repairable calls
    repaired: str = ""  # how a call the model wrote as text was written
    fallback: str = ""  # the fallback being tried, once the mapping's own model failed
    unenforced: str = ""  # what the request asked that Ollama cannot be made to do
    endpoint: str = "/api/chat"  # Ollama's route for the request (embeddings: /api/embed)
    inputs: int | None = None  # the texts an embeddings request asks to embed
    conversation: bytes | None = None  # the conversation's key, for the host choice
    busy: str = ""  # the host counting this request in flight
    shared: bool = False  # its mapping has other hosts to go to


class _HostLost(Exception):
    """The host dropped the connection before answering: another host may still answer."""

    def __init__(self, failure: _Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class _Failure(Exception):
    """Ollama could not answer; ``status`` and ``message`` are what the client gets; ``final``:
    a retry cannot help (the answer says so, so that clients do not retry in silence)."""

    def __init__(self, status: int, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.final = final

    @property
    def falls_back(self) -> bool:
        """Whether a mapping's fallback may answer instead (a 400 is the request's fault)."""
        return self.status != 400


class DirectRoute:
    """ASGI middleware: Ollama-only chat requests straight to Ollama, the rest to ``app``.

    Args:
        app: the LiteLLM proxy app.
        plan: the current plan (``None``: pass everything on); read per request, so a
            hot-applied config takes effect on the next request.
        embedding_plan: the plan embeddings requests use when ``plan`` is ``None`` (the fast
            path turned off: LiteLLM cannot embed with the Ollama deployments it is given).
        recorder: where request records go (``None``: not recorded).
        trip: the engine's backend breaker, which keeps the LiteLLM path away from a host that
            refused a connection (the direct path's own choice among a mapping's hosts, with
            health checks, is :attr:`hosts`).
        timeout_s: how long Ollama may stay silent (connect, first byte, between chunks).
    """

    def __init__(
        self,
        app: ASGIApp,
        plan: Callable[[], DirectPlan | None],
        recorder: Callable[[], MetricsRecorder | None],
        *,
        trip: Callable[[str], None],
        timeout_s: Callable[[], float],
        embedding_plan: Callable[[], DirectPlan | None] = lambda: None,
    ) -> None:
        self.app = app
        self._plan = plan
        self._embedding_plan = embedding_plan
        self._recorder = recorder
        self._trip = trip
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self.served = 0  # requests answered here
        self.passed_on = 0  # chat requests handed to LiteLLM
        #: prompt tokens per model, learned from Ollama's counts (announced before it counts)
        self.prompt_size = PromptSize()
        #: (api_base, model) that refused ``think`` since the plan last changed (models Ollama
        #: was not asked about at start): their next requests go without it at once
        self._refused_think: set[tuple[str, str]] = set()
        self._refusals_for: DirectPlan | None = None
        #: recent Responses API answers, for ``previous_response_id``
        self.responses = ResponseMemory()
        #: which of a mapping's Ollama hosts answers (conversations, load, health)
        self.hosts = HostChooser(self._answers)

    async def close(self) -> None:
        """Stop the health checks and close the pooled connections to Ollama (on the gateway
        loop, before it ends)."""
        await self.hosts.close()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(name.lower() == _PROBE for name, _ in scope.get("headers", [])):
            token = PROBE.set(True)  # the record says so, here or in LiteLLM's hook
            try:
                await self._serve(scope, receive, send)
            finally:
                PROBE.reset(token)
            return
        await self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "GET" and scope.get("path") in models.PATHS:
            plan = self._plan()
            if plan is not None:  # the names GateDeck serves, not LiteLLM's config entries
                await _send_models(send, scope, plan)
                return
        if scope["type"] == "http" and scope.get("method") == "POST" and scope.get("path") in _COUNT_TOKENS:
            await self._count_tokens(scope, receive, send)
            return
        dialect = self._dialect(scope)
        if dialect is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        plan = self._plan()
        if plan is None and dialect.DIALECT == direct_embeddings.DIALECT:
            plan = self._embedding_plan()
        if plan is not self._refusals_for:  # new models or mappings: learn afresh
            self._refused_think.clear()
            self._refusals_for = plan
            if plan is not None:  # a host no mapping uses any more is not checked on
                self.hosts.keep_only({t.api_base for group in plan.groups.values() for t in group})
        if plan is None:
            await _pass_on(self.app, scope, body, receive, send)
            return
        route: Route | None = None
        try:
            parsed = scope.pop(PARSED_BODY, None)  # the gateway's intake parsed it already
            request = parsed if isinstance(parsed, dict) else loads(body)
            requested = request.get("model")
            if not isinstance(requested, str) or not requested:
                raise RequestError("model: Field required", param="model")
            route = plan.route(requested)
            if route is None:
                raise Unsupported("not an Ollama-only mapping")
            conversation = conversation_key(dialect.DIALECT, request) if len(route.targets) > 1 else None
            route = self._ordered(route, conversation)
            wrong = direct_embeddings.wrong_kind(dialect.DIALECT, route.targets[0])
            if wrong is not None:
                raise RequestError(wrong, param="model", code="model_not_supported")
            # translate for the first backend now: an unsupported request goes to LiteLLM whole
            ollama_body = dialect.ollama_request(request, route.targets[0], requested)
        except RequestError as problem:
            self.served += 1
            await _send_error(send, dialect.DIALECT, 400, problem.message, problem, final=True)
            return
        except (Unsupported, ValueError, TypeError, KeyError, AttributeError) as problem:
            self.passed_on += 1
            if route is None:  # not an Ollama mapping's request: LiteLLM's own
                await _pass_on(self.app, scope, body, receive, send)
                return
            await self._decline(str(requested), route.group, problem, scope, body, receive, send)
            return
        self.served += 1
        call = _Call(
            dialect=dialect.DIALECT,
            requested=requested,
            group=route.group,
            stream=bool(ollama_body.get("stream")),
            at=time.time(),
            began=time.perf_counter(),
            conversation=conversation,
        )
        if dialect.DIALECT == direct_embeddings.DIALECT:
            call.endpoint = direct_embeddings.ENDPOINT
            call.inputs = direct_embeddings.input_count(ollama_body)
        if requires_a_tool_call(request):
            call.unenforced = "a tool call was required (tool_choice); Ollama cannot force one"
        call.images, image_bytes = images_in(ollama_body)
        call.size = len(body) - image_bytes
        if await self._refuse_overflow(call, route.targets[0], ollama_body, send):
            return
        await self._answer(call, dialect, request, ollama_body, route, plan, scope, receive, send)

    async def _count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Anthropic's token count for an Ollama mapping: the estimate the overflow check
        uses; other models' counts are LiteLLM's."""
        body = await _read_body(receive)
        plan = self._plan()
        route: Route | None = None
        requested: Any = None
        with contextlib.suppress(ValueError, AttributeError):
            requested = loads(body).get("model")
        if plan is not None and isinstance(requested, str) and requested:
            route = plan.route(requested)
        if route is None:
            await _pass_on(self.app, scope, body, receive, send)
            return
        target = route.targets[0]
        images, image_bytes = 0, 0
        with contextlib.suppress(Unsupported, RequestError, ValueError, TypeError, KeyError, AttributeError):
            translated = direct_anthropic.ollama_request({**loads(body), "max_tokens": 1}, target, requested)
            images, image_bytes = images_in(translated)
        model = target.model_for(requested)
        tokens = self.prompt_size.estimate(model, len(body) - image_bytes) + images * IMAGE_TOKENS
        payload = dumps({"input_tokens": tokens})
        headers = [*_JSON, (b"content-length", str(len(payload)).encode()), _MARK]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _dialect(self, scope: Scope) -> Dialect | None:
        if scope["type"] != "http":
            return None
        path = scope.get("path", "")
        if path in direct_responses.PATHS:
            return direct_responses.ResponsesExchange(self.responses)
        if path in direct_embeddings.PATHS:
            return direct_embeddings.EmbeddingsExchange()
        return _DIALECTS.get(path)

    def _estimate(self, call: _Call) -> int:
        """The request's prompt tokens, before Ollama counts them."""
        return self.prompt_size.estimate(call.model, call.size) + call.images * IMAGE_TOKENS

    async def _refuse_overflow(
        self, call: _Call, target: Target, ollama_body: Mapping[str, Any], send: Send
    ) -> bool:
        """Answer the API's "prompt is too long" 400 when the mapping refuses prompts its
        context cannot hold (Ollama would cut them silently); True when it did."""
        if not target.refuse_overflow or not target.num_ctx or call.endpoint != "/api/chat":
            return False  # Ollama cuts each text to embed to its context itself
        call.model = str(ollama_body.get("model", ""))
        options = ollama_body.get("options") or {}
        num_ctx = _int(options.get("num_ctx")) or target.num_ctx
        estimate = self._estimate(call)
        limit = prompt_limit(num_ctx, _int(options.get("num_predict")))
        if estimate <= limit:
            return False
        call.target, call.num_ctx = target, num_ctx
        message, problem = _too_long(call.dialect, estimate, limit, num_ctx)
        await _send_error(send, call.dialect, 400, message, problem, final=True)
        self._record_failure(call, 400, message)
        return True

    # ------------------------------------------------------------------ answering
    async def _answer(
        self,
        call: _Call,
        dialect: Dialect,
        request: Mapping[str, Any],
        ollama_body: dict[str, Any],
        route: Route,
        plan: DirectPlan,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        handed_on = False
        # a client that hangs up before its answer is complete closes the request to Ollama
        with _HangUpWatch(receive, send) as watch:
            failure = await self._try(call, dialect, request, ollama_body, route, watch.send)
            for group in route.fallbacks:
                if failure is None or not failure.falls_back:
                    break
                log.info("direct path: %s; trying the fallback '%s'", failure.message, group)
                call.fallback = group
                hop = plan.route(group)
                if hop is not None:
                    hop = self._ordered(hop, call.conversation)
                hop_body: dict[str, Any] | None = None
                if hop is not None:
                    with contextlib.suppress(Unsupported, RequestError, ValueError, TypeError, KeyError):
                        hop_body = dialect.ollama_request(request, hop.targets[0], group)
                if hop is None or hop_body is None:  # a cloud model: LiteLLM's to answer
                    handed_on = True
                    await self._hand_on(call, scope, request, group, receive, watch.send)
                    failure = None
                    break
                failure = await self._try(call, dialect, request, hop_body, hop, watch.send, group)
            if failure is not None:
                await _send_error(
                    watch.send, call.dialect, failure.status, failure.message, final=failure.final
                )
                self._record_failure(call, failure.status, failure.message)
        if watch.hung_up and not handed_on:  # LiteLLM records the requests it was handed
            self._record_failure(call, 499, "the client closed the connection")

    async def _try(
        self,
        call: _Call,
        dialect: Dialect,
        request: Mapping[str, Any],
        ollama_body: dict[str, Any],
        route: Route,
        send: Send,
        requested: str | None = None,
    ) -> _Failure | None:
        """Answer from ``route``'s deployments; the failure when none could before anything
        was sent to the client (``requested``: the name the route was found for)."""
        response: aiohttp.ClientResponse | None = None
        try:
            response = await self._post(call, dialect, request, ollama_body, route, requested)
            if call.stream:
                await self._stream(call, dialect, request, response, send)
            else:
                await self._whole(call, dialect, response, send)
        except _Failure as failure:
            return failure
        finally:
            if response is not None:
                response.release()
            self._busy(call, "")
        return None

    def _ordered(self, route: Route, conversation: bytes | None) -> Route:
        """``route`` with its hosts in the order to try them (when it has several)."""
        if len(route.targets) < 2:
            return route
        return Route(route.group, self.hosts.order(route.group, conversation, route.targets), route.fallbacks)

    def _busy(self, call: _Call, api_base: str) -> None:
        """Count ``call`` in flight at ``api_base`` (``""``: nowhere any more)."""
        if call.busy:
            self.hosts.end(call.busy)
        call.busy = api_base
        if api_base:
            self.hosts.begin(api_base)

    def _lost(self, call: _Call) -> None:
        """The host cut ``call``'s answer off: the mapping's other hosts take the next requests
        until its health check passes."""
        if call.shared and call.target is not None:
            self.hosts.failed(call.target.api_base)

    async def _answers(self, api_base: str) -> bool:
        """The health check: whether the Ollama at ``api_base`` answers ``/api/version``."""
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=min(5.0, self._timeout_s()))
        async with self._client().get(api_base + "/api/version", timeout=timeout) as response:
            return response.status == 200

    async def _decline(
        self,
        requested: str,
        group: str,
        problem: Exception,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
    ) -> None:
        """Pass a request for the Ollama mapping ``group`` that the fast path does not
        translate on to LiteLLM; LiteLLM's record of it says why (``problem``)."""
        reason = declined_reason(problem)
        log.debug("fast path: LiteLLM answers a request for '%s' (%s)", group, reason, exc_info=problem)
        token = HANDED_ON.set(HandedOn(requested, "", time.time(), declined=reason))
        try:
            await _pass_on(self.app, scope, body, receive, send)
        finally:
            HANDED_ON.reset(token)

    async def _hand_on(
        self, call: _Call, scope: Scope, request: Mapping[str, Any], group: str, receive: Receive, send: Send
    ) -> None:
        """Hand the request to LiteLLM for ``group``, a fallback the direct path does not serve
        (a cloud model); LiteLLM's record of it names the mapping that failed."""
        self.passed_on += 1
        body = dumps({**request, "model": group})
        token = HANDED_ON.set(HandedOn(call.requested, call.group, call.at))
        try:
            await self.app(scope, _replay(body, receive), send)
        finally:
            HANDED_ON.reset(token)

    async def _post(
        self,
        call: _Call,
        dialect: Dialect,
        request: Mapping[str, Any],
        ollama_body: dict[str, Any],
        route: Route,
        requested: str | None = None,
    ) -> aiohttp.ClientResponse:
        """Send to the first backend that accepts the connection; a 200 response, or _Failure."""
        timeout = self._timeout_s()
        unreachable: list[str] = []
        name = requested or call.requested
        shared = call.shared = len(route.targets) > 1
        for number, target in enumerate(route.targets):
            body = ollama_body if number == 0 else dialect.ollama_request(request, target, name)
            call.target, call.model = target, body["model"]
            call.num_ctx = _int(body["options"].get("num_ctx"))
            call.tools = offered_tools(body) if target.repair_tool_calls else {}
            # Ollama said it cannot (asked at start), or refused it already: do not ask
            think = target.thinks and (target.api_base, body["model"]) not in self._refused_think
            while True:
                if not think:
                    body = {k: v for k, v in body.items() if k != "think"}
                self._busy(call, target.api_base)
                try:
                    response = await self._send(body, target, call, timeout)
                except ConnectionRefusedError:
                    self._trip(target.api_base)
                    if shared:
                        self.hosts.failed(target.api_base)
                    unreachable.append(target.api_base)
                    break
                except _HostLost as lost:
                    if number + 1 == len(route.targets):
                        raise lost.failure from None
                    self.hosts.failed(target.api_base)  # the next host may answer instead
                    break
                if response.status == 200:
                    self.hosts.served(route.group, call.conversation, target.api_base)
                    return response
                try:
                    detail = await response.read()
                finally:
                    response.release()
                if (
                    think
                    and "think" in body
                    and response.status == 400
                    and b"does not support thinking" in detail
                ):
                    # Claude Code asks to think whatever the model; Ollama refuses the whole
                    # request for a model that cannot. Answer without thinking instead.
                    think = False
                    self._refused_think.add((target.api_base, body["model"]))
                    continue
                message = _ollama_error(response.status, detail, target, call)
                if response.status == 503 and call.dialect == "anthropic":
                    raise _Failure(529, message)  # Ollama's queue is full: the API's "overloaded"
                raise _Failure(response.status, message, final=response.status in (400, 404))
        where = unreachable[-1] if unreachable else "Ollama"
        raise _Failure(503, _where(OllamaUnreachable(where), call), final=True)

    async def _send(
        self, body: dict[str, Any], target: Target, call: _Call, silence_s: float
    ) -> aiohttp.ClientResponse:
        """POST ``body`` to ``target``'s /api/chat (or /api/embed); ConnectionRefusedError when
        nothing listens."""
        import aiohttp

        try:
            return await self._client().post(
                target.api_base + call.endpoint,
                data=dumps(body),
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=silence_s, sock_read=silence_s),
            )
        except (aiohttp.ClientConnectorError, ConnectionRefusedError) as exc:
            log.debug("direct path: %s refused: %s", target.api_base, exc)
            raise ConnectionRefusedError(str(exc)) from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise _Failure(
                504, _where(OllamaTimeout(target.api_base, "the request", silence_s), call)
            ) from None
        except aiohttp.ClientConnectionError as exc:  # dropped before answering
            failure = _Failure(502, _where(OllamaConnectionLost(target.api_base, str(exc)), call))
            raise _HostLost(failure) from None
        except aiohttp.ClientError as exc:
            raise _Failure(502, _where(OllamaConnectionLost(target.api_base, str(exc)), call)) from None

    async def _whole(
        self,
        call: _Call,
        dialect: Dialect,
        response: aiohttp.ClientResponse,
        send: Send,
    ) -> None:
        import aiohttp

        api_base = call.target.api_base if call.target else "Ollama"
        try:
            answer = loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            # nothing was sent yet: a fallback may still answer
            raise _Failure(502, _where(OllamaConnectionLost(api_base, type(exc).__name__), call)) from None
        if not isinstance(answer, dict) or "error" in answer:
            detail = answer.get("error") if isinstance(answer, dict) else "an unreadable answer"
            raise _Failure(500, _where(OllamaServerError(api_base, 500, str(detail)), call))
        answer, shape = repair_answer(answer, call.tools)
        call.repaired = shape or ""
        payload = dumps(dialect.reply(answer, call.requested))
        headers = [*_JSON, (b"content-length", str(len(payload)).encode()), _MARK]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        self._record_success(call, answer, first=None)

    async def _stream(
        self,
        call: _Call,
        dialect: Dialect,
        request: Mapping[str, Any],
        response: aiohttp.ClientResponse,
        send: Send,
    ) -> None:
        import aiohttp

        estimate = self._estimate(call)
        reply = dialect.stream_reply(call.requested, request, estimate)
        repair = StreamRepair(call.tools)
        await send({"type": "http.response.start", "status": 200, "headers": _SSE})
        opening = reply.start()
        if opening:
            await send({"type": "http.response.body", "body": opening, "more_body": True})
        first: float | None = None
        done: Mapping[str, Any] | None = None
        problem: str | None = None
        api_base = call.target.api_base if call.target else "Ollama"
        try:
            pending = b""
            async for data in response.content.iter_any():
                pending += data
                *lines, pending = pending.split(b"\n")
                out = b""
                for line in lines:
                    if not line.strip():
                        continue
                    chunk = loads(line)
                    if "error" in chunk:
                        problem = _where(OllamaServerError(api_base, 0, str(chunk["error"])), call)
                        break
                    if first is None and _has_output(chunk):
                        first = time.perf_counter()
                    for piece in repair.feed(chunk):
                        out += reply.feed(piece)
                    if chunk.get("done"):
                        done = chunk
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                if problem is not None or done is not None:
                    break
            if done is None and problem is None:
                problem = _where(OllamaConnectionLost(api_base, "the answer ended early"), call)
                self._lost(call)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            silence = self._timeout_s()
            problem = _where(OllamaTimeout(api_base, "the rest of the answer", silence), call)
        except (aiohttp.ClientError, ValueError, ConnectionError) as exc:
            problem = _where(OllamaConnectionLost(api_base, type(exc).__name__), call)
            if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, ConnectionError)):
                self._lost(call)
        if problem is not None:
            await send({"type": "http.response.body", "body": reply.error(problem), "more_body": False})
            self._record_failure(call, 502, problem)
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        assert done is not None
        call.repaired = repair.shape or ""
        self._record_success(call, done, first=first)
        await _drain(response)

    def _client(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    # ------------------------------------------------------------------ records
    def _record_success(self, call: _Call, done: Mapping[str, Any], first: float | None) -> None:
        latency = time.perf_counter() - call.began
        ttft = (first - call.began) if first is not None else latency
        prompt = _int(done.get("prompt_eval_count"))
        completion = _int(done.get("eval_count"))
        truncated = likely_truncated(prompt, call.num_ctx)
        if prompt and not truncated:  # a prompt Ollama cut says nothing of the tokenizer
            self.prompt_size.learn(call.model, call.size, prompt)
        load = _int(done.get("load_duration"))
        self._record(
            call,
            ttft_s=ttft,
            latency_s=latency,
            prompt_tokens=prompt,
            completion_tokens=completion,
            tokens_per_s=generation_speed(completion, call.stream, latency - ttft, latency),
            likely_truncated=truncated,
            load_s=load / 1e9 if load is not None else None,
            repaired=call.repaired,
            fallback=call.fallback,
        )

    def _record_failure(self, call: _Call, status: int, message: str) -> None:
        self._record(
            call,
            ok=False,
            status=status,
            error=scrub(message.splitlines()[0] if message else "")[:300],
            latency_s=time.perf_counter() - call.began,
        )

    def _record(self, call: _Call, **outcome: Any) -> None:
        recorder = self._recorder()
        if recorder is not None:
            recorder.record(
                RequestRecord(
                    at=call.at,
                    dialect=call.dialect,
                    requested=call.requested,
                    mapping=call.group,
                    model=call.model,
                    backend=_backend(call.target),
                    stream=call.stream,
                    num_ctx=call.num_ctx,
                    unenforced=call.unenforced,
                    route="fastpath",
                    inputs=call.inputs,
                    probe=PROBE.get(),
                    **outcome,
                )
            )


def _has_output(chunk: Mapping[str, Any]) -> bool:
    message = chunk.get("message") or {}
    return bool(message.get("content") or message.get("thinking") or message.get("tool_calls"))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _backend(target: Target | None) -> str:
    if target is None:
        return ""
    return target.backend or target.api_base


def _where(error: Exception, call: _Call) -> str:
    return f"{error} (serving '{call.fallback or call.group}')"


def _too_long(dialect: str, tokens: int, limit: int, num_ctx: int) -> tuple[str, RequestError | None]:
    """The API's own words for a prompt over ``limit`` (Claude Code compacts on Anthropic's;
    OpenAI clients know the ``context_length_exceeded`` code)."""
    if dialect == "anthropic":
        return f"prompt is too long: {tokens} tokens > {limit} maximum", None
    message = (
        f"This model's maximum context length is {num_ctx} tokens, {limit} of them for the prompt "
        f"with room for the requested output. However, your messages resulted in about {tokens} "
        "tokens. Please reduce the length of the messages."
    )
    param = "input" if dialect == "responses" else "messages"
    return message, RequestError(message, param=param, code="context_length_exceeded")


def _ollama_error(status: int, detail: bytes, target: Target, call: _Call) -> str:
    try:
        text = str(loads(detail).get("error") or "")
    except (ValueError, AttributeError):
        text = detail.decode("utf-8", "replace").strip()
    if status == 404 and "not found" in text:
        return _where(ModelNotFound(call.model, target.api_base), call)
    return _where(OllamaServerError(target.api_base, status, text or f"HTTP {status}"), call)


async def _send_error(
    send: Send,
    dialect: str,
    status: int,
    message: str,
    problem: RequestError | None = None,
    *,
    final: bool = False,
) -> None:
    """The error answer in the client's API shape. ``final`` (and any request error) adds
    ``x-should-retry: false``: the official SDKs, Claude Code's included, then show it at once
    instead of retrying in silence for a minute or more."""
    if dialect == "anthropic":
        kind = _ANTHROPIC_ERRORS.get(status, "api_error")
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    elif problem is not None:
        kind, param, code = "invalid_request_error", problem.param, problem.code
        body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    else:
        body = {"error": {"message": message, "type": "api_error", "param": None, "code": str(status)}}
    payload = dumps(body)
    headers = [*_JSON, (b"content-length", str(len(payload)).encode()), _MARK]
    if final or problem is not None:
        headers.append(_FINAL)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _send_models(send: Send, scope: Scope, plan: DirectPlan) -> None:
    anthropic = any(name.lower() == b"anthropic-version" for name, _ in scope.get("headers", []))
    payload = dumps(models.models_list(plan.routes, anthropic=anthropic))
    headers = [*_JSON, (b"content-length", str(len(payload)).encode()), _MARK]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _drain(response: aiohttp.ClientResponse) -> None:
    """Read what follows Ollama's last chunk (the end of the chunked body), so the connection
    goes back to the pool instead of being closed: a new connection per request costs more
    CPU than the whole translation."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await response.read()


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(parts)


def declined_reason(problem: Exception) -> str:
    """Why the fast path passed a request on, for its record: what :class:`Unsupported` names,
    or an unexpected exception's class and message; one line, secrets scrubbed, bounded."""
    if isinstance(problem, Unsupported):
        text = str(problem) or "unsupported"
    else:
        text = f"{DECLINED_ERROR}{type(problem).__name__}: {problem}"
    return scrub(" ".join(text.split()))[:DECLINED_MAX]


async def _pass_on(app: ASGIApp, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
    """Hand a chat request to LiteLLM (``app``). A client that hangs up before its answer is
    complete cancels LiteLLM's work on it, which closes LiteLLM's request to Ollama (or to a
    cloud API) so that generation stops: LiteLLM itself goes on with a whole (non-streamed)
    answer nobody will read."""
    with _HangUpWatch(receive, send) as watch:
        await app(scope, _replay(body, receive), watch.send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the LiteLLM app: the body already read, then the client's own events."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


class _HangUpWatch:
    """Until an answer's last part is sent, a client that hangs up cancels the task answering
    it (closing its request to Ollama or LiteLLM's, so that generation stops); the block it
    guards then ends quietly, :attr:`hung_up` true.

    Send the answer through :meth:`send`: its last body stops the watch, since after it the
    server reports a disconnect for every request.
    """

    def __init__(self, receive: Receive, send: Send) -> None:
        self._task = asyncio.current_task()
        self._watcher = asyncio.ensure_future(_cancel_on_disconnect(receive, self._task))
        self._send = send

    @property
    def hung_up(self) -> bool:
        """Whether the client went away before its answer was complete."""
        watcher = self._watcher
        return watcher.done() and not watcher.cancelled() and watcher.result()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self._watcher.cancel()  # the answer is complete: the client leaving cancels nothing
        await self._send(message)

    def __enter__(self) -> _HangUpWatch:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: object, trace: object) -> bool:
        self._watcher.cancel()
        if not self.hung_up:
            return False
        if self._task is not None:
            self._task.uncancel()  # the cancellation was ours, for the client that left
        return kind is None or issubclass(kind, asyncio.CancelledError)


async def _cancel_on_disconnect(receive: Receive, task: asyncio.Task[Any] | None) -> bool:
    """Wait for the client to go away, then cancel ``task`` (its stream); True when it did."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if task is not None:
                with contextlib.suppress(RuntimeError):
                    task.cancel()
            return True
