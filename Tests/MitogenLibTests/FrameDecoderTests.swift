import Testing
@testable import MitogenLib

@Suite struct FrameDecoderTests {
    @Test func placeholderCompiles() { #expect(Handle.callFunction == 101) }
}
