"""Realistic compose files shared by the stack tests."""

from __future__ import annotations

# web + api + db + cache: healthchecks, depends_on conditions, both port and volume
# syntaxes, anchors, secrets and configs, profiles and x- extensions.
BLOG = """\
name: blog
x-defaults: &defaults
  restart: unless-stopped
  labels: {team: blog}
  logging:
    driver: json-file
    options: {max-size: 10m}

services:
  web:
    <<: *defaults
    image: ${WEB_IMAGE:-nginx:1.27}
    ports:
      - "127.0.0.1:${WEB_PORT:-8080}:80"
      - target: 443
        published: "8443"
        protocol: tcp
        mode: host
    depends_on:
      api: {condition: service_started}
    volumes:
      - type: bind
        source: ./site
        target: /usr/share/nginx/html
        read_only: true
      - ./nginx.conf:/etc/nginx/conf.d/default.conf:ro
    configs:
      - source: nginx_extra
        target: /etc/nginx/extra.conf
        mode: 0440
  api:
    <<: *defaults
    image: ghcr.io/example/blog-api:2.3.1
    command: ["serve", "--port", "9000"]
    environment:
      DATABASE_URL: postgres://blog:${DB_PASSWORD:?set DB_PASSWORD}@db/blog
      REDIS_URL: redis://cache:6379/0
      DEBUG: false
      WORKERS: 4
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started, restart: true}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:9000/health"]
      interval: 10s
      timeout: 2s
      retries: 5
      start_period: 1m30s
    deploy:
      replicas: 2
      resources:
        limits: {cpus: "0.50", memory: 256M}
        reservations: {memory: 128m}
      update_config: {parallelism: 1, delay: 5s, order: start-first}
      restart_policy: {condition: on-failure, max_attempts: 3}
      placement:
        constraints: [node.role == worker]
    networks:
      back: {aliases: [blog-api]}
      default:
    x-owner: api-team
  db:
    image: postgres:16.4
    environment: [POSTGRES_DB=blog, POSTGRES_USER=blog, POSTGRES_PASSWORD_FILE=/run/secrets/db_pw]
    secrets: [db_pw]
    volumes: [pgdata:/var/lib/postgresql/data]
    healthcheck:
      test: pg_isready -U blog
      interval: 5s
    stop_grace_period: 1m
    networks: [back]
  cache:
    image: redis:7.2-alpine
    command: redis-server --save "" --appendonly no
    networks: [back]
    ulimits:
      nofile: {soft: 20000, hard: 40000}
  adminer:
    image: adminer:4
    profiles: [debug]
    ports: ["8081:8080"]
    depends_on: [db]
networks:
  back: {}
volumes:
  pgdata: {}
secrets:
  db_pw: {file: ./db_pw.txt}
configs:
  nginx_extra:
    content: |
      gzip on;
"""

BLOG_ENV = {"DB_PASSWORD": "s3cret"}

# Every normalized attribute at least once, in its less common spellings.
EVERYTHING = """\
services:
  app:
    build:
      context: ./app
      dockerfile: Dockerfile.prod
      args: [VERSION=1.0]
    image: example/app:${TAG:-latest}
    entrypoint: /entry.sh --verbose
    command: []
    environment: {A: "1", B: ~, C: "cost: $$5"}
    ports:
      - 3000
      - "8000-8001:80-81"
      - "[::1]:6001:6001/udp"
      - "127.0.0.1::5000"
      - target: 9090
        host_ip: 0.0.0.0
        name: metrics
        app_protocol: http
        x-scrape: true
    expose: ["9100", 9200]
    volumes:
      - /var/cache/app
      - logs:/var/log/app:nocopy
      - ./certs:/certs:ro,z
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 64m, mode: "1777"}
      - type: volume
        source: logs
        target: /audit
        volume: {subpath: audit, nocopy: true}
        x-backup: daily
    healthcheck:
      disable: true
    restart: on-failure:5
    deploy:
      mode: replicated
      replicas: ${REPLICAS:-3}
      endpoint_mode: dnsrr
      resources:
        limits: {cpus: 2, memory: 1g, pids: 200}
        reservations:
          cpus: "0.25"
          devices: [{capabilities: [gpu], count: 1}]
      rollback_config: {parallelism: 0, monitor: 30s, max_failure_ratio: 0.1}
      placement:
        preferences: [{spread: node.labels.zone}]
        max_replicas_per_node: 2
        x-region: eu-west-3
      labels: [com.example.tier=backend]
    labels: [com.example.app=demo, com.example.empty]
    networks:
      front:
        ipv4_address: 172.20.0.10
        x-note: static
    user: "1000:1000"
    working_dir: /srv
    read_only: ${READ_ONLY:-true}
    privileged: false
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    security_opt: [no-new-privileges:true]
    devices: ["/dev/fuse:rwm", {source: /dev/ttyUSB0, target: /dev/ttyS0}]
    tmpfs: /run
    secrets:
      - source: api_key
        target: api.key
        uid: "1000"
        mode: "0400"
    hostname: app.local
    extra_hosts: {db.internal: 10.0.0.5, twice: ["10.0.0.6", "10.0.0.7"]}
    stop_grace_period: 1m30s
    ulimits: {nproc: 65535}
    container_name: the-app
    init: true
    x-team: platform
networks:
  front:
    driver: bridge
    ipam: {config: [{subnet: 172.20.0.0/16}]}
volumes:
  logs:
    external: true
secrets:
  api_key:
    environment: API_KEY
x-meta: {owner: ops}
"""
