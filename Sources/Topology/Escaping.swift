extension String {
    /// Interface and domain names come from the host: a control character in one (an ANSI escape, a newline)
    /// must not drive the terminal or break a line, so each is shown as `\u{1b}`.
    public var escapingControlCharacters: String {
        guard hasControlCharacters else { return self }
        return String(
            String.UnicodeScalarView(
                unicodeScalars.flatMap { scalar -> [Unicode.Scalar] in
                    scalar.isControl ? Array("\\u{\(String(scalar.value, radix: 16))}".unicodeScalars) : [scalar]
                }))
    }
}

extension String {
    /// Looked for in the UTF-8 bytes (this runs on every name drawn): C0 controls and DEL are single bytes, the
    /// C1 controls (U+0080...U+009F) are 0xC2 followed by 0x80...0x9F.
    fileprivate var hasControlCharacters: Bool {
        var previous: UInt8 = 0
        for byte in utf8 {
            if byte < 0x20 || byte == 0x7f || (previous == 0xc2 && (0x80...0x9f).contains(byte)) { return true }
            previous = byte
        }
        return false
    }
}

extension Unicode.Scalar {
    /// General category Cc: C0 controls, DEL and C1 controls (compared directly: this runs on every name drawn).
    fileprivate var isControl: Bool { value < 0x20 || (0x7f...0x9f).contains(value) }
}
