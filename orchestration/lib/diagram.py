"""The asset graph as a Mermaid diagram, generated from the definitions (the README embeds it;
tests/orchestration/test_definitions.py fails when the README's copy is stale).

    .venv/bin/python -m orchestration.lib.diagram     # prints the diagram

Each group is a box; the dbt groups (many small models) are one node each, listing their models;
every other asset is its own node. Nodes count their blocking gates (Great Expectations suites,
quarantine limits, the promotion gate; dbt's own tests are not counted).
"""

from __future__ import annotations

from collections import defaultdict

import dagster as dg

from orchestration.defs.loggers import TAILOR_GATES

DBT_GROUPS = ("staging", "marts")
GROUP_ORDER = ("ingest", "staging", "intermediate", "marts", "features", "ranking", "serving",
               "monitoring", "experiments", "governance")


def mermaid(defs: dg.Definitions) -> str:
    graph = defs.resolve_asset_graph()
    keys = sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string())
    group = {key: graph.get(key).group_name for key in keys}
    node = {key: group[key] if group[key] in DBT_GROUPS else key.to_user_string() for key in keys}
    gates = defaultdict(int)
    for check in graph.asset_check_keys:
        if graph.get_check_spec(check).blocking and check.name.endswith(TAILOR_GATES):
            gates[node[check.asset_key]] += 1
    lines = ["flowchart LR"]
    for name in sorted(set(group.values()), key=_group_rank):
        members = [key for key in keys if group[key] == name]
        lines.append(f"  subgraph {name}_group [{name}]")
        if name in DBT_GROUPS:
            models = [key.to_user_string() for key in members]
            rows = [", ".join(models[i : i + 3]) for i in range(0, len(models), 3)]
            lines.append(f'    {name}["dbt models:<br/>{"<br/>".join(rows)}{_gates(gates[name])}"]')
        else:
            for key in members:
                name_ = key.to_user_string()
                lines.append(f'    {name_}["{name_}{_gates(gates[name_])}"]')
        lines.append("  end")
    edges = sorted({(node[parent], node[key]) for key in keys
                    for parent in graph.get(key).parent_keys
                    if parent in node and node[parent] != node[key]})
    lines += [f"  {a} --> {b}" for a, b in edges]
    return "\n".join(lines)


def _gates(n: int) -> str:
    return "" if n == 0 else f"<br/>{n} gate{'s' if n > 1 else ''}"


def _group_rank(name: str) -> int:
    return GROUP_ORDER.index(name) if name in GROUP_ORDER else len(GROUP_ORDER)


if __name__ == "__main__":
    from orchestration.lib.dbt_project import ensure_manifest

    ensure_manifest()
    from orchestration.definitions import defs

    print(mermaid(defs))
