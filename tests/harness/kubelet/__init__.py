"""The process kubelet: real processes for the containers of pods on kwok's fake nodes.

    python -m harness.kubelet [--workdir DIR]

It runs the pods of namespaces labelled `harness.runestone.dev/processes=true`.
"""
