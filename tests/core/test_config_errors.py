"""A hand-edited config with mistakes: every mistake is reported with its key path and line."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from core.config.defaults import default_config
from core.config.schema import SCHEMA_VERSION, Config
from core.config.store import MIGRATIONS, config_to_yaml, parse_config
from core.errors import ConfigError, ConfigProblem


def problems_of(text: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text))
    return caught.value.problems


def test_default_config_round_trips_through_yaml() -> None:
    config = default_config(ollama_url="http://10.0.0.5:11434", default_model="llama3.2:3b")
    again = parse_config(config_to_yaml(config))
    assert again == config
    assert again.backends[0].url == "http://10.0.0.5:11434"


def test_every_problem_in_a_file_is_reported_with_its_line() -> None:
    problems = problems_of(
        """\
        gateway:
          port: 99999
          hots: 0.0.0.0
        mappings:
          - name: claude sonnet
            model: qwen2.5-coder:7b
            options:
              num_ctx: lots
              keep_alive: forever
          - name: ok
            modle: llama3.2
        """
    )
    found = {(p.line, p.path) for p in problems}
    assert found == {
        (2, "gateway.port"),
        (3, "gateway.hots"),
        (5, "mappings[0].name"),
        (8, "mappings[0].options.num_ctx"),
        (9, "mappings[0].options.keep_alive"),
        (10, "mappings[1].model"),  # missing: points at the mapping that lacks it
        (11, "mappings[1].modle"),
    }
    by_path = {p.path: p.message for p in problems}
    assert "unknown key" in by_path["gateway.hots"]
    assert "required" in by_path["mappings[1].model"]
    assert "65535" in by_path["gateway.port"]


def test_references_to_missing_backends_and_fallbacks_are_located() -> None:
    problems = problems_of(
        """\
        backends:
          - name: local
            url: http://127.0.0.1:11434
        mappings:
          - name: a
            model: m
            backends: [local, gpu-box]
            fallbacks: [b, nowhere]
          - name: b
            model: m
            fallbacks: [b]
          - name: a
            model: other
        """
    )
    assert {(p.line, p.path) for p in problems} == {
        (7, "mappings[0].backends[1]"),
        (8, "mappings[0].fallbacks[1]"),
        (11, "mappings[1].fallbacks[0]"),
        (12, "mappings[2].name"),
    }


def test_duplicate_keys_are_an_error_not_a_silent_overwrite() -> None:
    problems = problems_of(
        """\
        gateway:
          port: 4000
          port: 4001
        """
    )
    assert [(p.line, p.path, p.message) for p in problems] == [(3, "gateway.port", "key appears twice")]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("gateway:\n  port: [4000\n", 3, "not valid YAML"),
        ("gateway:\n\tport: 4000\n", 2, "not valid YAML"),
        ("- just\n- a list\n", 1, "must hold a mapping"),
        ("gateway: 1\nmappings: x\n", 1, "gateway"),
        ("a: 1\nb: \x00\n", 2, "not valid YAML"),
        ("[" * 5000, 1, "nested too deeply"),
    ],
)
def test_broken_yaml_names_a_line(text: str, line: int, fragment: str) -> None:
    problems = problems_of(text)
    assert problems[0].line == line
    assert fragment in str(problems[0])


def test_dates_and_odd_scalars_do_not_crash_the_loader() -> None:
    problems = problems_of("gateway:\n  host: 2024-13-45\n  port: .inf\n")
    assert [p.path for p in problems] == ["gateway.port"]


def test_a_file_from_a_newer_gatedeck_is_refused_with_advice() -> None:
    problems = problems_of(f"schema_version: {SCHEMA_VERSION + 1}\n")
    assert problems[0].path == "schema_version"
    assert "newer GateDeck" in problems[0].message


def test_migrations_run_in_order_up_to_the_current_schema() -> None:
    # A pretend old schema 0 kept the port at the top level; its migration moves it.
    def move_port(doc: dict[str, Any], _moved_out: dict[str, Any]) -> dict[str, Any]:
        port = doc.pop("port")
        return {**doc, "gateway": {"port": port}}

    config = parse_config("schema_version: 0\nport: 4123\n", migrations={**MIGRATIONS, 0: move_port})
    assert config.gateway.port == 4123
    assert config.schema_version == SCHEMA_VERSION
    with pytest.raises(ConfigError) as caught:
        parse_config("schema_version: 0\n", migrations={})
    problems = caught.value.problems
    assert "no migration" in problems[0].message


def test_an_empty_file_is_a_problem_not_a_config_without_mappings() -> None:
    with pytest.raises(ConfigError, match="holds no settings"):
        parse_config("# nothing but a comment\n")
    assert parse_config("schema_version: 2\n") == Config(), "one setting is enough; the rest are defaults"
