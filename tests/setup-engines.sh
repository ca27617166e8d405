#!/usr/bin/env bash
# Install the real engines the integration tests start by themselves. Idempotent and
# quick when everything is present. Without root or apt it says what is missing and
# leaves the tests to skip (or, under CI=true, to fail).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(docker.io containerd runc iptables busybox-static)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "engines: Docker engine packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "engines: missing ${missing[*]}; install them as root to run the engine tests"
  exit 0
fi
started=$(date +%s)
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "engines: installed ${missing[*]} in $(( $(date +%s) - started )) s"
