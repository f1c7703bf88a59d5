"""Anima inside Home Assistant: the live services and the glue between the core and HA.

`data.AnimaData` holds the services (router, meter, budgets, the call pipeline, timings, frames,
turn notes), made once in the integration's set-up. Modules here may import `core`, `providers`
and `const`, never the platform files at the integration's root (docs/architecture.md).
"""
