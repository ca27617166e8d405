"""``windflow policy show|set``, run as a real process against a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from tests.guardrails.test_audit_chain import _cli


def test_policy_set_checks_the_file_and_show_prints_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'windflow.db'}"
    init = _cli(url, "init", "--email", "owner@example.com", "--org", "acme")
    assert init.returncode == 0, init.stderr
    assert "settings' defaults apply" in _cli(url, "policy", "show").stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: prod\n    workloads:\n      max_replicas: lots\n")
    refused = _cli(url, "policy", "set", str(bad))
    assert refused.returncode == 2
    assert "line 4" in refused.stderr and "max_replicas" in refused.stderr

    good = tmp_path / "policy.yaml"
    text = "# ours\nversion: 1\nrules:\n  - name: prod\n    workloads: {max_replicas: 3}\n"
    good.write_text(text)
    stored = _cli(url, "policy", "set", str(good), "--org", "acme")
    assert stored.returncode == 0 and "version 1" in stored.stdout, stored.stderr
    assert _cli(url, "policy", "show").stdout == text
    verified = _cli(url, "audit", "verify")
    assert verified.returncode == 0 and "acme: 1 records" in verified.stdout, (
        "the change is audited"
    )
