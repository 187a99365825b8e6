"""The moto SES v2 extension behaves as SES does, in mock_aws and over moto's HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

import local_aws
from local_aws.server import start_local_aws

REGION = "us-east-1"
ACCOUNT = "123456789012"
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def set_arn(name: str) -> str:
    return f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{name}"


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def delivery(client: Any, name: str) -> dict[str, Any]:
    return dict(client.get_configuration_set(ConfigurationSetName=name).get("DeliveryOptions", {}))


def list_all(call: Any, key: str, **kwargs: Any) -> list[str]:
    items: list[str] = []
    token: str | None = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        items += page[key]
        token = page.get("NextToken")
        if not token:
            return items


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    local_aws.install()
    local_aws.reset()
    yield
    local_aws.reset()


@pytest.fixture
def ses() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sesv2", region_name=REGION, config=NO_RETRY)


# ---------------------------------------------------------------- install


def test_install_is_idempotent() -> None:
    # Given
    from moto.sesv2 import urls
    from moto.sesv2.responses import SESV2Response

    paths_before = dict(urls.url_paths)
    call_action_before = SESV2Response.call_action

    # When
    local_aws.install()
    local_aws.install()

    # Then
    assert dict(urls.url_paths) == paths_before
    assert SESV2Response.call_action is call_action_before
    assert any("delivery-options" in path for path in urls.url_paths)
    assert any("dedicated-ips/(?P<IP>" in path for path in urls.url_paths)


# ---------------------------------------------------------------- delivery options


def test_put_delivery_options_is_a_full_overwrite(ses: Any) -> None:
    # Given
    ses.create_dedicated_ip_pool(PoolName="marketing")
    ses.create_configuration_set(
        ConfigurationSetName="cs",
        DeliveryOptions={"TlsPolicy": "REQUIRE", "MaxDeliverySeconds": 600},
    )

    # When
    ses.put_configuration_set_delivery_options(
        ConfigurationSetName="cs", TlsPolicy="REQUIRE", SendingPoolName="marketing"
    )

    # Then
    assert delivery(ses, "cs") == {"TlsPolicy": "REQUIRE", "SendingPoolName": "marketing"}

    # When
    ses.put_configuration_set_delivery_options(
        ConfigurationSetName="cs", SendingPoolName="marketing"
    )

    # Then
    assert delivery(ses, "cs") == {"SendingPoolName": "marketing"}


def test_put_delivery_options_keeps_the_shared_pool_delivery_mode_it_does_not_name(
    ses: Any,
) -> None:
    # Given a set whose shared pool delivery mode is REGIONAL (the API reference: "If you
    # don't specify a value, the current value doesn't change")
    ses.create_dedicated_ip_pool(PoolName="marketing")
    ses.create_configuration_set(ConfigurationSetName="cs")
    ses.put_configuration_set_delivery_options(
        ConfigurationSetName="cs", SharedPoolDeliveryMode="REGIONAL"
    )

    # When a Put names only the pool
    ses.put_configuration_set_delivery_options(
        ConfigurationSetName="cs", SendingPoolName="marketing"
    )

    # Then the mode is kept, and a Put that names it changes it
    assert delivery(ses, "cs") == {
        "SendingPoolName": "marketing",
        "SharedPoolDeliveryMode": "REGIONAL",
    }
    ses.put_configuration_set_delivery_options(
        ConfigurationSetName="cs", SharedPoolDeliveryMode="GLOBAL"
    )
    assert delivery(ses, "cs") == {"SharedPoolDeliveryMode": "GLOBAL"}


def test_put_delivery_options_without_pool_moves_set_to_default_pool(ses: Any) -> None:
    # Given
    ses.create_dedicated_ip_pool(PoolName="marketing")
    ses.create_configuration_set(
        ConfigurationSetName="cs",
        DeliveryOptions={"TlsPolicy": "REQUIRE", "SendingPoolName": "marketing"},
    )

    # When
    ses.put_configuration_set_delivery_options(
        ConfigurationSetName="cs", TlsPolicy="REQUIRE", MaxDeliverySeconds=900
    )

    # Then
    options = delivery(ses, "cs")
    assert "SendingPoolName" not in options
    assert options == {"TlsPolicy": "REQUIRE", "MaxDeliverySeconds": 900}


def test_put_delivery_options_on_unknown_set_is_not_found(ses: Any) -> None:
    # Given no configuration set

    # When
    with pytest.raises(ClientError) as exc:
        ses.put_configuration_set_delivery_options(ConfigurationSetName="nope")

    # Then
    assert error_code(exc) == "NotFoundException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_put_delivery_options_with_unknown_pool_is_rejected_and_changes_nothing(ses: Any) -> None:
    # Given
    ses.create_configuration_set(
        ConfigurationSetName="cs", DeliveryOptions={"TlsPolicy": "REQUIRE"}
    )

    # When
    with pytest.raises(ClientError) as exc:
        ses.put_configuration_set_delivery_options(
            ConfigurationSetName="cs", SendingPoolName="ghost"
        )

    # Then
    assert error_code(exc) == "NotFoundException"
    assert delivery(ses, "cs") == {"TlsPolicy": "REQUIRE"}


@pytest.mark.parametrize("pool", sorted(local_aws.SPECIAL_POOL_NAMES))
def test_special_pool_names_are_accepted_as_sending_pool(ses: Any, pool: str) -> None:
    # Given
    ses.create_configuration_set(ConfigurationSetName="cs")
    ses.create_configuration_set(
        ConfigurationSetName="born", DeliveryOptions={"SendingPoolName": pool}
    )

    # When
    ses.put_configuration_set_delivery_options(ConfigurationSetName="cs", SendingPoolName=pool)

    # Then
    assert delivery(ses, "cs") == {"SendingPoolName": pool}
    assert delivery(ses, "born") == {"SendingPoolName": pool}


def test_invalid_delivery_option_values_are_bad_requests(ses: Any) -> None:
    # Given
    ses.create_configuration_set(ConfigurationSetName="cs")

    # When
    with pytest.raises(ClientError) as exc:
        ses.put_configuration_set_delivery_options(
            ConfigurationSetName="cs", MaxDeliverySeconds=50401
        )

    # Then
    assert error_code(exc) == "BadRequestException"


# ---------------------------------------------------------------- configuration sets


def test_create_set_with_unknown_pool_is_not_found_and_creates_nothing(ses: Any) -> None:
    # Given no pool named "ghost"

    # When
    with pytest.raises(ClientError) as exc:
        ses.create_configuration_set(
            ConfigurationSetName="cs", DeliveryOptions={"SendingPoolName": "ghost"}
        )

    # Then
    assert error_code(exc) == "NotFoundException"
    assert ses.list_configuration_sets()["ConfigurationSets"] == []


def test_create_set_keeps_moto_behaviour_for_valid_input(ses: Any) -> None:
    # Given
    ses.create_dedicated_ip_pool(PoolName="p")

    # When
    ses.create_configuration_set(
        ConfigurationSetName="cs",
        DeliveryOptions={"SendingPoolName": "p", "TlsPolicy": "REQUIRE"},
        SendingOptions={"SendingEnabled": True},
    )
    with pytest.raises(ClientError) as exc:
        ses.create_configuration_set(ConfigurationSetName="cs")

    # Then
    got = ses.get_configuration_set(ConfigurationSetName="cs")
    assert got["DeliveryOptions"] == {"SendingPoolName": "p", "TlsPolicy": "REQUIRE"}
    assert got["SendingOptions"] == {"SendingEnabled": True}
    assert error_code(exc) == "AlreadyExistsException"


def test_get_configuration_set_returns_current_tags(ses: Any) -> None:
    # Given
    ses.create_configuration_set(
        ConfigurationSetName="cs", Tags=[{"Key": "team", "Value": "growth"}]
    )

    # When
    ses.tag_resource(
        ResourceArn=set_arn("cs"),
        Tags=[{"Key": "pool", "Value": "marketing"}, {"Key": "team", "Value": "core"}],
    )
    ses.untag_resource(ResourceArn=set_arn("cs"), TagKeys=["pool"])

    # Then
    tags = ses.get_configuration_set(ConfigurationSetName="cs")["Tags"]
    assert tags == [{"Key": "team", "Value": "core"}]


def test_deleted_set_loses_its_tags(ses: Any) -> None:
    # Given
    ses.create_configuration_set(ConfigurationSetName="cs", Tags=[{"Key": "k", "Value": "v"}])

    # When
    ses.delete_configuration_set(ConfigurationSetName="cs")
    ses.create_configuration_set(ConfigurationSetName="cs")

    # Then
    assert ses.get_configuration_set(ConfigurationSetName="cs")["Tags"] == []


@pytest.mark.parametrize("operation", ["get_configuration_set", "delete_configuration_set"])
def test_unknown_set_is_not_found(ses: Any, operation: str) -> None:
    # Given no configuration set

    # When
    with pytest.raises(ClientError) as exc:
        getattr(ses, operation)(ConfigurationSetName="nope")

    # Then
    assert error_code(exc) == "NotFoundException"


# ---------------------------------------------------------------- dedicated IP pools


@pytest.mark.parametrize("pool", sorted(local_aws.SPECIAL_POOL_NAMES))
def test_special_pools_cannot_be_fetched_or_created(ses: Any, pool: str) -> None:
    # Given the special pool

    # When
    with pytest.raises(ClientError) as get_exc:
        ses.get_dedicated_ip_pool(PoolName=pool)
    with pytest.raises(ClientError) as create_exc:
        ses.create_dedicated_ip_pool(PoolName=pool)

    # Then
    assert error_code(get_exc) == "NotFoundException"
    assert error_code(create_exc) == "AlreadyExistsException"


def test_get_dedicated_ip_pool_reports_scaling_mode(ses: Any) -> None:
    # Given
    ses.create_dedicated_ip_pool(PoolName="std")
    ses.create_dedicated_ip_pool(PoolName="managed", ScalingMode="MANAGED")

    # When
    std = ses.get_dedicated_ip_pool(PoolName="std")["DedicatedIpPool"]
    managed = ses.get_dedicated_ip_pool(PoolName="managed")["DedicatedIpPool"]

    # Then
    assert std == {"PoolName": "std", "ScalingMode": "STANDARD"}
    assert managed == {"PoolName": "managed", "ScalingMode": "MANAGED"}


def test_deleted_pool_leaves_a_dangling_name_on_its_sets(ses: Any) -> None:
    # Given
    ses.create_dedicated_ip_pool(PoolName="doomed")
    ses.create_configuration_set(
        ConfigurationSetName="cs", DeliveryOptions={"SendingPoolName": "doomed"}
    )

    # When
    ses.delete_dedicated_ip_pool(PoolName="doomed")

    # Then
    assert delivery(ses, "cs") == {"SendingPoolName": "doomed"}
    with pytest.raises(ClientError) as exc:
        ses.get_dedicated_ip_pool(PoolName="doomed")
    assert error_code(exc) == "NotFoundException"
    assert ses.list_dedicated_ip_pools()["DedicatedIpPools"] == []


def test_delete_unknown_pool_is_not_found(ses: Any) -> None:
    # Given no pool

    # When
    with pytest.raises(ClientError) as exc:
        ses.delete_dedicated_ip_pool(PoolName="ghost")

    # Then
    assert error_code(exc) == "NotFoundException"


def test_special_pools_are_listed_only_when_asked(ses: Any) -> None:
    # Given
    ses.create_dedicated_ip_pool(PoolName="p")

    # When
    plain = ses.list_dedicated_ip_pools()["DedicatedIpPools"]
    local_aws.set_special_pools_listed(True)
    with_special = ses.list_dedicated_ip_pools()["DedicatedIpPools"]

    # Then
    assert plain == ["p"]
    assert sorted(with_special) == sorted(["p", *local_aws.SPECIAL_POOL_NAMES])


def test_put_dedicated_ip_in_pool_records_the_ip(ses: Any) -> None:
    # Given
    ses.create_dedicated_ip_pool(PoolName="a")
    ses.create_dedicated_ip_pool(PoolName="b")

    # When
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="a")
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.2", DestinationPoolName="a")
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="b")

    # Then
    in_a = ses.get_dedicated_ips(PoolName="a")["DedicatedIps"]
    in_b = ses.get_dedicated_ips(PoolName="b")["DedicatedIps"]
    assert [ip["Ip"] for ip in in_a] == ["192.0.2.2"]
    assert [(ip["Ip"], ip["PoolName"]) for ip in in_b] == [("192.0.2.1", "b")]
    with pytest.raises(ClientError) as exc:
        ses.put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="ghost")
    assert error_code(exc) == "NotFoundException"


# ---------------------------------------------------------------- pagination


@pytest.mark.parametrize("page_size", [None, 1, 7, 100, 250, 5000])
def test_list_configuration_sets_pages_are_complete(ses: Any, page_size: int | None) -> None:
    # Given
    names = [f"set-{i:04d}" for i in range(250)]
    for name in names:
        ses.create_configuration_set(ConfigurationSetName=name)

    # When
    kwargs = {} if page_size is None else {"PageSize": page_size}
    listed = list_all(ses.list_configuration_sets, "ConfigurationSets", **kwargs)

    # Then
    assert listed == sorted(names)


def test_list_configuration_sets_page_respects_page_size(ses: Any) -> None:
    # Given
    for i in range(250):
        ses.create_configuration_set(ConfigurationSetName=f"set-{i:04d}")

    # When
    first = ses.list_configuration_sets(PageSize=100)
    default = ses.list_configuration_sets()

    # Then
    assert len(first["ConfigurationSets"]) == 100
    assert "NextToken" in first
    assert len(default["ConfigurationSets"]) == local_aws.sesv2.DEFAULT_PAGE_SIZE


def test_pagination_survives_changes_between_pages(ses: Any) -> None:
    # Given
    for i in range(10):
        ses.create_configuration_set(ConfigurationSetName=f"set-{i}")
    first = ses.list_configuration_sets(PageSize=5)

    # When
    ses.delete_configuration_set(ConfigurationSetName=first["ConfigurationSets"][-1])
    ses.delete_configuration_set(ConfigurationSetName="set-0")
    rest: list[str] = []
    token = first["NextToken"]
    while token:
        page = ses.list_configuration_sets(PageSize=5, NextToken=token)
        rest += page["ConfigurationSets"]
        token = page.get("NextToken")

    # Then
    assert rest == [f"set-{i}" for i in range(5, 10)]


def test_list_dedicated_ip_pools_pages(ses: Any) -> None:
    # Given
    pools = [f"pool-{i:02d}" for i in range(23)]
    for pool in pools:
        ses.create_dedicated_ip_pool(PoolName=pool)

    # When
    first = ses.list_dedicated_ip_pools(PageSize=10)
    listed = list_all(ses.list_dedicated_ip_pools, "DedicatedIpPools", PageSize=10)

    # Then
    assert first["DedicatedIpPools"] == pools[:10]
    assert listed == pools


@pytest.mark.parametrize("kwargs", [{"PageSize": 0}, {"NextToken": "not-a-token"}])
def test_bad_page_arguments_are_bad_requests(ses: Any, kwargs: dict[str, Any]) -> None:
    # Given
    ses.create_configuration_set(ConfigurationSetName="cs")

    # When
    with pytest.raises(ClientError) as exc:
        ses.list_configuration_sets(**kwargs)

    # Then
    assert error_code(exc) == "BadRequestException"


# ---------------------------------------------------------------- throttling


def test_throttling_raises_too_many_requests_then_works_after_reset(ses: Any) -> None:
    # Given
    ses.create_configuration_set(ConfigurationSetName="cs")
    local_aws.set_throttle(0.001)
    ses.get_configuration_set(ConfigurationSetName="cs")

    # When
    with pytest.raises(ClientError) as exc:
        ses.get_configuration_set(ConfigurationSetName="cs")
    with pytest.raises(ClientError):
        ses.put_configuration_set_delivery_options(ConfigurationSetName="cs", TlsPolicy="REQUIRE")
    refused = local_aws.throttled_counts()
    local_aws.reset()

    # Then (each refusal counted by operation, until the reset)
    assert refused == {"GetConfigurationSet": 1, "PutConfigurationSetDeliveryOptions": 1}
    assert local_aws.throttled_counts() == {}
    assert error_code(exc) == "TooManyRequestsException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert exc.value.response["Error"]["Message"] == "Rate exceeded"
    assert delivery(ses, "cs") == {}
    assert local_aws.throttle_stats() == local_aws.ThrottleStats(accepted=1, throttled=0)


def test_boto3_retries_ride_out_throttling(ses: Any) -> None:
    # Given
    retrying = boto3.client(
        "sesv2",
        region_name=REGION,
        config=Config(retries={"total_max_attempts": 10, "mode": "standard"}),
    )
    local_aws.set_throttle(20.0, burst=1)

    # When
    for i in range(3):
        retrying.create_configuration_set(ConfigurationSetName=f"cs-{i}")

    # Then
    assert retrying.list_configuration_sets()["ConfigurationSets"] == ["cs-0", "cs-1", "cs-2"]
    stats = local_aws.throttle_stats()
    assert stats.accepted == 4
    assert stats.throttled >= 1


def test_per_lane_throttling_gives_each_account_and_region_its_own_limit(ses: Any) -> None:
    # Given the same set name in two regions, and a limit of one call per region
    europe = boto3.client("sesv2", region_name="eu-west-1", config=NO_RETRY)
    ses.create_configuration_set(ConfigurationSetName="cs")
    europe.create_configuration_set(ConfigurationSetName="cs")
    local_aws.set_throttle(0.001, per_lane=True)

    # When each region makes two calls
    ses.get_configuration_set(ConfigurationSetName="cs")
    with pytest.raises(ClientError) as exc:
        ses.get_configuration_set(ConfigurationSetName="cs")
    europe.get_configuration_set(ConfigurationSetName="cs")
    with pytest.raises(ClientError):
        europe.get_configuration_set(ConfigurationSetName="cs")

    # Then the first call of each region went through: their limits are apart
    assert error_code(exc) == "TooManyRequestsException"
    one_each = local_aws.ThrottleStats(accepted=1, throttled=1)
    assert local_aws.lane_throttle_stats() == {
        (ACCOUNT, REGION): one_each,
        (ACCOUNT, "eu-west-1"): one_each,
    }
    assert local_aws.throttle_stats().throttled == 2
    assert local_aws.lane_call_counts() == {(ACCOUNT, REGION): 3, (ACCOUNT, "eu-west-1"): 3}
    local_aws.set_throttle(None)
    ses.get_configuration_set(ConfigurationSetName="cs")  # no limit any more


def test_set_throttle_rejects_non_positive_rate() -> None:
    # Given / When / Then
    with pytest.raises(ValueError):
        local_aws.set_throttle(0)


# ---------------------------------------------------------------- over HTTP (server mode)


@pytest.fixture
def server_ses() -> Iterator[Any]:
    with start_local_aws() as aws:
        try:
            yield boto3.client(
                "sesv2", region_name=REGION, endpoint_url=aws.endpoint_url, config=NO_RETRY
            )
        finally:
            requests.post(f"{aws.endpoint_url}/moto-api/reset", timeout=10)


def test_server_mode_serves_the_nested_paths_and_throttles(server_ses: Any) -> None:
    # Given
    ses = server_ses
    ses.create_dedicated_ip_pool(PoolName="marketing")
    ses.create_configuration_set(
        ConfigurationSetName="cs",
        DeliveryOptions={"TlsPolicy": "REQUIRE"},
        Tags=[{"Key": "team", "Value": "growth"}],
    )

    # When
    ses.put_configuration_set_delivery_options(
        ConfigurationSetName="cs", TlsPolicy="REQUIRE", SendingPoolName="marketing"
    )
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.7", DestinationPoolName="marketing")

    # Then
    got = ses.get_configuration_set(ConfigurationSetName="cs")
    assert got["DeliveryOptions"] == {"TlsPolicy": "REQUIRE", "SendingPoolName": "marketing"}
    assert got["Tags"] == [{"Key": "team", "Value": "growth"}]
    ips = ses.get_dedicated_ips(PoolName="marketing", PageSize=5)["DedicatedIps"]
    assert [ip["Ip"] for ip in ips] == ["192.0.2.7"]
    assert ses.list_configuration_sets(PageSize=1)["ConfigurationSets"] == ["cs"]
    with pytest.raises(ClientError) as exc:
        ses.get_dedicated_ip_pool(PoolName="ses-default-dedicated-pool")
    assert error_code(exc) == "NotFoundException"

    # When
    local_aws.set_throttle(0.001)
    ses.list_dedicated_ip_pools(PageSize=1)
    with pytest.raises(ClientError) as throttled:
        ses.list_dedicated_ip_pools(PageSize=1)

    # Then
    assert error_code(throttled) == "TooManyRequestsException"
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


# ---------------------------------------------------------------- email identities


def test_an_identity_s_default_configuration_set_is_set_read_and_removed(ses: Any) -> None:
    # Given an identity and a set
    ses.create_configuration_set(ConfigurationSetName="mkt-news")
    ses.create_email_identity(EmailIdentity="news.example.com")
    assert "ConfigurationSetName" not in ses.get_email_identity(EmailIdentity="news.example.com")

    # When the set is made its default, then GetEmailIdentity says so
    ses.put_email_identity_configuration_set_attributes(
        EmailIdentity="news.example.com", ConfigurationSetName="mkt-news"
    )
    answer = ses.get_email_identity(EmailIdentity="news.example.com")
    assert answer["ConfigurationSetName"] == "mkt-news"

    # When a call names no set, then the identity has no default any more
    ses.put_email_identity_configuration_set_attributes(EmailIdentity="news.example.com")
    assert "ConfigurationSetName" not in ses.get_email_identity(EmailIdentity="news.example.com")


def test_an_unknown_identity_or_set_is_not_found(ses: Any) -> None:
    ses.create_email_identity(EmailIdentity="news.example.com")
    for identity, configuration_set in (("nobody.example.com", None), ("news.example.com", "nope")):
        kwargs = {"EmailIdentity": identity}
        if configuration_set:
            kwargs["ConfigurationSetName"] = configuration_set
        with pytest.raises(ClientError) as raised:
            ses.put_email_identity_configuration_set_attributes(**kwargs)
        assert raised.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError):
        ses.create_email_identity(EmailIdentity="x.example.com", ConfigurationSetName="nope")


def test_a_deleted_default_set_stays_named_by_its_identities(ses: Any) -> None:
    # Given an identity whose default set is deleted (SES lets it be)
    ses.create_configuration_set(ConfigurationSetName="mkt-news")
    ses.create_email_identity(EmailIdentity="news.example.com", ConfigurationSetName="mkt-news")
    ses.delete_configuration_set(ConfigurationSetName="mkt-news")

    # Then the identity still names it: its sends now fail
    answer = ses.get_email_identity(EmailIdentity="news.example.com")
    assert answer["ConfigurationSetName"] == "mkt-news"


def test_identities_are_listed_in_pages_with_their_live_tags(ses: Any) -> None:
    names = [f"user{i}@example.com" for i in range(5)]
    for name in names:
        ses.create_email_identity(EmailIdentity=name)
    seen, token = [], None
    while True:
        page = ses.list_email_identities(PageSize=2, **({"NextToken": token} if token else {}))
        seen += [i["IdentityName"] for i in page["EmailIdentities"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == sorted(names)
    ses.tag_resource(
        ResourceArn="arn:aws:ses:us-east-1:123456789012:identity/user0@example.com",
        Tags=[{"Key": "team", "Value": "growth"}],
    )
    assert ses.get_email_identity(EmailIdentity="user0@example.com")["Tags"] == [
        {"Key": "team", "Value": "growth"}
    ]


# ---------------------------------------------------------------- older clients


def older_list(endpoint: str, path: str, **query: str) -> requests.Response:
    """A list call as botocore before 1.43.105 sends it (the aws CLI v1 bundles such a
    botocore): ``GET`` on the collection, paged by query string, signed SigV4 for ``ses``.
    botocore 1.43.105's sesv2 model moved ListConfigurationSets and ListEmailIdentities to
    ``POST /v2/email/list-...``; SES answers both forms."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    url = f"{endpoint}{path}?{urlencode(query)}" if query else f"{endpoint}{path}"
    request = AWSRequest(method="GET", url=url)
    credentials = boto3.Session().get_credentials()
    SigV4Auth(credentials, "ses", REGION).add_auth(request)
    return requests.get(url, headers=dict(request.headers), timeout=10)


