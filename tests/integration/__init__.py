"""Tests of the Anima integration inside Home Assistant."""
