import ArgumentParser

/// `--prometheus FILE`, for the commands that also write node_exporter textfile metrics.
struct PrometheusOption: ParsableArguments {
    @Option(
        help: ArgumentHelp("Also write node_exporter textfile metrics to this file (atomically).", valueName: "file"),
        completion: .file(extensions: ["prom"]))
    var prometheus: String?
}
