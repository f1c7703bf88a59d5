"""Tests of the router (fallback, time-outs, breaker), without Home Assistant."""
