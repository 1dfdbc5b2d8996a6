"""The Runestone operator: typed CRD models, pure manifest builders, reconcile steps, thin Kopf
handlers. Builders never import kopf or a Kubernetes client; one module talks to the API server."""
