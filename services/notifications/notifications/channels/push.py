"""Push notifications through a gateway shaped like FCM HTTP v1: POST {endpoint}/v1/projects/{project}/messages:send."""
from __future__ import annotations

from dataclasses import dataclass

import requests

from .base import Outgoing, Refused, TryAgain, http_failure

GONE_CODES = {"UNREGISTERED", "NOT_FOUND"}


@dataclass(frozen=True)
class PushChannel:
    endpoint: str
    project: str
    access_token: str
    timeout: float = 10.0
    name: str = "push"

    @property
    def url(self) -> str:
        return f"{self.endpoint.rstrip('/')}/v1/projects/{self.project}/messages:send"

    def payload(self, message: Outgoing) -> dict:
        data = {key: str(value) for key, value in message.data.items() if value is not None}
        return {"message": {
            "token": message.to,
            "notification": {"title": message.title, "body": message.body},
            "data": {**data, "kind": message.kind, "delivery_id": message.delivery_id},
            "android": {"collapse_key": message.delivery_id},
            "apns": {"headers": {"apns-collapse-id": message.delivery_id[:64]}},
        }}

    def send(self, message: Outgoing) -> str | None:
        try:
            response = requests.post(self.url, json=self.payload(message), timeout=self.timeout,
                                     headers={"Authorization": f"Bearer {self.access_token}"})
        except requests.RequestException as error:
            raise TryAgain(f"push gateway unreachable: {type(error).__name__}") from None
        if response.ok:
            return _json(response).get("name")
        code = _error_code(response)
        if code in GONE_CODES or response.status_code == 404:
            raise Refused(f"push gateway answered {response.status_code} {code or ''}".strip(), target_gone=True)
        raise http_failure("push gateway", response.status_code, code)


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_code(response: requests.Response) -> str | None:
    """FCM puts the reason in error.details[].errorCode, falling back to error.status."""
    error = _json(response).get("error") or {}
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            return str(detail["errorCode"])
    return str(error["status"]) if error.get("status") else None


