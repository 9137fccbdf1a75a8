// CRC-32C with the CPU's own instructions, for TraceFormat's CRC32C.swift (which falls back to
// slice-by-8 tables where these are unavailable): the chunk checksums of every .irqt read and written.
// x86-64: SSE4.2 CRC32 (Intel SDM vol. 2A, "CRC32 — Accumulate CRC32 Value": polynomial 0x11EDC6F41,
// Castagnoli's); AArch64: the CRC32C* instructions (Armv8 CRC extension).
// Header-only (static inline, compiled into the Swift module that imports it): no C object of its own.
#ifndef IRQTRACE_CRC32C_H
#define IRQTRACE_CRC32C_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

/// Whether this CPU has CRC-32C instructions.
static inline int irqtrace_crc32c_hw_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c & bit_SSE4_2) != 0;
}

/// CRC-32C of `n` bytes continuing from `crc` in its inverted running form (the caller inverts
/// before and after). Only when irqtrace_crc32c_hw_available().
__attribute__((target("sse4.2")))
static inline uint32_t irqtrace_crc32c_hw(uint32_t crc, const void *bytes, size_t n) {
    const unsigned char *p = (const unsigned char *)bytes;
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *p++);
        n--;
    }
    return c32;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif

static inline int irqtrace_crc32c_hw_available(void) { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }

__attribute__((target("crc")))
static inline uint32_t irqtrace_crc32c_hw(uint32_t crc, const void *bytes, size_t n) {
    const unsigned char *p = (const unsigned char *)bytes;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        crc = __builtin_arm_crc32cd(crc, v);
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        crc = __builtin_arm_crc32cb(crc, *p++);
        n--;
    }
    return crc;
}

#else
static inline int irqtrace_crc32c_hw_available(void) { return 0; }
static inline uint32_t irqtrace_crc32c_hw(uint32_t crc, const void *bytes, size_t n) { (void)bytes; (void)n; return crc; }
#endif

#endif
