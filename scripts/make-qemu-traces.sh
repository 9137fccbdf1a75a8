#!/usr/bin/env bash
# make-qemu-traces.sh — record real interrupt-controller trace logs from QEMU.
#
# Boots a Debian 6.1 cloud kernel (x86_64 and arm64) with a tiny busybox
# initramfs under QEMU/TCG, lets the guest do a little network and disk I/O
# (ping the QEMU user-net gateway 10.0.2.2 — restrict=on, so nothing leaves
# the machine — and read a few MB from a virtio disk), powers off, and keeps
# QEMU's interrupt-controller trace events (apic/ioapic/vtd_ir/pic/msix on
# x86, gic on arm) as zstd-compressed text in traces/.
#
# Needs root (apt-get). Idempotent: packages, downloads and unpacked kernels
# are reused; initramfs images and traces are rebuilt on every run.
#
# Environment:
#   WORK=/tmp/irqtrace-guest   scratch dir (debs, unpacked kernels, initramfs,
#                              disk image, raw logs, guest console logs)
#   OUT=<repo>/traces          where NAME.log.zst files go
#   KABI=6.1.0-50              Debian kernel ABI (linux-image-$KABI-cloud-*);
#                              if unavailable, the newest 6.1.0-NN with both
#                              amd64 and arm64 cloud images is used
#   ONLY="name1 name2"         only record these traces (names without .log.zst);
#                              ONLY=none just rewrites traces/README.md
#   QEMU_TIMEOUT=120           seconds before a QEMU run is killed
#   PREPARE_ONLY=0             1 = only prepare the guest kit (packages, kernels,
#                              initramfs, disk) and write $WORK/guest.env, for the
#                              `record --qemu` tests (scripts/guest-kit.sh)
# shellcheck disable=SC2054  # commas below are inside QEMU option strings
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
WORK="${WORK:-/tmp/irqtrace-guest}"
OUT="${OUT:-$REPO/traces}"
KABI="${KABI:-6.1.0-50}"
ONLY="${ONLY:-}"
QEMU_TIMEOUT="${QEMU_TIMEOUT:-120}"
MODULES="virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net virtio_blk"

