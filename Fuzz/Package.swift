// swift-tools-version:6.1
// libFuzzer targets for every parser irqtrace exposes to untrusted files (docs/FUZZING.md).
// Build: scripts/fuzz.sh build (swift build -Xswiftc -sanitize=fuzzer,address); run: scripts/fuzz.sh run TARGET SECONDS.
import PackageDescription

let package = Package(
    name: "irqtrace-fuzz",
    dependencies: [.package(name: "irqtrace", path: "..")],
    targets: [
        .executableTarget(
            name: "irqtrace-fuzz",
            dependencies: [
                .product(name: "TraceFormat", package: "irqtrace"),
                .product(name: "Recorder", package: "irqtrace"),
                .product(name: "Replayer", package: "irqtrace"),
                .product(name: "Simulator", package: "irqtrace"),
            ],
            path: "Sources/FuzzTarget",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
