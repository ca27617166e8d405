"""Every interpolation form, required variables, and .env parsing."""

from __future__ import annotations

import pytest

from tools.stack import ComposeError, load_stack, parse_env_file


def _env_value(template: str, env: dict[str, str]) -> str | None:
    text = f"services:\n  s:\n    image: busybox\n    environment:\n      V: '{template}'\n"
    return load_stack(text, name="t", env=env).services["s"].environment["V"]


@pytest.mark.parametrize(
    ("template", "env", "expected"),
    [
        ("$A", {"A": "1"}, "1"),
        ("${A}", {"A": "1"}, "1"),
        ("$A-suffix", {"A": "1"}, "1-suffix"),
        ("$UNSET", {}, ""),
        ("${UNSET}", {}, ""),
        ("${A:-d}", {"A": "x"}, "x"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A:-d}", {}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A:?err}", {"A": "x"}, "x"),
        ("${A?err}", {"A": ""}, ""),
        ("${A:+alt}", {"A": "x"}, "alt"),
        ("${A:+alt}", {"A": ""}, ""),
        ("${A+alt}", {"A": ""}, "alt"),
        ("${A+alt}", {}, ""),
        ("${A:-${B:-nested}}", {}, "nested"),
        ("${A:-${B}-and-${C:-c}}", {"B": "b"}, "b-and-c"),
        ("${A:+x${B}y}", {"A": "1", "B": "2"}, "x2y"),
        ("${A:-a}}", {}, "a}"),
        ("$$HOME and $${A}", {"A": "1"}, "$HOME and ${A}"),
        ("$${A:-$B}", {"B": "b"}, "${A:-b}"),
        ("pre-${A}-post", {"A": "mid"}, "pre-mid-post"),
        ("${A}${B}", {"A": "1", "B": "2"}, "12"),
    ],
)
def test_interpolation_forms(template: str, env: dict[str, str], expected: str) -> None:
    assert _env_value(template, env) == expected


def test_values_are_interpolated_everywhere_but_keys_are_not() -> None:
    text = (
        "x-meta: {owner: $OWNER}\n"
        "services:\n"
        "  s:\n"
        "    image: ${IMAGE}\n"
        "    labels: {$KEY: v}\n"
        "    deploy: {replicas: '${N}'}\n"
        "    read_only: ${RO:-false}\n"
    )
    stack = load_stack(text, name="t", env={"OWNER": "ops", "IMAGE": "nginx", "N": "3"})
    service = stack.services["s"]
    assert stack.extensions == {"x-meta": {"owner": "ops"}}
    assert service.image == "nginx" and service.labels == {"$KEY": "v"}
    assert service.deploy.replicas == 3 and service.read_only is False


def test_required_variables_are_all_reported_with_path_and_line() -> None:
    text = (
        "services:\n"
        "  db:\n"
        "    image: postgres\n"
        "    environment:\n"
        "      POSTGRES_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}\n"
        "  app:\n"
        "    image: ${APP_IMAGE?}\n"
    )
    with pytest.raises(ComposeError) as caught:
        load_stack(text, name="t", file="compose.yml", env={})
    first, second = caught.value.issues
    assert first.problem == "required variable DB_PASSWORD is unset: set DB_PASSWORD"
    assert (first.path, first.line) == ("services.db.environment.POSTGRES_PASSWORD", 5)
    assert first.hint is not None and "${DB_PASSWORD:-value}" in first.hint
    assert (second.problem, second.path, second.line) == (
        "required variable APP_IMAGE is unset",
        "services.app.image",
        7,
    )


def test_empty_value_fails_only_the_colon_form() -> None:
    text = "services:\n  s:\n    image: ${IMAGE:?}\n"
    with pytest.raises(ComposeError, match="required variable IMAGE is empty"):
        load_stack(text, name="t", env={"IMAGE": ""})


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("cost 5$", "a '$' must start a variable"),
        ("${", "unclosed"),
        ("${}", "invalid variable reference"),
        ("${1A}", "invalid variable reference"),
        ("${A!x}", "invalid variable reference"),
        ("$-", "a '$' must start a variable"),
    ],
)
def test_invalid_templates_are_errors_with_a_fix(template: str, fragment: str) -> None:
    with pytest.raises(ComposeError) as caught:
        _env_value(template, {})
    assert fragment in caught.value.message
    assert caught.value.path == "services.s.environment.V" and caught.value.line == 5


def test_non_string_environment_values_are_used_as_text() -> None:
    env: dict[str, object] = {"N": 0, "FLAG": True}
    text = "services:\n  s:\n    image: x\n    environment: ['N=$N', 'F=${FLAG}']\n"
    stack = load_stack(text, name="t", env=env)  # type: ignore[arg-type]
    assert stack.services["s"].environment == {"N": "0", "F": "True"}


def test_env_file_text_feeds_interpolation_and_env_wins() -> None:
    text = "services:\n  s:\n    image: ${IMAGE}:${TAG}\n"
    stack = load_stack(text, name="t", env={"TAG": "2"}, env_file_text="IMAGE=app\nTAG=1\n")
    assert stack.services["s"].image == "app:2"


def test_env_file_parsing() -> None:
    text = (
        "# a comment\n"
        "\n"
        "export A=1\n"
        "B = spaced \n"
        'C="two words" # trailing comment\n'
        "D=plain # trailing comment\n"
        "E=\n"
        "F='single $A \\n literal'\n"
        'G="double ${A} \\$A \\n \\"q\\""\n'
        'H="multi\n'
        'line"\n'
        "I=${A}${B}\n"
        "J=url#fragment\n"
        "INHERITED\n"
        "MISSING\n"
        "PASSWORD=pa$$w0rd$\n"
        "K.dotted-key=ok\n"
    )
    values = parse_env_file(text, env={"INHERITED": "from-env"})
    assert values == {
        "A": "1",
        "B": "spaced",
        "C": "two words",
        "D": "plain",
        "E": "",
        "F": "single $A \\n literal",
        "G": 'double 1 $A \n "q"',
        "H": "multi\nline",
        "I": "1spaced",
        "J": "url#fragment",
        "INHERITED": "from-env",
        "PASSWORD": "pa$w0rd$",
        "K.dotted-key": "ok",
    }


def test_env_file_interpolation_prefers_the_given_environment() -> None:
    assert parse_env_file("A=file\nB=${A}\n", env={"A": "env"}) == {"A": "file", "B": "env"}


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        ("A=1\nnot a line\n", "not a KEY=VALUE line", 2),
        ('A=1\nB="open\nstill open\n', 'the " quote opened for B is never closed', 2),
        ("A='x' junk\n", "unexpected text after the closing quote of A", 1),
        ("A=${MISSING:?needed}\n", "required variable MISSING is unset: needed", 1),
        ("1A=x\n", "not a KEY=VALUE line", 1),
    ],
)
def test_env_file_errors_name_file_and_line(text: str, fragment: str, line: int) -> None:
    with pytest.raises(ComposeError) as caught:
        parse_env_file(text, file="app.env")
    assert fragment in caught.value.message
    assert caught.value.file == "app.env" and caught.value.line == line
