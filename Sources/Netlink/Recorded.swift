import CNetlink
import Topology

/// Parses rtnetlink messages recorded from a host (the bytes the kernel sends in answer to a dump) through
/// the same libnl path as a live dump. It lets link kinds this kernel cannot create (vlan, bond) be tested.
public enum RecordedNetlink {
    public static func links(_ messages: [[UInt8]]) -> [NetlinkLink] {
        parse(messages, convert: RecordConverter.link)
    }

    public static func fdb(_ messages: [[UInt8]]) -> [NetlinkFDBEntry] {
        parse(messages, convert: RecordConverter.fdbEntry)
    }

    private static func parse<Record>(
        _ messages: [[UInt8]],
        convert: (OpaquePointer, OpaquePointer) -> Record?
    ) -> [Record] {
        var records: [Record] = []
        for var bytes in messages where bytes.count >= MemoryLayout<nlmsghdr>.size {
            // A message whose length field disagrees with its bytes is not parsed at all.
            let declared = bytes.withUnsafeBytes { Int($0.loadUnaligned(as: UInt32.self)) }
            guard declared == bytes.count else { continue }
            let msg = bytes.withUnsafeMutableBytes { raw in
                nlmsg_convert(raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self))
            }
            guard let msg else { continue }
            nlmsg_set_proto(msg, NETLINK_ROUTE)
            parseRecords(of: msg, convert: convert, into: &records)
            nlmsg_free(msg)
        }
        return records
    }
}
