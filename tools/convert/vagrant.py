"""Compose stack -> a Vagrantfile: one VM that installs Docker and runs the stack.

The Vagrant adapter's VM rendering does exactly this (shell provisioner, compose file
sent base64-encoded, every value quoted by ``ruby_str``); its refusals become
``unmapped`` entries and its warnings stay warnings.
"""

from __future__ import annotations

import re
from pathlib import Path

from tools.adapters.vagrantfile import render
from tools.convert.result import Conversion, Notes
from tools.stack import Stack
from tools.targets import VagrantConnection

DEFAULT_PROVIDER = "virtualbox"
_PROBLEM = re.compile(r"^(?P<subject>[^:]+): (?P<reason>.+)$")


def to_vagrant(stack: Stack, *, base_dir: Path | None = None) -> Conversion:
    del base_dir  # the VM rendering copies no files; configs with file: are reported
    rendered = render(stack, VagrantConnection(provider=DEFAULT_PROVIDER))
    notes = Notes()
    for problem in rendered.problems:
        found = _PROBLEM.match(problem)
        subject = found["subject"] if found else ""
        reason = found["reason"] if found else problem
        if subject in stack.services:
            notes.unmapped_field(subject, "service", reason)
        else:
            kind, _, key = subject.partition(" ")
            field = f"{kind}s.{key}" if key else subject or "stack"
            notes.unmapped_field(None, field, reason)
    for warning in rendered.warnings:
        notes.warn(warning)
    return Conversion(
        stack=stack.name,
        target="vagrant",
        files={"Vagrantfile": rendered.text},
        warnings=notes.warnings,
        unmapped=notes.unmapped,
    )
