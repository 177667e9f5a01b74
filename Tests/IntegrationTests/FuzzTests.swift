import Foundation
import TestSupport
import Testing

extension RealLibvirtTests {
    /// The libFuzzer targets (fuzz/) for a short, fixed budget each: the frame decoders and packet keys, the pcapng
    /// reader, the domain XML parser and the dump loader never crash on what the fuzzer makes of the seed corpus.
    /// Serialized with the guests' tests, whose timings two busy cores would disturb.
    @Suite("fuzzing")
    struct FuzzTests {
        @Test("every fuzz target runs its budget without a crash", arguments: ["packets", "pcapng", "topology"])
        func target(_ name: String) throws {
            let result = try Shell.run(["\(PackageRoot.path)/fuzz/run", "15", name])
            #expect(result.status == 0, "fuzz/run \(name): a crash input is in fuzz/crashes/\n\(result.stderr)")
            let executed = result.stderr.firstMatch(of: /number_of_executed_units: (\d+)/).flatMap { Int($0.1) } ?? 0
            #expect(executed > 1_000, "the fuzzer ran: \(result.stderr)")
        }
    }
}
