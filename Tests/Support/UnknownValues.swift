/// A dump as a newer kvmtopo could write it: a link kind, a domain role, a network kind and a warning code this
/// build does not know (examples/dumps/lab-faults.json with those values changed).
public enum UnknownValues {
    public static let path = "Tests/Support/newer-kvmtopo.json"
}
