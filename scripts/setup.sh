#!/usr/bin/env bash
# Installs what building and testing irqtrace needs on a fresh Debian machine (run as root, or with sudo).
# Idempotent: installs only missing packages. Swift itself is expected at /opt/swift or on PATH.
set -euo pipefail
PACKAGES=(libzstd-dev libpcap-dev pkg-config zstd xz-utils gcc libc6-dev tshark chromium time)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  # tshark asks whether non-root users may capture: answer no beforehand so the install never waits.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1 && [ ! -x /opt/swift/usr/bin/swift ]; then
  echo "setup: Swift 6.1 or later is needed (swift not on PATH and not at /opt/swift)" >&2
  exit 1
fi
