"""The "ensure X" steps every kind runs, one module each: the serving certificate (`tls`), the
API keys (`keys`) and the status (`status`). A step either makes its part of the desired state
true (applying children under the operator's field manager) or raises `core.context.Blocked`,
which stops the reconcile before anything half-configured is written. What differs between kinds
(names, labels, which keys) comes in as arguments."""
