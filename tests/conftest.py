"""Fixtures shared by the whole suite."""

pytest_plugins = [
    "tests.fixtures.local_llm",
    "tests.fixtures.openai_fixtures",
    "tests.fixtures.speech_servers",
]
