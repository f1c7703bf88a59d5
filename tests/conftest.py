"""Fixtures shared by the whole suite."""

pytest_plugins = [
    "tests.fixtures.openai_fixtures",
    "tests.fixtures.speech_servers",
]
