"""Door-to-door assistance (上门帮办): service lists, cases from discovery to the last approval,
visits, and their evaluation through the reviews system. See docs/door-to-door.md."""
