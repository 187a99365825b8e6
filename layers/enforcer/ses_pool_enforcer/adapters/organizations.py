"""Where the sets this process judges live: the lane (account, region) and where the
account sits in AWS Organizations. Read only as far as the policy needs it:

* a policy with no scope keys costs nothing (the account id comes from ``ACCOUNT_ID``,
  which the template sets, the region from the session);
* the account id is asked of STS (``GetCallerIdentity``) only when ``ACCOUNT_ID`` is
  absent and the policy names accounts or organizational units, once per process;
* the account's OUs (``ListParents`` from the account up to the root) only when the
  policy names organizational units, remembered for ``ttl`` seconds.

An organization that cannot be read (access denied, which is what a member account that
is not a delegated administrator gets, or no organization at all) leaves the OUs
unknown, and the rules that name OUs are then not decided (evaluation.Undecidable): no
SES write, an error outcome and its alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from ses_pool_enforcer.adapters import aws
from ses_pool_enforcer.clock import SYSTEM, Clock
from ses_pool_enforcer.model import Lane
from ses_pool_enforcer.observability import logger
from ses_pool_enforcer.policy import Policy, PolicyError

# Accounts rarely move between OUs; a move is seen within this long.
ANCESTRY_TTL_SECONDS = 900.0
# An unreadable organization is asked again this much later (a fixed grant, a blip).
UNKNOWN_TTL_SECONDS = 60.0
# OUs nest at most five deep under the root; a longer walk is a loop, not an answer.
MAX_DEPTH = 8
NOT_IN_USE = "AWSOrganizationsNotInUseException"


def _why(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        code = aws.error_code(exc)
        if code == NOT_IN_USE:
            return "the account is not in an organization (AWSOrganizationsNotInUseException)"
        message = exc.response.get("Error", {}).get("Message", "")
        return f"organizations:ListParents failed: {code}" + (f": {message}" if message else "")
    return f"organizations:ListParents failed: {exc}"


class Organization:
    """The lane of this process, read lazily and remembered (a typed field of the
    runtime, like the pool directory)."""

    def __init__(
        self, account_id: str | None = None, clock: Clock = SYSTEM, *, region: str | None = None
    ) -> None:
        self._account = account_id
        self._clock = clock
        self._region = region  # a member lane's; None: the session's
        self._names: dict[str, str | None] = {}
        # account -> (its OUs and root, or None; why unknown; when read)
        self._ancestry: dict[str, tuple[frozenset[str] | None, str, float]] = {}

    def name_of(self, account: str) -> str | None:
        """``account``'s name in the organization, for alerts (``DescribeAccount``, once a
        process); None when it cannot be read."""
        if account not in self._names:
            try:
                described = aws.client("organizations").describe_account(AccountId=account)
                self._names[account] = str(described["Account"].get("Name") or "") or None
            except (ClientError, BotoCoreError) as exc:
                logger.warning(
                    "account name unknown", extra={"account": account, "cause": str(exc)}
                )
                self._names[account] = None
        return self._names[account]

    def account(self) -> str:
        """This process's account: ``ACCOUNT_ID``, else STS, asked once."""
        if self._account is None:
            self._account = str(aws.client("sts").get_caller_identity()["Account"])
        return self._account

    def lane(self, policy: Policy | PolicyError | None) -> Lane:
        """The lane the sets this process reads live in, with as much as ``policy`` needs
        to decide: the OUs only if it names organizational units."""
        region = self._region or aws.region()
        if not isinstance(policy, Policy):
            return Lane(self._account, region)
        # A set's ARN (to ask its tenants) names the account, as a scope by account does.
        needed = policy.names_accounts() or policy.names_tenants()
        account = self.account() if needed else self._account
        if account is None or not policy.names_organizational_units():
            return Lane(account, region, None, "not read: the policy names no OU")
        units, why = self.ancestry(account)
        return Lane(account, region, units, why)

    def ancestry(self, account: str) -> tuple[frozenset[str] | None, str]:
        """The ids of every OU above ``account`` and of the root, or None and why not."""
        now = self._clock.time()
        cached = self._ancestry.get(account)
        if cached is not None:
            units, why, at = cached
            if now - at < (ANCESTRY_TTL_SECONDS if units is not None else UNKNOWN_TTL_SECONDS):
                return units, why
        try:
            units, why = self._walk(account), ""
        except (ClientError, BotoCoreError) as exc:
            units, why = None, _why(exc)
            logger.warning(
                "organizational units unknown: rules and exemptions that name them are not "
                "decided, and their sets are not changed",
                extra={"account": account, "cause": why},
            )
        self._ancestry[account] = (units, why, now)
        return units, why

    def _walk(self, account: str) -> frozenset[str]:
        organizations = aws.client("organizations")
        found: set[str] = set()
        child = account
        for _ in range(MAX_DEPTH):
            parents = organizations.list_parents(ChildId=child)["Parents"]
            if not parents:  # (a child has one parent; the root has none)
                break
            parent = parents[0]
            found.add(str(parent["Id"]))
            if parent["Type"] == "ROOT":
                return frozenset(found)
            child = str(parent["Id"])
        raise BotoCoreError(msg=f"no root above {account} within {MAX_DEPTH} levels")


