/// What a child needs to know from its parent at start: its id, its
/// ancestors, and the options the seed passes down. It travels as one argv
/// word (`--mitogen-config=id=5,parents=1.0,...`) through the first stage, so
/// the child needs no extra round trip before it is ready.
package struct ChildConfig: Sendable, Equatable {
    package var contextID: UInt32
    package var parentIDs: [UInt32]
    package var maxMessageSize: Int = WireLimits.defaultMaxMessageSize
    package var debug = false
    package var profiling = false
    package var unidirectional = false
    /// Python level number below which the child does not forward logs.
    package var logLevel = 20
    /// SHA-256 of the child executable, so the child can serve it to its own
    /// children without hashing it again.
    package var childHash: String?

    package init(contextID: UInt32, parentIDs: [UInt32]) {
        self.contextID = contextID
        self.parentIDs = parentIDs
    }

    static let flag = "--mitogen-config="

    /// The argv word. Only digits, letters, `=`, `,` and `.`: safe unquoted in sh.
    package var argument: String {
        let parents = parentIDs.map(String.init).joined(separator: ".")
        return Self.flag
            + "id=\(contextID),parents=\(parents),max=\(maxMessageSize),debug=\(debug ? 1 : 0),"
            + "prof=\(profiling ? 1 : 0),uni=\(unidirectional ? 1 : 0),log=\(logLevel)"
            + (childHash.map { ",hash=\($0)" } ?? "")
    }

    /// Parses `argument`. Returns nil for anything malformed.
    package init?(argument: String) {
        guard argument.hasPrefix(Self.flag) else { return nil }
        var fields: [Substring: Substring] = [:]
        for pair in argument.dropFirst(Self.flag.count).split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2 else { return nil }
            fields[kv[0]] = kv[1]
        }
        guard let id = fields["id"].flatMap({ UInt32($0) }),
            let parentsText = fields["parents"], let max = fields["max"].flatMap({ Int($0) })
        else { return nil }
        let parents = parentsText.split(separator: ".").compactMap { UInt32($0) }
        guard !parents.isEmpty else { return nil }
        self.init(contextID: id, parentIDs: parents)
        maxMessageSize = max
        debug = fields["debug"] == "1"
        profiling = fields["prof"] == "1"
        unidirectional = fields["uni"] == "1"
        logLevel = fields["log"].flatMap { Int($0) } ?? 20
        childHash = fields["hash"].map(String.init).flatMap { SHA256.isHexDigest($0) ? $0 : nil }
    }
}
