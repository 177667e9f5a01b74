import Diagnose
import TestSupport
import Testing
import Topology

/// The health check's verdict from recorded dumps: what counts, when, and when it cannot tell.
@Suite("health check verdicts")
struct HealthCheckVerdictTests {
    @Test("errors count from the n-th consecutive run; warnings never; a missing source is no verdict")
    func verdicts() throws {
        let faulty = try recordedDump("lab-faults")
        let findings = Diagnose.run(faulty)
        let check = HealthCheck(runs: 3)
        var outcome = check.evaluate(findings, sources: faulty.host.sources, remembering: HealthCheck.Memory())
        #expect(outcome.verdict == .healthy)
        #expect(outcome.errors.count == findings.filter { $0.severity == .error }.count)
        #expect(outcome.errors.allSatisfy { $0.streak == 1 })
        for run in 2...3 {
            outcome = check.evaluate(findings, sources: faulty.host.sources, remembering: outcome.memory)
            #expect(outcome.verdict == (run == 3 ? .unhealthy : .healthy), "run \(run)")
        }
        #expect(outcome.memory.streaks.values.allSatisfy { $0 == 3 }, "only errors are remembered")

        let clean = try recordedDump("lab-vxlan")
        let healed = check.evaluate(Diagnose.run(clean), sources: clean.host.sources, remembering: outcome.memory)
        #expect(healed.verdict == .healthy && healed.recovered && healed.memory.streaks.isEmpty)

        var blind = clean.host.sources
        blind.libvirt = SourceStatus(status: .unavailable, error: "connection refused")
        #expect(
            check.evaluate(Diagnose.run(clean), sources: blind, remembering: HealthCheck.Memory()).verdict
                == .noVerdict("libvirt unavailable: connection refused"))
        let cutOff = HealthCheck(runs: 1).evaluate(findings, sources: blind, remembering: HealthCheck.Memory())
        #expect(cutOff.verdict == .unhealthy, "an error seen is an error, whatever the other source says")
    }
}
