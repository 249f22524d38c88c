"""Resources of OpenPAI jobs on the ``ray`` runner: what a task asks for, what a virtual cluster may use, what fits.

- A task instance asks for its role's ``cpuNumber`` CPUs, ``gpuNumber`` GPUs and ``memoryMB`` of memory: one bundle
  of the job's placement group (a role asking for no CPU still holds a hundredth of one, as Ray's bundles cannot be
  empty).
- **Virtual clusters as capacity** (``OPENPAI_VC_SHARES``): each VC may use a share of the cluster: a fraction of
  every resource (``research=0.25``) or fixed amounts (``prod=CPU:8,GPU:2,memoryMB:16384``), VCs separated by ``;``.
  A VC not named may use the whole cluster. The gang dispatcher starts a job only while its VC's running jobs plus
  this one stay within the share; a job whose own needs exceed the share is refused at submit.
- **Fit**: a job is refused at submit when no live node of the cluster could hold one of its tasks (more GPUs than
  any node has, say), or when its tasks together need more than the whole cluster has (a gang that could never
  start), with OpenPAI's ``InvalidParametersError`` naming the role or the resource.
"""

from __future__ import annotations

from collections.abc import Iterable

RESOURCES = ("CPU", "GPU", "memoryMB")
MIN_CPU = 0.01
NAMES = {"CPU": "cpuNumber", "GPU": "gpuNumber", "memoryMB": "memoryMB"}


class ShareError(ValueError):
    """``OPENPAI_VC_SHARES`` cannot be read."""


def task_resources(role: dict) -> dict[str, float]:
    """What one task of ``role`` asks for: {"CPU", "GPU", "memoryMB"}."""
    return {
        "CPU": max(float(role.get("cpuNumber") or 0), MIN_CPU),
        "GPU": float(role.get("gpuNumber") or 0),
        "memoryMB": float(role.get("memoryMB") or 0),
    }


def job_resources(roles: Iterable[dict]) -> dict[str, float]:
    """What all tasks of a job ask for together."""
    total = dict.fromkeys(RESOURCES, 0.0)
    for role in roles:
        for key, value in task_resources(role).items():
            total[key] += value * int(role.get("taskNumber") or 0)
    return total


def add(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {key: a.get(key, 0.0) + b.get(key, 0.0) for key in RESOURCES}


def total(items: Iterable[dict[str, float]]) -> dict[str, float]:
    """The resources of ``items`` added up: a cluster's nodes, a virtual cluster's jobs."""
    out = dict.fromkeys(RESOURCES, 0.0)
    for item in items:
        out = add(out, item)
    return out


def parse_shares(text: str) -> dict[str, dict[str, float]]:
    """``OPENPAI_VC_SHARES``: {vc: {"fraction": f} or {"CPU": n, "GPU": n, "memoryMB": n}}."""
    shares: dict[str, dict[str, float]] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        vc, sep, value = part.partition("=")
        vc, value = vc.strip(), value.strip()
        if not sep or not vc or not value:
            raise ShareError(f"{part.strip()!r}: expected <vc>=<fraction> or <vc>=CPU:<n>,GPU:<n>,memoryMB:<n>")
        if ":" not in value:
            try:
                fraction = float(value)
            except ValueError:
                raise ShareError(f"{vc}: {value!r} is not a fraction") from None
            if not 0 <= fraction <= 1:
                raise ShareError(f"{vc}: the fraction {fraction} is not between 0 and 1")
            shares[vc] = {"fraction": fraction}
            continue
        amounts: dict[str, float] = {}
        for item in value.split(","):
            key, _, amount = item.partition(":")
            key = key.strip()
            if key not in RESOURCES:
                raise ShareError(f"{vc}: unknown resource {key!r} (use CPU, GPU, memoryMB)")
            try:
                amounts[key] = float(amount)
            except ValueError:
                raise ShareError(f"{vc}: {amount!r} is not a number") from None
            if amounts[key] < 0:
                raise ShareError(f"{vc}: {key} must not be negative")
        shares[vc] = amounts
    return shares


def configured_shares() -> dict[str, dict[str, float]]:
    """``OPENPAI_VC_SHARES`` as read; none (every VC may use the whole cluster) when it cannot be read, which the
    system check ``jobs.E004`` reports at start."""
    from django.conf import settings

    try:
        return parse_shares(settings.OPENPAI_VC_SHARES)
    except ShareError:
        return {}


def vc_capacity(share: dict[str, float] | None, cluster: dict[str, float]) -> dict[str, float]:
    """What a VC may use of a cluster with ``cluster`` resources in all (a resource a fixed share leaves out: all)."""
    if share is None:
        return {key: cluster.get(key, 0.0) for key in RESOURCES}
    if "fraction" in share:
        return {key: cluster.get(key, 0.0) * share["fraction"] for key in RESOURCES}
    return {key: share.get(key, cluster.get(key, 0.0)) for key in RESOURCES}


def short(need: dict[str, float], free: dict[str, float]) -> list[str]:
    """The resources of which ``need`` asks more than ``free`` has: ["GPU: needs 2, 1 free", ...]."""
    out = []
    for key in RESOURCES:
        if need.get(key, 0.0) > free.get(key, 0.0) + 1e-9:
            out.append(f"{key}: needs {amount(need[key])}, {amount(max(free.get(key, 0.0), 0.0))} free")
    return out


def role_never_fits(role: dict, nodes: list[dict[str, float]]) -> str | None:
    """Why no node among ``nodes`` (their total resources) could hold one task of ``role``; None if one could."""
    need = task_resources(role)
    if any(not short(need, node) for node in nodes):
        return None
    for key in RESOURCES:
        most = max((node.get(key, 0.0) for node in nodes), default=0.0)
        if need[key] > most + 1e-9:
            return (
                f"taskRole {role['name']} asks for {amount(need[key])} {NAMES[key]} per task, more than any node "
                f"of the cluster has ({amount(most)})"
            )
    return f"taskRole {role['name']} asks for more than any one node of the cluster has at once"


def job_never_fits(roles: list[dict], nodes: list[dict[str, float]]) -> str | None:
    """Why the cluster (its nodes' total resources) could never hold the whole job at once; None if it could."""
    for role in roles:
        reason = role_never_fits(role, nodes)
        if reason is not None:
            return reason
    need, cluster = job_resources(roles), total(nodes)
    over = [
        f"{key}: needs {amount(need[key])}, the cluster has {amount(cluster[key])}"
        for key in RESOURCES
        if need[key] > cluster[key] + 1e-9
    ]
    if over:
        return f"the job's tasks together need more than the whole cluster has ({'; '.join(over)})"
    return None


def amount(value: float) -> str:
    """A resource amount as people write it: 8, 0.5, 16384 (no needless \".0\")."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
