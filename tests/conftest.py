pytest_plugins = ["harness.kube", "harness.upstreams.fixtures"]