def member_accounts(parents: Iterable[str]) -> dict[str, str]:
    """The active accounts in ``parents`` (OU or root ids) and every OU below them, by id,
    with their names (the hub's sweep: which accounts to govern). Raises ClientError."""
    organizations = aws.client("organizations")
    accounts: dict[str, str] = {}
    pending, seen = list(parents), set()
    while pending:
        parent = pending.pop()
        if parent in seen:
            continue
        seen.add(parent)
        pages = organizations.get_paginator("list_accounts_for_parent")
        for page in pages.paginate(ParentId=parent):
            for account in page["Accounts"]:
                if account.get("Status", "ACTIVE") == "ACTIVE":
                    accounts[str(account["Id"])] = str(account.get("Name", ""))
        units = organizations.get_paginator("list_organizational_units_for_parent")
        for page in units.paginate(ParentId=parent):
            pending.extend(str(unit["Id"]) for unit in page["OrganizationalUnits"])
    return accounts


# --------------------------------------------------------------------------- the CLI


@dataclass(frozen=True)
class Unknown:
    """Ids the organization does not hold, or why it could not be asked."""

    missing: list[str]
    unreadable: str | None = None


def _found(describe: Callable[..., object], kind: str, **given: str) -> bool:
    """Whether Organizations knows what ``describe`` asks for (``<kind>NotFoundException``:
    it does not; any other error propagates)."""
    try:
        describe(**given)
    except ClientError as exc:
        if aws.error_code(exc) != f"{kind}NotFoundException":
            raise
        return False
    return True


def unknown_ids(accounts: Iterable[str], units: Iterable[str]) -> Unknown:
    """Which of ``accounts`` and ``units`` (OU or root ids) the organization does not
    hold (``validate --live``). Needs the management account or a delegated
    administrator: elsewhere, ``unreadable`` says why nothing was checked."""
    organizations = aws.client("organizations")
    missing: list[str] = []
    try:
        # Any account of an organization may ask this; none outside one.
        organizations.describe_organization()
        roots: set[str] | None = None
        missing += [
            account
            for account in accounts
            if not _found(organizations.describe_account, "Account", AccountId=account)
        ]
        for unit in units:
            if unit.startswith("r-"):
                if roots is None:
                    roots = {str(r["Id"]) for r in organizations.list_roots()["Roots"]}
                if unit not in roots:
                    missing.append(unit)
            elif not _found(
                organizations.describe_organizational_unit,
                "OrganizationalUnit",
                OrganizationalUnitId=unit,
            ):
                missing.append(unit)
    except (ClientError, BotoCoreError) as exc:
        code = aws.error_code(exc)
        if code == NOT_IN_USE:
            why = "the account is not in an organization"
        elif code in {"AccessDeniedException", "AccessDenied"}:
            why = (
                "access denied (only the management account or a delegated administrator "
                "may read the organization)"
            )
        else:
            why = str(exc)
        return Unknown([], why)
    return Unknown(missing)
