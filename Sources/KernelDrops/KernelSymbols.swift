/// The kernel's text symbols from `/proc/kallsyms` (readable with their addresses by root only): what turns the
/// address a packet was freed at into `br_nf_dev_queue_xmit+0x1a4 [br_netfilter]`.
public struct KernelSymbols: Sendable {
    private var starts: [UInt64] = []
    private var names: [Substring] = []
    private var modules: [Substring?] = []

    /// A place in the kernel's code.
    public struct Location: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
        public var function: String
        public var offset: UInt64
        /// The module the function is in; nil for the kernel image.
        public var module: String?

        public init(function: String, offset: UInt64, module: String?) {
            self.function = function
            self.offset = offset
            self.module = module
        }

        public var description: String {
            "\(function)+0x\(String(offset, radix: 16))" + (module.map { " [\($0)]" } ?? "")
        }
    }

    /// `text` as /proc/kallsyms prints it ("ffffffffc0a81234 t br_nf_dev_queue_xmit\t[br_netfilter]"). All
    /// addresses zero (kptr_restrict hid them) gives no symbols.
    public init(kallsyms text: String) {
        var entries: [(UInt64, Substring, Substring?)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let columns = line.split(omittingEmptySubsequences: true) { $0 == " " || $0 == "\t" }
            // __pfx_ symbols are the padding before each function (call-depth tracking, FineIBT), not code.
            guard columns.count >= 3, "tTwW".contains(columns[1]), let address = UInt64(columns[0], radix: 16),
                address != 0, !columns[2].hasPrefix("__pfx_")
            else { continue }
            let module = columns.count > 3 ? columns[3].dropFirst().dropLast() : nil
            entries.append((address, columns[2], module))
        }
        entries.sort { $0.0 < $1.0 }
        starts = entries.map(\.0)
        names = entries.map(\.1)
        modules = entries.map(\.2)
    }

    public var isEmpty: Bool { starts.isEmpty }

    /// The function `address` is in: the nearest symbol at or below it.
    public func location(of address: UInt64) -> Location? {
        var low = 0
        var high = starts.count
        while low < high {
            let middle = (low + high) / 2
            if starts[middle] <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        let index = low - 1
        return Location(
            function: String(names[index]), offset: address - starts[index], module: modules[index].map(String.init))
    }
}
