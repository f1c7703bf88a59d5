"""Wire clients for provider services; no Home Assistant imports."""
