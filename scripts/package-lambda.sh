#!/usr/bin/env bash
# Build the AWS Lambda bundle with zappa, in a lean virtual environment of its own (zappa
# packs the active environment's site-packages). No AWS account is needed to package.
#   scripts/package-lambda.sh [stage]   ->  tiktok-connector-<stage>.zip
set -euo pipefail
cd "$(dirname "$0")/.."
stage="${1:-production}"
venv="${LAMBDA_VENV:-.lambda-venv}"

python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
pip install -q --upgrade pip
pip install -q '.[postgres,lambda]'
zappa package "$stage" -o "tiktok-connector-$stage.zip"
