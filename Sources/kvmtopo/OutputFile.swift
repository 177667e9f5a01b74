import Foundation
import Topology

enum OutputFile {
    /// To the file `-o` names, else standard output.
    static func write(_ data: Data, toFileOrStandardOutput path: String?) throws {
        if let path {
            try write(data, to: path)
        } else {
            FileHandle.standardOutput.write(data)
        }
    }

    /// A regular file (or a new one) is replaced atomically, so a reader never sees half a dump. Anything
    /// else (/dev/null, /dev/stdout, a FIFO) is written in place: renaming over it would replace the device.
    static func write(_ data: Data, to path: String) throws {
        let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
        do {
            if type == nil || type == .typeRegular {
                try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            } else {
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                defer { try? handle.close() }
                try handle.write(contentsOf: data)
            }
        } catch {
            throw CommandFailure(.cannotCreateOutput, "\(path): cannot write (\(describe(error)))")
        }
    }
}
