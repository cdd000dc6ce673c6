"""What is left of the account's credits (EXPERIMENTAL: the endpoint is reported by other clients, not documented).

``POST {root}/v2/billing/meter/get-user-resource`` with ``{"ProductCode": "p_tcaca", "Status": [0, 3]}`` answers
``data.Response.Data.Accounts[]``, one entry per credit package (cloviela-router, 9router, Foxrouters); an answer
without ``Accounts`` means the account has no packages. Field names differ between reports, so each figure is read
from the first of several names that is present; a figure that is absent stays unknown (None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from .credentials import account_key
from .http import TIMEOUT, AccountError, json_object, key_headers, request_json, roots

__all__ = ["CREDITS_BODY", "CREDITS_PATH", "Credits", "CreditsError", "Package", "fetch_credits", "parse_credits"]

CREDITS_PATH = "/v2/billing/meter/get-user-resource"
CREDITS_BODY: dict[str, Any] = {"ProductCode": "p_tcaca", "Status": [0, 3]}

_NAME = ("PackageName", "ProductName", "SubProductName", "Name", "ResourceId")
_REMAINING = ("CycleCapacityRemain", "CycleRemain", "CapacityRemain", "Remain", "Remaining")
_TOTAL = ("CycleCapacitySize", "CycleSize", "CapacitySize", "Total", "Size")
_USED = ("CycleCapacityUsed", "CycleUsed", "CapacityUsed", "Used")
_ENDS = ("CycleEndTime", "CycleEnd", "ExpiredTime", "ExpireTime", "EndTime")


#: the account wing's one error type (:class:`~.http.AccountError`), under this module's name: the credits could
#: not be read. ``kind``: ``config`` (no key, bad base), ``refused`` (401/403), ``limited`` (429), ``network``,
#: ``protocol`` (an answer of another shape). The message never holds the key.
CreditsError = AccountError


@dataclass(frozen=True)
class Package:
    name: str
    remaining: float | None = None
    total: float | None = None
    used: float | None = None
    ends: str | None = None
    """when the package's cycle ends or it expires, as the gateway wrote it"""


@dataclass(frozen=True)
class Credits:
    packages: list[Package]

    @property
    def remaining(self) -> float | None:
        """The credits left over all packages (None when no package gives a figure)."""
        known = [p.remaining for p in self.packages if p.remaining is not None]
        return sum(known) if known else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _first(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((row[n] for n in names if row.get(n) not in (None, "")), None)


def parse_credits(body: Any) -> Credits:
    """The packages in an answer (pure). Raises CreditsError(kind="protocol") for an error or another shape."""
    data = json_object("", body).get("data")
    response = data.get("Response") if isinstance(data, dict) else None
    error = response.get("Error") if isinstance(response, dict) else None
    if isinstance(error, dict):
        raise AccountError(f"CodeBuddy answered {error.get('Code')}: {str(error.get('Message'))[:200]}", "protocol")
    if data in (None, {}) or response in (None, {}):
        return Credits([])  # an empty answer: no packages
    inner = response.get("Data") if isinstance(response, dict) else None
    if inner in (None, {}):
        return Credits([])
    accounts = inner.get("Accounts") if isinstance(inner, dict) else None
    if accounts is None:
        return Credits([])
    if not isinstance(accounts, list):
        raise AccountError("data.Response.Data.Accounts is not a list", "protocol")
    packages = []
    for row in accounts:
        if not isinstance(row, dict):
            continue
        name = _first(row, _NAME)
        ends = _first(row, _ENDS)
        packages.append(
            Package(
                str(name) if name is not None else "credits",
                _number(_first(row, _REMAINING)),
                _number(_first(row, _TOTAL)),
                _number(_first(row, _USED)),
                str(ends) if ends is not None else None,
            )
        )
    return Credits(packages)


def fetch_credits(
    api_key: str | None = None,
    api_base: str | None = None,
    *,
    timeout: float = TIMEOUT,
    client: httpx.Client | None = None,
) -> Credits:
    """The account's credit packages. The key is ``api_key``, else ``CODEBUDDY_API_KEY``, else the stored login.
    Raises CreditsError with the reason."""
    key = account_key(api_key)
    url = roots(api_base).site + CREDITS_PATH
    return parse_credits(request_json("POST", url, key_headers(key), body=CREDITS_BODY, timeout=timeout, client=client))
