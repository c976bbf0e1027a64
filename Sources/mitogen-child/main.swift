print("mitogen-child: not yet")
