"""The graph spec: what an agent is, independent of where it runs."""

from .codec import graph_from_dict, graph_schema, graph_to_dict, load_graph, save_graph
from .policy import Backoff, Policy
from .spec import NODE_KINDS, Graph, Node
from .validate import KIND_VALIDATORS, problems

__all__ = [
    "KIND_VALIDATORS",
    "NODE_KINDS",
    "Backoff",
    "Graph",
    "Node",
    "Policy",
    "graph_from_dict",
    "graph_schema",
    "graph_to_dict",
    "load_graph",
    "problems",
    "save_graph",
]
