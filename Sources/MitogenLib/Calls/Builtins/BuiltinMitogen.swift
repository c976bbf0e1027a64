import MitogenCore
import MitogenSys
import MitogenWire
/// The `mitogen` builtins: introspection and test helpers.
enum BuiltinMitogen {
    static func register() {
        Functions.register("mitogen.echo", signature: "(*args) -> object", summary: "Return the argument unchanged (a tuple for several, None for none).") { args, _, _ in
            switch args.count {
            case 0: .none
            case 1: args[0]
            default: .tuple(args)
            }
        }
        Functions.register("mitogen.functions", signature: "() -> list[dict]", summary: "Every registered function: {name, signature, summary}.") { args, kwargs, _ in
            _ = try BuiltinArguments("mitogen.functions", args, kwargs, parameters: [])
            return .list(Functions.all.map { entry in
                .dict(PyDict([("name", .str(entry.name)), ("signature", .str(entry.signature)), ("summary", .str(entry.summary))]))
            })
        }
        Functions.register("mitogen.raise", signature: "(type: str, message: str = '') -> NoReturn", summary: "Raise an exception of the given Python type (for testing error paths).") { args, kwargs, _ in
            let a = try BuiltinArguments("mitogen.raise", args, kwargs, parameters: ["type", "message"])
            throw PyException(try a.string("type"), try a.string("message", default: "") ?? "")
        }
    }
}
