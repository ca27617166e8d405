"""Normalization into the typed model, on realistic files and on each spelling."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.stack.samples import BLOG, BLOG_ENV, EVERYTHING
from tools.stack import (
    BindOptions,
    ComposeError,
    DependencyFlags,
    FileRef,
    PortMapping,
    Service,
    TmpfsOptions,
    VolumeMount,
    VolumeOptions,
    load_stack,
    load_stack_file,
)


def _service(body: str, **env: str) -> Service:
    text = "services:\n  s:\n    image: busybox\n" + body
    return load_stack(text, name="t", env=env).services["s"]


def test_blog_stack_is_normalized() -> None:
    stack = load_stack(BLOG, name="blog", file="compose.yml", env={**BLOG_ENV, "WEB_PORT": "8081"})
    web, api, db, cache = (stack.services[n] for n in ("web", "api", "db", "cache"))
    assert web.image == "nginx:1.27" and web.restart == "unless-stopped"
    assert web.ports == [
        PortMapping(target=80, published=8081, host_ip="127.0.0.1"),
        PortMapping(target=443, published=8443, mode="host"),
    ]
    assert web.volumes == [
        VolumeMount(type="bind", source="./site", target="/usr/share/nginx/html", read_only=True),
        VolumeMount(
            type="bind",
            source="./nginx.conf",
            target="/etc/nginx/conf.d/default.conf",
            read_only=True,
            bind=BindOptions(create_host_path=True),
        ),
    ]
    assert web.configs == [
        FileRef(source="nginx_extra", target="/etc/nginx/extra.conf", mode=0o440)
    ]
    assert web.logging == {"driver": "json-file", "options": {"max-size": "10m"}}
    assert api.environment == {
        "DATABASE_URL": "postgres://blog:s3cret@db/blog",
        "REDIS_URL": "redis://cache:6379/0",
        "DEBUG": "false",
        "WORKERS": "4",
    }
    assert api.depends_on == {"db": "service_healthy", "cache": "service_started"}
    assert api.dependency_flags == {"cache": DependencyFlags(restart=True)}
    check = api.healthcheck
    assert check is not None and check.test[0] == "CMD"
    assert (check.interval, check.timeout, check.retries, check.start_period) == (10, 2, 5, 90)
    assert api.deploy.replicas == 2 and api.deploy.limits.cpus == 0.5
    assert api.deploy.limits.memory == 256 * 1024**2
    assert api.deploy.reservations.memory == 128 * 1024**2
    assert api.deploy.update_config is not None and api.deploy.update_config.delay == 5
    assert api.deploy.restart_policy is not None and api.deploy.restart_policy.max_attempts == 3
    assert api.deploy.placement_constraints == ["node.role == worker"]
    assert api.networks == {"back": ["blog-api"], "default": []}
    assert api.extensions == {"/x-owner": "api-team"} and api.extras == {}
    assert db.environment["POSTGRES_USER"] == "blog" and db.secrets == [FileRef(source="db_pw")]
    assert db.healthcheck is not None
    assert db.healthcheck.test == ["CMD-SHELL", "pg_isready -U blog"]
    assert db.volumes == [
        VolumeMount(type="volume", source="pgdata", target="/var/lib/postgresql/data")
    ]
    assert db.stop_grace_period == 60.0
    assert cache.command == ["redis-server", "--save", "", "--appendonly", "no"]
    assert cache.ulimits == {"nofile": {"soft": 20000, "hard": 40000}}
    assert stack.services["adminer"].profiles == ["debug"]
    assert stack.extensions["x-defaults"]["restart"] == "unless-stopped"
    assert stack.extras == {"name": "blog"}
    assert stack.configs["nginx_extra"].content == "gzip on;\n"
    assert stack.secrets["db_pw"].file == "./db_pw.txt"


def test_every_attribute_in_its_less_common_spelling() -> None:
    stack = load_stack(EVERYTHING, name="e", env={"TAG": "7"})
    app = stack.services["app"]
    assert app.image == "example/app:7"
    assert app.build is not None and (app.build.context, app.build.dockerfile) == (
        "./app",
        "Dockerfile.prod",
    )
    assert app.build.options == {"args": ["VERSION=1.0"]}
    assert app.entrypoint == ["/entry.sh", "--verbose"] and app.command == []
    assert app.environment == {"A": "1", "B": None, "C": "cost: $5"}
    assert [(p.host_ip, p.published, p.target, p.protocol) for p in app.ports] == [
        (None, None, 3000, "tcp"),
        (None, 8000, 80, "tcp"),
        (None, 8001, 81, "tcp"),
        ("::1", 6001, 6001, "udp"),
        ("127.0.0.1", None, 5000, "tcp"),
        ("0.0.0.0", None, 9090, "tcp"),
    ]
    assert (app.ports[-1].name, app.ports[-1].app_protocol) == ("metrics", "http")
    assert app.expose == ["9100", "9200"]
    assert app.volumes == [
        VolumeMount(type="volume", target="/var/cache/app"),
        VolumeMount(
            type="volume", source="logs", target="/var/log/app", volume=VolumeOptions(nocopy=True)
        ),
        VolumeMount(
            type="bind",
            source="./certs",
            target="/certs",
            read_only=True,
            bind=BindOptions(create_host_path=True, selinux="z"),
        ),
        VolumeMount(
            type="tmpfs", target="/scratch", tmpfs=TmpfsOptions(size=64 * 1024**2, mode=0o1777)
        ),
        VolumeMount(
            type="volume",
            source="logs",
            target="/audit",
            volume=VolumeOptions(nocopy=True, subpath="audit"),
        ),
    ]
    assert app.healthcheck is not None and app.healthcheck.disable and app.healthcheck.test == []
    assert app.restart == "on-failure:5"
    deploy = app.deploy
    assert (deploy.mode, deploy.replicas, deploy.endpoint_mode) == ("replicated", 3, "dnsrr")
    assert (deploy.limits.cpus, deploy.limits.memory, deploy.limits.pids) == (2.0, 1024**3, 200)
    assert deploy.reservations.cpus == 0.25
    assert deploy.reservations.devices == [{"capabilities": ["gpu"], "count": 1}]
    assert deploy.rollback_config is not None and deploy.rollback_config.monitor == 30
    assert deploy.placement_preferences == ["node.labels.zone"]
    assert deploy.max_replicas_per_node == 2
    assert deploy.labels == {"com.example.tier": "backend"}
    assert app.labels == {"com.example.app": "demo", "com.example.empty": ""}
    assert app.networks == {"front": []}
    assert app.network_options == {"front": {"ipv4_address": "172.20.0.10"}}
    assert (app.user, app.working_dir, app.read_only, app.privileged) == (
        "1000:1000",
        "/srv",
        True,
        False,
    )
    assert app.devices == ["/dev/fuse:/dev/fuse:rwm", "/dev/ttyUSB0:/dev/ttyS0"]
    assert app.tmpfs == ["/run"]
    assert app.secrets == [FileRef(source="api_key", target="api.key", uid="1000", mode=0o400)]
    assert app.extra_hosts == ["db.internal:10.0.0.5", "twice:10.0.0.6", "twice:10.0.0.7"]
    assert app.stop_grace_period == 90.0 and app.ulimits == {"nproc": 65535}
    assert app.extras == {"container_name": "the-app", "init": True}
    assert app.extensions == {
        "/x-team": "platform",
        "/deploy/placement/x-region": "eu-west-3",
        "/volumes/4/x-backup": "daily",
        "/networks/front/x-note": "static",
        "/ports/5/x-scrape": True,
    }
    assert stack.volumes["logs"].external
    assert stack.networks["front"].extras == {"ipam": {"config": [{"subnet": "172.20.0.0/16"}]}}
    assert stack.secrets["api_key"].environment == "API_KEY"
    assert stack.extensions == {"x-meta": {"owner": "ops"}}


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        ('["80"]', [(None, None, 80)]),
        ("[8080:80]", [(None, 8080, 80)]),
        ('["9090-9091:8080-8081"]', [(None, 9090, 8080), (None, 9091, 8081)]),
        ('["3000-3001"]', [(None, None, 3000), (None, None, 3001)]),
        (
            '["127.0.0.1:5000-5001:5000-5001"]',
            [("127.0.0.1", 5000, 5000), ("127.0.0.1", 5001, 5001)],
        ),
        ('["::1:6001:6001"]', [("::1", 6001, 6001)]),
        ("[{target: '80', published: '8080', host_ip: '::'}]", [("::", 8080, 80)]),
    ],
)
def test_port_spellings(ports: str, expected: list[tuple[str | None, int | None, int]]) -> None:
    service = _service(f"    ports: {ports}\n")
    assert [(p.host_ip, p.published, p.target) for p in service.ports] == expected


@pytest.mark.parametrize(
    ("ports", "fragment"),
    [
        ("['80:80:80']", "'80' is not an IP address"),
        ("['8000-8001:80-82']", "ranges differ in length"),
        ("['8000-8010:80']", "any of a host range is not supported"),
        ("['70000:80']", "port 70000 is outside 1-65535"),
        ("['80/icmp']", "unknown protocol 'icmp'"),
        ("['81-80']", "runs backwards"),
        ("['http']", "not a valid port mapping"),
        ("[{target: 80, mode: bridge}]", "unknown port mode 'bridge'"),
        ("[{published: 80}]", "a port needs a target"),
    ],
)
def test_bad_ports_are_located(ports: str, fragment: str) -> None:
    with pytest.raises(ComposeError) as caught:
        _service(f"    ports: {ports}\n")
    assert fragment in caught.value.message
    assert caught.value.path == "services.s.ports[0]" and caught.value.line == 4


@pytest.mark.parametrize(
    ("volume", "fragment"),
    [
        ("'./a:/b:nocopy'", "unknown or misplaced mode 'nocopy' for a bind"),
        ("'a:/b:/c:/d'", "not a valid volume"),
        ("{type: npipe, source: x, target: /y}", "npipe mounts are not supported"),
        ("{type: bind, target: /y}", "a bind mount needs a source"),
        ("{type: volume, source: data}", "a mount needs a target"),
    ],
)
def test_bad_volumes_are_located(volume: str, fragment: str) -> None:
    with pytest.raises(ComposeError) as caught:
        _service(f"    volumes: [{volume}]\nvolumes:\n  data: {{}}\n  a: {{}}\n")
    assert fragment in caught.value.message and caught.value.path == "services.s.volumes[0]"


@pytest.mark.parametrize(
    ("body", "fragment", "path"),
    [
        ("    restart: sometimes\n", "'sometimes' is not a restart policy", "services.s.restart"),
        ("    restart: always:3\n", "not a restart policy", "services.s.restart"),
        ("    stop_grace_period: 10\n", "10 is not a string", "services.s.stop_grace_period"),
        ("    stop_grace_period: soon\n", "not a duration", "services.s.stop_grace_period"),
        (
            "    deploy: {resources: {limits: {memory: lots}}}\n",
            "'lots' is not a size",
            "services.s.deploy.resources.limits.memory",
        ),
        (
            "    deploy: {replicas: many}\n",
            "'many' is not an integer",
            "services.s.deploy.replicas",
        ),
        ("    read_only: perhaps\n", "'perhaps' is not a boolean", "services.s.read_only"),
        (
            "    healthcheck: {test: [curl, localhost]}\n",
            "starts with CMD, CMD-SHELL or NONE",
            "services.s.healthcheck.test",
        ),
        ("    command: echo 'unbalanced\n", "cannot split the command", "services.s.command"),
        ("    depends_on: [ghost]\n", "unknown service 'ghost'", "services.s.depends_on.ghost"),
        ("    networks: [ghost]\n", "undeclared network 'ghost'", "services.s.networks.ghost"),
        ("    volumes: ['ghost:/data']\n", "undeclared volume 'ghost'", "services.s.volumes[0]"),
        ("    secrets: [ghost]\n", "undeclared secret 'ghost'", "services.s.secrets[0]"),
        ("    configs: [ghost]\n", "undeclared config 'ghost'", "services.s.configs[0]"),
        (
            "    network_mode: host\n    networks: [default]\n",
            "network_mode and networks cannot be used together",
            "services.s.networks",
        ),
        ("    env_file: app.env\n", "cannot be read: no base directory", "services.s.env_file[0]"),
    ],
)
def test_semantic_errors_are_located(body: str, fragment: str, path: str) -> None:
    with pytest.raises(ComposeError) as caught:
        _service(body)
    assert fragment in caught.value.message
    assert caught.value.path == path and caught.value.line is not None


def test_namespace_sharing_needs_a_known_service() -> None:
    with pytest.raises(ComposeError, match="unknown service 'vpn'") as caught:
        _service("    network_mode: service:vpn\n")
    assert caught.value.path == "services.s.network_mode" and caught.value.line == 4


def test_service_without_image_or_build_is_refused() -> None:
    with pytest.raises(ComposeError, match="neither an image nor a build") as caught:
        load_stack("services:\n  s:\n    command: [sleep, '1']\n", name="t")
    assert caught.value.line == 2


def test_secret_without_source_and_include_are_refused() -> None:
    with pytest.raises(ComposeError, match="secret 'pw' has no source"):
        load_stack("services:\n  s: {image: x}\nsecrets:\n  pw: {name: pw}\n", name="t")
    with pytest.raises(ComposeError, match="include is not supported"):
        load_stack("include: [other.yml]\nservices:\n  s: {image: x}\n", name="t")


def test_interpolated_strings_become_typed_values() -> None:
    service = _service(
        "    read_only: ${RO}\n"
        "    privileged: 'false'\n"
        "    deploy:\n"
        "      replicas: ${N}\n"
        "      resources: {limits: {cpus: '${CPUS}', pids: '${PIDS}'}}\n"
        "    healthcheck: {test: [CMD, 'true'], retries: '${RETRIES}', disable: 'no'}\n"
        "    ports: ['${PORT}:80']\n",
        RO="yes",
        N="4",
        CPUS="1.5",
        PIDS="100",
        RETRIES="3",
        PORT="8080",
    )
    assert service.read_only is True and service.privileged is False
    assert service.deploy.replicas == 4 and service.deploy.limits.cpus == 1.5
    assert service.healthcheck is not None and service.healthcheck.retries == 3
    assert service.ports[0].published == 8080


def test_env_files_are_merged_relative_to_the_compose_file(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text(
        "services:\n"
        "  app:\n"
        "    image: ${IMAGE}\n"
        "    env_file:\n"
        "      - common.env\n"
        "      - path: local.env\n"
        "        required: false\n"
        "      - config/app.env\n"
        "    environment: [MODE=prod]\n"
    )
    (tmp_path / ".env").write_text("IMAGE=busybox:1.36\nREGION=eu\n")
    (tmp_path / "common.env").write_text("MODE=dev\nSHARED=1\n")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "app.env").write_text("TOKEN='abc$def'\nZONE=${REGION}-1\n")
    stack = load_stack_file(tmp_path / "compose.yml")
    app = stack.services["app"]
    assert app.image == "busybox:1.36"
    assert app.environment == {"MODE": "prod", "SHARED": "1", "TOKEN": "abc$def", "ZONE": "eu-1"}
    assert stack.name == tmp_path.name.lower()


def test_env_file_problems(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text("services:\n  app:\n    image: x\n    env_file: [missing.env]\n")
    with pytest.raises(ComposeError, match=r"env_file 'missing\.env' does not exist") as caught:
        load_stack_file(compose)
    assert caught.value.line == 4 and caught.value.path == "services.app.env_file[0]"
    compose.write_text("services:\n  app:\n    image: x\n    env_file: [../../etc/passwd]\n")
    with pytest.raises(ComposeError, match="outside the stack directory"):
        load_stack_file(compose)
    (tmp_path / "bad.env").write_text("GOOD=1\nbad line\n")
    compose.write_text("services:\n  app:\n    image: x\n    env_file: bad.env\n")
    with pytest.raises(ComposeError) as bad:
        load_stack_file(compose)
    assert (bad.value.file, bad.value.line) == ("bad.env", 2)


def test_stack_file_name_comes_from_the_file_or_the_argument(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text("name: shop\nservices:\n  s: {image: x}\n")
    assert load_stack_file(compose).name == "shop"
    assert load_stack_file(compose, name="override").name == "override"
