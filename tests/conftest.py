pytest_plugins = ["fixtures.kube", "fixtures.redis", "fixtures.upstreams.fixtures"]
