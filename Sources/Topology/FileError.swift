import Foundation

/// The last words of a Foundation file error, without its Swift type dump.
public func describe(_ error: any Error) -> String {
    let nsError = error as NSError
    if let posix = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain,
        let code = POSIXErrorCode(rawValue: Int32(posix.code))
    {
        return String(cString: strerror(code.rawValue))
    }
    switch nsError.code {
    case NSFileReadNoSuchFileError: return "no such file"
    case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return "permission denied"
    case NSFileWriteOutOfSpaceError: return "no space left on device"
    default: return nsError.localizedDescription
    }
}
