// libFuzzer entry point for the wire layer: the unpickler and the frame
// decoder on arbitrary bytes. Built by scripts/fuzz-pickle.sh together with
// Sources/MitogenLib/Wire/*.swift (Wire depends on nothing but the standard
// library, so it compiles standalone).
//
// Besides "never crash" (ASan + Swift's own traps), it checks two properties:
// whatever the unpickler accepts, it writes and reads back to the same value;
// and the frame decoder gives the same messages whether the input arrives in
// one piece or in two.

@_cdecl("LLVMFuzzerTestOneInput")
public func pickleFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Small limits keep each run fast; the limits themselves are under test too.
    let limits = PickleLimits(maxDepth: 64, maxContainerItems: 4096, maxNodes: 1 << 16)

    if let value = try? Pickle.loads(bytes, limits: limits) {
        let again = Pickle.dumps(value)
        guard let back = try? Pickle.loads(again, limits: limits), back == value else {
            fatalError("round trip changed \(value)")
        }
    }
    _ = try? Pickle.loadsAll(bytes, limits: limits)

    let whole = decodeFrames([bytes[...]])
    let split = size / 3
    let pieces = decodeFrames([bytes[..<split], bytes[split...]])
    guard whole.count == pieces.count, zip(whole, pieces).allSatisfy({ $0.header == $1.header && $0.data == $1.data })
    else {
        fatalError("frame decoding depends on chunking")
    }
    for message in whole where message.encoding != .binary {
        _ = try? message.decodeValue(limits: limits)
    }
    return 0
}

/// Every message the pieces decode to, up to the first error.
private func decodeFrames(_ pieces: [ArraySlice<UInt8>]) -> [Message] {
    var decoder = FrameDecoder(maxMessageSize: 1 << 16)
    var messages: [Message] = []
    for piece in pieces {
        decoder.append(piece)
        while let message = try? decoder.next() { messages.append(message) }
    }
    return messages
}