def test_the_older_list_routes_of_the_aws_cli_v1_are_answered() -> None:
    with mock_aws(), start_local_aws() as server:
        client = boto3.client("sesv2", region_name=REGION, endpoint_url=server.endpoint_url)
        for name in ("a1", "a2"):
            client.create_configuration_set(ConfigurationSetName=name)
        client.create_email_identity(EmailIdentity="news.example.com")

        # When the sets are listed the older way, a page of one at a time
        first = older_list(server.endpoint_url, "/v2/email/configuration-sets", PageSize="1")
        assert first.status_code == 200, first.text
        token = first.json()["NextToken"]
        second = older_list(
            server.endpoint_url, "/v2/email/configuration-sets", PageSize="1", NextToken=token
        )
        identities = older_list(server.endpoint_url, "/v2/email/identities")

        # Then they are answered as the newer form is
        assert first.json()["ConfigurationSets"] == ["a1"]
        assert second.json() == {"ConfigurationSets": ["a2"]}
        assert [i["IdentityName"] for i in identities.json()["EmailIdentities"]] == [
            "news.example.com"
        ]
        # And the newer form still works
        assert list_all(client.list_configuration_sets, "ConfigurationSets") == ["a1", "a2"]


# ---------------------------------------------------------------- pool state: warm-up, scaling


