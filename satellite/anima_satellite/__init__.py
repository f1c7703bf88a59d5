"""Anima endpoint software for Linux and RISC-V boards."""

__version__ = "0.1.0"
