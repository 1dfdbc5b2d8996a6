pytest_plugins = ["harness.kube", "harness.redis_server", "harness.upstreams.fixtures"]