def test_an_ip_s_warm_up_is_reported_as_the_dedicated_ip_shape_describes(ses: Any) -> None:
    # Given a standard pool with a warm IP and a cold one
    ses.create_dedicated_ip_pool(PoolName="bulk")
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="bulk")
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.2", DestinationPoolName="bulk")

    # When
    ses.put_dedicated_ip_warmup_attributes(Ip="192.0.2.2", WarmupPercentage=10)

    # Then (API reference, DedicatedIp: IN_PROGRESS while warming, DONE at 100)
    ips = ses.get_dedicated_ips(PoolName="bulk")["DedicatedIps"]
    assert [(ip["Ip"], ip["WarmupStatus"], ip["WarmupPercentage"]) for ip in ips] == [
        ("192.0.2.1", "DONE", 100),
        ("192.0.2.2", "IN_PROGRESS", 10),
    ]


def test_a_managed_pool_s_ips_have_no_warm_up_of_their_own(ses: Any) -> None:
    # Given a standard pool with a cold IP
    ses.create_dedicated_ip_pool(PoolName="bulk")
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="bulk")
    ses.put_dedicated_ip_warmup_attributes(Ip="192.0.2.1", WarmupPercentage=40)

    # When it becomes managed
    ses.put_dedicated_ip_pool_scaling_attributes(PoolName="bulk", ScalingMode="MANAGED")

    # Then (API reference, DedicatedIp: NOT_APPLICABLE and -1 in managed pools)
    assert ses.get_dedicated_ip_pool(PoolName="bulk")["DedicatedIpPool"]["ScalingMode"] == "MANAGED"
    (ip,) = ses.get_dedicated_ips(PoolName="bulk")["DedicatedIps"]
    assert (ip["WarmupStatus"], ip["WarmupPercentage"]) == ("NOT_APPLICABLE", -1)


