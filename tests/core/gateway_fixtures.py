"""Module-scoped fixtures for a test module that runs the real embedded gateway in front of the
fake Ollama, so each module says only what its gateway has that the others' do not::

    fake = fake_ollama(qwen3_8b())            # default_models() and these
    recorder = metrics_recorder()             # the records a test waits for
    gateway = embedded_gateway(Mapping(name="claude-thinker", model="qwen3:8b"), metrics=True)

Each factory returns a pytest fixture with a fixed name (``fake``, ``recorder``, ``cloud``,
``gateway``); assign it to that name at module level. A module that needs something else (its
own recorder over a request log it reads, say) writes that one fixture itself under the same name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.config.schema import CloudModel, Config, Mapping, OllamaBackend
from core.gateway.service import Gateway
from core.metrics.recorder import MetricsRecorder
from core.metrics.request_log import RequestLog
from tests.core.gateway_support import KEY, free_port, running, tier_config
from tests.fakes.fake_cloud import FakeCloud
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_catalog import FakeModel, default_models

#: Marks for a module that drives the gateway with the official SDKs:
#: ``pytestmark = [pytest.mark.timeout(180), *SDK_WARNINGS]``.
SDK_WARNINGS = [
    # the anthropic SDK warns about retired Claude names; Claude Code still sends them
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
    # litellm's own TypedDicts trip a pydantic notice when its Anthropic route first loads
    pytest.mark.filterwarnings("ignore:Items? .* `ReadOnly` qualifier:UserWarning"),
]
#: The cloud model ``embedded_gateway(cloud=True)`` adds, served by the ``cloud`` fixture.
CLOUD_NAME = "cloud-mini"
CLOUD_MODEL = "gpt-4o-mini"


def fake_ollama(*extra: FakeModel) -> Any:
    """``fake``: one fake Ollama for the module with ``default_models()`` and ``extra`` installed."""

    @pytest.fixture(scope="module", name="fake")
    def fixture() -> Iterator[FakeOllama]:
        with FakeOllama(models=[*default_models(), *extra]) as server:
            yield server

    return fixture


def metrics_recorder(*, request_log: bool = False) -> Any:
    """``recorder``: a metrics recorder for the module, writing a request log in a temporary
    folder when ``request_log`` is set."""

    @pytest.fixture(scope="module", name="recorder")
    def fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetricsRecorder]:
        recorder = MetricsRecorder(
            RequestLog(tmp_path_factory.mktemp("request-log")) if request_log else None
        )
        yield recorder
        recorder.close()

    return fixture


def fake_cloud() -> Any:
    """``cloud``: a stand-in OpenAI-compatible cloud that answers "Hello from the cloud."."""

    @pytest.fixture(scope="module", name="cloud")
    def fixture() -> Iterator[FakeCloud]:
        with FakeCloud("Hello from the cloud.") as server:
            yield server

    return fixture


def embedded_gateway(
    *mappings: Mapping,
    base: Callable[[str, int], Config] = tier_config,
    down: bool = False,
    metrics: bool = False,
    cloud: bool = False,
    **gateway_options: Any,
) -> Any:
    """``gateway``: the real gateway, running for the module, in front of the ``fake`` Ollama.

    Its config is ``base(fake.url, port)`` with ``mappings`` put before the base's own (so they
    match first); ``down`` adds an Ollama named "down" where nothing listens; ``metrics`` records
    to the module's ``recorder`` fixture; ``cloud`` adds the cloud model "cloud-mini" served by the
    module's ``cloud`` fixture. ``gateway_options`` go to :class:`Gateway` as they are.
    """

    @pytest.fixture(scope="module", name="gateway")
    def fixture(request: pytest.FixtureRequest, fake: FakeOllama) -> Iterator[Gateway]:
        config = base(fake.url, free_port())
        update: dict[str, Any] = {"mappings": [*mappings, *config.mappings]}
        options = dict(gateway_options)
        if down:
            down_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
            update["backends"] = [*config.backends, OllamaBackend(name="down", url=down_url)]
        if cloud:
            server: FakeCloud = request.getfixturevalue("cloud")
            update["cloud"] = [
                *config.cloud,
                CloudModel(name=CLOUD_NAME, provider="openai", model=CLOUD_MODEL, api_base=server.url),
            ]
            options["cloud_key"] = lambda entry: "sk-cloud-test"
        if metrics:
            options["metrics"] = request.getfixturevalue("recorder")
        with running(Gateway(config.model_copy(update=update), master_key=KEY, **options)) as gw:
            yield gw

    return fixture
