// The static program the master uploads to every target: the builtin
// catalog, then the child's main loop (DESIGN §5).
import MitogenLib

Builtins.registerAll()
ExternalContext.main()
