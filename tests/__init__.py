"""Tests of Anima."""