log() { printf '[make-qemu-traces] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, dpkg)"
mkdir -p "$WORK" "$OUT"
WORK="$(cd "$WORK" && pwd)"

APT=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_update() {
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        apt-get -o DPkg::Lock::Timeout=600 -q update >/dev/null
        apt_updated=1
    fi
}

# ---------------------------------------------------------------- host tools
need=()
for p in qemu-system-x86 qemu-system-arm busybox-static cpio zstd gzip coreutils; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
    apt_update
    log "installing ${need[*]}"
    "${APT[@]}" install "${need[@]}" >/dev/null
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "adding foreign architecture arm64"
    dpkg --add-architecture arm64
    apt_updated=0
    apt_update
fi

# ------------------------------------------------------ pick a guest kernel
has_candidate() { # package -> true if apt knows a candidate version
    local c
    c="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    [ -n "$c" ] && [ "$c" != "(none)" ]
}
have_debs() {
    compgen -G "$WORK/deb/linux-image-$1-cloud-amd64_*_amd64.deb" >/dev/null &&
    compgen -G "$WORK/deb/linux-image-$1-cloud-arm64_*_arm64.deb" >/dev/null
}
if ! have_debs "$KABI"; then
    if ! has_candidate "linux-image-$KABI-cloud-amd64" || ! has_candidate "linux-image-$KABI-cloud-arm64:arm64"; then
        apt_update
    fi
    if ! has_candidate "linux-image-$KABI-cloud-amd64" || ! has_candidate "linux-image-$KABI-cloud-arm64:arm64"; then
        log "linux-image-$KABI-cloud-* not available; looking for the newest 6.1.0-NN"
        KABI=""
        for abi in $(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' |
                     sed -E 's/^linux-image-(6\.1\.0-[0-9]+)-cloud-amd64 .*/\1/' | sort -V -r); do
            if has_candidate "linux-image-$abi-cloud-arm64:arm64"; then KABI="$abi"; break; fi
        done
        [ -n "$KABI" ] || die "no linux-image-6.1.0-NN-cloud-{amd64,arm64} found"
    fi
fi
log "guest kernel ABI: $KABI"

# ----------------------------------------------------------------- downloads
mkdir -p "$WORK/deb"
fetch() { # package pattern
    if ! compgen -G "$WORK/deb/$2" >/dev/null; then
        log "apt-get download $1"
        (cd "$WORK/deb" && apt-get -q download "$1" >/dev/null 2>&1) ||
            { apt_update; (cd "$WORK/deb" && apt-get -q download "$1" >/dev/null); }
    fi
    compgen -G "$WORK/deb/$2" | sort -V | tail -n1
}
DEB_K_AMD64="$(fetch "linux-image-$KABI-cloud-amd64" "linux-image-$KABI-cloud-amd64_*_amd64.deb")"
DEB_K_ARM64="$(fetch "linux-image-$KABI-cloud-arm64:arm64" "linux-image-$KABI-cloud-arm64_*_arm64.deb")"
DEB_BB_ARM64="$(fetch "busybox-static:arm64" "busybox-static_*_arm64.deb")"

unpack() { # deb dir
    if [ ! -f "$2/.unpacked" ] || [ "$(cat "$2/.unpacked")" != "$(basename "$1")" ]; then
        rm -rf "$2"; mkdir -p "$2"
        dpkg -x "$1" "$2"
        basename "$1" >"$2/.unpacked"
    fi
}
unpack "$DEB_K_AMD64" "$WORK/root-amd64"
unpack "$DEB_K_ARM64" "$WORK/root-arm64"
unpack "$DEB_BB_ARM64" "$WORK/bb-arm64"

# ---------------------------------------------------------------- initramfs
write_init() {
    cat >"$1" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "IRQTRACE: kernel $(uname -r) $(uname -m) cmdline: $(cat /proc/cmdline)"
for m in $(cat /modules.list); do
    insmod "/lib/modules/$m.ko" || echo "IRQTRACE: insmod $m failed"
done
i=0
while [ ! -e /sys/class/net/eth0 ] || [ ! -b /dev/vda ]; do
    i=$((i + 1)); [ "$i" -gt 50 ] && break; sleep 0.1
done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
# Only the QEMU user-net gateway (inside QEMU, restrict=on) is ever pinged.
if ping -c 4 -W 3 10.0.2.2; then echo "IRQTRACE: PING OK"; else echo "IRQTRACE: PING FAILED"; fi
if dd if=/dev/vda of=/dev/null bs=64k count=64; then echo "IRQTRACE: DISK OK"; else echo "IRQTRACE: DISK FAILED"; fi
# Keep console output short: every byte on the UART is interrupt traffic in the trace.
dmesg | grep -E 'IRQ remapping|AMD-Vi: Interrupt remapping|GICv2m:|GIC: |virtio_blk' | cut -c16-
grep -E 'virtio|LOC|arch_timer' /proc/interrupts | tr -s ' '
echo "IRQTRACE: DONE"
poweroff -f
EOF
    chmod 755 "$1"
}
build_initramfs() { # arch busybox-binary modules-root out
    local arch="$1" bb="$2" kroot="$3" out="$4" d kmod m f
    d="$WORK/initramfs-$arch"
    rm -rf "$d"; mkdir -p "$d"/{bin,proc,sys,dev,lib/modules,tmp}
    cp "$bb" "$d/bin/busybox"
    ln -s busybox "$d/bin/sh"
    kmod="$(echo "$kroot"/lib/modules/*/kernel)"
    for m in $MODULES; do
        f="$(find "$kmod" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -n1)"
        [ -n "$f" ] || die "$arch: module $m not found under $kmod"
        case "$f" in
            *.ko) cp "$f" "$d/lib/modules/$m.ko" ;;
            *.xz) xz -dc "$f" >"$d/lib/modules/$m.ko" ;;
            *.zst) zstd -q -dc "$f" >"$d/lib/modules/$m.ko" ;;
        esac
    done
    echo "$MODULES" >"$d/modules.list"
    write_init "$d/init"
    (cd "$d" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -9 -n >"$out"
}
BB_AMD64="$(command -v busybox || echo /bin/busybox)"
[ -x "$BB_AMD64" ] || die "busybox-static not installed"
VMLINUZ_AMD64="$(ls "$WORK"/root-amd64/boot/vmlinuz-* | head -n1)"
VMLINUZ_ARM64="$(ls "$WORK"/root-arm64/boot/vmlinuz-* | head -n1)"
KREL_AMD64="$(basename "$VMLINUZ_AMD64" | sed 's/^vmlinuz-//')"
KREL_ARM64="$(basename "$VMLINUZ_ARM64" | sed 's/^vmlinuz-//')"
log "building initramfs images"
build_initramfs amd64 "$BB_AMD64" "$WORK/root-amd64" "$WORK/initrd-amd64.gz"
build_initramfs arm64 "$WORK/bb-arm64/bin/busybox" "$WORK/root-arm64" "$WORK/initrd-arm64.gz"

