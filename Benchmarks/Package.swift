// swift-tools-version:6.1
// irqtrace benchmarks (ordo-one/benchmark). Run from the repository root:
//   swift package --package-path Benchmarks benchmark
// or scripts/bench.sh, which also has a plain-timing fallback (BenchKit/irqtrace-bench).
import PackageDescription

let package = Package(
    name: "irqtrace-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "irqtrace", path: "../"),
        .package(path: "BenchKit"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "IrqtraceBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "BenchKit", package: "BenchKit"),
                .product(name: "TraceFormat", package: "irqtrace"),
                .product(name: "Recorder", package: "irqtrace"),
            ],
            path: "Benchmarks/IrqtraceBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
