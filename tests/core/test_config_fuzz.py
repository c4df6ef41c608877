"""Random and mutated config files: the loader only ever raises ConfigError, with locations."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config.defaults import default_config
from core.config.schema import Config
from core.config.store import config_to_yaml, parse_config
from core.errors import ConfigError

BASE = config_to_yaml(default_config())
LINES = BASE.splitlines(keepends=True)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str) -> None:
    try:
        config = parse_config(text)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError must list at least one problem"
        for problem in exc.problems:
            assert problem.line is not None and problem.line >= 1, problem
            assert problem.message
    else:
        assert isinstance(config, Config)


@FUZZ
@given(st.text(max_size=400))
def test_any_text_at_all(text: str) -> None:
    check(text)


yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
known_keys = st.sampled_from(
    ["schema_version", "gateway", "backends", "mappings", "cloud", "ollama_server", "ui", "port", "name"]
)


@FUZZ
@given(st.dictionaries(known_keys, yaml_values, max_size=6))
def test_well_formed_yaml_with_wrong_shapes(doc: dict[str, object]) -> None:
    check(yaml.safe_dump(doc))


@st.composite
def mutated_default(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "replace_value", "indent", "garble"]))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "replace_value" and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            value = draw(
                st.sampled_from(
                    ["", "-1", "1e309", "[", "{a: 1}", "yes", "'", "&a x", "*a", "~", "2024-99-99"]
                )
            )
            lines[i] = f"{key}: {value}\n"
        elif action == "indent":
            lines[i] = draw(st.sampled_from([" ", "  ", "\t", "    "])) + lines[i]
        else:
            pos = draw(st.integers(0, max(0, len(lines[i]) - 1)))
            lines[i] = lines[i][:pos] + draw(st.text(max_size=3)) + lines[i][pos + 1 :]
        if not lines:
            break
    return "".join(lines)


@FUZZ
@given(mutated_default())
def test_hand_edits_gone_wrong(text: str) -> None:
    check(text)
