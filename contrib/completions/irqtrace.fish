function __irqtrace_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __irqtrace_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __irqtrace_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __irqtrace_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __irqtrace_parse_tokens -S
    set -l unparsed_tokens (__irqtrace_tokens -pc)
    switch $unparsed_tokens[1]
    case 'irqtrace'
        __irqtrace_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'record'
            __irqtrace_parse_subcommand -r 1 'duration=' 'events=' 'buffer-kb=' 'ring=' 'stop-on=+' 'flush-interval=' 'qemu' 'no-mount' 'o/output=' 'input-format=' 'strict' 'clock=' 'chunk-size=' 'level=' 'verify-all' 'json' 'version' 'h/help'
        case 'info'
            __irqtrace_parse_subcommand 1 'input-format=' 'strict' 'json' 'version' 'h/help'
        case 'stats'
            __irqtrace_parse_subcommand 1 'input-format=' 'strict' 'json' 'latency' 'version' 'h/help'
        case 'show'
            __irqtrace_parse_subcommand 1 'input-format=' 'strict' 'cpu=' 'vector=' 'irq=' 'event=+' 'from=' 'to=' 'limit=' 'fields' 'version' 'h/help'
        case 'export'
            __irqtrace_parse_subcommand 1 'input-format=' 'strict' 'format=' 'o/output=' 'no-findings' 'version' 'h/help'
        case 'replay'
            __irqtrace_parse_subcommand 1 'input-format=' 'strict' 'check' 'json' 'show=' 'state-at=' 'from=' 'to=' 'mid-flight' 'version' 'h/help'
        case 'analyze'
            __irqtrace_parse_subcommand 1 'input-format=' 'strict' 'json' 'only=' 'min-severity=' 'score' 'version' 'h/help'
        case 'why'
            __irqtrace_parse_subcommand 1 'input-format=' 'strict' 'cpu=' 'vector=' 'irq=' 'at=' 'json' 'version' 'h/help'
        case 'sim'
            __irqtrace_parse_subcommand 1 'fault=+' 'seed=' 'events=' 'duration=' 'o/output=' 'vocabulary=' 'level=' 'chunk-size=' 'list' 'show-scenario' 'json' 'version' 'h/help'
        case 'help'
            __irqtrace_parse_subcommand -r 1 'version'
        end
    end
end