def test_a_managed_pool_cannot_go_back_to_standard(ses: Any) -> None:
    # Given
    ses.create_dedicated_ip_pool(PoolName="bulk", ScalingMode="MANAGED")

    # When (API reference, PutDedicatedIpPoolScalingAttributes: "MANAGED pools cannot be
    # converted to STANDARD scaling mode")
    with pytest.raises(ClientError) as exc:
        ses.put_dedicated_ip_pool_scaling_attributes(PoolName="bulk", ScalingMode="STANDARD")

    # Then
    assert error_code(exc) == "BadRequestException"
    assert ses.get_dedicated_ip_pool(PoolName="bulk")["DedicatedIpPool"]["ScalingMode"] == "MANAGED"
    ses.put_dedicated_ip_pool_scaling_attributes(PoolName="bulk", ScalingMode="MANAGED")


@pytest.mark.parametrize("pool", ["ghost", "ses-shared-pool", "ses-default-dedicated-pool"])
def test_scaling_an_unknown_or_special_pool_is_not_found(ses: Any, pool: str) -> None:
    with pytest.raises(ClientError) as exc:
        ses.put_dedicated_ip_pool_scaling_attributes(PoolName=pool, ScalingMode="MANAGED")
    assert error_code(exc) == "NotFoundException"


