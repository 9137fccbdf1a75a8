// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "irqtrace",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "irqtrace", targets: ["irqtrace"]),
        .library(name: "TraceFormat", targets: ["TraceFormat"]),
        .library(name: "Recorder", targets: ["Recorder"]),
        .library(name: "Replayer", targets: ["Replayer"]),
        .library(name: "Simulator", targets: ["Simulator"]),
        .library(name: "Analyzer", targets: ["Analyzer"]),
        .library(name: "Exporter", targets: ["Exporter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries enter through system-library shims; only TraceFormat's Zstd.swift imports CZstd.
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // CRC-32C with the CPU's instructions (SSE4.2, Armv8 CRC), header-only, for TraceFormat's CRC32C.swift.
        .systemLibrary(name: "CCRC32C"),
        .target(
            name: "TraceFormat",
            dependencies: ["CZstd", "CCRC32C"]
        ),
        .target(
            name: "Recorder",
            dependencies: ["TraceFormat"]
        ),
        .target(
            name: "Replayer",
            dependencies: ["TraceFormat"]
        ),
        // Detectors over the Replayer's transitions and final model state.
        .target(
            name: "Analyzer",
            dependencies: ["TraceFormat", "Replayer"]
        ),
        // Exports of a trace (timeline, pcap); only Exporter/Pcap/PcapDumper.swift imports CPcap.
        .target(
            name: "Exporter",
            dependencies: ["TraceFormat", "Replayer", "Analyzer", "CPcap"]
        ),
        .target(
            name: "Simulator",
            dependencies: ["TraceFormat", "Recorder", "Replayer"]
        ),
        .executableTarget(
            name: "irqtrace",
            dependencies: [
                "TraceFormat", "Recorder", "Replayer", "Simulator", "Analyzer", "Exporter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "TraceFormatTests", dependencies: ["TraceFormat"]),
        .testTarget(name: "RecorderTests", dependencies: ["Recorder", "TraceFormat"]),
        .testTarget(name: "ReplayerTests", dependencies: ["Replayer", "Recorder", "Simulator", "TraceFormat"], exclude: ["Fixtures"]),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator", "Replayer", "Recorder", "TraceFormat"]),
        .testTarget(name: "AnalyzerTests", dependencies: ["Analyzer", "Simulator", "Replayer", "Recorder", "TraceFormat"]),
        .testTarget(name: "ExporterTests", dependencies: ["Exporter", "Analyzer", "Replayer", "Recorder", "Simulator", "TraceFormat"]),
        .testTarget(name: "EndToEndTests", dependencies: ["irqtrace", "TraceFormat"]),
    ]
)
