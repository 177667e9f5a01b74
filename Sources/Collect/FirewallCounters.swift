import Firewall
import Nftables
import Topology

/// A firewall verdict's counter as the kernel holds it now, read with one dump of the deciding chain (its rules,
/// or the chains for a policy): what confirms a drop the walk worked out, while tracing live.
public final class FirewallCounters {
    private let session: NftablesSession?

    /// Nothing is read when nf_tables cannot be asked (no privilege): no counter, no confirmation.
    public init() { session = try? NftablesSession() }

    public func packets(of decision: FirewallDecision) -> Int? {
        // A legacy table's counters would need its whole table again; nftables' are read chain by chain.
        guard let session, decision.backend == .nft, let family = decision.family, let table = decision.table,
            let chain = decision.chain
        else { return nil }
        guard let handle = decision.handle else {
            return (try? session.chains())?.first { $0.family == family && $0.table == table && $0.name == chain }?
                .packets
        }
        let rules = try? session.rules(of: NftChain(family: family, table: table, name: chain))
        return rules?.first { $0.handle == handle }?.expressions.lazy.compactMap { expression -> Int? in
            if case .counter(let packets, _) = expression { packets } else { nil }
        }.first
    }
}
