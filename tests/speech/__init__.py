"""Tests of speech output: voice tiers, text shaping, earcons (no Home Assistant)."""