# ---------------------------------------------------------------- disk image
DISK="$WORK/disk.raw"
if [ ! -f "$DISK" ] || [ "$(stat -c %s "$DISK")" != $((16 * 1024 * 1024)) ]; then
    rm -f "$DISK"
    # 16 MiB with real (non-sparse) data so reads are not all-zero pages.
    dd if=/dev/urandom of="$DISK" bs=1M count=16 status=none
fi

if [ "${PREPARE_ONLY:-0}" = 1 ]; then
    printf '%s\n' "VMLINUZ_AMD64=$VMLINUZ_AMD64" "INITRD_AMD64=$WORK/initrd-amd64.gz" \
        "VMLINUZ_ARM64=$VMLINUZ_ARM64" "INITRD_ARM64=$WORK/initrd-arm64.gz" "DISK=$DISK" >"$WORK/guest.env"
    log "guest kit ready: $WORK/guest.env"
    exit 0
fi

# Debian's cloud-amd64 flavour is built without CONFIG_AMD_IOMMU, so under QEMU's amd-iommu it
# never enables AMD-Vi interrupt remapping; the generic amd64 flavour (CONFIG_AMD_IOMMU=y) does.
# Only the amdvi-ir traces use it (not the guest kit).
DEB_K_AMD64_GENERIC="$(fetch "linux-image-$KABI-amd64" "linux-image-$KABI-amd64_*_amd64.deb")"
unpack "$DEB_K_AMD64_GENERIC" "$WORK/root-amd64-generic"
VMLINUZ_AMD64_GENERIC="$(ls "$WORK"/root-amd64-generic/boot/vmlinuz-* | head -n1)"
KREL_AMD64_GENERIC="$(basename "$VMLINUZ_AMD64_GENERIC" | sed 's/^vmlinuz-//')"
build_initramfs amd64-generic "$BB_AMD64" "$WORK/root-amd64-generic" "$WORK/initrd-amd64-generic.gz"

# -------------------------------------------------------------- trace events
cat >"$WORK/events-x86.txt" <<'EOF'
apic_*
ioapic_*
vtd_ir_*
vtd_irq_generate
amdvi_ir_*
amdvi_control_status
pic_*
msix_*
cpu_set_apic_base
cpu_get_apic_base
EOF
# QEMU 7.2 has no gicv2m/v2m trace events; gic_* covers the GICv2 model
# (it does not match gicv3_*).
cat >"$WORK/events-arm.txt" <<'EOF'
gic_*
msix_*
EOF

# ------------------------------------------------------------------ runner
QEMU_VERSION="$(qemu-system-x86_64 --version | head -n1 | sed 's/^QEMU emulator version //')"
MAX_ZST=$((2 * 1024 * 1024))
run_trace() { # name expect-trace-event expect-console-regex timestamp(0/1) qemu-binary args...
    local name="$1" expect="$2" expect_con="$3" ts="$4"; shift 4
    if [ -n "$ONLY" ] && ! tr ' ' '\n' <<<"$ONLY" | grep -qx -- "$name"; then return 0; fi
    local raw="$WORK/$name.log" con="$WORK/$name.console.txt" rc=0
    local -a cmd=("$@")
    [ "$ts" = 1 ] && cmd+=(-msg timestamp=on)
    cmd+=(-nographic -no-reboot -m 512M -accel "tcg,thread=${TCG:-single}"
          -netdev user,id=n0,restrict=on
          -drive "file=$DISK,if=none,id=d0,format=raw,readonly=on"
          -trace "file=$raw")
    # DINT=1: QEMU's -d int log into the same file (x86 TCG's "Servicing hardware INT=0xNN" after
    # every acknowledge, with a register dump per interrupt and exception, which record skips).
    [ "${DINT:-0}" = 1 ] && cmd+=(-d int -D "$raw")
    rm -f "$raw" "$con"
    local a q=""
    for a in "${cmd[@]}"; do
        case "$a" in *[!A-Za-z0-9_./=,:@%+-]*) q+=" '$a'" ;; *) q+=" $a" ;; esac
    done
    printf '%s\n' "${q# }" >"$WORK/$name.cmd"
    log "recording $name"
    timeout "$QEMU_TIMEOUT" "${cmd[@]}" </dev/null >"$con" 2>&1 || rc=$?
    [ "$rc" = 0 ] || die "$name: qemu exited with $rc (console: $con)"
    grep -q 'IRQTRACE: PING OK' "$con" || die "$name: guest ping failed (console: $con)"
    grep -q 'IRQTRACE: DISK OK' "$con" || die "$name: guest disk read failed (console: $con)"
    grep -q 'IRQTRACE: DONE' "$con" || die "$name: guest did not finish (console: $con)"
    grep -q -E "$expect_con" "$con" || die "$name: console lacks /$expect_con/ (console: $con)"
    grep -q -E "(^|:)$expect " "$raw" || die "$name: no $expect lines in $raw"
    zstd -q -19 -f "$raw" -o "$OUT/$name.log.zst"
    [ "$(stat -c %s "$OUT/$name.log.zst")" -le "$MAX_ZST" ] ||
        log "WARNING: $name.log.zst is over 2 MB; reduce guest traffic"
    log "$name: $(wc -l <"$raw") lines, $(stat -c %s "$raw") bytes raw, $(stat -c %s "$OUT/$name.log.zst") bytes zstd"
}

