import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// What kvmtopo reads from a domain's live XML. CloudStack operators may rewrite the XML with a hook, so
/// the live XML is the truth, never what CloudStack would have generated.
public struct DomainDescription: Equatable, Sendable {
    public var nics: [NIC]
    public var smbios: SMBIOS?

    public init(xml: String) throws(DomainXMLError) {
        let document: XMLDocument
        do {
            document = try XMLDocument(xmlString: xml, options: [])
        } catch {
            throw DomainXMLError(reason: "malformed XML: \(Self.firstLine(of: error))")
        }
        guard let root = document.rootElement(), root.name == "domain" else {
            throw DomainXMLError(reason: "not a libvirt domain (no <domain> root element)")
        }
        let interfaces = root.elements(forName: "devices").flatMap { $0.elements(forName: "interface") }
        nics = interfaces.enumerated().map { index, element in Self.nic(index: index, element) }
        smbios = Self.smbios(root)
    }

    private static func nic(index: Int, _ element: XMLElement) -> NIC {
        func attribute(_ child: String, _ name: String) -> String? {
            element.elements(forName: child).first?.attribute(forName: name)?.stringValue
        }
        let vlanTag = element.elements(forName: "vlan").first?.elements(forName: "tag").first?
            .attribute(forName: "id")?.stringValue.flatMap { Int($0) }
        return NIC(index: index,
                   mac: attribute("mac", "address")?.lowercased(),
                   type: element.attribute(forName: "type")?.stringValue ?? "unknown",
                   bridge: attribute("source", "bridge"),
                   network: attribute("source", "network"),
                   sourceDevice: attribute("source", "dev"),
                   tap: attribute("target", "dev"),
                   model: attribute("model", "type"),
                   vlanTag: vlanTag,
                   virtualPort: attribute("virtualport", "type"),
                   romBarOff: attribute("rom", "bar") == "off",
                   linkState: attribute("link", "state"))
    }

    private static func smbios(_ root: XMLElement) -> SMBIOS? {
        guard let system = root.elements(forName: "sysinfo")
            .first(where: { $0.attribute(forName: "type")?.stringValue == "smbios" })?
            .elements(forName: "system").first else { return nil }
        func entry(_ name: String) -> String? {
            system.elements(forName: "entry").first { $0.attribute(forName: "name")?.stringValue == name }?.stringValue
        }
        let smbios = SMBIOS(manufacturer: entry("manufacturer"), product: entry("product"))
        return smbios.manufacturer == nil && smbios.product == nil ? nil : smbios
    }

    private static func firstLine(of error: any Error) -> String {
        let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
    }
}

public struct DomainXMLError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var description: String { reason }
}
