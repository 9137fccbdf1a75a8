#if canImport(Glibc)
import Glibc
#endif
import TraceFormat

/// What replay needs to know about the host a live recording ran on: kernel, CPUs, the KVM backend
/// (/sys/module: kvm_intel → VMX, kvm_amd → SVM, kvm_pvm → PVM) and whether APICv/AVIC may hide
/// deliveries (real-sources.md: APICv removes kvm_inj_virq; PVM EOIs at delivery).
public struct HostFacts: Sendable {
    public var hostname: String?
    public var kernelRelease: String?
    public var kernelVersion: String?
    public var machine: String?
    public var onlineCPUs: Int
    public var kvmModules: [String]
    public var apicv: Bool?
    public var avic: Bool?

    public static func current(moduleRoot: String = "/sys/module") -> HostFacts {
        var u = utsname()
        uname(&u)
        func field<T>(_ t: T) -> String {
            withUnsafeBytes(of: t) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let modules = ["kvm_intel", "kvm_amd", "kvm_pvm", "kvm_arm"].filter { access("\(moduleRoot)/\($0)", F_OK) == 0 }
        func flag(_ p: String) -> Bool? {
            guard let t = readText(p)?.trimmedTD() else { return nil }
            return t == "Y" || t == "1"
        }
        return HostFacts(hostname: field(u.nodename), kernelRelease: field(u.release), kernelVersion: field(u.version),
                         machine: field(u.machine), onlineCPUs: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
                         kvmModules: modules,
                         apicv: flag("\(moduleRoot)/kvm_intel/parameters/enable_apicv"),
                         avic: flag("\(moduleRoot)/kvm_amd/parameters/avic"))
    }

    /// The KVM flavour name the replayer uses ("vmx", "svm", "pvm"), nil when no x86 KVM module is loaded.
    public var kvmFlavour: String? {
        if kvmModules.contains("kvm_pvm") { return "pvm" }
        if kvmModules.contains("kvm_intel") { return "vmx" }
        if kvmModules.contains("kvm_amd") { return "svm" }
        return nil
    }

    public var architecture: Architecture {
        switch machine {
        case "x86_64": .x86_64
        case "aarch64", "arm64": .arm64
        default: .unknown
        }
    }

    /// The host facts every live recording stores (kernel, CPUs).
    func describe(into live: inout LiveRecordingInfo) {
        live.kernelVersion = [kernelRelease, kernelVersion].compactMap { $0 }.joined(separator: " ")
        live.hostCPUs = onlineCPUs
    }

    /// User + system CPU seconds this process has used (the recorder's own cost).
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
