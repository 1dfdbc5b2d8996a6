"""The gateway as a process: config loading and reloads, serving state, the servers on the API
and health ports, worker processes and the command line."""
