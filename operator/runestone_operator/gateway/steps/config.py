"""Step 4: the ConfigMap with the rendered config file and the key-table Secret. Running pods pick
both up from their mounted files, without a restart."""

from __future__ import annotations

from runestone_gateway import config
from runestone_operator.core import keyplan
from runestone_operator.gateway.builders import config as config_builder
from runestone_operator.gateway.builders import keytable
from runestone_operator.gateway.context import Context


async def ensure_config(ctx: Context, rendered: config.GatewayConfig, plan: keyplan.Plan) -> None:
    table = keytable.key_table(ctx.spec.api_keys, plan.keys, f"{ctx.namespace}/{ctx.name}")
    await ctx.kube.apply(keytable.key_table_secret(ctx.owner, table))
    await ctx.kube.apply(config_builder.config_map(ctx.owner, rendered))
