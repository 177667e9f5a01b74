import Foundation

/// Writes the dump's bytes directly, in the one layout kvmtopo has always written: sorted keys, two-space
/// indentation, `"key" : value`, `[]` and `{}` for empty containers, absent optionals left out. This is the
/// contract's writer; the reader is the types' Decodable conformance, and the two are tested against each other by
/// round trip (every example dump reads and writes back to the same bytes). Encoding through Foundation cost
/// three times as long, and twice the memory, on a big host.
struct JSONWriter: ~Copyable {
    private var bytes: OutputBytes
    private var depth = 0
    /// Whether the container being written has a member yet.
    private var empty = true
    /// How many threads a long array may be written by: the document's writer only, never its parts (1).
    private let threads: Int

    init(capacity: Int, threads: Int) {
        bytes = OutputBytes(capacity: capacity)
        self.threads = threads
    }

    /// The writer of a part of a long array: the array's depth, and a comma first unless it is the first part.
    private init(depth: Int, first: Bool) {
        bytes = OutputBytes(capacity: 64 << 10)
        self.depth = depth
        empty = first
        threads = 1
    }

    mutating func object(_ members: (inout JSONWriter) -> Void) {
        open(UInt8(ascii: "{"))
        members(&self)
        close(UInt8(ascii: "}"))
    }

    mutating func array<Element: DumpValue>(_ elements: [Element]) {
        open(UInt8(ascii: "["))
        let parts = threads > 1 ? min(threads * 4, elements.count / Self.elementsPerPart) : 0
        if parts >= 2 {
            // A host's thousands of links, domains, FDB entries or firewall chains: written in parts on all
            // cores, then joined in order, the same bytes as one after the other.
            bytes.append(Self.parts(of: elements, parts, depth: depth))
            empty = false
        } else {
            for element in elements {
                separate()
                element.write(to: &self)
            }
        }
        close(UInt8(ascii: "]"))
    }

    /// Below this many elements a part is not worth a thread's time.
    private static let elementsPerPart = 64

    private static func parts<Element: DumpValue>(
        of elements: [Element], _ count: Int, depth: Int
    ) -> [WrittenPart] {
        Concurrently.map(Array(0..<count), threads: count) { part in
            var writer = JSONWriter(depth: depth, first: part == 0)
            for element in elements[(elements.count * part / count)..<(elements.count * (part + 1) / count)] {
                writer.separate()
                element.write(to: &writer)
            }
            return writer.bytes.takePart()
        }
    }

    /// A member; keys must come in sorted order (the caller's duty, checked by the round-trip tests).
    mutating func field(_ key: StaticString, _ value: (some DumpValue)?) {
        guard let value else { return }
        key.withUTF8Buffer { self.key($0) }
        value.write(to: &self)
    }

    /// A member named by a string (a key of a CodingKeys enum), in sorted order too.
    mutating func field(named key: String, _ value: (some DumpValue)?) {
        guard let value else { return }
        var key = key
        key.withUTF8 { self.key($0) }
        value.write(to: &self)
    }

    private mutating func key(_ name: UnsafeBufferPointer<UInt8>) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(name)
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: " "), UInt8(ascii: ":"), UInt8(ascii: " ")])
    }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escape: copied whole.
        let plain = text.utf8.withContiguousStorageIfAvailable { utf8 in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") })
            else { return false }
            bytes.append(utf8)
            return true
        }
        if plain == true {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x00..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8) + [Self.hex[Int(byte >> 4)], Self.hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// The newline that ends the document, and the document's bytes.
    consuming func finish() -> Data {
        bytes.append(UInt8(ascii: "\n"))
        return bytes.take()
    }

    mutating func integer(_ value: Int) { bytes.append(contentsOf: String(value).utf8) }

    mutating func boolean(_ value: Bool) { bytes.append(contentsOf: (value ? "true" : "false").utf8) }

    private static let hex = Array("0123456789abcdef".utf8)

    private mutating func open(_ bracket: UInt8) {
        bytes.append(bracket)
        depth += 1
        empty = true
    }

    private mutating func close(_ bracket: UInt8) {
        depth -= 1
        if !empty { newline() }
        bytes.append(bracket)
        empty = false
    }

    private mutating func separate() {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        newline()
    }

    private mutating func newline() {
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(UInt8(ascii: " "), repeating: depth * 2)
    }
}

