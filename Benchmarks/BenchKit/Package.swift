// swift-tools-version:6.1
// The irqtrace benchmark workloads (BenchKit) and a dependency-free timing driver (irqtrace-bench).
// Used by the package-benchmark suite one folder up, and on its own as the fallback timer and as the
// small decode loop to run under valgrind/perf (scripts/bench.sh).
import PackageDescription

let package = Package(
    name: "irqtrace-benchkit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "BenchKit", targets: ["BenchKit"]),
        .executable(name: "irqtrace-bench", targets: ["irqtrace-bench"]),
    ],
    dependencies: [
        .package(name: "irqtrace", path: "../../"),
    ],
    targets: [
        .target(
            name: "BenchKit",
            dependencies: [
                .product(name: "TraceFormat", package: "irqtrace"),
                .product(name: "Recorder", package: "irqtrace"),
                .product(name: "Replayer", package: "irqtrace"),
                .product(name: "Simulator", package: "irqtrace"),
            ]
        ),
        .executableTarget(name: "irqtrace-bench", dependencies: [
            "BenchKit",
            .product(name: "Replayer", package: "irqtrace"),
            .product(name: "Simulator", package: "irqtrace"),
            .product(name: "Analyzer", package: "irqtrace"),
        ]),
    ]
)
