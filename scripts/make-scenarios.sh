#!/bin/sh
# Writes traces/scenarios/NAME.json for every shipped scenario (the built-ins in
# Sources/Simulator/Scenario/BuiltinScenarios.swift; a test keeps both equal).
set -e
cd "$(dirname "$0")/.."
swift build -q
B=.build/debug/irqtrace
rm -f traces/scenarios/*.json
mkdir -p traces/scenarios
for s in $($B sim --list --json | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["scenarios"]))'); do
    $B sim "$s" --show-scenario > "traces/scenarios/$s.json"
done
