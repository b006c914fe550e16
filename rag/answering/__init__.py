"""Answer composers: extractive (offline default) and LLM."""
