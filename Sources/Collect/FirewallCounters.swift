import Firewall
import Nftables
import Topology

/// A firewall verdict's counter as the kernel holds it now, read with one dump of the deciding chain (its rules,
/// or the chains for a policy): what confirms a drop the walk worked out, while tracing live.
/// A burst of packets lost to one rule asks for its counter once per `freshFor`, not once per packet (for a
/// policy that would be a dump of every chain each time).
public final class FirewallCounters {
    private let session: NftablesSession?
    private var read: [Location: (packets: Int?, at: ContinuousClock.Instant)] = [:]
    private static let freshFor = Duration.milliseconds(100)

    private struct Location: Hashable {
        var family: FirewallFamily
        var table: String
        var chain: String
        var handle: Int?
    }

    /// Nothing is read when nf_tables cannot be asked (no privilege): no counter, no confirmation.
    public init() { session = try? NftablesSession() }

    public func packets(of decision: FirewallDecision) -> Int? {
        // A legacy table's counters would need its whole table again; nftables' are read chain by chain.
        guard decision.backend == .nft, let family = decision.family, let table = decision.table,
            let chain = decision.chain
        else { return nil }
        let location = Location(family: family, table: table, chain: chain, handle: decision.handle)
        let now = ContinuousClock.now
        if let last = read[location], now - last.at < Self.freshFor { return last.packets }
        let packets = current(location)
        read[location] = (packets, now)
        return packets
    }

    private func current(_ location: Location) -> Int? {
        guard let session else { return nil }
        let (family, table, chain) = (location.family, location.table, location.chain)
        guard let handle = location.handle else {
            return (try? session.chains())?.first { $0.family == family && $0.table == table && $0.name == chain }?
                .packets
        }
        let rules = try? session.rules(of: NftChain(family: family, table: table, name: chain))
        return rules?.first { $0.handle == handle }?.expressions.lazy.compactMap { expression -> Int? in
            if case .counter(let packets, _) = expression { packets } else { nil }
        }.first
    }
}
