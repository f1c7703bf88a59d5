"""Tests of the wire clients, without Home Assistant."""
