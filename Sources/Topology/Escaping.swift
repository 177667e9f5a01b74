extension String {
    /// Interface and domain names come from the host: a control character in one (an ANSI escape, a newline)
    /// must not drive the terminal or break a line, so each is shown as `\u{1b}`.
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: \.isControl) else { return self }
        return String(
            String.UnicodeScalarView(
                unicodeScalars.flatMap { scalar -> [Unicode.Scalar] in
                    scalar.isControl ? Array("\\u{\(String(scalar.value, radix: 16))}".unicodeScalars) : [scalar]
                }))
    }
}

extension Unicode.Scalar {
    /// General category Cc: C0 controls, DEL and C1 controls (compared directly: this runs on every name drawn).
    fileprivate var isControl: Bool { value < 0x20 || (0x7f...0x9f).contains(value) }
}
