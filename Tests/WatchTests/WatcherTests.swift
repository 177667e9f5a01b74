import Foundation
import TestSupport
import Testing
import Topology
import Watch

/// watch's lines from recorded dumps and events (the live kernel and libvirt: WatchTests in IntegrationTests and
/// the lab's LabWatch).
@Suite struct WatcherTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("a fault read again is its changes and the findings it brings; healed, the findings clear")
    func faultAndHeal() throws {
        let clean = try recordedDump("lab-vxlan")
        var watcher = Watcher(snapshot: clean)
        let faults = watcher.resynced(try recordedDump("lab-faults"), at: start)
        let changes = faults.filter { $0.kind == .change }.map(\.text)
        #expect(changes.contains("i-2-11-VM eth0 (tap vnet4): left brvx-1001 (now on no bridge)"), "\(changes)")
        #expect(!faults.contains { $0.object == .warning }, "warnings are said as findings, once")
        let found = try #require(faults.first { $0.kind == .finding && $0.code == .tapNoMaster })
        #expect(found.change == .added && found.text.hasPrefix("new error [tap-no-master] "), "\(found.text)")
        #expect(found.time == "2027-01-15T08:00:00.000Z" && found.line.hasPrefix("08:00:00.000 new error"))
        let healed = watcher.resynced(clean, at: start.addingTimeInterval(5))
        #expect(healed.contains { $0.kind == .finding && $0.code == .tapNoMaster && $0.change == .removed })
        #expect(healed.contains { $0.text == "i-2-11-VM eth0 (tap vnet4): joined brvx-1001" }, "\(healed.map(\.text))")
        #expect(watcher.resynced(clean, at: start.addingTimeInterval(6)).isEmpty, "nothing changed, nothing said")
    }

    @Test("a state libvirt announced is said once, by libvirt, with its reason")
    func libvirtSaysItOnce() throws {
        let clean = try recordedDump("lab-vxlan")
        var stopped = clean
        let index = try #require(stopped.domains.firstIndex { $0.name == "i-2-10-VM" })
        stopped.domains[index].state = .shutoff
        var watcher = Watcher(snapshot: clean)
        let event = watcher.domainEvent("i-2-10-VM", DomainEvent(.destroyed), at: start)
        #expect(event.map(\.text) == ["i-2-10-VM stopped (destroyed)"] && event.first?.event == DomainEvent(.destroyed))
        let read = watcher.resynced(stopped, at: start)
        #expect(!read.contains { $0.object == .domain }, "\(read.map(\.text))")
        // Without libvirt's word (it was down), the read says it.
        var unannounced = Watcher(snapshot: clean)
        let said = unannounced.resynced(stopped, at: start).filter { $0.object == .domain }.map(\.text)
        #expect(said == ["i-2-10-VM stopped (running → shutoff)"])
        // Followed, libvirt's event says it even when the read comes first.
        var followed = Watcher(snapshot: clean)
        followed.libvirtFollowed = true
        #expect(!followed.resynced(stopped, at: start).contains { $0.object == .domain })
        #expect(DomainEvent(.migratedIn).phrase == "migrated in" && DomainEvent(rawValue: "new").phrase.contains("new"))
    }

    @Test("a link that flaps is one line per 10 s, its state changes not said one by one, then steady again")
    func flapping() throws {
        let clean = try recordedDump("lab-vxlan")
        var down = clean
        let tap = try #require(down.links.firstIndex { $0.name == "vnet4" })
        down.links[tap].up = false
        var watcher = Watcher(snapshot: clean)
        watcher.linkState("vnet4", up: true, at: start)
        for flip in 1...37 {
            watcher.linkState("vnet4", up: flip % 2 == 0, at: start.addingTimeInterval(Double(flip) / 10))
        }
        #expect(watcher.tick(at: start.addingTimeInterval(5)).isEmpty, "not yet 10 s")
        #expect(!watcher.resynced(down, at: start).contains { $0.field == "state" }, "flapping: summarised")
        let summary = watcher.tick(at: start.addingTimeInterval(10.1))
        #expect(summary.map(\.text) == ["vnet4 flapped 37 times in 10 s (now down)"], "\(summary.map(\.text))")
        #expect(summary.first?.kind == .flapping && summary.first?.count == 37 && summary.first?.seconds == 10)
        let steady = watcher.tick(at: start.addingTimeInterval(20.2))
        #expect(steady.map(\.text) == ["vnet4 is steady again (down)"])
        // Three changes are no flapping: nothing to summarise, and the read says each.
        var calm = Watcher(snapshot: clean)
        for flip in 0..<3 { calm.linkState("vnet3", up: flip % 2 == 0, at: start.addingTimeInterval(Double(flip))) }
        #expect(calm.tick(at: start.addingTimeInterval(30)).isEmpty)
        #expect(calm.resynced(down, at: start).contains { $0.field == "state" })
    }

    @Test("a scope keeps the lines that mention its VM, taps or bridges")
    func scoped() throws {
        let clean = try recordedDump("lab-vxlan")
        // i-2-11-VM and its tap (its bridge would bring in its network's router, r-4-VM, too).
        var watcher = Watcher(snapshot: clean, scope: { _ in ["i-2-11-VM", "vnet4"] })
        let lines = watcher.resynced(try recordedDump("lab-faults"), at: start).map(\.text)
        #expect(lines.contains("i-2-11-VM eth0 (tap vnet4): left brvx-1001 (now on no bridge)"), "\(lines)")
        #expect(!lines.contains { $0.contains("r-4-VM") }, "r-4-VM's tap is another VM's: \(lines)")
        #expect(watcher.domainEvent("r-4-VM", DomainEvent(.destroyed), at: start).isEmpty)
        #expect(watcher.domainEvent("i-2-11-VM", DomainEvent(.paused), at: start).count == 1)
    }

    @Test("a JSON line carries its schema version, time, kind and the change's fields")
    func json() throws {
        var watcher = Watcher(snapshot: try recordedDump("lab-vxlan"))
        let record = try #require(
            watcher.resynced(try recordedDump("lab-faults"), at: start).first { $0.field == "master" })
        let object = try #require(
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(record)) as? [String: Any])
        #expect(object["schemaVersion"] as? Int == 1 && object["kind"] as? String == "change")
        #expect(object["object"] as? String == "link" && object["before"] as? String == "brvx-1001")
        #expect(object["after"] as? String == "none" && object["change"] as? String == "changed")
    }
}
