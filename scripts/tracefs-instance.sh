# tracefs-instance.sh — sourced by the recording scripts (make-big-tracedat.sh,
# kvm-guest/record-multi-vm.sh): a tracefs instance of their own, removed at exit.
#
# tracefs_instance NAME BUFFER_KB: mounts tracefs if it is not mounted, creates (or reuses)
# instances/NAME with tracing off, BUFFER_KB per CPU and the `local` clock, and removes it when the
# script exits (whatever the reason). Sets TRACEFS and INST.
tracefs_instance() {
    TRACEFS="$(awk '$3 == "tracefs" { print $2; exit }' /proc/mounts)"
    if [ -z "$TRACEFS" ]; then TRACEFS=/sys/kernel/tracing; mount -t tracefs nodev "$TRACEFS"; fi
    INST="$TRACEFS/instances/$1"
    [ -d "$INST" ] || mkdir "$INST"
    trap '{ echo 0 >"$INST/tracing_on"; } 2>/dev/null; rmdir "$INST" 2>/dev/null || true' EXIT
    echo 0 >"$INST/tracing_on"
    echo "$2" >"$INST/buffer_size_kb"
    echo local >"$INST/trace_clock"
}
