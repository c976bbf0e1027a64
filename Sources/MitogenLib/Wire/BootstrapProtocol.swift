/// The texts both ends of a connection agree on while a child starts, before
/// the message protocol: the first stage prints them and the master and any
/// intermediary parse them (see `FirstStage` in MitogenMaster for the script).
package enum BootstrapMarker {
    /// `$0` of the first-stage shell, as `ps` shows it on the target.
    package static let processName = "mitogen-stage1"
    /// Every line the first stage prints starts with this.
    package static let linePrefix = "MITOGEN0 "
    /// The line the child prints when its message loop is ready.
    package static let readyMarker = "MITO002"
}
