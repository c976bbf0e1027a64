print("mitogen-bench: not yet")
