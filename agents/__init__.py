"""Allocation policies behind one interface: baselines now, learned PPO agents later.

:class:`Policy` is the interface, :func:`make_policy` builds one by name
(:data:`POLICIES`); the baselines live in :mod:`agents.baselines`.
"""

from agents.baselines import (
    CentralizedPolicy,
    GreedyPolicy,
    NodePolicy,
    OraclePolicy,
    RandomPolicy,
    RoundRobinPolicy,
)
from agents.policy import POLICIES, Policy, make_policy

__all__ = [
    "POLICIES",
    "CentralizedPolicy",
    "GreedyPolicy",
    "NodePolicy",
    "OraclePolicy",
    "Policy",
    "RandomPolicy",
    "RoundRobinPolicy",
    "make_policy",
]