/// A value of the dump, written by `JSONWriter`.
protocol DumpValue: Sendable {
    func write(to json: inout JSONWriter)
}

extension String: DumpValue {
    func write(to json: inout JSONWriter) { json.string(self) }
}

extension Int: DumpValue {
    func write(to json: inout JSONWriter) { json.integer(self) }
}

extension Bool: DumpValue {
    func write(to json: inout JSONWriter) { json.boolean(self) }
}

extension Array: DumpValue where Element: DumpValue {
    func write(to json: inout JSONWriter) { json.array(self) }
}

extension DumpValue where Self: Vocabulary {
    func write(to json: inout JSONWriter) { json.string(rawValue) }
}

extension DomainRole: DumpValue {}
extension RouterKind: DumpValue {}
extension TrafficType: DumpValue {}
extension NetworkKind: DumpValue {}
extension AddressSource: DumpValue {}
extension NeighbourRole: DumpValue {}
extension LinkKind: DumpValue {}
extension OperState: DumpValue {}
extension PortState: DumpValue {}
extension FDBState: DumpValue {}
extension NICLinkState: DumpValue {}
extension DomainState: DumpValue {}
extension InterfaceType: DumpValue {}
extension AddressFamily: DumpValue {}
extension WarningCode: DumpValue {}
extension ConntrackState: DumpValue {}

extension SetMatch.Direction: DumpValue {
    func write(to json: inout JSONWriter) { json.string(rawValue) }
}

extension JumpDirection: DumpValue {
    func write(to json: inout JSONWriter) { json.string(rawValue) }
}

extension Subject: DumpValue {
    func write(to json: inout JSONWriter) { json.string(description) }
}

extension HostSnapshot: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("bridges", bridges)
            $0.field("domains", domains)
            $0.field("fdb", fdb)
            $0.field("firewall", firewall)
            $0.field("host", host)
            $0.field("links", links)
            $0.field("neighbours", neighbours)
            $0.field("networks", networks)
            $0.field("routes", routes)
            $0.field("schemaVersion", schemaVersion)
            $0.field("vpcs", vpcs)
            $0.field("warnings", warnings)
        }
    }
}

extension Host: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("agentProperties", agentProperties)
            $0.field("bridgeNetfilter", bridgeNetfilter)
            $0.field("bridgeRoles", bridgeRoles)
            $0.field("collectedAt", collectedAt)
            $0.field("hostname", hostname)
            $0.field("igmpMaxMemberships", igmpMaxMemberships)
            $0.field("kvmtopoVersion", kvmtopoVersion)
            $0.field("qemuHook", qemuHook)
            $0.field("sources", sources)
        }
    }
}

extension BridgeRoles: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("control", control)
            $0.field("guest", guest)
            $0.field("private", `private`)
            $0.field("public", `public`)
        }
    }
}

extension Sources: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("firewall", firewall)
            $0.field("libvirt", libvirt)
            $0.field("netlink", netlink)
            $0.field("packets", packets)
        }
    }
}

extension SourceStatus: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("error", error)
            $0.field("status", status.rawValue)
            $0.field("uri", uri)
        }
    }
}

extension BridgeNetfilter: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("arptables", arptables)
            $0.field("ip6tables", ip6tables)
            $0.field("iptables", iptables)
        }
    }
}

extension Link: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("addresses", addresses)
            $0.field("bridgePort", bridgePort)
            $0.field("ifindex", ifindex)
            $0.field("kind", kind)
            $0.field("mac", mac)
            $0.field("master", master)
            $0.field("mtu", mtu)
            $0.field("name", name)
            $0.field("operState", operState)
            $0.field("peer", peer)
            $0.field("peerNetnsid", peerNetnsid)
            $0.field("up", up)
            $0.field("vlan", vlan)
            $0.field("vxlan", vxlan)
        }
    }
}

extension Address: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("address", address)
            $0.field("family", family)
            $0.field("prefixLength", prefixLength)
            $0.field("scope", scope)
        }
    }
}

extension VLAN: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("id", id)
            $0.field("parent", parent)
            $0.field("protocol", `protocol`)
        }
    }
}

extension VXLAN: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("device", device)
            $0.field("group", group)
            $0.field("learning", learning)
            $0.field("local", local)
            $0.field("port", port)
            $0.field("vni", vni)
        }
    }
}

