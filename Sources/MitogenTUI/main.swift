print("mitogen-tui: not yet")
