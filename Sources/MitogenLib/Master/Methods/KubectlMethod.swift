public import MitogenCore
import MitogenWire

/// The `kubectl` method: a context inside a Kubernetes pod (the seed's
/// `Router.kubectl`, Mitogen 0.3.54's `mitogen.kubectl`).
///
/// Argv: `kubectl <kubectl_args…> exec -it POD [-c CONTAINER] -- <stageArgv>`.
/// Mitogen's, plus `container` (a parameter the chain syntax accepts and
/// Mitogen 0.3.54 does not have), which adds kubectl's own `-c CONTAINER`
/// after the pod. `-it` is Mitogen's: with stdin on a socketpair kubectl
/// prints "Unable to use a TTY" and runs without one, which the protocol
/// needs. stderr is merged into stdout (Mitogen's `merge_stdio`).
///
/// Unlike the local container tools the upload is compressed: `kubectl exec`
/// usually crosses a network to the cluster.
public struct KubectlMethod: SpawnedMethod, Equatable {
    public var pod: String
    public var kubectlPath: String
    /// Words before `exec` (`--context`, `--namespace`, `--kubeconfig`, ...).
    public var kubectlArgs: [String]
    /// The container within the pod (`-c`); nil for the pod's default.
    public var container: String?

    /// Mitogen's parameters and defaults.
    public init(pod: String, kubectlPath: String = "kubectl", kubectlArgs: [String] = [], container: String? = nil) {
        self.pod = pod
        self.kubectlPath = kubectlPath.isEmpty ? "kubectl" : kubectlPath
        self.kubectlArgs = kubectlArgs
        self.container = container
    }

    /// Rebuilds the method from a chain hop `kubectl:pod?key=value&…`.
    /// Keys: `pod` (or the target), `kubectl_path`, `kubectl_args` (shell
    /// words), `container`.
    public init(hop target: String?, options: [HopOption]) throws(StreamError) {
        let hop = try HopReader(
            method: "kubectl", options: options, keys: ["pod", "kubectl_path", "kubectl_args", "container"])
        guard let pod = try hop.target(target, or: "pod", what: "pod"), !pod.isEmpty else {
            throw hop.fail("needs a pod: kubectl:POD")
        }
        self.init(
            pod: pod, kubectlPath: hop.string("kubectl_path") ?? "kubectl", kubectlArgs: try hop.words("kubectl_args") ?? [],
            container: hop.string("container"))
    }

    public var methodName: String { "kubectl" }

    /// Mitogen's `kubectl.<pod><repr(kubectl_args)>`: `kubectl.web-1[]` by default.
    public func defaultName(pid: Int32) -> String { "kubectl.\(pod)\(ShellQuote.pythonRepr(kubectlArgs))" }

    public var stdio: MethodStdio { .mergedStderr }
    public var preferCompression: Bool { true }

    public func command(stageArgv: [String], stageCommand: String) throws -> [String] {
        var bits = [kubectlPath] + kubectlArgs + ["exec", "-it", pod]
        if let container, !container.isEmpty { bits += ["-c", container] }
        return bits + ["--"] + stageArgv
    }

    public var hopTarget: String? { pod }

    public var hopOptions: [HopOption] {
        var options: [HopOption] = []
        if kubectlPath != "kubectl" { options.append(HopOption(key: "kubectl_path", value: kubectlPath)) }
        if !kubectlArgs.isEmpty { options.append(HopValue.words("kubectl_args", kubectlArgs)) }
        if let container { options.append(HopOption(key: "container", value: container)) }
        return options
    }
}
