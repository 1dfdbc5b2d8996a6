"""The process kubelet: real processes for the containers of pods on kwok's fake nodes.

    python -m devcluster.kubelet [--workdir DIR]

It runs the pods of namespaces labelled `devcluster.runestone.dev/processes=true`.
"""
