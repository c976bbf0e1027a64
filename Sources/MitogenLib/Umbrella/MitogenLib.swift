// The umbrella: `import MitogenLib` gives a program the whole public API,
// whichever layer target defines each piece (see Package.swift for the layers).
@_exported public import MitogenChild
@_exported public import MitogenMaster
@_exported public import MitogenSSH2
@_exported public import MitogenCalls
@_exported public import MitogenCore
@_exported public import MitogenWire