function __irqtrace_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __irqtrace_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __irqtrace_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __irqtrace_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__irqtrace_tokens -p)
    if test -z "$(__irqtrace_tokens -t)"
        set -l index (count (__irqtrace_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'irqtrace' -f
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace" version' -l 'version' -d 'Show the version.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_positional "irqtrace" -eq 1' -fa 'record' -d 'Record recordings into an .irqt trace, or (no input files) record live from tracefs.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_positional "irqtrace" -eq 1' -fa 'info' -d 'Show a trace\'s header, counts, chunk table and damage report.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_positional "irqtrace" -eq 1' -fa 'stats' -d 'Count events by name, CPU, vector and IRQ.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_positional "irqtrace" -eq 1' -fa 'show' -d 'List events, optionally filtered.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_positional "irqtrace" -eq 1' -fa 'export' -d 'Write a trace in another format.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_positional "irqtrace" -eq 1' -fa 'replay' -d 'Re-drive the interrupt models from a trace; with --check, report where the system disagrees with them.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_positional "irqtrace" -eq 1' -fa 'analyze' -d 'Find lost interrupts, priority inversions, misrouted vectors, stuck state, storms and halted vCPUs.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_positional "irqtrace" -eq 1' -fa 'why' -d 'Follow one interrupt (a vector at a vCPU, or an IOAPIC pin) and say where it stopped.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_positional "irqtrace" -eq 1' -fa 'sim' -d 'Simulate a scenario on irqtrace\'s models, with injected faults recorded as ground truth.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_positional "irqtrace" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" duration' -l 'duration' -d 'Live: stop after this many seconds.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" events' -l 'events' -d 'Live: events to enable: named sets kvm-irq (default), kvm, host-irq; SYSTEM/*, SYSTEM:EVENT or EVENT; -ITEM leaves one out; comma-separated.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" buffer-kb' -l 'buffer-kb' -d 'Live: per-CPU ring buffer size of the tracefs instance, in KiB.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" ring' -l 'ring' -d 'Live: keep only about the last SIZE of compressed data (flight recorder): bytes, or with K, M, G.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record"' -l 'stop-on' -d 'Live: stop when halt:VCPU:SECONDS holds (VCPU a number or \'any\'): a vCPU halted longer than that.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" flush-interval' -l 'flush-interval' -d 'Live: seconds between chunks written to disk (a killed recorder loses at most about this much).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" qemu' -l 'qemu' -d 'Live: record a QEMU run (the command after --) from its trace events instead of tracefs.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" no-mount' -l 'no-mount' -d 'Live: never mount tracefs (fail when it is not mounted).'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" o output' -l 'output' -s 'o' -d 'Output .irqt file (\'-\' for standard output).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" input-format' -l 'input-format' -d 'Force the input format.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" strict' -l 'strict' -d 'Malformed lines are an error (exit 2) instead of being skipped and counted.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" clock' -l 'clock' -d 'The trace_clock of ftrace text (local, global, mono, x86-tsc, counter); the text does not say. Default: local.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" chunk-size' -l 'chunk-size' -d 'Target chunk size before compression, in bytes.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" level' -l 'level' -d 'zstd compression level (1-22). Default: 19 for files, 3 for live recording.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" verify-all' -l 'verify-all' -d 'Prove every line reprints exactly before storing it (default: new templates, unusual lines and every 64th line; the tokenizers are exact by construction).'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" json' -l 'json' -d 'Print a JSON summary on standard output.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" version' -l 'version' -d 'Show the version.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace record" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace info" input-format' -l 'input-format' -d 'Force the input format.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace info" strict' -l 'strict' -d 'Treat damaged or malformed input as an error (exit 2) instead of skipping it.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace info" json' -l 'json' -d 'JSON output (docs/CLI.md).'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace info" version' -l 'version' -d 'Show the version.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace info" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace stats" input-format' -l 'input-format' -d 'Force the input format.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace stats" strict' -l 'strict' -d 'Treat damaged or malformed input as an error (exit 2) instead of skipping it.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace stats" json' -l 'json' -d 'JSON output (docs/CLI.md).'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace stats" latency' -l 'latency' -d 'Also latency distributions per vCPU and vector (raise → accept → deliver → EOI), from a replay (x86 KVM traces).'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace stats" version' -l 'version' -d 'Show the version.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace stats" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show" input-format' -l 'input-format' -d 'Force the input format.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show" strict' -l 'strict' -d 'Treat damaged or malformed input as an error (exit 2) instead of skipping it.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show" cpu' -l 'cpu' -d 'Only events on this CPU.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show" vector' -l 'vector' -d 'Only events with this x86 vector.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show" irq' -l 'irq' -d 'Only events with this IRQ, IOAPIC pin, GSI or GIC INTID.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show"' -l 'event' -d 'Only events with this name.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show" from' -l 'from' -d 'Only events at or after this time.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show" to' -l 'to' -d 'Only events before this time.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show" limit' -l 'limit' -d 'Stop after this many events.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show" fields' -l 'fields' -d 'Print typed fields (name=value) instead of the source\'s text.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show" version' -l 'version' -d 'Show the version.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace show" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace export" input-format' -l 'input-format' -d 'Force the input format.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace export" strict' -l 'strict' -d 'Treat damaged or malformed input as an error (exit 2) instead of skipping it.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace export" format' -l 'format' -d 'Output format: text, perfetto, jsonl.' -rfka 'text perfetto jsonl'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace export" o output' -l 'output' -s 'o' -d 'Output file (\'-\' for standard output).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace export" no-findings' -l 'no-findings' -d 'perfetto, jsonl: leave the analyzers\' findings out.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace export" version' -l 'version' -d 'Show the version.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace export" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace replay" input-format' -l 'input-format' -d 'Force the input format.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace replay" strict' -l 'strict' -d 'Treat damaged or malformed input as an error (exit 2) instead of skipping it.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace replay" check' -l 'check' -d 'Check the trace\'s observations against the models.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace replay" json' -l 'json' -d 'JSON output (docs/CLI.md).'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace replay" show' -l 'show' -d 'Divergences to show in full (human output).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace replay" state-at' -l 'state-at' -d 'Print every model\'s state just before this time (SECONDS[.FRACTION], or +N s/ms/us/ns from the first event) instead of checking.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace replay" from' -l 'from' -d 'Check only observations at or after this time (models still run from the first event).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace replay" to' -l 'to' -d 'Check only observations before this time.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace replay" mid-flight' -l 'mid-flight' -d 'The trace starts mid-flight (e.g. a copy of tracefs `trace` from a running host): adopt state from before it instead of reporting it (x86 KVM). Live recordings say so in their header.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace replay" version' -l 'version' -d 'Show the version.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace replay" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace analyze" input-format' -l 'input-format' -d 'Force the input format.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace analyze" strict' -l 'strict' -d 'Treat damaged or malformed input as an error (exit 2) instead of skipping it.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace analyze" json' -l 'json' -d 'JSON output: {"findings": [{"kind", "severity", "time_ns", "cpu", "vector" | "irq", "events", "explanation", "caused_by"}]}.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace analyze" only' -l 'only' -d 'Only these finding kinds (comma-separated).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace analyze" min-severity' -l 'min-severity' -d 'Only findings at least this severe: info, warning, error.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace analyze" score' -l 'score' -d 'For simulated traces: score the findings (warning and error) against the trace\'s ground truth; exit 1 unless precision and recall are both 100%.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace analyze" version' -l 'version' -d 'Show the version.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace analyze" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace why" input-format' -l 'input-format' -d 'Force the input format.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace why" strict' -l 'strict' -d 'Treat damaged or malformed input as an error (exit 2) instead of skipping it.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace why" cpu' -l 'cpu' -d 'The vCPU (x86 KVM: its APIC ID).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace why" vector' -l 'vector' -d 'The vector.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace why" irq' -l 'irq' -d 'The IOAPIC pin (its RTE gives the vector).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace why" at' -l 'at' -d 'The moment: SECONDS[.FRACTION] as the trace prints times, or +TIME from the first event.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace why" json' -l 'json' -d 'JSON output: {"cpu", "vector", "irq", "at_ns", "steps": [{"stage", "ok", "text", "events"}], "conclusion"}.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace why" version' -l 'version' -d 'Show the version.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace why" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim"' -l 'fault' -d 'Inject a fault: NAME[:at=TIME,count=N,every=TIME] (repeatable).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" seed' -l 'seed' -d 'Random seed (same seed, same trace).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" events' -l 'events' -d 'Stop after this many events.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" duration' -l 'duration' -d 'Simulated run length (e.g. 200ms, 2s); default: the scenario\'s.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" o output' -l 'output' -s 'o' -d 'Output .irqt file (\'-\' for standard output).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" vocabulary' -l 'vocabulary' -d 'The vocabulary written: kvm-vmx or qemu-x86 (x86_64), qemu-gic or kvm-arm64 (arm64); default: the scenario\'s "output", else the platform\'s first (-o/--output names the file).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" level' -l 'level' -d 'zstd compression level (1-22).' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" chunk-size' -l 'chunk-size' -d 'Target chunk size before compression, in bytes.' -rfka ''
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" list' -l 'list' -d 'List the shipped scenarios and the fault kinds.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" show-scenario' -l 'show-scenario' -d 'Print the scenario\'s JSON instead of running it.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" json' -l 'json' -d 'JSON output (--list, or the run\'s summary).'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" version' -l 'version' -d 'Show the version.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace sim" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'irqtrace' -n '__irqtrace_should_offer_completions_for_flags_or_options "irqtrace help" version' -l 'version' -d 'Show the version.'
