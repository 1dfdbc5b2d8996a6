"""The gateway as a process: config loading and reloads, serving state, the servers on the API
and health ports, worker processes and the command line.

Rule: the top layer; it may import everything, and nothing of the gateway imports it."""
