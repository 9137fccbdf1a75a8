# irqtrace: `make run` sets up, builds and runs irqtrace on the bundled real QEMU sample;
# `make test` sets up and runs the test suite.
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift
SAMPLE ?= traces/qemu-x86-q35-intremap-smp2.log.zst
BIN = .build/release/irqtrace

.PHONY: setup build run test bench sizes compare traces clean man completions

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build -c release --product irqtrace

run: build
	@mkdir -p out
	$(BIN) record $(SAMPLE) -o out/sample.irqt
	$(BIN) info out/sample.irqt
	$(BIN) stats out/sample.irqt
	$(BIN) show out/sample.irqt --event vtd_ir_remap_msi --limit 8
	$(BIN) replay out/sample.irqt --check
	$(BIN) replay traces/qemu-x86-q35-intremap-smp2-mttcg.log.zst --check
	$(BIN) replay traces/qemu-arm64-virt-gicv2-smp2.log.zst --check
	$(BIN) replay traces/kvm/pvm-tpr.trace.txt --check
	$(BIN) export out/sample.irqt -o out/sample.log
	@zstd -dc $(SAMPLE) | cmp - out/sample.log && echo "export --format text reprints $(SAMPLE) byte for byte"
	$(BIN) export out/sample.irqt --format pcap -o out/sample.pcap
	tshark -r out/sample.pcap -X lua_script:contrib/wireshark/irqtrace.lua -Y 'irqtrace.event == "vtd_ir_remap_msi"' -c 4 2>/dev/null
	$(BIN) sim x86-legacy --fault eoi-wrong-pin --seed 1 -o out/sim.irqt
	$(BIN) info out/sim.irqt
	$(BIN) analyze out/sim.irqt --score
	$(BIN) analyze traces/qemu-arm64-virt-gicv2-smp2.log.zst
	$(BIN) why traces/kvm/pvm-idt-fault.trace.txt --cpu 0 --vector 67
	$(BIN) report traces/kvm/pvm-idt-fault.trace.txt -o out/report.html
	$(BIN) export traces/qemu-arm64-virt-gicv2-smp2.log.zst --format perfetto -o out/gic.perfetto.json
	@echo "open out/report.html in a browser, out/gic.perfetto.json in ui.perfetto.dev"
	# analyze exits 1 when it finds something. A host trace of several VMs (3 at once, then 2 one
	# after another): each later VM analyzed from its own reset, the concurrent ones named.
	$(BIN) analyze traces/kvm-multi/pvm-concurrent-then-sequential.trace.txt --min-severity error || [ $$? -eq 1 ]
	# Here the masked pin's boot-time edge (info).
	$(BIN) analyze traces/kvm/pvm-ioapic-edge.trace.txt || [ $$? -eq 1 ]

test: setup
	@if [ "$$(id -u)" = 0 ]; then scripts/guest-kit.sh; else echo "make test: not root: no guest kit, tracefs or KVM; the live-recording tests will be skipped" >&2; fi
	$(SWIFT) build --product irqtrace
	# setup installed tshark: the pcap dissector test must run, not skip.
	IRQTRACE_REQUIRE_TSHARK=1 IRQTRACE_REQUIRE_CHROMIUM=1 $(SWIFT) test

bench: setup
	scripts/bench.sh

sizes: setup
	scripts/size-table.sh

# irqtrace against zstd -19, xz -9e, trace.dat and zstd -dc; writes docs/PERFORMANCE.md (~6 minutes).
compare: setup
	scripts/compare.sh

# Re-record the real QEMU samples in traces/ (boots Debian kernels under QEMU TCG; ~1 minute).
traces:
	scripts/make-qemu-traces.sh

# The man page (generated from the argument definitions) and shell completions.
man: build
	$(BIN) manpage > docs/irqtrace.1

completions: build
	@mkdir -p contrib/completions
	$(BIN) --generate-completion-script bash > contrib/completions/irqtrace.bash
	$(BIN) --generate-completion-script zsh > contrib/completions/_irqtrace
	$(BIN) --generate-completion-script fish > contrib/completions/irqtrace.fish

clean:
	rm -rf .build out
