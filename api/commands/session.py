"""login and logout."""

from __future__ import annotations

from cloudplane.api.commands.base import command
from cloudplane.api.auth import SESSION_TIMEOUT_S
from cloudplane.api.context import Call, Raw
from cloudplane.errors import ParamError


@command("login", object_name="")
async def login(call: Call) -> Raw:
    username, password = call.get("username"), call.get("password")
    if not username or password is None:
        raise ParamError("Unable to execute API command login due to missing parameter username/password")
    svc = call.service
    caller, key = await svc.auth.login(username, password, call.get("domain"), call.get("domainid"))
    await svc.event(caller, "USER.LOGIN", "user has logged in",
                    resource_type="User", resource_uuid=caller.user_uuid)
    payload = {
        "username": caller.username, "userid": caller.user_uuid, "domainid": caller.domain_uuid,
        "timeout": SESSION_TIMEOUT_S, "account": caller.account_name, "type": str(caller.account_type),
        "registered": "false", "sessionkey": key,
    }
    return Raw(payload, cookies={"sessionkey": key, "JSESSIONID": caller.user_uuid.replace("-", "")[:32]})


@command("logout")
async def logout(call: Call) -> Raw:
    if call.caller.session:
        await call.service.auth.logout(call.caller.session)
        await call.service.event(call.caller, "USER.LOGOUT", "user has logged out",
                                 resource_type="User", resource_uuid=call.caller.user_uuid)
    return Raw({"description": "success"})

