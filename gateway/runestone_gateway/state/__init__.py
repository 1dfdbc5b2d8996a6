"""State a gateway keeps for its clients across replicas, besides the limits: stored responses of
`/v1/responses`. It lives only in the shared store (Redis), never in a replica's memory, which
the next request may not reach."""
