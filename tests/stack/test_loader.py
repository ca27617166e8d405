"""Parsing: YAML errors with lines, duplicate keys, YAML 1.2 scalars, size and shape limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.stack import ComposeError, ComposeTooLarge, load_stack, load_stack_file
from tools.stack.errors import Issue
from tools.stack.loader import MAX_COMPOSE_BYTES, parse, parse_file
from windflow.errors import InvalidInput, PayloadTooLarge


def test_error_message_names_file_line_path_and_fix() -> None:
    with pytest.raises(ComposeError) as caught:
        load_stack(
            "services:\n  web:\n    image: nginx\n    ports:\n      - '80:80:80'\n",
            name="t",
            file="docker-compose.yml",
        )
    error = caught.value
    assert isinstance(error, InvalidInput) and error.status == 422
    assert (error.file, error.path, error.line) == (
        "docker-compose.yml",
        "services.web.ports[0]",
        5,
    )
    assert str(error) == (
        "docker-compose.yml:5 services.web.ports[0]: '80:80:80' is not a valid port mapping: "
        "'80' is not an IP address "
        '(use [HOST_IP:][HOST:]CONTAINER[/PROTOCOL], e.g. "8080:80" or "127.0.0.1:8080:80")'
    )
    assert error.details["issues"][0]["line"] == 5


def test_malformed_yaml_reports_the_line() -> None:
    text = "services:\n  web:\n    image: nginx\n    ports: [\n      '80'\n  db:\n"
    with pytest.raises(ComposeError) as caught:
        parse(text, file="compose.yml")
    assert caught.value.line == 6
    assert caught.value.message.startswith("compose.yml:6: malformed YAML")
    assert caught.value.hint is not None and "indentation" in caught.value.hint


def test_tab_indentation_is_malformed_with_line() -> None:
    with pytest.raises(ComposeError) as caught:
        parse("services:\n  web:\n\timage: nginx\n", file="c.yml")
    assert caught.value.line == 3 and "malformed YAML" in caught.value.message


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    text = (
        "services:\n  web:\n    image: a\n    image: b\n  db:\n    image: c\n  web:\n    image: d\n"
    )
    with pytest.raises(ComposeError) as caught:
        parse(text, file="c.yml")
    issues = caught.value.issues
    assert [(i.path, i.line) for i in issues] == [("services.web.image", 4), ("services.web", 7)]
    assert "first defined on line 3" in issues[0].problem
    assert "first defined on line 2" in issues[1].problem
    assert caught.value.message.startswith("2 problems in c.yml: c.yml:4 services.web.image")


def test_merge_keys_may_be_overridden_and_lines_point_at_the_anchor() -> None:
    text = (
        "x-base: &base\n"
        "  image: busybox\n"
        "  restart: always\n"
        "services:\n"
        "  app:\n"
        "    <<: *base\n"
        "    restart: 'no'\n"
    )
    document = parse(text)
    assert document.data["services"]["app"] == {"image": "busybox", "restart": "no"}
    assert document.line_of(("services", "app", "restart")) == 7
    assert document.line_of(("services", "app", "image")) == 2


def test_yaml_12_scalars_as_compose_reads_them() -> None:
    document = parse(
        "a: no\nb: on\nc: 22:22\nd: true\ne: 0755\nf: 1.5\ng: 2024-01-02\nh: ~\ni: 1.0e5\n"
    )
    assert document.data == {
        "a": "no",
        "b": "on",
        "c": "22:22",
        "d": True,
        "e": 0o755,
        "f": 1.5,
        "g": "2024-01-02",
        "h": None,
        "i": "1.0e5",
    }
    stack = load_stack(
        "services:\n  s:\n    image: x\n    restart: no\n    ports: [22:22]\n", name="t"
    )
    assert stack.services["s"].restart == "no"
    assert (stack.services["s"].ports[0].published, stack.services["s"].ports[0].target) == (22, 22)


def test_keys_are_strings_as_written() -> None:
    assert parse("1: a\ntrue: b\n").data == {"1": "a", "true": "b"}
    with pytest.raises(ComposeError, match="duplicate key '1'"):
        parse("1: a\n'1': b\n")


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        ("", "empty", None),
        ("# only a comment\n", "empty", None),
        ("- a\n- b\n", "top level must be a mapping, not list", 1),
        ("just text\n", "top level must be a mapping, not str", 1),
        ("a: 1\n---\nb: 2\n", "malformed YAML", 2),
        ("? [a, b]\n: c\n", "mapping keys must be plain strings", 1),
    ],
)
def test_shapes_that_are_not_compose(text: str, fragment: str, line: int | None) -> None:
    with pytest.raises(ComposeError) as caught:
        parse(text, file="c.yml")
    assert fragment in caught.value.message
    assert caught.value.line == line


def test_oversized_input_is_refused_as_payload_too_large() -> None:
    with pytest.raises(ComposeTooLarge) as caught:
        load_stack("services: {}\n#" + "x" * MAX_COMPOSE_BYTES, name="t", file="big.yml")
    error = caught.value
    assert isinstance(error, PayloadTooLarge) and isinstance(error, ComposeError)
    assert error.status == 413 and "over the 1024 KiB limit" in error.message
    # multi-byte characters count as bytes, not characters
    with pytest.raises(ComposeTooLarge):
        parse("a: '" + "é" * (MAX_COMPOSE_BYTES // 2 + 1) + "'\n")


def test_alias_bombs_are_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    with pytest.raises(ComposeError, match="more than 200000 YAML nodes"):
        parse("\n".join(lines) + "\n")


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ComposeError, match="nests deeper"):
        parse("a: &a\n  b: *a\n")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(ComposeError, match="nest"):
        parse("a: " + "[" * 5000 + "]" * 5000 + "\n")


def test_files_are_read_as_utf8_with_size_checks(tmp_path: Path) -> None:
    good = tmp_path / "compose.yml"
    good.write_text("services:\n  s:\n    image: busybox\n")
    assert parse_file(good).file == str(good)
    bad = tmp_path / "latin1.yml"
    bad.write_bytes("services: {s: {image: 'caf\xe9'}}\n".encode("latin-1"))
    with pytest.raises(ComposeError, match="not UTF-8"):
        parse_file(bad)
    with pytest.raises(ComposeError, match="does not exist"):
        load_stack_file(tmp_path / "missing.yml")
    huge = tmp_path / "huge.yml"
    huge.write_bytes(b"#" * (MAX_COMPOSE_BYTES + 1))
    with pytest.raises(ComposeTooLarge):
        parse_file(huge)


def test_issue_rendering() -> None:
    issue = Issue("bad", "services.a", 3, "fix it")
    assert issue.render("c.yml") == "c.yml:3 services.a: bad (fix it)"
    assert Issue("bad").render(None) == "bad"
    assert Issue("bad", line=2).render("c.yml") == "c.yml:2: bad"
    assert Issue("bad", "a.b", 2).render(None) == "line 2 a.b: bad"
    with pytest.raises(ValueError):
        ComposeError.from_issues([])