X86_COMMON=(-kernel "$VMLINUZ_AMD64" -initrd "$WORK/initrd-amd64.gz"
            -trace "events=$WORK/events-x86.txt"
            -device virtio-net-pci,netdev=n0 -device virtio-blk-pci,drive=d0)
X86_APPEND="console=ttyS0 panic=-1 quiet loglevel=4"
# The generic amd64 kernel (AMD-Vi built in) for the AMD-Vi interrupt-remapping traces.
X86_GENERIC=(-kernel "$VMLINUZ_AMD64_GENERIC" -initrd "$WORK/initrd-amd64-generic.gz"
             -trace "events=$WORK/events-x86.txt"
             -device virtio-net-pci,netdev=n0 -device virtio-blk-pci,drive=d0)
ARM_COMMON=(-cpu cortex-a57 -kernel "$VMLINUZ_ARM64" -initrd "$WORK/initrd-arm64.gz"
            -trace "events=$WORK/events-arm.txt"
            -device virtio-net-pci,netdev=n0 -device virtio-blk-pci,drive=d0)
ARM_APPEND="console=ttyAMA0 panic=-1 quiet loglevel=4"

# Under TCG there is no in-kernel irqchip, so plain `-M q35` works with
# intel-iommu,intremap=on (kernel-irqchip=split is only needed with KVM).
run_trace qemu-x86-q35-intremap-smp2 vtd_ir_remap_msi 'Enabled IRQ remapping' 1 qemu-system-x86_64 \
    -M q35 -device intel-iommu,intremap=on -smp 2 "${X86_COMMON[@]}" \
    -append "$X86_APPEND intremap=on"
run_trace qemu-x86-q35-intremap-smp4 vtd_ir_remap_msi 'Enabled IRQ remapping' 1 qemu-system-x86_64 \
    -M q35 -device intel-iommu,intremap=on -smp 4 "${X86_COMMON[@]}" \
    -append "$X86_APPEND intremap=on"
# Multi-threaded TCG: each vCPU's LAPIC accesses (EOI, ICR, register reads) on its own thread.
TCG=multi run_trace qemu-x86-q35-intremap-smp2-mttcg vtd_ir_remap_msi 'Enabled IRQ remapping' 1 qemu-system-x86_64 \
    -M q35 -device intel-iommu,intremap=on -smp 2 "${X86_COMMON[@]}" \
    -append "$X86_APPEND intremap=on"
TCG=multi run_trace qemu-x86-q35-intremap-smp4-mttcg vtd_ir_remap_msi 'Enabled IRQ remapping' 1 qemu-system-x86_64 \
    -M q35 -device intel-iommu,intremap=on -smp 4 "${X86_COMMON[@]}" \
    -append "$X86_APPEND intremap=on"
TCG=multi run_trace qemu-x86-pc-smp2-mttcg apic_deliver_irq 'PCI-MSI.*virtio1-req' 1 qemu-system-x86_64 \
    -M pc -smp 2 "${X86_COMMON[@]}" \
    -append "$X86_APPEND"
# With QEMU's -d int log: every LAPIC acknowledge is in the log (QEMUDeliveredCounter checks them).
DINT=1 TCG=multi run_trace qemu-x86-q35-intremap-smp2-mttcg-dint vtd_ir_remap_msi 'Enabled IRQ remapping' 1 qemu-system-x86_64 \
    -M q35 -device intel-iommu,intremap=on -smp 2 "${X86_COMMON[@]}" \
    -append "$X86_APPEND intremap=on"
DINT=1 TCG=multi run_trace qemu-x86-q35-intremap-smp4-mttcg-dint vtd_ir_remap_msi 'Enabled IRQ remapping' 1 qemu-system-x86_64 \
    -M q35 -device intel-iommu,intremap=on -smp 4 "${X86_COMMON[@]}" \
    -append "$X86_APPEND intremap=on"
