"""The nouns every layer shares: request and record types, errors, settings, prompts, presets,
prices, image checks and ids. Imports nothing of the playground above it."""
