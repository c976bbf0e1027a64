import Testing
@testable import MitogenTUI
