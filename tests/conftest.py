"""Shared fixtures: every test runs against local AWS (moto + the SES v2 extension)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from local_aws import MOTO_CONFIG, faults, install, sfn
from local_aws import config as config_extension
from local_aws import securityhub as securityhub_extension
from local_aws import sesv2 as ses_extension
from local_aws.stack import LocalStack, provision
from ses_pool_enforcer.adapters import aws
from ses_pool_enforcer.adapters.policy_store import clear_cache
from ses_pool_enforcer.config import get_settings
from ses_pool_enforcer.runtime import forget_runtime

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "SesPoolEnforcer",
    "POWERTOOLS_DEV": "0",
    # Local SES answers at once; the real budget (1/s) would only make tests slow.
    "SES_CALLS_PER_SECOND": "50",
}


def reset_process_caches() -> None:
    """What a fresh Lambda process would start with: no clients, settings or policy."""
    aws.reset()
    get_settings.cache_clear()
    forget_runtime()
    clear_cache()


@pytest.fixture(autouse=True)
def fake_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    reset_process_caches()
    yield
    reset_process_caches()


@pytest.fixture
def local_aws() -> Iterator[None]:
    install()
    ses_extension.reset()
    faults.clear()
    config_extension.reset()
    securityhub_extension.reset()
    sfn.set_time_scale(None)  # retry intervals and Wait states pass at once
    with mock_aws(config=MOTO_CONFIG):
        yield
    sfn.unbind_all()
    sfn.set_time_scale(1)
    ses_extension.reset()
    faults.clear()
    config_extension.reset()
    securityhub_extension.reset()


@pytest.fixture
def stack(local_aws: None, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """The template's resources on local AWS, with the Lambda environment pointing at them."""
    resources = provision()
    for key, value in resources.environment().items():
        monkeypatch.setenv(key, value)
    reset_process_caches()
    return resources