DINT=1 TCG=multi run_trace qemu-x86-pc-smp2-mttcg-dint apic_deliver_irq 'PCI-MSI.*virtio1-req' 1 qemu-system-x86_64 \
    -M pc -smp 2 "${X86_COMMON[@]}" \
    -append "$X86_APPEND"
DINT=1 run_trace qemu-x86-pc-smp2-dint apic_deliver_irq 'PCI-MSI.*virtio1-req' 1 qemu-system-x86_64 \
    -M pc -smp 2 "${X86_COMMON[@]}" \
    -append "$X86_APPEND"
# AMD-Vi: QEMU 7.2's amd-iommu with interrupt remapping; the cloud kernel has no AMD-Vi driver
# (CONFIG_AMD_IOMMU is not set), so every interrupt passes through unremapped.
run_trace qemu-x86-q35-amdvi-smp2 amdvi_ir_remap_msi 'PCI-MSI.*virtio1-req' 1 qemu-system-x86_64 \
    -M q35 -device amd-iommu,intremap=on -smp 2 "${X86_COMMON[@]}" \
    -append "$X86_APPEND"
# AMD-Vi interrupt remapping enabled ("AMD-Vi: Interrupt remapping enabled"): the generic kernel.
# By default Linux 6.1 enables GAEn and writes 128-bit IRTEs (legacy GA: GuestMode 0, since QEMU
# does not advertise GAMSup/vAPIC). amd_iommu_intr=legacy does not give 32-bit IRTEs (it selects
# legacy GA); a CPU without CMPXCHG16B does (init_iommu_one: GA mode needs cx16).
TCG=multi run_trace qemu-x86-q35-amdvi-ir-smp2-mttcg amdvi_ir_irte_ga_val 'AMD-Vi: Interrupt remapping enabled' 1 qemu-system-x86_64 \
    -M q35 -device amd-iommu,intremap=on -smp 2 "${X86_GENERIC[@]}" \
    -append "$X86_APPEND"
run_trace qemu-x86-q35-amdvi-ir-legacy-smp2 amdvi_ir_irte_val 'AMD-Vi: Interrupt remapping enabled' 1 qemu-system-x86_64 \
    -M q35 -device amd-iommu,intremap=on -smp 2 -cpu qemu64,-cx16 "${X86_GENERIC[@]}" \
    -append "$X86_APPEND"
run_trace qemu-x86-pc-smp2 apic_deliver_irq 'PCI-MSI.*virtio1-req' 1 qemu-system-x86_64 \
    -M pc -smp 2 "${X86_COMMON[@]}" \
    -append "$X86_APPEND"
run_trace qemu-x86-pc-nomsi-smp2-notimestamp ioapic_set_remote_irr 'IO-APIC [0-9]+-fasteoi virtio' 0 qemu-system-x86_64 \
    -M pc -smp 2 "${X86_COMMON[@]}" \
    -append "$X86_APPEND pci=nomsi"
run_trace qemu-arm64-virt-gicv2-smp2 gic_acknowledge_irq 'GICv2m:' 1 qemu-system-aarch64 \
    -M virt,gic-version=2 -smp 2 "${ARM_COMMON[@]}" \
    -append "$ARM_APPEND"
run_trace qemu-arm64-virt-gicv2-smp4 gic_acknowledge_irq 'GICv2m:' 1 qemu-system-aarch64 \
    -M virt,gic-version=2 -smp 4 "${ARM_COMMON[@]}" \
    -append "$ARM_APPEND"
# Multi-threaded TCG (QEMU's default): one thread per vCPU, so events of different vCPUs interleave.
TCG=multi run_trace qemu-arm64-virt-gicv2-smp2-mttcg gic_acknowledge_irq 'GICv2m:' 1 qemu-system-aarch64 \
    -M virt,gic-version=2 -smp 2 "${ARM_COMMON[@]}" \
    -append "$ARM_APPEND"
run_trace qemu-arm64-virt-gicv2-el2-smp2 gic_acknowledge_irq 'split EOI/Deactivate' 1 qemu-system-aarch64 \
    -M virt,gic-version=2,virtualization=on -smp 2 "${ARM_COMMON[@]}" \
    -append "$ARM_APPEND"