extension BridgePort: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("cost", cost)
            $0.field("priority", priority)
            $0.field("state", state)
        }
    }
}

extension Bridge: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("name", name)
            $0.field("ports", ports)
            $0.field("stp", stp)
        }
    }
}

extension FDBEntry: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("bridge", bridge)
            $0.field("mac", mac)
            $0.field("port", port)
            $0.field("remote", remote)
            $0.field("self", isSelf)
            $0.field("state", state)
            $0.field("vlan", vlan)
        }
    }
}

extension Domain: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("cloudstack", cloudstack)
            $0.field("id", id)
            $0.field("name", name)
            $0.field("nics", nics)
            $0.field("persistent", persistent)
            $0.field("role", role)
            $0.field("routerKind", routerKind)
            $0.field("smbios", smbios)
            $0.field("state", state)
            $0.field("uuid", uuid)
            $0.field("xmlError", xmlError)
        }
    }
}

extension SMBIOS: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("manufacturer", manufacturer)
            $0.field("product", product)
        }
    }
}

extension NIC: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("bridge", bridge)
            $0.field("firewallRules", firewallRules)
            $0.field("hostBridge", hostBridge)
            $0.field("index", index)
            $0.field("ip", ip)
            $0.field("ipSource", ipSource)
            $0.field("linkState", linkState)
            $0.field("mac", mac)
            $0.field("model", model)
            $0.field("network", network)
            $0.field("romBarOff", romBarOff)
            $0.field("securityGroup", securityGroup)
            $0.field("sourceDevice", sourceDevice)
            $0.field("tap", tap)
            $0.field("tapFound", tapFound)
            $0.field("trafficType", trafficType)
            $0.field("type", type)
            $0.field("virtualPort", virtualPort)
            $0.field("vlanTag", vlanTag)
        }
    }
}

extension Warning: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("code", code)
            $0.field("message", message)
            $0.field("subject", subject)
        }
    }
}

extension Network: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("bridge", bridge)
            $0.field("firewall", firewall)
            $0.field("gateway", gateway)
            $0.field("id", id)
            $0.field("kind", kind)
            $0.field("members", members)
            $0.field("mtu", mtu)
            $0.field("physicalInterface", physicalInterface)
            $0.field("remoteGateway", remoteGateway)
            $0.field("router", router)
            $0.field("routerElsewhere", routerElsewhere)
            $0.field("uplink", uplink)
            $0.field("vlan", vlan)
            $0.field("vni", vni)
        }
    }
}

extension Network.Member: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object { writeNIC(&$0, domain: domain, ip: ip, ipSource: ipSource, mac: mac, nic: nic, tap: tap) }
    }
}

extension Network.Gateway: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object { writeNIC(&$0, domain: domain, ip: ip, ipSource: ipSource, mac: mac, nic: nic, tap: nil) }
    }
}

/// A network's member and its gateway name a NIC alike (a gateway without its tap).
private func writeNIC(
    _ json: inout JSONWriter, domain: String, ip: String?, ipSource: AddressSource?, mac: String?,
    nic: Int, tap: String?
) {
    json.field("domain", domain)
    json.field("ip", ip)
    json.field("ipSource", ipSource)
    json.field("mac", mac)
    json.field("nic", nic)
    json.field("tap", tap)
}

extension VPC: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("router", router)
            $0.field("tiers", tiers)
        }
    }
}

extension Neighbour: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("bridge", bridge)
            $0.field("ip", ip)
            $0.field("mac", mac)
            $0.field("port", port)
            $0.field("role", role)
            $0.field("source", source)
        }
    }
}

extension Route: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("destination", destination)
            $0.field("device", device)
            $0.field("family", family)
            $0.field("gateway", gateway)
            $0.field("source", source)
        }
    }
}

extension FirewallBackend: DumpValue {}
extension IPSetFamily: DumpValue {}
extension FirewallFamily: DumpValue {}
extension FirewallHook: DumpValue {}
extension FirewallVerdict: DumpValue {}

extension Firewall: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("agentRecords", agentRecords)
            $0.field("backends", backends)
            $0.field("conntrack", conntrack)
            $0.field("ipsets", ipsets)
            $0.field("tables", tables)
        }
    }
}

extension ConntrackUsage: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("count", count)
            $0.field("max", max)
        }
    }
}

