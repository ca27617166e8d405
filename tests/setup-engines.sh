#!/usr/bin/env bash
# Install the real engines the integration tests start by themselves (tests/infra):
#   - Debian's Docker engine (dockerd, containerd, runc, iptables) and busybox-static, whose
#     binary becomes the tests' only image (no registry is reachable);
#   - Vagrant (without recommends: the docker provider needs none of them);
#   - the Kubernetes control plane (kube-apiserver, kube-controller-manager, kube-scheduler)
#     built from Debian's kubernetes source package (no ready binary exists in the reachable
#     registries), plus etcd and openssl, into a cache outside the checkout:
#       ${WINDFLOW_ENGINE_CACHE:-$HOME/.cache/windflow-engines}/kubernetes/bin/
#
# Idempotent and quick when everything is present (no apt-get update, no build). Runs
# unattended (CI=true, no stdin). Concurrent runs wait for each other (flock). Without root
# or apt-get it says what is missing and exits 0: the tests then skip (or fail under CI=true).
# Exit status 1 only when an install or the build was attempted and failed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
exec </dev/null

CACHE="${WINDFLOW_ENGINE_CACHE:-$HOME/.cache/windflow-engines}"
K8S_DIR="$CACHE/kubernetes"
K8S_BIN="$K8S_DIR/bin"
K8S_TOOLS=(kube-apiserver kube-controller-manager kube-scheduler)
PACKAGES=(
  docker.io containerd runc iptables iproute2 busybox-static   # Docker engine + test image
  vagrant                                                      # vagrant, docker provider
  golang-go golang-github-modern-go-reflect2-dev dpkg-dev make # Kubernetes build
  etcd-server etcd-client openssl                              # Kubernetes at run time
  chromium fonts-dejavu-core                                   # browser tests (Playwright)
)
STARTED=$(date +%s)

say() { printf 'engines: %s\n' "$*"; }
elapsed() { echo "$(($(date +%s) - $1)) s"; }

k8s_cached() {
  local tool
  for tool in "${K8S_TOOLS[@]}"; do [ -x "$K8S_BIN/$tool" ] || return 1; done
}

missing_packages() {
  # One dpkg-query for all packages; a package dpkg never heard of is missing too.
  local installed
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null \
    | awk '$2 == "installed" {print $1}') || true
  local package
  for package in "${PACKAGES[@]}"; do
    grep -qxF "$package" <<<"$installed" || echo "$package"
  done
}

missing_commands() {
  local command
  for command in dockerd containerd runc iptables ip busybox vagrant etcd openssl go make \
    dpkg-source; do
    command -v "$command" >/dev/null 2>&1 || echo "$command"
  done
}

# --- packages ---------------------------------------------------------------------------------
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 \
  || ! command -v dpkg-query >/dev/null 2>&1; then
  missing=$(missing_commands | tr '\n' ' ')
  say "not root or no apt-get/dpkg: installing nothing; missing commands: ${missing:-none}"
  if k8s_cached; then
    say "kubernetes binaries cached in $K8S_BIN"
  else
    say "no Kubernetes binaries in $K8S_BIN"
  fi
  if [ -n "$missing" ] || ! k8s_cached; then
    say "tests needing these engines will skip (or fail under CI=true)"
  fi
  # A build needs no root; try it only when every build tool is there.
  if k8s_cached || ! command -v go >/dev/null || ! command -v dpkg-source >/dev/null \
    || ! command -v make >/dev/null || ! command -v apt-get >/dev/null \
    || [ ! -d /usr/share/gocode/src/github.com/modern-go/reflect2 ]; then
    exit 0
  fi
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.setup.lock"
if ! flock -n 9; then
  say "another setup-engines.sh is running; waiting for it"
  flock 9
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  mapfile -t missing < <(missing_packages)
  if [ "${#missing[@]}" -gt 0 ]; then
    step=$(date +%s)
    say "installing ${missing[*]}"
    apt_log="$CACHE/apt.log"
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"; } \
      >"$apt_log" 2>&1; then
      tail -n 30 "$apt_log" >&2
      say "apt-get failed (log: $apt_log)"
      exit 1
    fi
    say "installed ${#missing[@]} packages in $(elapsed "$step")"
  else
    say "packages present"
  fi
