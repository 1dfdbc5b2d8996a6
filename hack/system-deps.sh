#!/usr/bin/env bash
# Debian packages the tests and the demo run for real: Redis (shared rate limits), and iproute2,
# whose `ip` the process kubelet puts the pod network on the loopback interface with.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if ! command -v go >/dev/null 2>&1; then
  echo "[system-deps] Go 1.26 is needed to build the control plane (https://go.dev/dl/)" >&2
  exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "[system-deps] installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "[system-deps] need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a system Redis on 6379 when it installs the package; the tests start their own
# servers on free ports, so the system one is left alone.
echo "[system-deps] done"
