@testable import Recorder

/// Just enough of PNG to look at a browser's screenshot: 8-bit RGB or RGBA, not interlaced; IDAT
/// inflated with the trace.dat reader's inflater, scanline filters undone.
struct PNGImage {
    struct Malformed: Error, CustomStringConvertible { var description: String }
    var width = 0, height = 0
    /// RGBA or RGB bytes, row by row.
    var pixels: [UInt8] = []
    var channels = 0

    init(_ bytes: [UInt8]) throws {
        guard bytes.count > 33, bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { throw Malformed(description: "not a PNG") }
        func be32(_ p: Int) -> Int { Int(bytes[p]) << 24 | Int(bytes[p + 1]) << 16 | Int(bytes[p + 2]) << 8 | Int(bytes[p + 3]) }
        var p = 8, idat: [UInt8] = []
        var depth = 0, colour = 0, interlace = 0
        while p + 8 <= bytes.count {
            let n = be32(p), type = String(decoding: bytes[p + 4..<p + 8], as: UTF8.self)
            guard p + 12 + n <= bytes.count else { throw Malformed(description: "truncated \(type) chunk") }
            let body = bytes[p + 8..<p + 8 + n]
            switch type {
            case "IHDR":
                width = be32(p + 8); height = be32(p + 12)
                depth = Int(body[body.startIndex + 8]); colour = Int(body[body.startIndex + 9]); interlace = Int(body[body.startIndex + 12])
            case "IDAT": idat.append(contentsOf: body)
            default: break
            }
            p += 12 + n
            if type == "IEND" { break }
        }
        guard depth == 8, colour == 2 || colour == 6, interlace == 0 else { throw Malformed(description: "depth \(depth) colour type \(colour) interlace \(interlace)") }
        channels = colour == 6 ? 4 : 3
        let stride = width * channels
        var raw: [UInt8] = []
        try idat.withUnsafeBytes { try Inflate.zlib($0, expectedSize: height * (stride + 1), into: &raw) }
        pixels = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)], src = y * (stride + 1) + 1, dst = y * stride
            for x in 0..<stride {
                let a = x >= channels ? Int(pixels[dst + x - channels]) : 0
                let b = y > 0 ? Int(pixels[dst - stride + x]) : 0
                let c = x >= channels && y > 0 ? Int(pixels[dst - stride + x - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let q = a + b - c, pa = abs(q - a), pb = abs(q - b), pc = abs(q - c)
                    predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
                default: throw Malformed(description: "filter \(filter) on row \(y)")
                }
                pixels[dst + x] = UInt8(truncatingIfNeeded: Int(raw[src + x]) + predictor)
            }
        }
    }

    /// The colour (RGB) at a pixel, packed.
    func rgb(_ x: Int, _ y: Int) -> UInt32 {
        let o = (y * width + x) * channels
        return UInt32(pixels[o]) << 16 | UInt32(pixels[o + 1]) << 8 | UInt32(pixels[o + 2])
    }
}
