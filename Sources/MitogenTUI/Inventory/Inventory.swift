public import MitogenLib
import MitogenSys

/// Named groups of targets read from a file, for `@group` wherever a chain
/// is accepted (`mitogen-tui call @web ...`, the console's `:open @web`).
///
/// Three formats, told apart by the file name and first host line:
/// - Ansible YAML (`.yml`, `.yaml`): `all:` with `hosts`, `vars`, `children`;
/// - Ansible INI: `[group]`, `[group:vars]`, `[group:children]` sections
///   of `name key=value ...` lines;
/// - a plain list of chains (`ssh:web[01-20] -> sudo:root`) under optional
///   `[group]` headers.
///
/// Ansible host variables become hops (`InventoryVariables`): `ansible_host`,
/// `ansible_user`, `ansible_port`, `ansible_ssh_private_key_file`,
/// `ansible_connection=local`, `ansible_become` with `ansible_become_user`
/// and `ansible_become_method`. Host names may hold Ansible's ranges
/// (`web[01:20]`); plain chains hold host patterns. Every host is in `all`;
/// hosts of no group are also in `ungrouped`.
public struct MitogenInventory: Sendable {
    /// Group names in the order they first appear (`all` first).
    public private(set) var groupNames: [String] = ["all"]
    private var direct: [String: [FleetTarget]] = [:]
    private var children: [String: [String]] = [:]
    /// Every host once, in order of first appearance.
    private var everyTarget: [FleetTarget] = []
    private var everyLabel = Set<String>()
    /// The file it was read from.
    public let path: String

    init(path: String) { self.path = path }

    /// The targets of `group`, its own hosts then its children's, each once;
    /// nil when there is no such group.
    public func targets(group: String) -> [FleetTarget]? {
        if group == "all" { return allTargets }
        guard groupNames.contains(group) else { return nil }
        var out: [FleetTarget] = []
        var seen = Set<String>()
        var visited = Set<String>()
        func walk(_ name: String) {
            guard visited.insert(name).inserted else { return }
            for target in direct[name] ?? [] where seen.insert(target.label).inserted { out.append(target) }
            for child in children[name] ?? [] { walk(child) }
        }
        walk(group)
        return out
    }

    /// Every host of the file, in order of first appearance.
    public var allTargets: [FleetTarget] { everyTarget }

    mutating func add(_ target: FleetTarget, to group: String) {
        declare(group)
        if everyLabel.insert(target.label).inserted { everyTarget.append(target) }
        if direct[group]?.contains(where: { $0.label == target.label }) != true { direct[group, default: []].append(target) }
    }

    mutating func declare(_ group: String) {
        if !groupNames.contains(group) { groupNames.append(group) }
    }

    mutating func addChild(_ child: String, to group: String) {
        declare(group)
        declare(child)
        if children[group]?.contains(child) != true { children[group, default: []].append(child) }
    }

    /// Reads and parses `path`.
    /// - Throws: `InventoryError` naming the file, the line and the problem.
    public static func load(path: String) throws(InventoryError) -> MitogenInventory {
        let bytes: [UInt8]
        do {
            bytes = try readWholeFile(path)
        } catch {
            throw InventoryError(file: path, line: nil, message: "cannot read it: \(error)")
        }
        guard bytes.count <= 16 << 20 else { throw InventoryError(file: path, line: nil, message: "larger than 16 MiB") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw InventoryError(file: path, line: nil, message: "not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// Parses inventory text; `path` names it in errors and picks the format.
    public static func parse(_ text: String, path: String) throws(InventoryError) -> MitogenInventory {
        if path.hasSuffix(".yml") || path.hasSuffix(".yaml") { return try AnsibleYAML.parse(text, path: path) }
        if ChainList.looksLikeChains(text) { return try ChainList.parse(text, path: path) }
        return try AnsibleINI.parse(text, path: path)
    }
}

/// An inventory file that cannot be read or does not parse.
public struct InventoryError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line of the problem, when it has one.
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}
