-- Wireshark dissector for irqtrace event records (`irqtrace export TRACE --format pcap`).
-- The record layout is docs/PCAP.md (version 1, big-endian), on LINKTYPE_USER0 (147).
--
--   wireshark -X lua_script:contrib/wireshark/irqtrace.lua out.pcap
--   tshark -r out.pcap -X lua_script:contrib/wireshark/irqtrace.lua -Y 'irqtrace.vector == 52'
--   tshark -r out.pcap -X lua_script:contrib/wireshark/irqtrace.lua -T fields -e irqtrace.event -e irqtrace.cpu
-- or copy it into Wireshark's personal plugins folder (Help > About > Folders).

local proto = Proto("irqtrace", "irqtrace interrupt event")

local vocabularies = { [0] = "unknown", [1] = "qemu-log", [2] = "ftrace-text", [3] = "trace-cmd-report", [4] = "perf-script" }
local clocks = { [0] = "none", [1] = "realtime", [2] = "local", [3] = "global", [4] = "mono", [5] = "x86-tsc",
                 [6] = "counter", [7] = "simulated" }
local families = { [0] = "unbound", [1] = "qemu", [2] = "kvm", [3] = "host", [4] = "simulator" }
local sections = { [1] = "fields", [2] = "preamble", [3] = "metadata" }

local F = {
    magic      = ProtoField.string("irqtrace.magic", "Magic"),
    version    = ProtoField.uint8("irqtrace.version", "Record version", base.DEC),
    vocabulary = ProtoField.uint8("irqtrace.vocabulary", "Vocabulary", base.DEC, vocabularies),
    clock      = ProtoField.uint8("irqtrace.clock", "Clock domain", base.DEC, clocks),
    family     = ProtoField.uint8("irqtrace.family", "Schema family", base.DEC, families),
    flags      = ProtoField.uint32("irqtrace.flags", "Flags", base.HEX),
    starts     = ProtoField.bool("irqtrace.flags.starts_input", "Starts an input", 32, nil, 0x100),
    nonewline  = ProtoField.bool("irqtrace.flags.no_newline", "No newline after the line", 32, nil, 0x200),
    index      = ProtoField.uint64("irqtrace.index", "Event index", base.DEC),
    time_ns    = ProtoField.int64("irqtrace.time_ns", "Time (ns, event clock)", base.DEC),
    cpu        = ProtoField.int32("irqtrace.cpu", "CPU", base.DEC),
    thread     = ProtoField.int32("irqtrace.thread", "Thread", base.DEC),
    vector     = ProtoField.int64("irqtrace.vector", "Vector", base.DEC),
    irq        = ProtoField.int64("irqtrace.irq", "IRQ / pin / GSI / INTID", base.DEC),
    dest       = ProtoField.int64("irqtrace.dest", "Destination", base.DEC),
    apic_id    = ProtoField.int64("irqtrace.apic_id", "APIC ID", base.DEC),
    event      = ProtoField.string("irqtrace.event", "Event"),
    line       = ProtoField.string("irqtrace.line", "Line"),
    fields     = ProtoField.string("irqtrace.fields", "Fields"),
    preamble   = ProtoField.string("irqtrace.preamble", "Header lines before the event"),
    metadata   = ProtoField.string("irqtrace.metadata", "Trace metadata (JSON)"),
    section    = ProtoField.uint16("irqtrace.section", "Section", base.DEC, sections),
}
proto.fields = { F.magic, F.version, F.vocabulary, F.clock, F.family, F.flags, F.starts, F.nonewline, F.index,
                 F.time_ns, F.cpu, F.thread, F.vector, F.irq, F.dest, F.apic_id, F.event, F.line, F.fields,
                 F.preamble, F.metadata, F.section }

local malformed = ProtoExpert.new("irqtrace.malformed", "Malformed irqtrace record", expert.group.MALFORMED, expert.severity.ERROR)
proto.experts = { malformed }

-- Flag bit of each optional fixed field: present only when its bit is set.
local optional = {
    { bit = 0x01, field = "cpu",     offset = 28, size = 4 },
    { bit = 0x02, field = "thread",  offset = 32, size = 4 },
    { bit = 0x04, field = "vector",  offset = 36, size = 8 },
    { bit = 0x08, field = "irq",     offset = 44, size = 8 },
    { bit = 0x10, field = "dest",    offset = 52, size = 8 },
    { bit = 0x20, field = "apic_id", offset = 60, size = 8 },
}

function proto.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    if len < 74 or tvb(0, 4):string() ~= "IRQE" then return 0 end
    pinfo.cols.protocol = "irqtrace"
    local t = tree:add(proto, tvb(), "irqtrace event")
    t:add(F.magic, tvb(0, 4))
    local version = tvb(4, 1):uint()
    t:add(F.version, tvb(4, 1))
    if version ~= 1 then
        t:add_proto_expert_info(malformed, "record version " .. version .. " (this dissector reads 1)")
        return len
    end
    t:add(F.vocabulary, tvb(5, 1))
    t:add(F.clock, tvb(6, 1))
    t:add(F.family, tvb(7, 1))
    local flags = tvb(8, 4):uint()
    local ft = t:add(F.flags, tvb(8, 4))
    ft:add(F.starts, tvb(8, 4))
    ft:add(F.nonewline, tvb(8, 4))
    t:add(F.index, tvb(12, 8))
    t:add(F.time_ns, tvb(20, 8))
    for _, o in ipairs(optional) do
        if bit.band(flags, o.bit) ~= 0 then t:add(F[o.field], tvb(o.offset, o.size)) end
    end
    local k = 68
    local n = tvb(k, 2):uint()
    k = k + 2
    if k + n + 4 > len then t:add_proto_expert_info(malformed, "event name runs past the packet"); return len end
    local name = n > 0 and tvb(k, n):string() or ""
    if n > 0 then t:add(F.event, tvb(k, n)) else t:add(F.event, tvb(k, 0), "") end
    k = k + n
    local l = tvb(k, 4):uint()
    k = k + 4
    if k + l > len then t:add_proto_expert_info(malformed, "line runs past the packet"); return len end
    if l > 0 then t:add(F.line, tvb(k, l)) end
    k = k + l
    local fieldsText = nil
    while k < len do
        if k + 6 > len then t:add_proto_expert_info(malformed, "truncated section header"); return len end
        local tag = tvb(k, 2):uint()
        local size = tvb(k + 2, 4):uint()
        if k + 6 + size > len then t:add_proto_expert_info(malformed, "section runs past the packet"); return len end
        local st = t:add(F.section, tvb(k, 2))
        if size > 0 then
            local body = tvb(k + 6, size)
            if tag == 1 then st:add(F.fields, body); fieldsText = body:string()
            elseif tag == 2 then st:add(F.preamble, body)
            elseif tag == 3 then st:add(F.metadata, body) end
        end
        k = k + 6 + size
    end
    local info = name
    if fieldsText then info = info .. " " .. fieldsText end
    if bit.band(flags, 0x01) ~= 0 then info = "cpu " .. tvb(28, 4):int() .. "  " .. info end
    pinfo.cols.info = info
    return len
end

-- LINKTYPE_USER0 (DLT 147) is Wireshark's WTAP_ENCAP_USER0.
local encaps = wtap_encaps or wtap
DissectorTable.get("wtap_encap"):add(encaps.USER0, proto)
