"""End-to-end tests: a real Home Assistant process with Anima from this tree."""
