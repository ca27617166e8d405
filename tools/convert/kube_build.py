"""Compose stack -> the Kubernetes object tree (with :class:`Ref` leaves for the chart).

One workload per service: a DaemonSet for ``deploy.mode: global``, a StatefulSet when
the service keeps data in a named volume (claim templates for volumes only it uses, a
shared PVC otherwise), else a Deployment. Ports become a Service, a domain (the
``windflow.domain`` label or a Traefik ``Host(...)`` rule) an Ingress, environment a
ConfigMap plus a Secret for credential-looking values, compose configs and secrets a
ConfigMap or Secret mounted where compose puts them. What has no equivalent is
reported in ``unmapped`` (see :mod:`tools.convert.kube_checks`).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from tools.convert.kube_checks import check_service, check_stack
from tools.convert.kube_names import dns_name, labels, looks_secret, resources, selector
from tools.convert.probes import probes
from tools.convert.result import Notes
from tools.convert.sources import file_content
from tools.convert.tree import NAMESPACE, Values
from tools.stack import FileRef, Service, Stack, VolumeMount

DOMAIN_LABEL = "windflow.domain"
DEFAULT_STORAGE = "1Gi"
_TRAEFIK_HOST = re.compile(r"Host\(\s*`([^`]+)`")
_TRAEFIK_PORT = re.compile(r"^traefik\.http\.services\.[^.]+\.loadbalancer\.server\.port$")


class Builder:
    def __init__(self, stack: Stack, base_dir: Path | None) -> None:
        self.stack = stack
        self.base_dir = base_dir
        self.values = Values()
        self.notes = Notes()
        self.objects: list[dict[str, Any]] = []
        self.volume_users = Counter(
            mount.source
            for service in stack.services.values()
            for mount in service.volumes
            if mount.type == "volume" and mount.source in stack.volumes
        )

    def build(self) -> list[dict[str, Any]]:
        check_stack(self.stack, self.notes)
        self._shared_claims()
        for service in self.stack.services.values():
            check_service(self.stack, service, self.notes)
            self._service(service)
        self._file_objects("configs")
        self._file_objects("secrets")
        return self.objects

    def _metadata(self, name: str, service: str | None = None) -> dict[str, Any]:
        stack_labels = labels(self.stack.name, service or self.stack.name)
        if service is None:
            stack_labels.pop("app.kubernetes.io/name")
        return {"name": name, "namespace": NAMESPACE, "labels": stack_labels}

    # --- volumes -----------------------------------------------------------------------

    def _shared_claims(self) -> None:
        for key, count in sorted(self.volume_users.items()):
            spec = self.stack.volumes[key]
            if count < 2 or spec.external:
                continue
            self.notes.warn(
                f"volume {key} is used by {count} services: it becomes one PVC with "
                "ReadWriteMany access, which needs a storage class that supports it"
            )
            self.objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": self._metadata(dns_name(key)),
                    "spec": {
                        "accessModes": ["ReadWriteMany"],
                        "resources": {"requests": {"storage": self._storage(key)}},
                    },
                }
            )

    def _storage(self, key: str) -> Any:
        return self.values.ref("volumes", key, "size", default=DEFAULT_STORAGE)

    def _stateful(self, service: Service) -> bool:
        return any(
            m.type == "volume" and m.source in self.stack.volumes and not self._external(m)
            for m in service.volumes
        )

    def _external(self, mount: VolumeMount) -> bool:
        return bool(mount.source and self.stack.volumes[mount.source].external)

    def _mounts(
        self, service: Service
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """(volumeMounts, pod volumes, claim templates) of a service."""
        mounts: list[dict[str, Any]] = []
        volumes: list[dict[str, Any]] = []
        claims: list[dict[str, Any]] = []
        for index, mount in enumerate(service.volumes):
            name = f"v{index}"
            entry: dict[str, Any] = {"name": name, "mountPath": mount.target}
            if mount.read_only:
                entry["readOnly"] = True
            if mount.type == "volume" and mount.source in self.stack.volumes:
                key = mount.source
                spec = self.stack.volumes[key]
                if spec.external:
                    claim = spec.name or key
                    self.notes.warn(
                        f"{service.name}: external volume {key} must exist as PVC {claim}"
                    )
                    volumes.append({"name": name, "persistentVolumeClaim": {"claimName": claim}})
                elif self.volume_users[key] > 1:
                    claim = dns_name(key)
                    volumes.append({"name": name, "persistentVolumeClaim": {"claimName": claim}})
                else:
                    entry["name"] = dns_name(key)
                    claims.append(
                        {
                            "metadata": {"name": dns_name(key)},
                            "spec": {
                                "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": self._storage(key)}},
                            },
                        }
                    )
            elif mount.type == "volume":
                self.notes.warn(
                    f"{service.name}: anonymous volume at {mount.target} becomes an emptyDir "
                    "(its data is lost when the pod goes)"
                )
                volumes.append({"name": name, "emptyDir": {}})
            elif mount.type == "tmpfs":
                volumes.append({"name": name, "emptyDir": {"medium": "Memory"}})
            elif mount.source and mount.source.startswith("/"):
                self.notes.warn(
                    f"{service.name}: bind mount {mount.source} becomes a hostPath: the path "
                    "must exist on every node the pod may run on"
                )
                volumes.append({"name": name, "hostPath": {"path": mount.source}})
            else:
                continue  # relative binds: reported by check_service
            mounts.append(entry)
        for index, path in enumerate(service.tmpfs):
            name = f"tmp{index}"
            mounts.append({"name": name, "mountPath": path.split(":", 1)[0]})
            volumes.append({"name": name, "emptyDir": {"medium": "Memory"}})
        for kind, refs in (("configs", service.configs), ("secrets", service.secrets)):
            for ref in refs:
                found = self._file_mount(service, kind, ref, len(volumes))
                if found is not None:
                    mounts.append(found[0])
                    volumes.append(found[1])
        return mounts, volumes, claims

    def _file_mount(
        self, service: Service, kind: str, ref: FileRef, index: int
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        specs = self.stack.configs if kind == "configs" else self.stack.secrets
        spec = specs.get(ref.source)
        if spec is None:
            return None
        target = ref.target or ref.source
        if not target.startswith("/"):
            target = f"/run/secrets/{target}" if kind == "secrets" else f"/{target}"
        name = f"{kind[:-1]}{index}"
        if spec.external:
            object_name = dns_name(spec.name or ref.source)
        else:
            object_name = self._file_object(kind, ref.source)
        item: dict[str, Any] = {"key": ref.source, "path": ref.source}
        if ref.mode is not None:
            item["mode"] = ref.mode
        source = (
            {"configMap": {"name": object_name, "items": [item]}}
            if kind == "configs"
            else {"secret": {"secretName": object_name, "items": [item]}}
        )
        mount = {"name": name, "mountPath": target, "subPath": ref.source, "readOnly": True}
        return mount, {"name": name, **source}

    def _file_object(self, kind: str, key: str) -> str:
        return dns_name(f"{kind[:-1]}-{key}")

    # --- per service -------------------------------------------------------------------

    def _environment(self, service: Service) -> list[dict[str, Any]]:
        plain: dict[str, str] = {}
        secret: dict[str, str] = {}
        for key, value in service.environment.items():
            if value is None:
                continue  # reported by check_service
            (secret if looks_secret(key, value) else plain)[key] = value
        sources: list[dict[str, Any]] = []
        base = dns_name(service.name)
        if plain:
            sources.append({"configMapRef": {"name": f"{base}-env"}})
            self.objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": self._metadata(f"{base}-env", service.name),
                    "data": self.values.ref("services", service.name, "env", default=plain),
                }
            )
        if secret:
            sources.append({"secretRef": {"name": f"{base}-secret-env"}})
            self.objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": self._metadata(f"{base}-secret-env", service.name),
                    "type": "Opaque",
                    "stringData": self.values.ref(
                        "services", service.name, "secretEnv", default=secret
                    ),
                }
            )
        return sources

    def _container(self, service: Service, mounts: list[dict[str, Any]]) -> dict[str, Any]:
        name = service.name
        container: dict[str, Any] = {
            "name": dns_name(name),
            "image": self.values.ref("services", name, "image", default=service.image or ""),
        }
        if service.entrypoint is not None:
            container["command"] = service.entrypoint
        if service.command is not None:
            container["args"] = service.command
        if service.working_dir:
            container["workingDir"] = service.working_dir
        env_from = self._environment(service)
        if env_from:
            container["envFrom"] = env_from
        ports = self._container_ports(service)
        if ports:
            container["ports"] = ports
        wanted = resources(service)
        if wanted:
            container["resources"] = self.values.ref("services", name, "resources", default=wanted)
        container |= probes(service.healthcheck)
        security = self._security(service)
        if security:
            container["securityContext"] = security
        if mounts:
            container["volumeMounts"] = mounts
        return container

    def _container_ports(self, service: Service) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for target, protocol in self._ports(service):
            entry = {"containerPort": target, "protocol": protocol.upper()}
            if entry not in found:
                found.append(entry)
        return found

    def _ports(self, service: Service) -> list[tuple[int, str]]:
        ports: list[tuple[int, str]] = [(p.target, p.protocol) for p in service.ports]
        for item in service.expose:
            number, _, protocol = item.partition("/")
            if number.isdigit():
                ports.append((int(number), protocol or "tcp"))
        port_label = self._traefik_port(service)
        if port_label is not None:
            ports.append((port_label, "tcp"))
        return list(dict.fromkeys(ports))

    def _traefik_port(self, service: Service) -> int | None:
        for key, value in service.labels.items():
            if _TRAEFIK_PORT.match(key) and value.isdigit():
                return int(value)
        return None

    def _security(self, service: Service) -> dict[str, Any]:
        context: dict[str, Any] = {}
        if service.user:
            user, _, group = service.user.partition(":")
            if user.isdigit():
                context["runAsUser"] = int(user)
            if group.isdigit():
                context["runAsGroup"] = int(group)
        if service.read_only:
            context["readOnlyRootFilesystem"] = True
        if service.privileged:
            context["privileged"] = True
            self.notes.warn(f"{service.name}: runs privileged; most clusters' policies refuse it")
        capabilities = {}
        if service.cap_add:
            capabilities["add"] = list(service.cap_add)
        if service.cap_drop:
            capabilities["drop"] = list(service.cap_drop)
        if capabilities:
            context["capabilities"] = capabilities
        return context

    def _pod(
        self, service: Service, volumes: list[dict[str, Any]], container: dict[str, Any]
    ) -> dict[str, Any]:
        pod: dict[str, Any] = {"containers": [container]}
        if volumes:
            pod["volumes"] = volumes
        if service.hostname:
            pod["hostname"] = dns_name(service.hostname)
        if service.stop_grace_period is not None:
            pod["terminationGracePeriodSeconds"] = int(service.stop_grace_period)
        aliases: dict[str, list[str]] = {}
        for entry in service.extra_hosts:
            host, _, address = entry.partition(":")
            aliases.setdefault(address, []).append(host)
        if aliases:
            pod["hostAliases"] = [{"ip": ip, "hostnames": names} for ip, names in aliases.items()]
        nodes = self._node_selector(service)
        if nodes:
            pod["nodeSelector"] = nodes
        return pod

    def _node_selector(self, service: Service) -> dict[str, str]:
        found: dict[str, str] = {}
        for constraint in service.deploy.placement_constraints:
            parts = re.split(r"(==)", constraint, maxsplit=1)
            key, op, value = [*(part.strip() for part in parts), "", ""][:3]
            if op == "==" and key.startswith("node.labels."):
                found[key.removeprefix("node.labels.")] = value
            elif op == "==" and key == "node.hostname":
                found["kubernetes.io/hostname"] = value
            else:
                self.notes.unmapped_field(
                    service.name,
                    "deploy.placement.constraints",
                    f"{constraint!r} has no node selector equivalent (only == on "
                    "node.labels.* and node.hostname)",
                )
        return found

    def _service(self, service: Service) -> None:
        name = service.name
        mounts, volumes, claims = self._mounts(service)
        container = self._container(service, mounts)
        pod = self._pod(service, volumes, container)
        meta = self._metadata(dns_name(name), name)
        template = {"metadata": {"labels": labels(self.stack.name, name)}, "spec": pod}
        spec: dict[str, Any] = {"selector": {"matchLabels": selector(self.stack.name, name)}}
        replicas = service.deploy.replicas
        if replicas is None:
            replicas = int(service.extras.get("scale", 1))
        if service.deploy.mode == "global":
            kind = "DaemonSet"
        elif self._stateful(service):
            kind = "StatefulSet"
            spec["serviceName"] = dns_name(name)
        else:
            kind = "Deployment"
            strategy = self._strategy(service)
            if strategy:
                spec["strategy"] = strategy
        if kind != "DaemonSet":
            spec["replicas"] = self.values.ref("services", name, "replicas", default=replicas)
        spec["template"] = template
        if claims:
            spec["volumeClaimTemplates"] = claims
        self.objects.append({"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec})
        self._network_service(service, headless=kind == "StatefulSet")
        self._ingress(service)

    def _strategy(self, service: Service) -> dict[str, Any] | None:
        policy = service.deploy.update_config
        if policy is None or policy.order is None:
            return None
        step = policy.parallelism or 1
        surge, unavailable = (step, 0) if policy.order == "start-first" else (0, step)
        return {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
        }

    def _network_service(self, service: Service, *, headless: bool) -> None:
        ports = self._ports(service)
        if not ports and not headless:
            return
        published = {p.target: p.published for p in service.ports if p.published}
        spec: dict[str, Any] = {"selector": selector(self.stack.name, service.name)}
        if headless:
            spec["clusterIP"] = "None"
        if ports:
            spec["ports"] = [
                {
                    "name": f"{protocol}-{target}",
                    "port": published.get(target, target),
                    "targetPort": target,
                    "protocol": protocol.upper(),
                }
                for target, protocol in ports
            ]
        if published:
            self.notes.warn(
                f"{service.name}: published ports are reachable inside the cluster only "
                "(Service type ClusterIP); use the Ingress or change the Service type"
            )
        self.objects.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": self._metadata(dns_name(service.name), service.name),
                "spec": spec,
            }
        )

    def _ingress(self, service: Service) -> None:
        host = service.labels.get(DOMAIN_LABEL)
        if host is None:
            for key, value in service.labels.items():
                found = _TRAEFIK_HOST.search(value) if key.endswith(".rule") else None
                if found:
                    host = found.group(1)
                    break
        if host is None:
            return
        port = self._traefik_port(service)
        ports = self._ports(service)
        if port is None and ports:
            port = service.ports[0].target if service.ports else ports[0][0]
        if port is None:
            self.notes.unmapped_field(
                service.name, "labels", f"domain {host} needs a port to route to; add expose:"
            )
            return
        published = {p.target: p.published for p in service.ports if p.published}
        backend = {
            "service": {
                "name": dns_name(service.name),
                "port": {"number": published.get(port, port)},
            }
        }
        rule = {
            "host": self.values.ref("services", service.name, "ingress", "host", default=host),
            "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
        }
        self.objects.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": self._metadata(dns_name(service.name), service.name),
                "spec": {"rules": [rule]},
            }
        )

    # --- configs and secrets -----------------------------------------------------------

    def _file_objects(self, kind: str) -> None:
        specs = self.stack.configs if kind == "configs" else self.stack.secrets
        used = {ref.source for s in self.stack.services.values() for ref in getattr(s, kind)}
        for key, spec in specs.items():
            if key not in used:
                continue
            if spec.external:
                self.notes.warn(f"external {kind[:-1]} {key} must exist in the namespace")
                continue
            content, problem = file_content(spec, self.base_dir)
            if content is None:
                self.notes.unmapped_field(None, f"{kind}.{key}", problem or "no content")
                content = ""
            data = {key: self.values.ref(kind, key, default=content)}
            obj: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "ConfigMap" if kind == "configs" else "Secret",
                "metadata": self._metadata(self._file_object(kind, key)),
            }
            if kind == "configs":
                obj["data"] = data
            else:
                obj["type"] = "Opaque"
                obj["stringData"] = data
            self.objects.append(obj)
