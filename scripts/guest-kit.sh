#!/usr/bin/env bash
# guest-kit.sh — prepares what the `record --qemu` end-to-end tests boot: QEMU (x86 and arm),
# Debian 6.1 cloud kernels (amd64, arm64), busybox initramfs images with the virtio modules, and a
# 16 MiB disk image, under $WORK (default /tmp/irqtrace-guest), described by $WORK/guest.env.
# Idempotent: downloads and unpacked kernels are reused. Needs root (apt-get); run by `make test`.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export WORK="${WORK:-/tmp/irqtrace-guest}"
PREPARE_ONLY=1 exec "$HERE/make-qemu-traces.sh"