def test_warm_up_of_an_unknown_ip_or_out_of_range_is_refused(ses: Any) -> None:
    # Given
    ses.create_dedicated_ip_pool(PoolName="bulk")
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.1", DestinationPoolName="bulk")

    # When / Then
    with pytest.raises(ClientError) as unknown:
        ses.put_dedicated_ip_warmup_attributes(Ip="192.0.2.99", WarmupPercentage=50)
    assert error_code(unknown) == "NotFoundException"
    with pytest.raises(ClientError) as too_much:
        ses.put_dedicated_ip_warmup_attributes(Ip="192.0.2.1", WarmupPercentage=101)
    assert error_code(too_much) == "BadRequestException"
    assert ses.get_dedicated_ips(PoolName="bulk")["DedicatedIps"][0]["WarmupPercentage"] == 100


# ---------------------------------------------------------------- tenants


def test_a_tenant_is_created_read_listed_and_deleted(ses: Any) -> None:
    # When
    created = ses.create_tenant(TenantName="acme", Tags=[{"Key": "tier", "Value": "gold"}])

    # Then
    assert created["TenantArn"] == (
        f"arn:aws:ses:{REGION}:{ACCOUNT}:tenant/acme/{created['TenantId']}"
    )
    tenant = ses.get_tenant(TenantName="acme")["Tenant"]
    assert (tenant["SendingStatus"], tenant["Tags"]) == (
        "ENABLED",
        [{"Key": "tier", "Value": "gold"}],
    )
    assert [t["TenantName"] for t in ses.list_tenants()["Tenants"]] == ["acme"]
    with pytest.raises(ClientError) as duplicate:
        ses.create_tenant(TenantName="acme")
    assert error_code(duplicate) == "AlreadyExistsException"

    # When
    ses.delete_tenant(TenantName="acme")

    # Then
    for call in (ses.get_tenant, ses.delete_tenant):
        with pytest.raises(ClientError) as gone:
            call(TenantName="acme")
        assert error_code(gone) == "NotFoundException"


