"""Anima's domain logic: pure, never importing Home Assistant (tests/test_layout.py checks).

Routing, profiles, endpoints, budgets, the ledger, speech tiers and shaping, vision, timing.
Modules here may import `core`, `providers` and `const` only (docs/architecture.md).
"""
