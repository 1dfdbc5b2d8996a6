"""Pure manifest builders of a VectorCluster's children, whatever its engine (what the engine
contributes comes in as an `engine.Engine`). No I/O, no kopf, no Kubernetes client."""