def test_a_tenant_name_outside_the_documented_characters_is_a_bad_request(ses: Any) -> None:
    # (API reference, TenantName: up to 64 letters, digits, hyphens and underscores)
    for name in ("acme corp", "a" * 65, "acme/1"):
        with pytest.raises(ClientError) as exc:
            ses.create_tenant(TenantName=name)
        assert error_code(exc) == "BadRequestException"


def test_a_tenant_s_resources_are_listed_both_ways(ses: Any) -> None:
    # Given two tenants, a set shared by both, an identity of one
    ses.create_configuration_set(ConfigurationSetName="shared")
    ses.create_email_identity(EmailIdentity="news.example.com")
    ses.create_tenant(TenantName="acme")
    ses.create_tenant(TenantName="globex")
    identity = f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/news.example.com"

    # When
    for tenant in ("acme", "globex"):
        ses.create_tenant_resource_association(TenantName=tenant, ResourceArn=set_arn("shared"))
    ses.create_tenant_resource_association(TenantName="acme", ResourceArn=identity)

    # Then
    of_acme = ses.list_tenant_resources(TenantName="acme")["TenantResources"]
    assert sorted((r["ResourceType"], r["ResourceArn"]) for r in of_acme) == [
        ("CONFIGURATION_SET", set_arn("shared")),
        ("EMAIL_IDENTITY", identity),
    ]
    sets_only = ses.list_tenant_resources(
        TenantName="acme", Filter={"RESOURCE_TYPE": "CONFIGURATION_SET"}
    )["TenantResources"]
    assert [r["ResourceArn"] for r in sets_only] == [set_arn("shared")]
    tenants = list_all(
        ses.list_resource_tenants, "ResourceTenants", ResourceArn=set_arn("shared"), PageSize=1
    )
    assert [t["TenantName"] for t in tenants] == ["acme", "globex"]  # type: ignore[index]

    # When one association is removed, and a tenant deleted
    ses.delete_tenant_resource_association(TenantName="globex", ResourceArn=set_arn("shared"))
    ses.delete_tenant(TenantName="acme")

    # Then the resources stay, their associations go (API reference, DeleteTenant)
    assert ses.list_resource_tenants(ResourceArn=set_arn("shared"))["ResourceTenants"] == []
    assert ses.get_configuration_set(ConfigurationSetName="shared")["ConfigurationSetName"]


