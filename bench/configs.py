"""Conversion and validation time of compose stacks.

    .venv/bin/python -m bench.configs [--runs 50]

Target: converting a 10-service stack and validating the output <= 100 ms per target
(Kubernetes/Helm against the offline OpenAPI schemas, Swarm against the compose schema;
``vagrant validate`` is a separate process and timed on its own when installed).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time

from tools.convert import convert, validate
from tools.convert.validation import validate_vagrantfile
from tools.stack import Stack, load_stack


def ten_service_stack() -> Stack:
    services = []
    for index in range(10):
        services.append(
            f"""  svc{index}:
    image: acme/svc{index}:1.{index}
    ports: ["{8000 + index}:80"]
    environment:
      LOG_LEVEL: info
      API_TOKEN: token-{index}
    healthcheck:
      test: ["CMD-SHELL", "curl -f http://localhost/health || exit 1"]
      interval: 10s
    deploy:
      replicas: 2
      resources: {{limits: {{cpus: "0.5", memory: 256M}}}}
    volumes: ["data{index}:/data"]"""
        )
    volumes = "\n".join(f"  data{index}: {{}}" for index in range(10))
    text = "services:\n" + "\n".join(services) + "\nvolumes:\n" + volumes + "\n"
    return load_stack(text, name="bench")


def measure_conversions(runs: int = 50) -> dict[str, float]:
    """Median milliseconds of convert + validate of a 10-service stack, per target."""
    stack = ten_service_stack()
    figures: dict[str, float] = {}
    for target in ("swarm", "kubernetes", "helm"):
        validate(convert(stack, target))  # schemas load once per process: not counted
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            assert validate(convert(stack, target)).ok
            samples.append((time.perf_counter() - started) * 1000)
        figures[target] = statistics.median(samples)
        print(
            f"convert+validate 10 services -> {target:<10} {figures[target]:7.1f} ms",
            f"(median of {runs})",
        )
    started = time.perf_counter()
    vagrantfile = convert(stack, "vagrant").files["Vagrantfile"]
    figures["vagrant convert"] = (time.perf_counter() - started) * 1000
    print(f"convert 10 services -> vagrant      {figures['vagrant convert']:7.1f} ms")
    if shutil.which("vagrant"):
        started = time.perf_counter()
        validate_vagrantfile(vagrantfile)
        figures["vagrant validate"] = (time.perf_counter() - started) * 1000
        print(f"vagrant validate (subprocess)      {figures['vagrant validate']:7.1f} ms")
    return figures


def measure_template_lint(runs: int = 5) -> float:
    """Seconds to render and lint every curated template once (median of ``runs``)."""
    from knowledge.templates.catalog import TemplateCatalog
    from knowledge.templates.render import render
    from tools.compose_lint import lint

    templates = list(TemplateCatalog.load())
    rendered = [(t.id, render(t, {}, stack_name=t.id).compose) for t in templates]
    timings = []
    findings = 0
    for _ in range(runs):
        started = time.perf_counter()
        findings = sum(len(lint(text, name).findings) for name, text in rendered)
        timings.append(time.perf_counter() - started)
    median = statistics.median(timings)
    print(
        f"lint of all {len(rendered)} curated templates: {median * 1000:.0f} ms "
        f"({median * 1000 / len(rendered):.1f} ms each), {findings} notes"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs
    measure_conversions(runs)
    measure_template_lint()


if __name__ == "__main__":
    main()