fi

# --- Kubernetes control plane from Debian's source package -------------------------------------
if k8s_cached; then
  say "kubernetes $(cat "$K8S_BIN/VERSION" 2>/dev/null || echo binaries) cached in $K8S_BIN"
  say "ready in $(elapsed "$STARTED")"
  exit 0
fi

work="$K8S_DIR/build"
log="$K8S_DIR/build.log"
cleanup_work() { rm -rf "$work"; }
trap cleanup_work EXIT
rm -rf "$work"
mkdir -p "$work/sources" "$work/lists/partial" "$work/cache/archives/partial" "$K8S_BIN"
: >"$log"

# The machine's Debian mirror (deb822 first, then one-line format), as a private deb-src
# list: the machine's apt configuration stays untouched.
mirror=$(awk '
  /^[[:space:]]*$/ { if (uris != "" && suites ~ /(^| )bookworm( |$)/ && uris !~ /security/) { print uris; exit }
                     uris = ""; suites = ""; next }
  /^URIs:/   { uris = $2 }
  /^Suites:/ { $1 = ""; suites = $0 }
  END { if (uris != "" && suites ~ /(^| )bookworm( |$)/ && uris !~ /security/) print uris }
' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1) || true
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list \
    2>/dev/null) || true
fi
mirror="${mirror:-http://deb.debian.org/debian}"
cat >"$work/sources/debian-src.sources" <<SOURCES
Types: deb-src
URIs: $mirror
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt_private=(
  -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/sources"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
  -o APT::Sandbox::User=root -o Debug::NoLocking=1
)

fail() {
  tail -n 40 "$log" >&2
  say "$* (log: $log)"
  exit 1
}

step=$(date +%s)
say "downloading Debian's kubernetes source package from $mirror"
apt-get "${apt_private[@]}" update >>"$log" 2>&1 || fail "apt-get update of deb-src failed"
(cd "$work" && apt-get "${apt_private[@]}" source --download-only kubernetes) >>"$log" 2>&1 \
  || fail "apt-get source kubernetes failed"
(cd "$work" && dpkg-source -x kubernetes_*.dsc k) >>"$log" 2>&1 || fail "dpkg-source -x failed"
version=$(cd "$work" && ls kubernetes_*.dsc | sed 's/^kubernetes_//; s/\.dsc$//')
say "source $version unpacked in $(elapsed "$step")"

# The vendored reflect2 1.0.1 crashes on Go 1.18+: use Debian's current one instead.
rm -f "$work/k/vendor/github.com/modern-go/reflect2/"*.go
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go \
  "$work/k/vendor/github.com/modern-go/reflect2/"

step=$(date +%s)
say "building ${K8S_TOOLS[*]} (about 4 min cold on 2 cores)"
(
  cd "$work/k"
  mkdir -p .go/src/k8s.io
  ln -sfn ../../.. .go/src/k8s.io/kubernetes
  env -u GOFLAGS GOPATH="$PWD/.go" GOCACHE="$work/gocache" CGO_ENABLED=0 GOPROXY=off \
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler"
) >>"$log" 2>&1 || fail "kubernetes build failed"

# Install atomically: a half-copied binary must never look like a cached one.
for tool in "${K8S_TOOLS[@]}"; do
  built=$(ls "$work"/k/_output/local/bin/linux/*/"$tool")
  install -m 0755 "$built" "$K8S_BIN/.$tool.tmp"
done
for tool in "${K8S_TOOLS[@]}"; do mv -f "$K8S_BIN/.$tool.tmp" "$K8S_BIN/$tool"; done
echo "$version" >"$K8S_BIN/VERSION"
say "built $("$K8S_BIN/kube-apiserver" --version) in $(elapsed "$step") into $K8S_BIN"
say "ready in $(elapsed "$STARTED")"
