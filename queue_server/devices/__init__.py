"""The registry of devices: what each device token belongs to, its presence, and its token's life."""
