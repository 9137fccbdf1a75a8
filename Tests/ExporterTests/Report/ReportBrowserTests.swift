import Foundation
import Testing
@testable import Exporter
import Recorder
import TraceFormat

/// Renders reports in a real headless browser (chromium; scripts/setup.sh installs it) and looks at
/// what the page drew: the attributes its script writes after drawing, and the screenshot's pixels.
@Suite("HTML report in headless chromium", .serialized)
struct ReportBrowserTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }

    struct Page {
        var dom: String
        var png: [UInt8]
        /// `data-*` attributes of `<body>` after the script ran.
        var body: [String: String]
    }

    /// Writes the report of `trace`, loads it with `fragment` (e.g. `finding=0`), dumps the DOM and takes a screenshot.
    func render(_ trace: String, options: Report.Options = Report.Options(), fragment: String = "") throws -> Page? {
        guard let chromium = Self.chromium else {
            print("skipping the browser test: chromium is not installed (scripts/setup.sh installs it)")
            // CI installs chromium and sets IRQTRACE_REQUIRE_CHROMIUM=1 (make test): there it cannot skip.
            #expect(ProcessInfo.processInfo.environment["IRQTRACE_REQUIRE_CHROMIUM"] == nil, "chromium is required but not installed")
            return nil
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("irqtrace-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (reader, _) = try Recorder.open(sample(trace))
        let html = dir.appendingPathComponent("report.html"), png = dir.appendingPathComponent("shot.png")
        try Data(HTMLReport.render(try Report.build(reader, options: options))).write(to: html)
        let url = html.absoluteString + (fragment.isEmpty ? "" : "#" + fragment)
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900", "--user-data-dir=\(dir.path)/profile"]
        let dom = try run(chromium, common + ["--dump-dom", url])
        _ = try run(chromium, common + ["--screenshot=\(png.path)", url])
        let shot = try [UInt8](Data(contentsOf: png))
        var body: [String: String] = [:]
        if let open = dom.range(of: "<body"), let close = dom.range(of: ">", range: open.upperBound..<dom.endIndex) {
            let tag = dom[open.upperBound..<close.lowerBound]
            let pattern = try Regex(#"data-([a-z-]+)="([^"]*)""#)
            for m in tag.matches(of: pattern) {
                if let k = m.output[1].substring, let v = m.output[2].substring { body[String(k)] = String(v) }
            }
        }
        return Page(dom: dom, png: shot, body: body)
    }

    func run(_ tool: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Pixels not white (the page background), and distinct colours, in the screenshot.
    func ink(_ image: PNGImage) -> (nonWhite: Int, colours: Set<UInt32>) {
        var nonWhite = 0
        var colours = Set<UInt32>()
        for y in stride(from: 0, to: image.height, by: 2) {
            for x in stride(from: 0, to: image.width, by: 2) {
                let c = image.rgb(x, y)
                if c != 0xFFFFFF { nonWhite += 1 }
                colours.insert(c)
            }
        }
        return (nonWhite, colours)
    }

    @Test("real KVM faults: timeline drawn with its detail, findings listed, the selected finding's evidence and state shown")
    func kvmFaults() throws {
        guard let page = try render("traces/kvm/pvm-idt-fault.trace.txt", fragment: "finding=0") else { return }
        #expect(page.body["rendered"] == "1" && page.body["error"] == nil, "\(page.body["error"] ?? "")")
        #expect(page.body["timeline-cpus"] == "2")
        #expect(Int(page.body["timeline-detail"] ?? "") ?? 0 > 0, "slices and instants drawn")
        #expect(page.body["timeline-markers"].flatMap(Int.init) ?? 0 >= 1, "the finding's marker is in view")
        #expect(page.body["findings-listed"] == "3")
        #expect(page.body["state-shown"] != nil)
        #expect(page.dom.contains("id=\"evidence-table\"") && page.dom.contains("kvm_apic_accept_irq: apicid 0 vec 88"))
        #expect(page.dom.contains("stuck_in_service"))
        let image = try PNGImage(page.png)
        #expect(image.width == 1400 && image.height == 900)
        let (nonWhite, colours) = ink(image)
        #expect(nonWhite > 20_000, "a drawn page, not a blank one: \(nonWhite) non-white samples")
        #expect(colours.count > 50, "\(colours.count) colours")
        #expect(colours.contains(0xC62828), "the error marker's red")
    }

    @Test("a trace larger than the detail budget: zoomed out the page draws buckets; zoomed into a window, its slices")
    func aggregation() throws {
        let trace = "traces/qemu-arm64-virt-gicv2-smp2.log.zst"
        var options = Report.Options()
        options.detailBudget = 1_000
        let (reader, _) = try Recorder.open(sample(trace))
        let report = try Report.build(reader, options: options)
        let w = try #require(report.windows.first { !$0.slices.isEmpty })
        #expect(report.windows.allSatisfy { $0.reason == "sample" })
        guard let whole = try render(trace, options: options) else { return }
        #expect(whole.body["rendered"] == "1" && whole.body["error"] == nil, "\(whole.body["error"] ?? "")")
        #expect(Int(whole.body["timeline-buckets"] ?? "") ?? 0 > 0)
        let embedded = report.windows.reduce(0) { $0 + $1.itemCount }
        #expect(Int(whole.body["timeline-detail"] ?? "") ?? .max < embedded, "windows narrower than 40 px on screen are drawn as buckets")
        let t0 = report.summary.firstTime
        guard let zoomed = try render(trace, options: options, fragment: "view=\(w.start - t0),\(w.end - t0)") else { return }
        #expect(zoomed.body["error"] == nil)
        #expect(Int(zoomed.body["timeline-detail"] ?? "") ?? 0 >= w.slices.count, "the window's slices are drawn")
    }

    @Test("clean QEMU GICv2 boot: both CPUs' timelines drawn from buckets and detail, no findings")
    func gicBoot() throws {
        guard let page = try render("traces/qemu-arm64-virt-gicv2-smp2.log.zst") else { return }
        #expect(page.body["rendered"] == "1" && page.body["error"] == nil)
        #expect(page.body["timeline-cpus"] == "2")
        #expect(Int(page.body["timeline-buckets"] ?? "") ?? 0 > 0 || Int(page.body["timeline-detail"] ?? "") ?? 0 > 0)
        #expect(page.body["findings-listed"] == "0")
        #expect(page.dom.contains("No findings."))
        let image = try PNGImage(page.png)
        #expect(image.width == 1400 && image.height == 900)
        let (nonWhite, colours) = ink(image)
        #expect(nonWhite > 20_000, "a drawn page, not a blank one: \(nonWhite) non-white samples")
        #expect(colours.count > 50, "\(colours.count) colours")
    }
}
