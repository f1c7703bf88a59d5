"""OpenAI-compatible service presets: data, not code.

A preset fills the base URL and suggests models; the connection flow then lists the models the
service really offers. Adding a service is one entry here (and its name in strings.json).
"""

from __future__ import annotations

from dataclasses import dataclass
import re


@dataclass(frozen=True, slots=True)
class Preset:
    """A known OpenAI-compatible service."""

    id: str
    name: str
    base_url: str
    #: Whether the service refuses requests without an API key.
    needs_api_key: bool
    chat_models: tuple[str, ...] = ()
    vision_models: tuple[str, ...] = ()
    stt_models: tuple[str, ...] = ()
    tts_models: tuple[str, ...] = ()
    tts_voices: tuple[str, ...] = ()
    #: A path that needs the key, for services whose /models answers without one.
    key_check_path: str | None = None


CUSTOM = "custom"
#: Presets of servers that run in the house.
LOCAL_PRESETS = frozenset({"ollama", "llama_cpp", "local_server"})

PRESETS: dict[str, Preset] = {
    preset.id: preset
    for preset in (
        Preset(
            id="openai",
            name="OpenAI",
            base_url="https://api.openai.com/v1",
            needs_api_key=True,
            chat_models=("gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o-mini", "gpt-4.1"),
            vision_models=("gpt-4.1-mini", "gpt-4o-mini", "gpt-4.1"),
            stt_models=("gpt-4o-mini-transcribe", "whisper-1"),
            tts_models=("gpt-4o-mini-tts", "tts-1"),
            tts_voices=(
                "alloy",
                "ash",
                "coral",
                "echo",
                "fable",
                "nova",
                "onyx",
                "sage",
                "shimmer",
            ),
        ),
        Preset(
            id="qwen",
            name="Qwen (Alibaba Cloud DashScope)",
            base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
            needs_api_key=True,
            chat_models=("qwen-plus", "qwen-turbo", "qwen-max"),
            vision_models=("qwen-vl-plus", "qwen-vl-max"),
        ),
        Preset(
            id="doubao",
            name="Doubao (Volcengine Ark)",
            base_url="https://ark.cn-beijing.volces.com/api/v3",
            needs_api_key=True,
            chat_models=("doubao-seed-1-6-flash-250828", "doubao-seed-1-6-250615"),
            vision_models=("doubao-seed-1-6-flash-250828", "doubao-seed-1-6-250615"),
        ),
        Preset(
            id="deepseek",
            name="DeepSeek",
            base_url="https://api.deepseek.com/v1",
            needs_api_key=True,
            chat_models=("deepseek-chat", "deepseek-reasoner"),
        ),
        Preset(
            id="openrouter",
            name="OpenRouter",
            base_url="https://openrouter.ai/api/v1",
            needs_api_key=True,
            chat_models=(
                "openai/gpt-4.1-mini",
                "google/gemini-2.5-flash",
                "deepseek/deepseek-chat",
            ),
            vision_models=("openai/gpt-4.1-mini", "google/gemini-2.5-flash"),
            # https://openrouter.ai/docs/api-reference/limits: the key's own limits and usage.
            key_check_path="/key",
        ),
        Preset(
            id="ollama",
            name="Ollama",
            base_url="http://localhost:11434/v1",
            needs_api_key=False,
            chat_models=("llama3.2", "qwen2.5", "gemma3"),
            vision_models=("qwen2.5vl", "gemma3", "llava"),
        ),
        Preset(
            id="llama_cpp",
            name="llama.cpp server",
            base_url="http://localhost:8080/v1",
            needs_api_key=False,
        ),
        Preset(
            id="local_server",
            name="vLLM / LocalAI / LM Studio",
            base_url="http://localhost:8000/v1",
            needs_api_key=False,
        ),
        Preset(id=CUSTOM, name="Custom base URL", base_url="", needs_api_key=False),
    )
}

#: Model names that read images, beyond the presets' lists (local and routed models).
_VISION_NAME = re.compile(
    r"vision|[-_.]vl|vl[-_.:]|llava|gemma3|gpt-4o|gpt-4\.1|gpt-5|gemini|claude|pixtral|minicpm-v",
    re.IGNORECASE,
)
_VISION_MODELS = frozenset(model for preset in PRESETS.values() for model in preset.vision_models)


def accepts_images(model: str) -> bool:
    """Whether a chat model reads images, judged by its name (images to others are dropped)."""
    return model in _VISION_MODELS or _VISION_NAME.search(model) is not None