def test_associations_are_checked_as_the_api_reference_lists_their_errors(ses: Any) -> None:
    # Given
    ses.create_configuration_set(ConfigurationSetName="cs")
    ses.create_tenant(TenantName="acme")
    ses.create_tenant_resource_association(TenantName="acme", ResourceArn=set_arn("cs"))
    pool = f"arn:aws:ses:{REGION}:{ACCOUNT}:dedicated-ip-pool/p"
    cases = [
        ({"TenantName": "acme", "ResourceArn": set_arn("cs")}, "AlreadyExistsException"),
        ({"TenantName": "ghost", "ResourceArn": set_arn("cs")}, "NotFoundException"),
        ({"TenantName": "acme", "ResourceArn": set_arn("ghost")}, "NotFoundException"),
        ({"TenantName": "acme", "ResourceArn": pool}, "BadRequestException"),
    ]

    # When / Then
    for kwargs, code in cases:
        with pytest.raises(ClientError) as exc:
            ses.create_tenant_resource_association(**kwargs)
        assert error_code(exc) == code, kwargs
    with pytest.raises(ClientError) as not_associated:
        ses.delete_tenant_resource_association(TenantName="acme", ResourceArn=set_arn("other"))
    assert error_code(not_associated) == "NotFoundException"
    with pytest.raises(ClientError) as unknown_resource:
        ses.list_resource_tenants(ResourceArn=set_arn("ghost"))
    assert error_code(unknown_resource) == "NotFoundException"
    with pytest.raises(ClientError) as unknown_tenant:
        ses.list_tenant_resources(TenantName="ghost")
    assert error_code(unknown_tenant) == "NotFoundException"


