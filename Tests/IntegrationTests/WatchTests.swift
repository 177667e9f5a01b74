import Foundation
import TestSupport
import Testing
import Topology

/// `kvmtopo watch` on a real kernel, in throwaway namespaces (no libvirt: its events are the lab's, LabWatch):
/// each change a line within 2 s, a flapping link summarised, an overrun reported and repaired, churn followed
/// without losing track and in flat memory, Ctrl-C at once, and nothing changed by watching.
@Suite(
    "kvmtopo watch on a real kernel", .serialized,
    .enabled(if: Host.isRoot, "needs root to create network namespaces"),
    .enabled(if: Host.missing("bridge").isEmpty, "the FDB move is made with iproute2's bridge"))
struct WatchTests {
    static let noLibvirt = ["--libvirt", "qemu+unix:///system?socket=/nonexistent/libvirt-sock"]

    @Test("each change is a line within 2 s, in the model's terms; a flapping link is one line per 10 s")
    func changesWithinTwoSeconds() throws {
        let ns = try TestNamespace("watch")
        try ns.ip("link add br0 type bridge")
        for port in ["t1", "t2", "t3"] {
            try ns.ip("link add \(port) type veth peer name \(port)p")
            try ns.ip("link set \(port)p up")
            try ns.ip("link set \(port) master br0 up")
        }
        try ns.ip("link set br0 up")
        try Shell.must(["bridge", "-n", ns.name, "fdb", "add", "02:00:00:00:00:aa", "dev", "t2", "master", "static"])
        let run = try WatchRun(
            in: ns, arguments: ["--duration", "26"],
            actions: [
                ("detach", "ip -n \(ns.name) link set t1 nomaster", 3),
                ("mtu", "ip -n \(ns.name) link set t1 mtu 1400", 3),
                ("fdb", "bridge -n \(ns.name) fdb replace 02:00:00:00:00:aa dev t3 master static", 3),
                ("address", "ip -n \(ns.name) addr add 10.9.9.1/24 dev br0", 3),
                (
                    "flap",
                    "for i in $(seq 20); do ip -n \(ns.name) link set t2 down; ip -n \(ns.name) link set t2 up; done",
                    12
                ),
            ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("watching "), "\(run.stderr)")
        #expect(run.stderr.contains("libvirt unavailable"), "says what it cannot follow: \(run.stderr)")
        try run.expect("detach", within: 2) { $0.text == "t1: left br0 (now on no bridge)" && $0.field == "master" }
        try run.expect("mtu", within: 2) { $0.text == "t1: mtu 1500 → 1400" }
        try run.expect("fdb", within: 2) { $0.text.hasPrefix("02:00:00:00:00:aa moved from t2 to t3 on br0") }
        try run.expect("address", within: 2) {
            $0.text == "bridge br0: gained 10.9.9.1/24" || $0.text.contains("gained 10.9.9.1/24")
        }
        try run.expect("flap", within: 12) {
            $0.kind == "flapping" && $0.text.hasPrefix("t2 flapped ") && ($0.count ?? 0) >= 30
        }
        let oneByOne = run.records.filter { $0.subject == "t2" && $0.field == "state" }
        #expect(oneByOne.count <= 4, "flapping is summarised: \(oneByOne.map(\.text))")
    }

    @Test("an overrun of the netlink socket is reported with what was missed, and the host read again")
    func overrun() throws {
        let ns = try TestNamespace("watch-overrun")
        let batch = FileManager.default.temporaryDirectory.appendingPathComponent("watch-batch-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: batch) }
        try (1...150).map { "link add d\($0) type veth peer name e\($0)" }.joined(separator: "\n").write(
            toFile: batch, atomically: true, encoding: .utf8)
        // Stopped while 300 links come (as when it gets no CPU), it finds the socket overflowed when it goes on.
        let burst = "kill -STOP $(cat $pidfile); ip -n \(ns.name) -batch \(batch); kill -CONT $(cat $pidfile)"
        let run = try WatchRun(
            in: ns, arguments: ["--duration", "6", "--receive-buffer", "4"], actions: [("burst", burst, 4)])
        #expect(run.status == 0, "\(run.stderr)")
        let overrun = try #require(run.records.first { $0.kind == "source" && $0.subject == "netlink" }, "\(run.lines)")
        #expect((overrun.missed ?? 0) > 0 && overrun.text.contains("notifications missed"), "\(overrun.text)")
        let appeared = Set(run.records.filter { $0.object == "link" && $0.change == "added" }.map(\.subject))
        #expect(
            appeared == Set((1...150).flatMap { ["d\($0)", "e\($0)"] }), "read again, all there: \(appeared.count)")
    }

    @Test("20 taps at a time for two minutes: followed without losing track, in flat memory")
    func churn() throws {
        let ns = try TestNamespace("watch-churn")
        try ns.ip("link add br0 type bridge")
        try ns.ip("link set br0 up")
        let before = try KVMTopoBinary.run(["dump"] + Self.noLibvirt, in: ns)
        let initial = try SnapshotCodec.decode(before.stdout, source: "before")
        let churn = """
            end=$((SECONDS + 120))
            for i in $(seq 20); do echo "tuntap add mode tap c$i"; echo "link set c$i master br0 up"; done > $batch.add
            for i in $(seq 20); do echo "link del c$i"; done > $batch.del
            while ((SECONDS < end)); do ip -n \(ns.name) -batch $batch.add; ip -n \(ns.name) -batch $batch.del; done
            # The last round leaves 5 taps, so that the end is not the start again.
            head -10 $batch.add | sed 's/c\\([0-9]\\)/k\\1/' > $batch.last
            ip -n \(ns.name) -batch $batch.last
            """
        let run = try WatchRun(
            in: ns, arguments: ["--duration", "126"], actions: [("churn", churn, 5)], sampleMemoryAt: [60, 124])
        #expect(run.status == 0, "\(run.stderr)")
        let after = try SnapshotCodec.decode(
            try KVMTopoBinary.run(["dump"] + Self.noLibvirt, in: ns).stdout, source: "after")
        // Replaying what watch said on the first dump's links gives the last dump's.
        var links = Set(initial.links.map(\.name))
        for record in run.records where record.object == "link" {
            if record.change == "added" { links.insert(record.subject) }
            if record.change == "removed" { links.remove(record.subject) }
        }
        #expect(links == Set(after.links.map(\.name)), "\(links.symmetricDifference(after.links.map(\.name)))")
        #expect(run.records.filter { $0.object == "link" && $0.change == "added" }.count > 100, "it churned")
        let memory = run.memory
        #expect(memory.count == 2, "\(memory)")
        if memory.count == 2 {
            #expect(memory[1] - memory[0] < 20 << 10, "RSS in KiB after 1 and 2 minutes: \(memory)")
        }
    }

    @Test("Ctrl-C ends it at once with status 0; watching changes nothing")
    func stopsAndOnlyReads() throws {
        let ns = try TestNamespace("watch-stop")
        try ns.ip("link add br0 type bridge")
        try ns.ip("link add v1 type veth peer name v1p")
        try ns.ip("link set v1 master br0 up")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("watch-stop-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let kvmtopo = "ip netns exec \(ns.name) \(KVMTopoBinary.path)"
        let script = """
            \(kvmtopo) dump \(Self.noLibvirt.joined(separator: " ")) -o \(folder)/before.json
            \(kvmtopo) watch \(Self.noLibvirt.joined(separator: " ")) --output \(folder)/out.jsonl 2> \(folder)/err &
            pid=$!
            for _ in $(seq 100); do grep -q watching \(folder)/err && break; sleep 0.1; done
            sleep 2
            start=$(date +%s%N)
            kill -INT $pid
            wait $pid; status=$?
            echo "$status $(( ($(date +%s%N) - start) / 1000000 ))"
            \(kvmtopo) dump \(Self.noLibvirt.joined(separator: " ")) -o \(folder)/after.json
            """
        let run = try Shell.run(["bash", "-c", "set -o pipefail; " + script])
        let words = run.output.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        #expect(words.count == 2 && words[0] == 0, "\(run.output) \(run.stderr)")
        #expect(words.count == 2 && words[1] < 1000, "Ctrl-C ends it within a second: \(words) ms")
        let diff = try KVMTopoBinary.run(["diff", "\(folder)/before.json", "\(folder)/after.json"])
        #expect(diff.status == 0, "watching changed nothing: \(diff.output)")
        #expect(FileManager.default.fileExists(atPath: "\(folder)/out.jsonl"), "--output is created")
        let bad = try KVMTopoBinary.run(["watch", "--output", "/nonexistent/dir/out.jsonl"] + Self.noLibvirt, in: ns)
        #expect(bad.status == 73 && bad.stderr.contains("cannot append"), "\(bad.stderr)")
        let unknown = try KVMTopoBinary.run(["watch", "vm", "i-9-9-VM"] + Self.noLibvirt, in: ns)
        #expect(unknown.status == 64, "\(unknown.stderr)")
    }
}

/// One `kvmtopo watch --json` in a namespace while a script of actions runs, each marked with the time it began;
/// every line of output stamped with the time it was read.
struct WatchRun {
    struct Record: Decodable {
        var kind: String
        var subject: String
        var text: String
        var object: String?
        var change: String?
        var field: String?
        var count: Int?
        var missed: Int?
    }

    var status: Int32
    var stderr: String
    var lines: [(time: Double, text: String)]
    var marks: [String: Double]
    /// VmRSS in KiB, at the seconds asked for.
    var memory: [Int]

    var records: [Record] {
        lines.compactMap { try? JSONDecoder().decode(Record.self, from: Data($0.text.utf8)) }
    }

    /// - Parameter libvirt: where libvirt is (none, by default: the namespace tests have no libvirtd).
    init(
        in ns: TestNamespace, libvirt: [String] = WatchTests.noLibvirt, arguments: [String],
        actions: [(mark: String, command: String, pause: Int)], sampleMemoryAt seconds: [Int] = []
    ) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("watch-\(getpid())-\(ns.name)").path
        defer {
            for file in [
                ".out", ".err", ".marks", ".rss", ".pid", ".status", ".batch.add", ".batch.del", ".batch.last",
            ] {
                try? FileManager.default.removeItem(atPath: base + file)
            }
        }
        let watch =
            "ip netns exec \(ns.name) sh -c '\(KVMTopoBinary.path) watch --json "
            + (libvirt + arguments).joined(separator: " ")
            + " & echo $! > \(base).pid; wait $!; echo $? > \(base).status'"
        let steps = actions.map { action in
            let mark = "printf '%s %s\\n' \(action.mark) \"$(date +%s.%N)\" >> \(base).marks"
            return "\(mark)\n\(action.command)\nsleep \(action.pause)"
        }
        let samples = seconds.map { "(sleep \($0); grep VmRSS /proc/$(cat \(base).pid)/status >> \(base).rss) &" }
        let script = """
            batch=\(base).batch
            pidfile=\(base).pid
            stamp() { while IFS= read -r line; do printf '%s %s\\n' "$(date +%s.%N)" "$line"; done; }
            \(watch) 2> \(base).err | stamp > \(base).out &
            for _ in $(seq 100); do grep -q watching \(base).err 2>/dev/null && break; sleep 0.1; done
            \(samples.joined(separator: "\n"))
            \(steps.joined(separator: "\n"))
            wait
            """
        let run = try Shell.run(["bash", "-c", "set -o pipefail\n" + script])
        stderr = ((try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "") + run.stderr
        let read = { (suffix: String) in
            ((try? String(contentsOfFile: base + suffix, encoding: .utf8)) ?? "").split(separator: "\n").map(
                String.init)
        }
        status = Int32(read(".status").first ?? "") ?? -1
        lines = read(".out").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let time = Double(parts[0]) else { return nil }
            return (time, String(parts[1]))
        }
        marks = Dictionary(
            read(".marks").compactMap { line in
                let parts = line.split(separator: " ")
                return parts.count == 2 ? Double(parts[1]).map { (String(parts[0]), $0) } : nil
            }, uniquingKeysWith: { first, _ in first })
        memory = read(".rss").compactMap {
            $0.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap { Int($0) }
        }
    }

    /// What was read after the action `mark` began (and before the action `end` began).
    func records(after mark: String, before end: String? = nil) -> [Record] {
        guard let began = marks[mark] else { return [] }
        let ended = end.flatMap { marks[$0] } ?? .infinity
        return lines.filter { $0.time >= began && $0.time < ended }.compactMap {
            try? JSONDecoder().decode(Record.self, from: Data($0.text.utf8))
        }
    }

    /// A line matching `predicate` was read after the action `mark` began, no later than `seconds` after the action
    /// `done` began: `mark` itself, or one that follows an action that takes its time (a migration).
    func expect(
        _ mark: String, within seconds: Double, of done: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation, _ predicate: (Record) -> Bool
    ) throws {
        let began = try #require(marks[mark], "the action \(mark) ran", sourceLocation: sourceLocation)
        let deadline = try #require(
            marks[done ?? mark], "the action \(done ?? mark) ran", sourceLocation: sourceLocation)
        let found = lines.first { line in
            line.time >= began
                && (try? JSONDecoder().decode(Record.self, from: Data(line.text.utf8))).map(predicate) == true
        }
        let line = try #require(found, "\(mark): no such line in \(lines.map(\.text))", sourceLocation: sourceLocation)
        #expect(
            line.time - deadline <= seconds, "\(mark): \(line.time - deadline) s after \(done ?? mark)",
            sourceLocation: sourceLocation)
    }
}
