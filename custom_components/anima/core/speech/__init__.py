"""Speech output: voice tiers, text shaping for speech, and zero-cost earcons.

Pure domain logic with no Home Assistant imports; the TTS entity and the voice-policy `select`
entity adapt it. The modules are imported one by one (`speech.tiers` needs nothing beyond the
standard library, `speech.earcons` needs numpy), so this package imports nothing itself.
"""
