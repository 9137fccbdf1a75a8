import Foundation

/// IRQTRACE_SINGLE_CORE=1: readers decode and writers encode on the caller's thread (benchmarks of
/// one core). Read once per process: `ProcessInfo.environment` builds a whole dictionary per call,
/// which showed in the per-file cost of opening many small traces.
public enum SingleCore {
    public static let requested = ProcessInfo.processInfo.environment["IRQTRACE_SINGLE_CORE"] != nil
}
