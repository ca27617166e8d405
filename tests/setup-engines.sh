#!/usr/bin/env bash
# Install the real engines the integration tests start by themselves: Debian's Docker
# engine, Vagrant, and Kubernetes' control plane built from Debian's source package
# (no ready binary exists in the reachable registries). Idempotent: quick when
# everything is present. Without root or apt it says what is missing and leaves the
# tests to skip (or, under CI=true, to fail).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
CACHE="${WINDFLOW_ENGINE_CACHE:-$HOME/.cache/windflow-engines}"
K8S_BIN="$CACHE/kubernetes/bin"

say() { echo "engines: $*"; }
have_package() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "not root or no apt-get: cannot install Docker, Kubernetes and Vagrant here"
  exit 0
fi

packages=(docker.io containerd runc iptables busybox-static vagrant
          golang-go golang-github-modern-go-reflect2-dev etcd-server etcd-client dpkg-dev openssl)
missing=()
for package in "${packages[@]}"; do have_package "$package" || missing+=("$package"); done
if [ "${#missing[@]}" -gt 0 ]; then
  started=$(date +%s)
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "installed ${missing[*]} in $(( $(date +%s) - started )) s"
else
  say "packages present"
fi

if [ -x "$K8S_BIN/kube-apiserver" ] && [ -x "$K8S_BIN/kube-controller-manager" ] \
   && [ -x "$K8S_BIN/kube-scheduler" ]; then
  say "kubernetes binaries cached in $K8S_BIN"
  exit 0
fi

started=$(date +%s)
work="$CACHE/kubernetes/build"
rm -rf "$work"
mkdir -p "$work/sources" "$work/lists/partial" "$work/cache/archives/partial" "$K8S_BIN"
# A private deb-src list: the machine's apt configuration stays untouched.
mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security \
         | head -1 | awk '{print $2}')
mirror="${mirror:-$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security \
         | head -1 | awk '{print $2}')}"
cat > "$work/sources/debian-src.sources" <<SOURCES
Types: deb-src
URIs: ${mirror:-http://deb.debian.org/debian}
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt_private=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/sources"
             -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
apt-get "${apt_private[@]}" update -qq
(cd "$work" && apt-get "${apt_private[@]}" source --download-only kubernetes >/dev/null)
(cd "$work" && dpkg-source -x kubernetes_*.dsc k >/dev/null)
# The vendored reflect2 1.0.1 crashes on Go 1.18+: use Debian's current one instead.
rm -f "$work/k/vendor/github.com/modern-go/reflect2/"*.go
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go "$work/k/vendor/github.com/modern-go/reflect2/"
(
  cd "$work/k"
  mkdir -p .go/src/k8s.io
  ln -sfn ../../.. .go/src/k8s.io/kubernetes
  GOPATH="$PWD/.go" GOCACHE="$CACHE/kubernetes/gocache" CGO_ENABLED=0 GOPROXY=off GOFLAGS=-mod=vendor \
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" >/dev/null
  cp _output/local/bin/linux/*/kube-apiserver _output/local/bin/linux/*/kube-controller-manager \
     _output/local/bin/linux/*/kube-scheduler "$K8S_BIN/"
)
rm -rf "$work"
say "built kubernetes control plane into $K8S_BIN in $(( $(date +%s) - started )) s"
