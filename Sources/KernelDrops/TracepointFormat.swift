/// A tracepoint's format file (`/sys/kernel/tracing/events/GROUP/NAME/format`), read at run time: where each
/// field sits in the raw record, and the names `__print_symbolic` gives an enum field's numbers. Kernels move
/// fields and renumber reasons; the record is decoded by what this kernel says.
public struct TracepointFormat: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        public var offset: Int
        public var size: Int
    }

    public var fields: [String: Field]
    /// For each field printed with `__print_symbolic(REC->field, …)`: its values' names.
    public var symbols: [String: [Int: String]]

    public init(text: String) {
        var fields: [String: Field] = [:]
        for line in text.split(separator: "\n") {
            // "\tfield:enum skb_drop_reason reason;\toffset:36;\tsize:4;\tsigned:0;"
            let parts = line.split(separator: ";").map { $0.trimmingWhitespace }
            guard let declaration = parts.first, declaration.hasPrefix("field:"),
                let name = declaration.split(separator: " ").last.map({ String($0.prefix { $0 != "[" }) }),
                let offset = parts.value(of: "offset"), let size = parts.value(of: "size")
            else { continue }
            fields[name] = Field(offset: offset, size: size)
        }
        self.fields = fields
        symbols = Self.symbolicTables(in: text)
    }

    /// `__print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" }, …)`, per field.
    private static func symbolicTables(in text: String) -> [String: [Int: String]] {
        var tables: [String: [Int: String]] = [:]
        for match in text.matches(of: /__print_symbolic\(REC->(\w+),((?:\s*\{\s*-?\w+\s*,\s*"[^"]*"\s*\},?)+)\)/) {
            var table: [Int: String] = [:]
            for entry in match.output.2.matches(of: /\{\s*(-?\w+)\s*,\s*"([^"]*)"\s*\}/) {
                let number = entry.output.1
                let value = number.hasPrefix("0x") ? Int(number.dropFirst(2), radix: 16) : Int(number)
                if let value { table[value] = String(entry.output.2) }
            }
            tables[String(match.output.1), default: [:]].merge(table) { first, _ in first }
        }
        return tables
    }

    /// The ftrace filter (PERF_EVENT_IOC_SET_FILTER) that lets through only drops of `etherTypes` (nil: any)
    /// whose reason `keep` takes, by this kernel's numbers; runs of left-out numbers are ranges. nil: everything.
    public func filter(etherTypes: [UInt16]?, keep: (DropReason) -> Bool) -> String? {
        var terms: [String] = []
        if let etherTypes { terms.append("(" + etherTypes.map { "protocol == \($0)" }.joined(separator: " || ") + ")") }
        let left = (symbols["reason"] ?? [:]).filter { !keep(DropReason(rawValue: $0.value)) }.keys.sorted()
        var runs: [ClosedRange<Int>] = []
        for number in left {
            if let last = runs.last, last.upperBound == number - 1 {
                runs[runs.count - 1] = last.lowerBound...number
            } else {
                runs.append(number...number)
            }
        }
        terms += runs.map { run in
            run.count == 1
                ? "reason != \(run.lowerBound)" : "(reason < \(run.lowerBound) || reason > \(run.upperBound))"
        }
        return terms.isEmpty ? nil : terms.joined(separator: " && ")
    }

    /// The unsigned integer of `field` in `record`, in this machine's byte order (the kernel writes records in
    /// its own); nil when this kernel's record has no such field or the record is too short.
    public func integer(_ field: String, in record: [UInt8]) -> UInt64? {
        guard let place = fields[field], place.size <= 8, place.offset + place.size <= record.count else { return nil }
        let bytes = record[place.offset..<place.offset + place.size]
        #if _endian(big)
        return bytes.reduce(0) { $0 << 8 | UInt64($1) }
        #else
        return bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
        #endif
    }
}

extension Substring {
    fileprivate var trimmingWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<end]
    }
}

extension [Substring] {
    /// "offset:36" among a field line's parts.
    fileprivate func value(of key: String) -> Int? {
        first { $0.hasPrefix(key + ":") }.flatMap { Int($0.dropFirst(key.count + 1)) }
    }
}
