"""The supervision tree: OTP-style restart policy as data, one asyncio engine."""

from cloudplane.supervisors.intensity import Verdict, record_restart
from cloudplane.supervisors.spec import ChildSpec, Restart, Strategy, SupFlags, check_specs
from cloudplane.supervisors.supervisor import Action, Child, Decision, Escalated, Supervisor
from cloudplane.supervisors.tree import LevelPolicy, SupervisorTree, TreeNode

__all__ = [
    "Action", "Child", "ChildSpec", "Decision", "Escalated", "LevelPolicy", "Restart",
    "Strategy", "SupFlags", "Supervisor", "SupervisorTree", "TreeNode", "Verdict",
    "check_specs", "record_restart",
]
