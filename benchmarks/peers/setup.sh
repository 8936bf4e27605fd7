#!/usr/bin/env bash
# One virtualenv per peer under benchmarks/peers/.venvs/NAME (git-ignored), never a dependency of
# ragkit. Safe to run again: an existing virtualenv is reused, installed packages are kept.
#
#   bash benchmarks/peers/setup.sh [llamaindex] [langchain] [haystack]    # default: all three
#
# The CPU build of torch goes in first (installed as a dependency, pip would pull the CUDA build
# and gigabytes of GPU libraries): the wheel in $TORCH_WHEEL, else the one in /opt/wheels, else
# PyTorch's CPU index. Then the peer's packages, pinned here, with every other package pinned by
# requirements/NAME.lock (the freeze of a working install) so that the set stays one that works.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3.11}
TORCH_WHEEL=${TORCH_WHEEL:-/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl}

declare -A PACKAGES=(
    [llamaindex]="llama-index-core==0.14.25 llama-index-embeddings-huggingface==0.8.0 llama-index-readers-file==0.7.0
                  llama-index-vector-stores-chroma==0.6.0 llama-index-retrievers-bm25==0.8.0 beautifulsoup4==4.15.0
                  llama-index-llms-huggingface==0.8.0"
    [langchain]="langchain==1.4.7 langchain-classic==1.0.8 langchain-community==0.4.2 langchain-huggingface==1.2.3
                 langchain-chroma==1.1.0 langchain-text-splitters==1.1.3 pypdf==7.1.0 beautifulsoup4==4.15.0
                 lxml==6.1.3 rank-bm25==0.2.2"
    [haystack]="haystack-ai==3.4.0 chroma-haystack==5.0.0 sentence-transformers-haystack==2.0.0 pypdf==7.1.0
                trafilatura==2.3.1 lxml-html-clean==0.4.6 markdown-it-py==4.3.0 mdit-plain==1.0.1
                transformers-haystack==2.0.0"
)
COMMON="sentence-transformers==6.2.0 transformers==5.23.0 chromadb==1.5.9"

peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(llamaindex langchain haystack)
for peer in "${peers[@]}"; do
    [ -n "${PACKAGES[$peer]:-}" ] || { echo "unknown peer '$peer'; known: ${!PACKAGES[*]}" >&2; exit 2; }
    venv=".venvs/$peer"
    echo "== $peer: $venv"
    [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
    pip=("$venv/bin/python" -m pip --disable-pip-version-check)
    if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
        if [ -f "$TORCH_WHEEL" ]; then
            "${pip[@]}" install --quiet "$TORCH_WHEEL"
        else
            "${pip[@]}" install --quiet torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
        fi
    fi
    # shellcheck disable=SC2086  # the package lists are meant to split into words
    "${pip[@]}" install --quiet -c "requirements/$peer.lock" $COMMON ${PACKAGES[$peer]}
    "$venv/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
done
echo "peer virtualenvs ready: ${peers[*]}"