def test_a_tenant_s_sending_status_is_what_ses_set(ses: Any) -> None:
    # Given
    ses.create_tenant(TenantName="acme")

    # When SES disables it (reputation findings; no API call sets it)
    local_aws.set_tenant_sending_status("acme", "DISABLED", account_id=ACCOUNT, region=REGION)

    # Then
    assert ses.get_tenant(TenantName="acme")["Tenant"]["SendingStatus"] == "DISABLED"
    assert ses.list_tenants()["Tenants"][0]["SendingStatus"] == "DISABLED"


def test_server_mode_serves_the_pool_state_and_tenant_paths(server_ses: Any) -> None:
    # Given
    ses = server_ses
    ses.create_dedicated_ip_pool(PoolName="bulk")
    ses.create_configuration_set(ConfigurationSetName="cs")
    ses.put_dedicated_ip_in_pool(Ip="192.0.2.7", DestinationPoolName="bulk")

    # When
    ses.put_dedicated_ip_warmup_attributes(Ip="192.0.2.7", WarmupPercentage=30)
    ses.create_tenant(TenantName="acme")
    ses.create_tenant_resource_association(TenantName="acme", ResourceArn=set_arn("cs"))

    # Then
    (ip,) = ses.get_dedicated_ips(PoolName="bulk")["DedicatedIps"]
    assert (ip["WarmupStatus"], ip["WarmupPercentage"]) == ("IN_PROGRESS", 30)
    assert ses.get_tenant(TenantName="acme")["Tenant"]["TenantName"] == "acme"
    assert ses.list_tenants()["Tenants"][0]["TenantName"] == "acme"
    resources = ses.list_tenant_resources(TenantName="acme")["TenantResources"]
    assert [r["ResourceArn"] for r in resources] == [set_arn("cs")]
    tenants = ses.list_resource_tenants(ResourceArn=set_arn("cs"))["ResourceTenants"]
    assert [t["TenantName"] for t in tenants] == ["acme"]

    # When
    ses.put_dedicated_ip_pool_scaling_attributes(PoolName="bulk", ScalingMode="MANAGED")
    ses.delete_tenant_resource_association(TenantName="acme", ResourceArn=set_arn("cs"))
    ses.delete_tenant(TenantName="acme")

    # Then
    assert ses.get_dedicated_ip_pool(PoolName="bulk")["DedicatedIpPool"]["ScalingMode"] == "MANAGED"
    assert ses.list_tenants()["Tenants"] == []