extension FirewallTable: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("backend", backend)
            $0.field("chains", chains)
            $0.field("family", family)
            $0.field("name", name)
            $0.field("sets", sets)
        }
    }
}

extension FirewallChain: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("bytes", bytes)
            $0.field("hook", hook)
            $0.field("name", name)
            $0.field("packets", packets)
            $0.field("policy", policy)
            $0.field("priority", priority)
            $0.field("rules", rules)
            $0.field("type", type)
        }
    }
}

extension FirewallRule: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("bytes", bytes)
            $0.field("chain", chain)
            $0.field("comment", comment)
            $0.field("handle", handle)
            $0.field("matches", matches)
            $0.field("packets", packets)
            $0.field("target", target)
            $0.field("text", text)
            $0.field("verdict", verdict)
        }
    }
}

extension RuleMatches: DumpValue {
    func write(to json: inout JSONWriter) {
        // The string matches are kept in their keys' order: each is written as its turn comes among the others.
        var next = 0
        func strings(through last: TextField, _ json: inout JSONWriter) {
            while next < texts.count, texts[next].field.rawValue <= last.rawValue {
                json.field(named: texts[next].field.key.rawValue, texts[next].match.value)
                next += 1
            }
        }
        json.object {
            strings(through: .inInterface, &$0)
            $0.field("inverted", invertedKeys)
            strings(through: .physdevIn, &$0)
            $0.field("physdevIsBridged", physdevIsBridged?.value)
            $0.field("physdevIsIn", physdevIsIn?.value)
            $0.field("physdevIsOut", physdevIsOut?.value)
            strings(through: .protocol, &$0)
            $0.field("sets", sets)
            strings(through: .sourcePorts, &$0)
            $0.field("state", state?.value)
            $0.field("undecoded", undecoded)
        }
    }
}

extension SetMatch: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("directions", directions)
            $0.field("inverted", inverted)
            $0.field("name", name)
        }
    }
}

extension FirewallSet: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("elements", elements)
            $0.field("name", name)
        }
    }
}

extension IPSet: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("family", family)
            $0.field("members", members)
            $0.field("name", name)
            $0.field("references", references)
            $0.field("type", type)
        }
    }
}

extension BridgeFirewall: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("filtered", filtered)
            $0.field("framework", framework)
            $0.field("rules", rules)
        }
    }
}

extension BridgeFramework: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("chain", chain)
            $0.field("forward", forward)
            $0.field("hasInChain", hasInChain)
            $0.field("hasOutChain", hasOutChain)
            $0.field("table", table)
            $0.field("uplinkAccept", uplinkAccept)
        }
    }
}

extension SecurityGroup: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("addressSets", addressSets)
            $0.field("antiSpoofing", antiSpoofing)
            $0.field("bytes", bytes)
            $0.field("chain", chain)
            $0.field("directions", directions)
            $0.field("egress", egress)
            $0.field("expectedChain", expectedChain)
            $0.field("ingress", ingress)
            $0.field("packets", packets)
        }
    }
}

extension SecurityGroupRules: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("chain", chain)
            $0.field("final", final)
            $0.field("finalPackets", finalPackets)
            $0.field("rules", rules)
        }
    }
}

extension SecurityGroupRule: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("bytes", bytes)
            $0.field("cidr", cidr)
            $0.field("handle", handle)
            $0.field("icmpType", icmpType)
            $0.field("packets", packets)
            $0.field("ports", ports)
            $0.field("protocol", `protocol`)
            $0.field("set", set)
            $0.field("verdict", verdict)
        }
    }
}

extension SecurityGroupAddressSet: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("members", members)
            $0.field("missing", missing)
            $0.field("name", name)
        }
    }
}

extension AntiSpoofing: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("chains", chains)
            $0.field("ips", ips)
            $0.field("macs", macs)
        }
    }
}

extension RuleReference: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("chain", chain)
            $0.field("handle", handle)
            $0.field("packets", packets)
            $0.field("table", table)
            $0.field("text", text)
            $0.field("verdict", verdict)
        }
    }
}

extension SecurityGroupRecord: DumpValue {
    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("domainID", domainID)
            $0.field("ip", ip)
            $0.field("sequence", sequence)
            $0.field("signature", signature)
            $0.field("vm", vm)
            $0.field("vmID", vmID)
        }
    }
}
