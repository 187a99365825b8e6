#!/usr/bin/env bash
# make dist, last step: install the built wheel as a user would, into a clean venv outside the
# checkout, with its dependencies from the runtime lock (layers/enforcer/requirements.txt, what
# the Lambda layer deploys), and run the CLI from there: --version, validate, check.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
wheel=$(ls "$root"/dist/ses_pool_enforcer-*.whl)
expected=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$root/layers/enforcer/ses_pool_enforcer/__init__.py")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"  # nothing of the checkout on sys.path

"$python" -m venv venv
venv/bin/pip install -q --disable-pip-version-check --require-hashes --no-deps \
  -r "$root/layers/enforcer/requirements.txt"
venv/bin/pip install -q --disable-pip-version-check --no-deps "$wheel"
venv/bin/pip check

fail() { echo "try-wheel: $*" >&2; exit 1; }
version=$(venv/bin/ses-pool-enforcer --version)
[ "$version" = "ses-pool-enforcer $expected" ] || fail "--version said '$version', expected $expected"
echo "try-wheel: $version"

for module in local_aws tests benchmarks demo functions; do
  if venv/bin/python -c "import $module" 2>/dev/null; then fail "the wheel ships '$module'"; fi
done
echo "try-wheel: ships ses_pool_enforcer only"

venv/bin/ses-pool-enforcer validate "$root/examples/policy.yaml"
status=0
venv/bin/ses-pool-enforcer validate "$root/examples/invalid-policy.yaml" >/dev/null 2>&1 || status=$?
[ "$status" -ne 0 ] || fail "validate accepted examples/invalid-policy.yaml"

# One set on its pool, one on the wrong one (examples/policy.yaml: mkt-* tagged marketing).
cat > template.yaml <<'YAML'
Resources:
  MarketingPool:
    Type: AWS::SES::DedicatedIpPool
    Properties: {PoolName: marketing}
  Weekly:
    Type: AWS::SES::ConfigurationSet
    Properties:
      Name: mkt-weekly
      DeliveryOptions: {SendingPoolName: !Ref MarketingPool}
      Tags: [{Key: stream, Value: marketing}]
YAML
venv/bin/ses-pool-enforcer check --policy "$root/examples/policy.yaml" template.yaml \
  || fail "check did not pass a set on its pool (exit $?, expected 0)"
cat >> template.yaml <<'YAML'
  Daily:
    Type: AWS::SES::ConfigurationSet
    Properties:
      Name: mkt-daily
      DeliveryOptions: {SendingPoolName: ses-shared-pool}
      Tags: [{Key: stream, Value: marketing}]
YAML
venv/bin/ses-pool-enforcer check --policy "$root/examples/policy.yaml" template.yaml && status=0 || status=$?
[ "$status" -eq 2 ] || fail "check missed mkt-daily on the wrong pool (exit $status, expected 2)"
echo "try-wheel: validate and check work from the installed wheel"
