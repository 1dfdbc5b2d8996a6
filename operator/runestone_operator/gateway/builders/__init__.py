"""Pure manifest builders of a Gateway's children: the config file and its ConfigMap, the key
table, the Deployment, Service, autoscaler and disruption budget. No I/O, no kopf, no Kubernetes
client."""
