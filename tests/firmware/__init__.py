"""Tests of the ESPHome firmware with the real ESPHome, offline, without Home Assistant."""
