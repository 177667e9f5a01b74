import ArgumentParser
import Collect

/// How the commands that watch the kernel's drop tracepoint (trace, drops) find it, or leave it off.
struct DropReasonOptions: ParsableArguments {
    @Flag(help: "Do not read the kernel's drop reasons (the skb:kfree_skb tracepoint).")
    var noDropReasons = false

    @Option(
        help: ArgumentHelp(
            "Where tracefs is mounted (by default /sys/kernel/tracing, or mounted privately when the host has none).",
            valueName: "path"),
        completion: .directory)
    var tracefs: String?

    /// The tracepoint read while the command runs, or nil with one line saying why not (unless turned off).
    func watch(etherTypes: [UInt16]?, retention: UInt64, counting: Bool) -> (KernelDropWatch?, String?) {
        guard !noDropReasons else { return (nil, nil) }
        do {
            let watch = try KernelDropWatch(
                tracefs: tracefs, etherTypes: etherTypes, retention: retention, counting: counting)
            return (watch, nil)
        } catch {
            return (nil, error.description)
        }
    }
}
