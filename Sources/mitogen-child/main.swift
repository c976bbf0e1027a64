// The static program the master uploads to every target: the builtin
// catalog, then the child's main loop (DESIGN §5). It links the layers below
// MitogenChild only: no console code, no libssh2.
import MitogenCalls
import MitogenChild

Builtins.registerAll()
ExternalContext.main()
