"""Tests of the satellite package (Python >= 3.11 code), against real programs."""
