"""The ordered "ensure X" steps of a Gateway reconcile, one module each. A step either makes its
part of the desired state true (applying children under the operator's field manager) or raises
`Blocked`, which stops the reconcile before anything half-configured is written."""
