import Foundation
import Topology

/// The CloudStack agent's per-VM records of the security groups it wrote: security_group.py keeps one file per
/// VM, `/var/run/cloud/<vm>.log`, holding `name,vmid,ip,domid,signature,seqno` on one line.
public enum AgentRecords {
    /// Where security_group.py keeps them.
    public static let directory = "/var/run/cloud"

    /// One file's record; nil for a file of another shape (the folder holds other things too).
    public static func record(fileName: String, text: String) -> SecurityGroupRecord? {
        guard fileName.hasSuffix(".log") else { return nil }
        let line = text.split(whereSeparator: \.isNewline).first ?? ""
        let fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard fields.count >= 4, fields[0] + ".log" == fileName else { return nil }
        let text = { (index: Int) in index < fields.count && !fields[index].isEmpty ? fields[index] : nil }
        return SecurityGroupRecord(
            vm: fields[0], vmID: text(1).flatMap { Int($0) }, ip: text(2), domainID: text(3).flatMap { Int($0) },
            signature: text(4), sequence: text(5).flatMap { Int($0) })
    }
}
