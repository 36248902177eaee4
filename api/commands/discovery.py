"""listApis and listCapabilities."""

from __future__ import annotations

from cloudplane.api.commands.base import command
from cloudplane.api.context import Call, Raw
from cloudplane.api.registry import listapis_payload

CLOUDSTACK_VERSION = "4.18.0.0"


@command("listApis", object_name="api")
async def list_apis(call: Call) -> Raw:
    name = call.get("name")
    reg = call.service.registry
    if name is not None and reg.get(name) is None:
        return Raw({})
    visible = [s for s in reg if await call.service.allowed(call.caller, s)]
    sub = type(reg)(visible)
    payload = listapis_payload(sub, name=reg.get(name).name if name else None)  # type: ignore[union-attr]
    return Raw(next(iter(payload.values())))


@command("listCapabilities", object_name="capability")
async def list_capabilities(call: Call) -> dict[str, object]:
    svc = call.service
    mine = [("account", call.caller.account_id), ("domain", call.caller.domain_id)]  # account-scoped settings
    return {
        "cloudstackversion": CLOUDSTACK_VERSION, "apilimitinterval": await svc.config_int("api.throttling.interval"),
        "apilimitmax": await svc.config_int("api.throttling.max"), "allowusercreateprojects": True,
        "allowuserexpungerecovervm": await svc.config("allow.user.expunge.recover.vm", mine) == "true",
        "allowuserexpungerecovervolume": True,
        "allowuserviewdestroyedvm": await svc.config("allow.user.view.destroyed.vm", mine) == "true",
        "allowuserviewalldomainaccounts": False,
        "customdiskofferingmaxsize": 1024, "customdiskofferingminsize": 1,
        "dynamicrolesenabled": True, "kvmsnapshotenabled": True, "securitygroupsenabled": False,
        "supportELB": "false", "userpublictemplateenabled": True, "projectinviterequired": False,
        "kubernetesserviceenabled": False, "kubernetesclusterexperimentalfeaturesenabled": False,
        "defaultuipagesize": await svc.config_int("default.page.size"), "instancesstatsretentiontime": 720,
        "instancesstatsuseronly": False, "instancesdisksstatsretentionenabled": False,
        "instancesdisksstatsretentiontime": 720, "sharedfsvmminramsize": 1024,
    }
