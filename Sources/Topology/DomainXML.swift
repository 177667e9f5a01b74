import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// What kvmtopo reads from a domain's live XML. CloudStack operators may rewrite the XML with a hook, so
/// the live XML is the truth, never what CloudStack would have generated.
///
/// A streaming parser on purpose: FoundationXML's XMLDocument crashes on empty input and silently
/// "recovers" truncated documents, while XMLParser reports both.
public struct DomainDescription: Equatable, Sendable {
    public var nics: [NIC]
    public var smbios: SMBIOS?

    public init(xml: String) throws(DomainXMLError) {
        let reader = DomainXMLReader()
        let parser = XMLParser(data: Data(xml.utf8))
        parser.shouldResolveExternalEntities = false
        parser.delegate = reader
        let parsed = parser.parse()
        if !parsed || parser.parserError != nil || !reader.closedRoot {
            guard reader.rootName != nil else { throw DomainXMLError(reason: "malformed XML: no root element") }
            let line = parser.lineNumber
            throw DomainXMLError(
                reason: "malformed XML near line \(line)" + (reader.closedRoot ? "" : ": document ends early"))
        }
        guard reader.rootName == "domain" else {
            throw DomainXMLError(reason: "not a libvirt domain (root element <\(reader.rootName ?? "")>)")
        }
        nics = reader.nics
        smbios =
            reader.smbiosEntries.isEmpty
            ? nil
            : SMBIOS(manufacturer: reader.smbiosEntries["manufacturer"], product: reader.smbiosEntries["product"])
    }
}

public struct DomainXMLError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var description: String { reason }
}

/// Follows the element path and picks out <interface> children and SMBIOS system entries.
private final class DomainXMLReader: NSObject, XMLParserDelegate {
    private(set) var rootName: String?
    private(set) var closedRoot = false
    private(set) var nics: [NIC] = []
    private(set) var smbiosEntries: [String: String] = [:]

    private var path: [String] = []
    private var nic: NIC?
    private var smbiosSysinfo = false
    private var entryName: String?
    private var entryText = ""

    func parser(
        _ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        if path.isEmpty {
            // A second top-level element means this is not one document.
            if rootName != nil {
                parser.abortParsing()
                return
            }
            rootName = element
        }
        path.append(element)
        switch path.count {
        case 3 where path[1] == "devices" && element == "interface":
            nic = NIC(
                index: nics.count, mac: nil, type: attributes["type"].map(InterfaceType.init(rawValue:)) ?? .unknown)
        case 2 where element == "sysinfo":
            smbiosSysinfo = attributes["type"] == "smbios"
        case 4 where nic != nil:
            readInterfaceChild(element, attributes)
        case 5 where nic != nil && path[3] == "vlan" && element == "tag":
            nic?.vlanTag = attributes["id"].flatMap { Int($0) }
        case 4 where smbiosSysinfo && path[2] == "system" && element == "entry":
            entryName = attributes["name"]
            entryText = ""
        default:
            break
        }
    }

    private func readInterfaceChild(_ element: String, _ attributes: [String: String]) {
        switch element {
        case "mac": nic?.mac = attributes["address"]?.lowercased()
        case "source":
            nic?.bridge = attributes["bridge"]
            nic?.network = attributes["network"]
            nic?.sourceDevice = attributes["dev"]
        case "target": nic?.tap = attributes["dev"]
        case "model": nic?.model = attributes["type"]
        case "virtualport": nic?.virtualPort = attributes["type"]
        case "rom": nic?.romBarOff = attributes["bar"] == "off"
        case "link": nic?.linkState = attributes["state"].map(NICLinkState.init(rawValue:))
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if entryName != nil { entryText += string }
    }

    func parser(_ parser: XMLParser, didEndElement element: String, namespaceURI: String?, qualifiedName: String?) {
        if path.count == 3, let finished = nic {
            nics.append(finished)
            nic = nil
        }
        if path.count == 4, let name = entryName {
            smbiosEntries[name] = entryText.trimmingCharacters(in: .whitespacesAndNewlines)
            entryName = nil
        }
        if path.count == 2, element == "sysinfo" { smbiosSysinfo = false }
        path.removeLast()
        if path.isEmpty { closedRoot = true }
    }
}
