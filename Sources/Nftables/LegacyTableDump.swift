import CNftnl
import Firewall
import Foundation
import Topology

/// iptables-legacy's and ip6tables-legacy's tables through the kernel's table interface: IPT_SO_GET_INFO, then
/// IPT_SO_GET_ENTRIES (the same numbers for IPv6), on a raw socket. Only for tables the kernel lists in
/// /proc/net/ip_tables_names or ip6_tables_names: asking for any other name loads and creates that table.
public enum LegacyTableDump {
    /// Every listed table of both families; a table that cannot be read is left out with its reason.
    public static func tables() -> (tables: [LegacyTable], problems: [String]) {
        var tables: [LegacyTable] = []
        var problems: [String] = []
        for (family, file, level) in [
            (FirewallFamily.ip, "ip_tables_names", SOL_IP), (.ip6, "ip6_tables_names", SOL_IPV6),
        ] {
            let listed = (try? String(contentsOfFile: "/proc/net/\(file)", encoding: .utf8)) ?? ""
            for name in listed.split(whereSeparator: \.isNewline).map(String.init).sorted() {
                switch table(name, family: family, level: level) {
                case .success(let table): tables.append(table)
                case .failure(let error): problems.append(error.description)
                }
            }
        }
        return (tables, problems)
    }

    private static func table(
        _ name: String, family: FirewallFamily, level: Int32
    ) -> Result<LegacyTable, NftablesError> {
        let operation = "\(family == .ip6 ? "ip6tables" : "iptables")-legacy table \(name)"
        let fd = socket(
            family == .ip6 ? AF_INET6 : AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            Int32(IPPROTO_RAW))
        guard fd >= 0 else { return .failure(NftablesError(operation: operation, code: errno)) }
        defer { close(fd) }
        // The table can change between the two calls (EAGAIN): its size is asked again.
        for _ in 0..<3 {
            // struct ipt_getinfo: name[32], valid_hooks, hook_entry[5], underflow[5], num_entries, size (84 bytes).
            var info = [UInt8](repeating: 0, count: 84)
            info.replaceSubrange(0..<min(31, name.utf8.count), with: name.utf8.prefix(31))
            var length = socklen_t(info.count)
            guard getsockopt(fd, level, 64, &info, &length) == 0 else { break }
            // struct ipt_get_entries: name[32], size u32, then the entries.
            let size = info.hostU32(80)
            var request = [UInt8](repeating: 0, count: 40 + size)
            request.replaceSubrange(0..<32, with: info[0..<32])
            for byte in 0..<4 { request[32 + byte] = UInt8((size >> (8 * byte)) & 0xff) }
            length = socklen_t(request.count)
            if getsockopt(fd, level, 65, &request, &length) == 0 {
                return .success(LegacyTable(family: family, name: name, info: info, entries: Array(request[40...])))
            }
            guard errno == EAGAIN else { break }
        }
        return .failure(NftablesError(operation: operation, code: errno))
    }
}

extension [UInt8] {
    fileprivate func hostU32(_ offset: Int) -> Int {
        (0..<4).reduce(0) { $0 | Int(self[offset + $1]) << (8 * $1) }
    }
}