# ------------------------------------------------------------------ README
describe() {
    case "$1" in
        qemu-x86-q35-intremap-smp2) echo "x86_64, \`-M q35 -device intel-iommu,intremap=on -smp 2\`, virtio-net-pci + virtio-blk-pci, guest \`intremap=on\` (remapped MSI + IOAPIC, xAPIC mode)" ;;
        qemu-x86-q35-intremap-smp4) echo "x86_64, \`-M q35 -device intel-iommu,intremap=on -smp 4\`, virtio-net-pci + virtio-blk-pci, guest \`intremap=on\` (remapped MSI + IOAPIC, xAPIC mode)" ;;
        qemu-x86-q35-intremap-smp2-mttcg) echo "x86_64, as qemu-x86-q35-intremap-smp2 but with multi-threaded TCG (\`-accel tcg,thread=multi\`): each vCPU's LAPIC accesses on its own thread" ;;
        qemu-x86-q35-intremap-smp4-mttcg) echo "x86_64, as qemu-x86-q35-intremap-smp4 with multi-threaded TCG" ;;
        qemu-x86-pc-smp2-mttcg) echo "x86_64, as qemu-x86-pc-smp2 with multi-threaded TCG" ;;
        qemu-x86-q35-intremap-smp2-mttcg-dint) echo "x86_64, as qemu-x86-q35-intremap-smp2-mttcg with QEMU's \`-d int\` log in the same file: every acknowledge (\`Servicing hardware INT=0xNN\`)" ;;
        qemu-x86-q35-intremap-smp4-mttcg-dint) echo "x86_64, as qemu-x86-q35-intremap-smp4-mttcg with \`-d int\`" ;;
        qemu-x86-pc-smp2-mttcg-dint) echo "x86_64, as qemu-x86-pc-smp2-mttcg with \`-d int\`" ;;
        qemu-x86-pc-smp2-dint) echo "x86_64, as qemu-x86-pc-smp2 (one TCG thread) with \`-d int\`" ;;
        qemu-x86-q35-amdvi-smp2) echo "x86_64, \`-M q35 -device amd-iommu,intremap=on -smp 2\`, virtio-net-pci + virtio-blk-pci: AMD-Vi interrupt remapping events (the cloud kernel, built without CONFIG_AMD_IOMMU, leaves it in pass-through)" ;;
        qemu-x86-q35-amdvi-ir-smp2-mttcg) echo "x86_64, \`-M q35 -device amd-iommu,intremap=on -smp 2\`, multi-threaded TCG, generic amd64 kernel (CONFIG_AMD_IOMMU=y): AMD-Vi interrupt remapping enabled, 128-bit IRTEs (GAEn)" ;;
        qemu-x86-q35-amdvi-ir-legacy-smp2) echo "x86_64, as qemu-x86-q35-amdvi-ir-smp2-mttcg with one TCG thread and \`-cpu qemu64,-cx16\` (Linux uses 128-bit IRTEs only with CMPXCHG16B): basic 32-bit IRTEs" ;;
        qemu-x86-pc-smp2) echo "x86_64, \`-M pc -smp 2\` (i440FX, no IOMMU), virtio-net-pci + virtio-blk-pci (MSI-X)" ;;
        qemu-x86-pc-nomsi-smp2-notimestamp) echo "x86_64, \`-M pc -smp 2\`, guest \`pci=nomsi\` (virtio on INTx: level IOAPIC pins 10/11, Remote IRR), **no** \`-msg timestamp=on\`" ;;
        qemu-arm64-virt-gicv2-smp2) echo "aarch64, \`-M virt,gic-version=2 -cpu cortex-a57 -smp 2\`, virtio-net-pci + virtio-blk-pci (MSI via GICv2m SPIs), console ttyAMA0, kernel at EL1 (EOImode 0)" ;;
        qemu-arm64-virt-gicv2-smp4) echo "aarch64, \`-M virt,gic-version=2 -cpu cortex-a57 -smp 4\`, virtio-net-pci + virtio-blk-pci (MSI via GICv2m SPIs), kernel at EL1" ;;
        qemu-arm64-virt-gicv2-smp2-mttcg) echo "aarch64, as qemu-arm64-virt-gicv2-smp2 but with multi-threaded TCG (\`-accel tcg,thread=multi\`, QEMU's default): per-vCPU threads interleave" ;;
        qemu-arm64-virt-gicv2-el2-smp2) echo "aarch64, \`-M virt,gic-version=2,virtualization=on -cpu cortex-a57 -smp 2\`, virtio-net-pci + virtio-blk-pci, booted at EL2 (\"GIC: Using split EOI/Deactivate mode\", EOImode 1: EOIR 0x10 + DIR 0x1000)" ;;
        *) echo "?" ;;
    esac
}
write_readme() {
    local r="$OUT/README.md" f name krel lines raw zst bad us
    {
        echo "# Real QEMU interrupt-controller traces"
        echo
        echo "Made by \`scripts/make-qemu-traces.sh\` (run as root; it installs QEMU etc. with apt-get and"
        echo "downloads the guest kernels with \`apt-get download\`). Do not edit by hand: rerun the script,"
        echo "which rewrites this file from the traces present."
        echo
        echo "- QEMU: $QEMU_VERSION (Debian packages qemu-system-x86 / qemu-system-arm), TCG"
        echo "  \`-accel tcg,thread=single\` (one global event order), \`-m 512M -nographic -no-reboot\`,"
        echo "  \`-netdev user,id=n0,restrict=on\`."
        echo "- Guest: Debian cloud kernels $KREL_AMD64 / $KREL_ARM64 (the \`amdvi-ir\` traces: the generic"
        echo "  $KREL_AMD64_GENERIC, as the cloud flavour lacks CONFIG_AMD_IOMMU) + busybox-static initramfs whose /init"
        echo "  insmods the virtio modules, sets eth0 to 10.0.2.15/24, pings only the QEMU user-net gateway"
        echo "  10.0.2.2 four times, reads 4 MiB from /dev/vda (16 MiB raw image) with dd, prints a short"
        echo "  summary and does \`poweroff -f\`. The script checks the guest console for the ping replies,"
        echo "  the dd result and the expected interrupt mode before keeping a trace."
        echo "- Events: x86 \`apic_* ioapic_* vtd_ir_* vtd_irq_generate amdvi_ir_* amdvi_control_status pic_* msix_*"
        echo "  cpu_set_apic_base cpu_get_apic_base\` (amdvi_control_status, AMD-Vi's control register and"
        echo "  so GAEn, since the \`amdvi-ir\` traces); arm \`gic_* msix_*\` (QEMU 7.2 has no GICv2m trace events)."
        echo "- Files are zstd -19 compressed text: \`zstdcat NAME.log.zst\`."
        echo
        echo "| file | setup | guest kernel | events (lines) | raw bytes | zstd bytes | non-event lines | µs digits |"
        echo "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |"
        for f in "$OUT"/*.log.zst; do
            [ -e "$f" ] || continue
            name="$(basename "$f" .log.zst)"
            case "$name" in *arm64*) krel="$KREL_ARM64" ;; *amdvi-ir*) krel="$KREL_AMD64_GENERIC" ;; *) krel="$KREL_AMD64" ;; esac
            lines="$(zstdcat "$f" | wc -l)"
            raw="$(zstdcat "$f" | wc -c)"
            zst="$(stat -c %s "$f")"
            bad="$(zstdcat "$f" | grep -c -v -E '^([0-9]+@[0-9]+\.[0-9]+:)?[a-z0-9_]+( |$)' || true)"
            us="$(zstdcat "$f" | sed -n -E 's/^[0-9]+@[0-9]+\.([0-9]+):.*/\1/p' | awk '{print length($0)}' | sort -u | tr '\n' ',' | sed 's/,$//')"
            echo "| \`$name.log.zst\` | $(describe "$name") | $krel | $lines | $raw | $zst | $bad | ${us:-no timestamps} |"
        done
        echo
        echo "## Exact QEMU command lines"
        echo
        echo "\`\$WORK\` is the script's scratch directory (default /tmp/irqtrace-guest)."
        echo
        for f in "$OUT"/*.log.zst; do
            [ -e "$f" ] || continue
            name="$(basename "$f" .log.zst)"
            [ -f "$WORK/$name.cmd" ] || continue
            echo "- \`$name\`:"
            echo '  ```'
            echo "  timeout $QEMU_TIMEOUT $(sed "s|$WORK|\$WORK|g" "$WORK/$name.cmd")"
            echo '  ```'
        done
        echo
        echo "## Top event names per file"
        echo
        echo "\`zstdcat F | sed -E 's/^[0-9]+@[0-9.]+://' | awk '{print \$1}' | sort | uniq -c | sort -rn | head\`"
        for f in "$OUT"/*.log.zst; do
            [ -e "$f" ] || continue
            echo
            echo "### $(basename "$f")"
            echo
            echo '```'
            zstdcat "$f" | sed -E 's/^[0-9]+@[0-9.]+://' | awk '{print $1}' | sort | uniq -c | sort -rn | head
            echo '```'
        done
        echo
        cat <<'NOTES'
## Line format and quirks (QEMU 7.2 `log` trace backend)

- With `-msg timestamp=on` every line is `TID@SECONDS.MICROS:event args`: TID is the host thread
  id, SECONDS is wall-clock Unix time (not time since boot), MICROS is always zero-padded to 6
  digits. Without it (the `-notimestamp` file) a line is just `event args`.
- Even with `-accel tcg,thread=single` there are two TIDs: the TCG vCPU thread (register
  accesses: apic_mem_*, ioapic_mem_*, gic_cpu_*, gic_dist_*, gic_acknowledge_irq, and the
  interrupt updates they cause) and the main I/O thread (timers, virtio/slirp backends, reset).
  The file is still in one order: timestamps never go backwards, but many consecutive lines
  share the same microsecond.
- No non-event lines (QEMU warnings, guest console) appear in these files: QEMU's own messages
  go to stderr, and the guest console went to a separate file. Every line is one event, ASCII,
  no tabs, no trailing spaces, hex always lowercase.
- Argument formats are irregular per event (they are QEMU's printf strings): `key value`
  pairs (`apic_deliver_irq dest 1 dest_mode 1 …`), `key: value` (`ioapic_set_irq vector: 4
  level: 0`), `OFFSET = VALUE` (`apic_mem_writel 0xb0 = 0x00000000`), mixed
  (`ioapic_mem_write ioapic mem write addr 0x0 regsel: 0x0 size 0x4 val 0x0`), bracketed
  (`gic_update_set_irq cpu[0]: irq = 1`), arrows (`vtd_ir_remap_msi (addr …, data …) -> (addr …,
  data …)`), and bare words (`vtd_ir_remap_type IOAPIC`). Hex widths vary: 16 digits
  (cpu_get_apic_base), 8 digits (apic_mem_* values, gic_* offsets/values), unpadded (offsets of
  apic_mem_*, ioapic_*, pic_*, vtd_*).
- Misleading names: `ioapic_set_irq` prints the IOAPIC *pin* as "vector"; `apic_local_deliver`'s
  "vector" is the LVT index; `vtd_ir_irte_get` prints the IRTE quadwords swapped (low/high);
  `apic_deliver_irq` truncates dest to 8 bits (QEMU source; invisible here, all runs are xAPIC);
  `gic_cpu_write` has no colon before the value
  while `gic_cpu_read`/`gic_dist_*` do.
- Each x86 trace starts (main thread, at machine reset, before any guest code) with the PIT
  raising ISA IRQ 0: `pic_set_irq master 1 irq 0 level 1`, one `apic_local_deliver vector 3
  delivery mode 0` (LINT0) per CPU, then `ioapic_set_irq vector: 0 level: 1` and, from the
  still-zero redirection entry, `apic_deliver_irq dest 0 dest_mode 0 delivery_mode 0 vector 0
  trigger_mode 0`; on q35 that goes through VT-d untranslated (`vtd_ir_remap_msi (addr
  0xfee00000, data 0x0) -> (addr 0xfee00000, data 0x0)` with no vtd_ir_remap, IR not yet
  enabled). A consumer must tolerate a vector-0 delivery.
- Firmware and early boot: SeaBIOS and iPXE (virtio-net's option ROM) run in PIC mode, and early
  Linux still uses the 8259A (e.g. its timer check), so the first ~2000 lines of each x86 trace
  are mostly `pic_*` traffic with `apic_local_deliver vector 3 delivery mode 7` (LINT0 ExtINT)
  before Linux programs the IOAPIC and switches to MSI/IOAPIC delivery.
- x86 IPIs have no event of their own: they appear only as `apic_mem_writel 0x310` (ICR high)
  then `apic_mem_writel 0x300` (ICR low); EOIs are `apic_mem_writel 0xb0 = 0x00000000`; the LAPIC
  timer is `apic_local_deliver vector 0` (LVT timer) after `apic_mem_writel 0x380` (TMICT).
- On `-M pc`/q35 every ISA IRQ line change is logged twice, by the PIC (`pic_set_irq master 1 irq 4
  level 0`) and the IOAPIC (`ioapic_set_irq vector: 4 level: 0`); most are the 16550 UART (pin 4),
  the guest console, and level 0 lines outnumber level 1 (deassert logged even when already low).
- Events in the pattern lists that never fire in these runs: apic_get_irq_delivered,
  ioapic_eoi_delayed_reassert, vtd_irq_generate, cpu_set_apic_base, gic_disable_irq,
  gic_hyp_write, gic_lr_entry, gic_update_maintenance_irq. msix_write_config fires only a few
  times (MSI-X enable/mask during driver probe).
NOTES
    } >"$r"
    log "wrote $r"
}
write_readme

log "done: $QEMU_VERSION; guest kernels $KREL_AMD64, $KREL_ARM64; traces in $OUT"
