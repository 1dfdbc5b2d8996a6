"""What every Gateway step receives: the core's reconcile context, typed with the Gateway's spec
and status."""

from __future__ import annotations

from runestone_operator.core import context, kinds
from runestone_operator.gateway import model

Context = context.Context[model.GatewaySpec, model.GatewayStatus]
LOADER = context.Loader(kinds.GATEWAY, model.GatewaySpec, model.GatewayStatus)
