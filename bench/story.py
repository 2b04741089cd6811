"""The prompt and beats every benchmark run sends (no imports: the reference script loads it
without pulling in the benchmark's own machinery)."""

PROMPT = "A small red fox in a blue scarf, watercolour storybook style"
BEATS = [
    "wakes up in the den",
    "walks through the snowy forest",
    "finds a lantern",
    "reads a map by the river",
    "climbs the hill",
    "meets an owl",
    "crosses a bridge",
    "comes home at night",
]
