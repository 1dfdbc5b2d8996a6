pytest_plugins = ["harness.kube"]
